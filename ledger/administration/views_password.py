"""Every role's own password page; the only page open to someone with a one-time password."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from ledger import audit


@sensitive_post_parameters()
@never_cache
@login_required
def password_change(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = PasswordChangeForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        if user.must_change_password:
            user.must_change_password = False
            user.save(update_fields=["must_change_password"])
        # The password is the session's hash: keep this session, end the others.
        update_session_auth_hash(request, user)
        audit.record(
            audit.Kind.ACCOUNT,
            gettext_lazy("Changed their own password"),
            request=request,
            target=audit.account_target(user),
            detail={"account": user.pk},
        )
        messages.success(request, _("Your password has been changed."))
        return redirect("ledger:home")
    return render(
        request,
        "registration/password_change.html",
        {"form": form, "first_time": user.must_change_password},
        status=400 if form.errors else 200,
    )
