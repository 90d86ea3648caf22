"""Reading any spreadsheet or CSV: header detection, normalisation, bad-file refusals."""

from __future__ import annotations

import pytest
from django.utils.translation import override

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


def refusal(data: bytes, name: str = "f.xlsx", language: str = "zh-hans") -> str:
    """The one message the user sees, in their language (Chinese, the interface's first)."""
    with override(language), pytest.raises(IntakeError) as caught:
        read(data, name)
    with override(language):
        return str(caught.value)


def workbook() -> bytes:
    return build.xlsx([HEADER, [1, "加强农村饮水安全", "社会保障"]])


# Each kind of file that is no workbook, and each kind of damage, has its own message.
EMPTY = "文件为空，没有可读取的内容。请确认文件无误，重新保存后上传。"
CUT_SHORT = (
    "文件已损坏：文件不完整，缺少结尾部分（常见于下载或复制中断）。请上传完整的文件，"
    "必要时用 Excel 或 WPS 重新保存。"
)
NO_MAIN_PART = (
    "文件已损坏：缺少列出各工作表的工作簿主体部分（xl/workbook.xml）。请用 Excel 或 WPS "
    "打开（软件可能会修复），重新保存后上传。"
)
NO_SHEET = "文件已损坏：工作簿中没有可读取的工作表。请用 Excel 或 WPS 打开，另存为 .xlsx 后上传。"
UNREADABLE = "文件已损坏：看起来是工作簿，但无法打开。"
ODS_WITHOUT_CONTENT = (
    "文件已损坏：这是缺少内容部分（content.xml）的 OpenDocument 电子表格。请用 WPS 或 "
    "LibreOffice 打开，重新保存后上传。"
)
ZIP_ONLY = "文件是 ZIP 压缩包，不是工作簿。请上传 .xlsx、.xls、.ods 或 .csv 文件。"
OTHER_DOCUMENT = "文件是 {}，不是工作簿。请上传表格本身：.xlsx、.xls、.ods 或 .csv 文件。"
NOT_A_SPREADSHEET = "文件扩展名为 .{}，但内容不是电子表格：不是 Excel、WPS 或 OpenDocument 工作簿。"
WEB_PAGE = (
    "文件扩展名为 .{}，但内容是网页或 XML（有些系统这样导出表格），不是工作簿。请用 Excel "
    "或 WPS 打开，另存为 .xlsx 后上传。"
)
BINARY_CSV = (
    "文件扩展名为 .csv，但内容不是文本，而是二进制数据（工作簿、图片或已损坏的文件）。"
    "请上传用 Excel 或 WPS 另存的 CSV 文件，或直接上传工作簿。"
)
ENCRYPTED = (
    "文件设有密码（加密的 Office 文件）。请打开文件，取消密码（文件 › 信息 › 保护工作簿），"
    "保存后重新上传。"
)


def test_it_refuses_a_png():
    assert (
        refusal(build.png(), "photo.png")
        == "这不是电子表格文件。请上传 .xlsx、.xls、.ods 或 .csv 文件。"
    )


def test_it_refuses_text_renamed_xlsx():
    assert refusal(b"hello, world\n", "f.xlsx") == NOT_A_SPREADSHEET.format("xlsx")


@pytest.mark.parametrize(
    "data, name",
    [(b"", "f.xlsx"), (b"", "f.csv"), (b" \r\n\r\n", "f.csv"), ("\ufeff\r\n".encode(), "f.csv")],
)
def test_it_refuses_an_empty_file(data, name):
    assert refusal(data, name) == EMPTY


def test_it_refuses_a_workbook_cut_short():
    assert refusal(build.damaged_xlsx()) == CUT_SHORT


def test_it_refuses_a_workbook_without_its_main_part():
    """Not "no header found": the sheets are there, but nothing says which they are."""
    data = build.rezipped(workbook(), drop=("xl/workbook.xml",))
    assert refusal(data) == NO_MAIN_PART
    assert refusal(data, language="en") == (
        "The file is damaged: its main part, the workbook that lists the sheets "
        "(xl/workbook.xml), is missing. Open it in Excel or WPS, which may repair it, save it "
        "again and upload that."
    )


def test_it_refuses_a_workbook_that_lists_no_sheet():
    empty = (
        '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns='
        '"http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets/></workbook>'
    )
    data = build.rezipped(workbook(), replace={"xl/workbook.xml": empty})
    assert refusal(data) == NO_SHEET


