"""System administration (系统管理): accounts and bulk set-up; departments and leaders are
edited in Django's admin, linked from the hub."""

from django.urls import path

from . import views, views_setup

app_name = "manage"

urlpatterns = [
    path("", views.hub, name="hub"),
    path("accounts/", views.account_list, name="accounts"),
    path("accounts/new/", views.account_create, name="account-create"),
    path("accounts/<id:pk>/", views.account_detail, name="account"),
    path("accounts/<id:pk>/reset/", views.account_reset, name="account-reset"),
    path("accounts/<id:pk>/unlock/", views.account_unlock, name="account-unlock"),
    path("accounts/<id:pk>/active/", views.account_active, name="account-active"),
    path("setup/", views_setup.setup_upload, name="setup"),
    path("setup/confirm/", views_setup.setup_confirm, name="setup-confirm"),
    path("setup/done/", views_setup.setup_done, name="setup-done"),
    path("setup/download/", views_setup.setup_download, name="setup-download"),
    path("setup/sample/", views_setup.setup_sample, name="setup-sample"),
]
