"""Department scores (部门考评): each department's figures for one round, each measure
made a score from 0 to 100, and the weighted score a supervisor's weights make of them.

The items counted are those of the round that were handed over: assigned, in progress,
close-out requested or closed out. A draft is nobody's yet; a withdrawn item, or one merged
into another, counts nowhere (``Item.objects`` leaves them out). docs/supervision.md
(Department scores) says the same for the people who read the table.

The figures of a department (``Row``):

- ``led``: items it leads; ``shared``: items it is a co-responsible department of
  (``CoDepartment``). Every other figure is of the led items: the lead department asks for
  the close-out and answers for it.
- ``due``: items with a deadline whose last day to close (below) has passed, or that are
  closed out. ``on_time``: of those, the items closed out on or before that last day.
  A long-term item (no deadline) is never due.
- The last day to close is the deadline in force: the one set at assignment, by 调整交办 or
  by a granted extension (the office judged the new date fair), but not the new deadline a
  挂牌督办 gives a late item (that item was late already). When it falls on a day off, the
  next working day (《民法典》第二百零三条: a period ending on a holiday ends the day after).
- ``closed``; ``timed``: closed items with an assignment on record, and ``days``: their
  working days from the latest assignment (交办) to the close-out, summed.
- ``requests`` and ``returns``: close-out requests made and returned (退回).
- ``overdue``: open and past the deadline today, as the ledger counts it
  (``overdue_condition``).
- ``escalations``: 催办, 挂牌督办 and 通报 events (the confirmed ladder steps and the manual
  挂牌督办).
- ``satisfied``, ``basic``, ``unsatisfied``: the items' phone review ratings
  (``Item.satisfaction``).

Each measure as a score (``MEASURES``), exact until rounded; a measure with nothing to count
has no score, and the weighted score is over the measures that have one.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import math
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from django.db.models import Count, Max, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django_tasks import task
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

from ledger import jobs
from ledger.intake.export import text_cell
from ledger.models import CoDepartment, Department, Event, Item, Round, User, overdue_condition

from . import charts as draw
from .models import LadderStep, ScoreSheet, ScoreWeights
from .workdays import WorkCalendar, calendar

State = Item.State
HANDED_OVER = (*Item.OPEN_STATES, State.CLOSED)

# The order of the table's columns and of the weights page.
MEASURES = ("on_time", "speed", "returns", "overdue", "escalations", "satisfaction")
LABELS = {
    "on_time": _("On-time close-out"),
    "speed": _("Speed of close-out"),
    "returns": _("Close-outs not returned"),
    "overdue": _("Not overdue"),
    "escalations": _("Not escalated"),
    "satisfaction": _("Satisfaction"),
}
# What the figure above each measure's score counts.
FIGURES = {
    "on_time": _("on time / due"),
    "speed": _("average working days"),
    "returns": _("returned / requests"),
    "overdue": _("items overdue"),
    "escalations": _("times escalated"),
    "satisfaction": _("items rated"),
}
HELP = {
    "on_time": _("Items closed out on time ÷ items due, as a percentage."),
    "speed": _(
        "100 for a close-out the day of assignment, falling evenly to 0 at %(days)s working "
        "days on average."
    ),
    "returns": _("100 − returned close-out requests ÷ close-out requests × 100."),
    "overdue": _("100 − items overdue today ÷ items led × 100."),
    "escalations": _("100 − urgings, escalations and bulletins ÷ items led × 100, at least 0."),
    "satisfaction": _(
        "The phone review: satisfied 100, mostly satisfied 80, not satisfied 0, averaged."
    ),
}
# The weights when no supervisor has set any: the close-out on time first, as the office
# is judged by it; the rest shares the other half.
DEFAULT_WEIGHTS = {
    "on_time": Decimal(30),
    "speed": Decimal(15),
    "returns": Decimal(10),
    "overdue": Decimal(20),
    "escalations": Decimal(10),
    "satisfaction": Decimal(15),
}
# The average working days to close at which the speed scores 0: a quarter's working days.
SPEED_ZERO_DAYS = 60
# The score of each rating of the phone review.
SATISFACTION_POINTS = {
    Item.Satisfaction.SATISFIED: 100,
    Item.Satisfaction.BASIC: 80,
    Item.Satisfaction.UNSATISFIED: 0,
}
ESCALATION_KINDS = (Event.Kind.URGE, Event.Kind.ESCALATE, Event.Kind.CIRCULATE)


def help_text(measure: str) -> str:
    """How ``measure`` is scored, in a sentence."""
    return (
        str(HELP[measure]) % {"days": SPEED_ZERO_DAYS} if measure == "speed" else str(HELP[measure])
    )


def rounded(value: Fraction | None) -> Decimal | None:
    """One decimal, half up, from the exact value (2/3 of 100 is 66.7, 66.65 is 66.7): every
    figure of the table is rounded once, here, from exact fractions."""
    if value is None:
        return None
    return Decimal(math.floor(value * 10 + Fraction(1, 2))).scaleb(-1)


def shown(value: Decimal | None) -> str | None:
    """A rounded figure as the table and a published sheet keep it: "66.7", "100.0"."""
    return None if value is None else f"{value:.1f}"


# --- Weights ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Weights:
    values: dict[str, Decimal]
    set_at: datetime.datetime | None = None
    set_by: str = ""

    def as_json(self) -> dict[str, str]:
        """The weights as stored: each a decimal written as text, so that none is a float."""
        return {m: _plain(self.values.get(m, Decimal(0))) for m in MEASURES}


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def read_weights(stored) -> dict[str, Decimal]:
    """Weights from their JSON: a measure missing, negative or not a number weighs 0."""
    values = {}
    for measure in MEASURES:
        raw = stored.get(measure) if isinstance(stored, dict) else None
        try:
            value = Decimal(str(raw)) if raw is not None else Decimal(0)
        except (InvalidOperation, ValueError):
            value = Decimal(0)
        values[measure] = value if value.is_finite() and value > 0 else Decimal(0)
    return values


def current_weights() -> Weights:
    """The weights in force: the newest row a supervisor saved, or the defaults."""
    row = ScoreWeights.objects.select_related("set_by").order_by("-set_at", "-pk").first()
    if row is None:
        return Weights(dict(DEFAULT_WEIGHTS))
    return Weights(
        read_weights(row.weights),
        row.set_at,
        row.set_by.display_name() if row.set_by else "",
    )


# --- The figures -----------------------------------------------------------------------------


@dataclasses.dataclass
class Row:
    department_id: int
    department: str
    order: int = 0
    led: int = 0
    shared: int = 0
    due: int = 0
    on_time: int = 0
    closed: int = 0
    timed: int = 0
    days: int = 0
    requests: int = 0
    returns: int = 0
    overdue: int = 0
    escalations: int = 0
    satisfied: int = 0
    basic: int = 0
    unsatisfied: int = 0
    measures: dict[str, Fraction | None] = dataclasses.field(default_factory=dict)
    score: Fraction | None = None
    rank: int | None = None

    @property
    def rated(self) -> int:
        return self.satisfied + self.basic + self.unsatisfied

    def ratings(self) -> dict[str, int]:
        return {
            Item.Satisfaction.SATISFIED: self.satisfied,
            Item.Satisfaction.BASIC: self.basic,
            Item.Satisfaction.UNSATISFIED: self.unsatisfied,
        }

    @property
    def average_days(self) -> Fraction | None:
        return Fraction(self.days, self.timed) if self.timed else None

    def measure(self) -> None:
        """Each measure as a score from 0 to 100, or None when it has nothing to count."""
        led, average = self.led, self.average_days
        self.measures = {
            "on_time": Fraction(100 * self.on_time, self.due) if self.due else None,
            "speed": (
                100 * max(Fraction(0), 1 - average / SPEED_ZERO_DAYS)
                if average is not None
                else None
            ),
            "returns": (
                100 * max(Fraction(0), 1 - Fraction(self.returns, self.requests))
                if self.requests
                else None
            ),
            "overdue": 100 * (1 - Fraction(self.overdue, led)) if led else None,
            "escalations": (
                100 * max(Fraction(0), 1 - Fraction(self.escalations, led)) if led else None
            ),
            "satisfaction": (
                Fraction(
                    sum(
                        SATISFACTION_POINTS[rating] * count
                        for rating, count in self.ratings().items()
                    ),
                    self.rated,
                )
                if self.rated
                else None
            ),
        }

    def weigh(self, weights: dict[str, Decimal]) -> None:
        """The weighted mean of the measures that have a score; None when none has, or
        every one that has weighs 0."""
        total, weight = Fraction(0), Fraction(0)
        for measure, value in self.measures.items():
            w = Fraction(weights.get(measure, Decimal(0)))
            if value is not None and w > 0:
                total += w * value
                weight += w
        self.score = total / weight if weight else None

    def as_json(self) -> dict:
        """The row as a published sheet keeps it and every page, workbook and PDF shows
        it: counts as numbers, rounded figures as text."""
        return {
            "department_id": self.department_id,
            "department": self.department,
            "rank": self.rank,
            "led": self.led,
            "shared": self.shared,
            "due": self.due,
            "on_time": self.on_time,
            "closed": self.closed,
            "timed": self.timed,
            "average_days": shown(rounded(self.average_days)),
            "requests": self.requests,
            "returns": self.returns,
            "overdue": self.overdue,
            "escalations": self.escalations,
            "rated": self.rated,
            "satisfied": self.satisfied,
            "basic": self.basic,
            "unsatisfied": self.unsatisfied,
            "measures": {m: shown(rounded(self.measures.get(m))) for m in MEASURES},
            "score": shown(rounded(self.score)),
        }


@dataclasses.dataclass
class Scores:
    round: Round
    as_of: datetime.date
    weights: Weights
    rows: list[Row]

    def as_json(self) -> list[dict]:
        return [row.as_json() for row in self.rows]


def last_day(deadline: datetime.date, cal: WorkCalendar) -> datetime.date:
    """The last day to close an item on time: the deadline, or the next working day when
    the deadline is a day off."""
    return deadline if cal.is_workday(deadline) else cal.add(deadline, 1)


def _escalated(round_id: int) -> tuple[dict, dict]:
    """The deadlines 挂牌督办 gave, from the confirmed ladder steps that set one: item →
    {deadline given: the deadline it was given for}; and the open items among them, item →
    (lead department, deadline)."""
    steps = LadderStep.objects.filter(
        item__round_id=round_id,
        item__state__in=HANDED_OVER,
        item__lead_department__isnull=False,
        status=LadderStep.Status.CONFIRMED,
        new_deadline__isnull=False,
    ).values_list(
        "item_id",
        "deadline",
        "new_deadline",
        "item__state",
        "item__lead_department_id",
        "item__deadline",
    )
    given: dict[int, dict[datetime.date, datetime.date]] = {}
    still_open: dict[int, tuple[int, datetime.date]] = {}
    for item_id, deadline, new_deadline, state, department_id, current in steps:
        if new_deadline != deadline:
            given.setdefault(item_id, {})[new_deadline] = deadline
        if state in Item.OPEN_STATES and current is not None:
            still_open[item_id] = (department_id, current)
    return given, still_open


def in_force(deadline: datetime.date, given: dict[datetime.date, datetime.date]) -> datetime.date:
    """The deadline in force behind the ones escalations gave, followed back step by step."""
    seen = set()
    while deadline in given and deadline not in seen:
        seen.add(deadline)
        deadline = given[deadline]
    return deadline


def compute(
    round: Round,
    *,
    today: datetime.date | None = None,
    weights: Weights | None = None,
    cal: WorkCalendar | None = None,
) -> Scores:
    """Every department's figures for ``round`` as of ``today``, ranked. Seven queries
    whatever the size of the round: counts grouped by department (and by deadline, for the
    open items due), and one row per closed item (its deadline, close-out date and latest
    assignment) and per confirmed escalation that gave a new deadline."""
    today = today or timezone.localdate()
    weights = weights or current_weights()
    cal = cal or calendar()
    items = Item.objects.filter(round_id=round.pk, state__in=HANDED_OVER)
    led_items = items.filter(lead_department__isnull=False)
    rows: dict[int, Row] = {}

    def row(department_id: int) -> Row:
        if department_id not in rows:
            rows[department_id] = Row(department_id, "")
        return rows[department_id]

    counts = (
        led_items.values("lead_department_id")
        .order_by()
        .annotate(
            led=Count("pk"),
            overdue=Count("pk", filter=overdue_condition(today)),
            closed=Count("pk", filter=Q(state=State.CLOSED)),
            satisfied=Count("pk", filter=Q(satisfaction=Item.Satisfaction.SATISFIED)),
            basic=Count("pk", filter=Q(satisfaction=Item.Satisfaction.BASIC)),
            unsatisfied=Count("pk", filter=Q(satisfaction=Item.Satisfaction.UNSATISFIED)),
        )
    )
    for c in counts:
        r = row(c["lead_department_id"])
        for name in ("led", "overdue", "closed", "satisfied", "basic", "unsatisfied"):
            setattr(r, name, c[name])

    shares = (
        CoDepartment.objects.filter(item__round_id=round.pk, item__state__in=HANDED_OVER)
        .values("department_id")
        .order_by()
        .annotate(n=Count("pk"))
    )
    for c in shares:
        row(c["department_id"]).shared = c["n"]

    given, escalated_open = _escalated(round.pk)

    # Closed items, one row each: on time against the deadline in force, and the working
    # days from the latest assignment to the close-out.
    closed = (
        led_items.filter(state=State.CLOSED)
        .values("pk", "lead_department_id", "deadline", "closed_on")
        .order_by()
        .annotate(assigned=Max("events__at", filter=Q(events__kind=Event.Kind.ASSIGN)))
    )
    for c in closed:
        r = row(c["lead_department_id"])
        if c["deadline"] is not None:
            r.due += 1
            deadline = in_force(c["deadline"], given.get(c["pk"], {}))
            if c["closed_on"] <= last_day(deadline, cal):
                r.on_time += 1
        if c["assigned"] is not None:
            start = timezone.localdate(c["assigned"])
            r.timed += 1
            r.days += max(0, cal.between(start, c["closed_on"]))

    # Open items are due once the last day of their deadline in force has passed: counted
    # by deadline, each deadline's last day worked out once; escalated ones one by one.
    for pk, (department_id, deadline) in escalated_open.items():
        if last_day(in_force(deadline, given.get(pk, {})), cal) < today:
            row(department_id).due += 1
    due_open = (
        led_items.filter(state__in=Item.OPEN_STATES, deadline__lt=today)
        .exclude(pk__in=list(escalated_open))
        .values("lead_department_id", "deadline")
        .order_by()
        .annotate(n=Count("pk"))
    )
    for c in due_open:
        if last_day(c["deadline"], cal) < today:
            row(c["lead_department_id"]).due += c["n"]

    events = (
        Event.objects.filter(
            item__round_id=round.pk,
            item__state__in=HANDED_OVER,
            item__lead_department__isnull=False,
            kind__in=(Event.Kind.REQUEST, Event.Kind.RETURN, *ESCALATION_KINDS),
        )
        .values("item__lead_department_id", "kind")
        .order_by()
        .annotate(n=Count("pk"))
    )
    for c in events:
        r = row(c["item__lead_department_id"])
        if c["kind"] == Event.Kind.REQUEST:
            r.requests += c["n"]
        elif c["kind"] == Event.Kind.RETURN:
            r.returns += c["n"]
        else:
            r.escalations += c["n"]

    for pk, name, order in Department.objects.filter(pk__in=list(rows)).values_list(
        "pk", "name", "order"
    ):
        rows[pk].department, rows[pk].order = name, order
    ranked = rank(list(rows.values()), weights.values)
    return Scores(round=round, as_of=today, weights=weights, rows=ranked)


def rank(rows: list[Row], weights: dict[str, Decimal]) -> list[Row]:
    """Score and rank: the highest rounded score first, equal scores sharing a rank (1, 2,
    2, 4); a department without a score after the others, unranked. Within a rank, the
    departments' own order."""
    for r in rows:
        r.measure()
        r.weigh(weights)
    rows.sort(
        key=lambda r: (
            r.score is None,
            -(rounded(r.score) or 0),
            r.order,
            r.department,
        )
    )
    previous, previous_rank = None, 0
    for n, r in enumerate(rows, start=1):
        if r.score is None:
            r.rank = None
            continue
        value = rounded(r.score)
        r.rank = previous_rank if value == previous else n
        previous, previous_rank = value, r.rank
    return rows


