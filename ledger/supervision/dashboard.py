"""The supervision dashboard's figures (督办看板): a selector over the items a user sees.

Every figure counts the items handed over (交办: every state but awaiting assignment) that
the user sees (``Item.objects.visible_to``), of one round or of all; withdrawn and
merged-away items count nowhere. Each figure carries the ledger list's query that selects
exactly its items (``Figures.link``). docs/supervision.md gives the rules.

Queries, whatever the size of the ledger: one GROUP BY over category, lead department,
leader and round together, summed into each breakdown in the same query (the totals are
their sum), then one read of the few names each needs; one pass of conditional counts for
the tracks and the ladder's steps (and the suggestions merged into an official's or a
leader's items); one GROUP BY of the closing days; for a supervisor, a count of the
drafts and one of the suggestions received.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Count, F, Func, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from ledger.models import (
    Category,
    Department,
    Item,
    Leader,
    Round,
    Suggestion,
    User,
    overdue_condition,
)
from ledger.selectors import reach_parts

# The weekly chart ends with the current week and shows at most this many weeks.
WEEKS = 52
NOT_DRAFT = ~Q(state=Item.State.DRAFT)
CLOSED = Q(state=Item.State.CLOSED)
# Items are counted by their state, never empty, rather than their id: an index without
# the id then answers every count by itself (PostgreSQL's index-only scans).
COUNTED = "state"


def rate(part: int, whole: int) -> Decimal | None:
    """``part`` as a percentage of ``whole`` with one decimal, rounded half up (2 of 3 is
    66.7); None when ``whole`` is 0: no items, no rate."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def average(total: int, n: int) -> Decimal | None:
    """``total / n`` with one decimal, rounded half up; None when ``n`` is 0."""
    if not n:
        return None
    return (Decimal(total) / Decimal(n)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclasses.dataclass
class Row:
    """The items of one group (a category, a department…), and the ledger list's
    parameters that select them within the dashboard's scope."""

    label: str
    params: dict[str, str]
    items: int = 0
    closed: int = 0
    overdue: int = 0
    percent: int = 0  # the sum of the items' percent done
    link: str = ""
    links: dict[str, str] = dataclasses.field(default_factory=dict)  # closed, on_time, overdue

    @property
    def open(self) -> int:
        return self.items - self.closed

    @property
    def on_time(self) -> int:
        """Open and not overdue (long-term items, without a deadline, among them)."""
        return self.items - self.closed - self.overdue

    @property
    def rate(self) -> Decimal | None:
        return rate(self.closed, self.items)

    @property
    def average(self) -> Decimal | None:
        return average(self.percent, self.items)

    def add(self, items: int, closed: int, overdue: int, percent: int | None) -> None:
        self.items += items
        self.closed += closed
        self.overdue += overdue
        self.percent += percent or 0


@dataclasses.dataclass
class Step:
    value: str
    label: str
    count: int
    link: str


@dataclasses.dataclass
class Week:
    start: datetime.date  # a Monday
    closed: int
    link: str

    @property
    def end(self) -> datetime.date:
        return self.start + datetime.timedelta(days=6)


@dataclasses.dataclass
class Figures:
    user: User
    round: Round | None  # None: all rounds
    today: datetime.date
    suggestions: int = 0
    suggestions_link: str = ""
    drafts: int | None = None  # awaiting assignment: supervisors alone see them
    drafts_link: str = ""
    totals: Row | None = None
    steps: list[Step] = dataclasses.field(default_factory=list)
    by_track: list[Row] = dataclasses.field(default_factory=list)
    by_category: list[Row] = dataclasses.field(default_factory=list)
    by_department: list[Row] = dataclasses.field(default_factory=list)
    by_leader: list[Row] = dataclasses.field(default_factory=list)
    by_round: list[Row] = dataclasses.field(default_factory=list)  # all rounds only
    weeks: list[Week] = dataclasses.field(default_factory=list)
    items_url: str = dataclasses.field(default_factory=lambda: reverse("ledger:items"))

    def scope_params(self) -> dict[str, str]:
        """The ledger list's parameters for every item the dashboard counts."""
        params = {"stage": "handed_over"}
        if self.round is not None:
            params = {"round": str(self.round.pk), **params}
        return params

    def link(self, **params: str | None) -> str:
        """The ledger list of the items the dashboard counts, narrowed by ``params`` (a
        None removes a parameter)."""
        merged = {**self.scope_params(), **params}
        query = urlencode([(k, v) for k, v in merged.items() if v is not None])
        return f"{self.items_url}?{query}"

    def finish(self, row: Row) -> Row:
        """Fill in a row's links: all its items, its closed, on-time and overdue ones."""
        row.link = self.link(**row.params)
        row.links = {
            "closed": self.link(**row.params, state=Item.State.CLOSED),
            "on_time": self.link(**row.params, stage="open", overdue="false"),
            "overdue": self.link(**row.params, overdue="true"),
        }
        return row


def scope(user: User, round: Round | None) -> QuerySet[Item]:
    """The items ``user`` sees (``visible_to``), of ``round`` (every round when None),
    drafts left out."""
    if user.is_official:
        # What visible_to gives an official, as the ledger list reads it (selectors.
        # reach_parts): led by the department, or among its shares, each part through its
        # own index. visible_to's "or exists a share" is tested on every item of the
        # ledger, one lookup each, in every query of the page.
        led, shared = reach_parts(user.department_id)
        items = Item.objects.filter(NOT_DRAFT).filter(led | shared)
    else:
        items = Item.objects.visible_to(user).filter(NOT_DRAFT)
    if round is not None:
        items = items.filter(round_id=round.pk)
    return items.order_by()


def figures(
    user: User,
    round: Round | None,
    today: datetime.date | None = None,
    rounds: list[Round] | None = None,
) -> Figures:
    """Every figure of the dashboard for ``user``, of ``round`` or of all rounds (None).
    ``rounds``: every round, in their order, when the caller has read them already."""
    today = today or timezone.localdate()
    f = Figures(user=user, round=round, today=today)
    items = scope(user, round)
    overdue = overdue_condition(today)
    groups = _grouped(items, overdue)
    _totals(f, items, overdue, groups["round"])
    if user.is_supervisor:
        drafts = Item.objects.filter(state=Item.State.DRAFT)
        if round is not None:
            drafts = drafts.filter(round_id=round.pk)
        f.drafts = drafts.count()
        f.drafts_link = f.link(stage=None, state=Item.State.DRAFT)
        _received(f, round)
    f.by_category = _by_category(f, groups["category"])
    f.by_department = _by_named(
        f, groups["lead"], "lead", _department_names, _("No lead department")
    )
    if not user.is_leader:
        # A leader's items all have one leader: themselves.
        f.by_leader = _by_named(
            f, groups["leader"], "leader", _leader_names, _("No responsible leader")
        )
    if round is None:
        if rounds is None:
            rounds = list(Round.objects.all())
        f.by_round = _by_round(f, groups["round"], rounds)
    f.weeks = _weeks(f, items)
    return f


def _totals(f: Figures, items: QuerySet[Item], overdue: Q, by_round: dict) -> None:
    """The totals (the sum of any breakdown), the tracks and the ladder's steps.

    One pass counts the joint track's items and each step's (the immediate track is what
    the joint one leaves of the totals) and, for anyone but a supervisor, the suggestions
    received: those merged into the items counted, each item's looked up by its index."""
    f.totals = Row(label="", params={})
    for counts in by_round.values():
        f.totals.add(*counts)
    f.finish(f.totals)
    joint = Q(track=Item.Track.JOINT)
    aggregates = {
        "items": Count(COUNTED, filter=joint),
        "closed": Count(COUNTED, filter=joint & CLOSED),
        "overdue": Count(COUNTED, filter=joint & overdue),
        "percent": Sum("percent", filter=joint),
    }
    for step in Item.LadderStep:
        aggregates[step.value] = Count(COUNTED, filter=Q(ladder_step=step))
    if not f.user.is_supervisor:
        merged = Suggestion.objects.filter(item_id=OuterRef("pk")).order_by()
        count = Func(F("item_id"), function="COUNT", output_field=IntegerField())
        aggregates["suggestions"] = Sum(Subquery(merged.annotate(n=count).values("n")))
    agg = items.aggregate(**aggregates)
    if not f.user.is_supervisor:
        f.suggestions = agg["suggestions"] or 0
        f.suggestions_link = f.link()
    joint_row = Row(label=Item.Track.JOINT.label, params={"track": Item.Track.JOINT.value})
    joint_row.add(agg["items"], agg["closed"], agg["overdue"], agg["percent"])
    immediate = Row(label=Item.Track.IMMEDIATE.label, params={"track": Item.Track.IMMEDIATE.value})
    immediate.add(
        f.totals.items - joint_row.items,
        f.totals.closed - joint_row.closed,
        f.totals.overdue - joint_row.overdue,
        f.totals.percent - joint_row.percent,
    )
    by_value = {Item.Track.JOINT: joint_row, Item.Track.IMMEDIATE: immediate}
    f.by_track = [f.finish(by_value[track]) for track in Item.Track]
    f.steps = [
        Step(step.value, step.label, agg[step.value], f.link(ladder_step=step.value))
        for step in Item.LadderStep
    ]


def _received(f: Figures, round: Round | None) -> None:
    """A supervisor's suggestions received, as the public notice counts them
    (publication.figures): every suggestion of the round (of every round), whatever became
    of it. Anyone else's are those merged into the items they see (``_totals``)."""
    received = Suggestion.objects.all()
    if round is not None:
        received = received.filter(round_id=round.pk)
    f.suggestions = received.count()
    f.suggestions_link = (
        reverse("intake:round", args=[round.pk]) if round else reverse("intake:rounds")
    )


# Each breakdown's column, in the order of the index that serves their one grouped pass
# (``item_dashboard``).
BREAKDOWNS = {
    "category": "category_id",
    "lead": "lead_department_id",
    "leader": "leader_id",
    "round": "round_id",
}


def _grouped(items: QuerySet[Item], overdue: Q) -> dict[str, dict]:
    """For each breakdown, each value's [items, closed, overdue, sum of percent].

    One GROUP BY over the four columns together, which the database reads in the order of
    an index that holds every column the figures need (``item_dashboard``), rather than a
    scan and a sort for each breakdown; its groups (one for each combination met, a few
    thousand in a large ledger) are then summed by each column in the same query, so
    that only the breakdowns' rows come back."""
    columns = list(BREAKDOWNS.values())
    combined = (
        items.values(*columns)
        .annotate(
            n=Count(COUNTED),
            closed=Count(COUNTED, filter=CLOSED),
            late=Count(COUNTED, filter=overdue),
            percent=Sum("percent"),
        )
        .values_list(*columns, "n", "closed", "late", "percent")
    )
    sums: dict[str, dict] = {name: {} for name in BREAKDOWNS}
    try:
        inner, params = combined.query.sql_with_params()
    except EmptyResultSet:  # a scope that can hold nothing
        return sums
    quote = connection.ops.quote_name
    names = ", ".join(quote(name) for name in [*columns, "n", "closed", "late", "percent"])
    arms = [
        f"SELECT {i}, {quote(column)}, SUM(n), SUM(closed), SUM(late), SUM(percent) "
        f"FROM combined GROUP BY {quote(column)}"
        for i, column in enumerate(columns)
    ]
    sql = f"WITH combined ({names}) AS ({inner}) " + " UNION ALL ".join(arms)
    breakdowns = list(BREAKDOWNS)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for i, key, n, closed, late, percent in cursor.fetchall():
            sums[breakdowns[i]][key] = [int(n), int(closed), int(late), int(percent or 0)]
    return sums


def _by_category(f: Figures, grouped: dict) -> list[Row]:
    """By category name: the same name in several rounds is one category, as the ledger
    list's filter has it. In the rounds' order of categories; none last."""
    ids = [pk for pk in grouped if pk is not None]
    known = {
        pk: (name, order)
        for pk, name, order in Category.objects.filter(pk__in=ids).values_list(
            "pk", "name", "order"
        )
    }
    rows: dict[str, Row] = {}
    orders: dict[str, int] = {}
    none = Row(label=_("No category"), params={"without": "category"})
    for pk, counts in grouped.items():
        if pk is None or pk not in known:
            none.add(*counts)
            continue
        name, order = known[pk]
        row = rows.setdefault(name, Row(label=name, params={"category": name}))
        row.add(*counts)
        orders[name] = min(order, orders.get(name, order))
    out = sorted(rows.values(), key=lambda r: (orders[r.label], r.label))
    if none.items:
        out.append(none)
    return [f.finish(row) for row in out]


def _department_names(ids: list[int]) -> dict[int, str]:
    return dict(Department.objects.filter(pk__in=ids).values_list("pk", "name"))


def _leader_names(ids: list[int]) -> dict[int, str]:
    return {
        pk: f"{post} {name}"
        for pk, post, name in Leader.objects.filter(pk__in=ids).values_list("pk", "post", "name")
    }


def _by_named(f: Figures, grouped: dict, param: str, names, none_label: str) -> list[Row]:
    """By a related row (a department, a leader): most items first; none last."""
    known = names([pk for pk in grouped if pk is not None])
    rows, none = [], Row(label=none_label, params={"without": param})
    for pk, counts in grouped.items():
        if pk is None or pk not in known:
            none.add(*counts)
            continue
        row = Row(label=known[pk], params={param: str(pk)})
        row.add(*counts)
        rows.append(row)
    rows.sort(key=lambda r: (-r.items, r.label))
    if none.items:
        rows.append(none)
    return [f.finish(row) for row in rows]


def _by_round(f: Figures, counts: dict, rounds: list[Round]) -> list[Row]:
    """By round, in the rounds' order (newest first)."""
    rows = []
    for r in rounds:
        if r.pk not in counts:
            continue
        row = Row(label=r.name, params={"round": str(r.pk)})
        row.add(*counts[r.pk])
        rows.append(f.finish(row))
    return rows


def monday(day: datetime.date) -> datetime.date:
    return day - datetime.timedelta(days=day.weekday())


def _weeks(f: Figures, items: QuerySet[Item]) -> list[Week]:
    """Items closed out each week (Monday to Sunday), up to WEEKS of them ending with the
    current week, from the first week anything was closed out; when nothing was closed in
    that time, the WEEKS ending with the last week something was."""
    by_day = list(
        items.filter(CLOSED, closed_on__isnull=False)
        .values("closed_on")
        .annotate(n=Count(COUNTED))
        .values_list("closed_on", "n")
    )
    if not by_day:
        return []
    per_week: dict[datetime.date, int] = defaultdict(int)
    for day, n in by_day:
        per_week[monday(day)] += n
    first, last = min(per_week), max(per_week)
    end = monday(f.today)
    if last < end - datetime.timedelta(weeks=WEEKS - 1):
        end = last
    start = max(first, end - datetime.timedelta(weeks=WEEKS - 1))
    weeks = []
    week = start
    while week <= end:
        closed_to = week + datetime.timedelta(days=6)
        link = f.link(
            state=Item.State.CLOSED,
            closed_from=week.isoformat(),
            closed_to=closed_to.isoformat(),
        )
        weeks.append(Week(week, per_week.get(week, 0), link))
        week += datetime.timedelta(weeks=1)
    return weeks
