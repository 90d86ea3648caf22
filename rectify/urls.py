from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from ledger.administration.views_password import password_change
from ledger.health import health

urlpatterns = [
    path("health/", health, name="health"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", password_change, name="password-change"),
    path("manage/", include("ledger.administration.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("intake/", include("ledger.intake.urls")),
    path("notices/", include("ledger.publication.urls")),
    path("", include("ledger.urls")),
]
