"""Django's admin app with Rectify's site as the default one. Its own module: app configs are
read while the apps load, before the site's imports may run."""

from django.contrib.admin.apps import AdminConfig


class RectifyAdminConfig(AdminConfig):
    default_site = "ledger.admin_site.RectifyAdminSite"
