"""Forms of the compose pages: the notice, its sections, and the masking controls."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ledger.models import Category, Department, Round

from . import figures
from .models import Notice, Section

MAX_TERMS = 200


def _lines(text: str) -> list[str]:
    seen: list[str] = []
    for line in (text or "").splitlines():
        line = line.strip()
        if line and line not in seen:
            seen.append(line[:100])
    return seen


class NoticeForm(forms.ModelForm):
    terms_text = forms.CharField(
        label=_("Masked terms"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "One per line: words shown as **** wherever they appear in this notice, e.g. a "
            "village or an office a citizen named."
        ),
    )
    keep_text = forms.CharField(
        label=_("Lifted from masking"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One per line: texts the masking would hide that may be shown as they are."),
    )

    class Meta:
        model = Notice
        fields = ["title", "issuer", "date", "document_number", "annex_rounds"]
        widgets = {
            "date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "annex_rounds": forms.CheckboxSelectMultiple,
        }
        help_texts = {
            "annex_rounds": _(
                "Each round chosen adds its completion table (整改完成情况一览表) as an annex."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["annex_rounds"].queryset = Round.objects.order_by("year", "kind", "pk")
        if self.instance.pk:
            self.fields["terms_text"].initial = "\n".join(self.instance.terms)
            self.fields["keep_text"].initial = "\n".join(self.instance.keep)

    def clean_terms_text(self) -> list[str]:
        terms = _lines(self.cleaned_data["terms_text"])
        if len(terms) > MAX_TERMS:
            raise forms.ValidationError(_("At most %(n)s terms, please.") % {"n": MAX_TERMS})
        return terms

    def clean_keep_text(self) -> list[str]:
        return _lines(self.cleaned_data["keep_text"])[:MAX_TERMS]

    def save(self, commit: bool = True) -> Notice:
        self.instance.terms = self.cleaned_data["terms_text"]
        self.instance.keep = self.cleaned_data["keep_text"]
        return super().save(commit)


class SectionForm(forms.ModelForm):
    class Meta:
        model = Section
        fields = ["heading", "body", "round", "category", "department"]
        widgets = {"body": forms.Textarea(attrs={"rows": 10})}
        labels = {"round": _("Round"), "category": _("Category"), "department": _("Department")}
        help_texts = {
            "heading": _("e.g. 一、基本情况. Leave empty for an opening or closing paragraph."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["round"].queryset = Round.objects.order_by("-year", "kind")
        self.fields["category"].queryset = Category.objects.select_related("round").order_by(
            "round__year", "round_id", "order"
        )
        self.fields["category"].label_from_instance = lambda c: f"{c.round.name} · {c.name}"
        self.fields["department"].queryset = Department.objects.filter(is_active=True)
        for name in ("round", "category", "department"):
            self.fields[name].required = False
            self.fields[name].empty_label = _("(none)")

    def clean(self):
        data = super().clean()
        body = data.get("body") or ""
        unknown = figures.unknown_placeholders(body)
        if unknown:
            self.add_error(
                "body",
                ngettext(
                    "Unknown placeholder: %(names)s. Known: %(known)s.",
                    "Unknown placeholders: %(names)s. Known: %(known)s.",
                    len(unknown),
                )
                % {
                    "names": "、".join(f"{{{{ {n} }}}}" for n in unknown),
                    "known": "、".join(figures.FIGURES),
                },
            )
        category = data.get("category")
        round_ = data.get("round")
        if category is not None:
            if round_ is None:
                data["round"] = category.round
            elif category.round_id != round_.pk:
                self.add_error(
                    "category",
                    _("This category belongs to %(round)s, not to the round chosen.")
                    % {"round": category.round.name},
                )
        if (
            not unknown
            and figures.placeholders(body)
            and not (data.get("round") or data.get("category") or data.get("department"))
        ):
            self.add_error(
                "round",
                _("The text has figures: choose the round, category or department they count."),
            )
        return data


class MaskForm(forms.Form):
    """The preview's controls: add a term, lift a masked text, or undo either; confirm a
    possible name as a name, dismiss it, or take the decision back."""

    ACTIONS = (
        "add_term",
        "remove_term",
        "lift",
        "unlift",
        "confirm_name",
        "dismiss_name",
        "reopen_name",
    )
    action = forms.ChoiceField(choices=[(a, a) for a in ACTIONS])
    text = forms.CharField(label=_("Text"), max_length=100, strip=True)
