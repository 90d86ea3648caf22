"""The item's search text (``Item.search``) follows every write to the item and to its
suggestions, whoever makes it, and the keyword finds items through it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from ledger.models import Item, Suggestion

from .factory import make_item, make_suggestion


def search_of(item: Item) -> list[str]:
    return Item.objects.values_list("search", flat=True).get(pk=item.pk).split("\n")


def test_a_new_item_is_found_by_its_number_and_problem(cast):
    item = make_item(cast.round, number="2019-0007", title="学校周边交通拥堵")
    assert search_of(item) == ["2019-0007", "学校周边交通拥堵"]


def test_the_text_follows_suggestions_merged_moved_edited_and_removed(cast):
    first = make_item(cast.round, number="2019-0001", title="停车难")
    second = make_item(cast.round, number="2019-0002", title="道路拥堵")
    one = make_suggestion(cast.round, text="小区门口车辆乱停乱放", item=first)
    two = make_suggestion(cast.round, text="希望增加停车位")
    assert search_of(first) == ["2019-0001", "停车难", "小区门口车辆乱停乱放"]

    # Merged as consolidation merges: one UPDATE over many suggestions.
    Suggestion.objects.filter(pk=two.pk).update(item=first)
    assert sorted(search_of(first)[2:]) == ["小区门口车辆乱停乱放", "希望增加停车位"]

    # Moved to another item through the model: out of one, into the other.
    one.item = second
    one.save()
    assert search_of(first) == ["2019-0001", "停车难", "希望增加停车位"]
    assert search_of(second) == ["2019-0002", "道路拥堵", "小区门口车辆乱停乱放"]

    Suggestion.objects.filter(pk=one.pk).update(text="早高峰堵车一个小时")
    assert search_of(second) == ["2019-0002", "道路拥堵", "早高峰堵车一个小时"]

    # Taken back out of every item (unmerged), then deleted.
    Suggestion.objects.filter(pk=two.pk).update(item=None)
    assert search_of(first) == ["2019-0001", "停车难"]
    one.delete()
    assert search_of(second) == ["2019-0002", "道路拥堵"]


def test_the_same_words_from_two_citizens_are_kept_once(cast):
    item = make_item(cast.round, number="2019-0003", title="路灯不亮")
    for _ in range(3):
        make_suggestion(cast.round, text="路灯坏了好几个月", item=item)
    assert search_of(item) == ["2019-0003", "路灯不亮", "路灯坏了好几个月"]


def test_an_edit_to_the_item_keeps_its_suggestions_words(cast):
    item = make_item(cast.round, number="2019-0004", title="旧的问题")
    loaded = Item.objects.get(pk=item.pk)  # loaded before the suggestion came in
    make_suggestion(cast.round, text="课后托管五点就结束", item=item)

    # An instance made in Python holds an empty copy; saving it does not write that back.
    item.measures = "延长托管时间"
    item.save()
    assert search_of(item) == ["2019-0004", "旧的问题", "课后托管五点就结束"]

    loaded.title = "课后服务时间短"
    loaded.save()
    assert search_of(item) == ["2019-0004", "课后服务时间短", "课后托管五点就结束"]

    Item.objects.filter(pk=item.pk).update(number="2019-0404")
    assert search_of(item)[0] == "2019-0404"


def test_a_keyword_never_matches_across_two_suggestions(cast):
    item = make_item(cast.round, title="问题")
    make_suggestion(cast.round, text="希望增加停车", item=item)
    make_suggestion(cast.round, text="位置太少", item=item)
    assert not Item.objects.filter(search__icontains="停车位").exists()
    assert Item.objects.filter(search__icontains="停车").exists()


@pytest.mark.parametrize("typed", ["乱停乱放", "2019-0042", "ＸＹ"])
def test_the_list_finds_an_item_by_a_merged_suggestion_or_its_number(client, cast, typed):
    from ledger import workflow

    from .factory import in_days

    item = make_item(cast.round, number="2019-0042", title="停车秩序")
    other = make_item(cast.round, number="2019-0043", title="道路积水")
    suggestion = make_suggestion(cast.round, text="xy小区门口车辆乱停乱放")
    Suggestion.objects.filter(pk=suggestion.pk).update(item=item)
    for each in (item, other):
        workflow.assign(
            each,
            by=cast.alice,
            leader=cast.leader,
            lead_department=cast.edu,
            co_departments=[],
            deadline=in_days(30),
        )
    client.force_login(cast.bob)
    page = client.get(reverse("ledger:items"), {"q": typed}).content.decode()
    assert "停车秩序" in page and "道路积水" not in page


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_text_of_the_items_already_in_the_ledger():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("ledger", "0010_lead_round_number_index")], [("ledger", "0011_item_search")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    round = old.get_model("ledger", "Round").objects.create(
        name="2019年度", code="2019", year=2019, kind="annual"
    )
    item = old.get_model("ledger", "Item").objects.create(
        round=round, number="2019-0001", title="停车难"
    )
    old.get_model("ledger", "Suggestion").objects.create(
        round=round, seq=1, text="小区门口车辆乱停乱放", item=item
    )

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    assert search_of(item) == ["2019-0001", "停车难", "小区门口车辆乱停乱放"]
    # And the triggers were made and outlive the later migrations (on SQLite those that
    # rebuild a table drop them and make them again): a later suggestion is followed.
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    make_suggestion(Item.objects.get(pk=item.pk).round, text="希望增加停车位", item_id=item.pk)
    assert "希望增加停车位" in search_of(item)