# --- The table as pages, workbooks and PDFs show it ------------------------------------------


@dataclasses.dataclass
class Sheet:
    """A ranking table as shown: the live one or a published one, both from the rows'
    JSON (``Row.as_json``), so that a published sheet is shown exactly as it was kept."""

    round_id: int
    round_name: str
    as_of: datetime.date
    weights: dict[str, Decimal]
    weights_set_at: datetime.datetime | None
    rows: list[dict]
    published_at: datetime.datetime | None = None
    published_by: str = ""
    sheet_id: int | None = None
    # The departments ranked in the whole table, when ``rows`` holds only some of them.
    ranked: int = 0

    @classmethod
    def live(cls, table: Scores) -> Sheet:
        rows = table.as_json()
        return cls(
            round_id=table.round.pk,
            round_name=table.round.name,
            as_of=table.as_of,
            weights=table.weights.values,
            weights_set_at=table.weights.set_at,
            rows=rows,
            ranked=_ranked(rows),
        )

    @classmethod
    def published(cls, sheet: ScoreSheet) -> Sheet:
        rows = sheet.rows if isinstance(sheet.rows, list) else []
        return cls(
            round_id=sheet.round_id,
            round_name=sheet.round.name,
            as_of=timezone.localdate(sheet.published_at),
            weights=read_weights(sheet.weights),
            weights_set_at=sheet.weights_set_at,
            rows=rows,
            published_at=sheet.published_at,
            published_by=sheet.published_by.display_name() if sheet.published_by_id else "",
            sheet_id=sheet.pk,
            ranked=_ranked(rows),
        )

    def only(self, department_id: int | None) -> Sheet:
        """The sheet with one department's row alone (an official's view)."""
        rows = [r for r in self.rows if r.get("department_id") == department_id]
        return dataclasses.replace(self, rows=rows)

    def title(self) -> str:
        return _("Department scores of %(round)s") % {"round": self.round_name}

    def file_name(self, extension: str) -> str:
        if self.published_at:
            when = timezone.localtime(self.published_at).strftime("%Y%m%d-%H%M")
        else:
            when = self.as_of.strftime("%Y%m%d")
        name = f"{self.title()}-{when}.{extension}"
        return "".join("-" if c in '/\\:*?"<>|' or ord(c) < 32 else c for c in name)

    def measures(self) -> list[dict]:
        """Each measure with its label, help and weight (as shown: "30", "12.5")."""
        return [
            {
                "key": m,
                "label": LABELS[m],
                "figure": FIGURES[m],
                "help": help_text(m),
                "weight": _plain(self.weights.get(m, Decimal(0))),
            }
            for m in MEASURES
        ]

    def lines(self) -> list[dict]:
        """The rows with a cell per measure, in the table's order: the figure, and the
        measure's score beneath it."""
        lines = []
        for r in self.rows:
            m = r.get("measures") or {}
            figures = {
                "on_time": f"{r['on_time']} / {r['due']}",
                "speed": r.get("average_days"),
                "returns": f"{r['returns']} / {r['requests']}",
                "overdue": str(r["overdue"]),
                "escalations": str(r["escalations"]),
                "satisfaction": str(r["rated"]),
            }
            cells = [
                {"label": LABELS[k], "figure": figures[k], "score": m.get(k)} for k in MEASURES
            ]
            lines.append({**r, "cells": cells})
        return lines


