"""A round's categories on its intake page: what a new round starts with, add, rename,
reorder, delete (never one in use), and who may."""

from __future__ import annotations

import pytest
from django.urls import reverse

from ledger.models import DEFAULT_CATEGORIES, Category, Round

from .factory import make_category, make_item, make_round, make_suggestion


def names(round: Round) -> list[str]:
    return list(round.categories.order_by("order", "name").values_list("name", flat=True))


def create_round(client, name: str, code: str, year: int):
    return client.post(
        reverse("intake:round-create"),
        {"name": name, "code": code, "year": str(year), "kind": "annual"},
    )


def test_the_first_round_with_categories_gets_the_six_defaults(client, cast):
    client.force_login(cast.alice)
    response = create_round(client, "2020年度", "2020", 2020)
    assert response.status_code == 302
    assert names(Round.objects.get(code="2020")) == list(DEFAULT_CATEGORIES)


def test_a_new_round_gets_the_categories_of_the_round_before(client, cast):
    for n, name in enumerate(["教育事业", "城市管理", "交通建设"]):
        make_category(cast.round, name, order=n)
    client.force_login(cast.alice)
    create_round(client, "2020年度", "2020", 2020)
    new = Round.objects.get(code="2020")
    assert names(new) == ["教育事业", "城市管理", "交通建设"]
    page = client.get(reverse("intake:round", args=[new.pk])).content.decode()
    assert page.index('value="教育事业"') < page.index('value="城市管理"')


def test_the_round_page_lists_categories_in_order_with_their_items(client, cast):
    traffic = make_category(cast.round, "交通建设", order=2)
    make_category(cast.round, "教育事业", order=1)
    make_item(cast.round, category=traffic)
    make_item(cast.round, category=traffic)
    client.force_login(cast.alice)
    response = client.get(reverse("intake:round", args=[cast.round.pk]))
    assert [(c.name, c.item_count) for c in response.context["categories"]] == [
        ("教育事业", 0),
        ("交通建设", 2),
    ]
    page = response.content.decode()
    assert "已使用，不能删除" in page
    assert reverse("intake:category-delete", args=[cast.round.pk, traffic.pk]) not in page


def test_a_round_without_categories_says_what_to_do(client, cast):
    client.force_login(cast.alice)
    page = client.get(reverse("intake:round", args=[cast.round.pk])).content.decode()
    assert "本批次尚无类别" in page
    assert reverse("intake:category-add", args=[cast.round.pk]) in page


def test_a_category_is_added_after_the_others(client, cast):
    make_category(cast.round, "教育事业", order=10)
    client.force_login(cast.alice)
    url = reverse("intake:category-add", args=[cast.round.pk])
    response = client.post(url, {"name": " 城市管理 "})
    assert response.status_code == 302
    assert response["Location"].endswith(f"/rounds/{cast.round.pk}/#categories")
    assert names(cast.round) == ["教育事业", "城市管理"]
    assert "已添加类别“城市管理”" in client.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    "typed, message",
    [
        ("教育事业", "本批次已有名为“教育事业”的类别"),
        ("教育 事业", "本批次已有名为“教育事业”的类别"),
        ("", "请填写类别名称"),
        ("长" * 51, "类别名称最多 50 个字"),
    ],
)
def test_a_refused_name_is_shown_with_what_was_typed(client, cast, typed, message):
    make_category(cast.round, "教育事业")
    client.force_login(cast.alice)
    response = client.post(reverse("intake:category-add", args=[cast.round.pk]), {"name": typed})
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert f'id="category-new" name="name" value="{typed}"' in page
    assert names(cast.round) == ["教育事业"]


def test_the_same_name_in_another_round_is_fine(client, cast):
    make_category(make_round(), "教育事业")
    client.force_login(cast.alice)
    client.post(reverse("intake:category-add", args=[cast.round.pk]), {"name": "教育事业"})
    assert names(cast.round) == ["教育事业"]


def test_rename_and_a_duplicate_refused_beside_its_row(client, cast):
    education = make_category(cast.round, "教育", order=1)
    make_category(cast.round, "交通建设", order=2)
    make_item(cast.round, category=education)
    client.force_login(cast.alice)
    url = reverse("intake:category-rename", args=[cast.round.pk, education.pk])
    assert client.post(url, {"name": "教育事业"}).status_code == 302
    education.refresh_from_db()
    assert education.name == "教育事业"  # a used category may be renamed
    refused = client.post(url, {"name": "交通建设"})
    assert refused.status_code == 400
    page = refused.content.decode()
    assert "本批次已有名为“交通建设”的类别" in page
    assert f'id="category-name-{education.pk}" name="name" value="交通建设"' in page
    assert names(cast.round) == ["教育事业", "交通建设"]


def test_move_up_and_down(client, cast):
    a = make_category(cast.round, "甲", order=1)
    make_category(cast.round, "乙", order=2)
    c = make_category(cast.round, "丙", order=3)
    client.force_login(cast.alice)
    move = "intake:category-move"
    client.post(reverse(move, args=[cast.round.pk, c.pk]), {"direction": "up"})
    assert names(cast.round) == ["甲", "丙", "乙"]
    client.post(reverse(move, args=[cast.round.pk, a.pk]), {"direction": "down"})
    assert names(cast.round) == ["丙", "甲", "乙"]
    client.post(reverse(move, args=[cast.round.pk, c.pk]), {"direction": "up"})  # first already
    assert names(cast.round) == ["丙", "甲", "乙"]


def test_an_unused_category_is_deleted_and_a_used_one_is_not(client, cast):
    unused = make_category(cast.round, "社会治安")
    by_item = make_category(cast.round, "交通建设")
    by_suggestion = make_category(cast.round, "环境保护")
    make_item(cast.round, category=by_item)
    make_suggestion(cast.round, category=by_suggestion, category_text="环保")
    client.force_login(cast.alice)
    delete = "intake:category-delete"
    assert client.post(reverse(delete, args=[cast.round.pk, unused.pk])).status_code == 302
    for used, counts in (
        (by_item, "整改事项 1 项、意见建议 0 条"),
        (by_suggestion, "整改事项 0 项、意见建议 1 条"),
    ):
        response = client.post(reverse(delete, args=[cast.round.pk, used.pk]), follow=True)
        page = response.content.decode()
        assert f"“{used.name}”不能删除：已有{counts}归于此类别" in page
    assert names(cast.round) == ["交通建设", "环境保护"]


def test_a_category_of_another_round_is_not_found(client, cast):
    other = make_category(make_round(), "教育事业")
    client.force_login(cast.alice)
    url = reverse("intake:category-delete", args=[cast.round.pk, other.pk])
    assert client.post(url).status_code == 404
    assert Category.objects.filter(pk=other.pk).exists()


@pytest.mark.parametrize(
    "name", ["category-add", "category-rename", "category-move", "category-delete"]
)
def test_category_changes_are_for_supervisors_and_posts_only(client, cast, name):
    category = make_category(cast.round, "教育事业")
    args = [cast.round.pk] if name == "category-add" else [cast.round.pk, category.pk]
    url = reverse(f"intake:{name}", args=args)
    assert client.post(url, {"name": "新"}).status_code == 302  # to sign in
    for user in (cast.bob, cast.lena, cast.nobody):
        client.force_login(user)
        assert client.post(url, {"name": "新", "direction": "up"}).status_code == 404
        assert client.get(url).status_code == 404
    client.force_login(cast.alice)
    assert client.get(url).status_code == 405
    assert names(cast.round) == ["教育事业"]
