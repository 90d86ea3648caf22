"""The forms of the escalation ladder's pages: its thresholds, and a supervisor's decision
on proposed steps."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from ledger.inputs import parse_id, parse_ids

from .models import LadderSettings

# About a year of working days: a threshold beyond it is a slip of the keyboard.
MOST_WORKING_DAYS = 250


class LadderSettingsForm(forms.ModelForm):
    """The thresholds, each a number of working days. Saving adds a row: the rows before it
    say who set what, when."""

    class Meta:
        model = LadderSettings
        fields = [
            "remind_before",
            "urge_after",
            "escalate_after",
            "escalate_days",
            "circulate_after",
            "issuer",
        ]
        help_texts = {
            "remind_before": _("0 reminds on the deadline day only."),
            "urge_after": _(
                "At least 1: an item is late from the first working day after its deadline."
            ),
            "escalate_after": _("More than the days for urging: escalation comes after it."),
            "escalate_days": _(
                "The escalated item's new deadline: this many working days from the day the "
                "escalation is confirmed."
            ),
            "circulate_after": _("Counted from the new deadline the escalation gave."),
            "issuer": _(
                "Printed at the head of each notice and in its signature. Left empty, the "
                "issuer of the last public notice (公示) is printed."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name == "issuer":
                continue
            least = 0 if name == "remind_before" else 1
            field.validators += [MinValueValidator(least), MaxValueValidator(MOST_WORKING_DAYS)]
            field.widget.attrs.update(min=least, max=MOST_WORKING_DAYS)

    def clean(self):
        data = super().clean()
        urge, escalate = data.get("urge_after"), data.get("escalate_after")
        if urge is not None and escalate is not None and escalate <= urge:
            self.add_error(
                "escalate_after",
                ValidationError(
                    _(
                        "Escalation must come after urging: more than %(urge)d working "
                        "day(s) past the deadline."
                    ),
                    code="order",
                    params={"urge": urge},
                ),
            )
        return data


class DecideForm(forms.Form):
    """Confirm or dismiss proposed steps: one (its own button), the ticked ones, or every
    one waiting."""

    CONFIRM, DISMISS = "confirm", "dismiss"
    ACTIONS = [(CONFIRM, _("Confirm")), (DISMISS, _("Dismiss"))]

    action = forms.ChoiceField(choices=ACTIONS, required=False)
    # A row's own button: "confirm:12" or "dismiss:12".
    one = forms.CharField(required=False, max_length=40)
    # The button for every step waiting: only confirming.
    every = forms.ChoiceField(choices=[(CONFIRM, _("Confirm"))], required=False)
    note = forms.CharField(
        label=_("Instructions for the departments (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Goes into each event and notice of this confirmation. A 挂牌督办 without "
            "instructions says how late the item is and gives its new deadline."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.step_ids: list[int] = parse_ids(self.data.getlist("step")) if self.data else []
        self.everything = False

    def clean(self):
        data = super().clean()
        one = data.get("one") or ""
        if one:
            action, _sep, raw = one.partition(":")
            pk = parse_id(raw)
            if action not in (self.CONFIRM, self.DISMISS) or pk is None:
                raise ValidationError(_("That step is not one of the list."), code="one")
            data["action"], self.step_ids = action, [pk]
        elif data.get("every"):
            data["action"], self.everything = data["every"], True
        elif not data.get("action"):
            raise ValidationError(_("Choose to confirm or to dismiss."), code="action")
        elif not self.step_ids:
            raise ValidationError(
                _("Tick the steps to decide, or confirm all of them."), code="none"
            )
        return data
