"""Forms parse and clean what a user typed; ``ledger.workflow`` applies the change."""

from __future__ import annotations

import datetime

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import evidence
from .models import Category, Department, Item, Leader
from .supervision import workdays


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


# A deadline further away than this is a slip of the keyboard (9999 for 2029), not a plan.
DEADLINE_YEARS = 10


def years_after(day: datetime.date, years: int) -> datetime.date:
    """The same day ``years`` later (28 February for a 29th in a year that has none)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def check_deadline(deadline: datetime.date, past: str) -> None:
    """A deadline set now is from today (``past`` says so when it is not) to DEADLINE_YEARS
    from today."""
    today = timezone.localdate()
    if deadline < today:
        raise ValidationError(past, code="past")
    latest = years_after(today, DEADLINE_YEARS)
    if deadline > latest:
        raise ValidationError(
            _("A deadline can be at most %(years)d years from today, up to %(date)s."),
            code="too_far",
            params={"years": DEADLINE_YEARS, "date": latest.isoformat()},
        )


def working_days_field() -> forms.IntegerField:
    """A deadline given as a number of working days from today, instead of a date."""
    return forms.IntegerField(
        label=_("Or: working days from today"),
        required=False,
        min_value=1,
        help_text=_(
            "Instead of a date: the deadline is that many working days from today, holidays "
            "and make-up workdays (调休) counted."
        ),
    )


def count_working_days(
    form: forms.Form, data: dict, field: str = "deadline", shown: datetime.date | None = None
) -> None:
    """Turn the form's ``working_days`` into the date of ``field``, in ``data``. A date given
    too must be that same day, unless it is the one the form was drawn with (``shown``),
    which the user left as it was. The number stays in ``data`` for the event."""
    n = data.get("working_days")
    if n is None or "working_days" in form.errors or field in form.errors:
        return
    today = timezone.localdate()
    calendar = workdays.calendar()
    latest = years_after(today, DEADLINE_YEARS)
    # Bounded before counting: the count walks the days one by one.
    most = calendar.between(today, latest)
    if n > most:
        form.add_error(
            "working_days",
            ValidationError(
                _("A deadline can be at most %(years)d years from today: %(most)d working days."),
                code="too_far",
                params={"years": DEADLINE_YEARS, "most": most},
            ),
        )
        return
    counted = calendar.add(today, n)
    given = data.get(field)
    if given is not None and given not in (counted, shown):
        form.add_error(
            "working_days",
            ValidationError(
                _(
                    "%(n)d working days from today is %(counted)s, not the date given "
                    "(%(given)s): give the date or the number of working days, not both."
                ),
                code="disagree",
                params={"n": n, "counted": counted.isoformat(), "given": given.isoformat()},
            ),
        )
        return
    data[field] = counted


def counted_deadline(data: dict, field: str = "deadline") -> str:
    """The deadline a number of working days gave, for the confirmation message; "" when
    the deadline was given as a date."""
    n, day = data.get("working_days"), data.get(field)
    if not n or day is None:
        return ""
    return ngettext(
        "Deadline: %(date)s, %(n)d working day from today.",
        "Deadline: %(date)s, %(n)d working days from today.",
        n,
    ) % {"date": day.isoformat(), "n": n}


class ActionForm(forms.Form):
    """Every action form carries the item version its page was drawn from."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class NoteForm(ActionForm):
    note = forms.CharField(
        label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class RequiredNoteForm(ActionForm):
    note = forms.CharField(
        label=_("Instructions"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class ReasonForm(ActionForm):
    reason = forms.CharField(
        label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class CommentForm(ActionForm):
    text = forms.CharField(
        label=_("Comment"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class Responsibility(forms.Form):
    """Who answers for an item and by when (交办): shared by the item page's assign form and
    the review queue's bulk assignment."""

    leader = forms.ModelChoiceField(
        label=_("Responsible leader"), queryset=Leader.objects.filter(is_active=True)
    )
    lead_department = forms.ModelChoiceField(
        label=_("Lead department"), queryset=Department.objects.filter(is_active=True)
    )
    co_departments = forms.ModelMultipleChoiceField(
        label=_("Co-responsible departments"),
        queryset=Department.objects.filter(is_active=True),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    responsible_person = forms.CharField(
        label=_("Responsible person"), max_length=100, required=False
    )
    deadline = forms.DateField(label=_("Deadline"), widget=DateInput(), required=False)
    working_days = working_days_field()
    long_term = forms.BooleanField(label=_("Long-term (长期坚持), no deadline"), required=False)

    def clean_deadline(self):
        # The workflow refuses a past one too; saying it here puts the message by the field
        # before anything is tried.
        deadline = self.cleaned_data["deadline"]
        if deadline is not None:
            check_deadline(deadline, _("The deadline cannot be in the past."))
        return deadline

    # Whether the deadline (or long-term) must be given here; a proposal or a bulk form that
    # keeps each item's own may leave it empty.
    deadline_required = True

    def shown_deadline(self) -> datetime.date | None:
        """The date the form was drawn with: left there beside a number of working days, it
        is not a second answer."""
        return None

    def clean(self):
        data = super().clean()
        if data.get("long_term"):
            data["deadline"] = None
            data["working_days"] = None
        else:
            count_working_days(self, data, shown=self.shown_deadline())
            if (
                self.deadline_required
                and data.get("deadline") is None
                and not {"deadline", "working_days"} & set(self.errors)
            ):
                self.add_error("deadline", _("Set the deadline, or mark the item long-term."))
        lead = data.get("lead_department")
        if lead is not None and lead in (data.get("co_departments") or []):
            self.add_error(
                "co_departments",
                _("The lead department cannot also be a co-responsible department."),
            )
        return data


def responsibility_of(item: Item) -> dict:
    """What the item says of who answers for it: the ledger's proposal or the last
    assignment, to start a form from."""
    return {
        "leader": item.leader_id,
        "lead_department": item.lead_department_id,
        "co_departments": [d.pk for d in item.co_departments.all()],
        "responsible_person": item.responsible_person,
        "deadline": item.deadline,
        "long_term": item.long_term,
    }


class ItemForm(ActionForm):
    """An action form drawn from the item it acts on (``item=``), for its initial values
    or its choices."""

    def __init__(self, data=None, files=None, *, item: Item, **kwargs):
        self.item = item
        if data is None:
            kwargs["initial"] = self.initial_for(item) | kwargs.get("initial", {})
        super().__init__(data, files, **kwargs)

    def initial_for(self, item: Item) -> dict:
        return {}


class AssignForm(ItemForm, Responsibility):
    note = forms.CharField(
        label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def initial_for(self, item: Item) -> dict:
        return responsibility_of(item)

    def shown_deadline(self) -> datetime.date | None:
        return self.item.deadline


class ReassignForm(AssignForm):
    """调整交办: the assignment as it stands, to change, with the reason."""

    reason = forms.CharField(
        label=_("Reason for the change"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    note = None

    def clean_deadline(self):
        # An item already overdue keeps its deadline when only its department changes.
        deadline = self.cleaned_data["deadline"]
        if deadline is not None and deadline == self.item.deadline:
            return deadline
        return super().clean_deadline()


class Wording(forms.Form):
    """How an item is to be rectified, as a supervisor writes it on a new item or corrects
    it on an existing one."""

    track = forms.ChoiceField(
        label=_("Track"), choices=Item.Track.choices, initial=Item.Track.IMMEDIATE
    )
    measures = forms.CharField(
        label=_("Measures"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    goal = forms.CharField(
        label=_("Goal"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )
    remarks = forms.CharField(
        label=_("Remarks"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class EditForm(ItemForm, Wording):
    """修改: what the item says, as it says it now."""

    FIELDS = ("title", "category", "track", "responsible_person", "measures", "goal", "remarks")
    field_order = [*FIELDS, "note"]

    title = forms.CharField(
        label=_("Problem"), max_length=300, widget=forms.Textarea(attrs={"rows": 2})
    )
    category = forms.ModelChoiceField(
        label=_("Category"), queryset=Category.objects.none(), required=False
    )
    responsible_person = forms.CharField(
        label=_("Responsible person"), max_length=100, required=False
    )
    note = forms.CharField(
        label=_("Why (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "category" in self.fields:
            self.fields["category"].queryset = Category.objects.filter(round_id=self.item.round_id)

    def initial_for(self, item: Item) -> dict:
        return {
            field: getattr(item, f"{field}_id" if field == "category" else field)
            for field in self.FIELDS
        }

    def clean(self):
        data = super().clean()
        # What the workflow is asked to change: every field of the form, as typed.
        data["values"] = {f: data.get(f) for f in self.FIELDS}
        return data


class EditPlanForm(EditForm):
    """The lead department's part of the item: its measures and goal."""

    FIELDS = ("measures", "goal")
    title = category = track = responsible_person = remarks = None


class MergeForm(ItemForm):
    into = forms.CharField(
        label=_("Number of the item it is the same as"),
        max_length=32,
        help_text=_(
            "This item's suggestions and progress move to that item, and this one is "
            "withdrawn with a pointer to it."
        ),
    )
    note = forms.CharField(
        label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean_into(self):
        number = self.cleaned_data["into"].strip()
        into = (
            Item.objects.filter(round_id=self.item.round_id, number=number)
            .exclude(pk=self.item.pk)
            .first()
        )
        if into is None:
            raise ValidationError(
                _("No other item of the round %(round)s is numbered “%(number)s”."),
                params={"round": self.item.round, "number": number},
            )
        return into


class GrantExtensionForm(ItemForm):
    deadline = forms.DateField(
        label=_("New deadline"),
        widget=DateInput(),
        required=False,
        help_text=_("The date asked for; another may be granted instead."),
    )
    working_days = working_days_field()
    note = forms.CharField(
        label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean_deadline(self):
        # Empty: the date asked for, which was checked when it was asked.
        deadline = self.cleaned_data["deadline"]
        if deadline is not None:
            check_deadline(deadline, _("The new deadline cannot be in the past."))
        return deadline

    def clean(self):
        data = super().clean()
        if data.get("working_days") is not None:
            count_working_days(self, data, shown=self.initial_for(self.item).get("deadline"))
        return data

    def initial_for(self, item: Item) -> dict:
        # The page that shows the request has it at hand (``pending_extension``).
        pending = getattr(item, "pending_extension", None)
        if pending is None:
            pending = item.extensions.filter(status="pending").first()
        return {"deadline": pending.new_deadline} if pending else {}


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class EvidenceField(forms.FileField):
    """Several files in one input (Django's "Uploading multiple files"), each one checked by
    ``ledger.evidence``: the cleaned value is a list of ``CheckedFile``."""

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": evidence.ACCEPT}))
        # An empty file is refused by ledger.evidence, with a message that names it.
        super().__init__(allow_empty_file=True, **kwargs)

    def clean(self, data, initial=None) -> list[evidence.CheckedFile]:
        uploads = data if isinstance(data, list | tuple) else [data]
        # super() with arguments: before Python 3.12 a comprehension is its own scope.
        cleaned = [super(EvidenceField, self).clean(upload, initial) for upload in uploads]
        return evidence.check_uploads([upload for upload in cleaned if upload])


class ProgressForm(ItemForm):
    reported_on = forms.DateField(label=_("Date"), widget=DateInput())
    percent = forms.IntegerField(label=_("Percent done"), min_value=0, max_value=100)
    text = forms.CharField(
        label=_("Progress"), max_length=5000, widget=forms.Textarea(attrs={"rows": 4})
    )
    evidence = EvidenceField(label=_("Evidence files"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Worded per request, in the reader's language, with the limits in force.
        self.fields["evidence"].help_text = _(
            "Photos, PDF, Office or WPS documents: up to %(count)d files of %(mb)d MB each."
        ) % {"count": evidence.MAX_FILES, "mb": settings.EVIDENCE_MAX_BYTES // (1024 * 1024)}

    def clean_reported_on(self):
        """Not in the future (the workflow says so too), nor before the year of the item's
        round: its feedback did not exist yet."""
        day = self.cleaned_data["reported_on"]
        if day > timezone.localdate():
            raise ValidationError(_("The date of progress cannot be in the future."))
        year = self.item.round.year
        if day < datetime.date(min(max(year, 1), 9999), 1, 1):
            raise ValidationError(
                _("The date of progress cannot be before the round’s year, %(year)s."),
                code="before_round",
                params={"year": year},
            )
        return day


class CloseoutForm(ActionForm):
    outcome_kind = forms.ChoiceField(
        label=_("Outcome kind"), choices=Item.OutcomeKind.choices, widget=forms.RadioSelect
    )
    outcome = forms.CharField(
        label=_("Outcome"), max_length=5000, widget=forms.Textarea(attrs={"rows": 4})
    )


class ExtensionForm(ActionForm):
    new_deadline = forms.DateField(label=_("New deadline"), widget=DateInput())
    reason = forms.CharField(
        label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def clean_new_deadline(self):
        # Later than the current deadline is the workflow's to say: it knows the item.
        deadline = self.cleaned_data["new_deadline"]
        check_deadline(deadline, _("The new deadline cannot be in the past."))
        return deadline
