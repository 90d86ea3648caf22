"""The intake (导入归纳) journey in a real browser, in Chinese, against a live server.

A supervisor creates a round on the intake hub, uploads the round's feedback as an .xlsx
made here with openpyxl (a title row, then 序号/意见建议/类别, two near-identical
suggestions and a row without text), checks the preview (the refused row and its reason),
confirms, consolidates the round (the near-identical pair proposed as one group), accepts,
and finds "收到 4 条 → 归纳为 3 项" on the hub and the new drafts in the ledger. Screenshots
of the hub, the preview and the consolidation page, at a desktop's and a phone's size, are
written to tests/e2e/screenshots/.
"""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import Workbook

from ..factory import make_user
from .conftest import DESKTOP, PHONE, SET_UP, horizontal_overflow, screenshot, sign_in

try:
    from playwright.sync_api import Page, expect
except ImportError as error:  # a failure that says how to fix it, never a skip
    raise ImportError(f"The browser tests need the Python package playwright. {SET_UP}") from error

pytestmark = pytest.mark.e2e

ROUND = "2021年度"
# Two citizens sent the same complaint, typed a little differently.
LAMP = "新民路路灯坏了很久，晚上出行很不方便，希望尽快修复。"
LAMP_AGAIN = "新民路路灯坏了很久 晚上出行很不方便，请尽快修复"
HOSPITAL = "医院看病排队时间太长，挂号难，建议推行分时段预约。"
RUBBISH = "小区垃圾清运不及时，夏天臭味很大，希望环卫部门管一管。"
EMPTY_ROW = 6  # the row of the file (as the spreadsheet numbers it) without a suggestion


