"""The admin site, apart from ``ledger.admin`` so that the site can be built before any
ModelAdmin registers on it (``ledger.admin_config`` names it as the default site)."""

from __future__ import annotations

from functools import update_wrapper

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.utils.translation import gettext_lazy as _


class RectifyAdminSite(admin.AdminSite):
    site_header = site_title = _("Rectify · system administration")
    index_title = _("Departments and leaders")
    site_url = "/manage/"

    def has_permission(self, request) -> bool:
        # The administrator's role, not is_staff: no one else sees anything here.
        return request.user.is_active and request.user.is_administrator

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        def guarded(request, *args, **kwargs):
            # Signed in as someone else: out of reach is not found. Signed out: the one
            # sign-in page of the whole site, with its lockout.
            if not self.has_permission(request):
                if request.user.is_authenticated:
                    raise Http404
                return redirect_to_login(request.get_full_path())
            return inner(request, *args, **kwargs)

        return update_wrapper(guarded, inner)

    def login(self, request, extra_context=None):
        if request.user.is_authenticated:
            raise Http404
        return redirect_to_login(request.GET.get("next") or self.site_url)
