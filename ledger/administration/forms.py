"""Forms of the administration pages: they parse and check; ``accounts`` makes the change."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from ledger.models import Department, Leader, RobotKind, User
from ledger.supervision import robots


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


class RobotForm(forms.Form):
    """A department's group robot: its kind, webhook address and, for DingTalk, signing
    secret. The secret is never drawn back: left empty, the one on file is kept."""

    kind = forms.ChoiceField(
        label=_("Group robot"),
        required=False,
        choices=[
            ("", _("None: notices by e-mail and in the application only")),
            *RobotKind.choices,
        ],
    )
    url = forms.CharField(
        label=_("Webhook address"),
        required=False,
        max_length=500,
        widget=forms.URLInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
        help_text=_(
            "From the group's robot settings: "
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=… "
            "or https://oapi.dingtalk.com/robot/send?access_token=…"
        ),
    )
    secret = forms.CharField(
        label=_("Signing secret (DingTalk)"),
        required=False,
        max_length=200,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )

    def __init__(self, *args, department: Department, **kwargs) -> None:
        kwargs.setdefault("initial", {"kind": department.robot_kind, "url": department.robot_url})
        super().__init__(*args, **kwargs)
        self.department = department
        on_file = department.robot_secret
        if on_file:
            self.fields["secret"].help_text = _(
                "%(secret)s is on file; leave this empty to keep it."
            ) % {"secret": robots.masked(on_file)}
        else:
            self.fields["secret"].help_text = _(
                "Begins with SEC: the robot's security setting “加签”. Not needed for WeCom."
            )

    def clean(self):
        data = super().clean()
        kind = data.get("kind") or ""
        if not kind:
            # No robot: what was typed in the other fields goes with it.
            return {"kind": "", "url": "", "secret": ""}
        if self.has_error("url"):
            return data
        try:
            data["url"] = robots.check_url(data.get("url") or "", kind)
        except ValidationError as error:
            self.add_error("url", error)
        if kind == RobotKind.DINGTALK:
            typed = data.get("secret") or ""
            secret = typed or (
                self.department.robot_secret
                if self.department.robot_kind == RobotKind.DINGTALK
                else ""
            )
            try:
                data["secret"] = robots.check_secret(secret)
            except ValidationError as error:
                self.add_error("secret", error)
        else:
            data["secret"] = ""
        return data

    def changes(self) -> dict[str, list[str]]:
        """What the form changes, before and after, with the address's token and the
        secret masked: for the audit trail."""
        with translation.override(settings.LANGUAGE_CODE):
            return self._changes()

    def _changes(self) -> dict[str, list[str]]:
        department, data = self.department, self.cleaned_data
        out = {}
        labels = dict(self.fields["kind"].choices)
        if data["kind"] != department.robot_kind:
            out[str(self.fields["kind"].label)] = [
                str(labels.get(department.robot_kind, "")) if department.robot_kind else "",
                str(labels.get(data["kind"], "")) if data["kind"] else "",
            ]
        if data["url"] != department.robot_url:
            out[str(self.fields["url"].label)] = [
                robots.masked_url(department.robot_url),
                robots.masked_url(data["url"]),
            ]
        if data["secret"] != department.robot_secret:
            out[str(self.fields["secret"].label)] = [
                robots.masked(department.robot_secret),
                robots.masked(data["secret"]),
            ]
        return out
