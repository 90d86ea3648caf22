"""Working days (ledger/supervision/workdays.py): China's holidays and make-up workdays from
the ``holidays`` library, the administrator's table over them, weekends for a year nobody
knows; and what counts in working days: the yellow light, days overdue, the digest."""

from __future__ import annotations

import datetime

import pytest

from ledger import notifications
from ledger.models import Item
from ledger.supervision import workdays
from ledger.supervision.models import CalendarDay, ScheduleYear

from .factory import make_item

D = datetime.date
S = Item.State

# 2026's National Day: 1 to 7 October off (the 4th is a Sunday), Sunday 20 September and
# Saturday 10 October worked instead (国办发明电〔2025〕7号), as the library holds it.
NATIONAL_DAY = [D(2026, 10, day) for day in range(1, 8)]
MAKE_UP_SATURDAY = D(2026, 10, 10)
MAKE_UP_SUNDAY = D(2026, 9, 20)


def cal() -> workdays.WorkCalendar:
    return workdays.calendar()


# --- The library's year ------------------------------------------------------------------------


def test_the_national_day_week_is_off_and_the_make_up_weekend_days_are_worked():
    assert workdays.library_knows(2026)
    assert [cal().is_workday(day) for day in NATIONAL_DAY] == [False] * 7
    assert cal().is_workday(D(2026, 10, 8))  # Thursday: back at work
    assert cal().is_workday(MAKE_UP_SATURDAY)
    assert cal().is_workday(MAKE_UP_SUNDAY)
    assert not cal().is_workday(D(2026, 10, 11))  # an ordinary Sunday


def test_a_make_up_saturday_counts_as_a_working_day():
    # Friday 9 October, then Saturday 10 October (调休上班), then Monday 12 October.
    assert cal().add(D(2026, 10, 9), 1) == MAKE_UP_SATURDAY
    assert cal().add(D(2026, 10, 9), 2) == D(2026, 10, 12)
    assert cal().between(D(2026, 10, 9), D(2026, 10, 12)) == 2


def test_a_deadline_on_a_holiday(db):
    """Due on National Day itself: not overdue during the holiday week, one working day
    overdue on the first day back, and a count from before the holiday skips it."""
    item = make_item(state=S.IN_PROGRESS, deadline=D(2026, 10, 1))
    assert cal().between(D(2026, 10, 1), D(2026, 10, 7)) == 0
    assert item.days_overdue(D(2026, 10, 7)) == 0
    assert item.days_overdue(D(2026, 10, 8)) == 1
    assert item.days_overdue(D(2026, 10, 10)) == 3  # 8th, 9th and the make-up Saturday
    # Five working days from the eve of the holiday land a week and a half later.
    assert cal().add(D(2026, 9, 30), 5) == D(2026, 10, 13)


# --- A year without a schedule ----------------------------------------------------------------


@pytest.mark.parametrize("year", [2027, 2040])
def test_a_year_without_a_schedule_never_raises_and_follows_the_weekend(db, year):
    assert not workdays.library_knows(year)
    new_year = D(year, 1, 1)
    # The library's guess of New Year's Day is not used: weekends alone decide.
    assert cal().is_workday(new_year) == (new_year.weekday() < 5)
    days = [new_year + datetime.timedelta(days=n) for n in range(366)]
    assert all(cal().is_workday(day) == (day.weekday() < 5) for day in days)
    # A whole year of counting, across into the next, raises nothing.
    end = cal().add(new_year, 300)
    assert cal().between(new_year, end) == 300
    assert Item(state=S.IN_PROGRESS, deadline=new_year).days_overdue(end) == 300
    assert Item(state=S.IN_PROGRESS, deadline=end).light(new_year) == "green"


@pytest.mark.parametrize("year", [2027, 2040])
def test_the_table_decides_a_year_without_a_schedule(db, year):
    spring = D(year, 2, 8) if D(year, 2, 8).weekday() < 5 else D(year, 2, 10)
    spring_saturday = next(
        D(year, 2, 1) + datetime.timedelta(days=n)
        for n in range(28)
        if (D(year, 2, 1) + datetime.timedelta(days=n)).weekday() == 5
    )
    CalendarDay.objects.create(day=spring, is_workday=False, note="春节")
    CalendarDay.objects.create(day=spring_saturday, is_workday=True, note="调休")
    assert not cal().is_workday(spring)
    assert cal().is_workday(spring_saturday)
    assert cal().between(spring - datetime.timedelta(days=1), spring) == 0


def test_years_without_schedule_names_this_year_and_the_next_until_entered(db):
    assert workdays.years_without_schedule(D(2026, 12, 4)) == [2027]
    assert workdays.years_without_schedule(D(2039, 6, 1)) == [2039, 2040]
    ScheduleYear.objects.create(year=2027)
    assert workdays.years_without_schedule(D(2026, 12, 4)) == []


