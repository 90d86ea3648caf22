"""Every transition of the close-out workflow, allowed and refused, for each role."""

from __future__ import annotations

import dataclasses
import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from ledger import workflow
from ledger.models import Event, Extension, Item

from .factory import in_days, make_item, make_user

S = Item.State


def kinds(item: Item) -> list[tuple[str, str, str]]:
    return list(item.events.order_by("at", "pk").values_list("kind", "from_state", "to_state"))


def assert_unchanged(item: Item, state: str, events: int) -> None:
    fresh = Item.all_objects.get(pk=item.pk)
    assert fresh.state == state
    assert fresh.events.count() == events


@dataclasses.dataclass(frozen=True)
class Trace:
    """Everything an action may write about an item, read back from the database."""

    state: str
    version: int
    events: tuple[int, ...]
    progress: int
    extensions: tuple[tuple[int, str], ...]
    row: tuple

    @classmethod
    def of(cls, item: Item) -> Trace:
        fresh = Item.all_objects.get(pk=item.pk)
        return cls(
            fresh.state,
            fresh.version,
            tuple(fresh.events.order_by("pk").values_list("pk", flat=True)),
            fresh.progress.count(),
            tuple(fresh.extensions.order_by("pk").values_list("pk", "status")),
            tuple(
                getattr(fresh, f)
                for f in (
                    "title",
                    "measures",
                    "leader_id",
                    "lead_department_id",
                    "deadline",
                    "percent",
                    "outcome",
                    "closed_on",
                    "escalated_at",
                    "merged_into_id",
                )
            ),
        )


# Who may take each action, from a state where it is allowed. Everyone else is refused.
ALLOWED = {
    "assign": {"alice"},
    "decline": {"bob"},
    "start": {"bob"},
    "progress": {"bob", "carol"},
    "request": {"bob"},
    "approve": {"alice"},
    "return": {"alice"},
    "request_extension": {"bob"},
    "grant_extension": {"alice"},
    "refuse_extension": {"alice"},
    "escalate": {"alice"},
    "reopen": {"alice"},
    "comment": {"alice", "bob", "carol", "lena"},
    "edit": {"alice"},
    "edit_plan": {"alice", "bob"},
    "reassign": {"alice"},
    "merge": {"alice"},
    "withdraw": {"alice"},
}
PEOPLE = ["alice", "bob", "carol", "dave", "lena", "nobody"]


def run(action: str, item: Item, user, cast=None) -> object:
    today = timezone.localdate()
    calls = {
        "assign": lambda: workflow.assign(
            item,
            by=user,
            leader=item.leader,
            lead_department=item.lead_department,
            deadline=today + datetime.timedelta(days=10),
        ),
        "decline": lambda: workflow.decline(item, by=user, reason="不属于本单位职责"),
        "start": lambda: workflow.start(item, by=user),
        "progress": lambda: workflow.post_progress(item, by=user, text="已开展排查", percent=40),
        "request": lambda: workflow.request_closeout(
            item, by=user, outcome="已完成", outcome_kind="done"
        ),
        "approve": lambda: workflow.approve(item, by=user),
        "return": lambda: workflow.return_request(item, by=user, reason="佐证材料不足"),
        "request_extension": lambda: workflow.request_extension(
            item, by=user, new_deadline=today + datetime.timedelta(days=90), reason="工程未完工"
        ),
        "grant_extension": lambda: workflow.grant_extension(item, by=user, note="同意"),
        "refuse_extension": lambda: workflow.refuse_extension(item, by=user, reason="时限充足"),
        "escalate": lambda: workflow.escalate(item, by=user, note="请加快进度"),
        "reopen": lambda: workflow.reopen(item, by=user, reason="电话回访群众不满意"),
        "comment": lambda: workflow.comment(item, by=user, text="请注意群众反映"),
        "edit": lambda: workflow.edit(item, by=user, title="学校周边上下学交通拥堵"),
        "edit_plan": lambda: workflow.edit(item, by=user, measures="增设护学岗"),
        "reassign": lambda: workflow.reassign(
            item,
            by=user,
            reason="职责调整",
            leader=item.leader,
            lead_department=cast.health,
            deadline=item.deadline,
        ),
        "merge": lambda: workflow.merge(
            item, into=make_item(item.round, title="学校门口堵车"), by=user, note="同一问题"
        ),
        "withdraw": lambda: workflow.withdraw(item, by=user, reason="重复录入"),
    }
    return calls[action]()


