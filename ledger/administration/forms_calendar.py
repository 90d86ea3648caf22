"""Forms of the working-day calendar page (工作日历): they parse and check what the
administrator typed; ``views_calendar`` writes it.

The bulk entry reads one day (or a run of days) a line, as an administrator copies them
from the State Council's notice: ``2027-02-06 休 春节``, ``2027-02-20 班 调休``,
``2027-02-06~2027-02-12 休 春节``. Every line is checked before anything is written, and a
paste with one bad line writes nothing.
"""

from __future__ import annotations

import dataclasses
import datetime
import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ledger.forms import DEADLINE_YEARS, DateInput
from ledger.supervision import workdays
from ledger.supervision.models import CalendarDay

NOTE_MAX = CalendarDay._meta.get_field("note").max_length
# A year's days at most in one paste: an official schedule is a few dozen; this bounds what
# one request writes and checks.
BULK_MAX_DAYS = 366
BULK_MAX_CHARS = 20_000

WORKDAY_CHOICES = [("False", _("Day off (休)")), ("True", _("Working day (班)"))]

# The words a line may use for a day off and for a working day.
OFF_WORDS = {"休", "休息", "放假", "off"}
WORK_WORDS = {"班", "上班", "补班", "工作", "work"}
# Longest first, so that "休息" is read whole rather than as "休" with a note "息".
_WORDS = sorted(OFF_WORDS | WORK_WORDS, key=len, reverse=True)

_DATE = r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
_LINE = re.compile(rf"^{_DATE}(?:\s*[~～至到]\s*{_DATE})?(?P<rest>.*)$")
_SEPARATORS = " \t\u3000,，;；、:："


def years(today: datetime.date | None = None) -> tuple[int, int]:
    """The first and last year the calendar keeps days for: from the calendar's origin to
    the farthest year a deadline may be set in."""
    today = today or timezone.localdate()
    # The calendar counts working days from its first year (before it, calendar days).
    return workdays.FIRST_YEAR, today.year + DEADLINE_YEARS


def check_year(day: datetime.date) -> None:
    first, last = years()
    if not first <= day.year <= last:
        raise ValidationError(
            _("The calendar keeps the years %(first)d to %(last)d."),
            code="year",
            params={"first": first, "last": last},
        )


def kept_year(year: int) -> int:
    first, last = years()
    if not first <= year <= last:
        raise ValidationError(
            _("Choose a year from %(first)d to %(last)d."),
            code="year",
            params={"first": first, "last": last},
        )
    return year


class YearForm(forms.Form):
    """The year chooser."""

    year = forms.IntegerField(label=_("Year"))

    def clean_year(self) -> int:
        return kept_year(self.cleaned_data["year"])


class DayForm(forms.ModelForm):
    """One row of the administrator's table: a day, working or not, and why."""

    is_workday = forms.TypedChoiceField(
        label=_("The day is"),
        choices=WORKDAY_CHOICES,
        coerce=lambda value: value in (True, "True"),
        widget=forms.RadioSelect,
    )

    class Meta:
        model = CalendarDay
        fields = ["day", "is_workday", "note"]
        widgets = {"day": DateInput()}
        help_texts = {
            "note": _("What the day is: 春节, 国庆节调休, a local holiday …"),
        }

    def clean_day(self) -> datetime.date:
        day = self.cleaned_data["day"]
        check_year(day)
        taken = CalendarDay.objects.filter(day=day).exclude(pk=self.instance.pk).exists()
        if taken:
            raise ValidationError(
                _("%(day)s is already in the table: change that row instead."),
                code="taken",
                params={"day": day.isoformat()},
            )
        return day

    def validate_unique(self) -> None:
        # ``clean_day`` says it, in words that tell what to do.
        pass


class ScheduleForm(forms.Form):
    """The administrator's word that a year's official schedule is entered, or taking it
    back."""

    year = forms.IntegerField()
    entered = forms.TypedChoiceField(
        choices=[("1", "1"), ("0", "0")], coerce=lambda value: value == "1"
    )

    def clean_year(self) -> int:
        return kept_year(self.cleaned_data["year"])


@dataclasses.dataclass(frozen=True)
class BulkDay:
    """One day a pasted line sets."""

    line: int
    day: datetime.date
    is_workday: bool
    note: str


@dataclasses.dataclass(frozen=True)
class BulkError:
    line: int
    text: str
    reason: str


def _date(year: str, month: str, day: str) -> datetime.date | None:
    try:
        return datetime.date(int(year), int(month), int(day))
    except ValueError:
        return None


def parse(text: str) -> tuple[list[BulkDay], list[BulkError]]:
    """The days a pasted text sets, and its lines that cannot be read, each with why.

    Blank lines and lines starting with # are skipped."""
    days: list[BulkDay] = []
    errors: list[BulkError] = []
    seen: dict[datetime.date, int] = {}
    first, last = years()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            errors.append(
                BulkError(number, line, gettext("Start the line with a date, as 2027-02-06."))
            )
            continue
        groups = match.groups()
        start = _date(*groups[0:3])
        end = _date(*groups[3:6]) if groups[3] else start
        if start is None or end is None:
            errors.append(BulkError(number, line, gettext("There is no such date.")))
            continue
        if end < start:
            errors.append(
                BulkError(number, line, gettext("The run of days ends before it starts."))
            )
            continue
        if not (first <= start.year and end.year <= last):
            errors.append(
                BulkError(
                    number,
                    line,
                    gettext("The calendar keeps the years %(first)d to %(last)d.")
                    % {"first": first, "last": last},
                )
            )
            continue
        rest = match.group("rest").strip(_SEPARATORS)
        word = next((w for w in _WORDS if rest.lower().startswith(w)), None)
        if word is None:
            errors.append(
                BulkError(
                    number,
                    line,
                    gettext("After the date, write 休 (a day off) or 班 (a working day)."),
                )
            )
            continue
        is_workday = word in WORK_WORDS
        note = rest[len(word) :].strip(_SEPARATORS)
        if len(note) > NOTE_MAX:
            errors.append(
                BulkError(
                    number,
                    line,
                    gettext("The note is longer than %(n)d characters.") % {"n": NOTE_MAX},
                )
            )
            continue
        if (end - start).days + len(days) >= BULK_MAX_DAYS:
            errors.append(
                BulkError(
                    number,
                    line,
                    gettext("At most %(n)d days at once: save these, then paste the rest.")
                    % {"n": BULK_MAX_DAYS},
                )
            )
            break
        day = start
        while day <= end:
            if day in seen:
                errors.append(
                    BulkError(
                        number,
                        line,
                        gettext("%(day)s is already on line %(line)d.")
                        % {"day": day.isoformat(), "line": seen[day]},
                    )
                )
                break
            seen[day] = number
            days.append(BulkDay(number, day, is_workday, note))
            day += workdays.DAY
    return days, errors


class BulkForm(forms.Form):
    text = forms.CharField(
        label=_("Days, one a line"),
        max_length=BULK_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false"}),
        error_messages={"required": _("Paste or type at least one line.")},
    )

    def clean(self):
        data = super().clean()
        if "text" in data:
            self.days, self.line_errors = parse(data["text"])
            if not self.days and not self.line_errors:
                self.add_error("text", _("Paste or type at least one line."))
        else:
            self.days, self.line_errors = [], []
        return data
