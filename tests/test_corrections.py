"""Correcting the ledger: edits, reassignment, merge and withdrawal, each one event that
says what changed, shown in the timeline (docs/corrections.md)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from ledger import workflow
from ledger.models import Event, Extension, Item, Notification, Progress, Suggestion

from .factory import in_days, make_category, make_department, make_item, make_suggestion


def page(client, item: Item) -> str:
    return client.get(reverse("ledger:item", args=[item.pk])).content.decode()


def post(client, item: Item, action: str, data: dict):
    fresh = Item.all_objects.get(pk=item.pk)
    return client.post(
        reverse("ledger:item-action", args=[item.pk, action]), {"version": fresh.version, **data}
    )


# --- Edits -------------------------------------------------------------------------------------


def test_a_supervisor_edit_is_one_event_with_each_field_before_and_after(client, cast, assigned):
    category = make_category(cast.round, "教育事业")
    client.force_login(cast.alice)
    response = post(
        client,
        assigned,
        "edit",
        {
            "title": "学校周边上下学时段交通拥堵",
            "category": category.pk,
            "track": "joint",
            "responsible_person": "",
            "measures": "",
            "goal": "",
            "remarks": "",
            "note": "标题有误",
        },
    )
    assert response.status_code == 302
    item = Item.objects.get(pk=assigned.pk)
    assert (item.title, item.category, item.track) == (
        "学校周边上下学时段交通拥堵",
        category,
        "joint",
    )
    event = item.events.get(kind=Event.Kind.EDIT)
    assert event.note == "标题有误"
    assert event.data["changes"] == [
        {"field": "title", "before": "学校周边交通拥堵", "after": "学校周边上下学时段交通拥堵"},
        {"field": "category", "before": "", "after": "教育事业"},
        {"field": "track", "before": "immediate", "after": "joint"},
    ]
    text = page(client, item)
    assert "<del>学校周边交通拥堵</del> → <ins>学校周边上下学时段交通拥堵</ins>" in text
    assert "<del>—</del> → <ins>教育事业</ins>" in text
    assert "集中治理" in text


def test_an_edit_that_changes_nothing_is_refused_and_writes_nothing(cast, assigned):
    with pytest.raises(workflow.Invalid, match="没有任何改动"):
        workflow.edit(assigned, by=cast.alice, title=assigned.title)
    assert not assigned.events.filter(kind=Event.Kind.EDIT).exists()


def test_an_empty_title_is_refused_by_the_field_and_the_form_keeps_what_was_typed(
    client, cast, assigned
):
    client.force_login(cast.alice)
    response = post(
        client, assigned, "edit", {"title": "", "track": "immediate", "measures": "新增协管员"}
    )
    assert response.status_code == 400
    assert "新增协管员" in response.content.decode()
    assert Item.objects.get(pk=assigned.pk).title == "学校周边交通拥堵"


def test_a_category_of_another_round_is_refused(cast, assigned):
    other = make_category(make_item().round, "别的批次")
    with pytest.raises(workflow.Invalid):
        workflow.edit(assigned, by=cast.alice, category=other)


def test_the_lead_department_edits_measures_and_goal_of_its_open_item(client, cast, in_progress):
    client.force_login(cast.bob)
    response = post(
        client, in_progress, "edit_plan", {"measures": "增设护学岗", "goal": "高峰期不拥堵"}
    )
    assert response.status_code == 302
    item = Item.objects.get(pk=in_progress.pk)
    assert (item.measures, item.goal) == ("增设护学岗", "高峰期不拥堵")
    event = item.events.get(kind=Event.Kind.EDIT)
    assert event.actor == cast.bob
    assert {c["field"] for c in event.data["changes"]} == {"measures", "goal"}


def test_a_department_may_not_edit_the_title_nor_a_co_department_the_plan(cast, in_progress):
    with pytest.raises(workflow.NotAllowed):
        workflow.edit(in_progress, by=cast.bob, title="改标题")
    with pytest.raises(workflow.NotAllowed):
        workflow.edit(in_progress, by=cast.carol, measures="配合单位改措施")


def test_an_official_is_not_offered_the_supervisors_edit(client, cast, in_progress):
    client.force_login(cast.bob)
    text = page(client, in_progress)
    assert reverse("ledger:item-action", args=[in_progress.pk, "edit_plan"]) in text
    assert reverse("ledger:item-action", args=[in_progress.pk, "edit"]) not in text
    assert post(client, in_progress, "edit", {"title": "改", "track": "joint"}).status_code == 400


# --- Reassignment (调整交办) -------------------------------------------------------------------


def test_reassignment_moves_the_item_and_records_each_change(client, cast, in_progress):
    market = make_department("市市场监管局")
    client.force_login(cast.alice)
    response = post(
        client,
        in_progress,
        "reassign",
        {
            "leader": cast.other_leader.pk,
            "lead_department": market.pk,
            "co_departments": [cast.traffic.pk],
            "deadline": in_days(60).isoformat(),
            "responsible_person": "王科长",
            "reason": "职责调整",
        },
    )
    assert response.status_code == 302
    item = Item.objects.get(pk=in_progress.pk)
    assert (item.lead_department, item.deadline, item.original_deadline) == (
        market,
        in_days(60),
        in_days(30),
    )
    assert item.state == Item.State.IN_PROGRESS
    event = item.events.get(kind=Event.Kind.REASSIGN)
    assert event.note == "职责调整"
    changes = {c["field"]: (c["before"], c["after"]) for c in event.data["changes"]}
    assert changes["lead_department"] == ("市教育局", "市市场监管局")
    assert changes["deadline"] == (in_days(30).isoformat(), in_days(60).isoformat())
    assert "co_departments" not in changes
    text = page(client, item)
    assert "牵头部门：</span><del>市教育局</del> → <ins>市市场监管局</ins>" in text
    # The old lead department loses the item; the new one is told.
    client.force_login(cast.bob)
    assert client.get(reverse("ledger:item", args=[item.pk])).status_code == 404
    assert Notification.objects.filter(recipient=cast.bob, kind="reassign").exists()
    assert Notification.objects.filter(recipient=cast.carol, kind="reassign").exists()
    assert not Notification.objects.filter(recipient=cast.alice).exists()


def test_two_assignments_to_different_departments_read_differently(client, cast, assigned):
    workflow.decline(assigned, by=cast.bob, reason="不属于我局")
    workflow.assign(
        assigned,
        by=cast.alice,
        lead_department=cast.health,
        co_departments=[],
        deadline=in_days(20),
    )
    client.force_login(cast.alice)
    text = page(client, assigned)
    assert "牵头部门：</span>市教育局" in text
    assert "牵头部门：</span>市卫生健康委" in text


def test_reassignment_without_a_reason_or_without_a_change_is_refused(cast, in_progress):
    with pytest.raises(workflow.Invalid):
        workflow.reassign(
            in_progress,
            by=cast.alice,
            reason="",
            leader=cast.leader,
            lead_department=cast.health,
            deadline=in_progress.deadline,
        )
    with pytest.raises(workflow.Invalid, match="与原来相同"):
        workflow.reassign(
            in_progress,
            by=cast.alice,
            reason="无",
            leader=cast.leader,
            lead_department=cast.edu,
            co_departments=[cast.traffic],
            deadline=in_progress.deadline,
        )
    assert not in_progress.events.filter(kind=Event.Kind.REASSIGN).exists()


def test_an_overdue_item_keeps_its_deadline_when_only_its_department_changes(
    client, cast, in_progress
):
    Item.objects.filter(pk=in_progress.pk).update(deadline=in_days(-5))
    client.force_login(cast.alice)
    response = post(
        client,
        in_progress,
        "reassign",
        {
            "leader": cast.leader.pk,
            "lead_department": cast.health.pk,
            "deadline": in_days(-5).isoformat(),
            "reason": "改由卫健委牵头",
        },
    )
    assert response.status_code == 302
    item = Item.objects.get(pk=in_progress.pk)
    assert (item.lead_department, item.deadline, item.original_deadline) == (
        cast.health,
        in_days(-5),
        None,
    )
    assert (item.state, item.version) == (Item.State.IN_PROGRESS, in_progress.version + 1)
    event = item.events.get(kind=Event.Kind.REASSIGN)
    assert event.note == "改由卫健委牵头"
    # The form left the co-responsible department out; the deadline is not a change.
    assert [c["field"] for c in event.data["changes"]] == ["lead_department", "co_departments"]


def test_a_change_of_lead_withdraws_a_pending_extension(cast, in_progress):
    workflow.request_extension(in_progress, by=cast.bob, new_deadline=in_days(90), reason="雨季")
    workflow.reassign(
        in_progress,
        by=cast.alice,
        reason="调整",
        leader=cast.leader,
        lead_department=cast.health,
        deadline=in_progress.deadline,
    )
    assert in_progress.extensions.get().status == Extension.Status.WITHDRAWN


# --- Merge and withdraw ------------------------------------------------------------------------


def test_merging_moves_every_suggestion_and_report_and_leaves_a_pointer(client, cast, in_progress):
    twin = make_item(cast.round, title="学校门口堵车")
    mine = [make_suggestion(cast.round, item=in_progress) for _ in range(2)]
    theirs = [make_suggestion(cast.round, item=twin) for _ in range(3)]
    workflow.assign(
        twin, by=cast.alice, leader=cast.leader, lead_department=cast.edu, deadline=in_days(10)
    )
    workflow.post_progress(twin, by=cast.bob, text="已排查", percent=20)
    client.force_login(cast.alice)
    response = post(client, twin, "merge", {"into": in_progress.number, "note": "同一问题"})
    assert response.status_code == 302
    twin = Item.all_objects.get(pk=twin.pk)
    assert (twin.state, twin.merged_into_id) == (Item.State.WITHDRAWN, in_progress.pk)
    assert set(Suggestion.objects.filter(item=in_progress)) == set(mine + theirs)
    assert Progress.objects.filter(item=in_progress, text="已排查").exists()
    merged = in_progress.events.get(kind=Event.Kind.MERGE)
    assert merged.data["merged"]["number"] == twin.number
    # The withdrawn item stays readable, with its history and a pointer.
    text = page(client, twin)
    assert "此事项已作废" in text
    assert reverse("ledger:item", args=[in_progress.pk]) in text
    assert not Item.objects.filter(pk=twin.pk).exists()


def test_merge_into_an_unknown_number_is_refused_by_the_field(client, cast, draft):
    client.force_login(cast.alice)
    response = post(client, draft, "merge", {"into": "2019-9999"})
    assert response.status_code == 400
    assert "2019-9999" in response.content.decode()
    assert Item.objects.get(pk=draft.pk).state == Item.State.DRAFT


def test_merge_into_a_closed_item_or_across_rounds_is_refused(cast, requested):
    workflow.approve(requested, by=cast.alice)
    draft = make_item(cast.round)
    with pytest.raises(workflow.Invalid):
        workflow.merge(draft, into=requested, by=cast.alice)
    with pytest.raises(workflow.Invalid):
        workflow.merge(draft, into=make_item(), by=cast.alice)
    assert Item.objects.get(pk=draft.pk).state == Item.State.DRAFT


def test_withdrawal_needs_a_reason_and_releases_the_suggestions(client, cast, assigned):
    suggestion = make_suggestion(cast.round, item=assigned)
    with pytest.raises(workflow.Invalid):
        workflow.withdraw(assigned, by=cast.alice, reason=" ")
    workflow.withdraw(assigned, by=cast.alice, reason="重复录入")
    suggestion.refresh_from_db()
    assert suggestion.item is None
    assert not Item.objects.filter(pk=assigned.pk).exists()
    assert Notification.objects.filter(recipient=cast.bob, kind="withdraw").exists()
    client.force_login(cast.alice)
    text = page(client, assigned)
    assert "重复录入" in text
    assert f"#{suggestion.seq}" in text
    # Nothing more can be done to it.
    assert workflow.allowed_actions(cast.alice, Item.all_objects.get(pk=assigned.pk)) == []


def test_only_a_supervisor_withdraws(cast, in_progress):
    with pytest.raises(workflow.NotAllowed):
        workflow.withdraw(in_progress, by=cast.bob, reason="不是我们的")


# --- The small flows ---------------------------------------------------------------------------


def test_a_decline_takes_the_official_back_to_their_list_with_the_message(client, cast, assigned):
    events = list(assigned.events.values_list("pk", flat=True))
    client.force_login(cast.bob)
    response = post(
        client,
        assigned,
        "decline",
        {"reason": "不属于我局职责"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("ledger:items")
    item = Item.objects.get(pk=assigned.pk)
    assert (item.state, item.lead_department, item.version) == (
        Item.State.DRAFT,
        None,
        assigned.version + 1,
    )
    (event,) = item.events.exclude(pk__in=events)
    assert (event.kind, event.actor, event.note, event.data["department"]) == (
        Event.Kind.DECLINE,
        cast.bob,
        "不属于我局职责",
        "市教育局",
    )
    listing = client.get(response["Location"]).content.decode()
    assert "已退单" in listing


def test_a_supervisor_may_grant_another_date_than_the_one_asked(client, cast, in_progress):
    workflow.request_extension(in_progress, by=cast.bob, new_deadline=in_days(90), reason="雨季")
    client.force_login(cast.alice)
    response = post(
        client, in_progress, "grant_extension", {"deadline": in_days(60).isoformat(), "note": ""}
    )
    assert response.status_code == 302
    item = Item.objects.get(pk=in_progress.pk)
    assert item.deadline == in_days(60)
    extension = item.extensions.get()
    assert (extension.new_deadline, extension.granted_deadline) == (in_days(90), in_days(60))
    event = item.events.get(kind=Event.Kind.EXTENSION_GRANT)
    assert (event.data["asked_deadline"], event.data["new_deadline"]) == (
        in_days(90).isoformat(),
        in_days(60).isoformat(),
    )
    text = page(client, item)
    assert f"<del>{in_days(30).isoformat()}</del> → <ins>{in_days(60).isoformat()}</ins>" in text
    assert Notification.objects.filter(recipient=cast.bob, kind="extension_grant").exists()


def test_a_refused_extension_reaches_the_requester(cast, in_progress):
    workflow.request_extension(in_progress, by=cast.bob, new_deadline=in_days(90), reason="雨季")
    workflow.refuse_extension(in_progress, by=cast.alice, reason="理由不充分")
    assert Notification.objects.filter(recipient=cast.bob, kind="extension_refuse").exists()


def test_a_returned_claim_no_longer_stands_as_the_items_outcome(client, cast, requested):
    workflow.return_request(requested, by=cast.alice, reason="佐证不足")
    item = Item.objects.get(pk=requested.pk)
    assert (item.outcome, item.outcome_kind) == ("", "")
    # The claim is kept in the history.
    assert item.events.get(kind=Event.Kind.REQUEST).note == "已增设交通协管员"
