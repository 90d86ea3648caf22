"""The supervisors' review pages: the queue of decisions waiting, and bulk assignment.

The queue (待审核事项) holds what only a supervisor can move on, oldest first: close-out
requests (销号申请), extension requests (延期申请) and declined items waiting to be assigned
again (退单待重新交办). Its inline forms are the item page's (``ledger.views.ACTIONS``) and
are judged by the same workflow functions; they post to this module's own URLs only so that
the answer comes back to the queue, with an error shown beside the item it belongs to.

Out of reach is 404 (docs/workflow.md): anyone but a supervisor is told these pages do not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Exists, F, OuterRef, QuerySet, Subquery
from django.db.models.fields.json import KT
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from . import workflow
from .access import supervisor_required
from .forms import ActionForm, counted_deadline
from .forms_review import BulkAssignForm, selected_pks
from .inputs import parse_id
from .models import Category, Event, Extension, Item, Round
from .views import (
    ACTIONS,
    _form,
    _get_item_for_user,
    done_message,
    kept_form,
    refusal_status,
    run_action,
)

# The decisions the queue offers, and the section of the queue each one comes back to.
QUEUE_ACTIONS: dict[str, str] = {
    "approve": "closeouts",
    "return": "closeouts",
    "grant_extension": "extensions",
    "refuse_extension": "extensions",
}
BULK_PAGE_SIZE = 50


# --- The queue -------------------------------------------------------------------------------


def _auto_id(pk: int, action: str) -> str:
    # Many forms with the same field names share the page: ids must differ per item and
    # action, or every label would point at the first item's textarea.
    return f"id_q{pk}_{action}_%s"


def _latest(kind: str) -> QuerySet[Event]:
    """The item's latest event of ``kind``, as a queryset to take one column from."""
    return Event.objects.filter(item=OuterRef("pk"), kind=kind).order_by("-at", "-pk")


@dataclass
class Alert:
    """A refusal shown at the top of the page, naming the item: it may have left the list."""

    pk: int
    number: str
    title: str
    text: str

    @classmethod
    def about(cls, item: Item, error: workflow.WorkflowError) -> Alert:
        return cls(item.pk, item.number, item.title, str(error))


def _queue_forms(
    item: Item, names: tuple[str, ...], bound: dict[tuple[int, str], ActionForm]
) -> list[tuple[str, str, ActionForm]]:
    return [
        (
            name,
            ACTIONS[name].title,
            bound.get((item.pk, name)) or _form(name, item, auto_id=_auto_id(item.pk, name)),
        )
        for name in names
    ]


def _render_queue(
    request: HttpRequest,
    bound: dict[tuple[int, str], ActionForm] | None = None,
    status: int = 200,
    alert: Alert | None = None,
) -> HttpResponse:
    """The queue in three queries whatever its length: each section is one SELECT whose
    extra columns (when requested, who declined and why) are correlated subqueries."""
    bound = bound or {}
    requested = _latest(Event.Kind.REQUEST)
    closeouts = list(
        Item.objects.filter(state=Item.State.REQUESTED)
        .select_related("round", "lead_department")
        .annotate(requested_at=Subquery(requested.values("at")[:1]))
        .order_by(F("requested_at").asc(nulls_last=True), "pk")
    )
    for item in closeouts:
        item.queue_forms = _queue_forms(item, ("approve", "return"), bound)

    # A pending request on an item that is no longer open (closed, or declined back to
    # draft) cannot be granted or refused by the workflow, so it is not offered here.
    extensions = list(
        Extension.objects.filter(status=Extension.Status.PENDING, item__state__in=Item.OPEN_STATES)
        .select_related("item", "item__round", "item__lead_department", "requested_by")
        .order_by("requested_at", "pk")
    )
    for extension in extensions:
        extension.item.pending_extension = extension
        old, new = extension.old_deadline, extension.new_deadline
        extension.extra_days = (new - old).days if old else None
        extension.queue_forms = _queue_forms(
            extension.item, ("grant_extension", "refuse_extension"), bound
        )

    # Only a decline sends an item back to draft, so a draft with a decline is one waiting
    # to be assigned again; its latest decline is the one that sent it back.
    declines = _latest(Event.Kind.DECLINE)
    declined = list(
        Item.objects.filter(state=Item.State.DRAFT)
        .annotate(
            declined_at=Subquery(declines.values("at")[:1]),
            declined_by=Subquery(declines.values(name=KT("data__department"))[:1]),
            decline_reason=Subquery(declines.values("note")[:1]),
        )
        .filter(declined_at__isnull=False)
        .select_related("round", "leader")
        .order_by("declined_at", "pk")
    )
    return render(
        request,
        "ledger/review.html",
        {
            "closeouts": closeouts,
            "extensions": extensions,
            "declined": declined,
            "alert": alert,
        },
        status=status,
    )


