"""Requests refused before any view sees them: a body larger than anything the app accepts
(413), and a NUL character anywhere a view or the database could meet it (400).

Both answer with a short page in the user's language and sit in MIDDLEWARE after the
language is chosen and CSRF's cookie is read, and before anything reads the body (CSRF's
check of a form, at the view) or the session (the signed-in user, at the first look).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from . import evidence


def largest_body() -> int:
    """The largest request body the app accepts, in bytes: the largest upload (a progress
    report's evidence files, or a spreadsheet to import or to set up the office from), and
    room for the form's other fields and the multipart framing, which Django itself limits
    to DATA_UPLOAD_MAX_MEMORY_SIZE. Read from the settings on each request, so that a test
    or a changed setting is followed."""
    uploads = max(
        settings.EVIDENCE_MAX_BYTES * evidence.MAX_FILES,
        settings.IMPORT_MAX_BYTES,
    )
    return uploads + (settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0)


class RequestBodyLimitMiddleware:
    """413 for a request whose Content-Length is above ``largest_body()``, without reading
    a byte of its body.

    A body sent without a length (chunked) needs nothing here: Django reads a request's
    body up to its CONTENT_LENGTH and no further, so without one it reads nothing; and
    nginx in front (deploy/nginx.conf) buffers a chunked body and passes it on with its
    length, so it is measured here like any other.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # as Django reads it: no body
        limit = largest_body()
        if length > limit:
            page = render_to_string(
                "413.html", {"limit_mb": limit // (1024 * 1024)}, request=request
            )
            return HttpResponse(page, status=413)
        return self.get_response(request)


NUL = "\x00"


def _holds_nul(pairs) -> bool:
    return any(NUL in key or any(NUL in value for value in values) for key, values in pairs)


def holds_nul(request: HttpRequest) -> bool:
    """Whether the path, the query string, the cookies, the form fields or the names of
    the uploaded files hold a NUL.

    PostgreSQL refuses NUL in text (a 500 wherever such a value reaches a query: a search,
    a filter, a session key), and no person types one. Django's form fields refuse it
    already (ProhibitNullCharactersValidator); search boxes, filters and the values views
    read themselves do not.
    """
    if NUL in request.path_info:
        return True
    if _holds_nul(request.GET.lists()) or _holds_nul(
        (name, [value]) for name, value in request.COOKIES.items()
    ):
        return True
    if request.method == "POST":
        # The form is parsed here rather than by the view or CSRF's check: once either way.
        files = ((name, [f.name or "" for f in uploads]) for name, uploads in request.FILES.lists())
        return _holds_nul(request.POST.lists()) or _holds_nul(files)
    return False


class NulRefusedMiddleware:
    """400 for a request with a NUL character (``holds_nul``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if holds_nul(request):
            return HttpResponse(render_to_string("400.html", request=request), status=400)
        return self.get_response(request)
