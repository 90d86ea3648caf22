"""Queries over many items, shared by the pages and the exports."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping

from django.db import connection
from django.db.models import DateField, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .filters import ItemFilter
from .models import Item, User
from .paging import Sort

# Counts above the list stop at this many: beyond it a count would read every matching row
# of a large ledger on every page view, and "10000+" says as much as the exact figure.
COUNT_CAP = 10_000
FAR_FUTURE = datetime.date(9999, 12, 31)


@dataclasses.dataclass(frozen=True)
class SortOption:
    label: str
    sort: Sort
    kinds: list[type]


SORTS: dict[str, SortOption] = {
    "number": SortOption(_("Number"), Sort(("round_id", "number")), [int, str]),
    "-number": SortOption(_("Number"), Sort(("round_id", "number"), True), [int, str]),
    # Items without a deadline sort after every dated one.
    "deadline": SortOption(_("Deadline"), Sort(("deadline_key", "id")), [datetime.date, int]),
    "-deadline": SortOption(
        _("Deadline"), Sort(("deadline_key", "id"), True), [datetime.date, int]
    ),
    "percent": SortOption(_("Progress"), Sort(("percent", "id")), [int, int]),
    "-percent": SortOption(_("Progress"), Sort(("percent", "id"), True), [int, int]),
    "-updated": SortOption(
        _("Last change"), Sort(("updated_at", "id"), True), [datetime.datetime, int]
    ),
    "updated": SortOption(_("Last change"), Sort(("updated_at", "id")), [datetime.datetime, int]),
}
DEFAULT_SORT = "number"


def ledger_items(*, user: User, params: Mapping) -> tuple[ItemFilter, QuerySet[Item]]:
    """The items this user may see, narrowed by the ledger's filters in ``params``.

    The list page and every export start here, so an export holds exactly what the screen
    showed, and nobody's export reaches past what they may see.
    """
    base = Item.objects.visible_to(user)
    itemfilter = ItemFilter(params or None, queryset=base)
    items = itemfilter.qs.annotate(
        deadline_key=Coalesce("deadline", Value(FAR_FUTURE), output_field=DateField())
    )
    return itemfilter, items


def capped_counts(queryset: QuerySet[Item], cap: int = COUNT_CAP) -> dict[str, int]:
    """Items per state, and overdue, each counted up to ``cap + 1``, in one query.

    Each arm is ``SELECT COUNT(*) FROM (… LIMIT cap + 1)``, so the work is bounded by the
    cap whatever the size of the ledger; a figure above ``cap`` means "more than cap".
    """
    today = timezone.localdate()
    arms = [(state, queryset.filter(state=state)) for state in Item.State.values]
    arms.append(("overdue", queryset.filter(state__in=Item.OPEN_STATES, deadline__lt=today)))
    parts, params = [], []
    for name, qs in arms:
        sql, arm_params = qs.order_by().values("pk")[: cap + 1].query.sql_with_params()
        parts.append(f"SELECT %s, (SELECT COUNT(*) FROM ({sql}) capped_{len(parts)})")
        params += [name, *arm_params]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        return {name: count for name, count in cursor.fetchall()}
