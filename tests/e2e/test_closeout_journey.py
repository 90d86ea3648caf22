"""The close-out (销号) journey in a real browser, in Chinese, against a live server.

An official of the lead department posts progress with evidence files and asks for
close-out; a supervisor returns it with a reason; the official answers and asks again; the
supervisor approves. Every step goes through the pages a person uses: the sign-in form,
the ledger, the item page and its <details> action forms. Screenshots of the list and the
item page, at a desktop's and a phone's size, are written to tests/e2e/screenshots/.
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone

from ledger import workflow
from ledger.models import Event, Evidence, Item, Progress

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
from .conftest import (
    DESKTOP,
    PHONE,
    SET_UP,
    horizontal_overflow,
    screenshot,
    sign_in,
    tiny_pdf,
    tiny_png,
)

try:
    from playwright.sync_api import Locator, Page, expect
except ImportError as error:  # a failure that says how to fix it, never a skip
    raise ImportError(f"The browser tests need the Python package playwright. {SET_UP}") from error

pytestmark = pytest.mark.e2e

TITLE = "学校周边上下学时段交通拥堵，学生过马路不安全"
RETURN_REASON = "佐证材料不足：请补充交通协管员排班表和家长满意度回访记录。"

# The event rows of the finished item's timeline, oldest first: what each says it was.
JOURNEY_EVENTS = ["交办", "开始整改", "申请销号", "退回", "申请销号", "批准销号"]


class Cast:
    """A round of the 2019 evaluation, two supervisors, an official of the lead department,
    the item of the journey and a few others, so that the ledger is not a list of one."""

    def __init__(self) -> None:
        self.round = make_round(
            name="2019年度", code="2019", year=2019, document_number="桂绩办发〔2020〕6号"
        )
        education = make_category(self.round, "教育事业")
        traffic = make_category(self.round, "交通建设", order=2)
        self.edu = make_department("市教育局")
        self.transport = make_department("市交通运输局")
        self.leader = make_leader(name="黄建国", post="副市长")
        self.alice = make_user("alice", role="supervisor", first_name="督查员甲")
        self.ella = make_user("ella", role="supervisor", first_name="督查员乙")
        self.bob = make_user("bob", role="official", department=self.edu, first_name="李明")
        self.item = make_item(
            self.round,
            title=TITLE,
            category=education,
            measures="在上下学时段增派交通协管员；协调交警部门优化信号灯配时。",
            goal="上下学时段学校门口道路通行有序，家长满意度明显提高。",
            responsible_person="市教育局副局长",
        )
        for seq, text in [
            (12, "希望解决学校门口上下学时段交通拥堵问题。"),
            (87, "学生过马路不安全，建议增设人行横道和协管员。"),
        ]:
            make_suggestion(self.round, seq=seq, text=text, region="城中区", item=self.item)
        self.assign(self.item, deadline=in_days(30))

        # Others in the official's reach: due soon, overdue (assigned 40 days ago), and a
        # draft that only supervisors see.
        self.assign(
            make_item(self.round, title="校外培训机构收费不规范", category=education),
            deadline=in_days(2),
        )
        self.assign(
            make_item(
                self.round,
                title="城区部分路段停车难，占用人行道停车现象突出，影响行人通行安全",
                category=traffic,
            ),
            deadline=in_days(-5),
            at=timezone.now() - datetime.timedelta(days=40),
        )
        make_item(self.round, title="农村学校食堂条件有待改善", category=education)

    def assign(self, item: Item, **kw) -> None:
        workflow.assign(
            item,
            by=self.alice,
            leader=self.leader,
            lead_department=self.edu,
            co_departments=[self.transport],
            **kw,
        )

    def requested(self) -> Item:
        """Take the journey's item as far as a close-out request, without the browser."""
        item = Item.objects.get(pk=self.item.pk)
        workflow.start(item, by=self.bob)
        workflow.request_closeout(
            item, by=self.bob, outcome="已增派交通协管员8名。", outcome_kind="done"
        )
        return item


