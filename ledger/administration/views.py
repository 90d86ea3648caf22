"""System administration (系统管理): the hub and the accounts pages, for administrators only.

A password given out here is shown once, on the response to the POST that made it, and is
never stored in the clear nor sent in a redirect (docs/administration.md).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from ledger import audit
from ledger.access import administrator_required
from ledger.models import Department, Leader, User
from ledger.supervision import workdays

from . import accounts
from .forms import AccountFilter, AccountForm

PAGE_SIZE = 50


@administrator_required
def hub(request: HttpRequest) -> HttpResponse:
    roles = dict(
        User.objects.filter(is_active=True).values_list("role").annotate(n=Count("pk")).order_by()
    )
    return render(
        request,
        "administration/hub.html",
        {
            "roles": [(value, label, roles.get(value, 0)) for value, label in User.Role.choices],
            "departments": Department.objects.filter(is_active=True).count(),
            "leaders": Leader.objects.filter(is_active=True).count(),
            "first_time": User.objects.filter(is_active=True, must_change_password=True).count(),
            "missing_schedule": workdays.years_without_schedule(),
        },
    )


@administrator_required
def account_list(request: HttpRequest) -> HttpResponse:
    filters = AccountFilter(request.GET or None)
    users = User.objects.select_related("department", "leader").order_by(
        "role", "department__order", "department__name", "username"
    )
    if filters.is_valid():
        data = filters.cleaned_data
        if data["q"]:
            users = users.filter(
                Q(username__icontains=data["q"])
                | Q(first_name__icontains=data["q"])
                | Q(last_name__icontains=data["q"])
            )
        if data["role"]:
            users = users.filter(role=data["role"])
        if data["department"]:
            users = users.filter(department=data["department"])
        users = {
            "active": users.filter(is_active=True),
            "inactive": users.filter(is_active=False),
            "first": users.filter(is_active=True, must_change_password=True),
        }.get(data["status"], users)
    page = Paginator(users, PAGE_SIZE).get_page(request.GET.get("page"))
    locked = accounts.locked_usernames(u.username for u in page)
    for user in page:
        user.locked = user.username in locked
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "administration/accounts.html",
        {"filters": filters, "page": page, "query": query.urlencode()},
    )


def _one_time(request: HttpRequest, user: User, password: str, created: bool) -> HttpResponse:
    response = render(
        request,
        "administration/one_time.html",
        {"account": user, "password": password, "created": created},
    )
    response["Cache-Control"] = "no-store"
    return response


def _audit_account(request: HttpRequest, account: User, summary, params=None, **detail) -> None:
    """A line of the audit trail about ``account`` (``summary`` names it %(account)s)."""
    audit.record(
        audit.Kind.ACCOUNT,
        summary,
        {"account": account.username, **(params or {})},
        request=request,
        target=audit.account_target(account),
        detail={"account": account.pk, **detail},
    )


@never_cache
@administrator_required
def account_create(request: HttpRequest) -> HttpResponse:
    form = AccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        fields = {f: form.cleaned_data[f] for f in form.Meta.fields}
        user, password = accounts.create_account(**fields)
        audit.record(
            audit.Kind.ACCOUNT,
            gettext_lazy("Created the account %(account)s (%(role)s)"),
            {"account": user.username, "role": user.get_role_display() or gettext_lazy("no role")},
            request=request,
            target=audit.account_target(user),
            detail={"account": user.pk, "fields": audit.form_changes(form)},
        )
        return _one_time(request, user, password, created=True)
    return render(
        request,
        "administration/account_form.html",
        {"form": form, "account": None},
        status=400 if form.errors else 200,
    )


@administrator_required
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(User.objects.select_related("department", "leader"), pk=pk)
    form = AccountForm(request.POST or None, instance=account)
    if request.method == "POST":
        if account == request.user and form.data.get("role") != account.role:
            form.add_error("role", _("You cannot change your own role."))
        if form.is_valid():
            changed = audit.form_changes(form)
            form.save()
            if changed:
                _audit_account(
                    request,
                    account,
                    gettext_lazy("Changed the account %(account)s: %(fields)s"),
                    {"fields": "、".join(changed)},
                    changes=changed,
                )
            messages.success(request, _("Account “%(name)s” saved.") % {"name": account})
            return redirect("manage:account", pk=account.pk)
    return render(
        request,
        "administration/account_form.html",
        {
            "form": form,
            "account": account,
            "locked": bool(accounts.locked_usernames([account.username])),
        },
        status=400 if form.errors else 200,
    )


@never_cache
@administrator_required
@require_POST
def account_reset(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(User, pk=pk)
    password = accounts.reset_password(account)
    _audit_account(
        request, account, gettext_lazy("Gave the account %(account)s a one-time password")
    )
    return _one_time(request, account, password, created=False)


@administrator_required
@require_POST
def account_unlock(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(User, pk=pk)
    accounts.unlock(account)
    _audit_account(request, account, gettext_lazy("Lifted the sign-in lockout of %(account)s"))
    messages.success(request, _("“%(name)s” may sign in again.") % {"name": account})
    return redirect("manage:account", pk=account.pk)


@administrator_required
@require_POST
def account_active(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(User, pk=pk)
    if account == request.user:
        messages.error(request, _("You cannot deactivate your own account."))
        return redirect("manage:account", pk=account.pk)
    account.is_active = request.POST.get("active") == "1"
    account.save(update_fields=["is_active"])
    _audit_account(
        request,
        account,
        gettext_lazy("Reactivated the account %(account)s")
        if account.is_active
        else gettext_lazy("Deactivated the account %(account)s"),
        active=account.is_active,
    )
    text = (
        _("“%(name)s” is active again.")
        if account.is_active
        else _("“%(name)s” is deactivated: it can no longer sign in, and its history stays.")
    )
    messages.success(request, text % {"name": account})
    return redirect("manage:account", pk=account.pk)
