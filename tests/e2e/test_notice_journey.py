"""The notice (公示) journey in a real browser, in Chinese, against a live server.

A supervisor composes a notice annexing a round, with a section whose figures
({{ total }}, {{ closed }}, {{ rate }}) are counted for that round, previews it (every masked
detail highlighted), masks one more word there, and publishes it; the compose page shows it
published and the job page shows the job done. A visitor who is not signed in then finds
the notice on /notices/, reads it and its annex, and downloads its PDF. A citizen's phone
number planted in a suggestion reaches the public only masked (138****5678). Screenshots of
the compose, preview and public pages, at a desktop's and a phone's size, are written to
tests/e2e/screenshots/.

The tests' task backend is django-tasks' ImmediateBackend (tests/settings.py): publishing
runs inside the live server's request, so the notice is published when the page comes back.
The expectation below would also wait through the page's own refresh if it were not.
"""

from __future__ import annotations

import datetime
import io
import re

import pytest
from pypdf import PdfReader

from ledger.publication.models import Notice

from ..factory import (
    in_days,
    make_category,
    make_department,
    make_item,
    make_leader,
    make_round,
    make_suggestion,
    make_user,
)
from .conftest import DESKTOP, PHONE, SET_UP, horizontal_overflow, screenshot, sign_in

try:
    from playwright.sync_api import Page, expect
except ImportError as error:  # a failure that says how to fix it, never a skip
    raise ImportError(f"The browser tests need the Python package playwright. {SET_UP}") from error

pytestmark = pytest.mark.e2e

ROUND = "2020年度"
TITLE = "2020年度社会评价群众意见建议整改情况公示"
PHONE_NUMBER = "13812345678"
PHONE_MASKED = "138****5678"
TERM = "某某饭店"  # the supervisor's own masking term: a business a citizen named
FIGURES_BODY = "共梳理问题{{ total }}个，完成整改{{ closed }}个，整改率{{ rate }}。"
# Three items handed over (the draft is not counted), one closed out: 1 ÷ 3 = 33.33%.
FIGURES_TEXT = "共梳理问题3个，完成整改1个，整改率33.33%。"
DRAFT_TITLE = "尚未交办的草稿事项"


class Cast:
    """A supervisor and a round of four items: closed out, in progress, assigned, and a
    draft the public never sees. The closed item's suggestion carries a phone number, the
    one in progress names a restaurant the supervisor will mask."""

    def __init__(self) -> None:
        self.alice = make_user("alice", role="supervisor", first_name="督查员甲")
        self.round = make_round(name=ROUND, code="2020", year=2020)
        city = make_category(self.round, "城市管理", order=1)
        ecology = make_category(self.round, "生态环境", order=2)
        housing = make_department("市住房和城乡建设局")
        environment = make_department("市生态环境局")
        leader = make_leader(name="黄建国", post="副市长")
        lamps = make_item(
            self.round,
            title="新民路路灯不亮",
            category=city,
            lead_department=housing,
            leader=leader,
            state="closed",
            outcome_kind="done",
            closed_on=datetime.date(2020, 12, 1),
            deadline=datetime.date(2020, 12, 1),
            measures="更换新民路损坏路灯32盏。",
            outcome="新民路路灯已全部恢复照明。",
        )
        make_suggestion(
            self.round,
            seq=1,
            item=lamps,
            text=f"新民路路灯不亮，晚上出行不安全，联系电话{PHONE_NUMBER}。",
        )
        smoke = make_item(
            self.round,
            title="餐饮油烟扰民",
            category=ecology,
            lead_department=environment,
            leader=leader,
            state="in_progress",
            deadline=in_days(30),
            measures="开展餐饮油烟专项整治。",
        )
        make_suggestion(self.round, seq=2, item=smoke, text=f"{TERM}油烟扰民，希望查处。")
        assigned = make_item(
            self.round,
            title="小区垃圾清运不及时",
            category=city,
            lead_department=housing,
            leader=leader,
            state="assigned",
            deadline=in_days(20),
        )
        make_suggestion(self.round, seq=3, item=assigned, text="小区垃圾清运不及时。")
        draft = make_item(self.round, title=DRAFT_TITLE, category=city)
        make_suggestion(self.round, seq=4, item=draft, text="草稿事项里的意见建议。")


