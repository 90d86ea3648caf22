"""Department scores (ledger/supervision/scores.py): every figure of a small hand-built
ledger checked against a count made here, item by item, from the rows themselves; the
rounding; and the edge cases: no items, all overdue, closed on the deadline day, a deadline
on a holiday, a make-up Saturday, a year without an official schedule."""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from django.utils import timezone

from ledger.models import Event, Item
from ledger.supervision import scores
from ledger.supervision.models import CalendarDay, LadderStep
from ledger.supervision.workdays import calendar, library_knows

from .factory import make_department, make_item, make_round

D = datetime.date
State = Item.State
Kind = Event.Kind
TODAY = D(2026, 11, 30)


def at(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(10)))


def item(
    round,
    lead,
    *,
    state=State.IN_PROGRESS,
    deadline=None,
    closed_on=None,
    assigned=None,
    co=(),
    satisfaction="",
    events=(),
    **kw,
) -> Item:
    """An item as the workflow would have left it, with its history's events."""
    it = make_item(
        round,
        lead_department=lead,
        state=state,
        deadline=deadline,
        long_term=deadline is None and state != State.DRAFT,
        closed_on=closed_on,
        outcome_kind="done" if state == State.CLOSED else "",
        satisfaction=satisfaction,
        **kw,
    )
    for department in co:
        it.co_departments.add(department)
    if assigned:
        Event.objects.create(
            item=it, kind=Kind.ASSIGN, from_state="draft", to_state="assigned", at=at(assigned)
        )
    for kind, day in events:
        Event.objects.create(item=it, kind=kind, from_state=state, to_state=state, at=at(day))
    return it


# --- The count made here, item by item -----------------------------------------------------


def counted(round, today):
    """Each department's figures, counted by walking the round's rows one by one."""
    cal = calendar()
    rows: dict[str, dict] = {}

    def row(department):
        return rows.setdefault(
            department.name,
            {
                k: 0
                for k in (
                    "led",
                    "shared",
                    "due",
                    "on_time",
                    "closed",
                    "timed",
                    "days",
                    "requests",
                    "returns",
                    "overdue",
                    "escalations",
                    "satisfied",
                    "basic",
                    "unsatisfied",
                )
            },
        )

    for it in Item.all_objects.filter(round=round).select_related("lead_department"):
        if it.state not in ("assigned", "in_progress", "requested", "closed"):
            continue  # drafts, withdrawn and merged-away items count nowhere
        for department in it.co_departments.all():
            row(department)["shared"] += 1
        if it.lead_department is None:
            continue
        r = row(it.lead_department)
        r["led"] += 1
        deadline = it.deadline
        # An escalation's new deadline is not the deadline in force: follow it back.
        for step in LadderStep.objects.filter(item=it, status="confirmed").order_by("-pk"):
            if step.new_deadline == deadline:
                deadline = step.deadline
        if deadline is not None:
            last = deadline
            while not cal.is_workday(last):
                last += datetime.timedelta(days=1)
            if it.state == "closed":
                r["due"] += 1
                r["on_time"] += it.closed_on <= last
            elif last < today:
                r["due"] += 1
        if it.state != "closed" and it.deadline is not None and it.deadline < today:
            r["overdue"] += 1
        if it.state == "closed":
            r["closed"] += 1
            assigned = [e.at for e in it.events.all() if e.kind == "assign"]
            if assigned:
                r["timed"] += 1
                day = timezone.localdate(max(assigned))
                while day < it.closed_on:
                    day += datetime.timedelta(days=1)
                    r["days"] += cal.is_workday(day)
        for e in it.events.all():
            r["requests"] += e.kind == "request"
            r["returns"] += e.kind == "return"
            r["escalations"] += e.kind in ("urge", "escalate", "circulate")
        if it.satisfaction:
            r[it.satisfaction] += 1
    return rows


