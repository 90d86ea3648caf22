"""Forms of the supervisors' review pages; like ``ledger.forms`` they only parse and clean.

The queue's inline forms are the item page's own (``ledger.views.ACTIONS``), so an approval
from the queue is checked exactly as one from the item page. Only bulk assignment needs a
form of its own: one responsibility for many items, each ticked with the version it showed.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .forms import Responsibility
from .inputs import parse_id
from .models import Item

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
            pk, _sep, version = (parse_id(part) for part in str(raw).partition(":"))
            if pk is None or version is None:
                raise ValidationError(self.error_messages["invalid"], code="invalid")
            # A pk ticked twice (two tabs, a resent form) is assigned once.
            picks.setdefault(pk, version)
        if len(picks) > MAX_SELECTION:
            raise ValidationError(
                self.error_messages["too_many"], code="too_many", params={"max": MAX_SELECTION}
            )
        return list(picks.items())


def selected_pks(data) -> set[int]:
    """The pks ticked in raw POST data, leniently: to keep the ticks on a refused form."""
    return {
        pk
        for raw in data.getlist("selection")
        if (pk := parse_id(str(raw).partition(":")[0])) is not None
    }


class BulkAssignForm(Responsibility):
    """One responsibility for every ticked item. A field left empty takes each item's own
    proposal (拟交办: what the ledger file or an earlier assignment put on the draft)."""

    # An empty deadline is each item's own.
    deadline_required = False

    selection = SelectionField()

    field_order = [
        "selection",
        "leader",
        "lead_department",
        "co_departments",
        "deadline",
        "working_days",
        "long_term",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        proposed = _("As each item proposes")
        for name in ("leader", "lead_department"):
            self.fields[name].required = False
            self.fields[name].empty_label = proposed
        keep = _("Leave empty to keep what each item already has.")
        self.fields["co_departments"].help_text = keep
        self.fields["co_departments"].widget.attrs["size"] = 5
        self.fields["responsible_person"].help_text = keep
        self.fields["deadline"].help_text = _(
            "Leave empty to keep each item's proposed deadline, or its being long-term."
        )

    def shown_deadline(self):
        """The page starts from the deadline its drafts propose alike: when every ticked
        item proposes one and the same, that is the date the form showed."""
        picks = self.cleaned_data.get("selection") or []
        deadlines = list(
            Item.objects.filter(pk__in=[pk for pk, _version in picks])
            .order_by()
            .values_list("deadline", flat=True)
            .distinct()[:2]
        )
        return deadlines[0] if len(deadlines) == 1 else None

    def long_term(self) -> bool | None:
        """Long-term ticked, a deadline given (not long-term), or None: each item's own."""
        if self.cleaned_data.get("long_term"):
            return True
        return False if self.cleaned_data.get("deadline") else None