def english_left(page: Page) -> list[str]:
    """Latin words in the page's content: untranslated English, for a page in Chinese.
    The file kinds named on the buttons (PDF, Excel), their sizes (KB), SHA-256 digests and
    the placeholders the supervisor typed ({{ total }}) are not words."""
    text = re.sub(r"\b[0-9a-f]{64}\b|\{\{ *\w+ *\}\}", "", page.locator("main").inner_text())
    words = re.findall(r"[A-Za-z]{2,}", text)
    return [word for word in words if word.lower() not in {"pdf", "excel", "sha", "kb", "mb"}]


def test_a_notice_is_composed_previewed_published_and_read_in_the_browser(new_page):
    cast = Cast()

    # The supervisor starts a notice annexing the round.
    page = new_page()
    sign_in(page, "alice")
    page.locator("nav.nav").get_by_role("link", name="整改公示", exact=True).click()
    expect(page).to_have_url(re.compile(r"/notices/manage/$"))
    page.get_by_role("link", name="新建公示").first.click()
    page.locator("#id_title").fill(TITLE)
    page.locator("#id_issuer").fill("市委市政府督查和绩效考评办公室")
    page.locator("#id_date").fill("2021-01-15")
    page.locator("#id_document_number").fill("桂绩办发〔2021〕2号")
    page.get_by_label(cast.round.name, exact=True).check()
    page.get_by_role("button", name="创建").click()
    expect(page.locator(".messages")).to_contain_text("公示已创建，请添加段落。")
    expect(page.locator("h1")).to_have_text(TITLE)

    # A section whose figures are counted for the round.
    page.locator("main").get_by_role("link", name="添加段落").first.click()
    page.locator("#id_heading").fill("一、基本情况")
    page.locator("#id_body").fill(FIGURES_BODY)
    page.locator("#id_round").select_option(label=ROUND)
    page.get_by_role("button", name="保存段落").click()
    expect(page.locator(".messages")).to_contain_text("段落已添加。")
    sections = page.locator("ol.sections > li")
    expect(sections).to_have_count(1)
    expect(sections.first).to_contain_text("一、基本情况")
    expect(sections.first).to_contain_text(ROUND)
    assert english_left(page) == []
    screenshot(page, "notice-compose", DESKTOP)
    screenshot(page, "notice-compose", PHONE)
    compose_overflow = horizontal_overflow(page)
    page.set_viewport_size(DESKTOP)

    # The preview: figures filled, the phone number masked and highlighted.
    page.locator("main").get_by_role("link", name="预览", exact=True).click()
    expect(page).to_have_url(re.compile(r"/preview/$"))
    paper = page.locator(".preview-paper")
    expect(paper.locator("h1")).to_have_text(TITLE)
    expect(paper).to_contain_text(FIGURES_TEXT)
    expect(paper.locator("mark.masked-mobile")).to_have_text(PHONE_MASKED)
    expect(paper).not_to_contain_text(PHONE_NUMBER)
    expect(paper).not_to_contain_text(DRAFT_TITLE)
    expect(paper).to_contain_text(f"{TERM}油烟扰民")  # not masked until the supervisor says

    # The restaurant's name is masked everywhere, from the preview's panel.
    panel = page.locator("aside.mask-panel")
    panel.get_by_label("屏蔽一个词（全文）").fill(TERM)
    panel.get_by_role("button", name="屏蔽", exact=True).click()
    expect(page.locator(".messages")).to_contain_text(f"“{TERM}”已在本公示中全部屏蔽。")
    expect(paper.locator("mark.masked-term")).to_have_text("****")
    expect(paper).to_contain_text("****油烟扰民")
    expect(paper).not_to_contain_text(TERM)
    # The panel lists each original beside its mask, for the supervisor's eyes only.
    expect(panel.locator("ul.spans").first).to_contain_text(PHONE_NUMBER)
    expect(panel.locator("ul.spans").first).to_contain_text(TERM)
    expect(paper.locator("mark.masked-mobile")).to_have_text(PHONE_MASKED)
    assert english_left(page) == []
    screenshot(page, "notice-preview", DESKTOP)
    screenshot(page, "notice-preview", PHONE)
    preview_overflow = horizontal_overflow(page)
    page.set_viewport_size(DESKTOP)

    # Published: the compose page says so once the job is done.
    page.locator(".crumbs").get_by_role("link", name=TITLE).click()
    page.locator("section").filter(has_text="预览与发布").get_by_role("button", name="发布").click()
    expect(page.locator("#pub-h")).to_have_text("已发布")
    expect(page.locator(".page-head .badge")).to_have_text("已发布")
    expect(page.get_by_role("link", name="打开公开页面")).to_be_visible()
    notice = Notice.objects.get(title=TITLE)
    page.goto(f"/jobs/{notice.job_id}/")
    expect(page.locator(".job .badge")).to_have_text("已完成")
    expect(page.get_by_role("link", name="查看结果")).to_have_attribute(
        "href", f"/notices/{notice.pk}/"
    )

    # A visitor, not signed in, finds it among the public notices.
    visitor = new_page()
    visitor.goto("/notices/")
    expect(visitor.locator("h1")).to_have_text("整改公示")
    visitor.get_by_role("link", name=TITLE).click()
    expect(visitor).to_have_url(re.compile(rf"/notices/{notice.pk}/$"))
    expect(visitor.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(visitor.locator("article h1")).to_have_text(TITLE)
    expect(visitor.locator("article")).to_contain_text(FIGURES_TEXT)
    expect(visitor.locator("body")).not_to_contain_text(PHONE_NUMBER)
    expect(visitor.locator("mark")).to_have_count(0)  # highlights belong to the preview
    assert english_left(visitor) == []
    screenshot(visitor, "notice-public", DESKTOP)
    screenshot(visitor, "notice-public", PHONE)
    public_overflow = horizontal_overflow(visitor)
    visitor.set_viewport_size(DESKTOP)

    # The PDF, as the download button gives it.
    with visitor.expect_download() as download:
        visitor.get_by_role("link", name="PDF 文件").click()
    assert download.value.suggested_filename == f"{TITLE}.pdf"
    pdf = open(download.value.path(), "rb").read()  # noqa: SIM115
    assert pdf.startswith(b"%PDF")
    response = visitor.request.get(f"/notices/{notice.pk}/pdf/")
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.body() == pdf
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    text = text.replace("\n", "").replace(" ", "")
    assert PHONE_MASKED in text and PHONE_NUMBER not in text
    assert FIGURES_TEXT in text

    # The annex: every handed-over item, the phone number masked, the term too.
    visitor.locator(".notice-annexes").get_by_role("link", name=re.compile("^附件1")).click()
    expect(visitor).to_have_url(re.compile(rf"/notices/{notice.pk}/annex/1/$"))
    rows = visitor.locator("table.annex tbody tr")
    expect(rows).to_have_count(3)
    lamps = rows.filter(has_text="新民路路灯不亮")
    expect(lamps).to_contain_text(f"联系电话{PHONE_MASKED}")
    expect(lamps).to_contain_text("已完成整改")
    expect(rows.filter(has_text="油烟扰民")).to_contain_text("****油烟扰民")
    body = visitor.locator("body")
    for secret in (PHONE_NUMBER, TERM, DRAFT_TITLE, "黄建国"):
        expect(body).not_to_contain_text(secret)
    assert english_left(visitor) == []

    # Nothing on the phone needs sideways scrolling (tables scroll or fold into cards).
    assert (compose_overflow, preview_overflow, public_overflow) == (0, 0, 0)
