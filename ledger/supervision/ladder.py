"""The escalation ladder (督办阶梯): 临近提醒 → 催办 → 挂牌督办 → 通报 (docs/supervision.md).

``propose`` is the daily command's work: it reads the open items that have a deadline once,
counts each one's working days to or past its deadline, and proposes the highest step due
above the step the item has reached. ``confirm`` is a supervisor's decision: one event per
step, the item's step (and for 挂牌督办 a new deadline), the numbered notices, and the
notifications, all in one transaction. ``dismiss`` turns a proposal down.

Every count of days is in working days (``workdays.calendar``). The ladder only climbs: an
item's step (``Item.ladder_step``) is the highest confirmed for it, and a step at or below it
is never proposed again, whatever its deadline becomes.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Max, Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from ledger import audit, notifications, workflow
from ledger.models import Department, Event, Item, User

from .models import LadderSettings, LadderStep, SupervisionNotice
from .workdays import calendar

Step = Item.LadderStep
ORDER = (Step.REMIND, Step.URGE, Step.ESCALATE, Step.CIRCULATE)
RANK = {"": 0, **{step: n for n, step in enumerate(ORDER, start=1)}}
OPEN = tuple(Item.OPEN_STATES)

EVENT_KINDS = {
    Step.REMIND: Event.Kind.REMIND,
    Step.URGE: Event.Kind.URGE,
    Step.ESCALATE: Event.Kind.ESCALATE,
    Step.CIRCULATE: Event.Kind.CIRCULATE,
}
NOTICE_KINDS = {
    Step.URGE: SupervisionNotice.Kind.URGE,
    Step.ESCALATE: SupervisionNotice.Kind.ESCALATE,
    Step.CIRCULATE: SupervisionNotice.Kind.CIRCULATE,
}
# A notice number taken by a concurrent confirmation is taken again this many times.
NUMBER_ATTEMPTS = 10
# Steps one request confirms at most: a bounded request, whatever is waiting.
CONFIRM_AT_ONCE = 100


# --- Which step is due ---------------------------------------------------------------------


def step_due(days: int, before_deadline: bool, reached: str, rules: LadderSettings) -> str:
    """The highest step due for an item ``days`` working days past its deadline (negative
    before it) that has reached step ``reached``; "" when none is due above it.

    通报 follows only a 挂牌督办, counted from the deadline the escalation gave; a reminder
    only before the deadline has passed."""
    floor = RANK[reached]
    if floor >= RANK[Step.ESCALATE]:
        due = Step.CIRCULATE if days >= rules.circulate_after else ""
    elif days >= rules.escalate_after:
        due = Step.ESCALATE
    elif days >= rules.urge_after:
        due = Step.URGE
    elif before_deadline and -days <= rules.remind_before:
        due = Step.REMIND
    else:
        due = ""
    return due if RANK[due] > floor else ""


def stale_condition() -> Q:
    """A proposed step that can no longer be confirmed: its item is no longer in a
    department's hands, has another deadline now, or has reached that step or a higher one."""
    condition = (
        ~Q(item__state__in=OPEN)
        | Q(item__long_term=True)
        | Q(item__deadline__isnull=True)
        | ~Q(deadline=F("item__deadline"))
    )
    for step in ORDER:
        at_or_above = [s for s in ORDER if RANK[s] >= RANK[step]]
        condition |= Q(step=step, item__ladder_step__in=at_or_above)
    return condition


def is_stale(step: LadderStep, item: Item) -> bool:
    """``stale_condition`` for one step and its item as read, in Python."""
    return (
        item.state not in OPEN
        or item.long_term
        or item.deadline is None
        or item.deadline != step.deadline
        or RANK[step.step] <= RANK[item.ladder_step]
    )


# --- The daily proposal --------------------------------------------------------------------


@dataclasses.dataclass
class Proposal:
    """What a run of ``propose`` did."""

    day: datetime.date
    read: int = 0  # open items read that were near or past their deadline
    new: dict[str, int] = dataclasses.field(default_factory=dict)
    waiting: dict[str, int] = dataclasses.field(default_factory=dict)
    cleared: int = 0  # proposals no longer confirmable, removed

    @property
    def new_total(self) -> int:
        return sum(self.new.values())

    @property
    def waiting_total(self) -> int:
        return sum(self.waiting.values())


