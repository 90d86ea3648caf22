"""Files the intake tests build: workbooks, CSV, OpenDocument, bad files.

``feedback.xls`` (made once with xlwt, which the project does not depend on) and
``encrypted.xlsx`` (an .xlsx protected with the password "secret" by msoffcrypto-tool) are
committed beside this module: neither can be made with what the project installs.
"""

from __future__ import annotations

import functools
import io
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import openpyxl

HERE = Path(__file__).resolve().parent


def fixture(name: str) -> bytes:
    return (HERE / name).read_bytes()


def xlsx(
    rows: list[list],
    *,
    title: str | None = None,
    blank_rows: int = 0,
    merge: bool = True,
    sheet: str = "Sheet1",
) -> bytes:
    """A workbook: an optional title row (merged across the columns), blank rows, then
    ``rows`` (the header first)."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = sheet
    if title is not None:
        ws.append([title])
        if merge:
            ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(rows[0]))
    for _ in range(blank_rows):
        ws.append([])
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows: list[list], encoding: str = "utf-8") -> bytes:
    import csv

    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode(encoding)


def ods(rows: list[list]) -> bytes:
    """A minimal OpenDocument spreadsheet, zipped by hand."""
    body = []
    for row in rows:
        cells = []
        for value in row:
            if value is None:
                cells.append("<table:table-cell/>")
            elif isinstance(value, (int, float)):
                cells.append(
                    f'<table:table-cell office:value-type="float" office:value="{value}">'
                    f"<text:p>{value}</text:p></table:table-cell>"
                )
            else:
                cells.append(
                    f'<table:table-cell office:value-type="string">'
                    f"<text:p>{escape(str(value))}</text:p></table:table-cell>"
                )
        body.append(f"<table:table-row>{''.join(cells)}</table:table-row>")
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        "<office:document-content "
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="Sheet1">'
        f"{''.join(body)}</table:table></office:spreadsheet></office:body>"
        "</office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"'
        ' manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:version="1.2" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(
            "mimetype",
            "application/vnd.oasis.opendocument.spreadsheet",
            compress_type=zipfile.ZIP_STORED,
        )
        z.writestr("META-INF/manifest.xml", manifest)
        z.writestr("content.xml", content)
    return out.getvalue()


def png() -> bytes:
    return (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
        b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18"
        b"\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
    )


@functools.cache
def zip_bomb() -> bytes:
    """A workbook-looking ZIP whose one sheet inflates from ~100 kB to 100 MB."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/worksheets/sheet1.xml", b"\x00" * (100 * 1024 * 1024))
    return out.getvalue()


def damaged_xlsx() -> bytes:
    """A real workbook cut in half: the ZIP directory at its end is gone."""
    data = xlsx([["序号", "意见建议"], [1, "文本"]])
    return data[: len(data) // 2]


def zipped(members: dict[str, bytes | str]) -> bytes:
    """A ZIP holding ``members`` (name → content), in that order."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in members.items():
            z.writestr(name, content)
    return out.getvalue()


def rezipped(data: bytes, drop: tuple[str, ...] = (), replace: dict | None = None) -> bytes:
    """The ZIP ``data`` again, without the members named in ``drop`` and with those in
    ``replace`` (name → new content)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    replace = replace or {}
    return zipped(
        {
            info.filename: replace.get(info.filename, source.read(info.filename))
            for info in source.infolist()
            if info.filename not in drop
        }
    )