def half_up(value) -> str | None:
    if value is None:
        return None
    return str(Decimal(value).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def expected_scores(r: dict, weights=scores.DEFAULT_WEIGHTS) -> tuple[dict, str | None]:
    """The measures and the weighted score of a counted row, in Decimal arithmetic."""
    rated = r["satisfied"] + r["basic"] + r["unsatisfied"]
    m = {
        "on_time": Decimal(100) * r["on_time"] / r["due"] if r["due"] else None,
        "speed": (
            max(Decimal(0), 100 - Decimal(100) * r["days"] / r["timed"] / 60)
            if r["timed"]
            else None
        ),
        "returns": 100 - Decimal(100) * r["returns"] / r["requests"] if r["requests"] else None,
        "overdue": 100 - Decimal(100) * r["overdue"] / r["led"] if r["led"] else None,
        "escalations": (
            max(Decimal(0), 100 - Decimal(100) * r["escalations"] / r["led"]) if r["led"] else None
        ),
        "satisfaction": (
            (Decimal(100) * r["satisfied"] + 80 * r["basic"]) / rated if rated else None
        ),
    }
    weighed = [(weights[k], v) for k, v in m.items() if v is not None and weights[k] > 0]
    total = sum(w for w, _ in weighed)
    score = sum(w * v for w, v in weighed) / total if weighed else None
    return {k: half_up(v) for k, v in m.items()}, half_up(score)


def check(table: scores.Scores, round, today, weights=scores.DEFAULT_WEIGHTS) -> dict:
    """Every figure of every row against the count made here; the rows by name."""
    by_name = {r["department"]: r for r in table.as_json()}
    expected = counted(round, today)
    assert set(by_name) == set(expected)
    for name, want in expected.items():
        got = by_name[name]
        for key in (
            "led",
            "shared",
            "due",
            "on_time",
            "closed",
            "timed",
            "requests",
            "returns",
            "overdue",
            "escalations",
            "satisfied",
            "basic",
            "unsatisfied",
        ):
            assert got[key] == want[key], (name, key, got[key], want[key])
        average = Decimal(want["days"]) / want["timed"] if want["timed"] else None
        assert got["average_days"] == half_up(average), name
        measures, score = expected_scores(want, weights)
        assert got["measures"] == measures, name
        assert got["score"] == score, name
    return by_name


# --- The ledger ------------------------------------------------------------------------------


@pytest.fixture
def ledger(db):
    """Four departments in one round, and noise the scores must not count."""
    round = make_round(name="2026年度", code="s2026", year=2026)
    edu, traffic, health, water = (
        make_department(name) for name in ("市教育局", "市交通运输局", "市卫生健康委", "市水利局")
    )
    sept = D(2026, 9, 1)
    # 教育局: on the deadline day, a day late, a deadline on a holiday, open late, open in
    # time, long-term; requests, a return, an urging and an escalation; ratings.
    item(
        round,
        edu,
        state=State.CLOSED,
        deadline=D(2026, 11, 10),
        closed_on=D(2026, 11, 10),
        assigned=sept,
        satisfaction="satisfied",
        co=[traffic],
        events=[
            (Kind.REQUEST, D(2026, 11, 5)),
            (Kind.RETURN, D(2026, 11, 6)),
            (Kind.REQUEST, D(2026, 11, 9)),
        ],
    )
    item(
        round,
        edu,
        state=State.CLOSED,
        deadline=D(2026, 11, 10),
        closed_on=D(2026, 11, 11),
        assigned=sept,
        satisfaction="basic",
        events=[(Kind.REQUEST, D(2026, 11, 11))],
    )
    item(
        round,
        edu,
        state=State.CLOSED,
        deadline=D(2026, 10, 3),
        closed_on=D(2026, 10, 8),
        assigned=D(2026, 9, 30),
        satisfaction="unsatisfied",
        events=[(Kind.REQUEST, D(2026, 10, 8))],
    )
    item(
        round,
        edu,
        state=State.IN_PROGRESS,
        deadline=D(2026, 11, 20),
        assigned=sept,
        events=[(Kind.URGE, D(2026, 11, 23)), (Kind.ESCALATE, D(2026, 11, 25))],
    )
    item(round, edu, state=State.ASSIGNED, deadline=D(2026, 12, 31), assigned=sept, co=[health])
    item(
        round,
        edu,
        state=State.REQUESTED,
        deadline=None,
        assigned=sept,
        events=[(Kind.REQUEST, D(2026, 11, 1)), (Kind.REMIND, D(2026, 11, 1))],
    )
    # 交通局: everything overdue.
    for day in (D(2026, 10, 9), D(2026, 11, 2), D(2026, 11, 27)):
        item(round, traffic, state=State.IN_PROGRESS, deadline=day, assigned=sept, co=[health])
    # 水利局: a make-up Saturday (a working day: the deadline stays) and an ordinary one.
    item(
        round,
        water,
        state=State.CLOSED,
        deadline=D(2026, 10, 10),
        closed_on=D(2026, 10, 12),
        assigned=D(2026, 9, 30),
    )
    item(
        round,
        water,
        state=State.CLOSED,
        deadline=D(2026, 10, 17),
        closed_on=D(2026, 10, 19),
        assigned=D(2026, 9, 30),
    )
    # Counted nowhere: a draft, an item withdrawn, an item merged away, another round.
    item(round, edu, state=State.DRAFT, deadline=D(2026, 10, 1))
    withdrawn = item(
        round,
        edu,
        state=State.WITHDRAWN,
        deadline=D(2026, 10, 1),
        assigned=sept,
        co=[health],
        satisfaction="unsatisfied",
        events=[(Kind.RETURN, D(2026, 10, 2)), (Kind.URGE, D(2026, 10, 3))],
    )
    merged_into = Item.objects.filter(round=round, lead_department=traffic).first()
    item(
        round,
        traffic,
        state=State.WITHDRAWN,
        deadline=D(2026, 10, 1),
        assigned=sept,
        merged_into=merged_into,
        events=[(Kind.ESCALATE, D(2026, 10, 5))],
    )
    item(
        make_round(),
        edu,
        state=State.CLOSED,
        deadline=D(2026, 10, 1),
        closed_on=D(2026, 10, 30),
        assigned=sept,
    )
    return {
        "round": round,
        "edu": edu,
        "traffic": traffic,
        "health": health,
        "water": water,
        "withdrawn": withdrawn,
    }


def test_every_figure_is_the_count_made_from_the_rows(ledger):
    rows = check(scores.compute(ledger["round"], today=TODAY), ledger["round"], TODAY)
    # The same figures, read as a person would from the rows above.
    edu = rows["市教育局"]
    assert (edu["led"], edu["shared"], edu["due"], edu["on_time"]) == (6, 0, 4, 2)
    assert (edu["requests"], edu["returns"], edu["escalations"], edu["overdue"]) == (5, 1, 2, 1)
    assert edu["measures"]["on_time"] == "50.0"
    assert edu["measures"]["returns"] == "80.0"
    assert edu["measures"]["satisfaction"] == "60.0"  # (100 + 80 + 0) / 3
    assert rows["市卫生健康委"]["shared"] == 4 and rows["市卫生健康委"]["led"] == 0


def test_nothing_withdrawn_or_merged_away_is_counted(ledger):
    before = scores.compute(ledger["round"], today=TODAY).as_json()
    # The withdrawn item back in the ledger would change 教育局's figures: it is counted
    # nowhere only because it is withdrawn.
    Item.all_objects.filter(pk=ledger["withdrawn"].pk).update(state=State.IN_PROGRESS)
    after = {r["department"]: r for r in scores.compute(ledger["round"], today=TODAY).as_json()}
    edu = {r["department"]: r for r in before}["市教育局"]
    assert after["市教育局"]["led"] == edu["led"] + 1
    assert after["市教育局"]["returns"] == edu["returns"] + 1
    assert after["市卫生健康委"]["shared"] == 5


def test_closed_on_the_deadline_day_is_on_time_and_a_day_later_is_not(db):
    round, lead = make_round(), make_department()
    item(round, lead, state=State.CLOSED, deadline=D(2026, 11, 10), closed_on=D(2026, 11, 10))
    table = scores.compute(round, today=TODAY)
    assert table.rows[0].on_time == 1 and table.rows[0].due == 1
    Item.objects.update(closed_on=D(2026, 11, 11))
    table = scores.compute(round, today=TODAY)
    assert table.rows[0].on_time == 0 and table.rows[0].due == 1
    check(table, round, TODAY)


def test_a_deadline_on_a_holiday_runs_to_the_next_working_day(db):
    """2026-10-03 is in the National Day holiday: closed on the first working day after
    it is on time; closed a working day later is not."""
    assert not calendar().is_workday(D(2026, 10, 3))
    round, lead = make_round(), make_department()
    first = D(2026, 10, 3)
    while not calendar().is_workday(first):
        first += datetime.timedelta(days=1)
    item(round, lead, state=State.CLOSED, deadline=D(2026, 10, 3), closed_on=first)
    item(
        round, lead, state=State.CLOSED, deadline=D(2026, 10, 3), closed_on=calendar().add(first, 1)
    )
    # Open with that deadline: due only once its first working day has passed.
    item(round, lead, state=State.IN_PROGRESS, deadline=D(2026, 10, 3))
    on_the_holiday = scores.compute(round, today=D(2026, 10, 4)).rows[0]
    assert (on_the_holiday.due, on_the_holiday.overdue) == (2, 1)
    row = scores.compute(round, today=TODAY).rows[0]
    assert (row.due, row.on_time) == (3, 1)
    check(scores.compute(round, today=TODAY), round, TODAY)


def test_a_make_up_saturday_is_a_working_day(db):
    """2026-10-10 is a make-up Saturday: a deadline on it stays, where a deadline on an
    ordinary Saturday runs to Monday; and it counts in the working days to close."""
    assert calendar().is_workday(D(2026, 10, 10))
    round, lead = make_round(), make_department()
    item(
        round,
        lead,
        state=State.CLOSED,
        deadline=D(2026, 10, 10),
        closed_on=D(2026, 10, 12),
        assigned=D(2026, 10, 9),
    )
    item(
        round,
        lead,
        state=State.CLOSED,
        deadline=D(2026, 10, 17),
        closed_on=D(2026, 10, 19),
        assigned=D(2026, 10, 16),
    )
    row = scores.compute(round, today=TODAY).rows[0]
    assert (row.due, row.on_time) == (2, 1)
    # 10-09 → 10-12: the 10th (make-up) and the 12th; 10-16 → 10-19: the 19th alone.
    assert (row.timed, row.days) == (2, 3)
    assert row.as_json()["average_days"] == "1.5"
    assert row.as_json()["measures"]["speed"] == "97.5"  # 100 × (1 − 1.5 / 60)
    check(scores.compute(round, today=TODAY), round, TODAY)


def test_a_year_without_an_official_schedule_follows_weekends_and_the_table(db):
    assert not library_knows(2027)
    round, lead = make_round(), make_department()
    today = D(2027, 12, 1)
    # 2027-10-01 is a Friday: with no schedule entered it is a working day.
    item(
        round,
        lead,
        state=State.CLOSED,
        deadline=D(2027, 10, 1),
        closed_on=D(2027, 10, 4),
        assigned=D(2027, 9, 30),
    )
    # 2027-10-02 is a Saturday: the deadline runs to Monday the 4th.
    item(
        round,
        lead,
        state=State.CLOSED,
        deadline=D(2027, 10, 2),
        closed_on=D(2027, 10, 4),
        assigned=D(2027, 9, 30),
    )
    row = scores.compute(round, today=today).rows[0]
    assert (row.due, row.on_time, row.days) == (2, 1, 4)  # 10-01 and 10-04, twice
    check(scores.compute(round, today=today), round, today)
    # The administrator enters the holiday: the 1st is a day off, the deadline on it runs
    # to the 4th, and the working days to close shrink.
    CalendarDay.objects.create(day=D(2027, 10, 1), is_workday=False, note="国庆节")
    row = scores.compute(round, today=today).rows[0]
    assert (row.due, row.on_time, row.days) == (2, 2, 2)
    check(scores.compute(round, today=today), round, today)


def test_all_overdue(db):
    round, lead = make_round(), make_department("市住建局")
    for day in (D(2026, 10, 9), D(2026, 11, 2), D(2026, 11, 27)):
        item(round, lead, state=State.IN_PROGRESS, deadline=day, assigned=D(2026, 9, 1))
    row = check(scores.compute(round, today=TODAY), round, TODAY)["市住建局"]
    assert (row["led"], row["due"], row["on_time"], row["overdue"]) == (3, 3, 0, 3)
    assert row["measures"] == {
        "on_time": "0.0",
        "speed": None,
        "returns": None,
        "overdue": "0.0",
        "escalations": "100.0",
        "satisfaction": None,
    }
    # (30 × 0 + 20 × 0 + 10 × 100) ÷ (30 + 20 + 10)
    assert row["score"] == "16.7" and row["rank"] == 1


def test_no_items(db):
    round = make_round()
    assert scores.compute(round, today=TODAY).rows == []
    # Drafts and withdrawn items are no items either.
    lead = make_department()
    item(round, lead, state=State.DRAFT, deadline=D(2026, 10, 1))
    item(round, lead, state=State.WITHDRAWN, deadline=D(2026, 10, 1))
    assert scores.compute(round, today=TODAY).rows == []


def test_a_department_that_only_shares_items_is_listed_unranked(db):
    round, lead, helper = make_round(), make_department("甲"), make_department("乙")
    item(round, lead, state=State.ASSIGNED, deadline=D(2026, 12, 31), co=[helper])
    rows = {r["department"]: r for r in scores.compute(round, today=TODAY).as_json()}
    assert rows["乙"]["shared"] == 1 and rows["乙"]["score"] is None and rows["乙"]["rank"] is None
    assert rows["甲"]["rank"] == 1
    assert [r["department"] for r in scores.compute(round, today=TODAY).as_json()] == ["甲", "乙"]


def test_rates_are_rounded_half_up_to_one_decimal(db):
    """1 of 16 is 6.25%: half up gives 6.3 (half to even would give 6.2)."""
    round, lead = make_round(), make_department("市民政局")
    item(round, lead, state=State.CLOSED, deadline=D(2026, 11, 10), closed_on=D(2026, 11, 2))
    for _ in range(15):
        item(round, lead, state=State.IN_PROGRESS, deadline=D(2026, 11, 2))
    row = check(scores.compute(round, today=TODAY), round, TODAY)["市民政局"]
    assert row["measures"]["on_time"] == "6.3"
    assert row["measures"]["overdue"] == "6.3"  # 100 − 15/16 × 100 = 6.25
    assert scores.rounded(Fraction(125, 20)) == Decimal("6.3")
    assert scores.rounded(Fraction(0)) == Decimal("0.0")
    assert scores.rounded(Fraction(2, 3) * 100) == Decimal("66.7")
    assert scores.rounded(Fraction(1333, 20)) == Decimal("66.7")  # 66.65
    assert scores.rounded(Fraction(1332, 20)) == Decimal("66.6")  # 66.6
    assert scores.shown(scores.rounded(Fraction(100))) == "100.0"


def test_an_escalation_s_new_deadline_is_not_the_deadline_in_force(db):
    """挂牌督办 gives a late item a new deadline; closing it by that date is still late."""
    round, lead = make_round(), make_department()
    late = item(
        round,
        lead,
        state=State.CLOSED,
        deadline=D(2026, 11, 20),
        closed_on=D(2026, 11, 16),
        assigned=D(2026, 9, 1),
    )
    LadderStep.objects.create(
        item=late,
        step="escalate",
        deadline=D(2026, 11, 2),
        working_days=10,
        status="confirmed",
        new_deadline=D(2026, 11, 20),
    )
    still_open = item(round, lead, state=State.IN_PROGRESS, deadline=D(2026, 12, 15))
    LadderStep.objects.create(
        item=still_open,
        step="escalate",
        deadline=D(2026, 11, 3),
        working_days=10,
        status="confirmed",
        new_deadline=D(2026, 12, 15),
    )
    # A proposal nobody confirmed changes nothing.
    in_time = item(
        round, lead, state=State.CLOSED, deadline=D(2026, 11, 20), closed_on=D(2026, 11, 16)
    )
    LadderStep.objects.create(
        item=in_time,
        step="escalate",
        deadline=D(2026, 11, 2),
        working_days=10,
        new_deadline=D(2026, 11, 20),
    )
    row = scores.compute(round, today=TODAY).rows[0]
    assert (row.due, row.on_time, row.overdue) == (3, 1, 0)
    check(scores.compute(round, today=TODAY), round, TODAY)


def test_weights_decide_the_score_and_the_ranking(ledger):
    weights = {m: Decimal(0) for m in scores.MEASURES} | {"overdue": Decimal(1)}
    table = scores.compute(ledger["round"], today=TODAY, weights=scores.Weights(weights))
    rows = check(table, ledger["round"], TODAY, weights)
    # Overdue alone: 水利局 100, 教育局 100 − 1/6 × 100, 交通局 0.
    assert rows["市水利局"]["score"] == "100.0" and rows["市水利局"]["rank"] == 1
    assert rows["市教育局"]["score"] == "83.3" and rows["市教育局"]["rank"] == 2
    assert rows["市交通运输局"]["score"] == "0.0" and rows["市交通运输局"]["rank"] == 3
    assert [r.department for r in table.rows][-1] == "市卫生健康委"


def test_equal_scores_share_a_rank(db):
    round = make_round()
    for name in ("乙局", "甲局", "丙局"):
        lead = make_department(name)
        item(round, lead, state=State.IN_PROGRESS, deadline=D(2026, 12, 31))
    item(round, make_department("丁局"), state=State.IN_PROGRESS, deadline=D(2026, 11, 1))
    ranks = [(r.department, r.rank) for r in scores.compute(round, today=TODAY).rows]
    assert [rank for _, rank in ranks] == [1, 1, 1, 4]
    assert ranks[-1][0] == "丁局"


def test_the_figures_take_a_bounded_number_of_queries(ledger, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        scores.compute(ledger["round"], today=TODAY, weights=scores.Weights(scores.DEFAULT_WEIGHTS))
    for _ in range(20):
        item(
            ledger["round"],
            make_department(),
            state=State.CLOSED,
            deadline=D(2026, 10, 1),
            closed_on=D(2026, 10, 9),
            assigned=D(2026, 9, 1),
            co=[ledger["health"]],
        )
    with django_assert_max_num_queries(8):
        scores.compute(ledger["round"], today=TODAY, weights=scores.Weights(scores.DEFAULT_WEIGHTS))
