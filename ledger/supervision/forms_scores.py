"""The weights of the department score, as a supervisor sets them."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from .scores import LABELS, MEASURES, help_text

# A weight is a share: any scale will do (30/15/… or 0.3/0.15/…), up to this.
MAX_WEIGHT = Decimal(1000)


class WeightsForm(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for measure in MEASURES:
            self.fields[measure] = forms.DecimalField(
                label=LABELS[measure],
                help_text=help_text(measure),
                min_value=Decimal(0),
                max_value=MAX_WEIGHT,
                max_digits=7,
                decimal_places=2,
                widget=forms.NumberInput(attrs={"step": "any", "min": "0", "inputmode": "decimal"}),
            )

    def clean(self):
        data = super().clean()
        given = [data.get(m) for m in MEASURES]
        if all(value is not None for value in given) and sum(given) <= 0:
            raise forms.ValidationError(
                _("Give at least one measure a weight above 0: the score is their weighted mean.")
            )
        return data

    def weights(self) -> dict[str, Decimal]:
        return {m: self.cleaned_data[m] for m in MEASURES}