START_STATE = {
    "assign": "draft_ready",
    "decline": "assigned",
    "start": "assigned",
    "progress": "in_progress",
    "request": "in_progress",
    "approve": "requested",
    "return": "requested",
    "request_extension": "in_progress",
    "grant_extension": "extension_pending",
    "refuse_extension": "extension_pending",
    "escalate": "in_progress",
    "reopen": "closed",
    "comment": "in_progress",
    "edit": "in_progress",
    "edit_plan": "in_progress",
    "reassign": "in_progress",
    "merge": "in_progress",
    "withdraw": "in_progress",
}

K = Event.Kind
# What each allowed action leaves: the item's state, the kind of its one new event (a
# progress report is a Progress row instead), and what else it changed.
EXPECTED = {
    "assign": (S.ASSIGNED, K.ASSIGN, lambda i: i.deadline == in_days(10)),
    "decline": (S.DRAFT, K.DECLINE, lambda i: i.lead_department_id is None),
    "start": (S.IN_PROGRESS, K.START, lambda i: True),
    "progress": (S.IN_PROGRESS, None, lambda i: i.progress.get().text == "已开展排查"),
    "request": (
        S.REQUESTED,
        K.REQUEST,
        lambda i: (i.outcome, i.outcome_kind) == ("已完成", "done"),
    ),
    "approve": (S.CLOSED, K.APPROVE, lambda i: i.closed_on == timezone.localdate()),
    "return": (S.IN_PROGRESS, K.RETURN, lambda i: i.outcome == ""),
    "request_extension": (
        S.IN_PROGRESS,
        K.EXTENSION_REQUEST,
        lambda i: i.extensions.get(status=Extension.Status.PENDING).new_deadline == in_days(90),
    ),
    "grant_extension": (
        S.IN_PROGRESS,
        K.EXTENSION_GRANT,
        lambda i: (
            (i.deadline, i.original_deadline, i.extensions.get().status)
            == (in_days(90), in_days(30), Extension.Status.GRANTED)
        ),
    ),
    "refuse_extension": (
        S.IN_PROGRESS,
        K.EXTENSION_REFUSE,
        lambda i: (
            (i.deadline, i.extensions.get().status) == (in_days(30), Extension.Status.REFUSED)
        ),
    ),
    "escalate": (S.IN_PROGRESS, K.ESCALATE, lambda i: i.escalated_at is not None),
    "reopen": (
        S.IN_PROGRESS,
        K.REOPEN,
        lambda i: (
            (i.closed_on, i.closed_by, i.outcome_kind, i.outcome)
            == (None, None, "", "已增设交通协管员")
        ),
    ),
    "comment": (S.IN_PROGRESS, K.COMMENT, lambda i: True),
    "edit": (S.IN_PROGRESS, K.EDIT, lambda i: i.title == "学校周边上下学交通拥堵"),
    "edit_plan": (S.IN_PROGRESS, K.EDIT, lambda i: i.measures == "增设护学岗"),
    "reassign": (S.IN_PROGRESS, K.REASSIGN, lambda i: i.lead_department.name == "市卫生健康委"),
    "merge": (S.WITHDRAWN, K.WITHDRAW, lambda i: i.merged_into.title == "学校门口堵车"),
    "withdraw": (S.WITHDRAWN, K.WITHDRAW, lambda i: not Item.objects.filter(pk=i.pk).exists()),
}
assert set(ALLOWED) == set(START_STATE) == set(EXPECTED) == set(workflow.RULES)


@pytest.fixture
def draft_ready(cast, draft):
    """A draft item with its responsibility filled in (as after a decline and fix-up)."""
    Item.objects.filter(pk=draft.pk).update(leader=cast.leader, lead_department=cast.edu)
    draft.refresh_from_db()
    return draft


