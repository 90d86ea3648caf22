"""The ledger → .xlsx: layout, real dates, formula-like text kept as text, a second sheet."""

from __future__ import annotations

import datetime
import io
import re
import zipfile

import openpyxl
import pytest
from django.utils.translation import override

from ledger.intake.export import write_items
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
    assert len(re.findall(r"市交通运输局", sheet_xml(data))) == 30
