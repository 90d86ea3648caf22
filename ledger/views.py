from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from . import forms, workflow
from .models import Event, Extension, Item, Progress, Round, Suggestion


def _get_item_for_user(request: HttpRequest, pk: int) -> Item:
    """Fetch an item the user may see, with what its page needs; 404 for anything else.

    Every item view goes through here, so an item outside the user's reach is not found,
    whatever the URL: an official of one department cannot learn that another's item exists.
    """
    queryset = Item.objects.visible_to(request.user).select_related(
        "round", "category", "leader", "lead_department", "closed_by", "updated_by"
    )
    return get_object_or_404(queryset, pk=pk)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    items = Item.objects.visible_to(request.user)
    by_state = dict(
        items.order_by().values_list("state").annotate(n=Count("pk")).values_list("state", "n")
    )
    states = [(value, label, by_state.get(value, 0)) for value, label in Item.State.choices]
    return render(
        request,
        "ledger/home.html",
        {
            "states": states,
            "total": sum(by_state.values()),
            "overdue": items.overdue().count(),
        },
    )


@login_required
def item_list(request: HttpRequest) -> HttpResponse:
    items = Item.objects.visible_to(request.user).select_related(
        "round", "category", "leader", "lead_department"
    )
    rounds = Round.objects.all()
    round_id = request.GET.get("round", "")
    state = request.GET.get("state", "")
    if round_id.isdigit():
        items = items.filter(round_id=int(round_id))
    if state in Item.State.values:
        items = items.filter(state=state)
    page = Paginator(items.order_by("round_id", "number"), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "ledger/item_list.html",
        {
            "page": page,
            "rounds": rounds,
            "states": Item.State.choices,
            "round_id": round_id,
            "state": state,
        },
    )


@dataclass(frozen=True)
class Action:
    form: type[forms.ActionForm]
    run: Callable[..., object]
    done: str
    title: str


ACTIONS: dict[str, Action] = {
    "assign": Action(
        forms.AssignForm,
        lambda item, by, d: workflow.assign(
            item,
            by=by,
            leader=d["leader"],
            lead_department=d["lead_department"],
            co_departments=d["co_departments"],
            deadline=d["deadline"],
            responsible_person=d["responsible_person"],
            note=d["note"],
        ),
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
        lambda item, by, d: workflow.post_progress(
            item, by=by, text=d["text"], percent=d["percent"], reported_on=d["reported_on"]
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
        forms.NoteForm,
        lambda item, by, d: workflow.grant_extension(item, by=by, note=d["note"]),
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
    "comment": Action(
        forms.CommentForm,
        lambda item, by, d: workflow.comment(item, by=by, text=d["text"]),
        _("Your comment was added."),
        _("Comment"),
    ),
}


def _blank_form(name: str, item: Item) -> forms.ActionForm:
    initial = {"version": item.version}
    if name == "progress":
        initial |= {"reported_on": timezone.localdate(), "percent": item.percent}
    if name == "assign":
        return forms.AssignForm(item=item, initial=initial)
    return ACTIONS[name].form(initial=initial)


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
    actions = [
        (name, ACTIONS[name].title, bound.get(name) or _blank_form(name, item)) for name in allowed
    ]
    events = list(item.events.select_related("actor"))
    progress = list(
        Progress.objects.filter(item=item)
        .select_related("author", "department")
        .prefetch_related(Prefetch("evidence"))
    )
    timeline = sorted(
        [("event", e.at, e) for e in events] + [("progress", p.created_at, p) for p in progress],
        key=lambda row: row[1],
        reverse=True,
    )
    return render(
        request,
        "ledger/item_detail.html",
        {
            "item": item,
            "co_departments": list(item.co_departments.all()),
            "suggestions": list(Suggestion.objects.filter(item=item).order_by("seq")),
            "timeline": timeline,
            "actions": actions,
            "pending_extension": pending,
            "event_kinds": Event.Kind,
            "error": error,
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
    form = (
        forms.AssignForm(request.POST, item=item) if action == "assign" else spec.form(request.POST)
    )
    if not form.is_valid():
        return _render_item(request, item, {action: form}, status=400)
    # Act on the item as the user saw it: the version their page was drawn from.
    item.version = form.cleaned_data["version"]
    try:
        spec.run(item, request.user, form.cleaned_data)
    except workflow.WorkflowError as error:
        fresh = _get_item_for_user(request, pk)
        if error.field in form.fields:
            form.add_error(error.field, str(error))
            return _render_item(request, fresh, {action: form}, status=400)
        # Keep what the user typed, now against the item as it is: after reading the
        # change at the top of the page they may send it again, knowingly.
        data = request.POST.copy()
        data["version"] = str(fresh.version)
        kept = forms.AssignForm(data, item=fresh) if action == "assign" else spec.form(data)
        kept.is_valid()
        status = 409 if isinstance(error, workflow.Stale) else 400
        return _render_item(request, fresh, {action: kept}, status=status, error=str(error))
    messages.success(request, spec.done)
    return redirect("ledger:item", pk=item.pk)
