"""The page, the PDF and the Excel annex of a notice, rendered from its snapshot only.

Rendered once, by the publishing task (``tasks.py``), in the worker: WeasyPrint keeps the
memory of a render, so a web process never runs it.
"""

from __future__ import annotations

import hashlib
import io
import re
from typing import TYPE_CHECKING

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from ledger.intake.export import text_cell

from . import markup

if TYPE_CHECKING:
    from .fetcher import StaticOnlyFetcher

PUBLIC_LANGUAGE = "zh-hans"
# Where the public page shows a "replaced by" banner: filled in per request by the view.
REPLACED_MARKER = "<!--rectify:replaced-->"


def sha256(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def for_template(snapshot: dict) -> dict:
    """The snapshot with its section HTML passed through the allow-list again and marked
    safe: what is stored as JSON is trusted only after sanitising it once more."""
    view = dict(snapshot)
    view["sections"] = [
        {"heading": s["heading"], "html": markup.sanitize(str(s["html"]))}
        for s in snapshot["sections"]
    ]
    return view


def page_html(snapshot: dict, files: dict) -> str:
    """The public page, whole, as it will be served: ``files`` holds the SHA-256 and sizes
    of the PDF and the Excel annex."""
    with translation.override(PUBLIC_LANGUAGE):
        return render_to_string(
            "public/notice.html",
            {"n": for_template(snapshot), "files": files, "replaced_marker": REPLACED_MARKER},
        )


def annex_pages_html(snapshot: dict) -> list[str]:
    """Each annex table as a page of its own (``public/annex.html``)."""
    view = for_template(snapshot)
    with translation.override(PUBLIC_LANGUAGE):
        return [
            render_to_string("public/annex.html", {"n": view, "annex": annex, "k": k})
            for k, annex in enumerate(view["annexes"], start=1)
        ]


def pdf_html(snapshot: dict) -> str:
    with translation.override(PUBLIC_LANGUAGE):
        return render_to_string("pdf/notice.html", {"n": for_template(snapshot)})


def pdf_bytes(snapshot: dict, fetcher: StaticOnlyFetcher | None = None) -> bytes:
    # WeasyPrint is imported here, in the worker that renders, not when the web process
    # loads its URLs: importing it takes most of a second and memory a page never uses.
    from weasyprint import HTML

    from .fetcher import STATIC_BASE, StaticOnlyFetcher

    fetcher = fetcher or StaticOnlyFetcher()
    # presentational_hints stays off (the default): HTML attributes never style the PDF.
    return HTML(string=pdf_html(snapshot), base_url=STATIC_BASE, url_fetcher=fetcher).write_pdf()


_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def _cell(ws, value, *, bold=False, wrap=True) -> WriteOnlyCell:
    return text_cell(ws, value, bold=bold, wrap=wrap)


def xlsx_bytes(snapshot: dict) -> bytes:
    with translation.override(PUBLIC_LANGUAGE):
        wb = Workbook(write_only=True)
        headers = [
            pgettext("annex", "No."),
            pgettext("annex", "Suggestion"),
            pgettext("annex", "Category"),
            pgettext("annex", "Lead department"),
            pgettext("annex", "Measures and outcome"),
            pgettext("annex", "State"),
        ]
        widths = [6, 50, 12, 18, 60, 16]
        annexes = snapshot["annexes"] or [{"round": "", "title": snapshot["title"], "rows": []}]
        used: set[str] = set()
        for i, annex in enumerate(annexes, start=1):
            name = _SHEET_BAD.sub("", annex["round"] or _("Annex"))[:28] or f"{i}"
            while name in used:
                name = f"{name[:26]}{i}"
            used.add(name)
            ws = wb.create_sheet(title=name)
            for col, width in zip("ABCDEF", widths, strict=True):
                ws.column_dimensions[col].width = width
            title = _("Annex %(n)s: %(title)s") % {"n": i, "title": annex["title"]}
            ws.append([_cell(ws, title, bold=True, wrap=False)])
            ws.append([_cell(ws, h, bold=True) for h in headers])
            for row in annex["rows"]:
                outcome = "\n".join(t for t in (row["measures"], row["outcome"]) if t)
                ws.append(
                    [
                        _cell(ws, row["n"]),
                        _cell(ws, "\n".join(row["suggestions"])),
                        _cell(ws, row["category"]),
                        _cell(ws, row["department"]),
                        _cell(ws, outcome),
                        _cell(ws, row["state"]),
                    ]
                )
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()
