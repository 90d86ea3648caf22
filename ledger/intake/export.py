"""The ledger → an .xlsx workbook (导出台账), with openpyxl's write-only mode.

Rows come from ``values_list(...).iterator()`` with the round, category, leader and lead
department joined in SQL; the co-responsible departments of each chunk of items are read
in one more query per chunk, never per row. Memory stays flat: write-only openpyxl streams
each row to a temporary file as it is appended.

What no spreadsheet may do with the file: run a cell as a formula. openpyxl makes any text
starting with "=" a formula, so every text cell that starts with = + - @ (or a tab or a
carriage return) is written as an inline string (``t="inlineStr"``, no ``<f>``) with the
quote-prefix style, which is what Excel itself sets when someone types a leading apostrophe:
the cell shows the text as written and stays text when edited.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import IO

from django.core.files import File
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django_tasks import task
from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties

from ledger import jobs
from ledger.models import Item, User

SHEET_MAX_ROWS = 1_048_576  # rows in one .xlsx sheet, title and header included
CELL_MAX_CHARS = 32_767  # what one cell holds
CHUNK = 2_000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# (column, width, wrap): the header names are those the ledger import reads back.
COLUMNS = (
    ("round", 12, False),
    ("number", 12, False),
    ("category", 12, False),
    ("title", 40, True),
    ("leader", 16, False),
    ("lead", 18, True),
    ("co", 24, True),
    ("person", 12, False),
    ("deadline", 12, False),
    ("measures", 40, True),
    ("goal", 30, True),
    ("state", 10, False),
    ("percent", 8, False),
    ("ladder", 12, False),
)
VALUES = (
    "pk",
    "round__name",
    "number",
    "category__name",
    "title",
    "leader__post",
    "leader__name",
    "lead_department__name",
    "responsible_person",
    "deadline",
    "long_term",
    "measures",
    "goal",
    "state",
    "percent",
    "ladder_step",
)


def headers() -> list[str]:
    return [
        pgettext("ledger column", "Round"),
        pgettext("ledger column", "Number"),
        pgettext("ledger column", "Category"),
        pgettext("ledger column", "Problem"),
        pgettext("ledger column", "Responsible leader"),
        pgettext("ledger column", "Lead department"),
        pgettext("ledger column", "Co-responsible departments"),
        pgettext("ledger column", "Responsible person"),
        pgettext("ledger column", "Deadline"),
        pgettext("ledger column", "Measures"),
        pgettext("ledger column", "Goal"),
        pgettext("ledger column", "State"),
        pgettext("ledger column", "Percent done"),
        pgettext("ledger column", "Ladder step"),
    ]


def long_term_text() -> str:
    return pgettext("ledger column", "Long-term")


def cell_text(text: str) -> str:
    """``text`` as a cell can hold it: without the control characters XML forbids (where
    openpyxl would refuse the whole file) and cut at 32,767 characters, as openpyxl cuts."""
    # The control characters XML 1.0 forbids (openpyxl's own list; a tab, a line feed and
    # a carriage return are allowed): text pasted from other systems sometimes carries them.
    if ILLEGAL_CHARACTERS_RE.search(text):
        text = ILLEGAL_CHARACTERS_RE.sub("", text)
    return text[:CELL_MAX_CHARS]


def text_cell(sheet, value, *, bold: bool = False, wrap: bool | None = None) -> WriteOnlyCell:
    """A write-only cell that keeps text as text: ``cell_text``'s cleaning, and a text that
    begins like a formula (= + - @) stored as a string, never run as one. ``wrap`` sets
    the alignment (wrapped or not, top); None leaves it as it is."""
    if isinstance(value, str):
        value = cell_text(value)
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
        if value.startswith(FORMULA_STARTS):
            cell.quotePrefix = True
    if bold:
        cell.font = Font(bold=True)
    if wrap is not None:
        cell.alignment = Alignment(wrap_text=wrap, vertical="top")
    return cell


class _ColumnCell(Cell):
    """A reused cell whose style never changes once set: its style id and whether it has
    a style are read once (``fix_style``), not looked up in the workbook's style list for
    every cell written, which openpyxl's properties of the same names do."""

    __slots__ = ("has_style", "style_id")

    def fix_style(self) -> None:
        self.has_style = Cell.has_style.fget(self)
        self.style_id = Cell.style_id.fget(self) if self.has_style else 0


