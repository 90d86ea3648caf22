"""import_feedback, import_ledger, export_ledger: refusals printed, nothing written."""

from __future__ import annotations

import datetime
import io

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.utils.translation import override

from ledger.models import Item, Suggestion

from .factory import make_item, make_suggestion
from .files.intake import build

HEADER = ["序号", "意见建议内容", "所属领域"]


@pytest.fixture(autouse=True)
def _english():
    with override("en"):
        yield


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_feedback_writes_every_row(cast, tmp_path):
    path = tmp_path / "f.xlsx"
    path.write_bytes(build.xlsx([HEADER, [1, "甲", "教育"], [2, "乙"]], title="汇总表"))
    out, _ = run("import_feedback", str(path), "--round", "2019年度")
    assert "2 suggestions written to 2019年度" in out
    assert list(Suggestion.objects.values_list("seq", "text")) == [(1, "甲"), (2, "乙")]


def test_import_feedback_prints_every_refused_row_and_writes_nothing(cast, tmp_path):
    make_suggestion(cast.round, seq=1, text="旧")
    path = tmp_path / "f.csv"
    path.write_bytes(build.csv_bytes([HEADER, ["1", "甲"], ["2", ""], ["3", "丙"]], "gb18030"))
    err = io.StringIO()
    with pytest.raises(CommandError, match="2 rows refused; nothing was written"):
        call_command("import_feedback", str(path), "--round", "2019年度", stderr=err)
    assert "Row 2: number 1 is already used" in err.getvalue()
    assert "Row 3: the suggestion’s text is empty" in err.getvalue()
    assert list(Suggestion.objects.values_list("text", flat=True)) == ["旧"]


def test_dry_run_prints_what_would_be_written(cast, tmp_path):
    path = tmp_path / "f.ods"
    path.write_bytes(build.ods([HEADER, [1, "公园厕所太少", "城市管理"]]))
    out, _ = run("import_feedback", str(path), "--round", "2019", "--dry-run")
    assert "1\t城市管理\t公园厕所太少" in out and "nothing was written" in out
    assert Suggestion.objects.count() == 0


def test_a_bad_file_or_an_unknown_round_fails(cast, tmp_path):
    path = tmp_path / "f.xlsx"
    path.write_bytes(build.png())
    with pytest.raises(CommandError, match="not a spreadsheet"):
        run("import_feedback", str(path), "--round", "2019年度")
    with pytest.raises(CommandError, match="No round named “2030年度”"):
        run("import_feedback", str(path), "--round", "2030年度")


def test_import_ledger_refuses_unknown_departments_and_writes_nothing(cast, tmp_path):
    path = tmp_path / "l.xlsx"
    header = ["编号", "问题", "牵头单位", "整改时限"]
    path.write_bytes(
        build.xlsx(
            [header, ["1", "问题甲", "市教育局", "2030-12-31"], ["2", "问题乙", "市教育厅", "下月"]]
        )
    )
    err = io.StringIO()
    with pytest.raises(CommandError, match="2 reasons for refusal"):
        call_command("import_ledger", str(path), "--round", "2019年度", stderr=err)
    assert "Row 3: unknown department “市教育厅” (closest known: 市教育局" in err.getvalue()
    assert "Row 3: “下月” is not a deadline" in err.getvalue()
    assert Item.objects.count() == 0


def test_export_then_import_ledger_by_command(cast, tmp_path):
    from .factory import make_round

    make_item(
        cast.round,
        number="2019-0001",
        title="问题甲",
        lead_department=cast.edu,
        leader=cast.leader,
        deadline=datetime.date(2030, 6, 30),
    )
    path = tmp_path / "台账.xlsx"
    out, _ = run("export_ledger", "--round", "2019年度", "--output", str(path))
    assert "1 items written" in out
    ws = openpyxl.load_workbook(path).worksheets[0]
    assert ws.cell(3, 2).value == "2019-0001" and ws.cell(3, 9).value == datetime.datetime(
        2030, 6, 30
    )
    make_round(name="2020年中期", code="2020m")
    out, _ = run("import_ledger", str(path), "--round", "2020年中期")
    item = Item.objects.get(round__name="2020年中期")
    # Another round's number is kept as the number as imported, beside this round's own.
    assert (item.number, item.reference, item.lead_department, item.leader, item.deadline) == (
        "2020m-0001",
        "2019-0001",
        cast.edu,
        cast.leader,
        datetime.date(2030, 6, 30),
    )
