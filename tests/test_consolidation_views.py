"""The consolidation page: groups shown, accepted, split, merged, attached; refusals."""

from __future__ import annotations

import random

import pytest
from django.urls import reverse

from ledger import workflow
from ledger.intake.consolidation import round_counts
from ledger.models import Event, Item, Suggestion

from .factory import make_category, make_item, make_suggestion

pytestmark = pytest.mark.django_db

SAME = [
    "学校门口上下学时段交通拥堵，希望增派交警疏导。",
    "学校门口上下学时段交通拥堵 希望增派交警疏导",
]
OTHER = "医院看病排队时间太长，挂号难，建议推行分时段预约。"
THIRD = "小区垃圾清运不及时，夏天臭味很大，希望环卫部门管一管。"


@pytest.fixture
def waiting(cast):
    traffic = make_category(cast.round, "交通建设", order=1)
    make_category(cast.round, "社会保障", order=2)
    a = make_suggestion(cast.round, seq=1, text=SAME[0], category_text="交通")
    b = make_suggestion(cast.round, seq=2, text=SAME[1], category_text="交通")
    c = make_suggestion(cast.round, seq=3, text=OTHER, category_text="就医")
    d = make_suggestion(cast.round, seq=4, text=THIRD, category_text="环境")
    return {"a": a, "b": b, "c": c, "d": d, "traffic": traffic}


def url(cast, name="consolidate"):
    return reverse(f"intake:{name}", args=[cast.round.pk])


def confirm_data(groups, picks, **extra):
    """POST data as the page sends it: every group shown, those in ``picks`` ticked."""
    data = {"page": "1", "group": [], "pick": []}
    for key, members, title in groups:
        data["group"].append(str(key))
        data[f"members-{key}"] = ",".join(map(str, members))
        data[f"title-{key}"] = title
        data[f"category-{key}"] = ""
        data[f"item-{key}"] = ""
    data["pick"] = [str(k) for k in picks]
    data.update(extra)
    return data


def test_a_supervisor_sees_the_proposed_groups_and_counts(client, cast, waiting):
    client.force_login(cast.alice)
    page = client.get(url(cast)).content.decode()
    assert "学校门口上下学时段交通拥堵，希望增派交警疏导。" in page
    assert "医院看病排队时间太长" in page
    # The pair is one card, shown first, with its category matched from "交通".
    first = page.index(f'id="g{waiting["a"].pk}"')
    assert first < page.index(f'id="g{waiting["c"].pk}"')
    assert f'name="members-{waiting["a"].pk}" value="{waiting["a"].pk},{waiting["b"].pk}"' in page
    assert f'<option value="{waiting["traffic"].pk}" selected>' in page
    assert "收到 4 条" in page


@pytest.mark.parametrize("who", ["bob", "lena", "nobody"])
def test_anyone_else_gets_404(client, cast, waiting, who):
    client.force_login(getattr(cast, who))
    assert client.get(url(cast)).status_code == 404
    assert client.post(url(cast, "consolidate-confirm"), {}).status_code == 404
    assert Item.objects.count() == 0


def test_a_visitor_is_sent_to_sign_in(client, cast):
    assert client.get(url(cast)).status_code == 302


def test_changes_refuse_get(client, cast):
    client.force_login(cast.alice)
    for name in ("consolidate-confirm", "consolidate-merge", "consolidate-split"):
        assert client.get(url(cast, name)).status_code == 405


