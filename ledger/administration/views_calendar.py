"""The working-day calendar (工作日历), for the administrator: a year's days off and make-up
workdays, from the ``holidays`` library and from the administrator's table, and the table
itself (one day at a time, or pasted as lines). docs/supervision.md explains the rules.

Every change is a line of the audit trail. The calendar of this process is cleared by the
table's signals; a bulk entry writes without them, so it clears it itself.
"""

from __future__ import annotations

import calendar as monthly
import dataclasses
import datetime
import functools

import holidays
from django.conf import settings
from django.contrib import messages
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.db.models.functions import ExtractYear
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy
from django.views.decorators.http import require_POST

from ledger import audit
from ledger.access import administrator_required
from ledger.supervision import workdays
from ledger.supervision.models import CalendarDay, ScheduleYear

from .forms_calendar import BulkDay, BulkForm, DayForm, ScheduleForm, YearForm

# How a day is decided, first to last (ledger/supervision/workdays.py).
TABLE, LIBRARY, WEEK = "table", "library", "week"
# The month grid's heads, Monday first as Chinese calendars print them.
WEEKDAYS = [
    pgettext_lazy("weekday initial", "Mo"),
    pgettext_lazy("weekday initial", "Tu"),
    pgettext_lazy("weekday initial", "We"),
    pgettext_lazy("weekday initial", "Th"),
    pgettext_lazy("weekday initial", "Fr"),
    pgettext_lazy("weekday initial", "Sa"),
    pgettext_lazy("weekday initial", "Su"),
]


@functools.lru_cache(maxsize=64)
def library_days(year: int, language: str) -> tuple[dict[datetime.date, str], frozenset]:
    """The library's named days off and its make-up workdays of ``year``, for a year it
    holds the official schedule of; nothing for any other (the calendar ignores its guesses
    there, as ``workdays`` does)."""
    if not workdays.library_knows(year):
        return {}, frozenset()
    china = holidays.China(years=year, language=language)
    days_off = {day: name for day, name in china.items() if day.year == year}
    made_up = frozenset(d for d in getattr(china, "weekend_workdays", ()) if d.year == year)
    return days_off, made_up


def _library_language() -> str:
    return "zh_CN" if (translation.get_language() or "").startswith("zh") else "en_US"


def _kind(is_workday: bool) -> str:
    return _("working day") if is_workday else _("day off")


@dataclasses.dataclass
class Day:
    """One day of the year view: working or not, and what decided it."""

    day: datetime.date
    workday: bool
    source: str  # TABLE, LIBRARY or WEEK (the ordinary week: weekdays work, weekends rest)
    name: str = ""  # the library's name of the holiday, or the table's note
    row: CalendarDay | None = None
    # What the library says of a day the table decides, when it says something.
    library: str = ""

    @property
    def weekend(self) -> bool:
        return self.day.weekday() >= 5

    @property
    def special(self) -> bool:
        """Not simply a weekday at work or a weekend at rest."""
        return self.source != WEEK


def decided(day: datetime.date, row: CalendarDay | None) -> Day:
    """How the calendar decides ``day``, with the table's ``row`` for it if any."""
    days_off, made_up = library_days(day.year, _library_language())
    said = ""
    if day in made_up:
        said = _("make-up workday (调休上班)")
    elif day in days_off:
        said = days_off[day]
    if row is not None:
        return Day(day, row.is_workday, TABLE, row.note, row, library=said)
    if day in made_up:
        return Day(day, True, LIBRARY, said)
    if day in days_off:
        return Day(day, False, LIBRARY, said)
    return Day(day, day.weekday() < 5, WEEK)


def year_days(year: int, rows: dict[datetime.date, CalendarDay]) -> list[Day]:
    """Every day of ``year``, as the calendar decides it with the table's ``rows``."""
    out = []
    day = datetime.date(year, 1, 1)
    while day.year == year:
        out.append(decided(day, rows.get(day)))
        day += workdays.DAY
    return out


def months(year: int, days: list[Day]) -> list[tuple[int, list[list[Day | None]]]]:
    """The year as twelve months of weeks, Monday first; a week's days outside the month
    are None."""
    by_date = {d.day: d for d in days}
    weeks = monthly.Calendar(firstweekday=0)
    return [
        (
            month,
            [
                [by_date[d] if d.month == month and d.year == year else None for d in week]
                for week in weeks.monthdatescalendar(year, month)
            ],
        )
        for month in range(1, 13)
    ]


def _chosen_year(request: HttpRequest) -> tuple[int, YearForm]:
    today = timezone.localdate()
    if "year" not in request.GET:
        return today.year, YearForm(initial={"year": today.year})
    form = YearForm(request.GET)
    return (form.cleaned_data["year"] if form.is_valid() else today.year), form


def _year_url(year: int) -> str:
    return f"{reverse('manage:calendar')}?year={year}"


