"""A withdrawn item (作废), and one merged into another (合并), leave every count, list,
export, notice and reminder, and stay readable on their own page."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from ledger import notifications, workflow
from ledger.models import Item
from ledger.publication import figures, snapshot
from ledger.publication.models import Notice

from .factory import in_days, make_category, make_item, make_suggestion

pytestmark = pytest.mark.django_db

# Every title that must not be seen ends in this, and no other does.
GONE = "甲乙丙丁"


class Ledger:
    pass


@pytest.fixture
def ledger(cast) -> Ledger:
    """Live: one item in progress and overdue, one assigned, one closed, one draft. Gone:
    an overdue item in progress, an assigned one merged into the live one, a declined
    draft, a close-out request and an item with an extension pending, all withdrawn. Every
    assigned item is led by 教育局 and shared with 交通局, so an official's counts read both
    the led items and the co-department rows."""
    r = cast.round
    category = make_category(r, "教育事业")
    lg = Ledger()

    def assigned(title: str) -> Item:
        item = make_item(r, title=title, category=category)
        # The words of a citizen, who never wrote the mark of a withdrawn title.
        make_suggestion(r, item=item, text=f"{title.removesuffix(GONE)}的意见")
        workflow.assign(
            item,
            by=cast.alice,
            leader=cast.leader,
            lead_department=cast.edu,
            co_departments=[cast.traffic],
            deadline=in_days(30),
        )
        return item

    def overdue(item: Item) -> None:
        Item.objects.filter(pk=item.pk).update(deadline=in_days(-5))
        item.refresh_from_db()

    lg.kept = assigned("保留的事项")
    workflow.start(lg.kept, by=cast.bob)
    overdue(lg.kept)
    lg.other = assigned("另一个已交办事项")
    lg.closed = assigned("已销号的事项")
    workflow.start(lg.closed, by=cast.bob)
    workflow.request_closeout(lg.closed, by=cast.bob, outcome="已完成", outcome_kind="done")
    workflow.approve(lg.closed, by=cast.alice)
    lg.draft = make_item(r, title="待交办的草稿", category=category)

    lg.withdrawn = assigned(f"误建的事项{GONE}")
    workflow.start(lg.withdrawn, by=cast.bob)
    overdue(lg.withdrawn)
    workflow.withdraw(lg.withdrawn, by=cast.alice, reason="误建")
    lg.merged = assigned(f"重复的事项{GONE}")
    workflow.merge(lg.merged, into=lg.kept, by=cast.alice, note="同一问题")
    lg.declined = assigned(f"退单后作废的草稿{GONE}")
    workflow.decline(lg.declined, by=cast.bob, reason="不属本单位")
    workflow.withdraw(lg.declined, by=cast.alice, reason="误建")
    lg.requested = assigned(f"申请销号后作废{GONE}")
    workflow.start(lg.requested, by=cast.bob)
    workflow.request_closeout(
        lg.requested, by=cast.bob, outcome=f"声称已完成{GONE}", outcome_kind="done"
    )
    workflow.withdraw(lg.requested, by=cast.alice, reason="误建")
    lg.extended = assigned(f"延期待批后作废{GONE}")
    workflow.request_extension(lg.extended, by=cast.bob, new_deadline=in_days(60), reason="需要")
    workflow.withdraw(lg.extended, by=cast.alice, reason="误建")
    lg.gone = [lg.withdrawn, lg.merged, lg.declined, lg.requested, lg.extended]
    assert all(Item.all_objects.get(pk=i.pk).state == Item.State.WITHDRAWN for i in lg.gone)
    return lg


def page(client, user, url: str, **params):
    client.force_login(user)
    response = client.get(url, params)
    assert response.status_code == 200
    return response


# --- The ledger list and the home page -----------------------------------------------------------


EXPECTED = {
    # state → the live items in it, for a supervisor and for the officials of 教育局 (lead)
    # and 交通局 (co-responsible), who see all but the draft.
    "draft": 1,
    "assigned": 1,
    "in_progress": 1,
    "requested": 0,
    "closed": 1,
}


@pytest.mark.parametrize("who", ["alice", "bob", "carol"])
def test_the_ledger_counts_and_lists_only_live_items_in_every_tab(client, cast, ledger, who):
    user = getattr(cast, who)
    expected = {s: n for s, n in EXPECTED.items() if s != "draft" or who == "alice"}
    for params in ({}, {"round": cast.round.pk}):  # all the user sees, and narrowed
        response = page(client, user, reverse("ledger:items"), **params)
        counts = {value: n for value, _label, n in response.context["states"]}
        assert counts == expected
        assert response.context["total"] == sum(expected.values())
        assert response.context["overdue_count"] == 1  # the kept item, not the withdrawn one
        for state in [*expected, "withdrawn"]:
            tab = page(client, user, reverse("ledger:items"), state=state, **params)
            assert GONE not in tab.content.decode()
            assert all(item.state != "withdrawn" for item in tab.context["page"].rows)
        overdue = page(client, user, reverse("ledger:items"), overdue="true", **params)
        assert [i.pk for i in overdue.context["page"].rows] == [ledger.kept.pk]


def test_a_keyword_finds_no_withdrawn_item(client, cast, ledger):
    response = page(client, cast.alice, reverse("ledger:items"), q=GONE)
    assert response.context["total"] == 0
    assert list(response.context["page"].rows) == []
    # The merged item's suggestion now belongs to the item it was merged into.
    response = page(client, cast.carol, reverse("ledger:items"), q="重复的事项")
    assert [i.pk for i in response.context["page"].rows] == [ledger.kept.pk]


@pytest.mark.parametrize("who", ["alice", "bob", "carol"])
def test_the_home_page_counts_only_live_items(client, cast, ledger, who):
    response = page(client, getattr(cast, who), reverse("ledger:home"))
    expected = sum(n for s, n in EXPECTED.items() if s != "draft" or who == "alice")
    assert response.context["total"] == expected
    assert response.context["overdue_count"] == 1
    if who == "alice":
        assert response.context["queue"] == {"requested": 0, "extensions": 0, "declined": 0}
    else:
        assert [i.pk for i in response.context["overdue"]] == [ledger.kept.pk]
        assert GONE not in response.content.decode()


# --- The review queue ----------------------------------------------------------------------------


def test_the_review_queue_and_bulk_assignment_hold_no_withdrawn_item(client, cast, ledger):
    queue = page(client, cast.alice, reverse("ledger:review"))
    assert (queue.context["closeouts"], queue.context["extensions"], queue.context["declined"]) == (
        [],
        [],
        [],
    )
    assert GONE not in queue.content.decode()
    bulk = page(client, cast.alice, reverse("ledger:bulk-assign"))
    assert [i.pk for i in bulk.context["page"].rows] == [ledger.draft.pk]


# --- Exports, notices, reminders -----------------------------------------------------------------


def xlsx_titles(response) -> list[str]:
    data = b"".join(response.streaming_content)
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    return [row[3].value for row in sheet.iter_rows(min_row=3)]


@pytest.mark.parametrize("url", ["intake:export", "intake:export-round"], ids=["ledger", "round"])
def test_the_export_holds_only_live_items(client, cast, ledger, url):
    client.force_login(cast.alice)
    args = [cast.round.pk] if url == "intake:export-round" else []
    response = client.get(reverse(url, args=args))
    assert response.status_code == 200
    titles = xlsx_titles(response)
    assert sorted(titles) == sorted(
        i.title for i in (ledger.kept, ledger.other, ledger.closed, ledger.draft)
    )


def test_the_notice_figures_count_only_live_items(cast, ledger):
    values = figures.compute(round_id=cast.round.pk)
    assert values["consolidated"] == "4"  # drafts included
    assert values["total"] == "3"
    assert values["in_progress"] == "2"
    assert values["closed"] == "1"
    assert values["overdue"] == "1"
    assert values["rate"] == "33.33%"
    # Suggestions of the kept item (its own, and the merged one's), the other, the closed.
    assert values["suggestions"] == "4"
    by_department = figures.compute(round_id=cast.round.pk, department_id=cast.edu.pk)
    assert by_department["total"] == "3"


def notice_of(cast) -> Notice:
    notice = Notice.objects.create(title="整改情况公示", issuer="考评办", created_by=cast.alice)
    notice.annex_rounds.set([cast.round])
    return notice


def annex_rows(cast) -> list[dict]:
    notice = notice_of(cast)
    (annex,) = snapshot.annexes(notice, snapshot.Masker(notice, preview=False))
    return annex["rows"]


def test_the_public_annex_lists_only_live_items(cast, ledger):
    rows = annex_rows(cast)
    assert len(rows) == 3 == snapshot.count_annex_rows(notice_of(cast))
    text = repr(rows)
    assert GONE not in text
    # The merged item's suggestion is shown under the item it went to.
    kept = next(row for row in rows if "保留的事项的意见" in row["suggestions"])
    assert "重复的事项的意见" in kept["suggestions"]


def test_reminders_leave_out_withdrawn_items(cast, ledger):
    due = notifications.due_items(timezone.localdate(), 45)
    assert sorted(i.pk for i in due) == sorted([ledger.kept.pk, ledger.other.pk])


# --- The withdrawn item itself -------------------------------------------------------------------


def test_a_withdrawn_item_is_still_readable_by_a_supervisor(client, cast, ledger):
    for item in (ledger.withdrawn, ledger.merged):
        response = page(client, cast.alice, reverse("ledger:item", args=[item.pk]))
        assert item.title in response.content.decode()


# --- A returned claim ----------------------------------------------------------------------------


def test_a_returned_close_out_claim_is_not_in_the_public_annex(cast, requested):
    workflow.return_request(requested, by=cast.alice, reason="佐证不足")
    (row,) = annex_rows(cast)
    assert row["outcome"] == ""
    assert "已增设交通协管员" not in repr(row)
    assert row["state"] == snapshot.public_state(Item.objects.get(pk=requested.pk))
    assert row["state"] != snapshot.public_state(Item(state="closed", outcome_kind="done"))