@login_required
@supervisor_required
def review(request: HttpRequest) -> HttpResponse:
    return _render_queue(request)


@login_required
@supervisor_required
@require_POST
def review_action(request: HttpRequest, pk: str, action: str) -> HttpResponse:
    """Approve or return a close-out request, grant or refuse an extension, from the queue.

    The same form and workflow call as ``ledger.views.item_action``; only the way back
    differs: to the queue, with a refusal beside the item and the typed text kept.
    """
    if action not in QUEUE_ACTIONS:
        raise Http404
    item = _get_item_for_user(request, int(pk))
    key = (item.pk, action)  # re_path passes text; bound forms are keyed by the int pk
    spec = ACTIONS[action]
    form = _form(action, item, request.POST, auto_id=_auto_id(item.pk, action))
    if not form.is_valid():
        return _render_queue(request, {key: form}, status=400)
    error = run_action(request, item, action, form)
    if error is not None:
        if error.field in form.fields:
            form.add_error(error.field, str(error))
            return _render_queue(request, {key: form}, status=400)
        fresh = _get_item_for_user(request, item.pk)
        kept = kept_form(action, fresh, request.POST, auto_id=_auto_id(item.pk, action))
        kept.add_error(None, str(error))
        return _render_queue(
            request, {key: kept}, status=refusal_status(error), alert=Alert.about(fresh, error)
        )
    messages.success(
        request,
        _("%(number)s: %(done)s") % {"number": item.number, "done": done_message(spec, form)},
    )
    return redirect(f"{reverse('ledger:review')}#{QUEUE_ACTIONS[action]}")


# --- Bulk assignment -------------------------------------------------------------------------


def _int_param(request: HttpRequest, name: str) -> int | None:
    return parse_id(request.GET.get(name, ""))


def _filters(request: HttpRequest) -> dict[str, int]:
    """The list's filters, as ints; anything else in the query string is dropped."""
    return {
        name: value
        for name in ("round", "category")
        if (value := _int_param(request, name)) is not None
    }


@dataclass
class DraftPage:
    rows: list[Item]
    has_next: bool
    has_previous: bool


def _draft_page(request: HttpRequest) -> tuple[DraftPage, dict[str, int]]:
    """One page of drafts in pk order, found by keyset (``after``/``before`` a pk).

    No COUNT and no OFFSET: the page after item N costs the same wherever N is.
    """
    filters = _filters(request)
    drafts = (
        Item.objects.filter(state=Item.State.DRAFT)
        .select_related("round", "category", "leader", "lead_department")
        .prefetch_related("co_departments")
        .annotate(was_declined=Exists(_latest(Event.Kind.DECLINE)))
    )
    if "round" in filters:
        drafts = drafts.filter(round_id=filters["round"])
    if "category" in filters:
        drafts = drafts.filter(category_id=filters["category"])
    after, before = _int_param(request, "after"), _int_param(request, "before")
    if before is not None:
        rows = list(drafts.filter(pk__lt=before).order_by("-pk")[: BULK_PAGE_SIZE + 1])
        more = len(rows) > BULK_PAGE_SIZE
        rows = rows[:BULK_PAGE_SIZE][::-1]
        return DraftPage(rows, has_next=True, has_previous=more), filters
    if after is not None:
        drafts = drafts.filter(pk__gt=after)
    rows = list(drafts.order_by("pk")[: BULK_PAGE_SIZE + 1])
    more = len(rows) > BULK_PAGE_SIZE
    return DraftPage(rows[:BULK_PAGE_SIZE], has_next=more, has_previous=after is not None), filters


def _query(filters: dict[str, int], **position: int) -> str:
    params = filters | position
    return f"?{urlencode(params)}" if params else ""


@dataclass
class NotAssigned:
    """A ticked item left as a draft, and why: what its assignment would have lacked."""

    pk: int
    number: str
    title: str
    reasons: list[str]

    @classmethod
    def of(cls, item: Item, reasons: list[str]) -> NotAssigned:
        return cls(item.pk, item.number, item.title, reasons)