@pytest.fixture
def closed(cast, requested):
    workflow.approve(requested, by=cast.alice)
    return requested


@pytest.fixture
def extension_pending(cast, in_progress):
    """In progress, with 教育局's request for 60 more days waiting for a decision."""
    workflow.request_extension(
        in_progress, by=cast.bob, new_deadline=in_days(90), reason="工程未完工"
    )
    return in_progress


@pytest.mark.parametrize("person", PEOPLE)
@pytest.mark.parametrize("action", list(ALLOWED))
def test_each_action_is_allowed_only_to_its_role(request, cast, action, person):
    item = request.getfixturevalue(START_STATE[action])
    user = getattr(cast, person)
    before = Trace.of(item)
    if person in ALLOWED[action]:
        run(action, item, user, cast)
        after = Trace.of(item)
        state, kind, effect = EXPECTED[action]
        assert after.state == state
        # A remark changes nothing of the item: it neither needs nor bumps the version.
        assert after.version == before.version + (0 if action == "comment" else 1)
        new = Event.objects.filter(item=item).exclude(pk__in=before.events)
        if kind is None:
            assert not new.exists()
            assert after.progress == before.progress + 1
        else:
            (event,) = new
            assert (event.kind, event.actor, event.from_state, event.to_state) == (
                kind,
                user,
                before.state,
                state,
            )
            assert after.progress == before.progress
        assert effect(Item.all_objects.get(pk=item.pk))
    else:
        with pytest.raises(workflow.NotAllowed):
            run(action, item, user, cast)
        assert Trace.of(item) == before
        assert item.version == before.version  # the page's copy is as it was too


@pytest.mark.parametrize(
    ("action", "state_fixture"),
    [
        ("assign", "assigned"),
        ("decline", "in_progress"),
        ("start", "in_progress"),
        ("request", "assigned"),
        ("approve", "in_progress"),
        ("return", "in_progress"),
        ("progress", "requested"),
        ("request_extension", "requested"),
        ("grant_extension", "draft"),
        ("escalate", "draft"),
        ("reassign", "draft"),
        ("merge", "closed"),
    ],
)
def test_actions_from_a_wrong_state_are_refused(request, cast, action, state_fixture):
    item = request.getfixturevalue(state_fixture)
    user = cast.alice if "alice" in ALLOWED[action] else cast.bob
    before = Trace.of(item)
    with pytest.raises(workflow.WrongState) as refused:
        run(action, item, user, cast)
    assert item.get_state_display() in str(refused.value)
    assert Trace.of(item) == before
    assert item.version == before.version


def test_the_trail_of_an_item_taken_to_close_out_with_a_return_is_what_happened(cast, draft):
    workflow.assign(
        draft, by=cast.alice, leader=cast.leader, lead_department=cast.edu, deadline=in_days(20)
    )
    workflow.start(draft, by=cast.bob)
    workflow.request_closeout(draft, by=cast.bob, outcome="已完成整改", outcome_kind="done")
    workflow.return_request(draft, by=cast.alice, reason="缺少现场照片")
    workflow.post_progress(draft, by=cast.bob, text="补充现场照片", percent=95)
    workflow.request_closeout(
        draft, by=cast.bob, outcome="已完成整改并补充照片", outcome_kind="done"
    )
    workflow.approve(draft, by=cast.alice)

    draft.refresh_from_db()
    assert draft.state == S.CLOSED
    assert draft.percent == 100
    assert draft.closed_by == cast.alice
    assert draft.closed_on == timezone.localdate()
    assert kinds(draft) == [
        ("assign", "draft", "assigned"),
        ("start", "assigned", "in_progress"),
        ("request", "in_progress", "requested"),
        ("return", "requested", "in_progress"),
        ("request", "in_progress", "requested"),
        ("approve", "requested", "closed"),
    ]
    actors = list(draft.events.order_by("at", "pk").values_list("actor__username", flat=True))
    assert actors == ["alice", "bob", "bob", "alice", "bob", "alice"]
    assert draft.events.get(kind="return").note == "缺少现场照片"


