"""The ledger → .xlsx: layout, real dates, formula-like text kept as text, a second sheet."""

from __future__ import annotations

import datetime
import html
import io
import re
import zipfile

import openpyxl
import pytest
from django.utils.translation import override
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment

from ledger.intake.export import FORMULA_STARTS, _Writer, write_items
from ledger.models import Item

from .factory import make_item, make_round


@pytest.fixture(autouse=True)
def _chinese():
    with override("zh-hans"):
        yield


def export(items, **kw) -> bytes:
    out = io.BytesIO()
    write_items(items, out, title=kw.pop("title", "2019年度问题台账"), **kw)
    return out.getvalue()


def sheet_xml(data: bytes, n: int = 1) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.read(f"xl/worksheets/sheet{n}.xml").decode()


def test_it_writes_title_header_and_rows_with_real_dates(cast):
    round = cast.round
    item = make_item(
        round,
        number="2019-0001",
        title="学校周边交通拥堵",
        leader=cast.leader,
        lead_department=cast.edu,
        deadline=datetime.date(2020, 12, 31),
        percent=40,
    )
    item.co_departments.set([cast.traffic, cast.health])
    make_item(round, number="2019-0002", title="老旧小区加装电梯", long_term=True)
    book = openpyxl.load_workbook(io.BytesIO(export(Item.objects.filter(round=round))))
    ws = book.worksheets[0]
    assert ws["A1"].value == "2019年度问题台账"
    header = [c.value for c in ws[2]]
    assert header[:7] == ["评价批次", "编号", "类别", "问题", "责任领导", "牵头单位", "配合单位"]
    row = [c.value for c in ws[3]]
    assert row[:4] == ["2019年度", "2019-0001", None, "学校周边交通拥堵"]
    assert row[4] == "副市长 黄建国" and row[5] == "市教育局"
    assert set(row[6].split("、")) == {"市交通运输局", "市卫生健康委"}
    assert row[8] == datetime.datetime(2020, 12, 31) and ws.cell(3, 9).is_date
    assert ws.cell(3, 13).value == 0.4
    assert ws.cell(4, 9).value == "长期坚持"
    assert ws.freeze_panes == "C3"
    assert ws.print_title_rows == "$2:$2"
    assert ws.page_setup.orientation == "landscape"
    assert ws.column_dimensions["D"].width == 40
    assert ws.cell(3, 4).alignment.wrap_text


def test_formula_like_text_is_written_as_text_never_as_a_formula(cast):
    round = make_round()
    for n, title in enumerate(['=HYPERLINK("http://x","点我")', "+1+2", "-3", "@SUM(A1)", "\t=1"]):
        make_item(round, number=f"f-{n}", title=title, measures="=cmd|' /C calc'!A0")
    data = export(Item.objects.filter(round=round), title="=标题")
    xml = sheet_xml(data)
    assert "<f>" not in xml and "<f " not in xml
    ws = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    titles = [ws.cell(r, 4) for r in range(3, 8)]
    assert [c.value for c in titles] == [
        '=HYPERLINK("http://x","点我")',
        "+1+2",
        "-3",
        "@SUM(A1)",
        "\t=1",
    ]
    assert all(c.data_type == "s" for c in titles)
    assert ws["A1"].data_type == "s" and ws["A1"].value == "=标题"
    assert titles[0].quotePrefix


def test_past_the_row_limit_it_continues_on_a_second_sheet_with_the_header(db):
    round = make_round()
    for n in range(7):
        make_item(round, number=f"n-{n}", title=f"问题{n}")
    data = export(Item.objects.filter(round=round), max_rows=5)  # title + header + 3 rows
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert [ws.title for ws in book.worksheets] == ["问题台账", "问题台账 (2)", "问题台账 (3)"]
    numbers = [ws.cell(r, 2).value for ws in book.worksheets for r in range(3, ws.max_row + 1)]
    assert numbers == [f"n-{n}" for n in range(7)]
    assert all(ws.cell(2, 2).value == "编号" for ws in book.worksheets)


def test_an_empty_ledger_still_has_its_title_and_header(db):
    ws = openpyxl.load_workbook(io.BytesIO(export(Item.objects.none()))).worksheets[0]
    assert ws.max_row == 2 and ws.cell(2, 4).value == "问题"


