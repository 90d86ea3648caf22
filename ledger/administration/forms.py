"""Forms of the administration pages: they parse and check; ``accounts`` makes the change."""

from __future__ import annotations

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ledger.models import Department, Leader, User


class AccountForm(forms.ModelForm):
    """An account's name, role and what the role needs: a department or a leader."""

    class Meta:
        model = User
        fields = ["username", "first_name", "email", "role", "department", "leader"]
        labels = {"first_name": _("Full name")}
        help_texts = {
            "username": _("What the person types to sign in: letters, digits and @.+-_"),
            "department": _("For a department official."),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].required = True
        self.fields["role"].choices = [("", "---------"), *User.Role.choices]
        self.fields["first_name"].required = True
        current = self.instance
        # Active ones to choose from, and whatever the account already has.
        self.fields["department"].queryset = Department.objects.filter(
            Q(is_active=True) | Q(pk=current.department_id)
        )
        self.fields["leader"].queryset = Leader.objects.filter(
            Q(is_active=True) | Q(pk=current.leader_id)
        )
        if current.pk:
            # The sign-in name stays: sign-ins, lockouts and the history are kept under it.
            self.fields["username"].disabled = True
            self.fields["username"].help_text = _("Kept as it is: the history is under it.")

    def clean(self):
        data = super().clean()
        role = data.get("role")
        if role == User.Role.OFFICIAL and not data.get("department"):
            self.add_error("department", _("A department official needs a department."))
        if role == User.Role.LEADER and not data.get("leader"):
            self.add_error("leader", _("A leader's account needs the leader it signs in as."))
        # What another role would carry is dropped, so that no account holds two reaches.
        if role != User.Role.OFFICIAL:
            data["department"] = None
        if role != User.Role.LEADER:
            data["leader"] = None
        return data


class AccountFilter(forms.Form):
    q = forms.CharField(label=_("Name or user name"), required=False, max_length=100)
    role = forms.ChoiceField(
        label=_("Role"), required=False, choices=[("", _("All roles")), *User.Role.choices]
    )
    department = forms.ModelChoiceField(
        label=_("Department"),
        required=False,
        queryset=Department.objects.all(),
        empty_label=_("All departments"),
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[
            ("", _("Any status")),
            ("active", _("Active")),
            ("inactive", _("Deactivated")),
            ("first", _("Has not chosen a password yet")),
        ],
    )