# --- The table over the library ---------------------------------------------------------------


def test_a_table_row_wins_over_the_library_both_ways(db):
    # A make-up Saturday the office does not work, and a holiday it does.
    CalendarDay.objects.create(day=MAKE_UP_SATURDAY, is_workday=False, note="本地")
    CalendarDay.objects.create(day=D(2026, 10, 5), is_workday=True, note="值班")
    assert not cal().is_workday(MAKE_UP_SATURDAY)
    assert cal().is_workday(D(2026, 10, 5))
    assert cal().add(D(2026, 10, 4), 1) == D(2026, 10, 5)
    assert cal().add(D(2026, 10, 9), 1) == D(2026, 10, 12)


def test_a_table_row_wins_over_the_weekend_and_its_removal_gives_the_day_back(db):
    sunday = D(2026, 11, 8)
    row = CalendarDay.objects.create(day=sunday, is_workday=True)
    assert cal().is_workday(sunday)
    row.delete()
    assert not cal().is_workday(sunday)


# --- between and add -----------------------------------------------------------------------------


def test_add_and_between_undo_each_other(db):
    CalendarDay.objects.create(day=D(2026, 12, 31), is_workday=False, note="本地")
    starts = [D(2026, 9, 15) + datetime.timedelta(days=n) for n in range(120)]
    for start in starts:
        for n in range(0, 25):
            end = cal().add(start, n)
            assert cal().between(start, end) == n
            if n:
                assert cal().is_workday(end)
                assert cal().add(end, -n) <= start
        for end in (start + datetime.timedelta(days=k) for k in range(40)):
            if cal().is_workday(end):
                assert cal().add(start, cal().between(start, end)) == end
            assert cal().between(end, start) == -cal().between(start, end)


# --- What counts in working days -----------------------------------------------------------------


@pytest.fixture
def five_days(settings):
    settings.DUE_SOON_DAYS = 5


def test_the_yellow_light_counts_working_days(db, five_days):
    """On the eve of National Day, five working days reach 13 October: thirteen days away,
    yellow; the day after is green. Five calendar days would have stopped at 5 October."""
    eve = D(2026, 9, 30)
    assert Item(state=S.IN_PROGRESS, deadline=D(2026, 10, 13)).light(eve) == "yellow"
    assert Item(state=S.IN_PROGRESS, deadline=D(2026, 10, 14)).light(eve) == "green"
    assert Item(state=S.IN_PROGRESS, deadline=eve).light(eve) == "yellow"
    assert Item(state=S.IN_PROGRESS, deadline=D(2026, 9, 29)).light(eve) == "red"
    # An ordinary week: five working days from a Monday is the next Monday.
    monday = D(2026, 11, 9)
    assert Item(state=S.IN_PROGRESS, deadline=D(2026, 11, 16)).light(monday) == "yellow"
    assert Item(state=S.IN_PROGRESS, deadline=D(2026, 11, 17)).light(monday) == "green"


def test_days_overdue_counts_working_days(db):
    item = Item(state=S.IN_PROGRESS, deadline=D(2026, 9, 30))
    assert item.days_overdue(D(2026, 9, 30)) == 0
    assert item.days_overdue(D(2026, 10, 7)) == 0  # the holiday week
    assert item.days_overdue(D(2026, 10, 8)) == 1
    assert item.days_overdue(D(2026, 10, 12)) == 4  # 8th, 9th, Saturday 10th, 12th
    assert Item(state=S.CLOSED, deadline=D(2026, 9, 30)).days_overdue(D(2026, 10, 12)) == 0


def test_the_digest_reaches_as_many_working_days_ahead(cast):
    eve = D(2026, 9, 30)

    def item(title: str, deadline: datetime.date) -> Item:
        return make_item(
            cast.round,
            title=title,
            state=S.IN_PROGRESS,
            lead_department=cast.edu,
            deadline=deadline,
        )

    overdue = item("逾期", D(2026, 9, 25))
    last_in = item("第五个工作日到期", D(2026, 10, 13))
    first_out = item("第六个工作日到期", D(2026, 10, 14))
    listed = notifications.due_items(eve, 5)
    assert [i.pk for i in listed] == [overdue.pk, last_in.pk]
    assert first_out.pk not in [i.pk for i in notifications.due_items(eve, 5)]
    assert first_out.pk in [i.pk for i in notifications.due_items(eve, 6)]
    # The digest's rows say working days too: Friday 25 September is three working days
    # before the eve (28th, 29th, 30th), the 13th five ahead.
    assert notifications._digest_row(overdue, eve)["days_overdue"] == 3
    assert notifications._digest_row(last_in, eve)["days_left"] == 5