def test_it_reads_the_co_departments_per_chunk_not_per_row(cast, django_assert_max_num_queries):
    round = make_round()
    for n in range(30):
        make_item(round, number=f"q-{n:02d}", lead_department=cast.edu).co_departments.set(
            [cast.traffic]
        )
    with django_assert_max_num_queries(3):
        data = export(Item.objects.filter(round=round))
    # lxml writes CJK text as character references: read the text, not the bytes.
    assert len(re.findall(r"市交通运输局", html.unescape(sheet_xml(data)))) == 30


class _OpenpyxlOwnRows(_Writer):
    """The reference for the test below: each row as a list of values, with a new styled
    WriteOnlyCell where a value needs a style, converted by openpyxl's own
    ``_values_to_row`` (which ``_Writer`` replaces on its sheets)."""

    def _new_sheet(self) -> None:
        super()._new_sheet()
        del self.sheet._values_to_row

    def append(self, values: list) -> None:
        if self.sheet is None or self.rows_in_sheet >= self.max_rows:
            self._new_sheet()
        row = []
        for value, style in zip(values, self.styles, strict=True):
            risky = isinstance(value, str) and value.startswith(FORMULA_STARTS)
            if value is None or (style is None and not risky):
                row.append(value)
                continue
            cell = WriteOnlyCell(self.sheet, value)
            if risky:
                cell.data_type, cell.quotePrefix = "s", True
                cell.alignment = style[0] if style else Alignment(vertical="top")
            else:
                cell.alignment = style[0]
                if style[1]:
                    cell.number_format = style[1]
            row.append(cell)
        self.sheet.append(row)
        self.rows_in_sheet += 1


def test_rows_are_written_exactly_as_openpyxl_writes_them_from_values():
    """_Writer passes its reused, bound cells to openpyxl's row writer as they are; the
    workbook must be the one openpyxl writes from plain values and styled cells."""
    rows = [
        ["=a", "+1", "-2", "@x", "\tq", "\r", "=c", None, datetime.date(2020, 1, 2), "=m"],
        ["r", None, "类", "问题\n第二行", "副市长 甲", "市教育局", "市交通运输局、市卫生健康委"],
        ["r", "n", None, None, None, None, None, None, None, None],
    ]
    ends = [
        ["=g", "=s", 0.5, "=l"],
        ["张三", "长期坚持", "措施", "目标", "已交办", 1.0, "挂牌督办"],
        [None, "待交办", 0.0, None],
    ]
    rows = [start + end for start, end in zip(rows, ends, strict=True)] * 3

    def parts(writer_class) -> dict[str, bytes]:
        workbook = openpyxl.Workbook(write_only=True)
        writer = writer_class(workbook, "=标题", max_rows=5)
        for row in rows:
            writer.append(row)
        out = io.BytesIO()
        workbook.save(out)
        with zipfile.ZipFile(out) as z:
            return {n: z.read(n) for n in z.namelist() if not n.startswith("docProps/")}

    fast, reference = parts(_Writer), parts(_OpenpyxlOwnRows)
    assert "xl/worksheets/sheet3.xml" in fast  # 9 rows, 3 to a sheet
    assert fast == reference


def test_text_with_control_characters_or_over_a_cells_length_still_exports(cast):
    """Text pasted from other systems may carry control characters XML forbids; openpyxl
    refuses such a cell (and with it the whole file). They are dropped, and text longer
    than a cell holds is cut at 32,767 characters, as openpyxl cuts it."""
    round = cast.round
    make_item(round, number="c-1", title="路灯\x01不亮\x0b请\x1f维修", measures="措施" * 20_000)
    make_item(round, number="c-2", title='=HYPERLINK(\x07"x")')
    ws = openpyxl.load_workbook(io.BytesIO(export(Item.objects.filter(round=round)))).worksheets[0]
    rows = {ws.cell(r, 2).value: r for r in range(3, ws.max_row + 1)}
    assert ws.cell(rows["c-1"], 4).value == "路灯不亮请维修"
    assert len(ws.cell(rows["c-1"], 10).value) == 32_767
    risky = ws.cell(rows["c-2"], 4)
    assert risky.value == '=HYPERLINK("x")' and risky.data_type == "s" and risky.quotePrefix


def test_a_title_with_a_control_character_still_exports(cast):
    make_item(cast.round, number="t-1", title="路灯不亮")
    data = export(Item.objects.filter(round=cast.round), title="2019年度\x01问题台账")
    ws = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    assert ws["A1"].value == "2019年度问题台账" and ws.cell(3, 2).value == "t-1"