def test_assign_requires_leader_lead_department_and_deadline(cast, draft):
    with pytest.raises(workflow.Invalid) as refused:
        workflow.assign(draft, by=cast.alice, lead_department=cast.edu, deadline=in_days(5))
    assert refused.value.field == "leader"
    with pytest.raises(workflow.Invalid) as refused:
        workflow.assign(draft, by=cast.alice, leader=cast.leader, deadline=in_days(5))
    assert refused.value.field == "lead_department"
    with pytest.raises(workflow.Invalid) as refused:
        workflow.assign(draft, by=cast.alice, leader=cast.leader, lead_department=cast.edu)
    assert refused.value.field == "deadline"
    assert_unchanged(draft, S.DRAFT, 0)


def test_assign_refuses_a_past_deadline_and_a_lead_that_is_also_co_responsible(cast, draft):
    with pytest.raises(workflow.Invalid):
        workflow.assign(
            draft,
            by=cast.alice,
            leader=cast.leader,
            lead_department=cast.edu,
            deadline=in_days(-1),
        )
    with pytest.raises(workflow.Invalid) as refused:
        workflow.assign(
            draft,
            by=cast.alice,
            leader=cast.leader,
            lead_department=cast.edu,
            co_departments=[cast.edu, cast.traffic],
            deadline=in_days(9),
        )
    assert refused.value.field == "co_departments"
    assert_unchanged(draft, S.DRAFT, 0)
    assert not draft.co_departments.exists()


def test_assign_sets_the_responsibility(cast, assigned):
    assigned.refresh_from_db()
    assert assigned.state == S.ASSIGNED
    assert assigned.lead_department == cast.edu
    assert list(assigned.co_departments.all()) == [cast.traffic]
    assert assigned.leader == cast.leader
    assert assigned.deadline == in_days(30)


def test_decline_sends_the_item_back_to_draft_without_the_department(cast, assigned):
    workflow.decline(assigned, by=cast.bob, reason="该事项属交通部门职责")
    assigned.refresh_from_db()
    assert assigned.state == S.DRAFT
    assert assigned.lead_department is None
    assert assigned.responsible_person == ""
    assert assigned.leader == cast.leader  # kept as a proposal for the reassignment
    event = assigned.events.latest("at")
    assert (event.kind, event.note, event.data["department"]) == (
        "decline",
        "该事项属交通部门职责",
        "市教育局",
    )
    # The declining department no longer sees it; the supervisor can reassign it.
    assert not Item.objects.visible_to(cast.bob).filter(pk=assigned.pk).exists()
    workflow.assign(assigned, by=cast.alice, lead_department=cast.traffic, co_departments=[])
    assigned.refresh_from_db()
    assert (assigned.state, assigned.lead_department) == (S.ASSIGNED, cast.traffic)


def test_reasons_are_required(cast, requested):
    with pytest.raises(workflow.Invalid) as refused:
        workflow.return_request(requested, by=cast.alice, reason="   ")
    assert refused.value.field == "reason"
    assert_unchanged(requested, S.REQUESTED, 3)


def test_request_needs_an_outcome_and_its_kind(cast, in_progress):
    with pytest.raises(workflow.Invalid) as refused:
        workflow.request_closeout(in_progress, by=cast.bob, outcome="", outcome_kind="done")
    assert refused.value.field == "outcome"
    with pytest.raises(workflow.Invalid) as refused:
        workflow.request_closeout(in_progress, by=cast.bob, outcome="好", outcome_kind="fixed")
    assert refused.value.field == "outcome_kind"
    assert_unchanged(in_progress, S.IN_PROGRESS, 2)


def test_long_term_close_out_keeps_its_kind_and_percent(cast, in_progress):
    workflow.post_progress(in_progress, by=cast.bob, text="建立长效机制", percent=80)
    workflow.request_closeout(
        in_progress, by=cast.bob, outcome="阶段性完成，长期坚持", outcome_kind="long_term"
    )
    workflow.approve(in_progress, by=cast.alice)
    in_progress.refresh_from_db()
    assert (in_progress.state, in_progress.outcome_kind, in_progress.percent) == (
        S.CLOSED,
        "long_term",
        80,
    )


