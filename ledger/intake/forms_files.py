"""Forms of the intake pages: they parse and clean input; the intake modules do the work."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from ledger.models import Round

ACCEPT = ".xlsx,.xls,.ods,.csv,.et"


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_(".xlsx, .xls (Excel or WPS), .ods or .csv (UTF-8 or GB18030)"),
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPT}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.IMPORT_MAX_BYTES
        # From the upload's size, before a byte of it is read.
        if upload.size > limit:
            raise forms.ValidationError(
                _(
                    "The file is %(size)s MB; at most %(limit)s MB can be imported. "
                    "Split it in parts."
                ),
                params={"size": f"{upload.size / 1048576:.1f}", "limit": f"{limit / 1048576:g}"},
            )
        return upload


class ConfirmForm(forms.Form):
    upload = forms.CharField(widget=forms.HiddenInput, max_length=64)


class RoundForm(forms.ModelForm):
    class Meta:
        model = Round
        fields = ["name", "code", "year", "kind", "document_number", "received_on"]
        widgets = {"received_on": forms.DateInput(attrs={"type": "date"})}
