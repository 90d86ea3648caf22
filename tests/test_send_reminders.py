"""``manage.py send_reminders``: one digest a day per department of overdue and soon-due items."""

from __future__ import annotations

import datetime
import io
import threading
import time

import pytest
import time_machine
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.translation import override

from ledger import notifications
from ledger.models import Item, ReminderDigest

from .factory import in_days, make_department, make_item

S = Item.State


class Due:
    pass


@pytest.fixture(autouse=True)
def _a_wednesday_before_a_holiday():
    """Working days depend on the date: Wednesday 17 June 2026, two days before the Dragon
    Boat holiday (Friday 19 June)."""
    at = datetime.datetime(2026, 6, 17, 9, tzinfo=datetime.timezone(datetime.timedelta(hours=8)))
    with time_machine.travel(at, tick=False):
        yield


@pytest.fixture
def due(cast) -> Due:
    """市教育局 (with an address, and bob's) has four items to remind of and three not to;
    市交通运输局 has one; 市卫生健康委 has one but no address anywhere."""
    cast.edu.email = "jyj@example.gov.cn"
    cast.edu.save()
    cast.bob.email = "bob@example.gov.cn"
    cast.bob.save()
    cast.traffic.email = "jtj@example.gov.cn"
    cast.traffic.save()
    d = Due()
    d.cast = cast

    def item(title: str, days: int, state: str = S.IN_PROGRESS, dept=cast.edu, **kw) -> Item:
        return make_item(
            cast.round, title=title, state=state, lead_department=dept, deadline=in_days(days), **kw
        )

    # Made out of order, to show the digest sorts them.
    d.soon = item("五天后到期", 5)
    d.overdue_old = item("逾期十天", -10)
    d.today = item("今天到期", 0, S.REQUESTED)
    d.overdue = item("逾期一天", -1, S.ASSIGNED)
    d.later = item("一个月后到期", 30)
    d.closed = item(
        "已销号的逾期事项", -5, S.CLOSED, closed_on=timezone.localdate(), outcome_kind="done"
    )
    d.draft = item("待交办事项", 2, S.DRAFT)
    d.traffic = item("交通局牵头", 2, dept=cast.traffic)
    d.traffic.co_departments.set([cast.edu])  # shared, but reminded to its lead only
    d.health = item("卫健委牵头", -2, dept=cast.health)
    gone = make_department("已撤销的部门", email="old@example.gov.cn", is_active=False)
    d.gone = item("撤销部门的事项", -3, dept=gone)
    return d


def digest_for(address: str) -> mail.EmailMessage:
    (message,) = [m for m in mail.outbox if address in m.to]
    return message


def test_each_department_gets_one_digest_of_its_overdue_and_soon_due_items(due):
    summary = notifications.send_reminders()
    c = due.cast
    assert summary.sent == [(c.edu, 4), (c.traffic, 1)]
    assert summary.items == 5
    assert summary.no_address == [c.health]
    assert summary.already_sent == [] and summary.failed == []
    assert len(mail.outbox) == 2

    edu = digest_for("jyj@example.gov.cn")
    # The department's mailbox and its officials', in one message.
    assert edu.to == ["jyj@example.gov.cn", "bob@example.gov.cn"]
    assert "市教育局" in edu.subject
    body = edu.body
    listed = [due.overdue_old, due.overdue, due.today, due.soon]  # overdue first, by deadline
    positions = [body.index(item.number) for item in listed]
    assert positions == sorted(positions)
    for item in [due.later, due.closed, due.draft, due.traffic, due.health, due.gone]:
        assert item.number not in body
    # Ten days before is Sunday 7 June: eight working days overdue.
    assert "逾期 8 个工作日" in body
    assert f"/items/{due.overdue_old.pk}/" in body

    traffic = digest_for("jtj@example.gov.cn")
    assert traffic.to == ["jtj@example.gov.cn"]
    assert due.traffic.number in traffic.body
    assert due.soon.number not in traffic.body

    assert set(ReminderDigest.objects.values_list("department__name", "day", "items")) == {
        ("市教育局", timezone.localdate(), 4),
        ("市交通运输局", timezone.localdate(), 1),
    }


def test_a_second_run_on_the_same_day_sends_nothing_new(due):
    notifications.send_reminders()
    mail.outbox.clear()
    summary = notifications.send_reminders()
    assert summary.sent == []
    assert summary.already_sent == [due.cast.edu, due.cast.traffic]
    assert mail.outbox == []
    assert ReminderDigest.objects.count() == 2