def test_first_progress_of_the_lead_department_starts_the_item(cast, assigned):
    workflow.post_progress(assigned, by=cast.bob, text="已召开专题会议", percent=20)
    assigned.refresh_from_db()
    assert (assigned.state, assigned.percent) == (S.IN_PROGRESS, 20)
    assert kinds(assigned)[-1] == ("start", "assigned", "in_progress")


def test_progress_of_a_co_department_leaves_the_items_percent_alone(cast, in_progress):
    workflow.post_progress(in_progress, by=cast.carol, text="配合设置标志", percent=70)
    in_progress.refresh_from_db()
    assert in_progress.percent == 0
    assert in_progress.progress.get().department == cast.traffic


def test_progress_refuses_a_bad_percent_and_a_future_date(cast, in_progress):
    with pytest.raises(workflow.Invalid):
        workflow.post_progress(in_progress, by=cast.bob, text="x", percent=101)
    with pytest.raises(workflow.Invalid):
        workflow.post_progress(
            in_progress, by=cast.bob, text="x", percent=10, reported_on=in_days(1)
        )
    assert not in_progress.progress.exists()


def test_extension_granted_moves_the_deadline_and_keeps_the_original(cast, in_progress):
    first = in_progress.deadline
    workflow.request_extension(
        in_progress, by=cast.bob, new_deadline=in_days(60), reason="需等待财政资金"
    )
    with pytest.raises(workflow.Invalid):  # one pending request at a time
        workflow.request_extension(
            in_progress, by=cast.bob, new_deadline=in_days(70), reason="再延"
        )
    workflow.grant_extension(in_progress, by=cast.alice, note="同意")
    in_progress.refresh_from_db()
    assert (in_progress.deadline, in_progress.original_deadline) == (in_days(60), first)
    assert in_progress.extensions.get().status == Extension.Status.GRANTED
    assert kinds(in_progress)[-2:] == [
        ("extension_request", "in_progress", "in_progress"),
        ("extension_grant", "in_progress", "in_progress"),
    ]
    # A second extension keeps the very first deadline on record.
    workflow.request_extension(
        in_progress, by=cast.bob, new_deadline=in_days(80), reason="又遇雨季"
    )
    workflow.grant_extension(in_progress, by=cast.alice)
    in_progress.refresh_from_db()
    assert (in_progress.deadline, in_progress.original_deadline) == (in_days(80), first)


def test_extension_refused_keeps_the_deadline(cast, in_progress):
    first = in_progress.deadline
    workflow.request_extension(in_progress, by=cast.bob, new_deadline=in_days(60), reason="原因")
    with pytest.raises(workflow.Invalid):
        workflow.refuse_extension(in_progress, by=cast.alice, reason="")
    workflow.refuse_extension(in_progress, by=cast.alice, reason="时限充足")
    in_progress.refresh_from_db()
    assert in_progress.deadline == first
    assert in_progress.original_deadline is None
    assert in_progress.extensions.get().status == Extension.Status.REFUSED


def test_an_extension_must_be_later_than_the_deadline(cast, in_progress):
    with pytest.raises(workflow.Invalid) as refused:
        workflow.request_extension(
            in_progress, by=cast.bob, new_deadline=in_progress.deadline, reason="原因"
        )
    assert refused.value.field == "new_deadline"
    assert not in_progress.extensions.exists()


def test_granting_without_a_pending_request_is_refused(cast, in_progress):
    with pytest.raises(workflow.Invalid):
        workflow.grant_extension(in_progress, by=cast.alice)
    assert_unchanged(in_progress, S.IN_PROGRESS, 2)


def test_escalation_is_an_event_not_a_state(cast, in_progress):
    workflow.escalate(in_progress, by=cast.alice, note="挂牌督办，限期一周")
    in_progress.refresh_from_db()
    assert in_progress.state == S.IN_PROGRESS
    assert in_progress.escalated_at is not None
    assert kinds(in_progress)[-1] == ("escalate", "in_progress", "in_progress")


