"""The app's URLs plus /bench/hello/: the cheapest page the same stack can serve.

It passes the same middleware (sessions, CSRF, CSP, axes…) as the ledger, so the ratio of
the two under wrk is what the ledger's own work costs: queries and template.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from rectify.urls import urlpatterns as app_urlpatterns


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse("hello", content_type="text/plain")


urlpatterns = [path("bench/hello/", hello, name="bench-hello"), *app_urlpatterns]