def test_a_run_the_next_day_sends_again(due):
    notifications.send_reminders()
    mail.outbox.clear()
    with time_machine.travel(timezone.localtime() + datetime.timedelta(days=1), tick=False):
        summary = notifications.send_reminders()
    assert [d for d, _n in summary.sent] == [due.cast.edu, due.cast.traffic]
    assert len(mail.outbox) == 2
    assert ReminderDigest.objects.count() == 4


def test_a_dry_run_sends_and_records_nothing(due):
    summary = notifications.send_reminders(dry_run=True)
    assert summary.sent == [(due.cast.edu, 4), (due.cast.traffic, 1)]
    assert mail.outbox == []
    assert not ReminderDigest.objects.exists()
    # …so the real run afterwards still sends.
    assert len(notifications.send_reminders().sent) == 2


def test_days_sets_the_horizon(due):
    summary = notifications.send_reminders(days=0)
    assert summary.sent == [(due.cast.edu, 3)]  # 交通局's item is two days away
    body = mail.outbox[0].body
    assert due.today.number in body and due.soon.number not in body


def test_the_number_of_queries_does_not_grow_with_the_items(due):
    with CaptureQueriesContext(connection) as few:
        notifications.send_reminders()
    ReminderDigest.objects.all().delete()
    mail.outbox.clear()
    for n in range(20):
        make_item(
            due.cast.round,
            state=S.IN_PROGRESS,
            lead_department=due.cast.edu if n % 2 else due.cast.traffic,
            deadline=in_days(n % 5 - 2),
        )
    with CaptureQueriesContext(connection) as many:
        summary = notifications.send_reminders()
    assert summary.items == 25
    assert len(many) == len(few)


def test_a_digest_that_could_not_be_sent_is_not_recorded_and_goes_out_next_run(
    due, monkeypatch, caplog
):
    def down(self, messages):
        raise ConnectionRefusedError("mail server down")

    with monkeypatch.context() as patch:
        patch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", down)
        summary = notifications.send_reminders()
    assert summary.failed == [due.cast.edu, due.cast.traffic]
    assert not ReminderDigest.objects.exists()
    assert "Could not send the reminder digest" in caplog.text
    summary = notifications.send_reminders()
    assert len(summary.sent) == 2
    assert len(mail.outbox) == 2


def test_the_command_prints_a_summary(due):
    out = io.StringIO()
    with override("en"):
        call_command("send_reminders", "--days", "7", stdout=out)
    text = out.getvalue()
    assert "市教育局: sent 4 item(s)" in text
    assert "市卫生健康委: skipped, no email address" in text
    assert "2 digest(s) sent, listing 5 item(s)" in text
    out = io.StringIO()
    with override("en"):
        call_command("send_reminders", stdout=out)
    assert "市教育局: already sent today" in out.getvalue()
    assert len(mail.outbox) == 2


def test_the_command_dry_run(due):
    out = io.StringIO()
    call_command("send_reminders", "--dry-run", stdout=out)
    assert "市教育局" in out.getvalue()
    assert mail.outbox == []
    assert not ReminderDigest.objects.exists()


def test_the_command_fails_when_a_digest_could_not_be_sent(due, monkeypatch):
    def down(self, messages):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", down)
    with pytest.raises(CommandError):
        call_command("send_reminders", stdout=io.StringIO(), stderr=io.StringIO())


def test_nothing_due_sends_nothing(cast):
    make_item(cast.round, state=S.IN_PROGRESS, lead_department=cast.edu, deadline=in_days(60))
    summary = notifications.send_reminders()
    assert (summary.sent, summary.no_address) == ([], [])
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_send_one_digest_per_department(due, monkeypatch):
    original = mail.EmailMessage.send

    def slow(self, *args, **kwargs):
        # Hold the transaction open while "sending", so that the runs really overlap.
        time.sleep(0.3)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(mail.EmailMessage, "send", slow)
    barrier = threading.Barrier(2)
    summaries: list[object] = [None, None]

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            summaries[index] = notifications.send_reminders()
        except Exception as error:
            summaries[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(isinstance(s, notifications.ReminderSummary) for s in summaries), summaries
    sent = [d.name for s in summaries for d, _n in s.sent]
    assert sorted(sent) == ["市交通运输局", "市教育局"]
    skipped = [d.name for s in summaries for d in s.already_sent]
    assert sorted(skipped) == ["市交通运输局", "市教育局"]
    assert len(mail.outbox) == 2
    assert ReminderDigest.objects.count() == 2