def feedback_xlsx() -> bytes:
    """The round's feedback as the higher office sends it: a merged title row, the header,
    five rows, one of which (row 6) has a number and a category but no text."""
    book = Workbook()
    sheet = book.active
    sheet.title = "意见建议"
    sheet.append([f"{ROUND}社会评价群众意见建议汇总表"])
    sheet.merge_cells("A1:C1")
    sheet.append(["序号", "意见建议", "类别"])
    sheet.append([1, LAMP, "城市管理"])
    sheet.append([2, LAMP_AGAIN, "城市管理"])
    sheet.append([3, HOSPITAL, "医疗卫生"])
    sheet.append([4, None, "教育事业"])
    sheet.append([5, RUBBISH, "城市管理"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def round_card(page: Page):
    return page.locator("li.intake-round").filter(
        has=page.get_by_role("heading", name=ROUND, exact=True)
    )


def english_left(page: Page) -> list[str]:
    """Latin words in the page's content: untranslated English, for a page in Chinese.
    The file's name and its extension are not words."""
    words = re.findall(r"[A-Za-z]{2,}", page.locator("main").inner_text())
    return [word for word in words if word.lower() not in {"xlsx", "xls", "ods", "csv", "wps"}]


def test_a_round_is_imported_and_consolidated_in_the_browser(new_page):
    make_user("alice", role="supervisor", first_name="督查员甲")

    # The supervisor signs in and opens 导入归纳.
    page = new_page()
    sign_in(page, "alice")
    page.locator("nav.nav").get_by_role("link", name="导入归纳").click()
    expect(page).to_have_url(re.compile(r"/intake/$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")

    # A new round, made on the same page.
    form = page.locator("form.intake-form")
    form.locator("#id_name").fill(ROUND)
    form.locator("#id_code").fill("2021")
    form.locator("#id_year").fill("2021")
    form.locator("#id_kind").select_option("annual")
    form.locator("#id_document_number").fill("桂绩办发〔2022〕3号")
    form.get_by_role("button", name="创建批次").click()
    expect(page.locator(".messages")).to_contain_text(f"已创建评价批次“{ROUND}”。")
    expect(page.locator("h1")).to_have_text(ROUND)
    expect(round_card(page).locator(".ir-counts")).to_contain_text("收到意见建议 0 条")

    # Its feedback file: checked and shown, nothing written yet.
    round_card(page).get_by_role("link", name="导入意见建议").click()
    expect(page.locator("h1")).to_contain_text("导入意见建议")
    page.locator("input[type=file][name=file]").set_input_files(
        {
            "name": "意见建议汇总.xlsx",
            "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "buffer": feedback_xlsx(),
        }
    )
    page.get_by_role("button", name="检查文件").click()
    expect(page.locator("h1")).to_have_text("导入前核对")
    expect(page.locator("main")).to_contain_text("意见建议汇总.xlsx")
    tiles = page.locator(".tiles .tile")
    expect(tiles.filter(has_text="读取行数").locator(".tile-n")).to_have_text("5")
    expect(tiles.filter(has_text="将创建的意见建议").locator(".tile-n")).to_have_text("4")
    expect(tiles.filter(has_text="拒收原因").locator(".tile-n")).to_have_text("1")
    refused = page.locator("section.intake-refused tbody tr")
    expect(refused).to_have_count(1)
    expect(refused.locator("td").nth(0)).to_have_text(str(EMPTY_ROW))
    expect(refused.locator("td").nth(1)).to_have_text("意见建议内容为空")
    first_rows = page.locator("table.intake-preview tbody tr")
    expect(first_rows).to_have_count(4)
    expect(first_rows.nth(1)).to_contain_text(LAMP_AGAIN)
    assert english_left(page) == []
    screenshot(page, "intake-preview", DESKTOP)
    screenshot(page, "intake-preview", PHONE)
    preview_overflow = horizontal_overflow(page)
    page.set_viewport_size(DESKTOP)

    # Confirmed: the four good rows are written, the round now has them waiting.
    page.get_by_role("button", name="导入 4 条意见建议").click()
    expect(page.locator(".messages")).to_contain_text(f"已向{ROUND}导入 4 条意见建议。")
    counts = round_card(page).locator(".ir-counts")
    expect(counts).to_contain_text("收到意见建议 4 条")
    expect(counts).to_contain_text("归纳为 0 项")
    expect(counts).to_contain_text("4 条待归纳")

    # Consolidation proposes the two lamp complaints as one group, shown first.
    round_card(page).get_by_role("link", name="归纳", exact=True).click()
    expect(page.locator("h1")).to_contain_text(ROUND)
    expect(page.locator(".cs-counts")).to_contain_text("4 条待归纳")
    groups = page.locator("ol.cs-groups > li.cs-group")
    expect(groups).to_have_count(3)
    pair = groups.first
    expect(pair.locator(".cs-pick")).to_contain_text("2 条意见建议")
    expect(pair.locator(".cs-members > li")).to_have_count(2)
    expect(pair.locator(".cs-members")).to_contain_text(LAMP)
    expect(pair.locator(".cs-members")).to_contain_text(LAMP_AGAIN)
    expect(pair.locator("textarea[name^=title-]")).not_to_have_value("")
    for single in (groups.nth(1), groups.nth(2)):
        expect(single.locator(".cs-pick")).to_contain_text("单条意见建议")
    assert english_left(page) == []
    screenshot(page, "intake-consolidation", DESKTOP)
    screenshot(page, "intake-consolidation", PHONE)
    consolidation_overflow = horizontal_overflow(page)
    page.set_viewport_size(DESKTOP)

    # Accepted: every group on the page becomes one draft item.
    page.locator("form.cs-form .cs-tools").first.get_by_role(
        "button", name="将本页所有组生成事项"
    ).click()
    expect(page.locator(".messages")).to_contain_text(
        "已归纳 4 条意见建议：新建事项 3 项，并入已有事项 0 组。"
    )
    expect(page.locator(".empty h2")).to_have_text("本批次的意见建议都已归入事项")
    expect(page.locator(".cs-counts")).to_contain_text("0 条待归纳")

    # The hub: 4 received → 3 items, nothing waiting.
    page.locator("nav.nav").get_by_role("link", name="导入归纳").click()
    counts = round_card(page).locator(".ir-counts")
    expect(counts).to_contain_text("收到意见建议 4 条")
    expect(counts).to_contain_text("归纳为 3 项")
    expect(counts).not_to_contain_text("待归纳")
    assert re.search(r"收到意见建议\s*4\s*条\s*→\s*归纳为\s*3\s*项", counts.inner_text())
    assert english_left(page) == []
    screenshot(page, "intake-hub", DESKTOP)
    screenshot(page, "intake-hub", PHONE)
    hub_overflow = horizontal_overflow(page)
    page.set_viewport_size(DESKTOP)

    # The ledger has the three new items, drafts awaiting assignment.
    page.locator("nav.nav").get_by_role("link", name="问题台账").click()
    expect(page.locator("h1")).to_have_text("问题台账")
    rows = page.locator("table.ledger tbody tr")
    expect(rows).to_have_count(3)
    for row in range(3):
        expect(rows.nth(row)).to_contain_text("待交办")
        expect(rows.nth(row)).to_contain_text("2021-")
    expect(rows.filter(has_text="新民路路灯")).to_have_count(1)
    expect(rows.filter(has_text="医院看病排队")).to_have_count(1)
    expect(rows.filter(has_text="小区垃圾清运")).to_have_count(1)

    # Nothing on the phone needs sideways scrolling (tables scroll in their box).
    assert (preview_overflow, consolidation_overflow, hub_overflow) == (0, 0, 0)
