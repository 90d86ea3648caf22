"""Notifications of corrections: a change of assignment, a withdrawal or merge, and the
decision on an extension; who is told, what the list and the email say."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ledger import workflow
from ledger.models import Item, Notification, User

from .factory import in_days, make_item, make_user

K = Notification.Kind
LIST = reverse("ledger:notifications")


@pytest.fixture
def emails(cast, settings):
    """Everyone has an address, and emails are written in English, so that the texts below
    read the same before and after the catalogue is translated."""
    settings.LANGUAGE_CODE = "en"
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


def mail_to(username: str) -> mail.EmailMessage:
    (message,) = [m for m in mail.outbox if m.to == [f"{username}@example.gov.cn"]]
    return message


def page_of(client, user) -> str:
    client.force_login(user)
    client.cookies["django_language"] = "en"
    response = client.get(LIST)
    assert response.status_code == 200
    return response.content.decode()


def reassign_to_traffic(cast, item: Item) -> None:
    """From 教育局 leading with 交通局 sharing, to 交通局 leading with 卫健委 sharing."""
    workflow.reassign(
        item,
        by=cast.alice,
        reason="职责划分调整",
        leader=cast.leader,
        lead_department=cast.traffic,
        co_departments=[cast.health],
        deadline=item.deadline,
    )


# --- 调整交办 -------------------------------------------------------------------------------------


def test_a_change_of_assignment_tells_the_departments_that_gain_lose_and_keep_it(
    emails, in_progress, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        reassign_to_traffic(emails, in_progress)
    # 教育局 lost it, 交通局 keeps it (now leading), 卫健委 gained it; the supervisor who
    # changed it and the leader, who did not change, hear nothing.
    assert notified(in_progress, K.REASSIGN) == {"bob", "carol", "dave"}
    assert sorted(m.to[0] for m in mail.outbox) == [
        "bob@example.gov.cn",
        "carol@example.gov.cn",
        "dave@example.gov.cn",
    ]
    lost = mail_to("bob")
    assert "no longer your department's" in lost.body
    assert reverse("ledger:item", args=[in_progress.pk]) not in lost.body  # a 404 for them
    gained = mail_to("dave")
    assert "your department now answers for it" in gained.body
    assert reverse("ledger:item", args=[in_progress.pk]) in gained.body
    kept = mail_to("carol")
    assert "The assignment of this item was changed." in kept.body
    assert "市教育局 → 市交通运输局" in kept.body
    assert "Reason for the change: 职责划分调整" in kept.body
    assert all(in_progress.number in m.subject for m in mail.outbox)


def test_the_list_tells_each_department_what_the_change_means_for_it(client, cast, in_progress):
    reassign_to_traffic(cast, in_progress)
    url = reverse("ledger:item", args=[in_progress.pk])

    bobs = page_of(client, cast.bob)
    assert "no longer your department&#x27;s" in bobs
    assert "职责划分调整" in bobs
    # The item is out of 教育局's reach now: named, but no link to a page it cannot open.
    assert in_progress.title in bobs and f'href="{url}"' not in bobs
    assert "(no longer open to you)" in bobs

    carols = page_of(client, cast.carol)
    assert "The assignment of this item was changed." in carols
    assert "市教育局" in carols and "市交通运输局" in carols
    assert f'href="{url}"' in carols

    daves = page_of(client, cast.dave)
    assert "your department now answers for it" in daves
    assert f'href="{url}"' in daves

    alices = page_of(client, cast.alice)
    assert in_progress.title not in alices


# --- 作废 and 合并 --------------------------------------------------------------------------------


def test_a_withdrawal_tells_every_department_that_answered_for_it(
    emails, in_progress, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        workflow.withdraw(in_progress, by=emails.alice, reason="与2019-0001重复登记")
    assert notified(in_progress, K.WITHDRAW) == {"bob", "carol"}
    body = mail_to("bob").body
    assert "withdrawn from the ledger" in body
    assert "Reason: 与2019-0001重复登记" in body
    assert "Deadline" not in body  # nothing is due on a withdrawn item


def test_the_list_still_shows_a_withdrawn_item_and_why(client, cast, in_progress):
    workflow.withdraw(in_progress, by=cast.alice, reason="误建事项")
    page = page_of(client, cast.carol)
    assert in_progress.number in page and in_progress.title in page
    assert "withdrawn from the ledger" in page
    assert "Reason：" in page and "误建事项" in page
    assert "badge-withdrawn" in page


def test_withdrawing_a_draft_tells_nobody(cast, draft):
    draft.lead_department = cast.edu  # a proposal only: nobody has been handed the draft
    draft.save(update_fields=["lead_department"])
    workflow.withdraw(draft, by=cast.alice, reason="误建")
    assert not Notification.objects.exists()


def test_a_merge_names_the_item_the_work_went_to(
    emails, in_progress, django_capture_on_commit_callbacks, client
):
    other = make_item(emails.round, title="同一问题的另一事项")
    with django_capture_on_commit_callbacks(execute=True):
        workflow.merge(in_progress, into=other, by=emails.alice, note="同一问题")
    assert notified(in_progress, K.WITHDRAW) == {"bob", "carol"}
    assert f"merged into item {other.number}" in mail_to("bob").body
    page = page_of(client, emails.bob)
    assert f"merged into item {other.number}" in page


# --- Decisions on extensions ---------------------------------------------------------------------


@pytest.fixture
def asked(cast, assigned) -> Item:
    """教育局 (bob) asks to move the deadline from 30 to 60 days from now."""
    workflow.request_extension(
        assigned, by=cast.bob, new_deadline=in_days(60), reason="需协调专项资金"
    )
    make_user("bob2", role="official", department=cast.edu, email="bob2@example.gov.cn")
    return assigned


def test_a_granted_extension_tells_the_requester_and_the_lead_department(
    emails, asked, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        workflow.grant_extension(asked, by=emails.alice)
    # Not 交通局, which shares the item but asked nothing; not the supervisor who decided.
    assert notified(asked, K.EXTENSION_GRANT) == {"bob", "bob2"}
    body = mail_to("bob").body
    assert f"the new deadline is {in_days(60).isoformat()}" in body
    assert "as asked" not in body


def test_another_date_than_asked_is_said(emails, asked, django_capture_on_commit_callbacks, client):
    with django_capture_on_commit_callbacks(execute=True):
        workflow.grant_extension(asked, by=emails.alice, deadline=in_days(45), note="最多45天")
    text = f"granted to {in_days(45).isoformat()}, not to {in_days(60).isoformat()} as asked"
    assert text in mail_to("bob2").body
    assert text in page_of(client, emails.bob)


def test_the_requester_is_told_even_after_leaving_the_department(cast, asked):
    cast.bob.department = cast.health
    cast.bob.save(update_fields=["department"])
    workflow.refuse_extension(asked, by=cast.alice, reason="时限不宜再延")
    assert notified(asked, K.EXTENSION_REFUSE) == {"bob", "bob2"}


def test_a_refused_extension_says_so_with_the_reason(
    emails, asked, django_capture_on_commit_callbacks, client
):
    with django_capture_on_commit_callbacks(execute=True):
        workflow.refuse_extension(asked, by=emails.alice, reason="时限不宜再延")
    assert notified(asked, K.EXTENSION_REFUSE) == {"bob", "bob2"}
    body = mail_to("bob").body
    assert f"extend the deadline to {in_days(60).isoformat()} was refused" in body
    assert "Reason: 时限不宜再延" in body
    page = page_of(client, User.objects.get(username="bob2"))
    assert "was refused" in page and "时限不宜再延" in page


# --- The list -------------------------------------------------------------------------------------


def test_the_list_reads_a_fixed_number_of_queries_whatever_the_items(client, cast):
    def queries_for(n: int) -> int:
        Notification.objects.all().delete()
        for _ in range(n):
            item = make_item(cast.round, state="in_progress", lead_department=cast.edu)
            item.deadline = in_days(20)
            item.save(update_fields=["deadline"])
            workflow.withdraw(item, by=cast.alice, reason="误建")
        client.force_login(cast.bob)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(LIST).status_code == 200
        return len(queries)

    assert queries_for(2) == queries_for(12)


def test_the_empty_list_names_every_kind_of_notice(client, cast):
    page = page_of(client, cast.dave)
    assert "reassigned" in page and "withdrawn" in page and "extension" in page