def _render_year(
    request: HttpRequest, year: int, chooser: YearForm, form: DayForm | None = None
) -> HttpResponse:
    rows = {
        row.day: row
        for row in CalendarDay.objects.filter(day__year=year).select_related("updated_by")
    }
    days = year_days(year, rows)
    schedule = ScheduleYear.objects.filter(year=year).select_related("confirmed_by").first()
    table_years = list(
        CalendarDay.objects.annotate(y=ExtractYear("day"))
        .values_list("y")
        .annotate(n=Count("pk"))
        .order_by("y")
    )
    return render(
        request,
        "administration/calendar.html",
        {
            "year": year,
            "chooser": chooser,
            "form": form or DayForm(initial={"day": None, "is_workday": "False"}),
            "months": months(year, days),
            "weekdays": WEEKDAYS,
            "special": [d for d in days if d.special],
            "workdays": sum(d.workday for d in days),
            "days_off": sum(not d.workday for d in days),
            "table_rows": len(rows),
            "library_knows": workdays.library_knows(year),
            "library_version": holidays.__version__,
            "schedule": schedule,
            "missing": workdays.years_without_schedule(),
            "table_years": table_years,
            "previous": year - 1,
            "next": year + 1,
        },
        status=400 if form is not None and form.errors else 200,
    )


def _audit(request: HttpRequest, summary, params: dict, target: str, **detail) -> None:
    audit.record(
        audit.Kind.CALENDAR, summary, params, request=request, target=target, detail=detail
    )


def _said(is_workday: bool, note: str):
    """A table row as the audit trail writes it, in the trail's language."""
    kind = gettext_lazy("working day") if is_workday else gettext_lazy("day off")
    return format_lazy("{}（{}）", kind, note) if note else kind


def _changes(was: CalendarDay, row: CalendarDay) -> dict[str, list[str]]:
    """What an edit changed, by field, before and after, in the trail's language."""
    out = {}
    with translation.override(settings.LANGUAGE_CODE):
        for field in ("day", "is_workday", "note"):
            before, after = getattr(was, field), getattr(row, field)
            if before != after:
                if field == "is_workday":
                    before, after = _kind(before), _kind(after)
                label = str(CalendarDay._meta.get_field(field).verbose_name)
                out[label] = [str(before), str(after)]
    return out


@administrator_required
def calendar_year(request: HttpRequest) -> HttpResponse:
    """The year view (GET), and a day added to the table (POST)."""
    year, chooser = _chosen_year(request)
    if request.method != "POST":
        return _render_year(request, year, chooser)
    form = DayForm(request.POST, instance=CalendarDay(updated_by=request.user))
    if not form.is_valid():
        return _render_year(request, year, chooser, form)
    row = form.save()
    _audit(
        request,
        gettext_lazy("Added %(day)s to the working-day calendar: %(what)s"),
        {"day": row.day.isoformat(), "what": _said(row.is_workday, row.note)},
        row.day.isoformat(),
        day=row.day.isoformat(),
        is_workday=row.is_workday,
        note=row.note,
    )
    messages.success(
        request,
        _("%(day)s is now a %(kind)s in the calendar.")
        % {"day": row.day.isoformat(), "kind": _kind(row.is_workday)},
    )
    return redirect(_year_url(row.day.year))


@administrator_required
def calendar_day(request: HttpRequest, pk: int) -> HttpResponse:
    """One row of the table: changed (POST), or shown to change."""
    row = get_object_or_404(CalendarDay.objects.select_related("updated_by"), pk=pk)
    was = CalendarDay(day=row.day, is_workday=row.is_workday, note=row.note)
    form = DayForm(request.POST or None, instance=row)
    if request.method == "POST" and form.is_valid():
        row = form.save(commit=False)
        changed = _changes(was, row)
        if changed:
            row.updated_by = request.user
            row.updated_at = timezone.now()
            row.save()
            _audit(
                request,
                gettext_lazy("Changed %(day)s in the working-day calendar: %(fields)s"),
                {
                    "day": was.day.isoformat(),
                    "fields": "；".join(
                        f"{label}：{before} → {after}" for label, (before, after) in changed.items()
                    ),
                },
                was.day.isoformat(),
                day=was.day.isoformat(),
                changes=changed,
            )
            messages.success(request, _("The day was saved."))
        else:
            messages.info(request, _("Nothing was changed."))
        return redirect(_year_url(row.day.year))
    return render(
        request,
        "administration/calendar_day.html",
        {
            "row": row,
            "form": form,
            "library": decided(row.day, None),
        },
        status=400 if form.errors else 200,
    )


@administrator_required
@require_POST
def calendar_delete(request: HttpRequest, pk: int) -> HttpResponse:
    row = get_object_or_404(CalendarDay, pk=pk)
    day, said = row.day, _said(row.is_workday, row.note)
    row.delete()
    _audit(
        request,
        gettext_lazy("Removed %(day)s from the working-day calendar (it was a %(what)s)"),
        {"day": day.isoformat(), "what": said},
        day.isoformat(),
        day=day.isoformat(),
    )
    messages.success(
        request,
        _("%(day)s was removed from the table: the library and the weekend decide it again.")
        % {"day": day.isoformat()},
    )
    return redirect(_year_url(day.year))