def open_action(page: Page, title: str) -> Locator:
    """Unfold the action whose summary reads ``title``; its form."""
    details = page.locator("details.action").filter(
        has=page.locator("summary").get_by_text(title, exact=True)
    )
    details.locator("summary").click()
    form = details.locator("form")
    expect(form).to_be_visible()
    return form


def post_progress(page: Page, percent: int, text: str, files=()) -> None:
    form = open_action(page, "报送进展")
    form.locator("input[name=reported_on]").fill(timezone.localdate().isoformat())
    form.locator("input[name=percent]").fill(str(percent))
    form.locator("textarea[name=text]").fill(text)
    if files:
        form.locator("input[name=evidence]").set_input_files(list(files))
    form.get_by_role("button", name="报送进展").click()
    expect(page.locator(".messages")).to_contain_text("整改进展已报送。")


def request_closeout(page: Page, outcome: str) -> None:
    form = open_action(page, "申请销号")
    form.get_by_label("已完成").check()
    form.locator("textarea[name=outcome]").fill(outcome)
    form.get_by_role("button", name="申请销号").click()
    expect(page.locator(".messages")).to_contain_text("已申请销号。")
    expect(state_badge(page)).to_have_text("申请销号")


def state_badge(page: Page) -> Locator:
    return page.locator(".item-state .badge")


def event_rows(page: Page) -> Locator:
    return page.locator(".timeline li.ev:not(.ev-progress)")


def english_left(page: Page) -> list[str]:
    """Latin words in the page's content: untranslated English, for a page in Chinese.
    File extensions and the item numbers' digits are not words."""
    words = re.findall(r"[A-Za-z]{2,}", page.locator("main").inner_text())
    return [word for word in words if word.lower() not in {"png", "pdf"}]


def event_kinds(page: Page) -> list[str]:
    """What each event row of the timeline says happened, oldest first.

    A row reads "<strong>who</strong> what <span>(from → to)</span>": the words between
    the name and the states are the kind of event.
    """
    shown = page.locator(".timeline li.ev:not(.ev-progress) > p:first-of-type").evaluate_all(
        """rows => rows.map(p => [...p.childNodes]
              .filter(n => n.nodeType === Node.TEXT_NODE)
              .map(n => n.textContent).join('').trim())"""
    )
    return shown[::-1]  # the page shows the newest first


