"""Bulk assignment reuses what the drafts propose (拟交办): the form starts from it, an empty
field takes each item's own, and 按拟定交办 assigns each ticked draft with its own proposal."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from ledger import workflow
from ledger.models import Event, Item

from .factory import in_days, make_item

BULK = reverse("ledger:bulk-assign")
SUBMIT = reverse("ledger:bulk-assign-submit")


def proposed(cast, title: str, **kw) -> Item:
    """A draft whose ledger row proposed 黄建国, 教育局 leading with 交通局, in 40 days."""
    item = make_item(
        cast.round,
        title=title,
        **(
            {
                "leader": cast.leader,
                "lead_department": cast.edu,
                "deadline": in_days(40),
                "responsible_person": "教育局副局长",
            }
            | kw
        ),
    )
    item.co_departments.set([cast.traffic])
    return item


def ticks(*items: Item) -> list[str]:
    return [f"{i.pk}:{i.version}" for i in items]


@pytest.fixture
def supervisor(client, cast):
    client.force_login(cast.alice)
    client.cookies["django_language"] = "en"
    return client


def selected(page: str, name: str) -> list[str]:
    """The values selected in the form's <select name=…>."""
    select = re.search(rf'<select name="{name}".*?</select>', page, re.S).group(0)
    return re.findall(r'<option value="([^"]*)" selected', select)


# --- The form starts from the proposal -----------------------------------------------------------


def test_the_form_starts_from_what_every_draft_on_the_page_proposes(supervisor, cast):
    proposed(cast, "学校门口拥堵")
    proposed(cast, "校车不足")
    page = supervisor.get(BULK).content.decode()
    assert selected(page, "leader") == [str(cast.leader.pk)]
    assert selected(page, "lead_department") == [str(cast.edu.pk)]
    assert selected(page, "co_departments") == [str(cast.traffic.pk)]
    assert f'value="{in_days(40).isoformat()}"' in page
    assert 'value="教育局副局长"' in page
    # Each row says what it proposes, co-responsible departments and person included.
    assert page.count("市交通运输局") >= 2


def test_drafts_that_propose_differently_leave_the_field_to_each(supervisor, cast):
    proposed(cast, "学校门口拥堵")
    proposed(cast, "医院挂号难", lead_department=cast.health, deadline=in_days(20))
    page = supervisor.get(BULK).content.decode()
    assert selected(page, "leader") == [str(cast.leader.pk)]
    assert selected(page, "lead_department") == [""]
    assert "As each item proposes" in page


# --- An empty field is each item's own -----------------------------------------------------------


def test_fields_left_empty_assign_each_item_with_its_own_proposal(supervisor, cast):
    school = proposed(cast, "学校门口拥堵")
    market = proposed(
        cast,
        "农贸市场脏乱",
        leader=cast.other_leader,
        lead_department=cast.health,
        deadline=None,
        long_term=True,
        responsible_person="卫健委主任",
    )
    market.co_departments.set([])
    response = supervisor.post(SUBMIT, {"selection": ticks(school, market)})
    assert response.status_code == 302
    school.refresh_from_db()
    market.refresh_from_db()
    assert (school.state, school.leader, school.lead_department, school.deadline) == (
        Item.State.ASSIGNED,
        cast.leader,
        cast.edu,
        in_days(40),
    )
    assert list(school.co_departments.all()) == [cast.traffic]
    assert school.responsible_person == "教育局副局长"
    assert (market.state, market.leader, market.lead_department) == (
        Item.State.ASSIGNED,
        cast.other_leader,
        cast.health,
    )
    assert (market.long_term, market.deadline, market.responsible_person) == (
        True,
        None,
        "卫健委主任",
    )


def test_a_field_filled_in_replaces_that_part_of_every_proposal(supervisor, cast):
    school = proposed(cast, "学校门口拥堵")
    response = supervisor.post(
        SUBMIT,
        {"selection": ticks(school), "lead_department": cast.health.pk, "deadline": ""},
    )
    assert response.status_code == 302
    school.refresh_from_db()
    assert (school.state, school.leader, school.lead_department, school.deadline) == (
        Item.State.ASSIGNED,
        cast.leader,
        cast.health,
        in_days(40),
    )
    assert school.events.get(kind=Event.Kind.ASSIGN).data["lead_department"] == "市卫生健康委"


