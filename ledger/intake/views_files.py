"""The intake hub, the import of feedback and ledgers (preview, then confirm), the export.

An upload is read and checked at once and shown as a preview; nothing is written. The file
is kept in the default storage under a random name that only this user's session knows, and
read again on confirm, when every row goes in one transaction or none; the stored file is
deleted after (or when the supervisor cancels). A name the file uses that is not on file is
listed once in the preview; the supervisor's answers (names.py) are kept with the upload in
the session, the same file is planned again with them, and whatever they create is created
on confirm, in the import's transaction.

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
from django.db import transaction
from django.db.models import Count, QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from ledger import audit, jobs
from ledger.access import supervisor_required, works_on_items_required
from ledger.inputs import parse_id
from ledger.models import Category, Department, Item, Leader, Round, Suggestion
from ledger.selectors import ledger_items

from . import export, feedback, ledger_import, names
from .forms_files import ConfirmForm, RoundForm, UploadForm
from .notes import numbering_notes, table_notes
from .reading import IntakeError

SESSION_KEY = "intake_uploads"
# Where uploads wait for confirmation; `manage.py cleanup_uploads` empties it of old ones.
UPLOADS_DIR = "intake/uploads"
# Up to this many rows an export is written while the user waits; more go to a job.
EXPORT_AT_ONCE = 3_000
PREVIEW_ROWS = 20
# A name used by many rows shows the first of their numbers, then "…".
ROW_NUMBERS_SHOWN = 10
# Names the preview's form holds at once (four fields each, within Django's limit of a
# thousand fields a request); more are shown once these are answered.
NAMES_SHOWN = 200


# --- The hub ---------------------------------------------------------------------------------


def _counts(rows: QuerySet, by: str) -> dict[int, int]:
    """How many of ``rows`` there are for each value of ``by``, in one grouped query."""
    return dict(rows.values_list(by).annotate(n=Count("pk")).order_by())


def _round_rows(rounds: list[Round]) -> list[Round]:
    ids = [r.pk for r in rounds]
    received = _counts(Suggestion.objects.filter(round_id__in=ids), "round_id")
    awaiting = _counts(Suggestion.objects.filter(round_id__in=ids, item__isnull=True), "round_id")
    items = _counts(Item.objects.filter(round_id__in=ids), "round_id")
    for r in rounds:
        r.received = received.get(r.pk, 0)
        r.awaiting = awaiting.get(r.pk, 0)
        r.item_count = items.get(r.pk, 0)
    return rounds


def round_categories(round: Round) -> list[Category]:
    """The round's categories in order, each with how many items and suggestions are
    filed under it (a category in use cannot be deleted)."""
    categories = list(round.categories.order_by("order", "name"))
    items = _counts(Item.objects.filter(round=round, category__isnull=False), "category_id")
    suggestions = _counts(
        Suggestion.objects.filter(round=round, category__isnull=False), "category_id"
    )
    for category in categories:
        category.item_count = items.get(category.pk, 0)
        category.suggestion_count = suggestions.get(category.pk, 0)
        category.typed, category.error = category.name, ""
    return categories


def _render_hub(
    request: HttpRequest,
    form: RoundForm | None = None,
    *,
    one: Round | None = None,
    categories: list[Category] | None = None,
    new_category: tuple[str, str] = ("", ""),
    status=200,
) -> HttpResponse:
    """The hub, or one round's page with its categories. A refused category form passes
    the categories with what was typed and why it was refused, and ``new_category`` the
    (name typed, error) of a refused addition."""
    rounds = [one] if one else list(Round.objects.all())
    context = {"rounds": _round_rows(rounds), "one": one, "form": form or RoundForm()}
    if one:
        context["categories"] = categories if categories is not None else round_categories(one)
        context["new_category"], context["new_category_error"] = new_category
    return render(request, "intake/rounds.html", context, status=status)


def render_round(request: HttpRequest, round: Round, **kwargs) -> HttpResponse:
    """The round's page, for views that refuse a change to its categories."""
    return _render_hub(request, one=round, **kwargs)


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
    with transaction.atomic():
        round = form.save()
        # Its categories come with it: the previous round's, or the six of the notices.
        round.start_categories()
    messages.success(request, _("Round “%(name)s” created.") % {"name": round.name})
    return redirect("intake:round", pk=round.pk)