@administrator_required
@require_POST
def calendar_schedule(request: HttpRequest) -> HttpResponse:
    """The administrator's word that a year's official schedule is entered (a
    ``ScheduleYear``), or taking it back. Refused for a year with no day in the table: a
    schedule always has days off, so nothing of it is entered yet."""
    form = ScheduleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a year the calendar keeps."))
        return redirect("manage:calendar")
    year, entered = form.cleaned_data["year"], form.cleaned_data["entered"]
    if entered:
        if not CalendarDay.objects.filter(day__year=year).exists():
            messages.error(
                request,
                _(
                    "No day of %(year)d is in the table yet: enter the official schedule's "
                    "days off and make-up workdays first."
                )
                % {"year": year},
            )
            return redirect(_year_url(year))
        _row, created = ScheduleYear.objects.get_or_create(
            year=year, defaults={"confirmed_by": request.user}
        )
        if created:
            _audit(
                request,
                gettext_lazy("Marked the official holiday schedule of %(year)s as entered"),
                {"year": year},
                str(year),
                year=year,
            )
        messages.success(
            request,
            _("The official schedule of %(year)d is marked as entered.") % {"year": year},
        )
    else:
        deleted, _counts = ScheduleYear.objects.filter(year=year).delete()
        if deleted:
            _audit(
                request,
                gettext_lazy(
                    "Took back the mark that the official holiday schedule of %(year)s is entered"
                ),
                {"year": year},
                str(year),
                year=year,
            )
        messages.success(
            request,
            _("%(year)d is no longer marked as having its official schedule entered.")
            % {"year": year},
        )
    return redirect(_year_url(year))


def _preview(days: list[BulkDay]) -> list[dict]:
    """Each day of a paste beside what the calendar says of it now."""
    rows = CalendarDay.objects.in_bulk([d.day for d in days], field_name="day")
    out = []
    for d in days:
        now = decided(d.day, rows.get(d.day))
        out.append(
            {
                "new": d,
                "now": now,
                "same": now.source == TABLE and now.workday == d.is_workday and now.name == d.note,
            }
        )
    return out


def _save_bulk(request: HttpRequest, days: list[BulkDay]) -> int:
    """Write every day of the paste in one transaction: new rows, and rows changed."""
    now = timezone.now()
    with transaction.atomic():
        existing = CalendarDay.objects.select_for_update().in_bulk(
            [d.day for d in days], field_name="day"
        )
        before = {
            day: {"is_workday": row.is_workday, "note": row.note} for day, row in existing.items()
        }
        changed = []
        for d in days:
            row = existing.get(d.day)
            if row is not None:
                row.is_workday, row.note = d.is_workday, d.note
                row.updated_by, row.updated_at = request.user, now
                changed.append(row)
        CalendarDay.objects.bulk_update(
            changed, ["is_workday", "note", "updated_by", "updated_at"], batch_size=500
        )
        CalendarDay.objects.bulk_create(
            [
                CalendarDay(
                    day=d.day,
                    is_workday=d.is_workday,
                    note=d.note,
                    updated_by=request.user,
                    updated_at=now,
                )
                for d in days
                if d.day not in existing
            ],
            batch_size=500,
        )
        _audit(
            request,
            gettext_lazy("Entered %(n)s days in the working-day calendar: %(days)s"),
            {
                "n": len(days),
                "days": "、".join(
                    f"{d.day.isoformat()} {'班' if d.is_workday else '休'}" for d in days
                ),
            },
            "、".join(sorted({str(d.day.year) for d in days})),
            days=[
                {
                    "day": d.day.isoformat(),
                    "is_workday": d.is_workday,
                    "note": d.note,
                    "before": before.get(d.day),
                }
                for d in days
            ],
        )
        # Bulk writes send no signals: the calendar of this process is cleared here.
        transaction.on_commit(workdays.forget)
    workdays.forget()
    return len(days)


@administrator_required
def calendar_bulk(request: HttpRequest) -> HttpResponse:
    """Days pasted as lines: checked and shown first, then written all together or not at
    all."""
    form = BulkForm(request.POST or None)
    preview, status, refused = None, 200, ""
    if request.method == "POST":
        if not form.is_valid():
            status = 400
        else:
            preview = _preview(form.days)
            if form.line_errors:
                status = 400
            elif "save" in request.POST:
                try:
                    n = _save_bulk(request, form.days)
                except IntegrityError:
                    # Someone added one of these days meanwhile: show the table as it is now.
                    refused = _(
                        "Someone changed the table meanwhile: nothing was saved. Check the "
                        "days again."
                    )
                    preview, status = _preview(form.days), 409
                else:
                    messages.success(
                        request,
                        ngettext(
                            "%(n)d day was saved in the calendar.",
                            "%(n)d days were saved in the calendar.",
                            n,
                        )
                        % {"n": n},
                    )
                    return redirect(_year_url(form.days[0].day.year))
    return render(
        request,
        "administration/calendar_bulk.html",
        {
            "form": form,
            "preview": preview,
            "line_errors": getattr(form, "line_errors", []),
            "refused": refused,
            "missing": workdays.years_without_schedule(),
            "example_year": timezone.localdate().year + 1,
        },
        status=status,
    )
