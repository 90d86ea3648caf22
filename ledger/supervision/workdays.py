"""Working days (工作日): weekends, China's public holidays and make-up workdays (调休), and
the administrator's own table of days.

A day is decided, first to last, by:

1. the administrator's table (``CalendarDay``): local days, and any day of a year whose
   official schedule the library does not know;
2. the ``holidays`` library's China calendar, for the years it has the State Council's
   schedule for (it knows a year's make-up workdays: those years and no others);
3. the weekend.

A year the library has no schedule for is never an error: weekends and the table decide
it, and the administrator's calendar page names it until someone enters its schedule.
docs/supervision.md explains the choice of library.
"""

from __future__ import annotations

import datetime
import functools
import threading
import time

import holidays
from django.utils import timezone

DAY = datetime.timedelta(days=1)
# The calendar is read from the database at most this often in each process; a change on
# the calendar page clears this process's copy at once (signals in ledger/apps.py).
TTL_SECONDS = 300
# The first year the calendar counts in working days; before it, days are calendar days.
FIRST_YEAR = 2000


class _FirstDays(dict):
    def __missing__(self, year: int) -> int:
        self[year] = datetime.date(year, 1, 1).toordinal()
        return self[year]


_JAN1 = _FirstDays()


@functools.lru_cache(maxsize=256)
def _official(year: int) -> tuple[frozenset, frozenset] | None:
    """The library's holidays and make-up workdays of ``year``, or None when it has no
    official schedule for that year (no make-up workdays: the schedule is not out yet)."""
    try:
        china = holidays.China(years=year)
        days_off = frozenset(day for day in china if day.year == year)
        workdays = frozenset(
            day for day in getattr(china, "weekend_workdays", ()) if day.year == year
        )
    except Exception:
        return None
    if not workdays:
        return None
    return days_off, workdays


def library_knows(year: int) -> bool:
    """Whether the library holds the official schedule of ``year``."""
    return _official(year) is not None


class WorkCalendar:
    """Working days, with the administrator's ``overrides`` (day → is a working day)."""

    def __init__(self, overrides: dict[datetime.date, bool] | None = None):
        self.overrides = dict(overrides or {})
        self._years: dict[int, tuple[int, list[int]]] = {}
        self._totals: dict[int, int] = {}
        self._bases: dict[int, int] = {}

    def is_workday(self, day: datetime.date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        official = _official(day.year)
        if official is not None:
            days_off, workdays = official
            if day in workdays:
                return True
            if day in days_off:
                return False
        return day.weekday() < 5

    def _year(self, year: int) -> list[int]:
        """Working days of ``year`` counted up to and including each day of it."""
        if year not in self._years:
            counts, n = [], 0
            day = datetime.date(year, 1, 1)
            while day.year == year:
                n += self.is_workday(day)
                counts.append(n)
                day += DAY
            self._years[year] = (n, counts)
        return self._years[year][1]

    def _total(self, year: int) -> int:
        if year not in self._totals:
            self._year(year)
            self._totals[year] = self._years[year][0]
        return self._totals[year]

    def ordinal(self, day: datetime.date) -> int:
        """Working days from the calendar's origin up to and including ``day``."""
        year = day.year
        if year not in self._bases:
            self._bases[year] = sum(self._total(y) for y in range(FIRST_YEAR, year))
        return self._bases[year] + self._year(year)[day.toordinal() - _JAN1[year]]

    def between(self, start: datetime.date, end: datetime.date) -> int:
        """Working days after ``start`` up to and including ``end``; negative when ``end``
        comes first. A deadline today and ``between(deadline, today)`` is 0: not overdue."""
        if start.year < FIRST_YEAR or end.year < FIRST_YEAR:
            return (end - start).days
        return self.ordinal(end) - self.ordinal(start)

    def add(self, start: datetime.date, n: int) -> datetime.date:
        """The ``n``-th working day after ``start`` (before it when ``n`` is negative);
        ``start`` itself for 0."""
        day, step = start, (DAY if n >= 0 else -DAY)
        left = abs(n)
        while left:
            try:
                day += step
            except OverflowError:
                return day
            left -= self.is_workday(day)
        return day

    def due_soon_limit(self, today: datetime.date, days: int) -> datetime.date:
        """The last deadline that is "due soon" on ``today``: ``days`` working days on."""
        return self.add(today, days)


_lock = threading.Lock()
_cached: tuple[float, WorkCalendar] | None = None


def calendar() -> WorkCalendar:
    """The calendar in force, with the administrator's table read from the database."""
    global _cached
    now = time.monotonic()
    with _lock:
        if _cached is not None and now - _cached[0] < TTL_SECONDS:
            return _cached[1]
    from .models import CalendarDay

    overrides = dict(CalendarDay.objects.values_list("day", "is_workday"))
    built = WorkCalendar(overrides)
    with _lock:
        _cached = (now, built)
    return built


def forget() -> None:
    """Drop this process's copy of the calendar: the table changed."""
    global _cached
    with _lock:
        _cached = None


def prime(overrides: dict[datetime.date, bool]) -> None:
    """Set this process's copy to a table known without reading it (a test starts with an
    empty one)."""
    global _cached
    with _lock:
        _cached = (time.monotonic(), WorkCalendar(overrides))


def on_calendar_changed(**kwargs) -> None:
    forget()


def due_soon_limit(today: datetime.date | None = None) -> datetime.date:
    """The last deadline that is "due soon" (the yellow light) today."""
    from django.conf import settings

    today = today or timezone.localdate()
    return calendar().due_soon_limit(today, settings.DUE_SOON_DAYS)


def years_without_schedule(today: datetime.date | None = None) -> list[int]:
    """This year and the next, where neither the library nor the administrator has the
    official schedule: the calendar page asks for them to be entered."""
    from .models import ScheduleYear

    today = today or timezone.localdate()
    years = [today.year, today.year + 1]
    entered = set(ScheduleYear.objects.filter(year__in=years).values_list("year", flat=True))
    return [y for y in years if not library_knows(y) and y not in entered]