def test_accepting_groups_creates_one_draft_item_each_with_every_suggestion(client, cast, waiting):
    make_item(cast.round, number="2019-0007", title="已有事项")
    a, b, c = waiting["a"], waiting["b"], waiting["c"]
    data = confirm_data(
        [(a.pk, [a.pk, b.pk], "学校门口交通拥堵"), (c.pk, [c.pk], "医院挂号难")], [a.pk, c.pk]
    )
    data[f"category-{a.pk}"] = str(waiting["traffic"].pk)
    client.force_login(cast.alice)
    response = client.post(url(cast, "consolidate-confirm"), data, follow=True)
    assert response.status_code == 200
    first = Item.objects.get(number="2019-0008")
    second = Item.objects.get(number="2019-0009")
    assert (first.title, first.state, first.category) == (
        "学校门口交通拥堵",
        "draft",
        waiting["traffic"],
    )
    assert sorted(first.suggestions.values_list("seq", flat=True)) == [1, 2]
    assert list(second.suggestions.values_list("seq", flat=True)) == [3]
    assert round_counts(cast.round) == (4, 3, 1)
    page = response.content.decode()
    assert "小区垃圾清运不及时" in page and "学校门口上下学" not in page


def test_every_group_on_the_page_at_once(client, cast, waiting):
    a, b, c, d = (waiting[k] for k in "abcd")
    data = confirm_data(
        [(a.pk, [a.pk, b.pk], "甲"), (c.pk, [c.pk], "乙"), (d.pk, [d.pk], "丙")], [], all="1"
    )
    client.force_login(cast.alice)
    client.post(url(cast, "consolidate-confirm"), data)
    assert round_counts(cast.round) == (4, 3, 0)
    page = client.get(url(cast)).content.decode()
    assert "收到 4 条" in page
    assert "本批次的意见建议都已归入事项" in page


def test_a_suggestion_consolidated_meanwhile_refuses_the_confirm(client, cast, waiting):
    a, b, c = waiting["a"], waiting["b"], waiting["c"]
    other = make_item(cast.round, number="2019-0001", title="别人刚建的事项")
    Suggestion.objects.filter(pk=b.pk).update(item=other)
    data = confirm_data(
        [(a.pk, [a.pk, b.pk], "我填的标题"), (c.pk, [c.pk], "医院挂号难")], [a.pk, c.pk]
    )
    client.force_login(cast.alice)
    response = client.post(url(cast, "consolidate-confirm"), data)
    assert response.status_code == 409
    page = response.content.decode()
    assert "2019-0001" in page and "别人刚建的事项" in page
    assert "医院挂号难" in page  # what was typed is kept
    assert Item.objects.count() == 1
    assert Suggestion.objects.filter(item__isnull=False).count() == 1


def test_a_missing_title_is_shown_beside_the_field_and_nothing_written(client, cast, waiting):
    a, b = waiting["a"], waiting["b"]
    client.force_login(cast.alice)
    response = client.post(
        url(cast, "consolidate-confirm"), confirm_data([(a.pk, [a.pk, b.pk], "")], [a.pk])
    )
    assert response.status_code == 400
    assert f'id="title-{a.pk}-error"' in response.content.decode()
    assert Item.objects.count() == 0


def test_nothing_ticked_is_refused(client, cast, waiting):
    a, b = waiting["a"], waiting["b"]
    client.force_login(cast.alice)
    response = client.post(
        url(cast, "consolidate-confirm"), confirm_data([(a.pk, [a.pk, b.pk], "x")], [])
    )
    assert response.status_code == 400
    assert Item.objects.count() == 0


def test_split_takes_a_suggestion_out_of_its_group(client, cast, waiting):
    a, b = waiting["a"], waiting["b"]
    client.force_login(cast.alice)
    client.post(url(cast, "consolidate-split"), {"split": b.pk, "page": "1"})
    page = client.get(url(cast)).content.decode()
    assert f'name="members-{a.pk}" value="{a.pk}"' in page
    assert f'name="members-{b.pk}" value="{b.pk}"' in page
    # and back as proposed
    client.post(url(cast, "consolidate-reset"))
    page = client.get(url(cast)).content.decode()
    assert f'value="{a.pk},{b.pk}"' in page


