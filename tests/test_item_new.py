"""新增事项: a supervisor adds one item by hand, a draft numbered in its round's numbering."""

from __future__ import annotations

import pytest
from django.urls import reverse

from ledger import workflow
from ledger.models import Event, Item

from .factory import in_days, make_category, make_item, make_round

NEW = reverse("ledger:item-new")


@pytest.fixture
def supervisor(client, cast):
    client.force_login(cast.alice)
    return client


def data(cast, **kw) -> dict:
    return {
        "round": cast.round.pk,
        "title": "城区部分路段夜间施工噪音扰民",
        "category": "",
        "track": "joint",
        "measures": "",
        "goal": "",
        "responsible_person": "",
        "remarks": "",
        "leader": "",
        "lead_department": "",
        "deadline": "",
    } | kw


def test_a_supervisor_adds_a_draft_numbered_after_the_rounds_last_item(supervisor, cast):
    make_item(cast.round, number="2019-0001")
    # A withdrawn item keeps its number: the new one comes after it.
    gone = make_item(cast.round, number="2019-0002")
    workflow.withdraw(gone, by=cast.alice, reason="误建")
    category = make_category(cast.round, "环境保护")
    response = supervisor.post(
        NEW,
        data(
            cast,
            category=category.pk,
            measures="夜间施工一律报批",
            goal="噪音投诉下降一半",
            responsible_person="住建局副局长",
            remarks="市长热线转来",
            leader=cast.leader.pk,
            lead_department=cast.edu.pk,
            co_departments=[cast.traffic.pk],
            deadline=in_days(60).isoformat(),
        ),
    )
    item = Item.objects.get(title="城区部分路段夜间施工噪音扰民")
    assert response.status_code == 302
    assert response.url == reverse("ledger:item", args=[item.pk])
    assert (item.number, item.state, item.round, item.category, item.track) == (
        "2019-0003",
        Item.State.DRAFT,
        cast.round,
        category,
        "joint",
    )
    assert (item.measures, item.goal, item.responsible_person, item.remarks) == (
        "夜间施工一律报批",
        "噪音投诉下降一半",
        "住建局副局长",
        "市长热线转来",
    )
    assert (item.leader, item.lead_department, item.deadline) == (
        cast.leader,
        cast.edu,
        in_days(60),
    )
    assert list(item.co_departments.all()) == [cast.traffic]
    (event,) = item.events.all()
    assert (event.kind, event.actor, event.data) == (
        Event.Kind.CREATE,
        cast.alice,
        {"how": "manual"},
    )


def test_the_new_item_page_says_it_was_added(supervisor, cast):
    supervisor.cookies["django_language"] = "en"
    response = supervisor.post(NEW, data(cast), follow=True)
    assert response.status_code == 200
    item = Item.objects.get()
    page = response.content.decode()
    assert f"Item {item.number} was added to the ledger, awaiting assignment." in page
    assert item.title in page


def test_only_the_round_and_the_problem_are_needed_and_it_awaits_assignment(supervisor, cast):
    supervisor.post(NEW, data(cast, title="只有问题"))
    item = Item.objects.get(title="只有问题")
    assert (item.number, item.leader, item.lead_department, item.deadline) == (
        "2019-0001",
        None,
        None,
        None,
    )
    # It is a draft like any other: it waits in bulk assignment.
    page = supervisor.get(reverse("ledger:bulk-assign")).content.decode()
    assert f'value="{item.pk}:{item.version}"' in page


def test_a_long_term_proposal_has_no_deadline(supervisor, cast):
    supervisor.post(NEW, data(cast, long_term="on", deadline=in_days(30).isoformat()))
    item = Item.objects.get()
    assert (item.long_term, item.deadline) == (True, None)


def test_a_refused_form_keeps_what_was_typed_and_says_why_by_each_field(supervisor, cast):
    other_round = make_round(name="2020年中期", code="2020M", year=2020, kind="midyear")
    elsewhere = make_category(other_round, "教育事业")
    response = supervisor.post(
        NEW,
        data(
            cast,
            title="",
            measures="先摸排再整治",
            category=elsewhere.pk,
            deadline=in_days(-2).isoformat(),
            lead_department=cast.edu.pk,
            co_departments=[cast.edu.pk],
        ),
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "问题不能为空。" in page
    assert "请选择本批次的类别。" in page
    assert "整改时限不能早于今天。" in page
    assert "牵头部门不能同时作为责任部门。" in page
    assert "先摸排再整治" in page
    assert not Item.objects.exists()


def test_the_round_is_required(supervisor, cast):
    supervisor.cookies["django_language"] = "en"
    response = supervisor.post(NEW, data(cast, round=""))
    assert response.status_code == 400
    assert "Choose the round." in response.content.decode()
    assert not Item.objects.exists()


def test_the_round_can_be_chosen_by_the_link(supervisor, cast):
    page = supervisor.get(NEW, {"round": cast.round.pk}).content.decode()
    assert f'<option value="{cast.round.pk}" selected>' in page


@pytest.mark.parametrize("who", ["bob", "lena", "nobody"])
def test_anyone_but_a_supervisor_gets_404(client, cast, who):
    client.force_login(getattr(cast, who))
    assert client.get(NEW).status_code == 404
    assert client.post(NEW, data(cast)).status_code == 404
    assert not Item.objects.exists()


def test_a_visitor_is_sent_to_sign_in(client, cast):
    response = client.get(NEW)
    assert response.status_code == 302
    assert reverse("login") in response.url


def test_the_review_queue_and_the_ledger_link_to_it_for_supervisors_only(client, cast):
    client.force_login(cast.alice)
    assert f'href="{NEW}"' in client.get(reverse("ledger:review")).content.decode()
    assert f'href="{NEW}"' in client.get(reverse("ledger:items")).content.decode()
    client.force_login(cast.bob)
    assert f'href="{NEW}"' not in client.get(reverse("ledger:items")).content.decode()
