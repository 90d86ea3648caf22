from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from . import evidence, forms, history, workflow
from .models import Extension, Item, Progress, Suggestion
from .supervision.forms_reviews import ReopenForm
from .supervision.models import Rating


def _get_item_for_user(request: HttpRequest, pk: int) -> Item:
    """Fetch an item the user may see, with what its page needs; 404 for anything else.

    Every item view goes through here, so an item outside the user's reach is not found,
    whatever the URL: an official of one department cannot learn that another's item exists.
    """
    # Withdrawn items too: they stay readable with their history.
    queryset = Item.all_objects.visible_to(request.user).select_related(
        "round", "category", "leader", "lead_department", "closed_by", "updated_by", "merged_into"
    )
    return get_object_or_404(queryset, pk=pk)


def _responsibility(d: dict) -> dict:
    """Who answers for the item and by when, as the assign and reassign forms clean it."""
    return {name: d[name] for name in forms.Responsibility.base_fields}


@dataclass(frozen=True)
class Action:
    form: type[forms.ActionForm]
    run: Callable[..., object]
    done: str
    title: str


ACTIONS: dict[str, Action] = {
    "assign": Action(
        forms.AssignForm,
        lambda item, by, d: workflow.assign(item, by=by, note=d["note"], **_responsibility(d)),
        _("The item was assigned."),
        _("Assign"),
    ),
    "decline": Action(
        forms.ReasonForm,
        lambda item, by, d: workflow.decline(item, by=by, reason=d["reason"]),
        _("The item was declined and goes back to the evaluation office."),
        _("Decline (not ours)"),
    ),
    "start": Action(
        forms.NoteForm,
        lambda item, by, d: workflow.start(item, by=by, note=d["note"]),
        _("Work on the item has started."),
        _("Accept and start"),
    ),
    "progress": Action(
        forms.ProgressForm,
        # The files were checked by the form; the report and its files are saved together.
        lambda item, by, d: evidence.post_progress(
            item,
            by=by,
            text=d["text"],
            percent=d["percent"],
            reported_on=d["reported_on"],
            files=d["evidence"],
        ),
        _("Progress was posted."),
        _("Post progress"),
    ),
    "request": Action(
        forms.CloseoutForm,
        lambda item, by, d: workflow.request_closeout(
            item, by=by, outcome=d["outcome"], outcome_kind=d["outcome_kind"]
        ),
        _("Close-out was requested."),
        _("Request close-out"),
    ),
    "approve": Action(
        forms.NoteForm,
        lambda item, by, d: workflow.approve(item, by=by, note=d["note"]),
        _("The item is closed out."),
        _("Approve close-out"),
    ),
    "return": Action(
        forms.ReasonForm,
        lambda item, by, d: workflow.return_request(item, by=by, reason=d["reason"]),
        _("The request was returned."),
        _("Return"),
    ),
    "request_extension": Action(
        forms.ExtensionForm,
        lambda item, by, d: workflow.request_extension(
            item, by=by, new_deadline=d["new_deadline"], reason=d["reason"]
        ),
        _("The extension was requested."),
        _("Ask for an extension"),
    ),
    "grant_extension": Action(
        forms.GrantExtensionForm,
        lambda item, by, d: workflow.grant_extension(
            item, by=by, deadline=d["deadline"], note=d["note"], working_days=d["working_days"]
        ),
        _("The extension was granted."),
        _("Grant the extension"),
    ),
    "refuse_extension": Action(
        forms.ReasonForm,
        lambda item, by, d: workflow.refuse_extension(item, by=by, reason=d["reason"]),
        _("The extension was refused."),
        _("Refuse the extension"),
    ),
    "escalate": Action(
        forms.RequiredNoteForm,
        lambda item, by, d: workflow.escalate(item, by=by, note=d["note"]),
        _("The item was escalated."),
        _("Escalate"),
    ),
    "reopen": Action(
        ReopenForm,
        lambda item, by, d: workflow.reopen(
            item, by=by, reason=d["reason"], deadline=d["deadline"], working_days=d["working_days"]
        ),
        _("The item was reopened: its rectification goes on."),
        _("Reopen for rectification (重新整改)"),
    ),
    "comment": Action(
        forms.CommentForm,
        lambda item, by, d: workflow.comment(item, by=by, text=d["text"]),
        _("Your comment was added."),
        _("Comment"),
    ),
    "edit": Action(
        forms.EditForm,
        lambda item, by, d: workflow.edit(item, by=by, note=d["note"], **d["values"]),
        _("The item was saved."),
        _("Edit the item"),
    ),
    "edit_plan": Action(
        forms.EditPlanForm,
        lambda item, by, d: workflow.edit(item, by=by, note=d["note"], **d["values"]),
        _("The measures and goal were saved."),
        _("Edit measures and goal"),
    ),
    "reassign": Action(
        forms.ReassignForm,
        lambda item, by, d: workflow.reassign(
            item, by=by, reason=d["reason"], **_responsibility(d)
        ),
        _("The assignment was changed."),
        _("Change the assignment (调整交办)"),
    ),
    "merge": Action(
        forms.MergeForm,
        lambda item, by, d: workflow.merge(item, into=d["into"], by=by, note=d["note"]),
        _("The item was merged and withdrawn."),
        _("Merge into another item"),
    ),
    "withdraw": Action(
        forms.ReasonForm,
        lambda item, by, d: workflow.withdraw(item, by=by, reason=d["reason"]),
        _("The item was withdrawn."),
        _("Withdraw (作废)"),
    ),
}