def waiting_counts() -> dict[str, int]:
    """Proposed steps waiting for a supervisor, by step."""
    rows = (
        LadderStep.objects.filter(status=LadderStep.Status.PROPOSED)
        .values_list("step")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {step: n for step, n in rows}


def propose(today: datetime.date | None = None) -> Proposal:
    """Propose the steps due today. Run it twice and the second run adds nothing.

    One read of the open items whose deadline is near or past (values only), the working
    days of each distinct deadline counted once, and one insert that the unique constraint
    (item, step, deadline) makes idempotent. Proposals that can no longer be
    confirmed are removed first."""
    today = today or timezone.localdate()
    rules = LadderSettings.current()
    work = calendar()
    # The last deadline a reminder is due for; every later one has nothing due yet.
    horizon = work.add(today, rules.remind_before)
    result = Proposal(day=today)
    with transaction.atomic():
        result.cleared, _deleted = (
            LadderStep.objects.filter(status=LadderStep.Status.PROPOSED)
            .filter(stale_condition())
            .delete()
        )
        before = waiting_counts()
        rows = (
            Item.objects.filter(
                state__in=OPEN, long_term=False, deadline__isnull=False, deadline__lte=horizon
            )
            .order_by()
            .values_list("pk", "deadline", "ladder_step")
        )
        days_past: dict[datetime.date, int] = {}
        due_steps = []
        for pk, deadline, reached in rows:
            result.read += 1
            days = days_past.get(deadline)
            if days is None:
                days = days_past[deadline] = work.between(deadline, today)
            due = step_due(days, deadline >= today, reached, rules)
            if due:
                due_steps.append((pk, due, deadline, days))
        _insert(due_steps, today)
        result.waiting = waiting_counts()
    result.new = {
        step: result.waiting.get(step, 0) - before.get(step, 0)
        for step in ORDER
        if result.waiting.get(step, 0) > before.get(step, 0)
    }
    return result


def _insert(steps: list[tuple[int, str, datetime.date, int]], today: datetime.date) -> None:
    """Insert the proposed steps (item, step, deadline, working days) that are not there
    yet, in one statement whose rows come in as parameters: an array a column on
    PostgreSQL, one JSON text on SQLite (as ``filters.id_list`` passes ids). Through
    bulk_create the ORM prepares every value of every row in Python, in batches of 83 rows
    on SQLite, which was most of a proposal's time. The unique constraint (item, step,
    deadline) leaves out the steps already proposed or decided."""
    if not steps:
        return
    quote = connection.ops.quote_name
    table = quote(LadderStep._meta.db_table)
    columns = ", ".join(
        quote(LadderStep._meta.get_field(name).column)
        for name in ("item", "step", "deadline", "working_days", "status", "proposed_on", "note")
    )
    proposed = LadderStep.Status.PROPOSED
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = [
                "{" + ",".join(str(pk) for pk, _s, _d, _w in steps) + "}",
                "{" + ",".join(step for _p, step, _d, _w in steps) + "}",
                "{" + ",".join(day.isoformat() for _p, _s, day, _w in steps) + "}",
                "{" + ",".join(str(days) for _p, _s, _d, days in steps) + "}",
            ]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "
                "SELECT item, step, deadline, days, %s, %s, '' FROM unnest("
                "%s::bigint[], %s::varchar[], %s::date[], %s::integer[]"
                ") AS r (item, step, deadline, days) ON CONFLICT DO NOTHING",
                [proposed, today, *arrays],
            )
        else:
            data = json.dumps([[pk, step, day.isoformat(), days] for pk, step, day, days in steps])
            cursor.execute(
                f"INSERT OR IGNORE INTO {table} ({columns}) "
                "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
                "json_extract(value, '$[2]'), json_extract(value, '$[3]'), %s, %s, '' "
                "FROM json_each(%s)",
                [proposed, today.isoformat(), data],
            )


# --- Confirming ----------------------------------------------------------------------------


@dataclasses.dataclass
class Confirmation:
    """What a supervisor's confirmation did: the steps taken, those that could not be
    (the item changed since they were proposed, or someone decided them first), and the
    notices issued."""

    confirmed: list[LadderStep] = dataclasses.field(default_factory=list)
    stale: list[LadderStep] = dataclasses.field(default_factory=list)
    notices: list[SupervisionNotice] = dataclasses.field(default_factory=list)


class _Taken(Exception):
    """Someone else decided the step first."""


def issuer() -> str:
    """The office that signs a notice: as the ladder's settings name it, else as its last
    public notice (公示) named it, else the site's name."""
    from ledger.publication.models import Notice

    office = LadderSettings.current().issuer
    if office:
        return office
    named = (
        Notice.objects.exclude(issuer="")
        .order_by("-created_at", "-pk")
        .values_list("issuer", flat=True)
        .first()
    )
    return named or settings.SITE_NAME


def _next_seq(kind: str, year: int) -> int:
    top = SupervisionNotice.objects.filter(kind=kind, year=year).aggregate(top=Max("seq"))["top"]
    return (top or 0) + 1


