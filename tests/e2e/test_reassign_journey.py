"""Changing an assignment (调整交办) in a real browser, in Chinese, against a live server.

A supervisor changes an item's lead department and deadline on its page, with a reason. The
official of the old department no longer finds it (404); the official of the new one is
told, in their notifications, and finds it; the timeline shows both changes, before and
after. Screenshots of the item page at a desktop's and a phone's size are written to
tests/e2e/screenshots/.
"""

from __future__ import annotations

import pytest

from ledger import workflow
from ledger.models import Event, Item

from ..factory import in_days, make_department, make_item, make_leader, make_round, make_user
from .conftest import DESKTOP, PHONE, SET_UP, horizontal_overflow, screenshot, sign_in
from .test_closeout_journey import open_action

try:
    from playwright.sync_api import expect
except ImportError as error:  # a failure that says how to fix it, never a skip
    raise ImportError(f"The browser tests need the Python package playwright. {SET_UP}") from error

pytestmark = pytest.mark.e2e

TITLE = "农贸市场周边占道经营，早晚高峰车辆通行困难"
REASON = "经核实，农贸市场周边占道经营由市场监管部门牵头整治更为合适。"


def test_a_supervisor_moves_an_item_to_another_department(new_page):
    round_ = make_round(name="2020年度", code="2020", year=2020)
    edu = make_department("市教育局")
    market = make_department("市市场监管局")
    leader = make_leader(name="黄建国", post="副市长")
    alice = make_user("alice", role="supervisor", first_name="督查员甲")
    make_user("bob", role="official", department=edu, first_name="李明")
    make_user("mia", role="official", department=market, first_name="王芳")
    item = make_item(round_, title=TITLE, measures="加强巡查，规范经营秩序。")
    workflow.assign(item, by=alice, leader=leader, lead_department=edu, deadline=in_days(30))
    item_url = f"/items/{item.pk}/"

    # The old department's official sees the item before the change.
    old = new_page()
    sign_in(old, "bob")
    old.goto(item_url)
    expect(old.locator("h1")).to_contain_text(TITLE)

    supervisor = new_page()
    sign_in(supervisor, "alice")
    supervisor.goto(item_url)
    form = open_action(supervisor, "调整交办")
    # The form starts from the assignment as it stands.
    expect(form.locator("select[name=lead_department]")).to_have_value(str(edu.pk))
    expect(form.locator("input[name=deadline]")).to_have_value(in_days(30).isoformat())
    form.locator("select[name=lead_department]").select_option(label="市市场监管局")
    form.locator("input[name=deadline]").fill(in_days(45).isoformat())
    form.locator("textarea[name=reason]").fill(REASON)
    form.get_by_role("button", name="调整交办").click()
    expect(supervisor.locator(".messages")).to_contain_text("交办已调整。")

    change = supervisor.locator(".timeline li.ev-reassign")
    expect(change).to_contain_text("牵头部门：市教育局 → 市市场监管局")
    expect(change).to_contain_text(
        f"整改时限：{in_days(30).isoformat()} → {in_days(45).isoformat()}"
    )
    expect(change).to_contain_text(REASON)
    expect(supervisor.locator(".fields")).to_contain_text("市市场监管局")
    screenshot(supervisor, "reassigned", DESKTOP)
    screenshot(supervisor, "reassigned", PHONE)
    assert horizontal_overflow(supervisor) == 0

    # The old department has lost it: not found, and not in its list.
    response = old.goto(item_url)
    assert response.status == 404
    old.goto("/items/")
    expect(old.locator("main")).not_to_contain_text(TITLE)

    # The new department is told and finds it.
    new = new_page()
    sign_in(new, "mia")
    new.goto("/notifications/")
    notice = new.locator(".notices li").filter(has_text=TITLE)
    expect(notice).to_contain_text("交办调整")
    notice.get_by_role("link").first.click()
    expect(new.locator("h1")).to_contain_text(TITLE)
    expect(new.locator(".timeline li.ev-reassign")).to_contain_text("市教育局 → 市市场监管局")

    assert Item.objects.get(pk=item.pk).lead_department == market
    assert Event.objects.filter(item=item, kind=Event.Kind.REASSIGN).count() == 1
