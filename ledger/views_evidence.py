"""Downloading evidence files: only signed in, and only for an item the user may see."""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_safe

from . import audit
from .models import Evidence
from .views import _get_item_for_user

logger = logging.getLogger(__name__)


@login_required
@require_safe
def download(request: HttpRequest, pk: int) -> FileResponse:
    evidence = get_object_or_404(Evidence.objects.select_related("progress"), pk=pk)
    # The file is as visible as its item, by the same rule as every item page: a file of an
    # item outside the user's reach is not found, exactly like the item itself.
    _get_item_for_user(request, evidence.progress.item_id)
    try:
        handle = evidence.file.open("rb")
    except FileNotFoundError:
        logger.error("Evidence %s has no stored file %s", evidence.pk, evidence.file.name)
        raise Http404 from None
    # Always an attachment with the type sniffed at upload: the browser never renders a file
    # in our origin, and nosniff plus a sandbox policy keep it from trying to.
    item = evidence.progress.item
    audit.record(
        audit.Kind.DOWNLOAD,
        gettext_lazy("Downloaded the evidence %(file)s of %(item)s"),
        {"file": evidence.name, "item": item.number},
        request=request,
        target=audit.item_target(item),
        detail={"item": item.pk, "evidence": evidence.pk, "file": evidence.name},
    )
    response = FileResponse(
        handle, as_attachment=True, filename=evidence.name, content_type=evidence.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    patch_cache_control(response, private=True)
    return response