def issue(
    kind: str, departments: list[Department], *, title: str, body: str, by: User, at, signer: str
) -> SupervisionNotice:
    """A notice with the next number of its kind and year. Two confirmations at once may
    read the same highest number: the unique constraint refuses the second, which takes the
    next one (inside a savepoint, so the confirmation's transaction goes on)."""
    year = timezone.localdate(at).year
    for _attempt in range(NUMBER_ATTEMPTS):
        try:
            with transaction.atomic():
                notice = SupervisionNotice.objects.create(
                    kind=kind,
                    year=year,
                    seq=_next_seq(kind, year),
                    title=title,
                    body=body,
                    issuer=signer,
                    issued_by=by,
                    issued_at=at,
                )
        except IntegrityError:
            continue
        notice.departments.set(departments)
        return notice
    raise workflow.Invalid(_("No notice number could be taken; confirm again."))


def _titles() -> dict[str, str]:
    return {
        SupervisionNotice.Kind.URGE: pgettext("notice title", "Urging notice"),
        SupervisionNotice.Kind.ESCALATE: pgettext("notice title", "Escalation notice"),
        SupervisionNotice.Kind.CIRCULATE: pgettext("notice title", "Circulated bulletin"),
    }


def _body(kind: str, count: int, note: str) -> str:
    """What a notice says above its table of items; the supervisor's instructions after."""
    if kind == SupervisionNotice.Kind.URGE:
        text = _(
            "The %(n)d item(s) your department leads listed below are past their deadline. "
            "Speed up their rectification and report the progress."
        )
    elif kind == SupervisionNotice.Kind.ESCALATE:
        text = _(
            "The %(n)d item(s) your department leads listed below are still not done long "
            "after their deadline and are escalated (挂牌督办). Complete each by its new "
            "deadline and report the outcome."
        )
    else:
        text = _(
            "The %(n)d item(s) listed below were escalated and are still not done by the "
            "deadline the escalation gave: they are circulated in this bulletin (通报)."
        )
    text = text % {"n": count}
    return f"{text}\n\n{note}" if note else text


def _escalation_note(days: int, deadline: datetime.date) -> str:
    return _(
        "Escalated (挂牌督办): %(days)d working day(s) past the deadline. The new deadline is "
        "%(deadline)s."
    ) % {"days": days, "deadline": deadline.isoformat()}


def confirm(
    step_ids: Iterable[int] | None,
    *,
    by: User,
    note: str = "",
    today: datetime.date | None = None,
    at: datetime.datetime | None = None,
) -> Confirmation:
    """Take the proposed steps ``step_ids`` (None: every one waiting), up to
    ``CONFIRM_AT_ONCE`` of them, in one transaction.

    Each step: the step row from proposed to confirmed and the item's row from the version
    read, both compare-and-set (a step someone decided first, or an item changed since, is
    left out and reported as stale), then one event of the step's kind. For 挂牌督办 the item
    gets a new deadline, ``escalate_days`` working days from today, and the time of the
    escalation. Then one numbered notice per department for the 催办 and the 挂牌督办 steps,
    one 情况通报 for all the 通报 steps, and the notifications of each event."""
    if not by.is_supervisor:
        raise workflow.NotAllowed(
            action=workflow.RULES["escalate"].label, why=workflow.WHO_TEXT[workflow.SUPERVISOR]
        )
    at = at or timezone.now()
    today = today or timezone.localdate(at)
    note = (note or "").strip()
    rules = LadderSettings.current()
    work = calendar()
    done = Confirmation()
    with transaction.atomic():
        waiting = LadderStep.objects.filter(status=LadderStep.Status.PROPOSED)
        if step_ids is not None:
            waiting = waiting.filter(pk__in=list(step_ids))
        steps = list(
            waiting.select_related("item", "item__lead_department").order_by("item_id", "pk")[
                :CONFIRM_AT_ONCE
            ]
        )
        # One object per item, and its highest step first: a lower one proposed beside it
        # is then below the item's step, and left out.
        items: dict[int, Item] = {}
        for step in steps:
            step.item = items.setdefault(step.item_id, step.item)
        steps.sort(key=lambda s: (s.item_id, -RANK[s.step]))
        for step in steps:
            item = step.item
            if is_stale(step, item):
                done.stale.append(step)
                continue
            days = work.between(step.deadline, today)
            changes: dict = {"ladder_step": step.step}
            if step.step == Step.ESCALATE:
                step.new_deadline = work.add(today, rules.escalate_days)
                changes |= {
                    "deadline": step.new_deadline,
                    "original_deadline": item.original_deadline or item.deadline,
                    "escalated_at": at,
                }
            try:
                with transaction.atomic():
                    taken = LadderStep.objects.filter(
                        pk=step.pk, status=LadderStep.Status.PROPOSED
                    ).update(
                        status=LadderStep.Status.CONFIRMED,
                        decided_by=by,
                        decided_at=at,
                        working_days=days,
                        new_deadline=step.new_deadline,
                    )
                    if taken != 1:
                        raise _Taken
                    workflow._swap(item, by, item.state, at, **changes)
            except (_Taken, workflow.Stale):
                done.stale.append(step)
                continue
            step.status, step.working_days = LadderStep.Status.CONFIRMED, days
            step.decided_by, step.decided_at = by, at
            done.confirmed.append(step)
        if not done.confirmed:
            return done
        notice_of = _issue_notices(done, by=by, at=at, note=note)
        for step in done.confirmed:
            item = step.item
            notice = notice_of.get(step.pk)
            data = {
                "step": step.pk,
                "deadline": step.deadline.isoformat(),
                "working_days": step.working_days,
            }
            if notice is not None:
                data["notice"] = {"id": notice.pk, "number": notice.number}
            event_note = note
            if step.step == Step.ESCALATE:
                data["new_deadline"] = step.new_deadline.isoformat()
                event_note = note or _escalation_note(step.working_days, step.new_deadline)
            step.event = workflow._event(
                item, by, EVENT_KINDS[step.step], item.state, at, event_note, **data
            )
            step.notice = notice
            step.note = event_note
            notifications.notify(step.event)
        LadderStep.objects.bulk_update(done.confirmed, ["event", "notice", "note"])
    return done