def _ranked(rows: list[dict]) -> int:
    return sum(1 for r in rows if r.get("rank") is not None)


def _number(text: str | None) -> Decimal | None:
    return Decimal(text) if text is not None else None


def charts(sheet: Sheet) -> list[dict]:
    """The report's charts (ledger/supervision/charts.py), each with its title: the weighted
    scores, the on-time rates and the phone review's ratings, in the table's order."""
    scored = [r for r in sheet.rows if r.get("score") is not None]
    due = [r for r in sheet.rows if (r.get("measures") or {}).get("on_time") is not None]
    rated = [r for r in sheet.rows if r.get("rated")]
    out = []
    if scored:
        title = str(_("Weighted score"))
        bars = [
            draw.Bar(
                r["department"],
                float(Decimal(r["score"])),
                second=str(_("No. %(rank)s") % {"rank": r["rank"]}),
            )
            for r in scored
        ]
        description = str(_("Each department's weighted score, highest first."))
        out.append(
            {"title": title, "svg": draw.bar_chart(bars, title=title, description=description)}
        )
    if due:
        title = str(_("On-time close-out rate (%)"))
        bars = [
            draw.Bar(
                r["department"],
                float(Decimal(r["measures"]["on_time"])),
                second=f"{r['on_time']}/{r['due']}",
            )
            for r in due
        ]
        description = str(_("Items closed out on time of the items due, per department."))
        svg = draw.bar_chart(bars, title=title, description=description, colour=draw.OK)
        out.append({"title": title, "svg": svg})
    if rated:
        title = str(_("Phone review ratings"))
        parts = [
            draw.Part("satisfied", str(Item.Satisfaction.SATISFIED.label), draw.OK),
            draw.Part("basic", str(Item.Satisfaction.BASIC.label), draw.WARN),
            draw.Part("unsatisfied", str(Item.Satisfaction.UNSATISFIED.label), draw.BAD),
        ]
        stacks = [
            draw.Stack(r["department"], {p.key: int(r.get(p.key) or 0) for p in parts})
            for r in rated
        ]
        description = str(_("Items rated in the phone review, per department and rating."))
        svg = draw.stacked_chart(stacks, parts, title=title, description=description)
        out.append({"title": title, "svg": svg})
    return out


