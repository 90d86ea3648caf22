"""The phone review's pages (专项评议): the imports so far, and a sheet's upload → preview →
confirm, for supervisors alone (anyone else: 404, as every import).

As the intake's imports do (``intake.views_files``), an upload is read and checked at once
and shown as a preview, writing nothing; the file waits in the default storage under a
random name only this session knows, and is read and checked again on confirm, when every
row goes in one transaction or none. A sheet with a refused row cannot be confirmed: it is
not kept, and the supervisor corrects it and uploads it again.
"""

from __future__ import annotations

import datetime
import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST, require_safe

from ledger.access import supervisor_required
from ledger.inputs import parse_id
from ledger.intake.forms_files import ConfirmForm
from ledger.intake.notes import table_notes
from ledger.intake.reading import IntakeError
from ledger.intake.views_files import UPLOADS_DIR
from ledger.models import Item, Round

from . import reviews
from .forms_reviews import ReviewUploadForm
from .models import Rating, ReviewBatch

SESSION_KEY = "review_uploads"
PAGE_SIZE = 50
PREVIEW_ROWS = 20
# Closed items rated 不满意 listed on the imports page, to open and decide on.
TO_DECIDE = 50


def _uploads(request: HttpRequest) -> dict:
    return request.session.setdefault(SESSION_KEY, {})


def _forget_waiting(uploads: dict) -> None:
    """A new sheet replaces any this session had waiting: one import is previewed at a time."""
    for token, entry in list(uploads.items()):
        default_storage.delete(entry["path"])
        del uploads[token]


def _discard(request: HttpRequest, token: str) -> None:
    entry = _uploads(request).pop(token, None)
    request.session.modified = True
    if entry:
        default_storage.delete(entry["path"])


# --- The imports so far -------------------------------------------------------------------


