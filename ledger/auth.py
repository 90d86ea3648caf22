from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# What a role may manage in Django's admin, granted by the role itself rather than by groups
# that would have to be kept in step with it: the role is the one truth (三员,
# docs/administration.md). Deleting is further limited to rows nothing refers to.
ROLE_PERMISSIONS = {
    "administrator": frozenset(
        f"ledger.{action}_{model}"
        for model in ("department", "leader")
        for action in ("view", "add", "change", "delete")
    ),
}


class RectifyBackend(ModelBackend):
    """Django's model backend, loading the signed-in user with their department and leader,
    and granting each role the admin permissions of what it manages.

    The user is loaded on every request and every page's header names their department:
    one join here instead of one more query per page.
    """

    def get_user(self, user_id):
        user_model = get_user_model()
        try:
            user = user_model._default_manager.select_related("department", "leader").get(
                pk=user_id
            )
        except user_model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj, obj=None):
        granted = super().get_all_permissions(user_obj, obj)
        if not user_obj.is_active or obj is not None:
            return granted
        return granted | ROLE_PERMISSIONS.get(user_obj.role, frozenset())


def client_ip(request) -> str | None:
    """The address a sign-in lockout counts by (django-axes' AXES_CLIENT_IP_CALLABLE).

    Without a proxy it is the connection's. Behind CLIENT_IP_PROXY_COUNT proxies (the
    AXES_PROXY_COUNT variable) each one appends the address it was reached from to
    X-Forwarded-For, so the entry that many places from the end is what the outermost proxy
    saw; anything before it may have been written by the client.
    """
    remote = request.META.get("REMOTE_ADDR")
    count = settings.CLIENT_IP_PROXY_COUNT
    if count <= 0:
        return remote
    header = request.META.get("HTTP_X_FORWARDED_FOR", "")
    forwarded = [part.strip() for part in header.split(",") if part.strip()]
    # Fewer entries than proxies: the request did not come through them all, so none of the
    # header can be trusted.
    return forwarded[-count] if len(forwarded) >= count else remote


class SignInForm(AuthenticationForm):
    """Django's sign-in form, refusing a user name longer than any account's before
    authentication sees it.

    Django's form only tells the browser the length (``maxlength``): a longer name typed
    past it or sent by a script went on to ``authenticate()`` and to django-axes, which
    writes it to a 255-character column (a 500 on PostgreSQL). Here it is refused with a
    message; neither the backends nor the signals of a failed sign-in hear of it, and the
    audit trail records the failed attempt itself, the name cut to its column.
    """

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        limit = self.fields["username"].max_length
        if limit and len(username) > limit:
            from . import audit

            audit.on_sign_in_failed(
                type(self), credentials={"username": username}, request=self.request
            )
            raise ValidationError(
                _("A user name has at most %(max)d characters."),
                code="max_length",
                params={"max": limit},
            )
        return username
