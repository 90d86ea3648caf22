"""The ledger's filters (django-filter). The list page and every export apply the same
``ItemFilter`` through ``ledger.selectors.ledger_items``, so an export holds what the screen
showed.

Choice filters take plain ids or values and are rendered by the template from short
``values_list`` rows, not by django-filter's ModelChoiceFilter widgets: those render every
related row through the form machinery, which was most of a page's time with a few hundred
departments.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable

import django_filters
from django import forms
from django.db import connection, connections
from django.db.models import Q, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import StrIndex, Upper
from django.db.models.lookups import GreaterThan
from django.utils.translation import gettext_lazy as _

from .inputs import MAX_ID
from .models import Item, overdue_condition

# Up to this many matching items, a keyword becomes a list of ids (see filter_keyword).
KEYWORD_IDS = 5000


def id_list(ids: Iterable[int]) -> RawSQL:
    """A subquery of ``ids`` passed as one parameter (an array; JSON on SQLite), for
    ``pk__in``: as thousands of parameters, the driver spent longer parsing the query text
    than the database took to run it (34 ms of a 140 ms page at 3,400 ids)."""
    ids = [int(pk) for pk in ids]
    if connection.vendor == "postgresql":
        # The array as text: psycopg adapts a list in Python, one value at a time.
        return RawSQL("SELECT unnest(%s::bigint[])", ["{" + ",".join(map(str, ids)) + "}"])
    return RawSQL("SELECT value FROM json_each(%s)", [json.dumps(ids)])


def _through_bitmaps(rows: QuerySet) -> list[tuple]:
    """``rows``, the lookup of a word with a trigram, read with PostgreSQL told to use
    bitmap scans only.

    The lookup reads every match up to the cap, so the trigram index is the way to them; but
    the planner prices a LIKE on a row at a hundredth of the microsecond it takes, and would
    rather walk the round's index and test all 55,000 of its items (53 ms at 100,000 items;
    through the trigram index ANDed with the round's, 11 ms). Bitmaps only still lets it
    choose which indexes to AND. (A word without a trigram never reaches the index: see
    filter_keyword.)

    Set for this session and reset to the server's values once the rows are read, whatever
    happens: a connection is kept for the next request.
    """
    with connections[rows.db].cursor() as cursor:
        cursor.execute(
            "SELECT set_config('enable_seqscan', 'off', false),"
            " set_config('enable_indexscan', 'off', false)"
        )
        try:
            return list(rows)
        finally:
            cursor.execute("RESET enable_seqscan; RESET enable_indexscan")


# Three letters or digits in a row (CJK characters are letters): what pg_trgm makes a
# trigram of, in a database whose LC_CTYPE classifies them so (docs/ledger.md).
_TRIGRAM = re.compile(r"[^\W_]{3}")


def _has_trigram(word: str) -> bool:
    return _TRIGRAM.search(word) is not None


def _contains(word: str) -> Q:
    """The item's search text holds ``word``, in any case.

    On PostgreSQL a word without a trigram (one or two characters: most Chinese words)
    is tested with STRPOS, which no index answers: pg_trgm would return every row of the
    ledger for it, to be checked one by one (728 ms at a million items, before the
    bitmap with the round and department could narrow them), and STRPOS tests a row in
    two thirds of LIKE's time."""
    if connection.vendor == "postgresql" and not _has_trigram(word):
        position = StrIndex(Upper("search"), Upper(Value(word)))
        return Q(GreaterThan(position, 0))
    return Q(search__icontains=word)


# What a keyword's lookup read of each match (``ItemFilter.keyword_ids``): its row
# (id, state, deadline, *keyword_columns) as the database driver gave it. The state and
# deadline are what the state tabs count; the columns, those the list is sorted by, choose
# a page of the matches without reading them again. (A named tuple made for each match
# cost 4 ms at 3,400 matches.)
Match = tuple
STATE, DEADLINE, COLUMNS = 1, 2, 3  # where each is in a Match


