"""重新整改: a supervisor takes a closed item back to in progress, with the reason; the lead
department is told, and the item page offers it."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from ledger import workflow
from ledger.history import lines
from ledger.models import AuditEntry, Event, Item, Notification
from ledger.supervision import workdays

from .factory import in_days


@pytest.fixture
def closed(cast, requested) -> Item:
    workflow.approve(requested, by=cast.alice)
    return Item.objects.get(pk=requested.pk)


def snapshot(item: Item) -> tuple:
    fresh = Item.objects.get(pk=item.pk)
    return (
        fresh.state,
        fresh.version,
        fresh.closed_on,
        fresh.deadline,
        fresh.events.count(),
        Notification.objects.filter(item=item).count(),
    )


def test_reopen_takes_a_closed_item_back_to_in_progress_and_tells_the_lead_department(
    cast, closed, django_capture_on_commit_callbacks
):
    for person in (cast.bob, cast.carol):
        person.email = f"{person.username}@example.gov.cn"
        person.save(update_fields=["email"])
    version = closed.version
    with django_capture_on_commit_callbacks(execute=True):
        event = workflow.reopen(closed, by=cast.alice, reason="电话回访：协管员只在检查时出现")
    fresh = Item.objects.get(pk=closed.pk)
    assert fresh.state == Item.State.IN_PROGRESS
    assert fresh.version == version + 1
    assert (fresh.closed_on, fresh.closed_by, fresh.outcome_kind) == (None, None, "")
    # What was claimed stays readable; the deadline, still ahead, is kept.
    assert fresh.outcome == "已增设交通协管员"
    assert fresh.deadline == in_days(30) and fresh.original_deadline is None
    (only,) = fresh.events.filter(kind=Event.Kind.REOPEN)
    assert only == event
    assert (event.actor, event.from_state, event.to_state, event.note) == (
        cast.alice,
        "closed",
        "in_progress",
        "电话回访：协管员只在检查时出现",
    )
    assert set(
        Notification.objects.filter(item=closed, kind="reopen").values_list(
            "recipient__username", flat=True
        )
    ) == {"bob"}
    (message,) = [m for m in mail.outbox if "bob@example.gov.cn" in m.to]
    assert "电话回访：协管员只在检查时出现" in message.body and closed.number in message.subject
    assert not [m for m in mail.outbox if "carol@example.gov.cn" in m.to]
    # The item's history is copied to the audit trail.
    assert AuditEntry.objects.filter(kind="item", detail__event=event.pk).exists()


def test_a_reopened_item_can_be_closed_out_again(cast, closed):
    workflow.reopen(closed, by=cast.alice, reason="群众不满意")
    workflow.post_progress(closed, by=cast.bob, text="增派协管员", percent=100)
    workflow.request_closeout(
        closed, by=cast.bob, outcome="早晚高峰均有协管员", outcome_kind="done"
    )
    workflow.approve(closed, by=cast.alice)
    fresh = Item.objects.get(pk=closed.pk)
    assert (fresh.state, fresh.outcome, fresh.closed_on) == (
        "closed",
        "早晚高峰均有协管员",
        timezone.localdate(),
    )


def test_reopen_needs_a_reason(cast, closed):
    before = snapshot(closed)
    with pytest.raises(workflow.Invalid) as refused:
        workflow.reopen(closed, by=cast.alice, reason="  ")
    assert refused.value.field == "reason"
    assert snapshot(closed) == before


@pytest.mark.parametrize("person", ["bob", "carol", "dave", "lena", "nobody"])
def test_only_a_supervisor_may_reopen(cast, closed, person):
    before = snapshot(closed)
    with pytest.raises(workflow.NotAllowed):
        workflow.reopen(closed, by=getattr(cast, person), reason="不满意")
    assert snapshot(closed) == before


@pytest.mark.parametrize("state", ["draft", "assigned", "in_progress", "requested"])
def test_only_a_closed_item_is_reopened(request, cast, state):
    item = request.getfixturevalue(state)
    before = snapshot(item)
    with pytest.raises(workflow.WrongState):
        workflow.reopen(item, by=cast.alice, reason="不满意")
    assert snapshot(item) == before


def test_a_passed_deadline_needs_a_new_one(cast, closed):
    passed = timezone.localdate() - datetime.timedelta(days=40)
    Item.objects.filter(pk=closed.pk).update(deadline=passed)
    closed.refresh_from_db()
    before = snapshot(closed)
    with pytest.raises(workflow.Invalid) as refused:
        workflow.reopen(closed, by=cast.alice, reason="不满意")
    assert refused.value.field == "deadline" and passed.isoformat() in str(refused.value)
    with pytest.raises(workflow.Invalid):
        workflow.reopen(closed, by=cast.alice, reason="不满意", deadline=in_days(-1))
    assert snapshot(closed) == before

    event = workflow.reopen(closed, by=cast.alice, reason="不满意", deadline=in_days(20))
    fresh = Item.objects.get(pk=closed.pk)
    assert (fresh.deadline, fresh.original_deadline) == (in_days(20), passed)
    assert not fresh.is_overdue()
    assert (event.data["old_deadline"], event.data["new_deadline"]) == (
        passed.isoformat(),
        in_days(20).isoformat(),
    )


def test_a_stale_page_reopens_nothing(cast, closed):
    seen = Item.objects.get(pk=closed.pk)
    workflow.edit(Item.objects.get(pk=closed.pk), by=cast.alice, title="学校门口交通拥堵")
    before = snapshot(closed)
    with pytest.raises(workflow.Stale):
        workflow.reopen(seen, by=cast.alice, reason="不满意")
    assert snapshot(closed) == before


# --- The item page ------------------------------------------------------------------------------


def reopen_url(item: Item) -> str:
    return reverse("ledger:item-action", args=[item.pk, "reopen"])


def test_the_item_page_offers_reopening_to_supervisors_of_a_closed_item(
    client, cast, closed, in_progress
):
    client.force_login(cast.alice)
    assert (
        reopen_url(closed) in client.get(reverse("ledger:item", args=[closed.pk])).content.decode()
    )
    for user in (cast.bob, cast.lena):
        client.force_login(user)
        page = client.get(reverse("ledger:item", args=[closed.pk])).content.decode()
        assert reopen_url(closed) not in page


def test_reopening_from_the_page(client, cast, closed):
    client.force_login(cast.alice)
    client.cookies["django_language"] = "en"
    refused = client.post(reopen_url(closed), {"version": closed.version, "reason": ""})
    assert refused.status_code == 400
    assert Item.objects.get(pk=closed.pk).state == "closed"

    done = client.post(
        reopen_url(closed), {"version": closed.version, "reason": "回访群众仍反映拥堵"}
    )
    assert done.status_code == 302
    fresh = Item.objects.get(pk=closed.pk)
    assert fresh.state == "in_progress"
    page = client.get(reverse("ledger:item", args=[closed.pk])).content.decode()
    assert "回访群众仍反映拥堵" in page and "Reopened" in page
    # The same page, sent again, is stale now: nothing more is written.
    again = client.post(reopen_url(closed), {"version": closed.version, "reason": "再次"})
    assert again.status_code == 409
    assert fresh.events.filter(kind="reopen").count() == 1


def test_a_new_deadline_from_the_page_in_working_days_keeps_what_was_typed_when_refused(
    client, cast, closed
):
    Item.objects.filter(pk=closed.pk).update(deadline=in_days(-3))
    closed.refresh_from_db()
    client.force_login(cast.alice)
    client.cookies["django_language"] = "en"
    refused = client.post(reopen_url(closed), {"version": closed.version, "reason": "群众不满意"})
    assert refused.status_code == 400
    page = refused.content.decode()
    assert "has passed: set a new one" in page and "群众不满意</textarea>" in page

    done = client.post(
        reopen_url(closed),
        {"version": closed.version, "reason": "群众不满意", "working_days": "10"},
    )
    assert done.status_code == 302
    fresh = Item.objects.get(pk=closed.pk)
    assert fresh.deadline == workdays.calendar().add(timezone.localdate(), 10)
    event = fresh.events.get(kind="reopen")
    assert event.data["working_days"] == 10


def test_a_reopened_item_tells_its_rating_in_the_history(cast, closed):
    Item.objects.filter(pk=closed.pk).update(satisfaction=Item.Satisfaction.UNSATISFIED)
    closed.refresh_from_db()
    event = workflow.reopen(closed, by=cast.alice, reason="群众不满意")
    assert event.data["satisfaction"] == "unsatisfied"
    with override("en"):
        assert [(line.label, line.value) for line in lines(event)] == [
            ("Rating", "Not satisfied (不满意)")
        ]


def test_a_reopened_item_climbs_the_escalation_ladder_again(cast, closed):
    Item.objects.filter(pk=closed.pk).update(ladder_step=Item.LadderStep.CIRCULATE)
    closed.refresh_from_db()
    event = workflow.reopen(closed, by=cast.alice, reason="群众反映问题复发", deadline=in_days(5))
    assert Item.objects.get(pk=closed.pk).ladder_step == ""
    assert event.data["ladder_step"] == "circulate"
