"""Django admin for the reference data: departments, leaders, categories, rounds and users.

Items are changed through the workflow, never here: the admin shows them read-only, so
that no state changes without its event.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import Category, Department, Event, Item, Leader, Round, User


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "order", "is_active"]
    list_editable = ["order", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name"]


@admin.register(Leader)
class LeaderAdmin(admin.ModelAdmin):
    list_display = ["name", "post", "order", "is_active"]
    list_editable = ["order", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "post"]


class CategoryInline(admin.TabularInline):
    model = Category
    extra = 1


@admin.register(Round)
class RoundAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "year", "kind", "document_number", "received_on"]
    list_filter = ["kind", "year"]
    search_fields = ["name", "document_number"]
    inlines = [CategoryInline]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "round", "order"]
    list_filter = ["round"]
    search_fields = ["name"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "last_name", "first_name", "role", "department", "is_active"]
    list_filter = ["role", "department", "is_active", "is_superuser"]
    list_select_related = ["department"]
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (_("Role in Rectify"), {"fields": ("role", "department", "leader")}),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        (_("Role in Rectify"), {"fields": ("role", "department", "leader")}),
    )


class EventInline(admin.TabularInline):
    model = Event
    extra = 0
    can_delete = False
    fields = ["at", "actor", "kind", "from_state", "to_state", "note"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["number", "title", "round", "state", "lead_department", "deadline"]
    list_filter = ["round", "state", "track"]
    list_select_related = ["round", "lead_department"]
    search_fields = ["number", "title"]
    show_full_result_count = False  # no COUNT(*) over the whole ledger on every page
    inlines = [EventInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