def _cells_as_given(cells: list[Cell], row_idx: int) -> list[Cell]:
    """What a sheet of ``_Writer`` uses in place of openpyxl's ``_values_to_row``: the row
    is already a list of bound cells (see ``_Writer.append``), so only their row number is
    set. openpyxl's own version takes any values: each plain value is bound to a fresh
    cell, and each styled cell passed in is first tried as a value (an exception, whose
    message formats the cell's repr) before being taken as a cell and followed by a new
    cell. For a styled ledger that was a third of the export's time."""
    for cell in cells:
        cell.row = row_idx
    return cells


class _Writer:
    """Appends rows to a write-only workbook, opening a new sheet when one is full.

    Each sheet has one cell per column, bound to the row's value and reused for every
    row (a write-only sheet serialises a row as soon as it is appended), with its column's
    style: wrapped text, a date or a percent format, or none. A second cell per column,
    quote-prefixed, takes formula-like text. Rows are appended as lists of those cells,
    which the sheet passes to openpyxl's own row writer as they are (``_cells_as_given``):
    what is written is what openpyxl writes for the same styled cells, without its
    per-value conversion.

    Text and numbers, nearly every value, are bound here: text is made safe for a cell by
    ``cell_text`` and typed "s", numbers typed "n", as openpyxl types them. Anything else
    (a date) is bound by openpyxl's own ``Cell.value``."""

    def __init__(self, workbook: Workbook, title: str, max_rows: int):
        self.workbook = workbook
        self.title = cell_text(title)  # a round's name may carry what a cell cannot hold
        self.max_rows = max_rows
        self.sheet = None
        self.rows_in_sheet = 0
        self.sheets = 0
        self.cells: list[Cell] = []
        self.risky: list[Cell] = []
        self.headers = headers()
        top = Alignment(vertical="top")
        wrap = Alignment(vertical="top", wrap_text=True)
        # (alignment, number format or None) for each column; None: a plain cell.
        self.styles: list[tuple[Alignment, str | None] | None] = []
        for name, _width, wrapped in COLUMNS:
            if wrapped:
                self.styles.append((wrap, None))
            elif name == "deadline":
                self.styles.append((top, "yyyy-mm-dd"))
            elif name == "percent":
                self.styles.append((top, "0%"))
            else:
                self.styles.append(None)
        self.border = Border(bottom=Side(style="thin", color="C9CDD4"))
        self.head_font = Font(bold=True)
        self.head_fill = PatternFill("solid", fgColor="F2F3F5")
        self.head_align = Alignment(horizontal="center", vertical="center", wrap_text=True)

    def _cells(self, sheet) -> None:
        """The reused cells of ``sheet``: one per column, and one quote-prefixed."""
        self.cells, self.risky = [], []
        for column, style in enumerate(self.styles, 1):
            cell = _ColumnCell(sheet, row=1, column=column)
            risky = _ColumnCell(sheet, row=1, column=column)
            risky.alignment = style[0] if style else Alignment(vertical="top")
            risky.quotePrefix = True
            if style:
                cell.alignment = style[0]
                if style[1]:
                    cell.number_format = style[1]
            cell.fix_style()
            risky.fix_style()
            self.cells.append(cell)
            self.risky.append(risky)

    def _new_sheet(self) -> None:
        self.sheets += 1
        name = _("Ledger") if self.sheets == 1 else f"{_('Ledger')} ({self.sheets})"
        sheet = self.workbook.create_sheet(name[:31])
        for index, (_name, width, _wrap) in enumerate(COLUMNS, 1):
            sheet.column_dimensions[get_column_letter(index)].width = width
        sheet.freeze_panes = "C3"
        sheet.print_title_rows = "2:2"
        sheet.page_setup.orientation = "landscape"
        sheet.page_setup.paperSize = "9"  # A4
        sheet.page_setup.fitToWidth = 1
        sheet.page_setup.fitToHeight = 0
        sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
        title = WriteOnlyCell(sheet, value=self.title)
        title.font = Font(bold=True, size=14)
        if self.title.startswith(FORMULA_STARTS):
            title.data_type, title.quotePrefix = "s", True
        sheet.append([title])
        row = []
        for text in self.headers:
            cell = WriteOnlyCell(sheet, value=text)
            cell.font, cell.fill = self.head_font, self.head_fill
            cell.alignment, cell.border = self.head_align, self.border
            row.append(cell)
        sheet.append(row)
        # The title and header went through openpyxl's own conversion; the rows are
        # lists of this sheet's bound cells (see _cells_as_given).
        sheet._values_to_row = _cells_as_given
        self._cells(sheet)
        self.sheet = sheet
        self.rows_in_sheet = 2

    def append(self, values: list) -> None:
        if self.sheet is None or self.rows_in_sheet >= self.max_rows:
            self._new_sheet()
        row = []
        for value, cell, risky in zip(values, self.cells, self.risky, strict=True):
            if value is None:
                continue
            kind = value.__class__
            if kind is str:
                value = cell_text(value)
                if value.startswith(FORMULA_STARTS):
                    cell = risky  # quote-prefixed; typed "s", never "f"
                cell._value, cell.data_type = value, "s"
            elif kind is int or kind is float:
                cell._value, cell.data_type = value, "n"
            else:
                cell.value = value  # openpyxl's own typing and check of the value
            row.append(cell)
        self.sheet.append(row)
        self.rows_in_sheet += 1


