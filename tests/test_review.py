"""The supervisors' review queue and bulk assignment (ledger.views_review)."""

from __future__ import annotations

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ledger import workflow
from ledger.models import Event, Extension, Item

from .factory import in_days, make_category, make_item, make_round

REVIEW = reverse("ledger:review")
BULK = reverse("ledger:bulk-assign")
BULK_SUBMIT = reverse("ledger:bulk-assign-submit")
QUEUE_ACTIONS = ("approve", "return", "grant_extension", "refuse_extension")


def queue_url(item: Item, action: str) -> str:
    return reverse("ledger:review-action", args=[item.pk, action])


def ago(**kw) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(**kw)


def assigned_item(cast, title: str, at: datetime.datetime) -> Item:
    item = make_item(cast.round, title=title)
    workflow.assign(
        item,
        by=cast.alice,
        leader=cast.leader,
        lead_department=cast.edu,
        deadline=in_days(30),
        at=at - datetime.timedelta(hours=3),
    )
    return item


def requested_item(cast, title: str, at: datetime.datetime) -> Item:
    item = assigned_item(cast, title, at)
    workflow.start(item, by=cast.bob, at=at - datetime.timedelta(hours=2))
    workflow.request_closeout(
        item, by=cast.bob, outcome=f"{title}的整改成效", outcome_kind="done", at=at
    )
    return item


def extension_item(cast, title: str, at: datetime.datetime) -> Item:
    item = assigned_item(cast, title, at)
    workflow.request_extension(
        item, by=cast.bob, new_deadline=in_days(90), reason=f"{title}需要更多时间", at=at
    )
    return item


def declined_item(cast, title: str, at: datetime.datetime) -> Item:
    item = assigned_item(cast, title, at)
    workflow.decline(item, by=cast.bob, reason=f"{title}不属本单位职责", at=at)
    return item


def section(page: str, anchor: str) -> str:
    """The HTML of one section of the queue, so order is checked within it."""
    start = page.index(f'id="{anchor}"')
    end = page.find("</section>", start)
    return page[start:end]


def in_order(text: str, *needles: str) -> bool:
    positions = [text.index(n) for n in needles]
    return positions == sorted(positions)


# --- Who may see it ------------------------------------------------------------------------


def every_url(item: Item) -> list[str]:
    return [REVIEW, BULK, BULK_SUBMIT] + [queue_url(item, a) for a in QUEUE_ACTIONS]


@pytest.mark.parametrize("who", ["bob", "carol", "lena", "nobody"])
def test_non_supervisors_get_404_on_every_review_url(client, cast, requested, who):
    client.force_login(getattr(cast, who))
    for url in every_url(requested):
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"version": requested.version, "reason": "x"}).status_code == 404
    requested.refresh_from_db()
    assert requested.state == Item.State.REQUESTED


def test_anonymous_users_are_sent_to_sign_in(client, cast, requested):
    for url in every_url(requested):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url


def test_get_on_every_post_url_is_405(client, cast, requested):
    client.force_login(cast.alice)
    for url in [BULK_SUBMIT] + [queue_url(requested, a) for a in QUEUE_ACTIONS]:
        assert client.get(url).status_code == 405, url
    requested.refresh_from_db()
    assert requested.state == Item.State.REQUESTED


def test_the_nav_offers_the_queue_to_supervisors_only(client, cast):
    client.force_login(cast.alice)
    assert REVIEW in client.get(reverse("ledger:home")).content.decode()
    page = client.get(REVIEW).content.decode()
    assert re.search(rf'href="{REVIEW}"\s+aria-current="page"', page)
    client.force_login(cast.bob)
    assert REVIEW not in client.get(reverse("ledger:home")).content.decode()


# --- The queue -----------------------------------------------------------------------------


def test_the_queue_lists_close_out_requests_oldest_first(client, cast):
    # Created newest first, so that pk order and request order disagree.
    newer = requested_item(cast, "路灯损坏", ago(days=1))
    older = requested_item(cast, "积水内涝", ago(days=5))
    client.force_login(cast.alice)
    page = client.get(REVIEW).content.decode()
    closeouts = section(page, "closeouts")
    assert in_order(closeouts, older.number, newer.number)
    assert "积水内涝的整改成效" in closeouts and "市教育局" in closeouts
    assert queue_url(older, "approve") in closeouts and queue_url(older, "return") in closeouts
    assert f'name="version" value="{older.version}"' in closeouts