def test_an_item_goes_through_close_out_in_the_browser(new_page):
    cast = Cast()
    item_url = f"/items/{cast.item.pk}/"
    png, pdf = tiny_png(), tiny_pdf()

    # The official signs in and finds the item in the ledger.
    official = new_page()
    sign_in(official, "bob")
    official.locator("nav.nav").get_by_role("link", name="问题台账").click()
    expect(official.locator("h1")).to_have_text("问题台账")
    rows = official.locator("table.ledger tbody tr")
    expect(rows).to_have_count(3)  # the draft is not theirs to see
    expect(rows.filter(has_text=TITLE)).to_contain_text("已交办")
    screenshot(official, "list", DESKTOP)
    screenshot(official, "list", PHONE)
    list_overflow = horizontal_overflow(official)
    official.set_viewport_size(DESKTOP)
    official.get_by_role("link", name=TITLE).click()
    expect(official).to_have_url(re.compile(re.escape(item_url) + "$"))
    expect(official.locator("h1")).to_contain_text(TITLE)
    expect(state_badge(official)).to_have_text("已交办")
    expect(official.locator("html")).to_have_attribute("lang", "zh-CN")
    assert english_left(official) == []

    # Progress with two evidence files; the item is then in progress.
    post_progress(
        official,
        60,
        "已在三所学校门口增派交通协管员，并协调交警调整了信号灯配时。",
        files=[
            {"name": "现场照片.png", "mimeType": "image/png", "buffer": png},
            {"name": "协管员排班表.pdf", "mimeType": "application/pdf", "buffer": pdf},
        ],
    )
    expect(state_badge(official)).to_have_text("整改中")
    files = official.locator(".timeline .ev-progress").first
    expect(files).to_contain_text("佐证材料：")
    expect(files.get_by_role("link", name="现场照片.png")).to_be_visible()
    expect(files.get_by_role("link", name="协管员排班表.pdf")).to_be_visible()
    with official.expect_download() as download:
        files.get_by_role("link", name="现场照片.png").click()
    assert download.value.suggested_filename == "现场照片.png"
    assert open(download.value.path(), "rb").read() == png  # noqa: SIM115
    screenshot(official, "item", DESKTOP)
    screenshot(official, "item", PHONE)
    item_overflow = horizontal_overflow(official)
    official.set_viewport_size(DESKTOP)

    request_closeout(official, "三所学校门口上下学时段通行秩序明显好转。")

    # A supervisor, in a browser of their own, returns the request with a reason.
    supervisor = new_page()
    sign_in(supervisor, "alice")
    supervisor.goto(item_url)
    expect(state_badge(supervisor)).to_have_text("申请销号")
    form = open_action(supervisor, "退回")
    form.locator("textarea[name=reason]").fill(RETURN_REASON)
    form.get_by_role("button", name="退回").click()
    expect(supervisor.locator(".messages")).to_contain_text("销号申请已退回。")

    # The official sees why, answers with more progress and asks again.
    official.reload()
    expect(state_badge(official)).to_have_text("整改中")
    returned = official.locator(".timeline li.ev-return")
    expect(returned).to_contain_text("督查员甲")
    expect(returned).to_contain_text("退回")
    expect(returned).to_contain_text(RETURN_REASON)
    post_progress(
        official,
        100,
        "已补充协管员排班表和家长回访记录：回访家长120人，满意率96%。",
        files=[{"name": "家长回访记录.pdf", "mimeType": "application/pdf", "buffer": pdf}],
    )
    request_closeout(official, "上下学时段通行有序，家长回访满意率96%。")

    # The supervisor approves.
    supervisor.reload()
    form = open_action(supervisor, "批准销号")
    form.locator("textarea[name=note]").fill("材料齐全，同意销号。")
    form.get_by_role("button", name="批准销号").click()
    expect(supervisor.locator(".messages")).to_contain_text("事项已销号。")

    # The official's page now shows the item closed out, and the whole story.
    official.reload()
    expect(state_badge(official)).to_have_text("已销号")
    expect(official.locator(".fields")).to_contain_text("已完成")
    expect(official.locator(".fields")).to_contain_text("督查员甲")
    expect(event_rows(official)).to_have_count(len(JOURNEY_EVENTS))
    assert event_kinds(official) == JOURNEY_EVENTS
    expect(official.locator(".timeline li.ev-progress")).to_have_count(2)
    expect(official.locator(".timeline li.ev-approve")).to_contain_text("材料齐全，同意销号。")
    expect(official.locator("details.action").filter(has_text="申请销号")).to_have_count(0)
    assert english_left(official) == []
    screenshot(official, "item-closed", DESKTOP)
    screenshot(official, "item-closed", PHONE)

    item = Item.objects.get(pk=cast.item.pk)
    assert (item.state, item.outcome_kind, item.percent) == (Item.State.CLOSED, "done", 100)
    assert item.closed_by == cast.alice
    assert list(item.events.order_by("at", "pk").values_list("kind", flat=True)) == [
        Event.Kind.ASSIGN,
        Event.Kind.START,
        Event.Kind.REQUEST,
        Event.Kind.RETURN,
        Event.Kind.REQUEST,
        Event.Kind.APPROVE,
    ]
    assert item.events.get(kind=Event.Kind.RETURN).note == RETURN_REASON
    assert Progress.objects.filter(item=item).count() == 2
    assert sorted(Evidence.objects.filter(progress__item=item).values_list("name", flat=True)) == [
        "协管员排班表.pdf",
        "家长回访记录.pdf",
        "现场照片.png",
    ]
    # Nothing on the phone needs sideways scrolling (the ledger table scrolls in its box).
    assert (list_overflow, item_overflow) == (0, 0)