def ledger_rows(
    items: QuerySet[Item], progress: Callable[[int], None] | None = None
) -> Iterator[list]:
    """The export's rows, in the order of ``items``: one list of cell values per item.

    The items and their joined names stream from the database in chunks; the
    co-responsible departments of a chunk are read in one query."""
    states = {value: str(label) for value, label in Item.State.choices}
    steps = {value: str(label) for value, label in Item.LadderStep.choices}
    long_term = long_term_text()
    through = Item.co_departments.through
    rows = items.values_list(*VALUES).iterator(chunk_size=CHUNK)
    while chunk := list(itertools.islice(rows, CHUNK)):
        co: dict[int, list[str]] = {}
        shares = (
            through.objects.filter(item_id__in=[r[0] for r in chunk])
            .order_by("department__order", "department__name")
            .values_list("item_id", "department__name")
        )
        for item_id, name in shares:
            co.setdefault(item_id, []).append(name)
        for (
            pk,
            round_name,
            number,
            category,
            problem,
            post,
            leader,
            lead,
            person,
            deadline,
            is_long_term,
            measures,
            goal,
            state,
            percent,
            ladder_step,
        ) in chunk:
            yield [
                round_name,
                number,
                category,
                problem,
                f"{post} {leader}" if leader else None,
                lead,
                "、".join(co.get(pk, ())) or None,
                person or None,
                long_term if is_long_term else deadline,
                measures or None,
                goal or None,
                states.get(state, state),
                percent / 100,
                steps.get(ladder_step),
            ]
        if progress:
            progress(len(chunk))


def write_items(
    items: QuerySet[Item],
    out: IO[bytes] | str,
    *,
    title: str,
    max_rows: int = SHEET_MAX_ROWS,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write ``items`` (in their order) to ``out``; returns the number of rows written."""
    workbook = Workbook(write_only=True)
    writer = _Writer(workbook, title, max_rows)
    written = 0
    for row in ledger_rows(items, progress):
        writer.append(row)
        written += 1
    if writer.sheet is None:
        writer._new_sheet()  # an empty ledger still gets its title and header
    workbook.save(out)
    return written


@task()
def export_job(job_id: int, user_id: int, params: dict[str, str], title_text: str) -> None:
    """A large export, in the background: what ``ledger_items`` gives this user for
    ``params`` (the list's filters), re-read when the job runs."""
    import tempfile

    from ledger.selectors import ledger_items

    with jobs.running(job_id) as job:
        user = User.objects.get(pk=user_id)
        items = ledger_items(user=user, params=params).items
        job.set_total(items.count())
        # A scratch file of this process, not a stored one: job.finish saves it to the
        # default storage (disk or bucket), whose name the job's download then reads.
        with tempfile.TemporaryFile() as out:
            write_items(items, out, title=title_text, progress=job.advance)
            out.seek(0)
            name = f"{title_text}-{timezone.localdate():%Y%m%d}.xlsx".replace("/", "-")
            job.finish(file_name=name, content=File(out, name=name))
