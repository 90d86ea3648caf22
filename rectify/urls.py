from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, register_converter

from ledger.administration.views_password import password_change
from ledger.auth import SignInForm
from ledger.health import health
from ledger.inputs import IdConverter

# <id:pk>: an id the database can hold, or no match (ledger/inputs.py).
register_converter(IdConverter, "id")

urlpatterns = [
    path("health/", health, name="health"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            authentication_form=SignInForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", password_change, name="password-change"),
    path("manage/", include("ledger.administration.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("intake/", include("ledger.intake.urls")),
    path("notices/", include("ledger.publication.urls")),
    path("supervision/", include("ledger.supervision.urls")),
    path("", include("ledger.urls")),
]
