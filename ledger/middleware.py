import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.translation import gettext as _


class ChosenLanguageMiddleware:
    """Simplified Chinese unless the user chose English (the language cookie).

    Django's LocaleMiddleware would follow the browser's Accept-Language, so an official on
    an English-language system would get English pages unasked. Our offices work in Chinese:
    the interface speaks it by default, and English only when picked in the header.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.supported = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        language = chosen if chosen in self.supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        patch_vary_headers(response, ("Cookie",))
        response.headers.setdefault("Content-Language", language)
        return response


class PasswordChangeRequiredMiddleware:
    """Someone signed in with a one-time password (a new or reset account) may open the
    password page, sign out and switch language, and nothing else, until they have chosen
    their own password. The health check answers whoever asks."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and user.must_change_password:
            allowed = (
                reverse("password-change"),
                reverse("logout"),
                reverse("set_language"),
                reverse("health"),
                settings.STATIC_URL,
            )
            if not request.path.startswith(allowed):
                return redirect("password-change")
        return self.get_response(request)


# Session keys of SessionLimitsMiddleware: when the person signed in, and when they were
# last seen (seconds since the epoch).
SIGNED_IN_AT = "signed_in_at"
SEEN_AT = "seen_at"
# "Last seen" is written at most this often, not on every request: a session row written
# for each page would cost a database write per click.
SEEN_EVERY_SECONDS = 60


def note_sign_in(sender, request, user, **kwargs) -> None:
    """At sign-in (Django's login() has already given the session a new key): the times
    both limits count from."""
    now = int(time.time())
    request.session[SIGNED_IN_AT] = now
    request.session[SEEN_AT] = now


class SessionLimitsMiddleware:
    """A session ends after SESSION_IDLE_SECONDS without a request (30 minutes) and, busy
    or not, SESSION_ABSOLUTE_SECONDS after its sign-in (8 hours); the person is sent to the
    sign-in page, which says which limit ended it, and comes back where they were after
    signing in again. Pages seen while signed in are never stored by a browser or a proxy
    (Cache-Control: private, no-store): the back button after signing out on a shared
    computer shows nothing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated:
            ended = self._ended(request)
            if ended:
                logout(request)
                messages.info(request, ended)
                return redirect_to_login(request)
        response = self.get_response(request)
        if user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response

    def _ended(self, request) -> str | None:
        session, now = request.session, int(time.time())
        signed_in = session.get(SIGNED_IN_AT)
        seen = session.get(SEEN_AT)
        if not isinstance(signed_in, int) or not isinstance(seen, int):
            # A session from before these limits: they count from now.
            session[SIGNED_IN_AT] = session[SEEN_AT] = now
            return None
        if now - signed_in >= settings.SESSION_ABSOLUTE_SECONDS:
            return _(
                "You were signed in for %(hours)s hours, the longest a session lasts: sign "
                "in again."
            ) % {"hours": settings.SESSION_ABSOLUTE_SECONDS // 3600}
        if now - seen >= settings.SESSION_IDLE_SECONDS:
            return _(
                "You were signed out after %(minutes)s minutes without activity: sign in again."
            ) % {"minutes": settings.SESSION_IDLE_SECONDS // 60}
        if now - seen >= SEEN_EVERY_SECONDS:
            session[SEEN_AT] = now
        return None


def redirect_to_login(request):
    from django.contrib.auth.views import redirect_to_login as to_login

    return to_login(request.get_full_path())
