"""Every role's main pages, checked by axe-core (WCAG 2.0 and 2.1, A and AA), on demo data.

The journeys check every page they pass through (conftest.py's ``AxeWatch``); this test
goes where no journey does. It builds the demo's 2020年中期 round as ``manage.py seed_demo``
does (443 items in every state: overdue, escalated, declined, extensions asked, granted and
refused, close-outs requested, returned and approved) with the demo's people, and publishes
a notice annexing a small round of its own (the demo's notice, 981 rows, takes half a
minute to print). Then, as the supervisor, an official, a leader, the administrator and the
auditor, it opens each main page of that role, and a visitor opens the public notice and
its annex. Each page is checked at a desktop's and a phone's width (the ledger's table
becomes cards on a phone), and the test fails listing every violation: page, rule, impact,
element and what to fix.
"""

from __future__ import annotations

import datetime

import pytest
from django.db import transaction

from ledger.management.commands import seed_demo
from ledger.models import Department, Item, Round, User
from ledger.publication.models import Notice, Section
from ledger.publication.tasks import start_publishing

from ..factory import in_days, make_category, make_item, make_round, make_suggestion
from .conftest import AXE_WATCH, DESKTOP, PHONE, SET_UP, screenshot, sign_in

try:
    from playwright.sync_api import Page, expect
except ImportError as error:  # a failure that says how to fix it, never a skip
    raise ImportError(f"The browser tests need the Python package playwright. {SET_UP}") from error

pytestmark = pytest.mark.e2e

NOTICE_TITLE = "2021年度社会评价群众意见建议整改情况公示"


def demo() -> seed_demo.Cast:
    """The demo's people and its 2020年中期 round, built as ``seed_demo`` builds them."""
    data = seed_demo.load_reference()
    with transaction.atomic():
        cast = seed_demo.ensure_cast(data)
    (spec,) = [spec for spec in data["rounds"] if spec["code"] == "2020M"]
    with transaction.atomic():
        seed_demo.RoundBuilder(spec, data, cast).build()
    return cast


def published_notice(cast: seed_demo.Cast) -> Notice:
    """A notice with every kind of section (figures, a list, bold text), annexing a round of
    three items, published as a supervisor publishes it."""
    round_ = make_round(name="2021年度", code="2021", year=2021)
    category = make_category(round_, "城市管理")
    department = Department.objects.get(name="市住房城乡建设局")
    closed = make_item(
        round_,
        title="新民路路灯不亮",
        category=category,
        lead_department=department,
        state="closed",
        outcome_kind="done",
        closed_on=datetime.date(2021, 12, 1),
        deadline=datetime.date(2021, 12, 1),
        measures="更换新民路损坏路灯32盏。",
        outcome="新民路路灯已全部恢复照明。",
    )
    make_suggestion(round_, seq=1, item=closed, text="新民路路灯不亮，联系电话13812345678。")
    for seq, (title, state) in enumerate(
        [("小区垃圾清运不及时", "in_progress"), ("背街小巷路面破损", "assigned")], start=2
    ):
        item = make_item(
            round_,
            title=title,
            category=category,
            lead_department=department,
            state=state,
            deadline=in_days(30),
            measures="开展专项整治。",
        )
        make_suggestion(round_, seq=seq, item=item, text=f"{title}，希望尽快解决。")
    notice = Notice.objects.create(
        title=NOTICE_TITLE,
        issuer="玉林市委市政府督查和绩效考评办公室",
        date=datetime.date(2022, 1, 15),
        document_number="玉绩办发〔2022〕1号",
        created_by=cast.supervisor,
    )
    notice.annex_rounds.set([round_])
    sections = [
        ("", "现将我市2021年度社会评价群众意见建议整改情况公示如下。", None),
        (
            "一、整改情况",
            "共梳理问题{{ total }}个，完成整改{{ closed }}个，整改率{{ rate }}。",
            round_,
        ),
        ("二、下一步工作", seed_demo.demo_sections([round_, round_])[-1][1], None),
    ]
    for order, (heading, body, section_round) in enumerate(sections, start=1):
        Section.objects.create(
            notice=notice, order=order, heading=heading, body=body, round=section_round
        )
    start_publishing(notice, cast.supervisor)  # the tests' task backend runs it at once
    notice.refresh_from_db()
    assert notice.state == Notice.State.PUBLISHED
    return notice


