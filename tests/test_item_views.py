"""The item page and its action URLs: POST only, errors next to the field, nothing lost."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from ledger import workflow
from ledger.models import Item

from .factory import in_days


def action_url(item: Item, action: str) -> str:
    return reverse("ledger:item-action", args=[item.pk, action])


def test_the_item_page_shows_the_fields_and_the_timeline(client, cast, in_progress):
    client.force_login(cast.bob)
    page = client.get(reverse("ledger:item", args=[in_progress.pk])).content.decode()
    assert in_progress.number in page
    assert "市教育局" in page and "市交通运输局" in page
    assert "黄建国" in page


def test_buttons_are_only_the_actions_the_user_may_take(client, cast, requested):
    client.force_login(cast.alice)
    page = client.get(reverse("ledger:item", args=[requested.pk])).content.decode()
    assert action_url(requested, "approve") in page
    assert action_url(requested, "return") in page
    assert action_url(requested, "request") not in page
    # No pending extension, so no extension decision is offered.
    assert action_url(requested, "grant_extension") not in page
    client.force_login(cast.bob)
    page = client.get(reverse("ledger:item", args=[requested.pk])).content.decode()
    assert action_url(requested, "approve") not in page


def test_get_on_an_action_url_is_405(client, cast, requested):
    client.force_login(cast.alice)
    assert client.get(action_url(requested, "approve")).status_code == 405
    requested.refresh_from_db()
    assert requested.state == Item.State.REQUESTED


def test_approving_through_the_page(client, cast, requested):
    events = list(requested.events.values_list("pk", flat=True))
    client.force_login(cast.alice)
    response = client.post(
        action_url(requested, "approve"), {"version": requested.version, "note": "同意销号"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("ledger:item", args=[requested.pk])
    item = Item.objects.get(pk=requested.pk)
    assert (item.state, item.version, item.closed_by) == (
        Item.State.CLOSED,
        requested.version + 1,
        cast.alice,
    )
    (event,) = item.events.exclude(pk__in=events)
    assert (event.kind, event.actor, event.note) == ("approve", cast.alice, "同意销号")


def test_a_refused_form_keeps_what_was_typed_and_says_why_by_the_field(client, cast, in_progress):
    client.force_login(cast.bob)
    response = client.post(
        action_url(in_progress, "request_extension"),
        {
            "version": in_progress.version,
            "new_deadline": in_days(-3).isoformat(),
            "reason": "道路施工需避开雨季，我们写了很长的理由",
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "道路施工需避开雨季，我们写了很长的理由" in page
    assert 'class="error"' in page
    assert not in_progress.extensions.exists()


def test_a_missing_reason_is_refused(client, cast, requested):
    client.force_login(cast.alice)
    response = client.post(action_url(requested, "return"), {"version": requested.version})
    assert response.status_code == 400
    requested.refresh_from_db()
    assert requested.state == Item.State.REQUESTED


def test_acting_on_a_page_that_changed_since_it_loaded_is_refused_and_keeps_the_text(
    client, cast, requested
):
    seen = requested.version
    other = Item.objects.get(pk=requested.pk)
    workflow.return_request(other, by=cast.alice, reason="先退回")
    client.force_login(cast.alice)
    response = client.post(
        action_url(requested, "escalate"), {"version": seen, "note": "督办意见：本周内完成"}
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert "督查员甲" in page  # who changed it
    assert "督办意见：本周内完成" in page  # nothing typed is lost
    requested.refresh_from_db()
    assert requested.escalated_at is None
    assert not requested.events.filter(kind="escalate").exists()


def test_a_transition_no_longer_allowed_says_so(client, cast, requested):
    workflow.approve(Item.objects.get(pk=requested.pk), by=cast.alice)
    fresh = Item.objects.get(pk=requested.pk)
    client.force_login(cast.alice)
    response = client.post(
        action_url(requested, "return"), {"version": fresh.version, "reason": "迟到的退回"}
    )
    assert response.status_code == 400
    fresh.refresh_from_db()
    assert fresh.state == Item.State.CLOSED
    assert not fresh.events.filter(kind="return").exists()


def test_assign_through_the_page(client, cast, draft):
    client.force_login(cast.alice)
    response = client.post(
        action_url(draft, "assign"),
        {
            "version": draft.version,
            "leader": cast.leader.pk,
            "lead_department": cast.edu.pk,
            "co_departments": [cast.traffic.pk],
            "deadline": in_days(40).isoformat(),
            "responsible_person": "市教育局局长",
        },
    )
    assert response.status_code == 302
    item = Item.objects.get(pk=draft.pk)
    assert (item.state, item.lead_department, item.responsible_person) == (
        Item.State.ASSIGNED,
        cast.edu,
        "市教育局局长",
    )
    assert (item.leader, item.deadline, list(item.co_departments.all())) == (
        cast.leader,
        in_days(40),
        [cast.traffic],
    )
    assert item.version == draft.version + 1
    (event,) = item.events.all()
    assert (event.kind, event.actor, event.from_state) == ("assign", cast.alice, "draft")


def test_the_timeline_shows_when_each_thing_happened_newest_first(client, cast, in_progress):
    workflow.post_progress(in_progress, by=cast.bob, text="第一次进展", percent=30)
    client.force_login(cast.bob)
    response = client.get(reverse("ledger:item", args=[in_progress.pk]))
    page = response.content.decode()
    kinds = [kind for kind, _at, _row in response.context["timeline"]]
    assert kinds == ["progress", "event", "event"]
    assert page.count("<time datetime=") == 3
    assert timezone.localtime(in_progress.events.first().at).strftime("%Y-%m-%d %H:%M") in page


def test_a_long_term_item_is_assigned_without_a_deadline_and_says_so(client, cast, draft):
    client.force_login(cast.alice)
    form = {
        "version": draft.version,
        "leader": cast.leader.pk,
        "lead_department": cast.edu.pk,
        "deadline": "",
    }
    refused = client.post(action_url(draft, "assign"), form)
    assert refused.status_code == 400
    assert "请填写完成时限，或勾选“长期坚持”" in refused.content.decode()
    draft.refresh_from_db()
    assert draft.state == Item.State.DRAFT

    response = client.post(action_url(draft, "assign"), form | {"long_term": "on"})
    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.state, draft.deadline, draft.long_term) == (Item.State.ASSIGNED, None, True)
    assert not draft.is_overdue()
    assert draft.events.get(kind="assign").data["deadline"] == "long_term"
    page = client.get(reverse("ledger:item", args=[draft.pk])).content.decode()
    assert "长期坚持" in page


def test_a_withdrawn_item_is_read_only_on_its_page(client, cast, in_progress):
    workflow.withdraw(Item.objects.get(pk=in_progress.pk), by=cast.alice, reason="重复录入")
    item = Item.all_objects.get(pk=in_progress.pk)
    events = item.events.count()
    client.force_login(cast.bob)  # its lead department still reads it, with why it went
    page = client.get(reverse("ledger:item", args=[item.pk])).content.decode()
    assert "此事项已作废" in page and "重复录入" in page
    assert reverse("ledger:item-action", args=[item.pk, "progress"]) not in page
    response = client.post(
        action_url(item, "progress"),
        {
            "version": item.version,
            "text": "补报进展",
            "percent": 50,
            "reported_on": timezone.localdate().isoformat(),
        },
    )
    assert response.status_code == 400
    assert "该事项当前状态为「已作废」，不能执行「报送进展」。" in response.content.decode()
    fresh = Item.all_objects.get(pk=item.pk)
    assert (fresh.state, fresh.version, fresh.events.count()) == (
        Item.State.WITHDRAWN,
        item.version,
        events,
    )
    assert not fresh.progress.exists()
    client.force_login(cast.dave)  # never its department: not found
    assert client.get(reverse("ledger:item", args=[item.pk])).status_code == 404