def test_it_refuses_a_workbook_whose_parts_do_not_read():
    data = build.rezipped(workbook(), replace={"xl/workbook.xml": "<workbook"})
    assert refusal(data) == UNREADABLE


def test_it_names_the_sheet_that_does_not_read():
    data = build.rezipped(workbook(), replace={"xl/worksheets/sheet1.xml": "<worksheet"})
    assert refusal(data) == "工作表“Sheet1”已损坏，无法读取。"


def test_it_reads_a_workbook_without_its_content_types():
    """The list of content types is for Office; the workbook and its sheets are all there."""
    data = build.rezipped(workbook(), drop=("[Content_Types].xml",))
    assert read(data).rows[0].values["text"] == "加强农村饮水安全"


@pytest.mark.parametrize(
    "members, kind",
    [
        ({"readme.txt": "说明"}, None),
        ({}, None),
        ({"[Content_Types].xml": "<Types/>", "word/document.xml": "<w:document/>"}, "Word 文档"),
        (
            {"[Content_Types].xml": "<Types/>", "ppt/presentation.xml": "<p:presentation/>"},
            "PowerPoint 演示文稿",
        ),
        (
            {"mimetype": "application/vnd.oasis.opendocument.text", "content.xml": "<x/>"},
            "OpenDocument 文本或演示文稿",
        ),
    ],
)
def test_it_refuses_a_zip_that_is_no_workbook(members, kind):
    message = refusal(build.zipped(members))
    assert message == (OTHER_DOCUMENT.format(kind) if kind else ZIP_ONLY)


def test_it_refuses_an_ods_without_its_content():
    data = build.rezipped(build.ods([HEADER, [1, "公园厕所太少"]]), drop=("content.xml",))
    assert refusal(data, "f.ods") == ODS_WITHOUT_CONTENT


def test_it_refuses_an_ods_whose_content_does_not_read():
    data = build.rezipped(build.ods([HEADER]), replace={"content.xml": "<office:document"})
    assert refusal(data, "f.ods") == UNREADABLE


def test_it_refuses_an_xls_that_is_not_an_ole2_file():
    assert refusal(b"\x09\x08\x10\x00 not the start of any workbook", "f.xls") == (
        NOT_A_SPREADSHEET.format("xls")
    )


@pytest.mark.parametrize(
    "data",
    [
        b"\xef\xbb\xbf<html><body><table><tr><td>\xe5\xba\x8f\xe5\x8f\xb7</td></tr></table>",
        b'  <?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet">',
    ],
)
def test_it_refuses_a_web_page_named_xls_saying_what_it_is(data):
    assert refusal(data, "导出.xls") == WEB_PAGE.format("xls")


def test_it_refuses_a_damaged_ole2_file():
    assert refusal(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1024), "f.xls") == UNREADABLE


def test_it_refuses_an_encrypted_workbook():
    assert refusal(build.fixture("encrypted.xlsx")) == ENCRYPTED


def test_it_refuses_binary_bytes_named_csv():
    assert refusal(bytes(range(256)) * 8, "意见.csv") == BINARY_CSV


def test_it_reads_a_csv_in_gbk_as_chinese_offices_save_it():
    data = "序号,意见建议内容,所属领域\r\n1,路灯不亮，晚上出行不便,城市管理\r\n".encode("gbk")
    table = read(data, "f.csv")
    assert table.rows[0].values["text"] == "路灯不亮，晚上出行不便"


def test_it_reads_unicode_text_as_excel_and_wps_save_it():
    """“Unicode 文本 (*.txt)”: UTF-16 with its byte order mark, columns split by tabs."""
    text = "序号\t意见建议内容\t所属领域\r\n1\t路灯不亮\t城市管理\r\n"
    for encoding in ("utf-16", "utf-16-be"):
        data = text.encode(encoding)
        if encoding == "utf-16-be":
            data = b"\xfe\xff" + data
        table = read(data, "f.txt")
        assert (table.format, table.rows[0].values["text"]) == ("csv", "路灯不亮")


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
    assert refusal(b"\x81\x30\xff\xff\x81", "f.csv") == (
        "CSV 文件既不是 UTF-8 也不是 GB18030 编码。请另存为“CSV UTF-8”格式。"
    )


def test_a_nul_inside_a_cell_is_dropped_not_stored():
    from ledger.intake.reading import clean

    assert clean("学校\x00门口") == "学校门口"
    assert clean("第一行\x00\n第二行", multiline=True) == "第一行\n第二行"
