"""The escalation ladder (督办阶梯): what the daily proposal proposes, counted in working days,
and what a supervisor's confirmation writes (docs/supervision.md)."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.core.management import call_command
from django.db import connection

from ledger import workflow
from ledger.models import Event, Item, Notification
from ledger.supervision import ladder, workdays
from ledger.supervision.models import CalendarDay, LadderSettings, LadderStep, SupervisionNotice

from .factory import in_days, make_item, make_user

Step = Item.LadderStep
D = datetime.date
CLOSED = {"state": Item.State.CLOSED, "closed_on": D(2026, 10, 9), "outcome_kind": "done"}


@pytest.fixture
def golden_week(db):
    """2026's National Day holidays as the calendar table has them: 1 to 8 October off,
    Saturday 10 October a make-up working day (调休)."""
    for day in range(1, 9):
        CalendarDay.objects.create(day=D(2026, 10, day), is_workday=False, note="国庆节")
    CalendarDay.objects.create(day=D(2026, 10, 10), is_workday=True, note="调休上班")
    workdays.forget()


@pytest.fixture
def rules(db):
    return LadderSettings.objects.create(
        remind_before=3, urge_after=3, escalate_after=6, escalate_days=5, circulate_after=2
    )


def open_item(cast, deadline, *, lead=None, title=None, leader=None, **fields) -> Item:
    """An item assigned to ``lead`` (教育局 by default), its deadline then set to ``deadline``
    (assignment refuses a past one)."""
    item = make_item(cast.round, title=title or f"事项{deadline}")
    workflow.assign(
        item,
        by=cast.alice,
        leader=leader or cast.leader,
        lead_department=lead or cast.edu,
        co_departments=[cast.traffic] if lead is None else [],
        deadline=in_days(30),
    )
    Item.objects.filter(pk=item.pk).update(deadline=deadline, **fields)
    return Item.all_objects.get(pk=item.pk)


def proposed(item: Item) -> list[tuple[str, D]]:
    return list(
        LadderStep.objects.filter(item=item, status="proposed").values_list("step", "deadline")
    )


def confirm_all(cast, today, **kw) -> ladder.Confirmation:
    ids = LadderStep.objects.filter(status="proposed").values_list("pk", flat=True)
    return ladder.confirm(list(ids), by=cast.alice, today=today, **kw)


# --- Working days --------------------------------------------------------------------------


def test_urging_counts_working_days_across_the_holiday_and_the_make_up_saturday(
    cast, golden_week, rules
):
    item = open_item(cast, D(2026, 9, 30))
    # 1 October to 8 October are off: on 9 October the item is one working day late, not 9.
    ladder.propose(D(2026, 10, 9))
    assert proposed(item) == []
    # Saturday 10 October is worked: two working days late. Sunday the 11th still two.
    ladder.propose(D(2026, 10, 11))
    assert proposed(item) == []
    # Monday 12 October: the third working day late (9, 10, 12).
    ladder.propose(D(2026, 10, 12))
    assert proposed(item) == [(Step.URGE, D(2026, 9, 30))]
    assert LadderStep.objects.get(item=item).working_days == 3


def test_a_reminder_counts_working_days_before_the_deadline(cast, golden_week, rules):
    item = open_item(cast, D(2026, 10, 12))
    ladder.propose(D(2026, 9, 29))  # 30 Sep, 9, 10, 12 Oct: four working days to go
    assert proposed(item) == []
    ladder.propose(D(2026, 9, 30))  # three to go, twelve calendar days
    assert proposed(item) == [(Step.REMIND, D(2026, 10, 12))]


def test_no_reminder_once_the_deadline_has_passed_even_on_a_day_off(cast, golden_week, rules):
    item = open_item(cast, D(2026, 9, 30))
    ladder.propose(D(2026, 10, 3))  # no working day since the deadline, but it has passed
    assert proposed(item) == []


# --- What is proposed ----------------------------------------------------------------------


def test_proposing_twice_adds_nothing(cast, golden_week, rules):
    late = open_item(cast, D(2026, 9, 30), title="迟了")
    near = open_item(cast, D(2026, 10, 12), title="将至")
    first = ladder.propose(D(2026, 10, 12))
    rows = list(LadderStep.objects.order_by("pk").values())
    assert first.new == {Step.REMIND: 1, Step.URGE: 1}
    second = ladder.propose(D(2026, 10, 12))
    assert second.new == {} and second.waiting == {Step.REMIND: 1, Step.URGE: 1}
    assert list(LadderStep.objects.order_by("pk").values()) == rows
    assert {r["item_id"] for r in rows} == {late.pk, near.pk}


def test_the_highest_step_due_is_proposed_not_every_step_below_it(cast, golden_week, rules):
    item = open_item(cast, D(2026, 9, 21))  # 22–30 Sep, 8–16 Oct: far past escalation
    ladder.propose(D(2026, 10, 16))
    assert proposed(item) == [(Step.ESCALATE, D(2026, 9, 21))]


def test_withdrawn_merged_long_term_drafts_closed_and_undated_items_get_nothing(
    cast, golden_week, rules
):
    late = D(2026, 9, 21)
    counted = open_item(cast, late, title="计入")
    withdrawn = open_item(cast, late, title="作废")
    workflow.withdraw(withdrawn, by=cast.alice, reason="重复")
    merged = open_item(cast, late, title="合并")
    workflow.merge(merged, into=counted, by=cast.alice)
    open_item(cast, None, title="长期", long_term=True)
    open_item(cast, late, title="已销号", **CLOSED)
    open_item(cast, None, title="无时限")
    make_item(cast.round, title="草稿", deadline=late)
    ladder.propose(D(2026, 10, 16))
    assert list(LadderStep.objects.values_list("item__title", flat=True)) == ["计入"]


def test_never_a_step_at_or_below_the_one_the_item_has_reached(cast, golden_week, rules):
    item = open_item(cast, D(2026, 9, 28), ladder_step=Step.URGE)  # 5 working days late
    ladder.propose(D(2026, 10, 12))
    assert proposed(item) == []
    # A new deadline does not send it back down: a reminder before it is not proposed.
    Item.objects.filter(pk=item.pk).update(deadline=D(2026, 10, 14))
    ladder.propose(D(2026, 10, 12))
    assert proposed(item) == []


def test_a_dismissed_step_is_not_proposed_again_for_the_same_deadline(cast, golden_week, rules):
    item = open_item(cast, D(2026, 9, 30))
    ladder.propose(D(2026, 10, 12))
    assert ladder.dismiss(LadderStep.objects.values_list("pk", flat=True), by=cast.alice) == 1
    ladder.propose(D(2026, 10, 13))
    assert proposed(item) == []
    assert LadderStep.objects.get(item=item).status == "dismissed"


def test_the_thresholds_in_force_are_the_newest_row(cast, golden_week, rules):
    item = open_item(cast, D(2026, 9, 30))
    LadderSettings.objects.create(
        remind_before=3, urge_after=1, escalate_after=6, escalate_days=5, circulate_after=2
    )
    ladder.propose(D(2026, 10, 9))  # one working day late: urged under the new rule
    assert proposed(item) == [(Step.URGE, D(2026, 9, 30))]


# --- Confirming ----------------------------------------------------------------------------


def test_confirming_writes_one_event_and_bumps_the_version_once(cast, golden_week, rules):
    item = open_item(cast, D(2026, 9, 30))
    ladder.propose(D(2026, 10, 12))
    events, version = item.events.count(), item.version
    done = confirm_all(cast, D(2026, 10, 12))
    item.refresh_from_db()
    assert [s.step for s in done.confirmed] == [Step.URGE] and done.stale == []
    assert item.version == version + 1
    assert item.ladder_step == Step.URGE
    assert item.events.count() == events + 1
    event = item.events.latest("pk")
    assert event.kind == Event.Kind.URGE and event.actor == cast.alice
    assert event.data["working_days"] == 3 and event.data["notice"]["number"] == "督办〔2026〕1号"
    step = LadderStep.objects.get(item=item)
    assert (step.status, step.event_id, step.decided_by) == ("confirmed", event.pk, cast.alice)
    # Confirming the same step again does nothing.
    again = ladder.confirm([step.pk], by=cast.alice, today=D(2026, 10, 12))
    assert again.confirmed == [] and item.events.count() == events + 1


def test_notifications_reach_the_lead_department_and_the_leader_only(cast, golden_week, rules):
    item = open_item(cast, D(2026, 9, 30))  # led by 教育局 (bob), shared with 交通局 (carol)
    make_user("bob2", role="official", department=cast.edu)
    ladder.propose(D(2026, 10, 12))
    confirm_all(cast, D(2026, 10, 12))
    told = Notification.objects.filter(item=item, kind=Notification.Kind.URGE)
    assert set(told.values_list("recipient__username", flat=True)) == {"bob", "bob2", "lena"}


def test_a_reminder_is_an_event_and_a_notification_without_a_notice(cast, golden_week, rules):
    item = open_item(cast, D(2026, 10, 12))
    ladder.propose(D(2026, 9, 30))
    done = confirm_all(cast, D(2026, 9, 30))
    assert done.notices == [] and SupervisionNotice.objects.count() == 0
    assert item.events.latest("pk").kind == Event.Kind.REMIND
    assert Notification.objects.filter(item=item, kind="remind").count() == 2  # bob, lena


def test_escalating_gives_a_new_deadline_in_working_days_and_a_note(cast, golden_week, rules):
    item = open_item(cast, D(2026, 9, 21))
    ladder.propose(D(2026, 9, 30))  # 22–30 September: seven working days late
    confirm_all(cast, D(2026, 9, 30))
    item.refresh_from_db()
    # Five working days from 30 September, the holidays skipped: 9, 10, 12, 13, 14 October.
    assert item.deadline == D(2026, 10, 14)
    assert item.original_deadline == D(2026, 9, 21)
    assert item.ladder_step == Step.ESCALATE and item.escalated_at is not None
    event = item.events.latest("pk")
    assert event.kind == Event.Kind.ESCALATE
    assert event.data["new_deadline"] == "2026-10-14" and "2026-10-14" in event.note
    assert event.data["notice"]["number"] == "挂牌督办〔2026〕1号"
    assert LadderStep.objects.get(item=item).new_deadline == D(2026, 10, 14)


def test_the_escalations_new_deadline_starts_the_count_for_the_bulletin(cast, golden_week, rules):
    item = open_item(cast, D(2026, 9, 21))
    ladder.propose(D(2026, 9, 30))
    confirm_all(cast, D(2026, 9, 30))  # new deadline 14 October
    ladder.propose(D(2026, 10, 15))  # one working day past it
    assert proposed(item) == []
    ladder.propose(D(2026, 10, 16))  # two: circulated
    assert proposed(item) == [(Step.CIRCULATE, D(2026, 10, 14))]
    done = confirm_all(cast, D(2026, 10, 16))
    [bulletin] = done.notices
    assert bulletin.kind == "circulate" and bulletin.number == "通报〔2026〕1号"
    assert list(bulletin.departments.all()) == [cast.edu]
    item.refresh_from_db()
    assert item.ladder_step == Step.CIRCULATE
    ladder.propose(D(2026, 10, 30))  # the top of the ladder: nothing more
    assert proposed(item) == []


def test_one_notice_per_department_and_one_bulletin_for_all(cast, golden_week, rules):
    for lead in (cast.edu, cast.edu, cast.health):
        open_item(cast, D(2026, 9, 30), lead=lead)
    ladder.propose(D(2026, 10, 12))
    done = confirm_all(cast, D(2026, 10, 12))
    numbers = {n.number: [d.name for d in n.departments.all()] for n in done.notices}
    assert numbers == {"督办〔2026〕1号": ["市教育局"], "督办〔2026〕2号": ["市卫生健康委"]}
    by_notice = {n.number: n.steps.count() for n in done.notices}
    assert by_notice == {"督办〔2026〕1号": 2, "督办〔2026〕2号": 1}
    # The next confirmation goes on from there; another kind counts from 1.
    open_item(cast, D(2026, 9, 30), lead=cast.traffic)
    ladder.propose(D(2026, 10, 12))
    [notice] = confirm_all(cast, D(2026, 10, 12)).notices
    assert notice.number == "督办〔2026〕3号"

    for item in Item.objects.filter(ladder_step=Step.URGE):
        Item.objects.filter(pk=item.pk).update(deadline=D(2026, 9, 21))
    ladder.propose(D(2026, 10, 12))
    escalations = confirm_all(cast, D(2026, 10, 12)).notices
    assert sorted(n.number for n in escalations) == [
        "挂牌督办〔2026〕1号",
        "挂牌督办〔2026〕2号",
        "挂牌督办〔2026〕3号",
    ]
    Item.objects.filter(ladder_step=Step.ESCALATE).update(deadline=D(2026, 10, 12))
    ladder.propose(D(2026, 10, 16))
    [bulletin] = confirm_all(cast, D(2026, 10, 16)).notices
    assert bulletin.number == "通报〔2026〕1号" and bulletin.steps.count() == 4
    assert {d.name for d in bulletin.departments.all()} == {
        "市教育局",
        "市卫生健康委",
        "市交通运输局",
    }


def test_a_number_taken_meanwhile_is_taken_again(cast, golden_week, rules, monkeypatch):
    open_item(cast, D(2026, 9, 30))
    ladder.propose(D(2026, 10, 12))
    SupervisionNotice.objects.create(
        kind="urge", year=2026, seq=1, title="督办通知", issued_by=cast.alice
    )
    real = ladder._next_seq
    calls = []

    def stale_read(kind, year):
        calls.append(1)
        # The first read misses the notice another confirmation has just committed.
        return 1 if len(calls) == 1 else real(kind, year)

    monkeypatch.setattr(ladder, "_next_seq", stale_read)
    [notice] = confirm_all(cast, D(2026, 10, 12)).notices
    assert notice.number == "督办〔2026〕2号" and len(calls) == 2


@pytest.mark.django_db(transaction=True)
def test_two_confirmations_at_once_get_two_numbers(cast, golden_week, rules):
    first = open_item(cast, D(2026, 9, 30), lead=cast.edu)
    second = open_item(cast, D(2026, 9, 30), lead=cast.health)
    ladder.propose(D(2026, 10, 12))
    steps = {s.item_id: s.pk for s in LadderStep.objects.all()}
    barrier = threading.Barrier(2)
    results: list = []

    def run(step_id):
        try:
            barrier.wait(timeout=10)
            done = ladder.confirm([step_id], by=cast.alice, today=D(2026, 10, 12))
            results.append([n.number for n in done.notices])
        except Exception as error:
            results.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(steps[i.pk],)) for i in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    numbers = sorted(n for r in results if isinstance(r, list) for n in r)
    assert numbers == ["督办〔2026〕1号", "督办〔2026〕2号"], results


def test_a_step_whose_item_changed_is_not_confirmed(cast, golden_week, rules):
    closed = open_item(cast, D(2026, 9, 30), title="已销号")
    extended = open_item(cast, D(2026, 9, 30), title="已延期")
    ladder.propose(D(2026, 10, 12))
    Item.objects.filter(pk=closed.pk).update(**CLOSED)
    Item.objects.filter(pk=extended.pk).update(deadline=D(2026, 10, 30))
    done = confirm_all(cast, D(2026, 10, 12))
    assert done.confirmed == [] and len(done.stale) == 2
    assert not Event.objects.filter(kind=Event.Kind.URGE).exists()
    assert SupervisionNotice.objects.count() == 0
    # The next proposal clears them: nothing is due for either any more.
    result = ladder.propose(D(2026, 10, 12))
    assert result.cleared == 2 and not LadderStep.objects.exists()


def test_of_two_steps_proposed_for_one_item_the_higher_is_taken(cast, golden_week, rules):
    item = open_item(cast, D(2026, 9, 30))
    ladder.propose(D(2026, 10, 12))  # urging due
    Item.objects.filter(pk=item.pk).update(deadline=D(2026, 9, 21))
    LadderStep.objects.update(deadline=D(2026, 9, 21))
    ladder.propose(D(2026, 10, 12))  # escalation due too, for the same deadline
    assert sorted(s for s, _d in proposed(item)) == [Step.ESCALATE, Step.URGE]
    version = Item.objects.get(pk=item.pk).version
    done = confirm_all(cast, D(2026, 10, 12))
    assert [s.step for s in done.confirmed] == [Step.ESCALATE]
    assert [s.step for s in done.stale] == [Step.URGE]
    assert Item.objects.get(pk=item.pk).version == version + 1


def test_only_a_supervisor_confirms_or_dismisses(cast, golden_week, rules):
    open_item(cast, D(2026, 9, 30))
    ladder.propose(D(2026, 10, 12))
    ids = list(LadderStep.objects.values_list("pk", flat=True))
    with pytest.raises(workflow.NotAllowed):
        ladder.confirm(ids, by=cast.bob)
    with pytest.raises(workflow.NotAllowed):
        ladder.dismiss(ids, by=cast.lena)
    assert LadderStep.objects.get().status == "proposed"


def test_the_manual_escalation_still_works_and_sets_the_step(cast, in_progress):
    workflow.escalate(in_progress, by=cast.alice, note="请加快进度")
    in_progress.refresh_from_db()
    assert in_progress.ladder_step == Step.ESCALATE and in_progress.escalated_at
    assert in_progress.events.latest("pk").kind == Event.Kind.ESCALATE
    assert Notification.objects.filter(item=in_progress, kind="escalate").count() == 2


def test_the_command_prints_what_it_proposed(cast, golden_week, rules, capsys):
    open_item(cast, D(2026, 9, 30))
    call_command("propose_ladder", "--today", "2026-10-12")
    out = capsys.readouterr().out
    assert "2026-10-12：拟办1项" in out and "催办：新增1项，待确认1项" in out
    call_command("propose_ladder", "--today", "2026-10-12")
    assert "2026-10-12：拟办0项" in capsys.readouterr().out


def test_the_department_and_the_leader_are_emailed_once_committed(
    cast, golden_week, rules, mailoutbox, django_capture_on_commit_callbacks
):
    for user, address in ((cast.bob, "bob@edu.example"), (cast.lena, "lena@gov.example")):
        user.email = address
        user.save()
    item = open_item(cast, D(2026, 9, 21), title="校车安全")
    ladder.propose(D(2026, 9, 30))
    with django_capture_on_commit_callbacks(execute=True):
        confirm_all(cast, D(2026, 9, 30))
    assert sorted(m.to[0] for m in mailoutbox) == ["bob@edu.example", "lena@gov.example"]
    body = mailoutbox[0].body
    assert item.number in mailoutbox[0].subject and "2026-10-14" in body