# Pages whose screenshots (tests/e2e/screenshots/) show what the checks changed on demo data:
# the sorted column, the header line's overdue link, the footer.
SCREENSHOTS = {"/items/?sort=deadline": "ledger-sorted", "/": "home"}


def visit(page: Page, watch, path: str, *, shots: dict[str, str] | None = None) -> None:
    """Open ``path``, as it comes, and have axe-core check it at both sizes."""
    response = page.goto(path)
    assert response is not None, path
    assert response.status == 200, f"{path}: {response.status}"
    expect(page.locator("main")).to_be_visible()
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        watch.check(page)
        if shots and path in shots:
            screenshot(page, shots[path], size)
    page.set_viewport_size(DESKTOP)


def test_the_main_pages_of_every_role_pass_axe_core(new_page, request):
    cast = demo()
    notice = published_notice(cast)
    watch = request.node.stash[AXE_WATCH]
    password = seed_demo.PASSWORD
    round_ = Round.objects.get(code="2020M")
    official = User.objects.get(username=seed_demo.OFFICIAL_USERNAME)
    leader = User.objects.get(username=seed_demo.LEADER_USERNAME)
    # Items with the most on their page: a close-out request waiting for the supervisor
    # (progress, the request, its buttons); the official's and the leader's own items.
    requested = Item.objects.filter(state=Item.State.REQUESTED).order_by("pk").first()
    in_progress = (
        Item.objects.filter(state=Item.State.IN_PROGRESS, lead_department=official.department)
        .order_by("pk")
        .first()
    )
    led = Item.objects.filter(leader=leader.leader).exclude(state="draft").order_by("pk").first()
    visited: list[str] = []

    def visit_all(page: Page, paths: list[str], shots: dict[str, str] | None = None) -> None:
        for path in paths:
            visit(page, watch, path, shots=shots)
            visited.append(path)

    supervisor = new_page()
    sign_in(supervisor, seed_demo.SUPERVISOR_USERNAME, password)
    visit_all(
        supervisor,
        [
            "/",
            "/items/?sort=deadline",
            "/items/?sort=-number&state=in_progress",
            "/items/new/",
            f"/items/{requested.pk}/",
            "/review/",
            "/review/assign/",
            "/intake/",
            f"/intake/rounds/{round_.pk}/",
            f"/intake/rounds/{round_.pk}/consolidate/",
            "/notices/manage/",
            "/notices/manage/new/",
            f"/notices/manage/{notice.pk}/",
            f"/notices/manage/{notice.pk}/preview/",
            f"/jobs/{notice.job_id}/",
            "/notifications/",
            "/password/",
        ],
        shots=SCREENSHOTS,
    )
    # The sorted column says so on its header, where assistive technology looks for it.
    supervisor.goto("/items/?sort=-number&state=in_progress")
    expect(supervisor.locator("th[aria-sort]")).to_have_text("编号")
    expect(supervisor.locator("th[aria-sort]")).to_have_attribute("aria-sort", "descending")
    expect(supervisor.locator("[aria-sort]:not(th)")).to_have_count(0)

    person = new_page()
    sign_in(person, seed_demo.OFFICIAL_USERNAME, password)
    visit_all(person, ["/", "/items/?sort=-percent", f"/items/{in_progress.pk}/"])

    person = new_page()
    sign_in(person, seed_demo.LEADER_USERNAME, password)
    visit_all(person, ["/", "/items/?sort=-deadline", f"/items/{led.pk}/"])

    person = new_page()
    sign_in(person, seed_demo.ADMINISTRATOR_USERNAME, password)
    visit_all(
        person,
        [
            "/manage/",
            "/manage/accounts/",
            "/manage/accounts/new/",
            f"/manage/accounts/{official.pk}/",
            "/manage/setup/",
        ],
    )

    person = new_page()
    sign_in(person, seed_demo.AUDITOR_USERNAME, password)
    visit_all(person, ["/audit/", "/audit/?kind=item"])

    visitor = new_page()
    visit_all(
        visitor,
        ["/login/", "/notices/", f"/notices/{notice.pk}/", f"/notices/{notice.pk}/annex/1/"],
    )

    # Every page was checked (at both sizes): none slipped past the watch.
    assert set(visited) <= set(watch.checked)
