"""The close-out (销号) workflow (docs/workflow.md), one function per action.

Each function:

1. checks that the actor may take this action on this item (``RULES``),
2. checks that the item is in a state the action starts from,
3. changes the row only if it is still the version the actor saw: a compare-and-swap
   ``UPDATE … WHERE id = %s AND state = %s AND version = %s``, so that of two people who
   act on the same item at once exactly one wins and the other is told who was first,
4. writes exactly one ``Event``, in the same transaction as the change; assign, return,
   approve, escalate and reopen then hand it to ``notifications.notify`` in that
   transaction too.

A refused action raises a ``WorkflowError`` whose message says why, in the active language,
and has written nothing.

We do not use django-fsm-2 here: its ConcurrentTransitionMixin guards only the state field
and works by overriding ``Model._do_update`` (a save() override, which our style forbids for
workflow), while the browser needs a version check that also catches edits which leave the
state alone. The rule table below keeps the "who may do what from where" in one place.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
from collections.abc import Callable, Iterable

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from . import audit, notifications
from .models import Category, Department, Event, Extension, Item, Leader, Progress, Suggestion, User

State = Item.State
Kind = Event.Kind

SUPERVISOR = "supervisor"
LEAD = "lead"  # an official of the item's lead department
RESPONSIBLE = "responsible"  # an official of the lead or a co-responsible department
READER = "reader"  # anyone who may see the item


@dataclasses.dataclass(frozen=True)
class Rule:
    label: str
    sources: frozenset[str]
    who: str


OPEN = frozenset(Item.OPEN_STATES)
LIVE = frozenset(Item.LIVE_STATES)
# Nothing is done to a withdrawn item but reading it.
ALL = LIVE

RULES: dict[str, Rule] = {
    "assign": Rule(_("assign"), frozenset({State.DRAFT}), SUPERVISOR),
    "decline": Rule(_("decline"), frozenset({State.ASSIGNED}), LEAD),
    "start": Rule(_("start work on"), frozenset({State.ASSIGNED}), LEAD),
    "progress": Rule(
        _("post progress on"), frozenset({State.ASSIGNED, State.IN_PROGRESS}), RESPONSIBLE
    ),
    "request": Rule(_("request close-out of"), frozenset({State.IN_PROGRESS}), LEAD),
    "approve": Rule(_("approve close-out of"), frozenset({State.REQUESTED}), SUPERVISOR),
    "return": Rule(_("return"), frozenset({State.REQUESTED}), SUPERVISOR),
    "request_extension": Rule(
        _("ask for an extension of"), frozenset({State.ASSIGNED, State.IN_PROGRESS}), LEAD
    ),
    "grant_extension": Rule(_("grant an extension of"), OPEN, SUPERVISOR),
    "refuse_extension": Rule(_("refuse an extension of"), OPEN, SUPERVISOR),
    "escalate": Rule(_("escalate"), OPEN, SUPERVISOR),
    "reopen": Rule(_("reopen"), frozenset({State.CLOSED}), SUPERVISOR),
    "comment": Rule(_("comment on"), ALL, READER),
    "edit": Rule(_("edit"), LIVE, SUPERVISOR),
    "edit_plan": Rule(_("edit the measures and goal of"), OPEN, LEAD),
    "reassign": Rule(_("change the assignment of"), OPEN, SUPERVISOR),
    "merge": Rule(_("merge"), frozenset({State.DRAFT, *OPEN}), SUPERVISOR),
    "withdraw": Rule(_("withdraw"), frozenset({State.DRAFT, *OPEN}), SUPERVISOR),
}

WHO_TEXT = {
    SUPERVISOR: _("only a supervisor of the evaluation office may do that"),
    LEAD: _("only an official of the lead department may do that"),
    RESPONSIBLE: _("only an official of a responsible department may do that"),
    READER: _("you cannot see this item"),
}


class WorkflowError(Exception):
    """An action that was refused. ``str()`` gives the reason in the active language."""

    template = _("This action was refused.")

    def __init__(self, template=None, field: str | None = None, **params):
        self.template = template if template is not None else self.template
        self.field = field  # the form field the reason belongs to, if any
        self.params = params
        super().__init__(str(self))

    def __str__(self) -> str:
        return str(self.template) % {k: str(v) for k, v in self.params.items()}


class NotAllowed(WorkflowError):
    template = _("You may not %(action)s this item: %(why)s.")


class WrongState(WorkflowError):
    template = _("You cannot %(action)s an item that is “%(state)s”.")


class Stale(WorkflowError):
    template = _(
        "%(who)s changed this item at %(when)s (it is now “%(state)s”); nothing of yours "
        "was saved. Reload the page to see the change, then try again."
    )


class Invalid(WorkflowError):
    pass


def role_of(user: User, item: Item) -> set[str]:
    """What the user is to this item: supervisor, lead, responsible, reader (any number)."""
    roles: set[str] = set()
    if not user.is_authenticated or not user.is_active:
        return roles
    if user.is_supervisor:
        roles |= {SUPERVISOR, READER}
    if item.state == State.DRAFT:
        return roles  # not yet handed over: see ItemQuerySet.visible_to
    if user.is_official:
        if item.lead_department_id == user.department_id:
            roles |= {LEAD, RESPONSIBLE, READER}
        elif item.co_departments.filter(pk=user.department_id).exists():
            roles |= {RESPONSIBLE, READER}
    if user.is_leader and item.leader_id == user.leader_id:
        roles.add(READER)
    return roles


def allowed_actions(user: User, item: Item) -> list[str]:
    """The actions this user may take on this item now: the buttons a page shows."""
    roles = role_of(user, item)
    return [
        name for name, rule in RULES.items() if rule.who in roles and item.state in rule.sources
    ]


def check(action: str, user: User, item: Item) -> Rule:
    """Raise unless ``user`` may take ``action`` on ``item`` in the state they saw."""
    rule = RULES[action]
    if rule.who not in role_of(user, item):
        raise NotAllowed(action=rule.label, why=WHO_TEXT[rule.who])
    if item.state not in rule.sources:
        raise WrongState(action=rule.label, state=State(item.state).label)
    return rule


def _now(at: datetime.datetime | None) -> datetime.datetime:
    return at or timezone.now()


def stale_error(item: Item) -> Stale:
    """The refusal for a change made from an outdated page: who changed the item, when."""
    current = (
        Item.all_objects.filter(pk=item.pk)
        .select_related("updated_by")
        .only(
            "state",
            "updated_at",
            "updated_by__username",
            "updated_by__first_name",
            "updated_by__last_name",
        )
        .first()
    )
    if current is None:
        return Stale(_("This item no longer exists."))
    who = current.updated_by.display_name() if current.updated_by else _("Someone")
    when = formats.date_format(timezone.localtime(current.updated_at), "Y-m-d H:i")
    return Stale(who=who, when=when, state=State(current.state).label)


def _swap(item: Item, actor: User, to_state: str, at: datetime.datetime, **changes) -> None:
    """Compare-and-swap the item from the state and version the actor saw.

    Runs inside the caller's transaction. Zero rows changed means someone else changed the
    item first: nothing is written and the actor is told who.
    """
    changed = Item.objects.filter(pk=item.pk, state=item.state, version=item.version).update(
        state=to_state, version=F("version") + 1, updated_at=at, updated_by=actor, **changes
    )
    if changed != 1:
        raise stale_error(item)
    for name, value in changes.items():
        setattr(item, name, value)
    item.state = to_state
    item.version += 1
    item.updated_at = at
    item.updated_by = actor


def _transition(func: Callable) -> Callable:
    """Put the in-memory item back as it was when an action is refused or fails.

    ``_swap`` updates the caller's object as soon as the row changes; if something later in
    the same transaction fails, the database rolls back and so must the object, or the next
    action taken with it would be judged against a version that never existed.
    """

    @functools.wraps(func)
    def wrapper(item: Item, *args, **kwargs):
        saved = item.__dict__.copy()
        cache = dict(item._state.fields_cache)
        try:
            return func(item, *args, **kwargs)
        except BaseException:
            item.__dict__.clear()
            item.__dict__.update(saved)
            item._state.fields_cache = cache
            raise

    return wrapper


def _event(item: Item, actor: User, kind: str, from_state: str, at, note: str = "", **data):
    return Event.objects.create(
        item=item,
        actor=actor,
        kind=kind,
        from_state=from_state,
        to_state=item.state,
        note=note,
        data=data,
        at=at,
    )


def record_creation(
    items: Iterable[Item], *, by: User | None, how: str, at=None, **data
) -> list[Event]:
    """创建: each new item's first event, saying who made it and how (``how``: "ledger"
    with the file's name and row, "consolidation" with the suggestions' numbers, "manual").

    ``data`` is shared by every item; an item's own details (its row in a file, the
    suggestions it was made from) are read from its ``_creation`` attribute when set."""
    at = _now(at)
    events = Event.objects.bulk_create(
        [
            Event(
                item=item,
                actor=by,
                kind=Kind.CREATE,
                from_state=item.state,
                to_state=item.state,
                data={"how": how, **data, **getattr(item, "_creation", {})},
                at=at,
            )
            for item in items
        ],
        batch_size=1000,
    )
    audit.copy_events(events)  # bulk_create sends no post_save
    return events


def _counted(deadline: datetime.date | None, working_days: int | None, at) -> dict:
    """An event's record of a deadline set as a number of working days: the number, and
    the day it was counted from."""
    if deadline is None or not working_days:
        return {}
    return {"working_days": working_days, "counted_from": timezone.localdate(at).isoformat()}


def _required(text: str, field: str, message) -> str:
    text = (text or "").strip()
    if not text:
        raise Invalid(message, field=field)
    return text


@_transition
def assign(
    item: Item,
    *,
    by: User,
    leader: Leader | None = None,
    lead_department: Department | None = None,
    co_departments: Iterable[Department] | None = None,
    deadline: datetime.date | None = None,
    long_term: bool | None = None,
    responsible_person: str | None = None,
    note: str = "",
    at: datetime.datetime | None = None,
    working_days: int | None = None,
) -> Event:
    """交办: a supervisor sets the responsibility of a draft item and hands it over.

    The item gets a deadline, or is long-term (长期坚持) and has none. ``working_days`` is
    what the deadline was counted from, when it was given so: the event keeps it."""
    check("assign", by, item)
    at = _now(at)
    leader = leader or item.leader
    lead_department = lead_department or item.lead_department
    long_term = item.long_term if long_term is None else long_term
    deadline = None if long_term else deadline or item.deadline
    if leader is None:
        raise Invalid(_("Choose the responsible leader."), field="leader")
    if lead_department is None:
        raise Invalid(_("Choose the lead department."), field="lead_department")
    if deadline is None and not long_term:
        raise Invalid(_("Set the deadline."), field="deadline")
    if deadline is not None and deadline < timezone.localdate(at):
        raise Invalid(_("The deadline cannot be in the past."), field="deadline")
    co = None if co_departments is None else list(co_departments)
    if co is not None and any(d.pk == lead_department.pk for d in co):
        raise Invalid(
            _("The lead department cannot also be a co-responsible department."),
            field="co_departments",
        )
    changes = {
        "leader": leader,
        "lead_department": lead_department,
        "deadline": deadline,
        "long_term": long_term,
    }
    if responsible_person is not None:
        changes["responsible_person"] = responsible_person.strip()
    with transaction.atomic():
        from_state = item.state
        _swap(item, by, State.ASSIGNED, at, **changes)
        if co is not None:
            item.co_departments.set(co)
        event = _event(
            item,
            by,
            Kind.ASSIGN,
            from_state,
            at,
            note,
            leader=str(leader),
            lead_department=lead_department.name,
            co_departments=[d.name for d in item.co_departments.all()],
            deadline=deadline.isoformat() if deadline else "long_term",
            **_counted(deadline, working_days, at),
        )
        notifications.notify(event)  # after co_departments.set: they are told too
        return event


@_transition
def decline(item: Item, *, by: User, reason: str, at=None) -> Event:
    """退单: the lead department says the item is not theirs; it returns to draft."""
    check("decline", by, item)
    reason = _required(reason, "reason", _("Say why the item is not your department's."))
    at = _now(at)
    department = item.lead_department
    with transaction.atomic():
        from_state = item.state
        # The lead department and its responsible person go with the decline; the leader,
        # co-responsible departments and deadline stay as a proposal for the reassignment.
        _swap(item, by, State.DRAFT, at, lead_department=None, responsible_person="")
        _withdraw_extensions(item, by, at)
        return _event(item, by, Kind.DECLINE, from_state, at, reason, department=department.name)


@_transition
def start(item: Item, *, by: User, note: str = "", at=None) -> Event:
    """The lead department accepts the item and starts work (整改中)."""
    check("start", by, item)
    at = _now(at)
    with transaction.atomic():
        from_state = item.state
        _swap(item, by, State.IN_PROGRESS, at)
        return _event(item, by, Kind.START, from_state, at, note)


@_transition
def post_progress(
    item: Item,
    *,
    by: User,
    text: str,
    percent: int,
    reported_on: datetime.date | None = None,
    at=None,
) -> Progress:
    """整改进展: a responsible department reports progress.

    The lead department's report sets the item's percent done; its first report on an
    assigned item starts it (one START event). A co-responsible department's report is
    recorded with its own percent and leaves the item's alone.
    """
    check("progress", by, item)
    text = _required(text, "text", _("Describe the progress."))
    if not 0 <= percent <= 100:
        raise Invalid(_("Percent done must be between 0 and 100."), field="percent")
    at = _now(at)
    reported_on = reported_on or timezone.localdate(at)
    if reported_on > timezone.localdate(at):
        raise Invalid(_("The date of progress cannot be in the future."), field="reported_on")
    is_lead = item.lead_department_id == by.department_id
    with transaction.atomic():
        from_state = item.state
        to_state = State.IN_PROGRESS if is_lead else item.state
        _swap(item, by, to_state, at, **({"percent": percent} if is_lead else {}))
        progress = Progress.objects.create(
            item=item,
            author=by,
            department_id=by.department_id,
            reported_on=reported_on,
            text=text,
            percent=percent,
            created_at=at,
        )
        if from_state != to_state:
            # No note: the progress report beside it in the timeline says how it started.
            _event(item, by, Kind.START, from_state, at, progress=progress.pk)
        return progress


@_transition
def request_closeout(item: Item, *, by: User, outcome: str, outcome_kind: str, at=None) -> Event:
    """申请销号: the lead department asks for close-out, with the outcome (整改成效)."""
    check("request", by, item)
    outcome = _required(outcome, "outcome", _("Describe the outcome of the rectification."))
    if outcome_kind not in Item.OutcomeKind.values:
        raise Invalid(
            _("Say whether the item is done or partly done and kept up long-term."),
            field="outcome_kind",
        )
    at = _now(at)
    with transaction.atomic():
        from_state = item.state
        _swap(item, by, State.REQUESTED, at, outcome=outcome, outcome_kind=outcome_kind)
        return _event(item, by, Kind.REQUEST, from_state, at, outcome, outcome_kind=outcome_kind)


@_transition
def approve(item: Item, *, by: User, note: str = "", at=None) -> Event:
    """销号: a supervisor approves the close-out. Done items count as 100% done."""
    check("approve", by, item)
    at = _now(at)
    changes = {"closed_on": timezone.localdate(at), "closed_by": by}
    if item.outcome_kind == Item.OutcomeKind.DONE:
        changes["percent"] = 100
    with transaction.atomic():
        from_state = item.state
        _swap(item, by, State.CLOSED, at, **changes)
        _withdraw_extensions(item, by, at)
        event = _event(item, by, Kind.APPROVE, from_state, at, note, outcome_kind=item.outcome_kind)
        notifications.notify(event)
        return event


@_transition
def return_request(item: Item, *, by: User, reason: str, at=None) -> Event:
    """退回: a supervisor sends a close-out request back; the item goes on.

    The claimed outcome leaves the item (it stays in the request's event): an outcome on an
    item is one awaiting or having had approval, never one a supervisor sent back."""
    check("return", by, item)
    reason = _required(reason, "reason", _("Say why the request is returned."))
    at = _now(at)
    with transaction.atomic():
        from_state = item.state
        _swap(item, by, State.IN_PROGRESS, at, outcome="", outcome_kind="")
        event = _event(item, by, Kind.RETURN, from_state, at, reason)
        notifications.notify(event)
        return event


@_transition
def reopen(
    item: Item,
    *,
    by: User,
    reason: str,
    deadline: datetime.date | None = None,
    at=None,
    working_days: int | None = None,
) -> Event:
    """重新整改: a supervisor takes a closed item back to in progress, with the reason (a
    phone review rated it 不满意, a check found the problem back).

    The close-out leaves the item (its date, who approved it, the outcome's kind); the
    outcome text stays as the record of what was claimed. A deadline already past needs
    a new one (``working_days`` from today, when given so), or the reopened item would be
    overdue, and pressed by the ladder, at once."""
    check("reopen", by, item)
    reason = _required(reason, "reason", _("Say why the item is reopened."))
    at = _now(at)
    today = timezone.localdate(at)
    old = item.deadline
    if deadline is not None and deadline < today:
        raise Invalid(_("The deadline cannot be in the past."), field="deadline")
    if deadline is None and old is not None and old < today:
        raise Invalid(
            _("The deadline, %(deadline)s, has passed: set a new one for the reopened item.")
            % {"deadline": old.isoformat()},
            field="deadline",
        )
    # A reopened item's rectification starts again, and so does its escalation ladder: a
    # step reached before the close-out would otherwise stop the ladder from pressing it.
    changes = {"closed_on": None, "closed_by": None, "outcome_kind": "", "ladder_step": ""}
    moved = deadline is not None and deadline != old
    if moved:
        changes |= {"deadline": deadline, "long_term": False}
        if old is not None:
            changes["original_deadline"] = item.original_deadline or old
    with transaction.atomic():
        from_state = item.state
        data = {"satisfaction": item.satisfaction} if item.satisfaction else {}
        if item.ladder_step:
            data["ladder_step"] = item.ladder_step
        _swap(item, by, State.IN_PROGRESS, at, **changes)
        if moved:
            data |= {
                "old_deadline": old.isoformat() if old else LONG_TERM,
                "new_deadline": deadline.isoformat(),
                **_counted(deadline, working_days, at),
            }
        event = _event(item, by, Kind.REOPEN, from_state, at, reason, **data)
        notifications.notify(event)
        return event


@_transition
def request_extension(
    item: Item, *, by: User, new_deadline: datetime.date, reason: str, at=None
) -> Extension:
    """延期申请: the lead department asks for a later deadline, with a reason."""
    check("request_extension", by, item)
    reason = _required(reason, "reason", _("Say why more time is needed."))
    at = _now(at)
    if new_deadline is None or (item.deadline and new_deadline <= item.deadline):
        raise Invalid(
            _("The new deadline must be later than the current one."), field="new_deadline"
        )
    if new_deadline < timezone.localdate(at):
        raise Invalid(_("The new deadline cannot be in the past."), field="new_deadline")
    already = _("An extension request for this item is already waiting for a decision.")
    if item.extensions.filter(status=Extension.Status.PENDING).exists():
        raise Invalid(already, field="new_deadline")
    try:
        with transaction.atomic():
            _swap(item, by, item.state, at)
            extension = Extension.objects.create(
                item=item,
                requested_by=by,
                requested_at=at,
                old_deadline=item.deadline,
                new_deadline=new_deadline,
                reason=reason,
            )
            _event(
                item,
                by,
                Kind.EXTENSION_REQUEST,
                item.state,
                at,
                reason,
                new_deadline=new_deadline.isoformat(),
            )
    except IntegrityError:
        # Two requests at once: the partial unique index lets only one be pending.
        raise Invalid(already, field="new_deadline") from None
    return extension


def _pending_extension(item: Item, extension: Extension | None) -> Extension:
    extension = extension or item.extensions.filter(status=Extension.Status.PENDING).first()
    if extension is None or extension.item_id != item.pk:
        raise Invalid(_("This item has no extension request waiting for a decision."))
    return extension


def _withdraw_extensions(item: Item, by: User, at) -> None:
    """An item closed out or handed back needs no later deadline: a pending request is
    closed with it, or it would wait in the review queue for a decision nobody can take."""
    Extension.objects.filter(item=item, status=Extension.Status.PENDING).update(
        status=Extension.Status.WITHDRAWN, decided_by=by, decided_at=at
    )


def _decide_extension(
    extension: Extension, by: User, status: str, note: str, at, granted=None
) -> None:
    decided = Extension.objects.filter(pk=extension.pk, status=Extension.Status.PENDING).update(
        status=status, decided_by=by, decided_at=at, decision_note=note, granted_deadline=granted
    )
    if decided != 1:
        raise Invalid(_("Someone has already decided this extension request."))
    extension.status = status
    extension.granted_deadline = granted


@_transition
def grant_extension(
    item: Item,
    *,
    by: User,
    extension: Extension | None = None,
    deadline: datetime.date | None = None,
    note: str = "",
    at=None,
    working_days: int | None = None,
) -> Event:
    """批准延期: the deadline moves to the date asked for, or to ``deadline`` when the
    supervisor grants another (``working_days`` from today, when given so); the first
    deadline is kept for the record."""
    check("grant_extension", by, item)
    extension = _pending_extension(item, extension)
    at = _now(at)
    old = item.deadline
    granted = deadline or extension.new_deadline
    if granted < timezone.localdate(at):
        raise Invalid(_("The new deadline cannot be in the past."), field="deadline")
    if old is not None and granted <= old:
        raise Invalid(_("The new deadline must be later than the current one."), field="deadline")
    with transaction.atomic():
        _decide_extension(extension, by, Extension.Status.GRANTED, note, at, granted)
        _swap(
            item,
            by,
            item.state,
            at,
            deadline=granted,
            original_deadline=item.original_deadline or old,
        )
        event = _event(
            item,
            by,
            Kind.EXTENSION_GRANT,
            item.state,
            at,
            note,
            old_deadline=old.isoformat() if old else None,
            asked_deadline=extension.new_deadline.isoformat(),
            new_deadline=granted.isoformat(),
            requested_by=extension.requested_by_id,
            **_counted(deadline, working_days, at),
        )
        notifications.notify(event)
        return event


@_transition
def refuse_extension(
    item: Item, *, by: User, reason: str, extension: Extension | None = None, at=None
) -> Event:
    """不予延期: the deadline stays; the department is told why."""
    check("refuse_extension", by, item)
    reason = _required(reason, "reason", _("Say why the extension is refused."))
    extension = _pending_extension(item, extension)
    at = _now(at)
    with transaction.atomic():
        _decide_extension(extension, by, Extension.Status.REFUSED, reason, at)
        _swap(item, by, item.state, at)
        event = _event(
            item,
            by,
            Kind.EXTENSION_REFUSE,
            item.state,
            at,
            reason,
            new_deadline=extension.new_deadline.isoformat(),
            requested_by=extension.requested_by_id,
        )
        notifications.notify(event)
        return event


@_transition
def escalate(item: Item, *, by: User, note: str, at=None) -> Event:
    """挂牌督办: a supervisor presses an item. An event, not a state.

    The item reaches that step of the escalation ladder (``supervision.ladder``) unless it
    is higher already; its deadline stays as it is."""
    check("escalate", by, item)
    note = _required(note, "note", _("Say what the escalation asks of the department."))
    at = _now(at)
    changes = {"escalated_at": at}
    if item.ladder_step in ("", Item.LadderStep.REMIND, Item.LadderStep.URGE):
        changes["ladder_step"] = Item.LadderStep.ESCALATE
    with transaction.atomic():
        _swap(item, by, item.state, at, **changes)
        event = _event(item, by, Kind.ESCALATE, item.state, at, note)
        notifications.notify(event)
        return event


def comment(item: Item, *, by: User, text: str, at=None) -> Event:
    """批注: anyone who may see the item (a leader above all) leaves a remark.

    A remark changes nothing of the item, so it neither needs nor bumps its version; but
    the item must still be one the actor may remark on as it is now, not as their page saw
    it: nothing is written on an item withdrawn (or taken from them) meanwhile.
    """
    check("comment", by, item)
    text = _required(text, "text", _("Write the comment."))
    at = _now(at)
    with transaction.atomic():
        current = Item.all_objects.select_for_update().filter(pk=item.pk).first()
        if current is None:
            raise stale_error(item)
        if current.version != item.version:
            try:
                check("comment", by, current)
            except WorkflowError:
                raise stale_error(item) from None
        return _event(current, by, Kind.COMMENT, current.state, at, text)


# --- Corrections (docs/corrections.md) ----------------------------------------

# What a supervisor may correct in what an item says, and what its lead department may.
EDIT_FIELDS = ("title", "category", "track", "measures", "goal", "responsible_person", "remarks")
PLAN_FIELDS = ("measures", "goal")
LONG_TERM = "long_term"  # how the history writes the deadline of a long-term item


def shown(item: Item, field: str, co: Iterable[Department] | None = None) -> str:
    """A field's value as the history keeps it: names rather than ids, so that the record
    reads as it did on the day even after a department is renamed."""
    if field == "deadline":
        if item.long_term:
            return LONG_TERM
        return item.deadline.isoformat() if item.deadline else ""
    if field == "co_departments":
        return "、".join(d.name for d in (co if co is not None else item.co_departments.all()))
    value = getattr(item, field)
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _changes(before: dict[str, str], after: dict[str, str]) -> list[dict[str, str]]:
    return [
        {"field": field, "before": before[field], "after": after[field]}
        for field in before
        if before[field] != after[field]
    ]


@_transition
def edit(item: Item, *, by: User, note: str = "", at=None, **values) -> Event:
    """修改: a supervisor corrects what an item says (title, category, track, measures,
    goal, responsible person, remarks); an official of the lead department its measures and
    goal while it is open. One event records each changed field before and after."""
    unknown = set(values) - set(EDIT_FIELDS)
    if unknown:
        raise TypeError(f"not editable: {sorted(unknown)}")
    if by.is_supervisor:
        check("edit", by, item)
    else:
        check("edit_plan", by, item)
        if set(values) - set(PLAN_FIELDS):
            raise NotAllowed(action=RULES["edit"].label, why=WHO_TEXT[SUPERVISOR])
    values = {k: v.strip() if isinstance(v, str) else v for k, v in values.items()}
    if "title" in values:
        if not values["title"]:
            raise Invalid(_("The problem cannot be empty."), field="title")
        if len(values["title"]) > 300:
            raise Invalid(_("The problem is longer than 300 characters."), field="title")
    category = values.get("category")
    if category is not None and (
        not isinstance(category, Category) or category.round_id != item.round_id
    ):
        raise Invalid(_("Choose one of the round’s categories."), field="category")
    if "track" in values and values["track"] not in Item.Track.values:
        raise Invalid(_("Choose a track."), field="track")
    if len(values.get("responsible_person") or "") > 100:
        raise Invalid(
            _("The responsible person is longer than 100 characters."),
            field="responsible_person",
        )
    before = {field: shown(item, field) for field in values}
    probe = Item()
    for field, value in values.items():
        setattr(probe, field, value)
    changes = _changes(before, {field: shown(probe, field) for field in values})
    if not changes:
        raise Invalid(_("Nothing was changed."))
    at = _now(at)
    with transaction.atomic():
        changed = {c["field"]: values[c["field"]] for c in changes}
        _swap(item, by, item.state, at, **changed)
        return _event(item, by, Kind.EDIT, item.state, at, note.strip(), changes=changes)


@_transition
def reassign(
    item: Item,
    *,
    by: User,
    reason: str,
    leader: Leader,
    lead_department: Department,
    co_departments: Iterable[Department] = (),
    deadline: datetime.date | None = None,
    long_term: bool = False,
    responsible_person: str | None = None,
    at=None,
    working_days: int | None = None,
) -> Event:
    """调整交办: a supervisor changes who answers for an open item, or by when, with a
    reason. The departments that gain or lose it, and those that keep it, are told."""
    check("reassign", by, item)
    reason = _required(reason, "reason", _("Say why the assignment changes."))
    at = _now(at)
    if leader is None:
        raise Invalid(_("Choose the responsible leader."), field="leader")
    if lead_department is None:
        raise Invalid(_("Choose the lead department."), field="lead_department")
    deadline = None if long_term else deadline
    if deadline is None and not long_term:
        raise Invalid(_("Set the deadline, or mark the item long-term."), field="deadline")
    co = [d for d in co_departments]
    if any(d.pk == lead_department.pk for d in co):
        raise Invalid(
            _("The lead department cannot also be a co-responsible department."),
            field="co_departments",
        )
    old_co = list(item.co_departments.all())
    fields = ("leader", "lead_department", "co_departments", "deadline")
    if responsible_person is not None:
        fields += ("responsible_person",)
        responsible_person = responsible_person.strip()[:100]
    before = {field: shown(item, field, old_co) for field in fields}
    probe = Item(
        leader=leader,
        lead_department=lead_department,
        deadline=deadline,
        long_term=long_term,
        responsible_person=responsible_person or "",
    )
    changes = _changes(before, {field: shown(probe, field, co) for field in fields})
    if not changes:
        raise Invalid(_("Nothing was changed: the assignment is as it was."))
    moved = {c["field"] for c in changes}
    if "deadline" in moved and deadline is not None and deadline < timezone.localdate(at):
        raise Invalid(_("The deadline cannot be in the past."), field="deadline")
    old_lead = item.lead_department_id
    old_deadline = item.deadline
    responsible = {old_lead, *(d.pk for d in old_co)}
    now_responsible = {lead_department.pk, *(d.pk for d in co)}
    updates = {
        "leader": leader,
        "lead_department": lead_department,
        "deadline": deadline,
        "long_term": long_term,
    }
    if "deadline" in moved and old_deadline is not None:
        updates["original_deadline"] = item.original_deadline or old_deadline
    if responsible_person is not None:
        updates["responsible_person"] = responsible_person
    with transaction.atomic():
        _swap(item, by, item.state, at, **updates)
        if "co_departments" in moved:
            item.co_departments.set(co)
        if moved & {"lead_department", "deadline"}:
            # A request for a later deadline was made to the old lead, or for the old date.
            _withdraw_extensions(item, by, at)
        event = _event(
            item,
            by,
            Kind.REASSIGN,
            item.state,
            at,
            reason,
            changes=changes,
            gained=sorted(now_responsible - responsible),
            lost=sorted(responsible - now_responsible - {None}),
            **(_counted(deadline, working_days, at) if "deadline" in moved else {}),
        )
        notifications.notify(event)
        return event


@_transition
def withdraw(item: Item, *, by: User, reason: str, at=None) -> Event:
    """作废: an item created by mistake leaves every list, count and notice, and stays
    readable with its history. Its suggestions go back to be consolidated again."""
    check("withdraw", by, item)
    reason = _required(reason, "reason", _("Say why the item is withdrawn."))
    at = _now(at)
    with transaction.atomic():
        from_state = item.state
        suggestions = Suggestion.objects.filter(item_id=item.pk)
        released = list(suggestions.order_by("seq").values_list("seq", flat=True))
        _swap(item, by, State.WITHDRAWN, at)
        suggestions.update(item=None)
        _withdraw_extensions(item, by, at)
        event = _event(item, by, Kind.WITHDRAW, from_state, at, reason, released=released)
        if from_state != State.DRAFT:
            notifications.notify(event)
        return event


@_transition
def merge(item: Item, *, into: Item, by: User, note: str = "", at=None) -> Event:
    """合并: ``item`` turns out to be the same as ``into``. Its suggestions and progress
    reports (with their evidence) move to ``into``, and it is withdrawn with a pointer
    there; each item's history says so."""
    check("merge", by, item)
    if into is None or into.pk == item.pk:
        raise Invalid(_("Choose another item of the round to merge into."), field="into")
    if into.round_id != item.round_id:
        raise Invalid(_("Only items of the same round can be merged."), field="into")
    if into.state not in (State.DRAFT, *OPEN):
        raise Invalid(
            _("Item %(number)s is “%(state)s”: merge into an item still being worked on.")
            % {"number": into.number, "state": State(into.state).label},
            field="into",
        )
    at = _now(at)
    with transaction.atomic():
        from_state = item.state
        suggestions = Suggestion.objects.filter(item_id=item.pk)
        moved = list(suggestions.order_by("seq").values_list("seq", flat=True))
        progress = Progress.objects.filter(item_id=item.pk)
        reports = progress.count()
        _swap(item, by, State.WITHDRAWN, at, merged_into=into)
        # The other item changes too: a page drawn from it before the merge is stale.
        bumped = Item.objects.filter(pk=into.pk, state=into.state).update(
            version=F("version") + 1, updated_at=at, updated_by=by
        )
        if bumped != 1:
            raise stale_error(into)
        into.version += 1
        suggestions.update(item=into)
        progress.update(item=into)
        _withdraw_extensions(item, by, at)
        event = _event(
            item,
            by,
            Kind.WITHDRAW,
            from_state,
            at,
            note.strip(),
            merged_into={"id": into.pk, "number": into.number},
            suggestions=moved,
            progress=reports,
        )
        _event(
            into,
            by,
            Kind.MERGE,
            into.state,
            at,
            note.strip(),
            merged={"id": item.pk, "number": item.number, "title": item.title},
            suggestions=moved,
            progress=reports,
        )
        if from_state != State.DRAFT:
            notifications.notify(event)
        return event
