"""Queries over many items, shared by the pages and the exports."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Mapping
from operator import itemgetter

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import BigIntegerField, Count, F, Func, Q, QuerySet
from django.db.models.lookups import In
from django.utils import timezone

from . import paging
from .filters import COLUMNS, DEADLINE, STATE, ItemFilter, Match, id_list
from .models import (
    FAR_FUTURE,
    CoDepartment,
    Item,
    User,
    deadline_key,
    is_overdue,
    overdue_condition,
)
from .paging import Sort

# Counts above the list stop at this many: beyond it a count would read every matching row
# of a large ledger on every page view, and "1,000+" says as much as the exact figure.
COUNT_CAP = 1_000


@dataclasses.dataclass(frozen=True)
class SortOption:
    sort: Sort
    kinds: list[type]  # the types of the sort fields, to read a cursor back


SORTS: dict[str, SortOption] = {
    "number": SortOption(Sort(("round_id", "number")), [int, str]),
    "-number": SortOption(Sort(("round_id", "number"), True), [int, str]),
    # Items without a deadline sort after every dated one.
    "deadline": SortOption(Sort(("deadline_key", "id")), [datetime.date, int]),
    "-deadline": SortOption(Sort(("deadline_key", "id"), True), [datetime.date, int]),
    "percent": SortOption(Sort(("percent", "id")), [int, int]),
    "-percent": SortOption(Sort(("percent", "id"), True), [int, int]),
    "updated": SortOption(Sort(("updated_at", "id")), [datetime.datetime, int]),
    "-updated": SortOption(Sort(("updated_at", "id"), True), [datetime.datetime, int]),
}
DEFAULT_SORT = "number"


def ledger_items(*, user: User, params: Mapping, sort: Sort | None = None) -> Ledger:
    """The items this user may see, narrowed by the ledger's filters in ``params``.

    The list page and every export start here, so an export holds exactly what the screen
    showed, and nobody's export reaches past what they may see.

    ``sort``: the order the list will page ``items`` in; a keyword's lookup then reads each
    match's values in it (``Ledger.keys``).
    """
    itemfilter = ItemFilter(params or None, queryset=Item.objects.visible_to(user))
    if sort is not None:
        itemfilter.keyword_columns = _columns(sort)
    if user.is_official and itemfilter.is_bound and itemfilter.form.is_valid():
        # A keyword's lookup may read the led and the shared part apart.
        itemfilter.keyword_parts = tuple(reach_parts(user.department_id, lead=_lead(itemfilter)))
    filtered = itemfilter.qs  # validates the form first
    state = itemfilter.form.cleaned_data.get("state") if itemfilter.is_bound else None

    def finish(queryset: QuerySet[Item], *, every_state: bool = False) -> QuerySet[Item]:
        queryset = queryset.annotate(deadline_key=deadline_key())
        return queryset.filter(state=state) if state and not every_state else queryset

    every_state = finish(filtered, every_state=True)
    matches = itemfilter.keyword_ids
    if state and matches is not None:
        # The keyword's lookup read each match's state: the list need not read the others.
        # Their ids alone: with the state as a condition as well, SQLite read the page's
        # rows through the state's index, every item in that state (17 ms at 100,000).
        matches = {pk: match for pk, match in matches.items() if match[STATE] == state}
        items = finish(Item.objects.filter(pk__in=id_list(matches)), every_state=True)
    else:
        items = finish(filtered)
    narrowed = itemfilter.is_bound and (
        not itemfilter.form.is_valid()
        or any(
            value not in (None, "")
            for name, value in itemfilter.form.cleaned_data.items()
            if name != "state"
        )
    )
    parts = counted = None
    keyword = itemfilter.is_bound and itemfilter.form.cleaned_data.get("q")
    # Every state, in an order other than the default: one part per state, each a range of
    # an index (state, …order…, id), merged page by page (paging.page's ``parts``).
    split_states = (
        not keyword and not state and sort is not None and sort != SORTS[DEFAULT_SORT].sort
    )
    states = _states_within(user, itemfilter) if split_states else None
    if not user.is_official and states is not None:
        parts = [finish(filtered).filter(state=s) for s in states]
    if user.is_official and not keyword:
        # Led by the department, and shared with it: together what the official sees
        # (``visible_to``), each with an index in the list's order. The same filters are
        # applied to each (no keyword: its lookups would run twice).
        handed_over = Item.objects.exclude(state=Item.State.DRAFT)
        department, lead = user.department_id, _lead(itemfilter)

        def split(walk: bool) -> list[QuerySet[Item]]:
            halves = led_and_shared(handed_over, department, walk=walk, lead=lead)
            if itemfilter.is_bound:
                halves = [itemfilter.filter_queryset(half) for half in halves]
            return halves

        parts = [finish(part) for part in split(_walk_shares(department))]
        if states is not None:
            # Each part one state at a time: the shared part too, which walks the state's
            # range of the order's index and tests each item for a share (sorting the
            # 62,000 items a busy department shares took 220 ms at a million items).
            parts = [part.filter(state=s) for part in parts for s in states]
        # The counts read the same halves (each without the "led or shared" condition of
        # ``visible_to``, which SQLite tested on every row of every count), by id.
        counted = [finish(part, every_state=True) for part in split(walk=False)]
        # led_and_shared's last part is the shared one, when there is one.
        shared_counted = counted.pop() if lead is None or lead != department else None
    else:
        shared_counted = None
    # The page's rows, once parts or a keyword's matches have found their ids.
    by_id = finish(Item.objects.all(), every_state=True)
    return Ledger(
        itemfilter, items, every_state, narrowed, parts, matches, counted, by_id, shared_counted
    )


def _states_within(user: User, itemfilter: ItemFilter) -> list[str]:
    """The states an item of this list can be in: drafts only for those who see them,
    open states only when the list is of overdue items (a draft part would otherwise be
    read to its end to find none)."""
    states = [s for s in Item.LIVE_STATES if s != Item.State.DRAFT or user.is_supervisor]
    if itemfilter.is_bound and getattr(itemfilter.form, "cleaned_data", {}).get("overdue"):
        states = [s for s in states if s in Item.OPEN_STATES]
    return states


def led_and_shared(
    items: QuerySet[Item], department: int, *, walk: bool = False, lead=None
) -> list[QuerySet[Item]]:
    """``items`` as two disjoint parts: those ``department`` leads, and those shared with it
    that it does not lead (``reach_parts``)."""
    return [items.filter(part) for part in reach_parts(department, walk=walk, lead=lead)]


def reach_parts(department: int, *, walk: bool = False, lead=None) -> list[Q]:
    """What an official of ``department`` sees, as two disjoint conditions: led by it, and
    shared with it but not led by it. Each has an index of its own; "led or shared" as one
    condition has none.

    ``lead``: the lead department the list is filtered to, if any. One part then holds
    nothing (the department's own: no shared item it does not lead; another: nothing it
    leads) and is left out, rather than read to find that out (on SQLite every shared item
    was read for each count).

    ``walk`` (SQLite): the shared part tests each item for a share as it is read, so that a
    page of it walks the list's order and stops, rather than reading every shared item by
    its id and sorting them (see _walk_shares).
    """
    shares = CoDepartment.objects.filter(department_id=department).values("item_id")
    # A unary plus: the same id, which SQLite will not look up through an index.
    unindexed = Func(F("pk"), template="+%(expressions)s", output_field=BigIntegerField())
    parts = []
    if lead is None or lead == department:
        parts.append(Q(lead_department_id=department))
    if lead is None or lead != department:
        parts.append(
            Q(In(unindexed if walk else F("pk"), shares)) & ~Q(lead_department_id=department)
        )
    return parts


def _lead(itemfilter: ItemFilter):
    """The lead department the list is filtered to, or None."""
    return getattr(itemfilter.form, "cleaned_data", {}).get("lead")


# A department sharing at least this many items has its shared items paged by walking the
# list's order on SQLite (_walk_shares).
SHARES_WALK = 500


def _walk_shares(department: int) -> bool:
    """Whether to walk the list's order for ``department``'s shared items (SQLite only).

    SQLite reads them by looking up every shared item and sorting them all: 22 ms a page
    for a department sharing 6,000 of 100,000 items. Walking the list's order and testing
    each item stops after a page when shares are many (6 ms there), but reads the whole
    ledger when they are few (18 ms for none). PostgreSQL chooses between the two from its
    statistics.
    """
    if connection.vendor != "sqlite":
        return False
    shares = CoDepartment.objects.filter(department_id=department)
    return shares[:SHARES_WALK].count() >= SHARES_WALK


@dataclasses.dataclass(frozen=True)
class Ledger:
    filter: ItemFilter
    items: QuerySet[Item]  # every filter applied
    every_state: QuerySet[Item]  # every filter but the state: what the state tabs count
    narrowed: bool = False  # a filter other than the state is applied
    # ``items`` as disjoint parts that each have an index in the list's orders, for paging
    # (``paging.page``): an official's items led by the department, and those shared with
    # it. One condition "led or shared" has no such index, so a page of it would sort every
    # item the department sees. None: ``items`` pages as it is.
    parts: list[QuerySet[Item]] | None = None
    # ``items`` as a keyword's lookup read them (its matches in the chosen state), when it
    # listed them: what ``keys`` pages. None: no keyword, or one too common to list.
    matches: dict[int, Match] | None = None
    # An official's ``every_state`` led by the department (a list of it, or an empty list
    # when the list is filtered to another lead department), for the counts; the shared
    # part is ``shared_counted``. None: not an official's list, or a keyword's.
    counted: list[QuerySet[Item]] | None = None
    # Every item, with the list's annotations: where ``paging.page`` reads a page's rows by
    # the ids ``parts`` or ``matches`` found (within the user's reach and the filters).
    by_id: QuerySet[Item] | None = None
    # The shared part of ``every_state``, when ``counted`` holds the led part (or nothing):
    # counted apart from it (see counts).
    shared_counted: QuerySet[Item] | None = None

    @property
    def ids(self) -> dict[int, Match] | None:
        """The ids a keyword narrowed every state to (each already within the user's reach
        and the other filters), each with its state and deadline: the counts are made from
        them."""
        return self.filter.keyword_ids

    def keys(self, sort: Sort) -> list[tuple] | None:
        """``items`` as (id, *values of ``sort``'s fields), from the keyword's lookup, for
        ``paging.page``: the page is chosen without reading the matches again (1,485 rows
        read to show 20 cost 21 ms at a million items). None: no such lookup, or it did not
        read ``sort``'s columns."""
        if self.matches is None or self.filter.keyword_columns != _columns(sort):
            return None
        # Where each sort field is in a match: the id first, the deadline (for deadline_key),
        # then the columns read for the sort.
        at = {"id": 0, "deadline_key": DEADLINE}
        at.update((field, COLUMNS + i) for i, field in enumerate(self.filter.keyword_columns))
        where = [0, *(at[field] for field in sort.fields)]
        keys = list(map(itemgetter(*where), self.matches.values()))
        if DEADLINE in where:  # as deadline_key, as ledger_items annotates it: none sorts last
            j = where.index(DEADLINE)
            keys = [
                key if key[j] is not None else (*key[:j], FAR_FUTURE, *key[j + 1 :]) for key in keys
            ]
        return keys

    def counts(self, user: User) -> dict[str, int]:
        """Items per state and overdue for the state tabs: what ``every_state`` holds."""
        if self.ids is not None:
            return counts_of(self.ids.values())
        if self.filter.keyword_scans:
            # Every capped count arm would scan the ledger for the word (2.1 s at a million
            # items for 盲道); one grouped pass reads each row once (1.2 s). An official's
            # reach in its two parts, each through its own index: as one "led or shared"
            # condition it was tested on every row of the ledger (3.9 s for 学校).
            return _sum_counts(map(grouped_counts, _count_parts(user, self.every_state)))
        if not self.narrowed:
            return state_counts(user)
        if self.counted is not None:
            shared = [] if self.shared_counted is None else [grouped_counts(self.shared_counted)]
            if connection.vendor == "sqlite":
                # SQLite reads the shared part's items by id for each capped count (every
                # shared item, five times over); one grouped pass per part reads them once.
                return _sum_counts([*map(grouped_counts, self.counted), *shared])
            # The led part's capped counts are ranges of the (lead department, state, …)
            # indexes. The shared part's have no such index once another filter applies:
            # each capped count joined every item the department shares to the filter's
            # items again (73 ms a count for a round at 100,000 items); one grouped pass
            # joins them once (a round: 86 → 38 ms a page at 100,000 items, 241 → 221 ms
            # at a million).
            led = [state_counts(user, parts=self.counted)] if self.counted else []
            return _sum_counts([*led, *shared])
        return state_counts(user, self.every_state)


def _columns(sort: Sort) -> tuple[str, ...]:
    """The columns a keyword's lookup reads for ``sort``: its fields but the id and the
    deadline, which it reads anyway."""
    return tuple(field for field in sort.fields if field not in ("id", "deadline_key"))


def state_counts(
    user: User,
    within: QuerySet[Item] | None = None,
    cap: int | None = None,
    parts: list[QuerySet[Item]] | None = None,
) -> dict[str, int]:
    """Items per state and overdue among what ``user`` sees, or ``within`` a part of it, or
    the disjoint ``parts`` of such a part.

    An official's reach is "led by my department OR shared with it", which no index serves
    as one condition; counted as two disjoint parts, each part reads its own index and stays
    bounded by the cap. Over all the user sees (``within`` None) the shared part is counted
    on the co-department rows alone, whose copy of the item's state and deadline is indexed
    by (department, state, deadline), without visiting a single item; and the query, the
    same for everyone of one reach on one day, is built once and kept (building its twelve
    arms cost more than running them).
    """
    cap = COUNT_CAP if cap is None else cap
    today = timezone.localdate()
    if within is not None or parts is not None:
        parts = parts if parts is not None else _count_parts(user, within)
        return _run_counts(_counts_sql(parts, user, cap, today))
    reach = (user.is_active, user.role, user.is_superuser, user.department_id, user.leader_id)
    key = (reach, cap, today)
    built = _EVERYTHING_SQL.get(key)
    if built is None:
        built = _EVERYTHING_SQL[key] = _counts_sql(_count_parts(user), user, cap, today)
        while len(_EVERYTHING_SQL) > 512:
            _EVERYTHING_SQL.pop(next(iter(_EVERYTHING_SQL)))
    return _run_counts(built)


# (reach, cap, day) → the SQL and parameters of everything's counts; a few hundred at most.
_EVERYTHING_SQL: dict[tuple, tuple[str, list] | None] = {}


def _count_parts(user: User, within: QuerySet[Item] | None = None) -> list[QuerySet]:
    """The disjoint parts to count: ``within`` (or all the user sees) as one part, split
    into led and shared for an official."""
    if not user.is_official:
        return [Item.objects.visible_to(user) if within is None else within]
    department = user.department_id
    if within is not None:
        return led_and_shared(within, department)
    # All the official sees: the led part needs no "… or shared with me" condition.
    return [
        Item.objects.filter(lead_department_id=department).exclude(state=Item.State.DRAFT),
        CoDepartment.objects.filter(department_id=department)
        .exclude(state=Item.State.DRAFT)
        .exclude(lead_department_id=department),
    ]


def _counts_sql(parts, user: User, cap: int, today) -> tuple[str, list] | None:
    states = [s for s in Item.LIVE_STATES if s != Item.State.DRAFT or user.is_supervisor]
    return capped_sql(parts, states, cap, today)


def capped_sql(parts: list[QuerySet], states: list[str], cap: int, today) -> tuple | None:
    arms = []
    for part in parts:
        arms += [(state, part.filter(state=state)) for state in states]
        arms.append(("overdue", part.filter(overdue_condition(today))))
    sqls, params = [], []
    for name, qs in arms:
        try:
            # The state, not the id: an index on (…, state) answers the arm by itself.
            sql, arm_params = qs.order_by().values("state")[: cap + 1].query.sql_with_params()
        except EmptyResultSet:  # a filter that can match nothing (.none()): counts 0
            continue
        sqls.append(f"SELECT %s, (SELECT COUNT(*) FROM ({sql}) capped_{len(sqls)})")
        params += [name, *arm_params]
    if not sqls:
        return None
    return " UNION ALL ".join(sqls), params


def _run_counts(built: tuple[str, list] | None) -> dict[str, int]:
    counts = dict.fromkeys([*Item.LIVE_STATES, "overdue"], 0)
    if built is None:
        return counts
    sql, params = built
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for name, count in cursor.fetchall():
            counts[name] += count
    return counts


def first_by_deadline(
    user: User, condition: Q, n: int = 10, *, key: tuple | None = None
) -> list[Item]:
    """The first ``n`` open items this user sees that meet ``condition`` (on deadline),
    soonest deadline first: an official's and a leader's working lists.

    ``key`` names ``condition``, with the day it depends on: an official's query, the same
    for everyone in the department that day, is then built once and kept (building its six
    arms cost more than running them: 12 ms against 1 ms on SQLite).

    For an official, each open state of the led part and of the shared part (the latter on
    the co-department rows' copy of state and deadline) is read through its own index,
    (department, state, deadline), n rows in deadline order, and the database merges them
    in one query. One condition over "led or shared", or over the three open states at
    once, would sort every match first: a busy department's overdue items took 88 ms at a
    million items.
    """
    columns = ("round", "lead_department")
    condition &= Q(state__in=Item.OPEN_STATES)
    if not user.is_official:
        items = Item.objects.visible_to(user).filter(condition)
        return list(items.select_related(*columns).order_by("deadline", "id")[:n])
    department = user.department_id
    kept = None if key is None else (key, department, n)
    if kept in _FIRST_SQL:
        built = _FIRST_SQL[kept]
    else:
        arms = []
        for state in Item.OPEN_STATES:
            arms.append(
                Item.objects.filter(condition, lead_department_id=department, state=state)
                .order_by("deadline", "id")
                .values_list("id", "deadline", "id")[:n]
            )
            arms.append(
                CoDepartment.objects.filter(condition, department_id=department, state=state)
                .exclude(lead_department_id=department)
                .order_by("deadline", "item_id")
                .values_list("item_id", "deadline", "item_id")[:n]
            )
        built = paging.union_sql(arms, n, 2)  # by deadline, then id
        if kept is not None:
            _FIRST_SQL[kept] = built
            while len(_FIRST_SQL) > 512:
                _FIRST_SQL.pop(next(iter(_FIRST_SQL)))
    ids = paging.run_ids(Item.objects.db, built)
    return list(
        Item.objects.filter(pk__in=ids).select_related(*columns).order_by("deadline", "id")[:n]
    )


# (key, department, n) → first_by_deadline's query for an official; a few hundred at most.
_FIRST_SQL: dict[tuple, tuple[str, list] | None] = {}


def grouped_counts(items: QuerySet[Item]) -> dict[str, int]:
    """Items per state and overdue among ``items``, exactly, in one grouped pass."""
    counts = dict.fromkeys([*Item.LIVE_STATES, "overdue"], 0)
    rows = (
        items.order_by()
        .values("state")
        .annotate(n=Count("pk"), overdue=Count("pk", filter=overdue_condition()))
        .values_list("state", "n", "overdue")
    )
    for state, n, overdue in rows:
        counts[state] += n
        counts["overdue"] += overdue
    return counts


def _sum_counts(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    total = dict.fromkeys([*Item.LIVE_STATES, "overdue"], 0)
    for each in counts:
        for name, n in each.items():
            total[name] += n
    return total


def counts_of(matches: Iterable[Match]) -> dict[str, int]:
    """Items per state and overdue among a keyword's matches (at most a few thousand, all
    within the user's reach), counted here: building twelve capped count arms that each
    repeat the id list cost more than reading them all once."""
    counts = dict.fromkeys([*Item.LIVE_STATES, "overdue"], 0)
    today = timezone.localdate()
    for match in matches:
        counts[match[STATE]] += 1
        counts["overdue"] += is_overdue(match[STATE], match[DEADLINE], today)
    return counts