def _cell(sheet, value, *, bold: bool = False) -> WriteOnlyCell:
    # Text stays text: a department named "=…" is never a formula.
    return text_cell(sheet, value, bold=bold)


def xlsx_bytes(sheet: Sheet) -> bytes:
    """The ranking table as a workbook: a title, what it is as of, the weights, then a row
    per department with every figure and every measure's score (numbers as numbers)."""
    book = Workbook(write_only=True)
    ws = book.create_sheet(str(_("Ranking")))
    measures = sheet.measures()
    headers = [
        _("Rank"),
        _("Department"),
        _("Weighted score"),
        _("Items led"),
        _("Items shared"),
        _("Items due"),
        _("Closed out on time"),
        _("Closed out"),
        _("Average working days to close"),
        _("Close-out requests"),
        _("Returned"),
        _("Overdue"),
        _("Escalations"),
        _("Rated"),
        Item.Satisfaction.SATISFIED.label,
        Item.Satisfaction.BASIC.label,
        Item.Satisfaction.UNSATISFIED.label,
        *(_("%(measure)s (score)") % {"measure": m["label"]} for m in measures),
    ]
    widths = [6, 24] + [10] * (len(headers) - 2)
    for n, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(n)].width = width
    ws.append([_cell(ws, sheet.title(), bold=True)])
    ws.append([_cell(ws, _state_line(sheet))])
    ws.append([_cell(ws, _weights_line(sheet))])
    ws.append([_cell(ws, str(h), bold=True) for h in headers])
    for r in sheet.rows:
        m = r.get("measures") or {}
        ws.append(
            [
                r.get("rank"),
                _cell(ws, r["department"]),
                _number(r.get("score")),
                r["led"],
                r["shared"],
                r["due"],
                r["on_time"],
                r["closed"],
                _number(r.get("average_days")),
                r["requests"],
                r["returns"],
                r["overdue"],
                r["escalations"],
                r["rated"],
                r["satisfied"],
                r["basic"],
                r["unsatisfied"],
                *(_number(m.get(k)) for k in MEASURES),
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _state_line(sheet: Sheet) -> str:
    if sheet.published_at:
        return _("Published %(when)s by %(who)s; figures as of that day.") % {
            "when": timezone.localtime(sheet.published_at).strftime("%Y-%m-%d %H:%M"),
            "who": sheet.published_by,
        }
    return _("Live figures as of %(day)s, not published.") % {"day": sheet.as_of.isoformat()}


def weights_text(weights: dict[str, Decimal]) -> str:
    """The weights in a line: "按时销号 30、办结时效 15、…"."""
    return "、".join(f"{LABELS[m]} {_plain(weights.get(m, Decimal(0)))}" for m in MEASURES)


def _weights_line(sheet: Sheet) -> str:
    return _("Weights: %(weights)s") % {"weights": weights_text(sheet.weights)}


def pdf_html(sheet: Sheet) -> str:
    return render_to_string(
        "pdf/scores.html",
        {
            "sheet": sheet,
            "lines": sheet.lines(),
            "measures": sheet.measures(),
            "charts": charts(sheet),
            "state_line": _state_line(sheet),
            "weights_line": _weights_line(sheet),
        },
    )


def pdf_bytes(sheet: Sheet) -> bytes:
    # WeasyPrint is imported here, in the worker that renders: a web process never loads it.
    from weasyprint import HTML

    from ledger.publication.fetcher import STATIC_BASE, StaticOnlyFetcher

    return HTML(
        string=pdf_html(sheet), base_url=STATIC_BASE, url_fetcher=StaticOnlyFetcher()
    ).write_pdf()


def may_read_all(user: User) -> bool:
    """Supervisors and leaders read every department's row, export the table and print
    the report; an official reads their own department's row on the pages alone."""
    return user.is_supervisor or user.is_leader


@task()
def report_job(
    job_id: int,
    user_id: int,
    language: str,
    round_id: int | None = None,
    sheet_id: int | None = None,
) -> None:
    """The PDF report, in the background: a published sheet as it was kept, or the round's
    live table as it is when the job runs."""
    with jobs.running(job_id) as job, translation.override(language):
        user = User.objects.get(pk=user_id)
        if not may_read_all(user):
            raise jobs.JobError(str(_("Only supervisors and leaders may print the scores.")))
        job.set_total(1)
        if sheet_id is not None:
            sheet = Sheet.published(
                ScoreSheet.objects.select_related("round", "published_by").get(pk=sheet_id)
            )
        else:
            sheet = Sheet.live(compute(Round.objects.get(pk=round_id)))
        job.finish(file_name=sheet.file_name("pdf"), content=pdf_bytes(sheet))