def two_supervisors_on(new_page, item: Item) -> tuple[Page, Page]:
    """督查员甲 and 督查员乙, each with the item's page open in a browser of their own."""
    first, second = new_page(), new_page()
    sign_in(first, "alice")
    sign_in(second, "ella")
    for page in (first, second):
        page.goto(f"/items/{item.pk}/")
        expect(state_badge(page)).to_have_text("申请销号")
    return first, second


def send_return(page: Page) -> Locator:
    form = open_action(page, "退回")
    form.locator("textarea[name=reason]").fill(RETURN_REASON)
    form.get_by_role("button", name="退回").click()
    return page.locator("main > .alert")


def test_a_stale_page_is_refused_names_who_changed_the_item_and_keeps_the_reason(new_page):
    """Two supervisors have the same request open; the first escalates it. The second's
    return, sent from the page as it was, changes nothing, says who was first, and comes
    back open with the reason typed, to be sent again knowingly."""
    item = Cast().requested()
    first, second = two_supervisors_on(new_page, item)

    form = open_action(first, "挂牌督办")
    form.locator("textarea[name=note]").fill("请本周内补齐材料。")
    form.get_by_role("button", name="挂牌督办").click()
    expect(first.locator(".messages")).to_contain_text("已挂牌督办。")

    alert = send_return(second)
    expect(alert).to_contain_text("督查员甲 已于")
    expect(alert).to_contain_text("修改了该事项（当前状态：「申请销号」），您的操作未保存。")
    kept = second.locator("details.action[open] textarea[name=reason]")
    expect(kept).to_have_value(RETURN_REASON)
    item.refresh_from_db()
    assert item.state == Item.State.REQUESTED
    assert not item.events.filter(kind=Event.Kind.RETURN).exists()

    # Sent again, now knowingly, it goes through.
    kept.locator("xpath=ancestor::form").get_by_role("button", name="退回").click()
    expect(second.locator(".messages")).to_contain_text("销号申请已退回。")
    item.refresh_from_db()
    assert item.state == Item.State.IN_PROGRESS


def test_a_return_sent_after_the_close_out_changes_nothing(new_page):
    """The first supervisor approves; the second's return, from the page as it was, is
    refused: the item stays closed out, and the page says so."""
    item = Cast().requested()
    first, second = two_supervisors_on(new_page, item)
    open_action(first, "批准销号").get_by_role("button", name="批准销号").click()
    expect(first.locator(".messages")).to_contain_text("事项已销号。")

    alert = send_return(second)
    expect(alert).to_contain_text("「已销号」")
    expect(state_badge(second)).to_have_text("已销号")
    item.refresh_from_db()
    assert item.state == Item.State.CLOSED
    assert not item.events.filter(kind=Event.Kind.RETURN).exists()


def test_a_return_sent_after_the_close_out_names_who_and_keeps_the_reason(new_page):
    item = Cast().requested()
    first, second = two_supervisors_on(new_page, item)
    open_action(first, "批准销号").get_by_role("button", name="批准销号").click()
    expect(first.locator(".messages")).to_contain_text("事项已销号。")

    alert = send_return(second)
    expect(alert).to_contain_text("督查员甲 已于", timeout=1000)
    expect(second.locator("textarea").filter(has_text=RETURN_REASON)).to_have_count(1, timeout=1000)


def test_the_pages_work_without_javascript(new_page):
    """Sign-in, the <details> action forms and the redirect after them need no script."""
    cast = Cast()
    workflow.start(Item.objects.get(pk=cast.item.pk), by=cast.bob)
    page = new_page(java_script_enabled=False)
    sign_in(page, "bob")
    page.goto(f"/items/{cast.item.pk}/")
    request_closeout(page, "三所学校门口上下学时段通行秩序明显好转。")
    assert Item.objects.get(pk=cast.item.pk).state == Item.State.REQUESTED
