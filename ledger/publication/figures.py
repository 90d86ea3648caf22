"""Figures drawn from the ledger for a section's scope, and the placeholders that show them.

A section's text may say "共梳理问题{{ total }}个，完成整改{{ closed }}个，整改率{{ rate }}".
The placeholders are substituted here by name, from a fixed list: the Django template engine
never sees user text. An unknown name is an error that names it.

Scope: a round, a category of a round, a department (optionally within a round). Items
awaiting assignment (drafts) are the office's work in hand and are counted nowhere.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ledger.models import Item, Suggestion

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")

# name → what it counts (shown on the compose page and in docs/publication.md).
FIGURES: dict[str, object] = {
    "received": _("suggestions received in the scope's rounds, whatever became of them"),
    "consolidated": _("items they were consolidated into, drafts included"),
    "total": _("items (drafts excluded)"),
    "suggestions": _("suggestions received and merged into those items"),
    "closed": _("items closed out"),
    "done": _("items closed out as done"),
    "long_term": _("items closed out as long-term"),
    "in_progress": _("items still being rectified (assigned, in progress, requested)"),
    "overdue": _("items overdue today"),
    "rate": _("closed ÷ total, as a percentage with two decimals, rounded half up"),
}


class UnknownPlaceholder(ValueError):
    def __init__(self, names: list[str]):
        self.names = names
        super().__init__(", ".join(names))


def placeholders(text: str) -> list[str]:
    return [m.group(1) for m in PLACEHOLDER.finditer(text or "")]


def unknown_placeholders(text: str) -> list[str]:
    seen: list[str] = []
    for name in placeholders(text):
        if name not in FIGURES and name not in seen:
            seen.append(name)
    return seen


def rate(closed: int, total: int) -> str:
    """98.52%: two decimals, rounded half up, as the seeds write it."""
    if not total:
        return "0.00%"
    value = (Decimal(closed) * 100 / Decimal(total)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    return f"{value}%"


def compute(round_id=None, category_id=None, department_id=None) -> dict[str, str]:
    """The figures of one scope, as the strings a notice shows. One aggregate query plus
    one count of suggestions."""
    items = Item.objects.exclude(state=Item.State.DRAFT)
    if round_id:
        items = items.filter(round_id=round_id)
    if category_id:
        items = items.filter(category_id=category_id)
    if department_id:
        items = items.filter(lead_department_id=department_id)
    today = timezone.localdate()
    agg = items.aggregate(
        total=Count("pk"),
        closed=Count("pk", filter=Q(state=Item.State.CLOSED)),
        done=Count("pk", filter=Q(state=Item.State.CLOSED, outcome_kind="done")),
        long_term=Count("pk", filter=Q(state=Item.State.CLOSED, outcome_kind="long_term")),
        in_progress=Count("pk", filter=Q(state__in=Item.OPEN_STATES)),
        overdue=Count("pk", filter=Q(state__in=Item.OPEN_STATES, deadline__lt=today)),
    )
    agg["suggestions"] = Suggestion.objects.filter(item__in=items.values("pk")).count()
    # What the office received and what it made of it, as a notice opens ("收到547条，归纳为
    # 538条"): every suggestion of the round, every item including those not yet assigned.
    everything = Item.objects.all()
    received = Suggestion.objects.all()
    if round_id:
        everything = everything.filter(round_id=round_id)
        received = received.filter(round_id=round_id)
    if category_id:
        everything = everything.filter(category_id=category_id)
    if department_id:
        everything = everything.filter(lead_department_id=department_id)
    if category_id or department_id:
        received = received.filter(item__in=everything.values("pk"))
    agg["consolidated"] = everything.count()
    agg["received"] = received.count()
    figures = {name: str(value) for name, value in agg.items()}
    figures["rate"] = rate(agg["closed"], agg["total"])
    return figures


def fill(text: str, figures: dict[str, str]) -> str:
    """Substitute known placeholders; raises UnknownPlaceholder naming the others."""
    unknown = unknown_placeholders(text)
    if unknown:
        raise UnknownPlaceholder(unknown)
    return PLACEHOLDER.sub(lambda m: figures[m.group(1)], text or "")