def _issue_notices(done: Confirmation, *, by: User, at, note: str) -> dict[int, SupervisionNotice]:
    """The notices of the confirmed steps, worded in the office's language: by step id."""
    groups: dict[tuple[str, int | None], list[LadderStep]] = defaultdict(list)
    for step in done.confirmed:
        kind = NOTICE_KINDS.get(step.step)
        if kind is None:
            continue  # 临近提醒: an event and a notification, no numbered notice
        department = (
            None if kind == SupervisionNotice.Kind.CIRCULATE else step.item.lead_department_id
        )
        groups[(kind, department)].append(step)
    if not groups:
        return {}
    signer = issuer()
    notice_of: dict[int, SupervisionNotice] = {}
    with translation.override(settings.LANGUAGE_CODE):
        titles = _titles()
        for (kind, _department), group in groups.items():
            departments = _departments_of(group)
            notice = issue(
                kind,
                departments,
                title=titles[kind],
                body=_body(kind, len(group), note),
                by=by,
                at=at,
                signer=signer,
            )
            done.notices.append(notice)
            notice_of.update((step.pk, notice) for step in group)
    return notice_of


def _departments_of(steps: list[LadderStep]) -> list[Department]:
    seen: dict[int, Department] = {}
    for step in steps:
        department = step.item.lead_department
        if department is not None:
            seen.setdefault(department.pk, department)
    return sorted(seen.values(), key=lambda d: (d.order, d.name))


def dismiss(step_ids: Iterable[int], *, by: User, request=None, at=None) -> int:
    """Turn proposed steps down; the same step is not proposed again for the same deadline.
    One line of the audit trail for the lot."""
    if not by.is_supervisor:
        raise workflow.NotAllowed(
            action=workflow.RULES["escalate"].label, why=workflow.WHO_TEXT[workflow.SUPERVISOR]
        )
    at = at or timezone.now()
    with transaction.atomic():
        rows = list(
            LadderStep.objects.filter(pk__in=list(step_ids), status=LadderStep.Status.PROPOSED)
            .select_for_update()
            .values_list("pk", "item__number", "step")
        )
        ids = [pk for pk, _number, _step in rows]
        dismissed = LadderStep.objects.filter(pk__in=ids, status=LadderStep.Status.PROPOSED).update(
            status=LadderStep.Status.DISMISSED, decided_by=by, decided_at=at
        )
        if dismissed:
            audit.record(
                audit.Kind.LADDER,
                gettext_lazy("Dismissed %(n)s proposed step(s) of the escalation ladder"),
                {"n": dismissed},
                request=request,
                actor=by,
                detail={"steps": [{"id": pk, "item": n, "step": s} for pk, n, s in rows]},
            )
    return dismissed


# --- Who reads which notice ----------------------------------------------------------------


def notices_for(user: User) -> QuerySet[SupervisionNotice]:
    """The notices ``user`` may read: a supervisor every one, an official those addressed
    to their department (a bulletin to each department it names), a leader those that list
    an item the leader answers for; anyone else none."""
    notices = SupervisionNotice.objects.all()
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return notices.none()
    if user.is_supervisor:
        return notices
    if user.is_official:
        return notices.filter(departments=user.department_id)
    if user.is_leader:
        listed = LadderStep.objects.filter(notice__isnull=False, item__leader_id=user.leader_id)
        return notices.filter(pk__in=listed.values("notice_id"))
    return notices.none()
