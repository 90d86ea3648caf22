"""The supervision dashboard (督办看板): the figures of ``dashboard.figures`` with charts."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from ledger.access import works_on_items_required
from ledger.inputs import MAX_ID
from ledger.models import Item, Round

from . import charts
from .dashboard import Figures, Row, figures

# The most rows a breakdown's chart draws; its table lists them all.
CHART_ROWS = 15


def _round(value: str, rounds: list[Round]) -> Round | None:
    """The round chosen: the newest by default, None for "all"; 404 for one that does not
    exist."""
    if value == "all":
        return None
    if value == "":
        return rounds[0] if rounds else None
    if not value.isascii() or not value.isdigit() or not 0 < int(value) <= MAX_ID:
        raise Http404
    for r in rounds:
        if r.pk == int(value):
            return r
    raise Http404


def _parts() -> list[charts.Part]:
    return [
        charts.Part("closed", Item.State.CLOSED.label, charts.OK),
        charts.Part("on_time", _("Open, on time"), charts.ACCENT),
        charts.Part("overdue", _("Overdue"), charts.BAD),
    ]


def _stacked(rows: list[Row], title: str) -> str:
    stacks = [
        charts.Stack(
            row.label,
            {"closed": row.closed, "on_time": row.on_time, "overdue": row.overdue},
            row.links,
            row.link,
        )
        for row in rows[:CHART_ROWS]
    ]
    description = _(
        "Items of each group: closed out, open and on time, overdue; the table below has the "
        "figures."
    )
    return charts.stacked_chart(stacks, _parts(), title=title, description=description)


def _rate(row: Row) -> str:
    return "—" if row.rate is None else f"{row.rate}%"


def _charts(f: Figures) -> dict[str, str]:
    steps = [charts.Bar(s.label, s.count, s.link) for s in f.steps]
    weeks = [
        charts.Column(
            f"{w.start.month}/{w.start.day}",
            w.closed,
            w.link,
            f"{w.start.isoformat()} – {w.end.isoformat()}",
        )
        for w in f.weeks
    ]
    return {
        "steps": charts.bar_chart(
            steps,
            title=_("Items by step of the escalation ladder"),
            description=_("The highest step each item has reached; the list below has them."),
            colour=charts.WARN,
        ),
        "track": _stacked(f.by_track, _("Items by track")),
        "category": _stacked(f.by_category, _("Items by category")),
        "department": _stacked(f.by_department, _("Items by lead department")),
        "leader": _stacked(f.by_leader, _("Items by responsible leader")),
        "round": _stacked(f.by_round, _("Items by round")),
        "weeks": charts.column_chart(
            weeks,
            title=_("Items closed out each week"),
            description=_("One column a week, Monday to Sunday; the table below has the figures."),
            colour=charts.OK,
        ),
    }


@login_required
@works_on_items_required
def dashboard(request: HttpRequest) -> HttpResponse:
    rounds = list(Round.objects.only("pk", "name", "year", "kind"))
    chosen = _round(request.GET.get("round", ""), rounds)
    f = figures(request.user, chosen, rounds=rounds)
    breakdowns = [
        ("category", _("By category"), f.by_category),
        ("track", _("By track"), f.by_track),
        ("department", _("By lead department"), f.by_department),
        ("leader", _("By responsible leader"), f.by_leader),
        ("round", _("By round"), f.by_round),
    ]
    drawn = _charts(f)
    return render(
        request,
        "supervision/dashboard.html",
        {
            "f": f,
            "rounds": rounds,
            "chosen": chosen,
            "rate": _rate(f.totals),
            "charts": drawn,
            "steps_any": any(step.count for step in f.steps),
            "breakdowns": [
                {
                    "key": key,
                    "title": title,
                    "rows": [(row, _rate(row)) for row in rows],
                    "chart": drawn[key],
                    "more": max(0, len(rows) - CHART_ROWS),
                }
                for key, title, rows in breakdowns
                if rows
            ],
            "chart_rows": CHART_ROWS,
        },
    )
