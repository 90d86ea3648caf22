"""The intake hub, the import of feedback and ledgers (preview, then confirm), the export.

An upload is read and checked at once and shown as a preview; nothing is written. The file
is kept in the default storage under a random name that only this user's session knows, and
read again on confirm, when every row goes in one transaction or none; the stored file is
deleted after (or when the supervisor cancels).

Imports are the supervisors' (anyone else: 404, like the review queue). Export is anyone's
who is signed in, of the items they may see: ``ledger.selectors.ledger_items``.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import secrets
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import Count
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from ledger import jobs
from ledger.access import supervisor_required
from ledger.models import Item, Round, Suggestion
from ledger.selectors import ledger_items

from . import export, feedback, ledger_import
from .forms_files import ConfirmForm, RoundForm, UploadForm
from .reading import IntakeError

SESSION_KEY = "intake_uploads"
# Up to this many rows an export is written while the user waits; more go to a job.
EXPORT_AT_ONCE = 3_000
PREVIEW_ROWS = 20


# --- The hub ---------------------------------------------------------------------------------


def _round_rows(rounds: list[Round]) -> list[Round]:
    ids = [r.pk for r in rounds]
    received = dict(
        Suggestion.objects.filter(round_id__in=ids)
        .values_list("round_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    awaiting = dict(
        Suggestion.objects.filter(round_id__in=ids, item__isnull=True)
        .values_list("round_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    items = dict(
        Item.objects.filter(round_id__in=ids)
        .values_list("round_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for r in rounds:
        r.received = received.get(r.pk, 0)
        r.awaiting = awaiting.get(r.pk, 0)
        r.item_count = items.get(r.pk, 0)
    return rounds


def _render_hub(
    request: HttpRequest, form: RoundForm | None = None, *, one: Round | None = None, status=200
) -> HttpResponse:
    rounds = [one] if one else list(Round.objects.all())
    return render(
        request,
        "intake/rounds.html",
        {"rounds": _round_rows(rounds), "one": one, "form": form or RoundForm()},
        status=status,
    )


@login_required
@supervisor_required
def rounds(request: HttpRequest) -> HttpResponse:
    return _render_hub(request)


@login_required
@supervisor_required
def round_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_hub(request, one=get_object_or_404(Round, pk=pk))


@login_required
@supervisor_required
@require_POST
def round_create(request: HttpRequest) -> HttpResponse:
    form = RoundForm(request.POST)
    if not form.is_valid():
        return _render_hub(request, form, status=400)
    round = form.save()
    messages.success(request, _("Round “%(name)s” created.") % {"name": round.name})
    return redirect("intake:round", pk=round.pk)


# --- Import: upload, preview, confirm --------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Kind:
    name: str  # "feedback" or "ledger"
    plan: Callable
    write: Callable
    url: str
    confirm_url: str


KINDS = {
    "feedback": Kind(
        "feedback",
        feedback.plan_feedback,
        feedback.write_feedback,
        "intake:import-feedback",
        "intake:import-feedback-confirm",
    ),
    "ledger": Kind(
        "ledger",
        ledger_import.plan_ledger,
        ledger_import.write_ledger,
        "intake:import-ledger",
        "intake:import-ledger-confirm",
    ),
}


def _kind_title(kind: Kind) -> str:
    return _("Import feedback") if kind.name == "feedback" else _("Import a ledger")


def _render_upload(request, round, kind, form, status=200):
    return render(
        request,
        "intake/upload.html",
        {
            "round": round,
            "kind": kind.name,
            "title": _kind_title(kind),
            "form": form,
            "action": reverse(kind.url, args=[round.pk]),
        },
        status=status,
    )


def _uploads(request: HttpRequest) -> dict:
    return request.session.setdefault(SESSION_KEY, {})


def _upload(request: HttpRequest, round: Round, kind: Kind) -> HttpResponse:
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_upload(request, round, kind, form, status=400)
    upload = form.cleaned_data["file"]
    data = upload.read()
    try:
        plan = kind.plan(round, data, upload.name)
    except IntakeError as error:
        form.add_error("file", str(error))
        return _render_upload(request, round, kind, form, status=400)
    uploads = _uploads(request)
    _forget_stale(uploads, round, kind)
    token = secrets.token_urlsafe(24)
    path = default_storage.save(f"intake/uploads/{token}.upload", ContentFile(data))
    uploads[token] = {
        "path": path,
        "name": upload.name[:200],
        "round": round.pk,
        "kind": kind.name,
        "at": timezone.now().isoformat(),
    }
    request.session.modified = True
    return render(
        request,
        "intake/preview.html",
        {
            "round": round,
            "kind": kind.name,
            "title": _kind_title(kind),
            "plan": plan,
            "file_name": upload.name,
            "first": _first_rows(kind, plan),
            "confirm": ConfirmForm(initial={"upload": token}),
            "confirm_url": reverse(kind.confirm_url, args=[round.pk]),
            "upload_url": reverse(kind.url, args=[round.pk]),
        },
    )


def _forget_stale(uploads: dict, round: Round, kind: Kind) -> None:
    """Delete this session's earlier upload for the same round and kind (a new file
    replaces it) and any left waiting for over a day: a preview nobody confirmed or
    cancelled must not keep its file for ever."""
    day_ago = timezone.now() - datetime.timedelta(days=1)
    for token, entry in list(uploads.items()):
        same = entry["round"] == round.pk and entry["kind"] == kind.name
        if same or datetime.datetime.fromisoformat(entry["at"]) < day_ago:
            default_storage.delete(entry["path"])
            del uploads[token]


def _first_rows(kind: Kind, plan) -> list:
    if kind.name == "feedback":
        return plan.suggestions[:PREVIEW_ROWS]
    rows = []
    for item, co in list(zip(plan.items, plan.co_departments, strict=True))[:PREVIEW_ROWS]:
        item.co_names = "、".join(d.name for d in co)
        item.category_name = item._category_name
        rows.append(item)
    return rows


def _confirm(request: HttpRequest, round: Round, kind: Kind) -> HttpResponse:
    form = ConfirmForm(request.POST)
    uploads = _uploads(request)
    entry = uploads.get(form.data.get("upload", "")) if form.is_valid() else None
    if not entry or entry["round"] != round.pk or entry["kind"] != kind.name:
        messages.error(request, _("That upload is no longer waiting. Upload the file again."))
        return redirect(kind.url, pk=round.pk)
    uploads.pop(form.cleaned_data["upload"])
    request.session.modified = True
    path = entry["path"]
    try:
        if "cancel" in request.POST:
            messages.info(request, _("Import cancelled; nothing was written."))
            return redirect("intake:round", pk=round.pk)
        with default_storage.open(path, "rb") as f:
            data = f.read()
        try:
            plan = kind.plan(round, data, entry["name"])
            written = kind.write(plan)
        except IntakeError as error:
            messages.error(request, str(error))
            return redirect(kind.url, pk=round.pk)
    finally:
        default_storage.delete(path)
    if kind.name == "feedback":
        text = ngettext(
            "%(n)s suggestion imported into %(round)s.",
            "%(n)s suggestions imported into %(round)s.",
            written,
        )
    else:
        text = ngettext(
            "%(n)s item imported into %(round)s as a draft awaiting assignment.",
            "%(n)s items imported into %(round)s as drafts awaiting assignment.",
            written,
        )
    messages.success(request, text % {"n": written, "round": round.name})
    return redirect("intake:round", pk=round.pk)


def _import_view(kind_name: str, confirm: bool):
    kind = KINDS[kind_name]

    @login_required
    @supervisor_required
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        round = get_object_or_404(Round, pk=pk)
        if confirm:
            if request.method != "POST":
                return HttpResponse(status=405, headers={"Allow": "POST"})
            return _confirm(request, round, kind)
        if request.method == "POST":
            return _upload(request, round, kind)
        return _render_upload(request, round, kind, UploadForm())

    view.__name__ = f"import_{kind_name}{'_confirm' if confirm else ''}"
    return view


import_feedback = _import_view("feedback", confirm=False)
import_feedback_confirm = _import_view("feedback", confirm=True)
import_ledger = _import_view("ledger", confirm=False)
import_ledger_confirm = _import_view("ledger", confirm=True)


# --- Export ----------------------------------------------------------------------------------


def _export_params(request: HttpRequest) -> dict[str, str]:
    """The list's GET parameters as plain strings (JSON for a job); paging ones dropped."""
    return {
        k: v for k, v in request.GET.items() if k not in ("after", "before", "sort", "page") and v
    }