def test_merge_makes_one_group_that_becomes_one_item(client, cast, waiting):
    c, d = waiting["c"], waiting["d"]
    client.force_login(cast.alice)
    client.post(url(cast, "consolidate-merge"), {"pick": [c.pk, d.pk], "page": "1"})
    page = client.get(url(cast)).content.decode()
    assert f'name="members-{c.pk}" value="{c.pk},{d.pk}"' in page
    client.post(
        url(cast, "consolidate-confirm"), confirm_data([(c.pk, [c.pk, d.pk], "民生问题")], [c.pk])
    )
    item = Item.objects.get(title="民生问题")
    assert sorted(item.suggestions.values_list("seq", flat=True)) == [3, 4]


def test_merge_needs_two_groups(client, cast, waiting):
    client.force_login(cast.alice)
    response = client.post(url(cast, "consolidate-merge"), {"pick": [waiting["c"].pk]}, follow=True)
    assert "请至少勾选两组再合并。" in response.content.decode()


def test_a_group_joins_an_existing_item_by_its_number(client, cast, waiting):
    existing = make_item(cast.round, number="2019-0005", title="学校周边交通拥堵")
    old = make_suggestion(cast.round, seq=99, text="早先的一条", item=existing)
    a, b = waiting["a"], waiting["b"]
    data = confirm_data([(a.pk, [a.pk, b.pk], "")], [a.pk])
    data[f"item-{a.pk}"] = "2019-0005"
    client.force_login(cast.alice)
    client.post(url(cast, "consolidate-confirm"), data)
    assert sorted(existing.suggestions.values_list("pk", flat=True)) == sorted([old.pk, a.pk, b.pk])
    assert Item.objects.count() == 1


def test_an_unknown_item_number_is_shown_beside_the_field(client, cast, waiting):
    a, b = waiting["a"], waiting["b"]
    data = confirm_data([(a.pk, [a.pk, b.pk], "")], [a.pk])
    data[f"item-{a.pk}"] = "2019-9999"
    client.force_login(cast.alice)
    response = client.post(url(cast, "consolidate-confirm"), data)
    assert response.status_code == 400
    page = response.content.decode()
    assert f'id="item-{a.pk}-error"' in page and 'value="2019-9999"' in page
    assert Suggestion.objects.filter(item__isnull=False).count() == 0


def test_a_large_round_is_paged_with_a_bounded_number_of_queries(
    client, cast, django_assert_max_num_queries
):
    rng = random.Random(4)
    pool = "学校医院道路路灯垃圾噪音停车公交低保医保教师食堂农贸市场排水供电网络养老就业"
    Suggestion.objects.bulk_create(
        Suggestion(round=cast.round, seq=i, text="".join(rng.sample(pool, 16)))
        for i in range(1, 401)
    )
    client.force_login(cast.alice)
    # The first look groups the round and keeps the proposal (a transaction of its own);
    # every later one reads it.
    with django_assert_max_num_queries(25):
        first = client.get(url(cast)).content.decode()
    with django_assert_max_num_queries(12):
        second = client.get(url(cast) + "?page=2").content.decode()
    assert first.count('name="group"') == 30 and second.count('name="group"') == 30
    assert "第 1 页，共 " in first and "第 2 页，共 " in second


def test_a_late_resend_of_an_item_in_the_ledger_is_proposed_to_join_it(client, cast, waiting):
    existing = make_item(cast.round, number="2019-0003", title="医院挂号难")
    make_suggestion(
        cast.round, seq=50, text="医院看病排队时间太长，挂号难。建议推行分时段预约！", item=existing
    )
    client.force_login(cast.alice)
    page = client.get(url(cast)).content.decode()
    c = waiting["c"]
    assert f'name="item-{c.pk}" value="2019-0003"' in page
    assert page.index(f'id="g{c.pk}"') < page.index(f'id="g{waiting["a"].pk}"')
    client.post(
        url(cast, "consolidate-confirm"),
        confirm_data([(c.pk, [c.pk], "医院看病排队")], [c.pk], **{f"item-{c.pk}": "2019-0003"}),
    )
    assert sorted(existing.suggestions.values_list("seq", flat=True)) == [3, 50]
    assert round_counts(cast.round) == (5, 1, 3)