class IdFilter(django_filters.NumberFilter):
    """A row's id: a whole number the id columns can hold (``ledger.inputs``). Anything
    else is an invalid filter, left out like any other, never a query that SQLite's driver
    cannot bind."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=1, max_value=MAX_ID, **kwargs)


class ItemFilter(django_filters.FilterSet):
    round = IdFilter(field_name="round_id", label=_("Round"))
    category = django_filters.CharFilter(field_name="category__name", label=_("Category"))
    lead = IdFilter(field_name="lead_department_id", label=_("Lead department"))
    co = IdFilter(method="filter_co", label=_("Co-responsible department"))
    leader = IdFilter(field_name="leader_id", label=_("Responsible leader"))
    # Applied by ledger.selectors.ledger_items, after the others, so that the state tabs can
    # count within every other filter without running them twice.
    state = django_filters.ChoiceFilter(
        choices=[(s, Item.State(s).label) for s in Item.LIVE_STATES],
        label=_("State"),
        method="filter_nothing",
    )
    overdue = django_filters.BooleanFilter(method="filter_overdue", label=_("Overdue"))
    escalated = django_filters.BooleanFilter(method="filter_escalated", label=_("Escalated"))
    due_from = django_filters.DateFilter(
        field_name="deadline", lookup_expr="gte", label=_("Deadline from")
    )
    due_to = django_filters.DateFilter(
        field_name="deadline", lookup_expr="lte", label=_("Deadline to")
    )
    # What the supervision dashboard's figures link to (docs/supervision.md): each selects
    # exactly the items behind a figure.
    track = django_filters.ChoiceFilter(choices=Item.Track.choices, label=_("Track"))
    # The escalation ladder's step an item has reached (Item.ladder_step), or none yet.
    ladder_step = django_filters.ChoiceFilter(
        choices=[*Item.LadderStep.choices, ("none", _("No step yet"))],
        method="filter_ladder_step",
        label=_("Ladder step"),
    )
    stage = django_filters.ChoiceFilter(
        choices=[("handed_over", _("Handed over (not awaiting assignment)")), ("open", _("Open"))],
        method="filter_stage",
        label=_("Stage"),
    )
    without = django_filters.ChoiceFilter(
        choices=[
            ("category", _("No category")),
            ("lead", _("No lead department")),
            ("leader", _("No responsible leader")),
        ],
        method="filter_without",
        label=_("Without"),
    )
    closed_from = django_filters.DateFilter(
        field_name="closed_on", lookup_expr="gte", label=_("Closed out from")
    )
    closed_to = django_filters.DateFilter(
        field_name="closed_on", lookup_expr="lte", label=_("Closed out to")
    )
    q = django_filters.CharFilter(method="filter_keyword", label=_("Keyword"))

    class Meta:
        model = Item
        fields: list[str] = []

    # The items a keyword narrowed the list to, when they were few enough to list: each id
    # with what the lookup read of it (None: no keyword, or one too common to list).
    keyword_ids: dict[int, Match] | None = None
    # The columns the keyword's lookup reads of each match besides its state and deadline
    # (``Match``): set by the list to those it sorts by.
    keyword_columns: tuple[str, ...] = ()
    # A word too common to list and without a trigram (most often one or two characters): no
    # index finds its matches, so counting them means reading the ledger (see Ledger.counts).
    keyword_scans: bool = False
    # Disjoint conditions whose union is the user's reach, each with an index of its own
    # (an official's: led by the department, shared with it): the lookup of a word without
    # a trigram reads each apart. As one "led or shared" condition it was tested on every
    # row of the ledger (an official's list for 学校 at 100,000 items: 108 → 48 ms).
    keyword_parts: tuple[Q, ...] = (Q(),)

    def filter_nothing(self, queryset, name, value):
        return queryset

    def filter_co(self, queryset, name, value):
        shares = Item.co_departments.through.objects.filter(department_id=value)
        return queryset.filter(pk__in=shares.values("item_id"))

    def filter_overdue(self, queryset, name, value):
        overdue = overdue_condition()
        return queryset.filter(overdue) if value else queryset.exclude(overdue)

    def filter_escalated(self, queryset, name, value):
        return queryset.filter(escalated_at__isnull=not value)

    def filter_ladder_step(self, queryset, name, value):
        return queryset.filter(ladder_step="" if value == "none" else value)

    def filter_stage(self, queryset, name, value):
        if value == "open":
            return queryset.filter(state__in=Item.OPEN_STATES)
        return queryset.exclude(state=Item.State.DRAFT)

    def filter_without(self, queryset, name, value):
        field = {"category": "category", "lead": "lead_department", "leader": "leader"}[value]
        return queryset.filter(**{f"{field}__isnull": True})

    def filter_keyword(self, queryset, name, value):
        """The item's number or problem, or the text of any suggestion merged into it: all
        of them are in the item's ``search`` text, kept by triggers.

        Each word's matches are looked up once, through the trigram index, as a list of
        item ids; the list then narrows every query of the page (rows and counts) by primary
        key. A word too common for that list (over KEYWORD_IDS matches) is left to the
        database as a condition.
        """
        # Full-width letters and digits typed with a Chinese IME match their half-width form.
        words = unicodedata.normalize("NFKC", value).split()
        for word in words[:5]:
            # Within what the other filters (declared above, applied first) left: one
            # condition on the item's row, so PostgreSQL ANDs the trigram index with the
            # round's and the department's before it reads a row, and the id list stays
            # short when they narrow, however common the word is in the ledger.
            matching = queryset.filter(_contains(word))
            # With each its state, deadline and sort values: the lookup reads the row
            # anyway (to recheck the trigram match), and the state tabs then count from
            # these (``keyword_ids``), and the page is chosen from them, instead of reading
            # every row once more.
            rows = matching.order_by().values_list("pk", "state", "deadline", *self.keyword_columns)
            # A word with a trigram is found through its index, whose rows are few enough to
            # test for the reach one by one; a word without one is a scan of the ledger,
            # cheaper as one scan per part, each through its own index, in one query (SQLite
            # cannot limit the arms of a UNION: there it stays one scan).
            trigram = _has_trigram(word)
            split = (
                self.keyword_parts
                if not trigram and connection.features.supports_slicing_ordering_in_compound
                else (Q(),)
            )
            parts = [rows.filter(part)[: KEYWORD_IDS + 1] for part in split]
            lookup = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
            bitmaps = trigram and connection.vendor == "postgresql"
            read = _through_bitmaps(lookup) if bitmaps else list(lookup)
            ids = {row[0]: row for row in read[: KEYWORD_IDS + 1]}
            if not ids:
                return queryset.none()
            if len(ids) > KEYWORD_IDS:
                self.keyword_ids = None
                self.keyword_scans = self.keyword_scans or not trigram
                queryset = matching
                continue
            self.keyword_ids = ids
            # Ids alone, so that every query of the page reaches its rows by primary key.
            # They were found within ``queryset`` (the user's reach and the other filters),
            # so those conditions hold for each of them already: repeating them would only
            # make the planner combine large index scans (a whole round, a whole
            # department) with this short list on every count.
            queryset = Item.objects.filter(pk__in=id_list(ids))
        return queryset
