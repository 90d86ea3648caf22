from __future__ import annotations

from urllib.parse import urlencode

from django import template
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape as e
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from ..models import Item
from ..selectors import COUNT_CAP

register = template.Library()

# Parameters that name a position in the list: any change of filter or order drops them.
POSITION = ("after", "before", "last")


@register.simple_tag
def query(params: QueryDict, **changes) -> str:
    """``?…`` for the current query string with some parameters set, or removed (None).

    Changing anything but the position goes back to the first page. A changed parameter
    keeps its place in the string; a new one goes at the end. (Built from the pairs, not by
    copying the QueryDict: a list page calls this a dozen times, and the copy is a deep one.)
    """
    dropped = set(POSITION) if set(changes) - set(POSITION) else set()
    pairs = []
    for name, values in params.lists():
        if name in dropped:
            continue
        if name in changes:
            value = changes[name]
            if value is not None and value != "":
                pairs.append((name, value))
            continue
        pairs.extend((name, value) for value in values)
    pairs.extend(
        (name, value)
        for name, value in changes.items()
        if name not in params and value is not None and value != ""
    )
    return f"?{urlencode(pairs)}" if pairs else "?"


@register.filter
def capped(count: int) -> str:
    """A count from ``selectors.state_counts``: exact up to the cap, "1,000+" beyond."""
    return f"{COUNT_CAP:,}+" if count > COUNT_CAP else str(count)


# One table row of the ledger list. Filled by str.format with values each escaped first.
ROW = (
    '<tr>\n    <td class="num" data-label="{l_number}"><a href="{href}">{number}</a></td>\n'
    '    <td class="title" data-label="{l_problem}"><a href="{href}">{title}</a>\n'
    '      <div class="meta">{meta}</div></td>\n'
    '    <td data-label="{l_lead}">{lead}</td>\n'
    '    <td class="nowrap" data-label="{l_deadline}">{light}{deadline}</td>\n'
    '    <td data-label="{l_progress}"><span class="bar"><progress max="100" value="{percent}">'
    '{percent}%</progress><span class="bar-n">{percent}%</span></span></td>\n'
    '    <td data-label="{l_state}"><span class="badge badge-{state}">{state_label}</span></td>\n'
    "  </tr>\n"
)
LIGHT = '<span class="light light-{0}" title="{1}"><span class="sr">{1}</span></span> '
# A placeholder key: the item page's URL is reversed once with it and cut around it.
URL_KEY = 987654321


@register.simple_tag
def ledger_rows(items, names: dict[str, dict]) -> str:
    """The ledger list's table rows, one per item; ``names``: the round's, category's,
    leader's and department's names by id (the list reads the items alone).

    Built here rather than by a template loop: the loop cost about half a millisecond a row
    (some forty variable lookups, a URL and two filters each), a fifth of a 20-row page's
    time and most of a 200-row page's. Every value that varies is escaped (``escape``) before
    it is placed; the labels once, for every row.
    """
    labels = {
        key: e(label)
        for key, label in (
            ("l_number", _("Number")),
            ("l_problem", _("Problem")),
            ("l_lead", _("Lead department")),
            ("l_deadline", _("Deadline")),
            ("l_progress", _("Progress")),
            ("l_state", _("State")),
        )
    }
    lights = {
        name: LIGHT.format(name, e(label))
        for name, label in (
            ("red", _("Overdue")),
            ("yellow", _("Due soon")),
            ("green", _("On track")),
        )
    }
    lights[""] = ""
    escalated = f' · <span class="flag">{e(_("Escalated"))}</span>'
    # The step of the escalation ladder the item has reached, kept on its row.
    steps = {
        value: f' · <span class="badge badge-ladder-{value}">{e(label)}</span>'
        for value, label in Item.LadderStep.choices
    }
    long_term = e(pgettext("deadline", "Long-term"))
    states = {value: e(label) for value, label in Item.State.choices}
    # The item page's URL, reversed once: the key is the only part that varies.
    before, after = reverse("ledger:item", args=[URL_KEY]).split(str(URL_KEY))
    today = timezone.localdate()
    rows = []
    rounds, categories = names["round"], names["category"]
    leaders, departments = names["leader"], names["department"]
    for item in items:
        meta = e(rounds[item.round_id])
        if item.category_id is not None:
            meta += " · " + e(categories[item.category_id])
        if item.leader_id is not None:
            post, name = leaders[item.leader_id]
            meta += f" · {e(post)} {e(name)}"
        if item.ladder_step in steps:
            meta += steps[item.ladder_step]
        elif item.escalated_at:
            meta += escalated
        if item.long_term:
            deadline = long_term
        else:
            deadline = item.deadline.strftime("%Y-%m-%d") if item.deadline else "—"
        rows.append(
            ROW.format(
                href=e(f"{before}{item.pk}{after}"),
                number=e(item.number),
                title=e(item.title),
                meta=meta,
                lead=(
                    e(departments[item.lead_department_id])
                    if item.lead_department_id is not None
                    else "—"
                ),
                light=lights[item.light(today)],
                deadline=deadline,
                percent=int(item.percent),
                state=e(item.state),
                state_label=states.get(item.state) or e(item.state),
                **labels,
            )
        )
    return mark_safe("".join(rows))  # every varying value escaped above
