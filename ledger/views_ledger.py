"""The ledger list (台账) and each role's home page."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from . import paging
from .models import (
    Category,
    Department,
    Event,
    Extension,
    Item,
    Leader,
    Round,
    due_within_condition,
    overdue_condition,
)
from .selectors import DEFAULT_SORT, SORTS, first_by_deadline, ledger_items, state_counts

PAGE_SIZES = (20, 50, 200)
CHOICES_SECONDS = 30
LOOKUPS_KEY = "ledger:lookups"


def _lookups(fresh: bool = False) -> dict[str, dict]:
    """What the list shows of the small tables (rounds, categories, departments, leaders):
    the filters' ``<option>`` tags, none selected (``options``), and each row's name by id
    for the table's rows (``names``).

    Kept for CHOICES_SECONDS: four queries and the building of a few hundred tags saved on
    every list view, and the list's rows read without joining the four tables (planning
    that join took 2–3 ms of every page). The price: a department or leader added in the
    admin appears in the filters up to that late, and a renamed one keeps its old name in
    the list as long. A row whose department (or leader, round, category) is newer than
    the kept names reads them again (``fresh``).
    """
    if fresh:
        lookups = _read_lookups()
        cache.set(LOOKUPS_KEY, lookups, CHOICES_SECONDS)
        return lookups
    return cache.get_or_set(LOOKUPS_KEY, _read_lookups, CHOICES_SECONDS)


def _read_lookups() -> dict[str, dict]:
    rounds = list(Round.objects.values_list("id", "name"))
    categories = list(Category.objects.order_by("order", "name").values_list("id", "name"))
    departments = list(Department.objects.values_list("id", "name", "is_active"))
    leaders = list(Leader.objects.values_list("id", "name", "post", "is_active"))
    category_names = dict.fromkeys(name for _, name in categories)  # each name once, in order
    active = _options((pk, name) for pk, name, is_active in departments if is_active)
    return {
        "options": {
            "round": _options(rounds),
            "category": _options((name, name) for name in category_names),
            "lead": active,
            "co": active,
            "leader": _options(
                (pk, f"{post} {name}") for pk, name, post, is_active in leaders if is_active
            ),
        },
        "names": {
            "round": dict(rounds),
            "category": dict(categories),
            "department": {pk: name for pk, name, _ in departments},
            "leader": {pk: (post, name) for pk, name, post, _ in leaders},
        },
    }


def _names_for(rows) -> dict[str, dict]:
    """The kept names, read again if one of ``rows`` names a row they do not hold."""
    names = _lookups()["names"]
    for item in rows:
        if (
            item.round_id not in names["round"]
            or (item.category_id is not None and item.category_id not in names["category"])
            or (item.leader_id is not None and item.leader_id not in names["leader"])
            or (
                item.lead_department_id is not None
                and item.lead_department_id not in names["department"]
            )
        ):
            return _lookups(fresh=True)["names"]
    return names


def _options(rows) -> str:
    """``<option>`` tags for one filter dropdown, built in one pass rather than by a
    template loop."""
    return format_html_join("", '<option value="{}">{}</option>', rows)


def _filter_options(form) -> dict[str, str]:
    """Each dropdown's options, the chosen one selected."""
    chosen = getattr(form, "cleaned_data", {})
    out = {}
    for name, options in _lookups()["options"].items():
        value = chosen.get(name)
        if value not in (None, ""):
            # The chosen option's tag, as _options wrote it, marked selected.
            tag = format_html('<option value="{}">', value)
            options = mark_safe(options.replace(tag, tag[:-1] + " selected>", 1))
        out[f"{name}_options"] = options
    return out


def _state_rows(user, counts: dict[str, int]) -> list[tuple[str, str, int]]:
    """(state, label, count) for the tabs and tiles; drafts only for those who see them."""
    return [
        (value, Item.State(value).label, counts[value])
        for value in Item.LIVE_STATES
        if value != Item.State.DRAFT or user.is_supervisor
    ]


def _administrator_only(user) -> bool:
    """An administrator sees no item (三员): their home is system administration; nor does
    the auditor, whose home is the audit trail."""
    return (user.is_administrator or user.is_auditor) and not user.works_on_items


@login_required
def item_list(request: HttpRequest) -> HttpResponse:
    if _administrator_only(request.user):
        raise Http404
    sort_name = request.GET.get("sort", DEFAULT_SORT)
    if sort_name not in SORTS:
        sort_name = DEFAULT_SORT
    option = SORTS[sort_name]
    ledger = ledger_items(user=request.user, params=request.GET, sort=option.sort)
    try:
        size = int(request.GET.get("size", settings.LEDGER_PAGE_SIZE))
    except ValueError:
        size = settings.LEDGER_PAGE_SIZE
    if size not in PAGE_SIZES:
        size = settings.LEDGER_PAGE_SIZE
    page = paging.page(
        ledger.items,
        option.sort,
        option.kinds,
        size=size,
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
        last=request.GET.get("last") == "1",
        parts=ledger.parts,
        keys=ledger.keys(option.sort),
        by_id=ledger.by_id,
    )
    # The tabs count each state within the other filters, so they stay useful once one
    # state is chosen.
    counts = ledger.counts(request.user)
    itemfilter = ledger.filter
    return render(
        request,
        "ledger/item_list.html",
        {
            "form": itemfilter.form,
            "page": page,
            "names": _names_for(page.rows),
            "states": _state_rows(request.user, counts),
            "total": sum(counts[value] for value in Item.LIVE_STATES),
            "overdue_count": counts["overdue"],
            "sort": sort_name,
            "size": size,
            "page_sizes": PAGE_SIZES,
            "filtered": any(request.GET.get(k) for k in itemfilter.filters if k != "state"),
            **_filter_options(itemfilter.form),
        },
    )


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.is_auditor:
        return redirect("ledger:audit")
    if _administrator_only(user):
        return redirect("manage:hub")
    counts = state_counts(user)
    today = timezone.localdate()
    columns = ("round", "lead_department")
    context = {
        "states": _state_rows(user, counts),
        "total": sum(counts[value] for value in Item.LIVE_STATES),
        "overdue_count": counts["overdue"],
        "due_soon_days": settings.DUE_SOON_DAYS,
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
        days = settings.DUE_SOON_DAYS
        context["overdue"] = first_by_deadline(
            user, overdue_condition(today), key=("overdue", today)
        )
        context["due_soon"] = first_by_deadline(
            user, due_within_condition(days, today), key=("due", days, today)
        )
        if user.is_leader:
            context["recent"] = list(
                Item.objects.visible_to(user)
                .select_related(*columns)
                .order_by("-updated_at", "-id")[:10]
            )
    return render(request, "ledger/home.html", context)