# --- Import: upload, preview, match the names not on file, confirm ---------------------------


@dataclasses.dataclass(frozen=True)
class Kind:
    name: str  # "feedback" or "ledger"
    plan: Callable
    write: Callable  # (plan, the user who confirms) → how many rows were written
    url: str
    confirm_url: str
    resolve_url: str


def _write_feedback(plan, by) -> int:
    return feedback.write_feedback(plan)


def _write_ledger(plan, by) -> int:
    # The supervisor who confirms is who created the items, in each one's first event.
    return ledger_import.write_ledger(plan, by=by)


KINDS = {
    "feedback": Kind(
        "feedback",
        feedback.plan_feedback,
        _write_feedback,
        "intake:import-feedback",
        "intake:import-feedback-confirm",
        "intake:import-feedback-resolve",
    ),
    "ledger": Kind(
        "ledger",
        ledger_import.plan_ledger,
        _write_ledger,
        "intake:import-ledger",
        "intake:import-ledger-confirm",
        "intake:import-ledger-resolve",
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
        plan = kind.plan(round, data, upload.name, names.Names(round))
    except IntakeError as error:
        form.add_error("file", str(error))
        return _render_upload(request, round, kind, form, status=400)
    uploads = _uploads(request)
    _forget_stale(uploads, round, kind)
    token = secrets.token_urlsafe(24)
    path = default_storage.save(f"{UPLOADS_DIR}/{token}.upload", ContentFile(data))
    uploads[token] = {
        "path": path,
        "name": upload.name[:200],
        "round": round.pk,
        "kind": kind.name,
        "at": timezone.now().isoformat(),
        "names": {},  # the supervisor's answers for the names not on file
    }
    request.session.modified = True
    return _render_preview(request, round, kind, plan, token, upload.name)


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


def _header_rows(table) -> str:
    """The header's row as the preview names it: "3", or "3–4" for a header of two rows."""
    first = table.header_row - table.header_rows + 1
    return str(table.header_row) if first == table.header_row else f"{first}–{table.header_row}"


# Answers as the form shows them: (kind, key) → {"to": "", "new" or a pk, "name", "post"}.
Typed = dict[tuple[str, str], dict[str, str]]


@dataclasses.dataclass
class NameRow:
    """One name not on file as the preview's form shows it."""

    unknown: names.Unknown
    index: int
    closest: list[tuple[str, str]]  # (value, label) of the closest known names
    others: list[tuple[str, str]]
    blank: str  # the label of leaving it unanswered, "" when that is not offered
    create: str  # the label of creating it, "" when this user may not
    selected: str
    new_name: str
    new_post: str
    error: str = ""

    @property
    def row_numbers(self) -> str:
        shown = "、".join(map(str, self.unknown.rows[:ROW_NUMBERS_SHOWN]))
        return shown + ("…" if len(self.unknown.rows) > ROW_NUMBERS_SHOWN else "")


def _typed_from(mapping) -> Typed:
    typed: Typed = {}
    for kind_key, choice in names.choices_of(mapping).items():
        if choice.to is None:
            typed[kind_key] = {"to": "new", "name": choice.name, "post": choice.post}
        else:
            typed[kind_key] = {"to": str(choice.to)}
    return typed


def _name_rows(request: HttpRequest, kind: Kind, plan, typed: Typed, errors: dict) -> list[NameRow]:
    """The form's rows: for each name not on file, what it may be matched to (active
    leaders and departments, the round's categories; the closest first), whether this user
    may create it, and what is chosen now."""
    user = request.user
    kinds = {u.kind for u in plan.unknown}
    targets: dict[str, list] = {
        names.LEADER: list(Leader.objects.filter(is_active=True)) if names.LEADER in kinds else [],
        names.DEPARTMENT: (
            list(Department.objects.filter(is_active=True)) if names.DEPARTMENT in kinds else []
        ),
        names.CATEGORY: (
            list(Category.objects.filter(round=plan.round)) if names.CATEGORY in kinds else []
        ),
    }
    may_add = {kind: user.has_perm(perm) for kind, perm in names.PERMISSIONS.items()}
    create_labels = {
        names.LEADER: _("Add it as a new leader") if may_add[names.LEADER] else "",
        names.DEPARTMENT: _("Add it as a new department") if may_add[names.DEPARTMENT] else "",
        names.CATEGORY: _("Add it as a new category of this round"),
    }
    blank_labels = {
        names.LEADER: _("— Not matched yet: its rows wait —"),
        names.DEPARTMENT: _("— Not matched yet: its rows wait —"),
        # A ledger's category not answered is created as written; a suggestion's is kept
        # as received, with no category.
        names.CATEGORY: "" if kind.name == "ledger" else _("— Keep as received, no category —"),
    }
    # Those not answered yet first: with more names than the form holds, the next ones
    # come up as these are answered.
    listed = sorted(plan.unknown, key=lambda u: (u.kind, u.key) in typed)[:NAMES_SHOWN]
    rows = []
    for n, unknown in enumerate(listed):
        close = [(str(x.pk), str(x)) for x in unknown.closest]
        close_values = {value for value, _label in close}
        others = [
            (str(x.pk), str(x)) for x in targets[unknown.kind] if str(x.pk) not in close_values
        ]
        post, name = unknown.guess()
        now = typed.get((unknown.kind, unknown.key), {})
        default = "new" if not blank_labels[unknown.kind] else ""
        rows.append(
            NameRow(
                unknown=unknown,
                index=n,
                closest=close,
                others=others,
                blank=blank_labels[unknown.kind],
                create=create_labels[unknown.kind],
                selected=now.get("to", default),
                new_name=now.get("name", name),
                new_post=now.get("post", post),
                error=errors.get((unknown.kind, unknown.key), ""),
            )
        )
    return rows


def _to_create(plan) -> list[tuple[str, str]]:
    """What confirming adds besides the rows, by kind: (label, names)."""
    made: dict[str, list[str]] = {kind: [] for kind in names.KINDS}
    for row in plan.to_create:
        made[names.kind_of(row)].append(str(row))
    # A ledger's categories not answered are created as written, with the chosen ones.
    for name in getattr(plan, "new_categories", []):
        if name not in made[names.CATEGORY]:
            made[names.CATEGORY].append(name)
    labels = {
        names.DEPARTMENT: _("New departments, added on import:"),
        names.LEADER: _("New leaders, added on import:"),
        names.CATEGORY: _("New categories for this round:"),
    }
    return [(labels[kind], "、".join(made[kind])) for kind in labels if made[kind]]


def _render_preview(
    request: HttpRequest,
    round: Round,
    kind: Kind,
    plan,
    token: str,
    file_name: str,
    *,
    typed: Typed | None = None,
    errors: dict | None = None,
    alert: str = "",
    status: int = 200,
) -> HttpResponse:
    """The preview of a planned import. ``typed`` is what the names form shows chosen (by
    default the answers the plan was made with), ``errors`` why some answers are refused."""
    if typed is None:
        typed = _typed_from(plan.names.mapping if plan.names else {})
    return render(
        request,
        "intake/preview.html",
        {
            "round": round,
            "kind": kind.name,
            "title": _kind_title(kind),
            "plan": plan,
            "file_name": file_name,
            "first": _first_rows(kind, plan),
            "header_rows": _header_rows(plan.table),
            "table_notes": table_notes(plan.table),
            "numbering_notes": numbering_notes(plan) if kind.name == "ledger" else [],
            "name_rows": _name_rows(request, kind, plan, typed, errors or {}),
            "names_not_shown": max(0, len(plan.unknown) - NAMES_SHOWN),
            "to_create": _to_create(plan),
            "alert": alert,
            "confirm": ConfirmForm(initial={"upload": token}),
            "confirm_url": reverse(kind.confirm_url, args=[round.pk]),
            "resolve_url": reverse(kind.resolve_url, args=[round.pk]),
            "upload_url": reverse(kind.url, args=[round.pk]),
        },
        status=status,
    )


def _waiting(request: HttpRequest, round: Round, kind: Kind) -> tuple[str, dict] | None:
    """The upload this POST names, if this session still has it waiting for this round."""
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        return None
    token = form.cleaned_data["upload"]
    entry = _uploads(request).get(token)
    if not entry or entry["round"] != round.pk or entry["kind"] != kind.name:
        return None
    if not default_storage.exists(entry["path"]):
        # Removed by cleanup_uploads after a day: the session outlived its file.
        _discard(request, token)
        return None
    return token, entry


def _gone(request: HttpRequest, round: Round, kind: Kind) -> HttpResponse:
    messages.error(request, _("That upload is no longer waiting. Upload the file again."))
    return redirect(kind.url, pk=round.pk)


def _discard(request: HttpRequest, token: str) -> None:
    entry = _uploads(request).pop(token, None)
    request.session.modified = True
    if entry:
        default_storage.delete(entry["path"])


def _stored(entry: dict) -> bytes:
    with default_storage.open(entry["path"], "rb") as f:
        return f.read()


def _posted_answers(request: HttpRequest, stored: dict) -> tuple[dict, Typed]:
    """The stored mapping changed by the names form, and what was typed (shown again if
    refused). Each name comes as ``n`` = "kind:key", its fields numbered in the same order;
    a name the form did not show keeps its stored answer, one left blank loses it."""
    mapping = {kind: dict(answers) for kind, answers in (stored or {}).items()}
    typed: Typed = {}
    for n, raw in enumerate(request.POST.getlist("n")[:NAMES_SHOWN]):
        kind, _sep, key = raw.partition(":")
        if kind not in names.KINDS or not key:
            continue
        to = request.POST.get(f"to-{n}", "").strip()
        name = request.POST.get(f"name-{n}", "").strip()
        post = request.POST.get(f"post-{n}", "").strip() if kind == names.LEADER else ""
        typed[kind, key] = {"to": to, "name": name, "post": post}
        answers = mapping.setdefault(kind, {})
        if to == "new":
            answers[key] = {"name": name, "post": post}
        elif to:
            # Not a number: no row has it, and check() says so.
            answers[key] = {"to": parse_id(to) or 0}
        else:
            answers.pop(key, None)
    return mapping, typed


def _still_unknown(errors: dict, plan) -> dict:
    """The refused answers that matter: those for names the file still uses and that are
    still not on file. A name someone has added meanwhile needs no answer any more."""
    unknown = {(u.kind, u.key) for u in plan.unknown}
    return {kind_key: error for kind_key, error in errors.items() if kind_key in unknown}


def _resolve(request: HttpRequest, round: Round, kind: Kind) -> HttpResponse:
    """Keep the supervisor's answers for the names not on file with the upload, and show
    the same file planned with them. Nothing is written to the database; a refused answer
    changes nothing and is shown with its reason, what was typed kept."""
    found = _waiting(request, round, kind)
    if found is None:
        return _gone(request, round, kind)
    token, entry = found
    mapping, typed = _posted_answers(request, entry.get("names"))
    checked, errors = names.check(mapping, round=round, user=request.user)
    try:
        data = _stored(entry)
        plan = kind.plan(round, data, entry["name"], checked)
        errors = _still_unknown(errors, plan)
        if errors:
            kept, _stale = names.check(entry.get("names"), round=round, user=request.user)
            plan = kind.plan(round, data, entry["name"], kept)
            return _render_preview(
                request,
                round,
                kind,
                plan,
                token,
                entry["name"],
                typed=typed,
                errors=errors,
                alert=_("Nothing was changed: correct what is marked below."),
                status=400,
            )
    except IntakeError as error:
        _discard(request, token)
        messages.error(request, str(error))
        return redirect(kind.url, pk=round.pk)
    entry["names"] = checked.mapping
    request.session.modified = True
    return _render_preview(request, round, kind, plan, token, entry["name"])


def _confirm(request: HttpRequest, round: Round, kind: Kind) -> HttpResponse:
    found = _waiting(request, round, kind)
    if found is None:
        return _gone(request, round, kind)
    token, entry = found
    if "cancel" in request.POST:
        _discard(request, token)
        messages.info(request, _("Import cancelled; nothing was written."))
        return redirect("intake:round", pk=round.pk)
    # The answers are checked again: a department deactivated or a name added since the
    # preview refuses the confirm, and the upload stays for the supervisor to choose again.
    checked, errors = names.check(entry.get("names"), round=round, user=request.user)
    try:
        plan = kind.plan(round, _stored(entry), entry["name"], checked)
        errors = _still_unknown(errors, plan)
        if errors:
            return _render_preview(
                request,
                round,
                kind,
                plan,
                token,
                entry["name"],
                typed=_typed_from(entry.get("names")),
                errors=errors,
                alert=_(
                    "Nothing was imported: some names you matched have changed since. Choose again."
                ),
                status=409,
            )
        created = plan.to_create
        written = kind.write(plan, request.user)
    except IntakeError as error:
        _discard(request, token)
        messages.error(request, str(error))
        return redirect(kind.url, pk=round.pk)
    _discard(request, token)
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
    if created:
        messages.success(
            request, _("Added with them: %(names)s.") % {"names": "、".join(map(str, created))}
        )
    return redirect("intake:round", pk=round.pk)


def _import_view(kind_name: str, step: str):
    """The upload page (GET) and upload (POST), or a POST-only step: "resolve" or
    "confirm"."""
    kind = KINDS[kind_name]

    @login_required
    @supervisor_required
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        round = get_object_or_404(Round, pk=pk)
        if step != "upload":
            if request.method != "POST":
                return HttpResponse(status=405, headers={"Allow": "POST"})
            return (_confirm if step == "confirm" else _resolve)(request, round, kind)
        if request.method == "POST":
            return _upload(request, round, kind)
        return _render_upload(request, round, kind, UploadForm())

    view.__name__ = f"import_{kind_name}{'' if step == 'upload' else '_' + step}"
    return view


import_feedback = _import_view("feedback", "upload")
import_feedback_resolve = _import_view("feedback", "resolve")
import_feedback_confirm = _import_view("feedback", "confirm")
import_ledger = _import_view("ledger", "upload")
import_ledger_resolve = _import_view("ledger", "resolve")
import_ledger_confirm = _import_view("ledger", "confirm")


# --- Export ----------------------------------------------------------------------------------


def _export_params(request: HttpRequest) -> dict[str, str]:
    """The list's GET parameters as plain strings (JSON for a job); paging ones dropped."""
    return {
        k: v for k, v in request.GET.items() if k not in ("after", "before", "sort", "page") and v
    }


def _file_name(title: str) -> str:
    return f"{title}-{timezone.localdate():%Y%m%d}.xlsx".replace("/", "-")


def _audit_export(request: HttpRequest, title: str, params: dict[str, str], count) -> None:
    audit.record(
        audit.Kind.EXPORT,
        gettext_lazy("Exported %(title)s (%(count)s items)"),
        {"title": title, "count": count},
        request=request,
        detail={"filters": params, "items": count},
    )


def _export(request: HttpRequest, params: dict[str, str], title: str, again: str) -> HttpResponse:
    items = ledger_items(user=request.user, params=params).items
    count = items.order_by()[: EXPORT_AT_ONCE + 1].count()
    if count <= EXPORT_AT_ONCE:
        out = io.BytesIO()
        export.write_items(items, out, title=title)
        out.seek(0)
        _audit_export(request, title, params, count)
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
        _audit_export(request, title, params, items.count())
        return redirect(job)
    return render(
        request,
        "intake/export_confirm.html",
        {"title": title, "more_than": EXPORT_AT_ONCE, "action": again},
    )


@login_required
@works_on_items_required
def export_list(request: HttpRequest) -> HttpResponse:
    params = _export_params(request)
    round = None
    if (round_pk := parse_id(params.get("round", ""))) is not None:
        round = Round.objects.filter(pk=round_pk).first()
    title = _("Ledger of %(round)s") % {"round": round.name} if round else _("Ledger")
    return _export(request, params, title, request.get_full_path())


@login_required
@works_on_items_required
def export_round(request: HttpRequest, pk: int) -> HttpResponse:
    round = get_object_or_404(Round, pk=pk)
    title = _("Ledger of %(round)s") % {"round": round.name}
    return _export(request, {"round": str(pk)}, title, reverse("intake:export-round", args=[pk]))
