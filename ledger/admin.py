"""Django's admin, for the administrator (系统管理员) alone: departments and leaders.

Everything else has a page of its own: accounts, bulk set-up and unlocking under
``/manage/`` (ledger.administration), rounds and their categories on the intake pages,
items through the workflow. The site admits administrators only (``RectifyAdminSite``), so
a supervisor, official or leader who opens ``/admin/`` is sent to sign in as one. A
department or leader that anything refers to is never deleted, only deactivated: the
history keeps the name it had.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Count
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_tasks_db.models import DBTaskResult

from .administration.accounts import in_use
from .models import Department, Leader

# Groups would duplicate the roles (ledger.auth.ROLE_PERMISSIONS); the background jobs are
# the workflow's, shown on their own pages to those who started them.
for model in (Group, DBTaskResult):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


class ReferenceAdmin(admin.ModelAdmin):
    """Reorder and (de)activate in the list; delete only what nothing refers to."""

    list_editable = ["order", "is_active"]
    list_filter = ["is_active"]
    actions = ["deactivate", "activate"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        # "Delete selected" would delete rows that items still refer to.
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request, obj=None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or not in_use(obj))

    @admin.action(description=_("Deactivate the selected (kept on old items)"))
    def deactivate(self, request, queryset) -> None:
        n = queryset.update(is_active=False)
        self.message_user(
            request,
            ngettext("%(n)d deactivated.", "%(n)d deactivated.", n) % {"n": n},
            messages.SUCCESS,
        )

    @admin.action(description=_("Activate the selected"))
    def activate(self, request, queryset) -> None:
        n = queryset.update(is_active=True)
        self.message_user(
            request,
            ngettext("%(n)d activated.", "%(n)d activated.", n) % {"n": n},
            messages.SUCCESS,
        )


@admin.register(Department)
class DepartmentAdmin(ReferenceAdmin):
    list_display = ["name", "email", "order", "is_active", "official_count"]
    search_fields = ["name", "email"]
    fields = ["name", "email", "order", "is_active"]
    # The list's form builds every field, the robot's address too (it is set on
    # /manage/departments/, never here): read it as https, as its own form does.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(officials=Count("users"))

    @admin.display(description=_("accounts"), ordering="officials")
    def official_count(self, obj) -> int:
        return obj.officials


@admin.register(Leader)
class LeaderAdmin(ReferenceAdmin):
    list_display = ["name", "post", "term_start", "term_end", "order", "is_active"]
    search_fields = ["name", "post"]
    fields = ["name", "post", "term_start", "term_end", "order", "is_active"]
