"""Any spreadsheet or CSV file → a header and normalised rows, or one clear refusal.

The kind of a file is judged from its bytes, never from its name: a ZIP holding
``[Content_Types].xml`` is .xlsx, one holding ``mimetype`` is .ods, an OLE2 container is
.xls (or an encrypted Office file, when it holds an ``EncryptionInfo`` stream), and text
that decodes as UTF-8 or GB18030 (or UTF-16 with its byte order mark) is CSV. Everything
that can be refused from the size or the ZIP directory is refused before a cell is read:
the size from the upload, a zip bomb from the declared sizes of its members. Each kind of
file that is none of these (an empty file, a Word document, a web page named .xls) and
each kind of damage (a ZIP cut short, a workbook without its main part, an OpenDocument
file without its content) is refused with its own message.

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
from django.utils.translation import gettext_lazy

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
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
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
# A NUL inside a cell (a binary-damaged CSV past the part sniffed, an .xls string) is dropped:
# PostgreSQL refuses it in text, and no one typed it.
_HALF[0] = None
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


class Otherwise(str):
    """A header name that names its field only when no other column of the header names
    that field, and ``field`` when one does: 责任单位 alone is the lead department, beside
    牵头单位 it is the co-responsible departments."""

    field: str

    def __new__(cls, name: str, field: str) -> Otherwise:
        self = super().__new__(cls, name)
        self.field = field
        return self


@dataclasses.dataclass
class Row:
    number: int  # the row's number in the sheet, 1-based, as the spreadsheet shows it
    values: dict[str, Any]  # field → raw cell value (text already cleaned)


@dataclasses.dataclass
class Heading:
    """A row between items that names the section below it (“一、教育事业（3项）”)."""

    row: int
    text: str  # as written
    name: str  # what it names: “教育事业”


@dataclasses.dataclass
class Table:
    sheet: str
    header_row: int  # the header's last row, when it has two
    columns: dict[str, str]  # field → the header as written in the file
    rows: list[Row]
    format: str  # xlsx, xls, ods, csv
    # Headers of the columns no field reads, as written (a column with data and no header
    # is named by its letter): the preview lists them, so that nothing is dropped unseen.
    ignored: list[str] = dataclasses.field(default_factory=list, kw_only=True)
    # Headers of known columns that are deliberately not imported (progress and state).
    unread: list[str] = dataclasses.field(default_factory=list, kw_only=True)
    # Rows read as section headings rather than as rows.
    headings: list[Heading] = dataclasses.field(default_factory=list, kw_only=True)
    header_rows: int = dataclasses.field(default=1, kw_only=True)


@dataclasses.dataclass
class Header:
    """A header found in a sheet: which columns each field reads, and which none does."""

    row: int  # its last row
    indexes: dict[str, list[int]]  # field → its columns (several only for a ``multi`` field)
    texts: list[str]  # each column's header as written ("" for none)
    ignored: list[str]
    unread: list[str]
    rows: int = 1

    @property
    def titles(self) -> dict[str, str]:
        return {f: "、".join(self.texts[i] for i in cols) for f, cols in self.indexes.items()}

    @property
    def width(self) -> int:
        return sum(1 for text in self.texts if text)


def _aliases(fields: dict[str, Sequence[str]]) -> dict[str, tuple[str, int, str | None]]:
    """header key → (field, priority, the field it names when another column has this
    one's); a lower priority wins when two columns name a field."""
    keys: dict[str, tuple[str, int, str | None]] = {}
    for field, names in fields.items():
        for priority, name in enumerate(names):
            keys.setdefault(header_key(name), (field, priority, getattr(name, "field", None)))
    return keys


def _is_blank(cells: Sequence[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not clean(c)) for c in cells)


def _resolve(
    number: int,
    texts: list[str],
    keys: dict[str, tuple[str, int, str | None]],
    multi: set[str],
    unread: set[str],
    rows: int = 1,
) -> Header:
    """What each column of a header row names. Of several columns naming one field the
    first-listed name wins, unless the field reads several (``multi``); a column that loses
    and has an ``Otherwise`` name goes to that field when it is free (or ``multi``)."""
    hits = [
        (index, *keys[key])
        for index, text in enumerate(texts)
        if text and (key := header_key(text)) in keys
    ]
    not_read = [index for index, field, _p, _o in hits if field in unread]
    hits = [hit for hit in hits if hit[1] not in unread]
    best: dict[str, tuple[int, int]] = {}
    for index, field, priority, _other in hits:
        if field not in best or priority < best[field][0]:
            best[field] = (priority, index)
    indexes: dict[str, list[int]] = {}
    losers: list[tuple[int, str]] = []
    for index, field, _priority, other in hits:
        if best[field][1] == index or field in multi:
            indexes.setdefault(field, []).append(index)
        elif other:
            losers.append((index, other))
    for index, other in losers:
        if other in multi or other not in indexes:
            indexes.setdefault(other, []).append(index)
    for columns in indexes.values():
        columns.sort()
    used = {index for columns in indexes.values() for index in columns} | set(not_read)
    return Header(
        number,
        indexes,
        texts,
        [text for index, text in enumerate(texts) if text and index not in used],
        [texts[index] for index in not_read],
        rows,
    )


def _sub_header(
    top: list[str], cells: Sequence[Any], keys: dict[str, tuple[str, int, str | None]]
) -> list[str] | None:
    """The second row of a two-row header under ``top``, or None when ``cells`` is not one.

    Offices merge a band (“责任单位”) over sub-headers (“牵头单位”, “配合单位”); a merged cell
    reads as its value in the first cell and empty in the others. So a sub-header row holds
    only text, names at least one known column, and each of its cells stands under a band:
    below an empty cell of ``top``, or below the band's first cell when the band goes on to
    the right. A row of data has cells under the single headers too (序号, 问题)."""
    if any(c not in (None, "") and not isinstance(c, str) for c in cells):
        return None
    bottom = [clean(c) for c in cells]
    filled = [index for index, text in enumerate(bottom) if text]
    if not filled or not any(header_key(bottom[i]) in keys for i in filled):
        return None
    if sum(1 for text in top if text) < 2 or not any(header_key(t) in keys for t in top if t):
        return None  # a title above the header, not a header with a band
    top = top + [""] * (len(bottom) - len(top))
    for index in filled:
        if not top[index]:
            continue
        if index + 1 < len(bottom) and not top[index + 1] and bottom[index + 1]:
            continue
        return None
    width = max(len(top), len(bottom))
    bottom += [""] * (width - len(bottom))
    combined = []
    for upper, lower in zip(top, bottom, strict=True):
        # The sub-header names the column, unless only the band is a name this import knows.
        if lower and (header_key(lower) in keys or not upper or header_key(upper) not in keys):
            combined.append(lower)
        else:
            combined.append(upper)
    return combined


def find_header(
    rows: Iterable[tuple[int, Sequence[Any]]],
    fields: dict[str, Sequence[str]],
    required: str,
    *,
    multi: Iterable[str] = (),
    unread: Iterable[str] = (),
) -> Header | None:
    """The first row, among the first HEADER_SCAN_ROWS non-empty ones, that names the
    ``required`` field, with the row below it when that is its second row. A row of one
    cell (a title such as “问题清单”) is the header only when no fuller row names the field."""
    keys = _aliases(fields)
    multi, unread = set(multi), set(unread)
    head = list(rows)
    single: Header | None = None
    seen = 0
    for at, (number, cells) in enumerate(head):
        if _is_blank(cells):
            continue
        seen += 1
        if seen > HEADER_SCAN_ROWS:
            break
        texts = [clean(c) for c in cells]
        header = None
        if at + 1 < len(head) and head[at + 1][0] == number + 1:
            combined = _sub_header(texts, head[at + 1][1], keys)
            if combined is not None:
                header = _resolve(number + 1, combined, keys, multi, unread, rows=2)
                if required not in header.indexes:
                    header = None
        if header is None:
            header = _resolve(number, texts, keys, multi, unread)
            if required not in header.indexes:
                continue
        if header.width >= 2:
            return header
        single = single or header
    return single


# --- Files -----------------------------------------------------------------------------------


def sniff(data: bytes, name: str) -> str:
    """xlsx, ods, xls or csv, judged from the bytes; refuses what none of them is, each kind
    of file or damage with its own message."""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if not data or data.isspace():
        raise _empty()
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
    if ext in ("csv", "txt"):
        if data.startswith(UTF16_BOMS) or b"\x00" not in data[:65536]:
            return "csv"
        raise IntakeError(
            _(
                "The file is named .%(ext)s but it is not text: its content is binary (a "
                "workbook, a picture or a damaged file). Upload a CSV saved from Excel or "
                "WPS, or the workbook itself."
            )
            % {"ext": ext}
        )
    if ext in ("xlsx", "xlsm", "xls", "ods", "et"):
        if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
            # Many systems "export to Excel" a web page or an XML table under an .xls name.
            raise IntakeError(
                _(
                    "The file is named .%(ext)s but it holds a web page or XML (as some "
                    "systems export a table), not a workbook. Open it in Excel or WPS, save "
                    "it as .xlsx and upload that."
                )
                % {"ext": ext}
            )
        raise IntakeError(
            _(
                "The file is named .%(ext)s but it is not a spreadsheet: its content is not "
                "an Excel, WPS or OpenDocument workbook."
            )
            % {"ext": ext}
        )
    raise IntakeError(_("This is not a spreadsheet. Upload an .xlsx, .xls, .ods or .csv file."))


# Office documents that are not workbooks, by a part only they have.
OTHER_OFFICE_PARTS = {
    "word/document.xml": gettext_lazy("a Word document"),
    "ppt/presentation.xml": gettext_lazy("a PowerPoint presentation"),
}
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"


def _sniff_zip(data: bytes) -> str:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        # It starts as a ZIP, but the directory at its end is missing: it was cut short.
        raise IntakeError(
            _(
                "The file is damaged: it is incomplete, its end is missing (as when a "
                "download or a copy stops early). Upload the whole file: save it again "
                "from Excel or WPS if need be."
            )
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
    for part, kind in OTHER_OFFICE_PARTS.items():
        if part in names:
            raise _not_a_workbook(kind)
    if "mimetype" in names or "content.xml" in names:
        try:
            mimetype = archive.read("mimetype").strip() if "mimetype" in names else b""
        except (zipfile.BadZipFile, ValueError, OSError, RuntimeError):
            mimetype = b""
        if mimetype.startswith(b"application/vnd.oasis.opendocument.") and not (
            mimetype.startswith(ODS_MIMETYPE)
        ):
            raise _not_a_workbook(gettext_lazy("an OpenDocument text or presentation"))
        if "content.xml" not in names:
            raise IntakeError(
                _(
                    "The file is damaged: it is an OpenDocument spreadsheet without its "
                    "content (content.xml is missing). Open it in WPS or LibreOffice, save "
                    "it again and upload that."
                )
            )
        return "ods"
    if "[Content_Types].xml" in names or any(n.startswith("xl/") for n in names):
        if "xl/workbook.xml" not in names and "xl/workbook.bin" not in names:
            raise IntakeError(
                _(
                    "The file is damaged: its main part, the workbook that lists the sheets "
                    "(xl/workbook.xml), is missing. Open it in Excel or WPS, which may repair "
                    "it, save it again and upload that."
                )
            )
        return "xlsx"
    raise IntakeError(
        _("The file is a ZIP archive, not a workbook. Upload an .xlsx, .xls, .ods or .csv file.")
    )


def _not_a_workbook(kind) -> IntakeError:
    return IntakeError(
        _(
            "The file is %(kind)s, not a workbook. Upload the table itself: an .xlsx, .xls, "
            ".ods or .csv file."
        )
        % {"kind": kind}
    )


def _empty() -> IntakeError:
    return IntakeError(
        _(
            "The file is empty: there is nothing in it to read. Check that it is the right "
            "file, save it again and upload that."
        )
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
    if data.startswith(UTF16_BOMS):
        # Excel's and WPS's "Unicode text": UTF-16 with its byte order mark, tab-separated.
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise IntakeError(
        _("The CSV file is neither UTF-8 nor GB18030 text. Save it again as “CSV UTF-8”.")
    )


# A sheet as the readers give it: its name, its height, its numbered rows, and the index of
# its first column (calamine starts each row at the sheet's first used column).
Sheet = tuple[str, int, Iterator[tuple[int, list[Any]]], int]


def _csv_sheets(data: bytes) -> Iterator[Sheet]:
    text = _decode(data)
    if not text.strip():
        raise _empty()
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    yield "CSV", -1, ((n, row) for n, row in enumerate(reader, 1)), 0


def _calamine_sheets(data: bytes) -> Iterator[Sheet]:
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
    if not book.sheets_metadata:
        # Every workbook Excel, WPS or LibreOffice saves has a sheet.
        raise IntakeError(
            _(
                "The file is damaged: the workbook lists no sheet to read. Open it in Excel "
                "or WPS, save it again as .xlsx and upload that."
            )
        )
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
        first_column = sheet.start[1] if sheet.start else 0
        rows = ((n, r) for n, r in enumerate(sheet.iter_rows(), 1))
        yield meta.name, sheet.total_height, rows, first_column


def read_table(
    data: bytes,
    name: str,
    *,
    fields: dict[str, Sequence[str]],
    required: str,
    multiline: Iterable[str] = (),
    raw: Iterable[str] = (),
    multi: Iterable[str] = (),
    unread: Iterable[str] = (),
    section: str | None = None,
) -> Table:
    """The first sheet of ``data`` with a recognisable header, as normalised rows.

    ``fields`` maps each field to its header names (first = preferred); ``raw`` fields keep
    their cell value (a date stays a date) and the others become cleaned text. A ``multi``
    field reads every column that names it, joined by line breaks; the columns of an
    ``unread`` field are recognised and listed in ``Table.unread``, never read. With
    ``section``, a row that only holds a heading (``section_name``) is no row: it gives
    that field to the rows below it that leave it empty."""
    check_size(len(data))
    kind = sniff(data, name)
    sheets = _csv_sheets(data) if kind == "csv" else _calamine_sheets(data)
    multiline, raw = set(multiline), set(raw)
    limit = settings.IMPORT_MAX_ROWS
    for sheet_name, height, numbered, first_column in sheets:
        if height > limit + HEADER_SCAN_ROWS:
            raise _too_many_rows(height)
        head = _head(numbered)
        header = find_header(head, fields, required, multi=multi, unread=unread)
        if header is None:
            continue
        reading = _table_rows(_chain(head, numbered), header, multiline, raw, section)
        no_header = [
            _("column %(column)s (no header)") % {"column": column_letter(first_column + index)}
            for index in reading.unheaded
        ]
        return Table(
            sheet_name,
            header.row,
            header.titles,
            reading.rows,
            kind,
            ignored=header.ignored + no_header,
            unread=header.unread,
            headings=reading.headings,
            header_rows=header.rows,
        )
    unread = set(unread)
    names = "、".join(
        dict.fromkeys(names[0] for field, names in fields.items() if field not in unread)
    )
    raise IntakeError(
        _(
            "No header row was found: none of the first %(n)s rows names the columns. "
            "The header needs at least the column “%(required)s”; known columns: %(names)s."
        )
        % {"n": HEADER_SCAN_ROWS, "required": fields[required][0], "names": names}
    )


def column_letter(index: int) -> str:
    """A column's letter as spreadsheets show it, from its 0-based index: 0 → A, 27 → AB."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _chain(head, rest):
    yield from head
    yield from rest


# --- Section headings ------------------------------------------------------------------------

_CN_NUMBERS = "一二三四五六七八九十百零〇两"
# “一、” “二.” “（三）” “(四)” “第五部分” “第一类”: how offices number the sections of a list.
# Arabic numbers (“1、”, “（1）”) number items, not sections, and are not headings.
_ENUMERATOR = re.compile(
    rf"^(?:[{_CN_NUMBERS}]+\s*[、.．:：]"
    rf"|[（(]\s*[{_CN_NUMBERS}]+\s*[）)]\s*[、.．]?"
    rf"|第\s*[{_CN_NUMBERS}\d]+\s*(?:部分|类|方面|章|节)\s*[、.．:：]?)\s*"
)
# “（3项）” “(共5条)” “共5项” “ 5 项”: the count a heading gives of its rows.
_COUNT = re.compile(r"\s*(?:[（(]\s*共?\s*\d+\s*[项条个件]\s*[）)]|共\s*\d+\s*[项条]|\s\d+\s*项)$")
_BARE_COUNT = re.compile(r"\s*共?\s*\d+\s*[项条]$")
# A heading without a number or a count still names a kind: “社会保障类”, “城市管理类问题”.
_KIND_END = re.compile(r"(?:类|类问题|类事项)$")
# What a heading adds to the name of its category: “城市管理类问题” is 城市管理.
_KIND_WORDS = re.compile(r"(?:类问题|类事项|方面问题|领域问题|类|方面|领域|问题)$")
_PROSE = re.compile(r"[，。；！？,;!?]")
HEADING_MAX_CHARS = 40


def section_name(text: str) -> str:
    """The category a heading row names (“一、教育事业（3项）” → 教育事业), or "" when
    ``text`` is no heading: a heading is short, is no sentence, and is numbered in Chinese,
    counts its rows, or ends in 类."""
    text = clean(text)
    if not text or len(text) > HEADING_MAX_CHARS or _PROSE.search(text):
        return ""
    rest, marked = text, False
    if m := _ENUMERATOR.match(rest):
        rest, marked = rest[m.end() :], True
    if m := _COUNT.search(rest):
        rest, marked = rest[: m.start()], True
    elif marked and (m := _BARE_COUNT.search(rest)):
        rest = rest[: m.start()]
    rest = rest.strip(" :：")
    if not marked and not (_KIND_END.search(rest) and len(rest) <= 20):
        return ""
    shorter = _KIND_WORDS.sub("", rest)
    name = shorter if len(shorter) >= 2 else rest
    return name[:50]


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
    kind: str = ""


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
    for sheet_name, height, numbered, _first_column in _calamine_sheets(data):
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
            reading = _table_rows(
                _chain(head, numbered), header, set(spec.multiline), set(spec.raw), None
            )
            found[key] = SheetTable(
                sheet_name,
                header.row,
                header.titles,
                reading.rows,
                kind,
                ignored=header.ignored,
                header_rows=header.rows,
                kind=key,
            )
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


def _find_full_header(head: list[tuple[int, Sequence[Any]]], spec: TableKind) -> Header | None:
    """``find_header`` for a kind that needs several columns: the first row naming its
    first required field and all the others; a row naming only some is read past."""
    rows = head
    while found := find_header(rows, spec.fields, spec.required[0]):
        if all(field in found.indexes for field in spec.required[1:]):
            return found
        rows = [(number, cells) for number, cells in rows if number > found.row]
    return None


def _head(numbered: Iterator[tuple[int, Sequence[Any]]]) -> list[tuple[int, Sequence[Any]]]:
    """The first rows of a sheet, where its header is looked for; the rest stay unread."""
    head: list[tuple[int, Sequence[Any]]] = []
    for item in numbered:
        head.append(item)
        if len(head) >= HEADER_SCAN_ROWS * 3:
            break
    return head


def _heading(cells: Sequence[Any]) -> tuple[str, str]:
    """(the category, the text) of a row whose one filled cell is a heading, else ("", "")."""
    filled = [c for c in cells if c is not None and (not isinstance(c, str) or c.strip())]
    if len(filled) == 1 and isinstance(filled[0], str) and (name := section_name(filled[0])):
        return name, clean(filled[0])
    return "", ""


@dataclasses.dataclass
class _Reading:
    rows: list[Row]
    headings: list[Heading]
    unheaded: list[int]  # columns with data and no header


def _table_rows(
    numbered: Iterable[tuple[int, Sequence[Any]]],
    header: Header,
    multiline: set[str],
    raw: set[str],
    section: str | None,
) -> _Reading:
    """The rows below the header, each field's cell normalised (``raw`` ones kept as the
    cell holds them, ``multiline`` ones keeping their line breaks, a field of several
    columns joined by line breaks); wholly empty rows (in the columns read) are skipped.
    With ``section``, a row whose one filled cell is a heading gives its name to that
    field of the rows below it that leave it empty."""
    limit = settings.IMPORT_MAX_ROWS
    columns = header.indexes
    width = max(i for indexes in columns.values() for i in indexes) + 1
    order = sorted(columns.items(), key=lambda fc: fc[1][0])
    headed = {index for index, text in enumerate(header.texts) if text}
    unheaded: set[int] = set()
    rows: list[Row] = []
    headings: list[Heading] = []
    current = ""
    for number, cells in numbered:
        if number <= header.row:
            continue
        if section is not None:
            name, text = _heading(cells)
            if name:
                current = name
                headings.append(Heading(number, text, name))
                continue
        if len(cells) < width:
            cells = list(cells) + [None] * (width - len(cells))
        values: dict[str, Any] = {}
        filled = False
        for field, indexes in order:
            if field in raw and len(indexes) == 1 and not isinstance(cells[indexes[0]], str):
                value = cells[indexes[0]]
                values[field] = value
                filled = filled or value not in (None, "")
                continue
            texts = [clean(cells[i], multiline=field in multiline) for i in indexes]
            text = "\n".join(t for t in texts if t)
            values[field] = text
            filled = filled or bool(text)
        if not filled:
            continue
        unheaded.update(
            index
            for index, cell in enumerate(cells)
            if index not in headed and cell not in (None, "") and clean(cell)
        )
        if section is not None and current and not values.get(section):
            values[section] = current
        rows.append(Row(number, values))
        if len(rows) > limit:
            raise _too_many_rows(len(rows))
    return _Reading(rows, headings, sorted(unheaded))
