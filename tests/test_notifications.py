"""Notifications of assignment, return, approval and escalation: rows, emails and the list."""

from __future__ import annotations

import datetime
import logging

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection, transaction
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from ledger import notifications, workflow
from ledger.context_processors import site
from ledger.models import Event, Item, Notification

from .factory import in_days, make_item, make_user

K = Notification.Kind


@pytest.fixture
def emails(cast):
    """Everyone in the cast has an address, so that a mail to the wrong person would show."""
    for person in ["alice", "bob", "carol", "dave", "lena"]:
        user = getattr(cast, person)
        user.email = f"{person}@example.gov.cn"
        user.save(update_fields=["email"])
    return cast


def notified(item: Item, kind: str) -> set[str]:
    return set(
        Notification.objects.filter(item=item, kind=kind).values_list(
            "recipient__username", flat=True
        )
    )


def mailed() -> list[list[str]]:
    return sorted(message.to for message in mail.outbox)


def assign(item: Item, cast) -> None:
    workflow.assign(
        item,
        by=cast.alice,
        leader=cast.leader,
        lead_department=cast.edu,
        co_departments=[cast.traffic],
        deadline=in_days(30),
        note="请于月底前拿出方案",
    )


# --- Who is told -------------------------------------------------------------------------------


def test_assignment_notifies_the_lead_and_co_departments_but_not_the_supervisor(
    emails, draft, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assign(draft, emails)
    assert notified(draft, K.ASSIGN) == {"bob", "carol"}
    event = draft.events.get(kind="assign")
    assert set(Notification.objects.values_list("event", flat=True)) == {event.pk}
    # One message per person: a department does not learn another's addresses.
    assert mailed() == [["bob@example.gov.cn"], ["carol@example.gov.cn"]]
    message = mail.outbox[0]
    assert draft.number in message.subject and "新交办" in message.subject
    assert draft.title in message.body
    assert in_days(30).isoformat() in message.body
    assert "请于月底前拿出方案" in message.body
    assert f"{settings.SITE_URL}/items/{draft.pk}/" in message.body


def test_return_and_approval_notify_the_lead_department(
    emails, requested, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        workflow.return_request(requested, by=emails.alice, reason="缺少现场照片")
    assert notified(requested, K.RETURN) == {"bob"}
    assert mailed() == [["bob@example.gov.cn"]]
    assert "缺少现场照片" in mail.outbox[0].body
    assert "销号申请被退回" in mail.outbox[0].subject

    workflow.request_closeout(requested, by=emails.bob, outcome="已补充照片", outcome_kind="done")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        workflow.approve(requested, by=emails.alice, note="同意销号")
    assert notified(requested, K.APPROVE) == {"bob"}
    assert mailed() == [["bob@example.gov.cn"]]


def test_escalation_notifies_the_lead_department_and_the_leader(
    emails, in_progress, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        workflow.escalate(in_progress, by=emails.alice, note="挂牌督办，限期一周")
    assert notified(in_progress, K.ESCALATE) == {"bob", "lena"}
    assert mailed() == [["bob@example.gov.cn"], ["lena@example.gov.cn"]]
    assert "挂牌督办，限期一周" in mail.outbox[0].body


def test_every_active_official_is_told_and_inactive_ones_and_the_actor_are_not(
    emails, requested, django_capture_on_commit_callbacks
):
    make_user("bob2", role="official", department=emails.edu, email="bob2@example.gov.cn")
    make_user("gone", role="official", department=emails.edu, is_active=False, email="g@x.cn")
    make_user("quiet", role="official", department=emails.edu)  # no address: in-app only
    with django_capture_on_commit_callbacks(execute=True):
        workflow.return_request(requested, by=emails.alice, reason="再核实")
    assert notified(requested, K.RETURN) == {"bob", "bob2", "quiet"}
    assert mailed() == [["bob2@example.gov.cn"], ["bob@example.gov.cn"]]


def test_the_actor_is_never_notified(emails, in_progress):
    # A person holds one role, so no transition today has its actor among the recipients;
    # the rule is checked on an escalation that names the lead department's own official.
    escalation = Event(item=in_progress, actor=emails.bob, kind=Event.Kind.ESCALATE)
    ids = [pk for pk, _email in notifications.recipients(escalation)]
    assert emails.bob.pk not in ids
    assert emails.lena.pk in ids


def test_other_transitions_notify_nobody(emails, assigned, django_capture_on_commit_callbacks):
    before = Notification.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        workflow.start(assigned, by=emails.bob)
        workflow.post_progress(assigned, by=emails.carol, text="配合排查", percent=10)
        workflow.request_closeout(assigned, by=emails.bob, outcome="完成", outcome_kind="done")
        workflow.comment(assigned, by=emails.lena, text="请督查室把关")
    assert Notification.objects.count() == before
    assert mail.outbox == []


# --- Nothing for a change that did not happen ----------------------------------------------------


def test_a_refused_transition_notifies_nobody(
    emails, requested, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(workflow.NotAllowed):
            workflow.approve(requested, by=emails.bob)
        with pytest.raises(workflow.Invalid):
            workflow.escalate(requested, by=emails.alice, note="  ")
    assert not Notification.objects.filter(item=requested).exclude(kind=K.ASSIGN).exists()
    assert callbacks == []
    assert mail.outbox == []


def test_a_stale_transition_notifies_nobody(emails, requested, django_capture_on_commit_callbacks):
    seen = Item.objects.get(pk=requested.pk)
    workflow.return_request(requested, by=emails.alice, reason="再核实")
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(workflow.Stale),
    ):
        workflow.approve(seen, by=emails.alice)
    assert not Notification.objects.filter(kind=K.APPROVE).exists()
    assert callbacks == []


def test_a_rolled_back_transition_leaves_no_notification_and_sends_no_mail(
    emails, requested, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        workflow.approve(requested, by=emails.alice)
        raise RuntimeError("something later in the same request failed")
    assert Item.objects.get(pk=requested.pk).state == Item.State.REQUESTED
    assert not Notification.objects.filter(kind=K.APPROVE).exists()
    assert callbacks == []
    assert mail.outbox == []


def test_a_mail_server_that_fails_does_not_undo_the_transition(
    emails, requested, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    def down(self, messages):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", down)
    with (
        caplog.at_level(logging.ERROR, logger="ledger.notifications"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        workflow.approve(requested, by=emails.alice)
    assert Item.objects.get(pk=requested.pk).state == Item.State.CLOSED
    assert notified(requested, K.APPROVE) == {"bob"}
    assert "Could not email" in caplog.text


def test_emails_speak_chinese_whatever_the_actors_language(
    emails, requested, django_capture_on_commit_callbacks
):
    with override("en"), django_capture_on_commit_callbacks(execute=True):
        workflow.return_request(requested, by=emails.alice, reason="再核实")
    assert "销号申请被退回" in mail.outbox[0].subject
    assert "退回理由：再核实" in mail.outbox[0].body


def test_notify_costs_a_fixed_number_of_queries(emails, draft):
    for n in range(5):
        make_user(f"edu{n}", role="official", department=emails.edu, email=f"e{n}@x.cn")
    event = workflow.assign(
        draft,
        by=emails.alice,
        leader=emails.leader,
        lead_department=emails.edu,
        deadline=in_days(9),
        co_departments=[emails.traffic],
    )
    Notification.objects.all().delete()
    with CaptureQueriesContext(connection) as queries:
        notifications.notify(event)
    # The departments with a group robot (none here), who, then one INSERT for all of them.
    assert len(queries) == 3
    assert Notification.objects.count() == 7


# --- The list page and the header ---------------------------------------------------------------


def make_notification(user, item: Item, kind: str = K.ASSIGN, **kw) -> Notification:
    return Notification.objects.create(recipient=user, item=item, kind=kind, **kw)


def test_the_list_shows_only_the_users_own_newest_first(client, cast, assigned):
    Notification.objects.all().delete()
    other = make_item(cast.round, title="另一个事项", state="in_progress", lead_department=cast.edu)
    now = timezone.now()
    make_notification(cast.bob, assigned, K.ASSIGN, created_at=now - datetime.timedelta(hours=2))
    make_notification(cast.bob, other, K.ESCALATE, created_at=now)
    make_notification(cast.carol, assigned, K.RETURN, created_at=now)
    client.force_login(cast.bob)
    response = client.get(reverse("ledger:notifications"))
    assert response.status_code == 200
    rows = list(response.context["notifications"])
    assert [(n.item_id, n.kind) for n in rows] == [(other.pk, "escalate"), (assigned.pk, "assign")]
    page = response.content.decode()
    assert page.index("另一个事项") < page.index(assigned.title)
    assert reverse("ledger:item", args=[other.pk]) in page
    assert "销号申请被退回" not in page  # carol's


def test_the_header_shows_the_unread_count(client, cast, assigned):
    client.force_login(cast.bob)
    page = client.get(reverse("ledger:notifications")).content.decode()
    assert f'href="{reverse("ledger:notifications")}"' in page
    assert "1 条未读" in page
    Notification.objects.filter(recipient=cast.bob).update(read_at=timezone.now())
    page = client.get(reverse("ledger:notifications")).content.decode()
    assert "条未读" not in page
    assert "badge-unread" not in page


def test_the_unread_count_is_one_query_and_only_when_used(cast, assigned):
    request = RequestFactory().get("/")
    request.user = cast.bob
    with CaptureQueriesContext(connection) as queries:
        context = site(request)
    assert len(queries) == 0
    with CaptureQueriesContext(connection) as queries:
        assert int(str(context["UNREAD_NOTIFICATIONS"])) == 1
        assert context["UNREAD_NOTIFICATIONS"]
    assert len(queries) == 1
    assert "COUNT" in queries[0]["sql"].upper()


def test_unread_notifications_are_marked_and_an_empty_list_says_so(client, cast, assigned):
    client.force_login(cast.bob)
    page = client.get(reverse("ledger:notifications")).content.decode()
    assert "notice-unread" in page and "未读" in page
    client.force_login(cast.dave)
    page = client.get(reverse("ledger:notifications")).content.decode()
    assert "暂无通知" in page


def test_mark_all_read(client, cast, assigned):
    make_notification(cast.bob, assigned, K.ESCALATE)
    make_notification(cast.carol, assigned, K.ESCALATE)
    client.force_login(cast.bob)
    response = client.post(reverse("ledger:notifications-read"))
    assert response.status_code == 302
    assert response.url == reverse("ledger:notifications")
    assert not Notification.objects.filter(recipient=cast.bob, read_at__isnull=True).exists()
    assert Notification.objects.filter(recipient=cast.carol, read_at__isnull=True).count() == 2


def test_mark_one_read_and_go_back(client, cast, assigned):
    first = Notification.objects.get(recipient=cast.bob)
    second = make_notification(cast.bob, assigned, K.ESCALATE)
    client.force_login(cast.bob)
    back = reverse("ledger:notifications") + f"?before={second.pk}"
    response = client.post(reverse("ledger:notifications-read"), {"id": first.pk, "next": back})
    assert (response.status_code, response.url) == (302, back)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None
    assert second.read_at is None


def test_mark_read_ignores_a_next_that_leaves_the_site(client, cast, assigned):
    client.force_login(cast.bob)
    response = client.post(reverse("ledger:notifications-read"), {"next": "https://evil.example/"})
    assert response.url == reverse("ledger:notifications")


def test_get_on_mark_read_is_405(client, cast, assigned):
    client.force_login(cast.bob)
    assert client.get(reverse("ledger:notifications-read")).status_code == 405
    assert Notification.objects.filter(recipient=cast.bob, read_at__isnull=True).exists()


def test_another_users_notification_cannot_be_marked(client, cast, assigned):
    carols = Notification.objects.get(recipient=cast.carol)
    client.force_login(cast.bob)
    response = client.post(reverse("ledger:notifications-read"), {"id": carols.pk})
    assert response.status_code == 404
    assert client.post(reverse("ledger:notifications-read"), {"id": "x"}).status_code == 404
    carols.refresh_from_db()
    assert carols.read_at is None


def test_the_pages_need_a_sign_in(client, cast):
    for url in [reverse("ledger:notifications"), reverse("ledger:notifications-read")]:
        response = client.post(url) if url.endswith("read/") else client.get(url)
        assert response.status_code == 302
        assert reverse("login") in response.url


def test_the_list_is_paged_by_keyset_without_count(client, cast, assigned):
    Notification.objects.all().delete()
    at = timezone.now()
    # Many share one moment, as the notifications of one event do: the id breaks the tie.
    Notification.objects.bulk_create(
        Notification(recipient=cast.bob, item=assigned, kind=K.ASSIGN, created_at=at)
        for _ in range(60)
    )
    client.force_login(cast.bob)
    with CaptureQueriesContext(connection) as queries:
        first = client.get(reverse("ledger:notifications"))
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    # Only the header's unread count: the page itself never counts the history.
    assert len(counts) == 1 and "read_at" in counts[0]
    rows = list(first.context["notifications"])
    assert len(rows) == 50
    older = first.context["older"]
    assert older == rows[-1].pk
    second = client.get(reverse("ledger:notifications"), {"before": older})
    rest = list(second.context["notifications"])
    assert len(rest) == 10
    assert second.context["older"] is None
    ids = [n.pk for n in rows + rest]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == 60