def test_an_item_lacking_what_the_form_leaves_empty_stops_the_batch_and_is_named(supervisor, cast):
    school = proposed(cast, "学校门口拥堵")
    bare = make_item(cast.round, title="无拟定的草稿")
    response = supervisor.post(SUBMIT, {"selection": ticks(school, bare)})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was assigned." in page
    assert bare.number in page and "no responsible leader" in page and "no deadline" in page
    assert re.search(rf'value="{bare.pk}:{bare.version}"[^>]*checked', page)
    school.refresh_from_db()
    assert school.state == Item.State.DRAFT
    assert not Event.objects.filter(kind=Event.Kind.ASSIGN).exists()


# --- 按拟定交办 -----------------------------------------------------------------------------------


def test_assign_as_proposed_assigns_the_complete_ones_and_lists_the_others(supervisor, cast):
    school = proposed(cast, "学校门口拥堵")
    kept_up = proposed(cast, "长期坚持的事项", deadline=None, long_term=True)
    no_lead = proposed(cast, "未定牵头部门", lead_department=None)
    late = proposed(cast, "期限已过", deadline=in_days(-3))
    data = {
        "selection": ticks(school, kept_up, no_lead, late),
        "as_proposed": "1",
        # What the fields say plays no part, even when it would be refused.
        "leader": cast.other_leader.pk,
        "deadline": in_days(-1).isoformat(),
    }
    response = supervisor.post(SUBMIT, data)
    assert response.status_code == 200
    page = response.content.decode()
    assert "2 items were assigned as proposed." in page
    assert "2 ticked items were not assigned:" in page
    assert "no lead department" in page
    assert f"its deadline {in_days(-3).isoformat()} has passed" in page
    for item in (school, kept_up):
        item.refresh_from_db()
        assert (item.state, item.leader, item.lead_department) == (
            Item.State.ASSIGNED,
            cast.leader,
            cast.edu,
        )
        assert list(item.co_departments.all()) == [cast.traffic]
    assert kept_up.long_term and kept_up.deadline is None
    for item in (no_lead, late):
        item.refresh_from_db()
        assert item.state == Item.State.DRAFT
        assert re.search(rf'value="{item.pk}:{item.version}"[^>]*checked', page)
    assert school.number not in re.search(r'<div class="alert".*?</div>', page, re.S).group(0)


def test_assign_as_proposed_when_all_are_complete_goes_back_to_the_list(supervisor, cast):
    items = [proposed(cast, f"事项{n}") for n in range(3)]
    response = supervisor.post(SUBMIT, {"selection": ticks(*items), "as_proposed": "1"})
    assert response.status_code == 302
    assert response.url == BULK
    page = supervisor.get(BULK).content.decode()
    assert "3 items were assigned as proposed." in page
    assert Event.objects.filter(kind=Event.Kind.ASSIGN).count() == 3


def test_assign_as_proposed_names_an_item_changed_since_the_page_and_who_changed_it(
    supervisor, cast
):
    changed = proposed(cast, "被改动的草稿")
    other = proposed(cast, "另一草稿")
    data = {"selection": ticks(changed, other), "as_proposed": "1"}
    workflow.edit(Item.objects.get(pk=changed.pk), by=cast.alice, title="改过的标题")
    response = supervisor.post(SUBMIT, data)
    assert response.status_code == 200
    page = response.content.decode()
    assert "1 ticked item was not assigned:" in page
    assert "督查员甲 changed this item" in page
    changed.refresh_from_db()
    other.refresh_from_db()
    assert (changed.state, other.state) == (Item.State.DRAFT, Item.State.ASSIGNED)


def test_assign_as_proposed_with_nothing_assignable_is_refused(supervisor, cast):
    bare = make_item(cast.round, title="无拟定的草稿")
    response = supervisor.post(SUBMIT, {"selection": ticks(bare), "as_proposed": "1"})
    assert response.status_code == 400
    assert "1 ticked item was not assigned:" in response.content.decode()
    bare.refresh_from_db()
    assert bare.state == Item.State.DRAFT


def test_assign_as_proposed_with_nothing_ticked_asks_for_a_tick(supervisor, cast):
    proposed(cast, "学校门口拥堵")
    response = supervisor.post(SUBMIT, {"as_proposed": "1"})
    assert response.status_code == 400
    assert "Tick at least one item to assign." in response.content.decode()


def test_only_supervisors_assign_as_proposed(client, cast):
    school = proposed(cast, "学校门口拥堵")
    client.force_login(cast.bob)
    response = client.post(SUBMIT, {"selection": ticks(school), "as_proposed": "1"})
    assert response.status_code == 404
    school.refresh_from_db()
    assert school.state == Item.State.DRAFT
