"""Who sees which item: one queryset answers, and every item URL answers 404 outside it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from ledger import workflow
from ledger.models import Item
from ledger.views import ACTIONS

from .factory import in_days, make_item


def item_urls(item: Item) -> list[tuple[str, str]]:
    urls = [("get", reverse("ledger:item", args=[item.pk]))]
    urls += [("post", reverse("ledger:item-action", args=[item.pk, a])) for a in ACTIONS]
    return urls


def test_visibility_per_role(cast, assigned):
    other = make_item(cast.round)
    workflow.assign(
        other,
        by=cast.alice,
        leader=cast.other_leader,
        lead_department=cast.health,
        deadline=in_days(9),
    )
    visible = {
        u: set(Item.objects.visible_to(getattr(cast, u)))
        for u in ["alice", "bob", "carol", "dave", "lena", "nobody"]
    }
    assert visible["alice"] == {assigned, other}
    assert visible["bob"] == {assigned}  # lead department
    assert visible["carol"] == {assigned}  # co-responsible department
    assert visible["dave"] == {other}
    assert visible["lena"] == {assigned}  # the leader of the item
    assert visible["nobody"] == set()


def test_a_draft_is_the_evaluation_offices_alone_until_it_is_assigned(cast):
    draft = make_item(cast.round, lead_department=cast.edu, leader=cast.leader)
    assert list(Item.objects.visible_to(cast.alice)) == [draft]
    assert not Item.objects.visible_to(cast.bob).exists()
    assert not Item.objects.visible_to(cast.lena).exists()
    assert workflow.allowed_actions(cast.bob, draft) == []


def test_an_item_is_listed_once_even_when_shared_with_several_departments(cast, assigned):
    assigned.co_departments.add(cast.health)
    assert Item.objects.visible_to(cast.bob).count() == 1
    assert Item.objects.visible_to(cast.alice).count() == 1


def test_an_inactive_user_sees_nothing(cast, assigned):
    cast.bob.is_active = False
    assert not Item.objects.visible_to(cast.bob).exists()


@pytest.mark.parametrize("person", ["dave", "nobody"])
def test_every_item_url_is_404_outside_ones_reach(client, cast, assigned, person):
    client.force_login(getattr(cast, person))
    for method, url in item_urls(assigned):
        response = getattr(client, method)(url, {"version": assigned.version})
        assert response.status_code == 404, (method, url)
    assigned.refresh_from_db()
    assert assigned.state == Item.State.ASSIGNED
    assert assigned.events.count() == 1


def test_an_item_of_another_leader_is_404_for_a_leader(client, cast):
    other = make_item(cast.round, leader=cast.other_leader)
    client.force_login(cast.lena)
    assert client.get(reverse("ledger:item", args=[other.pk])).status_code == 404


def test_anonymous_users_are_sent_to_sign_in(client, assigned):
    for method, url in item_urls(assigned):
        response = getattr(client, method)(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_the_ledger_lists_only_what_the_user_may_see(client, cast, assigned):
    make_item(cast.round, title="卫健委的事项", lead_department=cast.health)
    client.force_login(cast.bob)
    page = client.get(reverse("ledger:items")).content.decode()
    assert assigned.title in page
    assert "卫健委的事项" not in page