def _file_name(title: str) -> str:
    return f"{title}-{timezone.localdate():%Y%m%d}.xlsx".replace("/", "-")


def _export(request: HttpRequest, params: dict[str, str], title: str, again: str) -> HttpResponse:
    items = ledger_items(user=request.user, params=params).items
    count = items.order_by()[: EXPORT_AT_ONCE + 1].count()
    if count <= EXPORT_AT_ONCE:
        out = io.BytesIO()
        export.write_items(items, out, title=title)
        out.seek(0)
        return FileResponse(out, as_attachment=True, filename=_file_name(title))
    if request.method == "POST":
        job = jobs.enqueue(
            export.export_job,
            kind="export",
            by=request.user,
            title=_("Export: %(title)s") % {"title": title},
            user_id=request.user.pk,
            params=params,
            title_text=title,
        )
        return redirect(job)
    return render(
        request,
        "intake/export_confirm.html",
        {"title": title, "more_than": EXPORT_AT_ONCE, "action": again},
    )


@login_required
def export_list(request: HttpRequest) -> HttpResponse:
    params = _export_params(request)
    round = None
    if params.get("round", "").isdigit():
        round = Round.objects.filter(pk=params["round"]).first()
    title = _("Ledger of %(round)s") % {"round": round.name} if round else _("Ledger")
    return _export(request, params, title, request.get_full_path())


@login_required
def export_round(request: HttpRequest, pk: int) -> HttpResponse:
    round = get_object_or_404(Round, pk=pk)
    title = _("Ledger of %(round)s") % {"round": round.name}
    return _export(request, {"round": str(pk)}, title, reverse("intake:export-round", args=[pk]))