def test_a_stale_transition_changes_nothing_and_says_who_was_first(cast, requested):
    seen_by_alice = Item.objects.get(pk=requested.pk)
    workflow.comment(requested, by=cast.lena, text="请督查室把关")  # a comment is no change
    other = Item.objects.get(pk=requested.pk)
    workflow.return_request(other, by=cast.alice, reason="再核实")
    with pytest.raises(workflow.Stale) as refused:
        workflow.approve(seen_by_alice, by=cast.alice)
    assert "督查员甲" in str(refused.value)
    fresh = Item.objects.get(pk=requested.pk)
    assert fresh.state == S.IN_PROGRESS
    assert fresh.closed_on is None
    assert fresh.events.filter(kind="approve").count() == 0


def test_a_change_made_from_an_old_version_is_refused_even_if_the_state_is_the_same(
    cast, in_progress
):
    old = Item.objects.get(pk=in_progress.pk)
    workflow.post_progress(in_progress, by=cast.bob, text="进展一", percent=30)
    with pytest.raises(workflow.Stale):
        workflow.post_progress(old, by=cast.bob, text="进展二", percent=10)
    assert Item.objects.get(pk=in_progress.pk).percent == 30
    assert in_progress.progress.count() == 1


def test_refusals_speak_chinese_by_default_and_english_when_chosen(cast, requested):
    with pytest.raises(workflow.NotAllowed) as refused:
        workflow.approve(requested, by=cast.bob)
    # The reason is worded when it is shown, in the language of whoever reads it.
    with override("zh-hans"):
        assert (
            str(refused.value) == "您不能对该事项执行「批准销号」：只有考评办督查员可以执行此操作。"
        )
    with override("en"):
        assert "only a supervisor of the evaluation office" in str(refused.value)
    with pytest.raises(workflow.WrongState) as refused:
        workflow.start(requested, by=cast.bob)
    with override("zh-hans"):
        assert str(refused.value) == "该事项当前状态为「申请销号」，不能执行「开始整改」。"
    with override("en"):
        assert (
            str(refused.value) == "You cannot start work on an item that is “Close-out requested”."
        )


def test_allowed_actions_are_the_buttons_for_this_user_now(cast, requested):
    assert workflow.allowed_actions(cast.alice, requested) == [
        "approve",
        "return",
        "grant_extension",
        "refuse_extension",
        "escalate",
        "comment",
        "edit",
        "reassign",
        "merge",
        "withdraw",
    ]
    assert workflow.allowed_actions(cast.bob, requested) == ["comment", "edit_plan"]
    assert workflow.allowed_actions(cast.lena, requested) == ["comment"]
    assert workflow.allowed_actions(cast.dave, requested) == []


def test_overdue_is_derived_from_the_deadline(cast, in_progress):
    deadline = in_progress.deadline
    with time_machine.travel(deadline + datetime.timedelta(days=1), tick=False):
        assert in_progress.is_overdue()
        assert in_progress.light() == "red"
        assert Item.objects.overdue().filter(pk=in_progress.pk).exists()
    with time_machine.travel(deadline - datetime.timedelta(days=3), tick=False):
        assert in_progress.light() == "yellow"
        assert not in_progress.is_overdue()
    with time_machine.travel(deadline - datetime.timedelta(days=20), tick=False):
        assert in_progress.light() == "green"


def test_a_draft_is_never_overdue(cast, assigned):
    workflow.decline(assigned, by=cast.bob, reason="不属于本单位")
    with time_machine.travel(assigned.deadline + datetime.timedelta(days=30), tick=False):
        assert not assigned.is_overdue()
        assert not Item.objects.overdue().filter(pk=assigned.pk).exists()


def test_a_closed_item_is_never_overdue(cast, requested):
    workflow.approve(requested, by=cast.alice)
    with time_machine.travel(requested.deadline + datetime.timedelta(days=30), tick=False):
        assert not Item.objects.overdue().filter(pk=requested.pk).exists()
        assert requested.light() == ""


def test_events_are_written_in_the_same_transaction(cast, in_progress, monkeypatch):
    """If writing the Event fails, the state change is rolled back too."""

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Event.objects, "create", broken)
    with pytest.raises(RuntimeError):
        workflow.request_closeout(in_progress, by=cast.bob, outcome="完成", outcome_kind="done")
    assert_unchanged(in_progress, S.IN_PROGRESS, 2)


