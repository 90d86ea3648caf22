"""The in-app notifications list and the POSTs that mark notifications read."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from .models import Notification

PAGE_SIZE = 50


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    """The user's notifications, newest first, 50 a page.

    Paged by keyset, not by page number: "older than this one" reads the next 51 rows from
    the (recipient, created_at, id) index, with no COUNT over a history that only grows.
    """
    rows = Notification.objects.filter(recipient=request.user)
    before = request.GET.get("before", "")
    if before.isdigit():
        cursor = rows.filter(pk=int(before)).values("created_at", "pk").first()
        if cursor is not None:
            rows = rows.filter(
                Q(created_at__lt=cursor["created_at"])
                | Q(created_at=cursor["created_at"], pk__lt=cursor["pk"])
            )
    page = list(
        rows.select_related("item", "event__actor").order_by("-created_at", "-pk")[: PAGE_SIZE + 1]
    )
    older = page[PAGE_SIZE - 1].pk if len(page) > PAGE_SIZE else None
    return render(
        request,
        "ledger/notifications.html",
        {"notifications": page[:PAGE_SIZE], "older": older, "paged": bool(before)},
    )


@login_required
@require_POST
def notification_read(request: HttpRequest) -> HttpResponse:
    """Mark one notification read (``id``), or all the user's unread ones."""
    now = timezone.now()
    mine = Notification.objects.filter(recipient=request.user)
    one = request.POST.get("id", "")
    if one:
        # Another user's notification is not found, like an item outside one's reach.
        if not one.isdigit():
            raise Http404
        notification = get_object_or_404(mine, pk=int(one))
        if notification.read_at is None:
            mine.filter(pk=notification.pk, read_at__isnull=True).update(read_at=now)
    else:
        mine.filter(read_at__isnull=True).update(read_at=now)
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(back)
    return redirect("ledger:notifications")
