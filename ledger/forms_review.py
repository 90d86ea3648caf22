"""Forms of the supervisors' review pages; like ``ledger.forms`` they only parse and clean.

The queue's inline forms are the item page's own (``ledger.views.ACTIONS``), so an approval
from the queue is checked exactly as one from the item page. Only bulk assignment needs a
form of its own: one responsibility for many items, each ticked with the version it showed.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .forms import DateInput
from .models import Department, Leader

# One page of the bulk list is 50 rows; a little room for a hand-made request, no more, so
# that one POST cannot hold the database in one transaction over the whole ledger.
MAX_SELECTION = 200


class SelectionField(forms.Field):
    """Ticked items as ``(pk, version)`` pairs, from checkboxes whose value is "pk:version".

    The version is the one the page was drawn from: an item changed since then is caught by
    the workflow's compare-and-swap instead of being assigned over someone else's change.
    """

    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "required": _("Tick at least one item to assign."),
        "invalid": _("The selection was not understood. Reload the page and tick again."),
        "too_many": _("Assign at most %(max)d items at once."),
    }

    def to_python(self, value) -> list[tuple[int, int]]:
        if not value:
            return []
        picks: dict[int, int] = {}
        for raw in value:
            pk, sep, version = str(raw).partition(":")
            if not (sep and pk.isdigit() and version.isdigit()):
                raise ValidationError(self.error_messages["invalid"], code="invalid")
            # A pk ticked twice (two tabs, a resent form) is assigned once.
            picks.setdefault(int(pk), int(version))
        if len(picks) > MAX_SELECTION:
            raise ValidationError(
                self.error_messages["too_many"], code="too_many", params={"max": MAX_SELECTION}
            )
        return list(picks.items())


def selected_pks(data) -> set[int]:
    """The pks ticked in raw POST data, leniently: to keep the ticks on a refused form."""
    return {
        int(pk)
        for pk, _sep, _version in (str(v).partition(":") for v in data.getlist("selection"))
        if pk.isdigit()
    }


class BulkAssignForm(forms.Form):
    selection = SelectionField()
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
        widget=forms.SelectMultiple(attrs={"size": 5}),
        help_text=_("Leave empty to keep what each item already has."),
    )
    deadline = forms.DateField(label=_("Deadline"), widget=DateInput())
    responsible_person = forms.CharField(
        label=_("Responsible person"),
        max_length=100,
        required=False,
        help_text=_("Leave empty to keep what each item already has."),
    )

    def clean_deadline(self):
        # The workflow refuses it too, but only item by item; saying it here puts the
        # message by the field before anything is tried.
        deadline = self.cleaned_data["deadline"]
        if deadline < timezone.localdate():
            raise ValidationError(_("The deadline cannot be in the past."))
        return deadline

    def clean(self):
        data = super().clean()
        lead = data.get("lead_department")
        if lead is not None and lead in (data.get("co_departments") or []):
            self.add_error(
                "co_departments",
                _("The lead department cannot also be a co-responsible department."),
            )
        return data
