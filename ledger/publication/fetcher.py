"""The only way WeasyPrint may load anything while it renders a notice.

WeasyPrint 69 removed ``default_url_fetcher``; since then a fetcher is a ``URLFetcher``
subclass whose ``fetch(url, headers)`` returns a ``URLFetcherResponse``. Ours never opens
a connection or a file by URL: it answers only URLs under ``STATIC_BASE`` that name one of
our static files (found in STATIC_ROOT or through the staticfiles finders) and refuses every
other URL (http, https, file, data, ftp, …). Since nothing is ever requested, there is no
redirect to follow either. Refused URLs are recorded in ``refused`` for the tests.
"""

from __future__ import annotations

import mimetypes
import posixpath
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from weasyprint import URLFetcher
from weasyprint.urls import URLFetcherResponse

# The base URL a notice's PDF is rendered against: relative URLs (``static/css/x.css``)
# resolve under it; it names no real host.
STATIC_BASE = "https://static.rectify.invalid/"


class RefusedURL(ValueError):
    pass


def static_path(name: str) -> Path | None:
    """The file of static name ``name`` (``css/pdf.css``), or None. No ``..``, no absolute."""
    name = posixpath.normpath(unquote(name)).lstrip("/")
    if not name or name.startswith("..") or "\x00" in name:
        return None
    root = Path(settings.STATIC_ROOT).resolve()
    candidate = (root / name).resolve()
    if candidate.is_relative_to(root) and candidate.is_file():
        return candidate
    found = finders.find(name)
    return Path(found) if found else None


class StaticOnlyFetcher(URLFetcher):
    def __init__(self, *args, **kwargs):
        kwargs["allow_redirects"] = False
        kwargs["allowed_protocols"] = ("https",)
        super().__init__(*args, **kwargs)
        self.refused: list[str] = []
        self.served: list[str] = []

    def fetch(self, url, headers=None):
        prefix = STATIC_BASE + settings.STATIC_URL.strip("/") + "/"
        parts = urlsplit(url)
        if not url.startswith(prefix) or parts.query or parts.fragment:
            self.refused.append(url)
            raise RefusedURL(f"Refused to fetch {url[:200]}")
        path = static_path(url[len(prefix) :])
        if path is None:
            self.refused.append(url)
            raise RefusedURL(f"No such static file: {url[:200]}")
        self.served.append(url)
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": content_type})

    # Never reach urllib: ``open`` is how redirects and the base class would fetch.
    def open(self, url, data=None, timeout=None):
        full = url.full_url if hasattr(url, "full_url") else url
        return self.fetch(full)
