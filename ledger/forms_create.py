"""The form of an item a supervisor adds by hand (新增事项); like ``ledger.forms`` it only
parses and cleans, and ``ledger.views_create`` writes the item."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .forms import Responsibility, Wording
from .models import Category, Round

# The fields that say what the item is, and those that propose who answers for it.
ITEM_FIELDS = (
    "round",
    "title",
    "category",
    "track",
    "measures",
    "goal",
    "responsible_person",
    "remarks",
)
PROPOSAL_FIELDS = (
    "leader",
    "lead_department",
    "co_departments",
    "deadline",
    "working_days",
    "long_term",
)


def _category_choices() -> list:
    """Every round's categories, grouped under the round: the one chosen must be the item's
    round's, which ``clean`` checks."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for pk, name, round_name in Category.objects.order_by(
        "round__year", "round_id", "order", "name"
    ).values_list("pk", "name", "round__name"):
        groups.setdefault(round_name, []).append((pk, name))
    return [("", "—"), *groups.items()]


class NewItemForm(Responsibility, Wording):
    """A draft of a round: what it is, and what is known of who will answer for it (all of
    which may wait for the assignment)."""

    # Nothing of the assignment is required yet: it may all wait for the assignment.
    deadline_required = False

    round = forms.ModelChoiceField(
        label=_("Round"),
        queryset=Round.objects.all(),
        error_messages={"required": _("Choose the round.")},
    )
    title = forms.CharField(
        label=_("Problem"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Personal details (a name, a phone or ID number, an address …) are masked in the "
            "title; the words as typed are then kept as the item's suggestion."
        ),
        error_messages={
            "required": _("The problem cannot be empty."),
            "max_length": _("The problem is longer than 300 characters."),
        },
    )
    category = forms.TypedChoiceField(
        label=_("Category"), required=False, coerce=int, empty_value=None
    )
    field_order = [*ITEM_FIELDS, *PROPOSAL_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = _category_choices()
        for name in ("leader", "lead_department"):
            self.fields[name].required = False

    def clean(self):
        data = super().clean()
        category = data.get("category")
        if category is not None:
            round = data.get("round")
            data["category"] = Category.objects.filter(pk=category, round=round).first()
            if data["category"] is None and round is not None:
                self.add_error("category", _("Choose one of the round’s categories."))
        return data
