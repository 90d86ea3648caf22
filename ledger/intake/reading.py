"""Any spreadsheet or CSV file → a header and normalised rows, or one clear refusal.

The kind of a file is judged from its bytes, never from its name: a ZIP holding
``[Content_Types].xml`` is .xlsx, one holding ``mimetype`` is .ods, an OLE2 container is
.xls (or an encrypted Office file, when it holds an ``EncryptionInfo`` stream), and text
that decodes as UTF-8 or GB18030 is CSV. Everything that can be refused from the size or
the ZIP directory is refused before a cell is read: the size from the upload, a zip bomb
from the declared sizes of its members.

python-calamine reads .xlsx, .xls and .ods (7× faster than openpyxl's read-only mode on
100,000 rows); CSV is read by the standard library.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import python_calamine
from django.conf import settings
from django.utils.translation import gettext as _

# How far down a sheet the header is looked for, past title rows and blank rows.
HEADER_SCAN_ROWS = 30
# A ZIP whose members declare more than this, or one member inflating more than
# ZIP_MAX_RATIO times over ZIP_RATIO_FLOOR bytes, is a zip bomb. A real 20 MB workbook of
# text inflates to ~200 MB at most; the ratio of sheet XML is 5–30.
ZIP_MAX_TOTAL = 1024 * 1024 * 1024
ZIP_MAX_RATIO = 200
ZIP_RATIO_FLOOR = 10 * 1024 * 1024
ZIP_MAX_MEMBERS = 10_000

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
# Directory entries of an OLE2 container hold their names in UTF-16LE.
ENCRYPTION_STREAMS = ("EncryptionInfo".encode("utf-16-le"), "EncryptedPackage".encode("utf-16-le"))


class IntakeError(Exception):
    """A file refused as a whole. ``str()`` is the one message the user sees."""


# --- Normalisation ---------------------------------------------------------------------------

# Full-width ASCII (U+FF01–U+FF5E) → half-width, except the punctuation of Chinese prose,
# which stays as written: ，；：？！（）. NFKC would turn those into ASCII too.
KEEP_FULL_WIDTH = set("，；：？！（）")
_HALF = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F) if chr(cp) not in KEEP_FULL_WIDTH}
_HALF[0x3000] = 0x20  # ideographic space
for _zw in ("\u200b", "\u200c", "\u200d", "\ufeff", "\u00a0"):
    _HALF[ord(_zw)] = 0x20 if _zw == "\u00a0" else None
HALF_WIDTH = str.maketrans(_HALF)


def clean(value: Any, *, multiline: bool = False) -> str:
    """A cell as text: full-width letters and digits made half-width, whitespace collapsed
    (line breaks kept when ``multiline``), stripped. Numbers lose a trailing ``.0``."""
    if value is None:
        return ""
    if isinstance(value, float):
        text = str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, datetime.datetime):
        text = value.date().isoformat() if value.time() == datetime.time() else value.isoformat()
    elif isinstance(value, datetime.date):
        text = value.isoformat()
    else:
        text = str(value)
    text = text.translate(HALF_WIDTH)
    if multiline:
        lines = (" ".join(line.split()) for line in text.replace("\r\n", "\n").split("\n"))
        return "\n".join(line for line in lines if line)
    return " ".join(text.split())


def header_key(text: str) -> str:
    """A header cell reduced to what names it: no spaces, no marks like * or ：, lower case."""
    text = clean(text).lower()
    return re.sub(r"[\s*:：（）()\[\]【】]", "", text)


# --- Tables ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Row:
    number: int  # the row's number in the sheet, 1-based, as the spreadsheet shows it
    values: dict[str, Any]  # field → raw cell value (text already cleaned)


@dataclasses.dataclass
class Table:
    sheet: str
    header_row: int
    columns: dict[str, str]  # field → the header as written in the file
    rows: list[Row]
    format: str  # xlsx, xls, ods, csv


def _aliases(fields: dict[str, Sequence[str]]) -> dict[str, tuple[str, int]]:
    """header key → (field, priority); a lower priority wins when two columns name a field."""
    keys: dict[str, tuple[str, int]] = {}
    for field, names in fields.items():
        for priority, name in enumerate(names):
            keys.setdefault(header_key(name), (field, priority))
    return keys


def find_header(
    rows: Iterable[tuple[int, Sequence[Any]]],
    fields: dict[str, Sequence[str]],
    required: str,
) -> tuple[int, dict[str, int], dict[str, str]] | None:
    """The first row, among the first HEADER_SCAN_ROWS non-empty ones, that names the
    ``required`` field: its number, field → column index, field → header text."""
    keys = _aliases(fields)
    seen = 0
    for number, cells in rows:
        texts = [clean(c) if isinstance(c, str) else "" for c in cells]
        if not any(texts) and not any(c not in (None, "") for c in cells):
            continue
        seen += 1
        found: dict[str, tuple[int, int]] = {}
        for index, text in enumerate(texts):
            hit = keys.get(header_key(text)) if text else None
            if hit is None:
                continue
            field, priority = hit
            if field not in found or priority < found[field][1]:
                found[field] = (index, priority)
        if required in found:
            columns = {f: i for f, (i, _p) in found.items()}
            return number, columns, {f: texts[i] for f, i in columns.items()}
        if seen >= HEADER_SCAN_ROWS:
            break
    return None


# --- Files -----------------------------------------------------------------------------------


def sniff(data: bytes, name: str) -> str:
    """xlsx, ods, xls or csv, judged from the bytes; refuses what none of them is."""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if data.startswith((ZIP_MAGIC, b"PK\x05\x06")):  # a ZIP (or an empty one)
        return _sniff_zip(data)
    if data.startswith(OLE2_MAGIC):
        if any(stream in data for stream in ENCRYPTION_STREAMS):
            raise IntakeError(
                _(
                    "The file is protected by a password (an encrypted Office file). Open it, "
                    "remove the password (File › Info › Protect workbook), save and upload again."
                )
            )
        return "xls"
    if ext in ("csv", "txt") and b"\x00" not in data[:65536]:
        return "csv"
    if ext in ("xlsx", "xlsm", "xls", "ods", "et"):
        raise IntakeError(
            _(
                "The file is named .%(ext)s but it is not a spreadsheet: its content is not "
                "an Excel, WPS or OpenDocument workbook."
            )
            % {"ext": ext}
        )
    raise IntakeError(_("This is not a spreadsheet. Upload an .xlsx, .xls, .ods or .csv file."))


def _sniff_zip(data: bytes) -> str:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise IntakeError(
            _("The file is damaged: it looks like a workbook but cannot be opened as one.")
        ) from None
    total = 0
    for member in members:
        total += member.file_size
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > ZIP_RATIO_FLOOR and ratio > ZIP_MAX_RATIO:
            raise _bomb()
    if total > ZIP_MAX_TOTAL or len(members) > ZIP_MAX_MEMBERS:
        raise _bomb()
    names = {m.filename for m in members}
    if "[Content_Types].xml" in names:
        return "xlsx"
    if "mimetype" in names or "content.xml" in names:
        return "ods"
    raise IntakeError(
        _("The file is a ZIP archive, not a workbook. Upload an .xlsx, .xls, .ods or .csv file.")
    )


def _bomb() -> IntakeError:
    return IntakeError(
        _(
            "The file was refused: it would unpack to far more than any real spreadsheet "
            "(a “zip bomb”). Save the sheet again from Excel or WPS and upload that."
        )
    )


def check_size(size: int) -> None:
    limit = settings.IMPORT_MAX_BYTES
    if size > limit:
        raise IntakeError(
            _("The file is %(size)s MB; at most %(limit)s MB can be imported. Split it in parts.")
            % {"size": f"{size / 1048576:.1f}", "limit": f"{limit / 1048576:g}"}
        )


def _too_many_rows(n: int) -> IntakeError:
    return IntakeError(
        _("The sheet has %(rows)s rows; at most %(limit)s rows can be imported at once.")
        % {"rows": f"{n:,}", "limit": f"{settings.IMPORT_MAX_ROWS:,}"}
    )


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise IntakeError(
        _("The CSV file is neither UTF-8 nor GB18030 text. Save it again as “CSV UTF-8”.")
    )


def _csv_sheets(data: bytes) -> Iterator[tuple[str, int, Iterator[tuple[int, list[Any]]]]]:
    text = _decode(data)
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    yield "CSV", -1, ((n, row) for n, row in enumerate(reader, 1))


def _calamine_sheets(
    data: bytes,
) -> Iterator[tuple[str, int, Iterator[tuple[int, list[Any]]]]]:
    try:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except python_calamine.PasswordError:
        raise IntakeError(
            _("The file is protected by a password. Remove the password and upload it again.")
        ) from None
    except Exception:  # calamine's errors (zip, xml, cfb) all mean: cannot be read
        raise IntakeError(
            _("The file is damaged: it looks like a workbook but cannot be opened as one.")
        ) from None
    for meta in book.sheets_metadata:
        if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
            continue
        try:
            sheet = book.get_sheet_by_name(meta.name)
        except Exception:
            raise IntakeError(
                _("The sheet “%(sheet)s” is damaged and cannot be read.") % {"sheet": meta.name}
            ) from None
        # iter_rows() starts at the sheet's first row (leading blank rows included) and at
        # its first used column: the numbers are those the spreadsheet shows.
        yield meta.name, sheet.total_height, ((n, r) for n, r in enumerate(sheet.iter_rows(), 1))


def read_table(
    data: bytes,
    name: str,
    *,
    fields: dict[str, Sequence[str]],
    required: str,
    multiline: Iterable[str] = (),
    raw: Iterable[str] = (),
) -> Table:
    """The first sheet of ``data`` with a recognisable header, as normalised rows.

    ``fields`` maps each field to its header names (first = preferred); ``raw`` fields keep
    their cell value (a date stays a date) and the others become cleaned text."""
    check_size(len(data))
    kind = sniff(data, name)
    sheets = _csv_sheets(data) if kind == "csv" else _calamine_sheets(data)
    multiline, raw = set(multiline), set(raw)
    limit = settings.IMPORT_MAX_ROWS
    for sheet_name, height, numbered in sheets:
        if height > limit + HEADER_SCAN_ROWS:
            raise _too_many_rows(height)
        head = _head(numbered)
        found = find_header(head, fields, required)
        if found is None:
            continue
        header_row, columns, titles = found
        rows = _table_rows(_chain(head, numbered), header_row, columns, multiline, raw)
        return Table(sheet_name, header_row, titles, rows, kind)
    names = "、".join(dict.fromkeys(names[0] for names in fields.values()))
    raise IntakeError(
        _(
            "No header row was found: none of the first %(n)s rows names the columns. "
            "The header needs at least the column “%(required)s”; known columns: %(names)s."
        )
        % {"n": HEADER_SCAN_ROWS, "required": fields[required][0], "names": names}
    )


def _chain(head, rest):
    yield from head
    yield from rest


# --- Workbooks of several tables -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TableKind:
    """What one kind of table looks like: its fields' header names (first = preferred),
    the fields its header must all name, and what ``read_table`` takes for the others."""

    label: str  # how a message names the kind, e.g. "a sheet of departments"
    fields: dict[str, Sequence[str]]
    required: tuple[str, ...]
    multiline: tuple[str, ...] = ()
    raw: tuple[str, ...] = ()


@dataclasses.dataclass
class SheetTable(Table):
    kind: str
    ignored: list[str]  # headers of columns that no field reads, as written


def read_tables(data: bytes, name: str, *, kinds: dict[str, TableKind]) -> dict[str, SheetTable]:
    """Every sheet of a workbook whose header is one of ``kinds``: kind → its table.

    A sheet is claimed by the first kind, in the order given, whose required columns its
    header row names, so a kind whose columns another's include goes after it. Sheets of
    no kind (notes, instructions) are read past. A CSV holds one table, never several, and
    is refused; so is a workbook with no sheet of any kind, or two sheets of one kind."""
    check_size(len(data))
    kind = sniff(data, name)
    if kind == "csv":
        raise IntakeError(
            _(
                "A CSV file holds one table, and this import reads several sheets. Save the "
                "file as a workbook (.xlsx from Excel or WPS, or .ods) and upload that."
            )
        )
    limit = settings.IMPORT_MAX_ROWS
    found: dict[str, SheetTable] = {}
    for sheet_name, height, numbered in _calamine_sheets(data):
        if height > limit + HEADER_SCAN_ROWS:
            raise _too_many_rows(height)
        head = _head(numbered)
        for key, spec in kinds.items():
            header = _find_full_header(head, spec)
            if header is None:
                continue
            if key in found:
                raise IntakeError(
                    _(
                        "The sheets “%(first)s” and “%(second)s” both hold %(kind)s: put "
                        "them on one sheet."
                    )
                    % {"first": found[key].sheet, "second": sheet_name, "kind": spec.label}
                )
            header_row, columns, titles = header
            cells = next(cells for number, cells in head if number == header_row)
            used = set(columns.values())
            ignored = [
                clean(cell)
                for index, cell in enumerate(cells)
                if index not in used and isinstance(cell, str) and clean(cell)
            ]
            rows = _table_rows(
                _chain(head, numbered), header_row, columns, set(spec.multiline), set(spec.raw)
            )
            found[key] = SheetTable(sheet_name, header_row, titles, rows, kind, key, ignored)
            break
    if not found:
        expected = "；".join(
            _("%(kind)s: %(required)s (also read: %(optional)s)")
            % {
                "kind": spec.label,
                "required": "、".join(spec.fields[field][0] for field in spec.required),
                "optional": "、".join(
                    names[0] for field, names in spec.fields.items() if field not in spec.required
                ),
            }
            for spec in kinds.values()
        )
        raise IntakeError(
            _(
                "No sheet of the workbook has a header this import knows: none of the first "
                "%(n)s rows of a sheet names the columns. Expected %(expected)s."
            )
            % {"n": HEADER_SCAN_ROWS, "expected": expected}
        )
    return found


def _find_full_header(
    head: list[tuple[int, Sequence[Any]]], spec: TableKind
) -> tuple[int, dict[str, int], dict[str, str]] | None:
    """``find_header`` for a kind that needs several columns: the first row naming its
    first required field and all the others; a row naming only some is read past."""
    rows = head
    while found := find_header(rows, spec.fields, spec.required[0]):
        if all(field in found[1] for field in spec.required[1:]):
            return found
        rows = [(number, cells) for number, cells in rows if number > found[0]]
    return None


def _head(numbered: Iterator[tuple[int, Sequence[Any]]]) -> list[tuple[int, Sequence[Any]]]:
    """The first rows of a sheet, where its header is looked for; the rest stay unread."""
    head: list[tuple[int, Sequence[Any]]] = []
    for item in numbered:
        head.append(item)
        if len(head) >= HEADER_SCAN_ROWS * 3:
            break
    return head


def _table_rows(
    numbered: Iterable[tuple[int, Sequence[Any]]],
    header_row: int,
    columns: dict[str, int],
    multiline: set[str],
    raw: set[str],
) -> list[Row]:
    """The rows below the header, each field's cell normalised (``raw`` ones kept as the
    cell holds them, ``multiline`` ones keeping their line breaks); wholly empty rows (in
    the columns read) are skipped."""
    limit = settings.IMPORT_MAX_ROWS
    width = max(columns.values()) + 1
    order = sorted(columns.items(), key=lambda fc: fc[1])
    rows: list[Row] = []
    for number, cells in numbered:
        if number <= header_row:
            continue
        if len(cells) < width:
            cells = list(cells) + [None] * (width - len(cells))
        values: dict[str, Any] = {}
        filled = False
        for field, index in order:
            value = cells[index]
            if field in raw and not isinstance(value, str):
                values[field] = value
                filled = filled or value not in (None, "")
                continue
            text = clean(value, multiline=field in multiline)
            values[field] = text
            filled = filled or bool(text)
        if not filled:
            continue
        rows.append(Row(number, values))
        if len(rows) > limit:
            raise _too_many_rows(len(rows))
    return rows