@pytest.mark.parametrize("ending", ["approve", "decline"])
def test_a_pending_extension_is_withdrawn_when_the_item_ends_or_goes_back(cast, assigned, ending):
    workflow.request_extension(assigned, by=cast.bob, new_deadline=in_days(90), reason="原因")
    if ending == "approve":
        workflow.start(assigned, by=cast.bob)
        workflow.request_closeout(assigned, by=cast.bob, outcome="完成", outcome_kind="done")
        workflow.approve(assigned, by=cast.alice)
    else:
        workflow.decline(assigned, by=cast.bob, reason="不属于本单位")
    assert assigned.extensions.get().status == Extension.Status.WITHDRAWN


# --- Failure paths: an item gone, withdrawn, or an extension decided meanwhile ---------------


def test_acting_on_an_item_deleted_since_the_page_was_drawn_says_it_no_longer_exists(
    client, cast, draft_ready
):
    seen = Item.objects.get(pk=draft_ready.pk)
    Item.objects.filter(pk=draft_ready.pk).delete()  # a draft with no history yet
    with pytest.raises(workflow.Stale) as refused:
        run("assign", seen, cast.alice)
    with override("zh-hans"):
        assert str(refused.value) == "该事项已不存在。"
    assert seen.state == S.DRAFT and seen.version == draft_ready.version
    assert not Item.all_objects.filter(pk=seen.pk).exists()
    assert not Event.objects.filter(item_id=seen.pk).exists()
    # Its page and its actions are not found.
    client.force_login(cast.alice)
    assert client.get(reverse("ledger:item", args=[seen.pk])).status_code == 404
    response = client.post(
        reverse("ledger:item-action", args=[seen.pk, "escalate"]),
        {"version": seen.version, "note": "督办"},
    )
    assert response.status_code == 404


@pytest.fixture
def withdrawn(cast, in_progress) -> Item:
    workflow.withdraw(Item.objects.get(pk=in_progress.pk), by=cast.alice, reason="重复录入")
    return Item.all_objects.get(pk=in_progress.pk)


@pytest.mark.parametrize("action", [a for a in workflow.RULES if a != "assign"])
def test_nothing_but_reading_is_done_to_a_withdrawn_item(cast, withdrawn, action):
    user = cast.alice if "alice" in ALLOWED[action] else cast.bob
    before = Trace.of(withdrawn)
    with pytest.raises(workflow.WrongState) as refused:
        run(action, withdrawn, user, cast)
    with override("zh-hans"):
        assert "「已作废」" in str(refused.value)
    assert Trace.of(withdrawn) == before


# A closed item is never withdrawn, so the actions that start from one are left out.
@pytest.mark.parametrize("action", [a for a in workflow.RULES if START_STATE[a] != "closed"])
def test_a_page_drawn_before_the_item_was_withdrawn_acts_on_nothing(request, cast, action):
    """Whatever the action, a comment included, taken from a page drawn before another
    supervisor withdrew the item, it is refused and nothing is written."""
    item = request.getfixturevalue(START_STATE[action])
    seen = Item.objects.get(pk=item.pk)
    workflow.withdraw(Item.objects.get(pk=item.pk), by=cast.alice, reason="重复录入")
    before = Trace.of(item)
    user = next(getattr(cast, p) for p in PEOPLE if p in ALLOWED[action])
    with pytest.raises(workflow.WorkflowError) as refused:
        run(action, seen, user, cast)
    if action in ("grant_extension", "refuse_extension"):
        # The withdrawal withdrew the extension request with the item.
        assert isinstance(refused.value, workflow.Invalid)
    else:
        assert isinstance(refused.value, workflow.Stale)
        with override("zh-hans"):
            assert "督查员甲" in str(refused.value) and "「已作废」" in str(refused.value)
    assert Trace.of(item) == before