# Actions that correct the ledger rather than move the item on: drawn apart on the page.
CORRECTIONS = ("edit", "edit_plan", "reassign", "merge", "withdraw")


def _withdrawal(item: Item, events: list) -> object | None:
    """The event that withdrew the item, when it is withdrawn: the page says why."""
    if item.state != Item.State.WITHDRAWN:
        return None
    return next((e for e in reversed(events) if e.kind == "withdraw"), None)


def _ladder_notices(user, item: Item) -> list:
    """The escalation ladder's notices that list the item and that the user may read."""
    from .supervision.ladder import notices_for
    from .supervision.models import LadderStep

    listing = LadderStep.objects.filter(item=item, notice__isnull=False).values("notice_id")
    return list(notices_for(user).filter(pk__in=listing).order_by("-issued_at", "-pk"))


def _form(name: str, item: Item, data=None, files=None, auto_id: str = "") -> forms.ActionForm:
    """The form of one action. Each form's ids are its own: the page holds several forms
    with the same field names, and a label must focus the field of its own form."""
    options: dict = {"auto_id": auto_id or f"id_{name}_%s"}
    if data is None:
        options["initial"] = {"version": item.version}
        if name == "progress":
            options["initial"] |= {"reported_on": timezone.localdate(), "percent": item.percent}
    form_class = ACTIONS[name].form
    if issubclass(form_class, forms.ItemForm):
        return form_class(data, files, item=item, **options)
    return form_class(data, files, **options)


def run_action(
    request: HttpRequest, item: Item, action: str, form: forms.ActionForm
) -> workflow.WorkflowError | None:
    """Take ``action`` on ``item`` as the page the valid ``form`` came from saw it.

    Returns the refusal, or None. The item page and the review queue both act through here.
    """
    try:
        if form.cleaned_data["version"] != item.version:
            # The page was drawn from an older version: refuse before anything else, so the
            # user learns who changed the item, whatever the change was.
            raise workflow.stale_error(item)
        ACTIONS[action].run(item, request.user, form.cleaned_data)
    except workflow.WorkflowError as error:
        return error
    return None


def kept_form(action: str, fresh: Item, data, auto_id: str = "") -> forms.ActionForm:
    """What the user typed, now against the item as it is: after reading the change they
    may send it again, knowingly."""
    data = data.copy()
    data["version"] = str(fresh.version)
    kept = _form(action, fresh, data, auto_id=auto_id)
    kept.is_valid()
    return kept