def _lacks(
    item: Item,
    *,
    leader=None,
    lead=None,
    deadline=None,
    long_term: bool | None = None,
    co: list | None = None,
    today,
) -> list[str]:
    """What ``item`` would be assigned without, taking each value from the form when given
    and from the item's own proposal otherwise, as ``workflow.assign`` does."""
    reasons = []
    if leader is None and item.leader_id is None:
        reasons.append(_("no responsible leader"))
    lead_id = lead.pk if lead is not None else item.lead_department_id
    if lead_id is None:
        reasons.append(_("no lead department"))
    if not (item.long_term if long_term is None else long_term):
        due = deadline or item.deadline
        if due is None:
            reasons.append(_("no deadline"))
        elif due < today:
            reasons.append(_("its deadline %(date)s has passed") % {"date": due.isoformat()})
    shared = [d.pk for d in (co if co is not None else item.co_departments.all())]
    if lead_id is not None and lead_id in shared:
        reasons.append(_("its lead department is also among its co-responsible departments"))
    return reasons


def _as_shown(item: Item, version: int) -> bool:
    """The item is still the draft the page showed; any other is left to the workflow's
    compare-and-swap, which says who changed it."""
    return item.state == Item.State.DRAFT and item.version == version


def _picked(picks: list[tuple[int, int]]) -> dict[int, Item]:
    return (
        Item.objects.select_related("leader", "lead_department")
        .prefetch_related("co_departments")
        .in_bulk([pk for pk, _version in picks])
    )


def _common_proposal(rows: list[Item]) -> dict:
    """What every draft on the page proposes alike, field by field: the form starts from
    it, since an empty field would take each item's own anyway."""
    if not rows:
        return {}

    def shared(values: list):
        return values[0] if all(v == values[0] for v in values) else None

    initial = {
        "leader": shared([r.leader_id for r in rows]),
        "lead_department": shared([r.lead_department_id for r in rows]),
        "co_departments": list(
            shared([tuple(d.pk for d in r.co_departments.all()) for r in rows]) or ()
        ),
        "responsible_person": shared([r.responsible_person for r in rows]),
    }
    if all(r.long_term for r in rows):
        initial["long_term"] = True
    else:
        deadline = shared([r.deadline for r in rows])
        if deadline is not None and deadline >= timezone.localdate():
            initial["deadline"] = deadline
    return {name: value for name, value in initial.items() if value}


def _render_bulk(
    request: HttpRequest,
    form: BulkAssignForm | None = None,
    status: int = 200,
    refused: Alert | None = None,
    not_assigned: list[NotAssigned] | None = None,
    all_or_nothing: bool = True,
) -> HttpResponse:
    page, filters = _draft_page(request)
    if form is None:
        form = BulkAssignForm(initial=_common_proposal(page.rows))
    reasons = {row.pk: row.reasons for row in not_assigned or []}
    for item in page.rows:
        item.co_names = "、".join(d.name for d in item.co_departments.all())
        item.not_assigned = reasons.get(item.pk)
    position = {
        name: value
        for name in ("after", "before")
        if (value := _int_param(request, name)) is not None
    }
    rounds = list(Round.objects.values_list("pk", "name"))
    categories = Category.objects.order_by("round_id", "order", "name")
    if "round" in filters:
        categories = categories.filter(round_id=filters["round"])
    return render(
        request,
        "ledger/bulk_assign.html",
        {
            "form": form,
            "page": page,
            "selected": selected_pks(form.data) if form.is_bound else set(),
            "refused": refused,
            "refused_on_page": refused is not None and any(r.pk == refused.pk for r in page.rows),
            "not_assigned": not_assigned or [],
            "all_or_nothing": all_or_nothing,
            "rounds": rounds,
            "categories": list(categories.values_list("pk", "name", "round__name")),
            "round_id": filters.get("round"),
            "category_id": filters.get("category"),
            "submit_query": _query(filters, **position),
            "filter_query": _query(filters),
            "next_query": _query(filters, after=page.rows[-1].pk) if page.rows else "",
            "previous_query": _query(filters, before=page.rows[0].pk) if page.rows else "",
        },
        status=status,
    )


@login_required
@supervisor_required
def bulk_assign(request: HttpRequest) -> HttpResponse:
    return _render_bulk(request)


class _Refused(Exception):
    """One item refused: undo the whole batch, and say which item and why."""

    def __init__(self, item: Item, error: workflow.WorkflowError) -> None:
        super().__init__(str(error))
        self.item = item
        self.error = error