@pytest.mark.parametrize("decision", ["grant", "refuse"])
def test_an_extension_decided_by_someone_else_meanwhile_is_not_decided_again(
    client, cast, extension_pending, decision
):
    item = extension_pending
    seen_item = Item.objects.get(pk=item.pk)  # alice's page, drawn with the request waiting
    seen_extension = item.extensions.get()
    zoe = make_user("zoe", role="supervisor", first_name="督查员乙")
    workflow.refuse_extension(Item.objects.get(pk=item.pk), by=zoe, reason="时限充足")
    before = Trace.of(item)

    def decide(on: Item, extension: Extension | None = None):
        if decision == "grant":
            return workflow.grant_extension(on, by=cast.alice, extension=extension, note="同意")
        return workflow.refuse_extension(on, by=cast.alice, extension=extension, reason="另议")

    # The request the page showed, on the item as it is now: decided already.
    with pytest.raises(workflow.Invalid) as refused:
        decide(Item.objects.get(pk=item.pk), seen_extension)
    with override("zh-hans"):
        assert str(refused.value) == "该延期申请已由他人审批。"
    # The item as the page saw it: no request is waiting any more.
    with pytest.raises(workflow.Invalid) as refused:
        decide(seen_item)
    with override("zh-hans"):
        assert str(refused.value) == "该事项没有待审批的延期申请。"
    assert Trace.of(item) == before
    extension = Extension.objects.get(item=item)
    assert (extension.status, extension.decided_by, extension.decision_note) == (
        Extension.Status.REFUSED,
        zoe,
        "时限充足",
    )
    assert (extension.granted_deadline, Item.objects.get(pk=item.pk).deadline) == (
        None,
        in_days(30),
    )
    # Through the page: the decision is refused naming who decided, and nothing is written.
    client.force_login(cast.alice)
    action = "grant_extension" if decision == "grant" else "refuse_extension"
    response = client.post(
        reverse("ledger:item-action", args=[item.pk, action]),
        {"version": seen_item.version, "note": "同意", "reason": "另议"},
    )
    assert response.status_code == 409
    assert "督查员乙" in response.content.decode()
    assert Trace.of(item) == before


def test_two_extension_requests_that_pass_the_check_together_leave_one(
    cast, in_progress, monkeypatch
):
    """Two requests, each having found none waiting: the index that lets one request wait
    per item refuses the second, and its change of the item is rolled back with it."""
    swap = workflow._swap

    def swap_as_another_request_lands(item, *args, **kwargs):
        swap(item, *args, **kwargs)
        Extension.objects.create(
            item=item, requested_by=cast.bob, new_deadline=in_days(45), reason="同时提交"
        )

    monkeypatch.setattr(workflow, "_swap", swap_as_another_request_lands)
    before = Trace.of(in_progress)
    with pytest.raises(workflow.Invalid) as refused:
        workflow.request_extension(
            in_progress, by=cast.bob, new_deadline=in_days(60), reason="雨季"
        )
    assert refused.value.field == "new_deadline"
    with override("zh-hans"):
        assert str(refused.value) == "该事项已有一项延期申请待审批。"
    assert Trace.of(in_progress) == before
    assert in_progress.version == before.version


def test_a_comment_on_a_page_drawn_before_a_change_that_leaves_it_open_to_comment_is_kept(
    cast, requested
):
    seen = Item.objects.get(pk=requested.pk)
    workflow.approve(Item.objects.get(pk=requested.pk), by=cast.alice)
    event = workflow.comment(seen, by=cast.lena, text="请继续巩固")
    assert (event.from_state, event.to_state, event.note) == (S.CLOSED, S.CLOSED, "请继续巩固")
    assert Item.objects.get(pk=requested.pk).version == seen.version + 1  # the approval's


def test_a_comment_on_a_page_of_an_item_no_longer_theirs_is_refused(cast, in_progress):
    seen = Item.objects.get(pk=in_progress.pk)  # 教育局's page
    workflow.reassign(
        Item.objects.get(pk=in_progress.pk),
        by=cast.alice,
        reason="职责调整",
        leader=cast.leader,
        lead_department=cast.health,
        deadline=in_progress.deadline,
    )
    before = Trace.of(in_progress)
    with pytest.raises(workflow.Stale) as refused:
        workflow.comment(seen, by=cast.bob, text="我们继续跟进")
    with override("zh-hans"):
        assert "督查员甲" in str(refused.value)
    assert Trace.of(in_progress) == before