def done_message(spec: Action, form: forms.ActionForm) -> str:
    """What the page says once the action is taken: with the date, when a deadline was
    given as a number of working days."""
    counted = forms.counted_deadline(form.cleaned_data)
    return f"{spec.done} {counted}" if counted else str(spec.done)


def refusal_status(error: workflow.WorkflowError) -> int:
    return 409 if isinstance(error, workflow.Stale) else 400


def _render_item(
    request: HttpRequest,
    item: Item,
    bound: dict[str, forms.ActionForm] | None = None,
    status: int = 200,
    error: str = "",
) -> HttpResponse:
    bound = bound or {}
    allowed = workflow.allowed_actions(request.user, item)
    pending = (
        item.extensions.filter(status=Extension.Status.PENDING).first()
        if {"grant_extension", "refuse_extension"} & set(allowed)
        else None
    )
    if pending is None:
        allowed = [a for a in allowed if a not in {"grant_extension", "refuse_extension"}]
    item.pending_extension = pending
    actions = [
        (name, ACTIONS[name].title, bound.get(name) or _form(name, item))
        for name in allowed
        if name not in CORRECTIONS
    ]
    corrections = [
        (name, ACTIONS[name].title, bound.get(name) or _form(name, item))
        for name in allowed
        if name in CORRECTIONS
    ]
    events = list(item.events.select_related("actor"))
    for event in events:
        event.lines = history.lines(event)
    progress = list(
        Progress.objects.filter(item=item)
        .select_related("author", "department")
        .prefetch_related(Prefetch("evidence"))
    )
    # Newest first; a progress report and the start it caused share a time, and the report
    # reads as the later of the two.
    rows = [("event", e.at, e, 0) for e in events] + [
        ("progress", p.created_at, p, 1) for p in progress
    ]
    rows.sort(key=lambda row: (row[1], row[3]), reverse=True)
    timeline = [(kind, at, row) for kind, at, row, _order in rows]
    # A form whose action is no longer offered (the item moved on) is not drawn again, so
    # what the user typed into it is shown here rather than lost.
    unsaved = [
        (field.label, field.value())
        for name, form in bound.items()
        if name not in allowed
        for field in form.visible_fields()
        if isinstance(field.value(), str) and field.value().strip()
    ]
    return render(
        request,
        "ledger/item_detail.html",
        {
            "item": item,
            "co_departments": list(item.co_departments.all()),
            "suggestions": list(Suggestion.objects.filter(item=item).order_by("seq")),
            # The phone review's ratings, newest import first.
            "ratings": list(
                Rating.objects.filter(item=item)
                .select_related("batch")
                .order_by("-batch__imported_at", "-batch_id")
            ),
            "timeline": timeline,
            "actions": actions,
            "corrections": corrections,
            "withdrawal": _withdrawal(item, events),
            "ladder_notices": _ladder_notices(request.user, item),
            "pending_extension": pending,
            "error": error,
            "unsaved": unsaved,
        },
        status=status,
    )


@login_required
def item_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_item(request, _get_item_for_user(request, pk))


@login_required
@require_POST
def item_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    item = _get_item_for_user(request, pk)
    spec = ACTIONS.get(action)
    if spec is None:
        return _render_item(request, item, status=404)
    form = _form(action, item, request.POST, request.FILES)
    if not form.is_valid():
        return _render_item(request, item, {action: form}, status=400)
    error = run_action(request, item, action, form)
    if error is not None:
        fresh = _get_item_for_user(request, pk)
        if error.field in form.fields:
            form.add_error(error.field, str(error))
            return _render_item(request, fresh, {action: form}, status=400)
        kept = kept_form(action, fresh, request.POST)
        return _render_item(
            request, fresh, {action: kept}, status=refusal_status(error), error=str(error)
        )
    messages.success(request, done_message(spec, form))
    if not Item.all_objects.visible_to(request.user).filter(pk=item.pk).exists():
        # Declined (退单) or moved to another department: the item is no longer theirs,
        # and their list is where they go on from.
        return redirect("ledger:items")
    return redirect("ledger:item", pk=item.pk)