@login_required
@supervisor_required
@require_safe
def review_list(request: HttpRequest) -> HttpResponse:
    """The imports, newest first, a page at a time by id; and the closed items rated
    不满意, which wait for a supervisor to reopen them or let the close-out stand."""
    batches = ReviewBatch.objects.select_related("round", "imported_by")
    before = parse_id(request.GET.get("before"))
    if before is not None:
        batches = batches.filter(pk__lt=before)
    page = list(batches.order_by("-pk")[: PAGE_SIZE + 1])
    older = page[PAGE_SIZE - 1].pk if len(page) > PAGE_SIZE else None
    page = page[:PAGE_SIZE]
    counts: dict[int, dict[str, int]] = {}
    for batch_id, value, n in (
        Rating.objects.filter(batch_id__in=[b.pk for b in page])
        .values_list("batch_id", "value")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        counts.setdefault(batch_id, {})[value] = n
    for batch in page:
        mine = counts.get(batch.pk, {})
        batch.counts = [
            (value, label, mine.get(value, 0)) for value, label in Item.Satisfaction.choices
        ]
    # Found through the ratings, a few thousand rows, rather than among every closed item.
    rated = Rating.objects.filter(value=Item.Satisfaction.UNSATISFIED).values("item_id")
    unsatisfied = Item.objects.filter(
        pk__in=rated, state=Item.State.CLOSED, satisfaction=Item.Satisfaction.UNSATISFIED
    )
    to_decide = list(
        unsatisfied.select_related("round", "lead_department").order_by("round_id", "number")[
            : TO_DECIDE + 1
        ]
    )
    return render(
        request,
        "supervision/reviews.html",
        {
            "batches": page,
            "older": older,
            "newer": before is not None,
            "to_decide": to_decide[:TO_DECIDE],
            "more_to_decide": len(to_decide) > TO_DECIDE,
        },
    )


# --- Import: upload, preview, confirm -------------------------------------------------------


def _render_upload(request: HttpRequest, form: ReviewUploadForm, status: int = 200):
    return render(request, "supervision/review_upload.html", {"form": form}, status=status)


def _render_preview(
    request: HttpRequest,
    plan: reviews.ReviewPlan,
    token: str,
    *,
    recognised: bool,
    alert: str = "",
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "supervision/review_preview.html",
        {
            "plan": plan,
            "recognised": recognised,
            "first": plan.ratings[:PREVIEW_ROWS] if plan.ok else [],
            "header_rows": _header_rows(plan.table),
            "table_notes": table_notes(plan.table),
            "alert": alert,
            "confirm": ConfirmForm(initial={"upload": token}),
        },
        status=status,
    )


def _header_rows(table) -> str:
    first = table.header_row - table.header_rows + 1
    return str(table.header_row) if first == table.header_row else f"{first}–{table.header_row}"


@login_required
@supervisor_required
def review_import(request: HttpRequest) -> HttpResponse:
    """The upload page (GET, ``?round=`` chosen beforehand) and the preview (POST)."""
    if request.method != "POST":
        initial = {}
        if (pk := parse_id(request.GET.get("round"))) is not None:
            initial["round"] = Round.objects.filter(pk=pk).first()
        return _render_upload(request, ReviewUploadForm(initial=initial))
    form = ReviewUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_upload(request, form, status=400)
    upload = form.cleaned_data["file"]
    data = upload.read()
    try:
        plan = reviews.plan_review(data, upload.name, form.cleaned_data["round"])
    except reviews.RoundNeeded as error:
        form.add_error("round", str(error))
        return _render_upload(request, form, status=400)
    except IntakeError as error:
        form.add_error("file", str(error))
        return _render_upload(request, form, status=400)
    uploads = _uploads(request)
    _forget_waiting(uploads)
    token = ""
    if plan.ok:
        # Only a sheet that can be confirmed waits; a refused one is corrected and sent again.
        token = secrets.token_urlsafe(24)
        path = default_storage.save(f"{UPLOADS_DIR}/{token}.review", ContentFile(data))
        uploads[token] = {
            "path": path,
            "name": plan.file_name,
            "round": plan.round.pk,
            "recognised": plan.recognised,
            "at": timezone.now().isoformat(),
        }
    request.session.modified = True
    status = 200 if plan.ok else 400
    return _render_preview(request, plan, token, recognised=plan.recognised, status=status)


def _waiting(request: HttpRequest) -> tuple[str, dict] | None:
    """The upload this POST names, if this session still has it and its file is kept."""
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        return None
    token = form.cleaned_data["upload"]
    entry = _uploads(request).get(token)
    if not entry:
        return None
    fresh = timezone.now() - datetime.datetime.fromisoformat(entry["at"])
    if fresh > datetime.timedelta(days=1) or not default_storage.exists(entry["path"]):
        _discard(request, token)
        return None
    return token, entry


@login_required
@supervisor_required
@require_POST
def review_confirm(request: HttpRequest) -> HttpResponse:
    found = _waiting(request)
    if found is None:
        messages.error(request, _("That upload is no longer waiting. Upload the file again."))
        return redirect("supervision:review-import")
    token, entry = found
    if "cancel" in request.POST:
        _discard(request, token)
        messages.info(request, _("Import cancelled; nothing was written."))
        return redirect("supervision:reviews")
    # The plan rated closed items of the round, which keep it from being deleted.
    round = Round.objects.get(pk=entry["round"])
    try:
        with default_storage.open(entry["path"], "rb") as f:
            data = f.read()
        # Checked again: an item reopened or withdrawn since the preview refuses its row.
        plan = reviews.plan_review(data, entry["name"], round)
        if not plan.ok:
            _discard(request, token)
            return _render_preview(
                request,
                plan,
                "",
                recognised=entry["recognised"],
                alert=_(
                    "Nothing was imported: the ledger has changed since the preview, and "
                    "the rows below are now refused."
                ),
                status=409,
            )
        batch = reviews.write_review(plan, by=request.user, request=request)
    except IntakeError as error:
        _discard(request, token)
        messages.error(request, str(error))
        return redirect("supervision:review-import")
    _discard(request, token)
    counts = "、".join(f"{label} {n}" for _value, label, n in plan.counts if n)
    messages.success(
        request,
        ngettext(
            "%(n)s rating imported into %(round)s (%(counts)s).",
            "%(n)s ratings imported into %(round)s (%(counts)s).",
            batch.rows,
        )
        % {"n": batch.rows, "round": plan.round.name, "counts": counts},
    )
    return redirect(reverse("supervision:reviews"))
