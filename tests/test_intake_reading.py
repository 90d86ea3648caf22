"""Reading any spreadsheet or CSV: header detection, normalisation, bad-file refusals."""

from __future__ import annotations

import pytest

from ledger.intake.feedback import FIELDS
from ledger.intake.reading import IntakeError, clean, read_table

from .files.intake import build

HEADER = ["序号", "意见建议内容", "所属领域", "地区", "渠道", "备注"]


def read(data: bytes, name: str = "f.xlsx"):
    return read_table(data, name, fields=FIELDS, required="text", multiline=("text",))


def test_it_finds_the_header_below_a_merged_title_and_blank_rows():
    data = build.xlsx(
        [HEADER, [1, "加强农村饮水安全", "社会保障", "临桂区", "网络", ""]],
        title="2019年度社会评价意见建议汇总表",
        blank_rows=2,
    )
    table = read(data)
    assert table.header_row == 4
    assert table.columns["text"] == "意见建议内容"
    assert [r.number for r in table.rows] == [5]
    assert table.rows[0].values["text"] == "加强农村饮水安全"
    assert table.rows[0].values["seq"] == "1"


def test_it_normalises_full_width_and_whitespace_but_keeps_chinese_punctuation():
    data = build.xlsx(
        [HEADER, ["１２", "  建议  增加\u3000ＡＢＣ公交线路，方便群众。（急）", "交通", "", "", ""]]
    )
    row = read(data).rows[0].values
    assert row["seq"] == "12"
    assert row["text"] == "建议 增加 ABC公交线路，方便群众。（急）"
    assert clean("２０２０年１２月") == "2020年12月"


def test_it_skips_wholly_empty_rows_and_reports_sheet_row_numbers():
    data = build.xlsx([HEADER, [1, "第一条", None], [None, None, None], [2, "第二条"]])
    table = read(data)
    assert [r.number for r in table.rows] == [2, 4]


def test_it_matches_english_headers():
    data = build.xlsx(
        [["No.", "Suggestion", "Category", "Region"], [1, "More buses", "Traffic", "A"]]
    )
    table = read(data)
    assert table.rows[0].values["text"] == "More buses"
    assert table.rows[0].values["category_text"] == "Traffic"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_it_reads_csv_in_utf8_and_gb18030(encoding):
    data = build.csv_bytes([["汇总表"], [], HEADER, ["3", "路灯不亮", "城市管理"]], encoding)
    table = read(data, "f.csv")
    assert table.format == "csv"
    assert table.rows[0].values["text"] == "路灯不亮"
    assert table.rows[0].number == 4


def test_it_reads_ods():
    table = read(
        build.ods([["意见建议汇总"], [], HEADER, [7, "公园厕所太少", "城市管理"]]), "f.ods"
    )
    assert table.format == "ods"
    assert table.header_row == 3
    assert table.rows[0].values == table.rows[0].values | {"seq": "7", "text": "公园厕所太少"}


def test_it_reads_xls():
    table = read(build.fixture("feedback.xls"), "feedback.xls")
    assert table.format == "xls"
    assert table.header_row == 3
    assert [r.values["text"] for r in table.rows] == [
        "加强农村饮水安全保障",
        "规范中心城区停车秩序",
        "增加公办幼儿园学位",
    ]


def refusal(data: bytes, name: str = "f.xlsx") -> str:
    """The one message the user sees (in Chinese, the interface's first language)."""
    with pytest.raises(IntakeError) as caught:
        read(data, name)
    return str(caught.value)


def test_it_refuses_a_png():
    assert "这不是电子表格文件" in refusal(build.png(), "photo.png")


def test_it_refuses_text_renamed_xlsx():
    assert "文件扩展名为 .xlsx，但内容不是电子表格" in refusal(b"hello, world\n", "f.xlsx")


def test_it_refuses_a_damaged_workbook():
    assert "文件已损坏" in refusal(build.damaged_xlsx())


def test_it_refuses_an_encrypted_workbook():
    assert "文件设有密码" in refusal(build.fixture("encrypted.xlsx"))


def test_it_refuses_a_zip_bomb_from_its_directory():
    assert "压缩炸弹" in refusal(build.zip_bomb())


def test_it_refuses_a_file_over_the_size_limit(settings):
    settings.IMPORT_MAX_BYTES = 1024 * 1024
    message = refusal(b"x" * (3 * 512 * 1024), "f.csv")
    assert message == "文件大小为 1.5 MB，最多可导入 1 MB，请拆分后分批导入。"


def test_it_refuses_too_many_rows(settings):
    settings.IMPORT_MAX_ROWS = 5
    data = build.xlsx([HEADER] + [[i, f"建议{i}"] for i in range(1, 8)])
    assert "一次最多可导入 5 行" in refusal(data)


def test_it_refuses_a_sheet_without_a_header():
    data = build.xlsx([["姓名", "电话"], ["张三", "123"]])
    message = refusal(data)
    assert "未找到表头" in message and "意见建议内容" in message


def test_it_refuses_a_csv_that_is_neither_utf8_nor_gb18030():
    assert "既不是 UTF-8 也不是 GB18030" in refusal(b"\xff\xfe\x81\x30\xff\xff", "f.csv")