def test_a_returned_then_requested_again_item_counts_from_its_latest_request(client, cast):
    first = requested_item(cast, "先申请后退回", ago(days=9))
    workflow.return_request(first, by=cast.alice, reason="材料不全", at=ago(days=8))
    middle = requested_item(cast, "中间的申请", ago(days=4))
    workflow.request_closeout(
        first, by=cast.bob, outcome="补充材料", outcome_kind="done", at=ago(days=2)
    )
    client.force_login(cast.alice)
    closeouts = section(client.get(REVIEW).content.decode(), "closeouts")
    assert in_order(closeouts, middle.number, first.number)


def test_the_queue_lists_extension_requests_oldest_first(client, cast):
    newer = extension_item(cast, "新的延期", ago(days=1))
    older = extension_item(cast, "旧的延期", ago(days=6))
    client.force_login(cast.alice)
    extensions = section(client.get(REVIEW).content.decode(), "extensions")
    assert in_order(extensions, older.number, newer.number)
    assert in_days(30).isoformat() in extensions and in_days(90).isoformat() in extensions
    assert "旧的延期需要更多时间" in extensions
    assert queue_url(older, "grant_extension") in extensions
    assert queue_url(older, "refuse_extension") in extensions


def test_the_queue_lists_declined_drafts_oldest_first_with_who_declined_and_why(client, cast):
    newer = declined_item(cast, "新退单", ago(days=1))
    older = declined_item(cast, "旧退单", ago(days=3))
    never_assigned = make_item(cast.round, title="从未交办的草稿")
    client.force_login(cast.alice)
    declined = section(client.get(REVIEW).content.decode(), "declined")
    assert in_order(declined, older.number, newer.number)
    assert "市教育局" in declined  # the declining department, from the event
    assert "旧退单不属本单位职责" in declined
    assert reverse("ledger:item", args=[older.pk]) in declined
    assert never_assigned.number not in declined


def test_an_empty_queue_says_what_to_do_next(client, cast):
    client.force_login(cast.alice)
    response = client.get(REVIEW)
    assert response.status_code == 200
    page = response.content.decode()
    for anchor in ("closeouts", "extensions", "declined"):
        assert 'class="q-empty"' in section(page, anchor)
    assert BULK in section(page, "declined")


def test_the_queue_runs_the_same_queries_for_3_and_30_items(
    client, cast, django_assert_max_num_queries
):
    client.force_login(cast.alice)

    def fill(n: int, start: int) -> None:
        for i in range(start, start + n):
            requested_item(cast, f"申请{i}", ago(days=40 - i % 30, minutes=i))
            extension_item(cast, f"延期{i}", ago(days=40 - i % 30, minutes=i))
            declined_item(cast, f"退单{i}", ago(days=40 - i % 30, minutes=i))

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(REVIEW).status_code == 200
        return len(queries)

    fill(3, 0)
    few = count()
    fill(27, 3)
    with django_assert_max_num_queries(few):
        page = client.get(REVIEW).content.decode()
    assert page.count('class="q-row"') == 90
    assert count() == few


# --- Decisions from the queue --------------------------------------------------------------