def test_the_same_suggestion_in_two_groups_is_refused(client, cast, waiting):
    a, b = waiting["a"], waiting["b"]
    client.force_login(cast.alice)
    data = confirm_data([(a.pk, [a.pk, b.pk], "甲"), (b.pk, [b.pk], "乙")], [a.pk, b.pk])
    response = client.post(url(cast, "consolidate-confirm"), data)
    assert response.status_code == 409
    assert Item.objects.count() == 0


def test_the_whole_round_at_once_keeps_splits_and_joins_repeats(client, cast, waiting):
    existing = make_item(cast.round, number="2019-0003", title="医院挂号难")
    make_suggestion(
        cast.round, seq=50, text="医院看病排队时间太长，挂号难。建议推行分时段预约！", item=existing
    )
    a, b = waiting["a"], waiting["b"]
    client.force_login(cast.alice)
    client.post(url(cast, "consolidate-split"), {"split": b.pk})
    response = client.post(url(cast, "consolidate-all"))
    assert response.status_code == 302
    job = client.get(response["Location"])
    assert job.status_code == 200
    # a and b (split) and d became three new drafts; c joined 2019-0003.
    assert round_counts(cast.round) == (5, 4, 0)
    assert sorted(existing.suggestions.values_list("seq", flat=True)) == [3, 50]
    new = Item.objects.exclude(pk=existing.pk)
    assert sorted(new.values_list("number", flat=True)) == ["2019-0004", "2019-0005", "2019-0006"]
    assert new.get(suggestions=a).title == SAME[0]
    assert new.get(suggestions=a).category == waiting["traffic"]
    assert all(i.state == "draft" for i in new)


def test_the_whole_round_job_refuses_when_nothing_waits(client, cast):
    client.force_login(cast.alice)
    response = client.post(url(cast, "consolidate-all"))
    page = client.get(response["Location"]).content.decode()
    assert "本批次没有待归纳的意见建议" in page
    assert Item.objects.count() == 0


def test_each_new_item_begins_its_history_with_the_suggestions_it_was_made_of(
    client, cast, waiting
):
    a, b, c = waiting["a"], waiting["b"], waiting["c"]
    existing = make_item(cast.round, number="2019-0001", title="已有事项")
    data = confirm_data(
        [(a.pk, [a.pk, b.pk], "学校门口交通拥堵"), (c.pk, [c.pk], "")], [a.pk, c.pk]
    )
    data[f"item-{c.pk}"] = existing.number
    client.force_login(cast.alice)
    client.post(url(cast, "consolidate-confirm"), data)
    made = Item.objects.get(title="学校门口交通拥堵")
    (event,) = made.events.all()
    assert (event.kind, event.actor, event.from_state, event.to_state) == (
        Event.Kind.CREATE,
        cast.alice,
        "draft",
        "draft",
    )
    assert event.data == {"how": "consolidation", "suggestions": [1, 2]}
    # Joining an item that exists is no creation.
    assert not existing.events.exists()


def test_the_whole_round_job_records_each_creation_too(client, cast, waiting):
    client.force_login(cast.alice)
    client.post(url(cast, "consolidate-all"))
    creations = Event.objects.filter(kind=Event.Kind.CREATE)
    assert sorted(s for e in creations for s in e.data["suggestions"]) == [1, 2, 3, 4]
    assert {e.item_id for e in creations} == set(Item.objects.values_list("pk", flat=True))


def test_a_withdrawn_item_keeps_its_number_and_new_items_come_after_it(client, cast, waiting):
    make_item(cast.round, number="2019-0001", title="保留的事项")
    gone = make_item(cast.round, number="2019-0002", title="误建的事项")
    workflow.withdraw(gone, by=cast.alice, reason="误建")
    a, b = waiting["a"], waiting["b"]
    data = confirm_data([(a.pk, [a.pk, b.pk], "学校门口交通拥堵")], [a.pk])
    client.force_login(cast.alice)
    response = client.post(url(cast, "consolidate-confirm"), data)
    assert response.status_code == 302
    assert Item.objects.get(title="学校门口交通拥堵").number == "2019-0003"
