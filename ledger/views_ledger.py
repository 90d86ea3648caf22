"""The ledger list (台账) and each role's home page."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from . import paging
from .models import Category, Department, Event, Extension, Item, Leader, Round
from .selectors import DEFAULT_SORT, SORTS, capped_counts, ledger_items

PAGE_SIZES = (20, 50, 200)
LIST_COLUMNS = ("round", "category", "leader", "lead_department")


def _choices() -> dict[str, list]:
    """The filters' options as short (id, label) rows, rendered by a plain template loop."""
    names: dict[str, None] = {}
    for name in Category.objects.order_by("order", "name").values_list("name", flat=True):
        names.setdefault(name)
    return {
        "rounds": list(Round.objects.values_list("id", "name")),
        "categories": list(names),
        "departments": list(Department.objects.filter(is_active=True).values_list("id", "name")),
        "leaders": [
            (pk, f"{post} {name}")
            for pk, name, post in Leader.objects.filter(is_active=True).values_list(
                "id", "name", "post"
            )
        ],
    }


def _state_rows(user, counts: dict[str, int]) -> list[tuple[str, str, int]]:
    """(state, label, count) for the tabs and tiles; drafts only for those who see them."""
    return [
        (value, label, counts[value])
        for value, label in Item.State.choices
        if value != Item.State.DRAFT or user.is_supervisor
    ]


@login_required
def item_list(request: HttpRequest) -> HttpResponse:
    itemfilter, items = ledger_items(user=request.user, params=request.GET)
    sort_name = request.GET.get("sort", DEFAULT_SORT)
    if sort_name not in SORTS:
        sort_name = DEFAULT_SORT
    option = SORTS[sort_name]
    try:
        size = int(request.GET.get("size", settings.LEDGER_PAGE_SIZE))
    except ValueError:
        size = settings.LEDGER_PAGE_SIZE
    if size not in PAGE_SIZES:
        size = settings.LEDGER_PAGE_SIZE
    page = paging.page(
        items.select_related(*LIST_COLUMNS),
        option.sort,
        option.kinds,
        size=size,
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
        last=request.GET.get("last") == "1",
    )
    # The tabs count each state within the other filters, so they stay useful once one
    # state is chosen.
    without_state = request.GET.copy()
    without_state.pop("state", None)
    _f, tab_items = ledger_items(user=request.user, params=without_state)
    counts = capped_counts(tab_items)
    states = _state_rows(request.user, counts)
    return render(
        request,
        "ledger/item_list.html",
        {
            "filter": itemfilter,
            "form": itemfilter.form,
            "page": page,
            "states": states,
            "total": sum(counts[value] for value in Item.State.values),
            "overdue_count": counts["overdue"],
            "sort": sort_name,
            "size": size,
            "page_sizes": PAGE_SIZES,
            "today": timezone.localdate(),
            "filtered": any(request.GET.get(k) for k in itemfilter.filters if k != "state"),
            **_choices(),
        },
    )


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    items = Item.objects.visible_to(user)
    counts = capped_counts(items)
    today = timezone.localdate()
    soon = today + datetime.timedelta(days=settings.DUE_SOON_DAYS)
    columns = ("round", "lead_department")
    context = {
        "states": _state_rows(user, counts),
        "total": sum(counts[value] for value in Item.State.values),
        "overdue_count": counts["overdue"],
        "due_soon_days": settings.DUE_SOON_DAYS,
        "today": today,
    }
    if user.is_supervisor:
        context["queue"] = {
            "requested": counts[Item.State.REQUESTED],
            "extensions": Extension.objects.filter(status=Extension.Status.PENDING).count(),
            "declined": Item.objects.filter(
                Exists(Event.objects.filter(item=OuterRef("pk"), kind=Event.Kind.DECLINE)),
                state=Item.State.DRAFT,
            ).count(),
        }
    else:
        # An official's or leader's working lists: what is late, and what falls due soon.
        context["overdue"] = list(
            items.overdue(today).select_related(*columns).order_by("deadline", "id")[:10]
        )
        context["due_soon"] = list(
            items.filter(state__in=Item.OPEN_STATES, deadline__gte=today, deadline__lte=soon)
            .select_related(*columns)
            .order_by("deadline", "id")[:10]
        )
        if user.is_leader:
            context["recent"] = list(
                items.select_related(*columns).order_by("-updated_at", "-id")[:10]
            )
    return render(request, "ledger/home.html", context)