def test_approving_from_the_queue_closes_the_item_and_comes_back(client, cast, requested):
    client.force_login(cast.alice)
    response = client.post(
        queue_url(requested, "approve"), {"version": requested.version, "note": "同意销号"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"{REVIEW}#closeouts"
    requested.refresh_from_db()
    assert requested.state == Item.State.CLOSED
    event = requested.events.latest("at")
    assert (event.kind, event.note, event.actor) == (Event.Kind.APPROVE, "同意销号", cast.alice)
    page = client.get(response["Location"]).content.decode()
    assert requested.number in page  # the success message names the item
    assert queue_url(requested, "approve") not in page


def test_returning_from_the_queue(client, cast, requested):
    events = list(requested.events.values_list("pk", flat=True))
    client.force_login(cast.alice)
    response = client.post(
        queue_url(requested, "return"), {"version": requested.version, "reason": "佐证材料不足"}
    )
    assert response.status_code == 302
    item = Item.objects.get(pk=requested.pk)
    assert (item.state, item.version, item.outcome) == (
        Item.State.IN_PROGRESS,
        requested.version + 1,
        "",
    )
    (event,) = item.events.exclude(pk__in=events)
    assert (event.kind, event.actor, event.note) == (Event.Kind.RETURN, cast.alice, "佐证材料不足")


def test_return_without_a_reason_is_refused_by_the_field_and_writes_nothing(
    client, cast, requested
):
    events = requested.events.count()
    client.force_login(cast.alice)
    response = client.post(queue_url(requested, "return"), {"version": requested.version})
    assert response.status_code == 400
    closeouts = section(response.content.decode(), "closeouts")
    # The error is by this item's own reason field, and that form is open.
    assert f'id="id_q{requested.pk}_return_reason_error"' in closeouts
    assert '<details class="action q-form" open>' in closeouts
    requested.refresh_from_db()
    assert requested.state == Item.State.REQUESTED
    assert requested.events.count() == events


def test_a_stale_version_is_409_keeps_the_text_and_writes_nothing(client, cast, requested):
    seen = requested.version
    workflow.escalate(Item.objects.get(pk=requested.pk), by=cast.alice, note="请加快")
    events = requested.events.count()
    client.force_login(cast.alice)
    response = client.post(
        queue_url(requested, "return"), {"version": seen, "reason": "请补充验收材料和照片"}
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert "督查员甲" in page  # who changed it
    assert "请补充验收材料和照片" in page  # nothing typed is lost
    requested.refresh_from_db()
    assert requested.state == Item.State.REQUESTED
    assert requested.events.count() == events
    # Kept against the item as it is now: sending it again is a knowing choice.
    assert f'name="version" value="{requested.version}"' in section(page, "closeouts")


def test_a_decision_already_taken_elsewhere_is_refused(client, cast, requested):
    workflow.approve(Item.objects.get(pk=requested.pk), by=cast.alice)
    fresh = Item.objects.get(pk=requested.pk)
    client.force_login(cast.alice)
    response = client.post(
        queue_url(requested, "return"), {"version": fresh.version, "reason": "迟到的退回"}
    )
    assert response.status_code == 400
    assert requested.number in response.content.decode()  # the alert names the item
    assert not fresh.events.filter(kind=Event.Kind.RETURN).exists()


def test_granting_an_extension_from_the_queue(client, cast, in_progress):
    workflow.request_extension(in_progress, by=cast.bob, new_deadline=in_days(60), reason="雨季")
    client.force_login(cast.alice)
    response = client.post(
        queue_url(in_progress, "grant_extension"), {"version": in_progress.version, "note": "同意"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"{REVIEW}#extensions"
    in_progress.refresh_from_db()
    assert (in_progress.deadline, in_progress.original_deadline) == (in_days(60), in_days(30))
    assert in_progress.extensions.get().status == Extension.Status.GRANTED
    assert in_progress.events.latest("at").kind == Event.Kind.EXTENSION_GRANT


def test_refusing_an_extension_from_the_queue_needs_a_reason(client, cast, in_progress):
    workflow.request_extension(in_progress, by=cast.bob, new_deadline=in_days(60), reason="雨季")
    client.force_login(cast.alice)
    url = queue_url(in_progress, "refuse_extension")
    response = client.post(url, {"version": in_progress.version, "reason": "  "})
    assert response.status_code == 400
    assert in_progress.extensions.get().status == Extension.Status.PENDING
    response = client.post(url, {"version": in_progress.version, "reason": "已多次延期"})
    assert response.status_code == 302
    in_progress.refresh_from_db()
    assert in_progress.deadline == in_days(30)
    extension = in_progress.extensions.get()
    assert (extension.status, extension.decision_note) == (Extension.Status.REFUSED, "已多次延期")
    assert in_progress.events.latest("at").kind == Event.Kind.EXTENSION_REFUSE


# --- Bulk assignment -----------------------------------------------------------------------


def bulk_data(cast, items: list[Item], **kw) -> dict:
    return {
        "selection": [f"{i.pk}:{i.version}" for i in items],
        "leader": cast.leader.pk,
        "lead_department": cast.edu.pk,
        "deadline": in_days(45).isoformat(),
        "responsible_person": "教育局副局长",
    } | kw


def test_the_bulk_list_shows_every_draft_and_only_drafts(client, cast, requested):
    fresh = make_item(cast.round, title="新登记的草稿")
    declined = declined_item(cast, "退回的草稿", ago(days=1))
    client.force_login(cast.alice)
    page = client.get(BULK).content.decode()
    assert f'value="{fresh.pk}:{fresh.version}"' in page
    assert f'value="{declined.pk}:{declined.version}"' in page
    assert requested.number not in page


def test_bulk_assign_assigns_every_ticked_draft(client, cast):
    drafts = [make_item(cast.round) for _ in range(3)]
    client.force_login(cast.alice)
    response = client.post(BULK_SUBMIT, bulk_data(cast, drafts, co_departments=[cast.traffic.pk]))
    assert response.status_code == 302
    for item in drafts:
        item.refresh_from_db()
        assert (item.state, item.leader, item.lead_department, item.deadline) == (
            Item.State.ASSIGNED,
            cast.leader,
            cast.edu,
            in_days(45),
        )
        assert item.responsible_person == "教育局副局长"
        assert list(item.co_departments.all()) == [cast.traffic]
    assert Event.objects.filter(kind=Event.Kind.ASSIGN, item__in=drafts).count() == 3


def test_bulk_assign_left_empty_keeps_each_items_co_departments(client, cast):
    declined = declined_item(cast, "退单", ago(days=1))
    declined.co_departments.set([cast.health])
    client.force_login(cast.alice)
    response = client.post(BULK_SUBMIT, bulk_data(cast, [declined], responsible_person=""))
    assert response.status_code == 302
    declined.refresh_from_db()
    assert declined.state == Item.State.ASSIGNED
    assert list(declined.co_departments.all()) == [cast.health]


def test_bulk_assign_where_one_item_changed_meanwhile_assigns_none_and_names_it(client, cast):
    drafts = [make_item(cast.round, title=f"草稿{i}") for i in range(3)]
    data = bulk_data(cast, drafts, responsible_person="保留的责任人")
    # Another supervisor assigns the middle one after the page was drawn.
    workflow.assign(
        Item.objects.get(pk=drafts[1].pk),
        by=cast.alice,
        leader=cast.other_leader,
        lead_department=cast.traffic,
        deadline=in_days(20),
    )
    client.force_login(cast.alice)
    response = client.post(BULK_SUBMIT, data)
    assert response.status_code == 409
    page = response.content.decode()
    assert drafts[1].number in page and "督查员甲" in page  # which item, and who changed it
    assert "保留的责任人" in page  # the typed fields are kept
    for item in (drafts[0], drafts[2]):
        assert re.search(rf'value="{item.pk}:{item.version}"[^>]*checked', page)  # ticks kept
        item.refresh_from_db()
        assert item.state == Item.State.DRAFT
        assert not item.events.exists()


def test_bulk_assign_of_an_item_no_longer_draft_assigns_none(client, cast, in_progress):
    other = make_item(cast.round)
    client.force_login(cast.alice)
    response = client.post(BULK_SUBMIT, bulk_data(cast, [other, in_progress]))
    assert response.status_code == 409
    assert in_progress.number in response.content.decode()
    other.refresh_from_db()
    assert other.state == Item.State.DRAFT


def test_bulk_assign_with_nothing_ticked_keeps_the_fields(client, cast):
    make_item(cast.round)
    client.force_login(cast.alice)
    response = client.post(BULK_SUBMIT, bulk_data(cast, [], responsible_person="某局长"))
    assert response.status_code == 400
    assert "某局长" in response.content.decode()


def test_bulk_assign_refuses_a_past_deadline_by_the_field(client, cast):
    draft = make_item(cast.round)
    client.force_login(cast.alice)
    response = client.post(BULK_SUBMIT, bulk_data(cast, [draft], deadline=in_days(-1).isoformat()))
    assert response.status_code == 400
    assert 'id="id_deadline_error"' in response.content.decode()
    draft.refresh_from_db()
    assert draft.state == Item.State.DRAFT


def test_the_bulk_list_filters_and_pages_by_keyset_without_counting(client, cast):
    category = make_category(cast.round, "教育事业")
    drafts = [make_item(cast.round, category=category) for _ in range(55)]
    elsewhere = make_item(make_round(), title="别的批次")
    client.force_login(cast.alice)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(BULK, {"round": cast.round.pk, "category": category.pk})
    # (Other parts of the page may count their own rows, e.g. unread notifications.)
    items_sql = [
        q["sql"].upper() for q in queries.captured_queries if "LEDGER_ITEM" in q["sql"].upper()
    ]
    assert items_sql and not any("COUNT(" in sql or "OFFSET" in sql for sql in items_sql)
    first = page.content.decode()
    assert first.count('name="selection"') == 50
    assert elsewhere.number not in first
    after = f"after={drafts[49].pk}"
    assert after in first
    second = client.get(f"{BULK}?round={cast.round.pk}&category={category.pk}&{after}")
    assert second.content.decode().count('name="selection"') == 5
    assert f"before={drafts[50].pk}" in second.content.decode()


def test_a_refused_item_still_a_draft_stays_ticked_as_it_is_now(client, cast):
    item = make_item(cast.round, title="被改动过的草稿")
    data = bulk_data(cast, [item])
    # Assigned and declined meanwhile: a draft again, but not the one the page showed.
    workflow.assign(
        Item.objects.get(pk=item.pk),
        by=cast.alice,
        leader=cast.leader,
        lead_department=cast.traffic,
        deadline=in_days(20),
    )
    workflow.decline(Item.objects.get(pk=item.pk), by=cast.carol, reason="不属本单位")
    client.force_login(cast.alice)
    response = client.post(BULK_SUBMIT, data)
    assert response.status_code == 409
    item.refresh_from_db()
    assert item.state == Item.State.DRAFT
    page = response.content.decode()
    assert re.search(
        rf'<tr class="refused">\s*<td class="pick"><input[^>]*value="{item.pk}:'
        rf'{item.version}"[^>]*checked',
        page,
    )
