from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_vary_headers


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
