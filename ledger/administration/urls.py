"""System administration (系统管理): accounts, bulk set-up, the working-day calendar and
the departments' group robots; departments' names and leaders are edited in Django's
admin, linked from the hub."""

from django.urls import path

from . import views, views_calendar, views_departments, views_setup

app_name = "manage"

urlpatterns = [
    path("", views.hub, name="hub"),
    path("accounts/", views.account_list, name="accounts"),
    path("accounts/new/", views.account_create, name="account-create"),
    path("accounts/<id:pk>/", views.account_detail, name="account"),
    path("accounts/<id:pk>/reset/", views.account_reset, name="account-reset"),
    path("accounts/<id:pk>/unlock/", views.account_unlock, name="account-unlock"),
    path("accounts/<id:pk>/active/", views.account_active, name="account-active"),
    path("departments/", views_departments.department_list, name="departments"),
    path("departments/<id:pk>/", views_departments.department_detail, name="department"),
    path(
        "departments/<id:pk>/robot/test/",
        views_departments.department_robot_test,
        name="department-robot-test",
    ),
    path(
        "departments/<id:pk>/robot/retry/",
        views_departments.department_robot_retry,
        name="department-robot-retry",
    ),
    path("setup/", views_setup.setup_upload, name="setup"),
    path("setup/confirm/", views_setup.setup_confirm, name="setup-confirm"),
    path("setup/done/", views_setup.setup_done, name="setup-done"),
    path("setup/download/", views_setup.setup_download, name="setup-download"),
    path("setup/sample/", views_setup.setup_sample, name="setup-sample"),
    path("calendar/", views_calendar.calendar_year, name="calendar"),
    path("calendar/bulk/", views_calendar.calendar_bulk, name="calendar-bulk"),
    path("calendar/schedule/", views_calendar.calendar_schedule, name="calendar-schedule"),
    path("calendar/<id:pk>/", views_calendar.calendar_day, name="calendar-day"),
    path("calendar/<id:pk>/delete/", views_calendar.calendar_delete, name="calendar-delete"),
]
