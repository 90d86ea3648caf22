"""Forms of the phone review (专项评议) and of reopening an item: they parse and clean
input; ``supervision.reviews`` and ``ledger.workflow`` do the work."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ledger.forms import DateInput, ItemForm, check_deadline, count_working_days, working_days_field
from ledger.intake.forms_files import UploadForm
from ledger.models import Item, Round


class ReviewUploadForm(UploadForm):
    """The sheet, and the round its numbers belong to (or none: read from the numbers)."""

    round = forms.ModelChoiceField(
        label=_("Round"),
        queryset=Round.objects.all(),
        required=False,
        empty_label=_("— Recognise it from the item numbers —"),
        help_text=_("Item numbers are per round: 2019-0001 is an item of the round 2019."),
    )
    field_order = ["round", "file"]


class ReopenForm(ItemForm):
    """重新整改: the reason, and a new deadline when the item's has passed."""

    reason = forms.CharField(
        label=_("Reason for reopening"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The lead department reads it: say what is still wrong."),
    )
    deadline = forms.DateField(
        label=_("Deadline after reopening"), widget=DateInput(), required=False
    )
    working_days = working_days_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["deadline"].help_text = self._deadline_help(self.item)

    @staticmethod
    def _deadline_help(item: Item) -> str:
        if item.deadline is None:
            return _("Optional: without one the item stays long-term (长期坚持).")
        if item.deadline < timezone.localdate():
            return _("Required: the deadline, %(date)s, has passed.") % {
                "date": item.deadline.isoformat()
            }
        return _("Optional: without one the item keeps its deadline, %(date)s.") % {
            "date": item.deadline.isoformat()
        }

    def clean_deadline(self):
        deadline = self.cleaned_data["deadline"]
        if deadline is not None:
            check_deadline(deadline, _("The deadline cannot be in the past."))
        return deadline

    def clean(self):
        data = super().clean()
        count_working_days(self, data)
        return data