@login_required
@supervisor_required
@require_POST
def bulk_assign_submit(request: HttpRequest) -> HttpResponse:
    """交办 every ticked item with one responsibility, all or nothing; a field left empty
    takes each item's own proposal. Or (按拟定交办) each with its own proposal alone."""
    if request.POST.get("as_proposed"):
        return _assign_as_proposed(request)
    form = BulkAssignForm(request.POST)
    if not form.is_valid():
        return _render_bulk(request, form, status=400)
    d = form.cleaned_data
    picks: list[tuple[int, int]] = d["selection"]
    items = _picked(picks)
    # Empty means "keep each item's own": a declined item keeps the co-responsible
    # departments proposed before, rather than losing them to a blank field.
    co = list(d["co_departments"]) or None
    person = d["responsible_person"] or None
    long_term = form.long_term()
    at = timezone.now()  # one moment for the whole batch, as it is one decision
    today = timezone.localdate(at)
    lacking = []
    for pk, version in picks:
        item = items.get(pk)
        if item is not None and _as_shown(item, version):
            reasons = _lacks(
                item,
                leader=d["leader"],
                lead=d["lead_department"],
                deadline=d["deadline"],
                long_term=long_term,
                co=co,
                today=today,
            )
            if reasons:
                lacking.append(NotAssigned.of(item, reasons))
    if lacking:
        return _render_bulk(request, form, status=400, not_assigned=lacking)
    try:
        with transaction.atomic():
            for pk, version in picks:
                item = items.get(pk)
                if item is None:
                    gone = Item(pk=pk, number=f"#{pk}", title="")
                    raise _Refused(gone, workflow.Invalid(_("This item no longer exists.")))
                # Act on the item as the page showed it: a draft at that version. An item
                # changed since then (assigned by someone else, say) fails the workflow's
                # compare-and-swap, and the supervisor is told who changed it and when,
                # rather than only that it is not a draft any more.
                item.state, item.version = Item.State.DRAFT, version
                try:
                    workflow.assign(
                        item,
                        by=request.user,
                        leader=d["leader"],
                        lead_department=d["lead_department"],
                        co_departments=co,
                        deadline=d["deadline"],
                        long_term=long_term,
                        responsible_person=person,
                        at=at,
                        working_days=d["working_days"],
                    )
                except workflow.WorkflowError as error:
                    raise _Refused(item, error) from error
    except _Refused as refused:
        error = refused.error
        if error.field in form.fields:
            # The same for every item (a deadline, a department): say it by the field.
            form.add_error(error.field, str(error))
            return _render_bulk(request, form, status=400)
        return _render_bulk(
            request, form, status=refusal_status(error), refused=Alert.about(refused.item, error)
        )
    n = len(picks)
    done = ngettext("%(n)d item was assigned.", "%(n)d items were assigned.", n) % {"n": n}
    counted = counted_deadline(d)
    messages.success(request, f"{done} {counted}" if counted else done)
    # Back to the first page of the same filters: the assigned items have left the list,
    # so it now starts with the next ones to hand out.
    return redirect(f"{reverse('ledger:bulk-assign')}{_query(_filters(request))}")


def _assign_as_proposed(request: HttpRequest) -> HttpResponse:
    """按拟定交办: each ticked draft whose proposal names a leader, a lead department and a
    deadline still ahead (or long-term) is assigned with it, each on its own; the others
    stay drafts, listed with what they lack. The form's fields play no part."""
    form = BulkAssignForm(request.POST)
    form.is_valid()
    for name in [name for name in form.errors if name != "selection"]:
        del form.errors[name]  # only the ticks are read: the fields' errors are not this one's
    if form.errors:
        return _render_bulk(request, form, status=400)
    picks: list[tuple[int, int]] = form.cleaned_data["selection"]
    items = _picked(picks)
    at = timezone.now()
    today = timezone.localdate(at)
    assigned, not_assigned = 0, []
    for pk, version in picks:
        item = items.get(pk)
        if item is None:
            gone = Item(pk=pk, number=f"#{pk}", title="")
            not_assigned.append(NotAssigned.of(gone, [_("This item no longer exists.")]))
            continue
        if _as_shown(item, version):
            reasons = _lacks(item, today=today)
            if reasons:
                not_assigned.append(NotAssigned.of(item, reasons))
                continue
        # As the page showed it: one changed since fails the compare-and-swap, by name.
        item.state, item.version = Item.State.DRAFT, version
        try:
            workflow.assign(item, by=request.user, at=at)
        except workflow.WorkflowError as error:
            not_assigned.append(NotAssigned.of(item, [str(error)]))
            continue
        assigned += 1
    if assigned:
        messages.success(
            request,
            ngettext(
                "%(n)d item was assigned as proposed.",
                "%(n)d items were assigned as proposed.",
                assigned,
            )
            % {"n": assigned},
        )
    if not_assigned:
        return _render_bulk(
            request,
            form,
            status=200 if assigned else 400,
            not_assigned=not_assigned,
            all_or_nothing=False,
        )
    return redirect(f"{reverse('ledger:bulk-assign')}{_query(_filters(request))}")
