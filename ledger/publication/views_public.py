"""The public pages: no sign-in, published notices only.

The notice page is the HTML rendered once at publishing, served as stored: one query
(the page and whether a later version replaced it), no template rendering. Pages and files
carry an ETag (the SHA-256 of what is served) and ``Cache-Control: public`` so a reverse
proxy or CDN can serve them; a request with a matching ``If-None-Match`` gets 304.
"""

from __future__ import annotations

import re

from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import connection
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from .models import Notice, Publication, PublishedAnnex
from .render import REPLACED_MARKER

# A published page may gain a "replaced by" banner: caches keep it a few minutes. Files
# never change at all.
PAGE_MAX_AGE = 300
FILE_MAX_AGE = 365 * 24 * 3600
PAGE_SIZE = 20
# How long a worker keeps a published page in its cache before asking the database again.
PAGE_CACHE_SECONDS = 30


def _cacheable(response: HttpResponse, etag: str, max_age: int, **extra) -> HttpResponse:
    """What a proxy or CDN needs to keep a published page or file: its ETag and a public
    Cache-Control."""
    response["ETag"] = etag
    patch_cache_control(response, public=True, max_age=max_age, **extra)
    return response


def _conditional(request: HttpRequest, etag: str, max_age: int) -> HttpResponse | None:
    response = get_conditional_response(request, etag=etag)
    return None if response is None else _cacheable(response, etag, max_age)


def _page_sql() -> str:
    """The page and the version that replaced it, if any: one statement, written once. The
    ORM would build the same SELECT with two subqueries on every request, at three times
    the cost of running it (bench/publication.py)."""
    p, n = Publication._meta.db_table, Notice._meta.db_table
    later = f"FROM {n} n WHERE n.replaces_id = p.notice_id AND n.state = 'published'"
    return (
        f"SELECT p.html, p.html_sha256, (SELECT n.id {later} LIMIT 1), "
        f"(SELECT n.version {later} LIMIT 1) FROM {p} p WHERE p.notice_id = %s"
    )


PAGE_SQL = _page_sql()


def page_cache_key(pk: int) -> str:
    return f"publication:page:{pk}"


def _page_row(pk: int) -> dict | None:
    """The stored page, from the cache for up to PAGE_CACHE_SECONDS (what is published never
    changes; only a "replaced by" banner may appear, and publishing a correction drops the
    replaced page's entry), else one query."""
    key = page_cache_key(pk)
    row = cache.get(key)
    if row is None:
        row = _page_query(pk)
        if row is not None:
            cache.set(key, row, PAGE_CACHE_SECONDS)
    return row


def _page_query(pk: int) -> dict | None:
    with connection.cursor() as cursor:
        cursor.execute(PAGE_SQL, [pk])
        found = cursor.fetchone()
    if found is None:
        return None
    return dict(zip(("html", "html_sha256", "replaced_id", "replaced_version"), found, strict=True))


@require_safe
def notice_page(request: HttpRequest, pk: int) -> HttpResponse:
    row = _page_row(pk)
    if row is None:
        raise Http404
    etag = f'"{row["html_sha256"][:40]}-{row["replaced_id"] or 0}"'
    not_modified = _conditional(request, etag, PAGE_MAX_AGE)
    if not_modified is not None:
        return not_modified
    html = row["html"]
    if row["replaced_id"]:
        banner = format_html(
            '<p class="notice-replaced" role="alert">{} <a href="{}">{}</a></p>',
            _("This notice was replaced by version %(v)s.") % {"v": row["replaced_version"]},
            reverse("publication:public", args=[row["replaced_id"]]),
            _("Read the current version"),
        )
        html = html.replace(REPLACED_MARKER, banner, 1)
    return _cacheable(HttpResponse(html), etag, PAGE_MAX_AGE)


@require_safe
def annex_page(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    row = (
        PublishedAnnex.objects.filter(publication__notice_id=pk, number=number)
        .values("html", "html_sha256")
        .first()
    )
    if row is None:
        raise Http404
    etag = f'"{row["html_sha256"]}"'
    not_modified = _conditional(request, etag, PAGE_MAX_AGE)
    if not_modified is not None:
        return not_modified
    return _cacheable(HttpResponse(row["html"]), etag, PAGE_MAX_AGE)


def _filename(title: str, version: int, suffix: str) -> str:
    stem = re.sub(r'[\\/:*?"<>|\x00-\x1f]+', "", title).strip() or "notice"
    if version > 1:
        stem = f"{stem}（{_('version')} {version}）"
    return f"{stem[:120]}.{suffix}"


def _file(request: HttpRequest, pk: int, kind: str, content_type: str) -> HttpResponse:
    row = (
        Publication.objects.filter(notice_id=pk)
        .values(kind, f"{kind}_sha256", "notice__title", "notice__version")
        .first()
    )
    if row is None:
        raise Http404
    etag = f'"{row[f"{kind}_sha256"]}"'
    not_modified = _conditional(request, etag, FILE_MAX_AGE)
    if not_modified is not None:
        return not_modified
    field = Publication._meta.get_field(kind)
    try:
        handle = field.storage.open(row[kind], "rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=_filename(row["notice__title"], row["notice__version"], kind),
        content_type=content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    return _cacheable(response, etag, FILE_MAX_AGE, immutable=True)


@require_safe
def notice_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    return _file(request, pk, "pdf", "application/pdf")


@require_safe
def notice_xlsx(request: HttpRequest, pk: int) -> HttpResponse:
    return _file(
        request, pk, "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )


@require_safe
def notice_index(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:100]
    notices = Notice.objects.filter(state=Notice.State.PUBLISHED).order_by(
        "-publication__published_at", "-pk"
    )
    if q:
        notices = notices.filter(title__icontains=q)
    page = Paginator(
        notices.only("pk", "title", "issuer", "date", "document_number", "version"), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    response = render(request, "public/index.html", {"page": page, "q": q})
    patch_cache_control(response, public=True, max_age=60)
    return response
