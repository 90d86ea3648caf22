"""The supervisor in the loop (issue 15): why a group was proposed, merging more or less, and
the round's splits, merges and threshold kept for every supervisor."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from ledger.intake.consolidation import DEFAULT_THRESHOLD, explain, propose_groups
from ledger.intake.views_consolidation import threshold_bounds
from ledger.models import ConsolidationChoice, Item
from ledger.templatetags.consolidation_tags import marked

from .factory import make_item, make_suggestion, make_user

pytestmark = pytest.mark.django_db

# The same complaint typed twice, and a third that says much the same with more in it: one
# group when merging most, the pair and the third apart when merging least.
SAME = "学校门口上下学时段交通拥堵，希望增派交警疏导。"
RETYPED = "学校门口上下学时段交通拥堵 希望增派交警疏导"
NEAR = "学校门口上下学时段车辆乱停，交通拥堵，建议增派交警并设置临时停车区。"
OTHER = "医院看病排队时间太长，挂号难，建议推行分时段预约。"


@pytest.fixture
def waiting(cast):
    return [
        make_suggestion(cast.round, seq=n, text=text)
        for n, text in enumerate([SAME, RETYPED, NEAR], start=1)
    ]


def url(cast, name="consolidate"):
    return reverse(f"intake:{name}", args=[cast.round.pk])


def groups_shown(page: str) -> list[str]:
    """The members of each group on the page, as its form carries them."""
    return re.findall(r'name="members-\d+" value="([\d,]+)"', page)


def card(page: str, key: int) -> str:
    start = page.index(f'id="g{key}"')
    end = page.find('<li class="cs-group', start + 1)
    return page[start : end if end != -1 else page.index("</ol>", start)]


def setting(page: str) -> tuple[str, bool]:
    """The threshold the control says is in force, and whether it offers the default back."""
    form = page[page.index('class="card cs-loop"') : page.index("</form>", page.index("cs-loop"))]
    shown = re.search(r"<strong>[^<]*?(\d+%)", form)
    return shown.group(1), 'value="default"' in form


def marks(html: str) -> list[str]:
    return re.findall(r"<mark>(.*?)</mark>", html)


LOWEST, HIGHEST = threshold_bounds()


def percent(threshold: float) -> str:
    return f"{round(threshold * 100)}%"


def as_shown(groups: list[list[int]]) -> list[str]:
    """Groups as the page lists them: several suggestions first, the largest first."""
    ordered = sorted(groups, key=lambda g: (len(g) == 1, -len(g), min(g)))
    return [",".join(map(str, sorted(g))) for g in ordered]


def click(client, cast, move: str, times: int = 1):
    for _ in range(times):
        response = client.post(url(cast, "consolidate-threshold"), {"move": move})
    return response


# --- Why a group was proposed ----------------------------------------------------------------


def test_a_group_shows_its_score_and_its_shared_words_marked_in_each_text(client, cast):
    a = make_suggestion(cast.round, seq=1, text=SAME)
    b = make_suggestion(cast.round, seq=2, text=RETYPED)
    single = make_suggestion(cast.round, seq=3, text=OTHER)
    client.force_login(cast.alice)
    page = client.get(url(cast)).content.decode()
    why = explain([SAME, RETYPED])
    group = card(page, a.pk)
    assert f"相似度 {round(why.score * 100)}%" in group
    texts = re.findall(r'<p class="text">(.*?)</p>', group)
    assert len(texts) == 2
    for text in texts:
        assert marks(text), text
        assert any(why.terms[0] in word for word in marks(text))
        # Marked, not changed: the words read as the citizen wrote them.
        assert re.sub(r"</?mark>", "", text) in (SAME, RETYPED)
    assert f'value="{a.pk},{b.pk}"' in page
    # A suggestion alone has nothing to explain.
    alone = card(page, single.pk)
    assert "<mark>" not in alone and "%" not in alone


def test_html_in_a_text_is_shown_as_text_even_where_it_is_marked(client, cast):
    hostile = '<script>alert("x")</script>学校门口上下学时段交通拥堵<b>希望增派交警疏导</b>'
    a = make_suggestion(cast.round, seq=1, text=hostile)
    make_suggestion(cast.round, seq=2, text=hostile + "！")
    client.force_login(cast.alice)
    page = client.get(url(cast)).content.decode()
    group = card(page, a.pk)
    assert "<script>alert" not in page and "<b>" not in group
    assert "&lt;script&gt;" in re.sub(r"</?mark>", "", group)
    assert marks(group)


def test_the_mark_filter_escapes_first_and_never_marks_inside_a_mark():
    hostile = '<script>alert("学校门口")</script>'
    assert marked(hostile, ["script", "学校门口", "lt", "<b>"]) == (
        "&lt;<mark>script</mark>&gt;alert(&quot;<mark>学校门口</mark>&quot;)"
        "&lt;/<mark>script</mark>&gt;"
    )
    # Longest first; a term inside a mark, or across its edge, is not marked again.
    assert marked("交通拥堵严重", ["交通", "通拥", "交通拥堵", "拥堵严"]) == (
        "<mark>交通拥堵</mark>严重"
    )
    assert marked("交通拥堵", ["拥堵", "交通拥堵"]).count("<mark>") == 1
    # Full-width digits and spaces as typed still show the word found.
    assert marked("新民路１２号 路灯坏了", ["12号路灯"]) == "新民路<mark>１２号 路灯</mark>坏了"
    assert marked("a<b>c", ["<b>"]) == "a&lt;<mark>b</mark>&gt;c"
    assert marked("没有共同的词", []) == "没有共同的词"


def test_a_repeat_of_an_item_reads_join_item_n_with_its_likeness(client, cast):
    existing = make_item(cast.round, number="2019-0003", title="医院看病排队时间太长，挂号难")
    make_suggestion(cast.round, seq=50, text=OTHER + "请尽快解决！", item=existing)
    late = make_suggestion(cast.round, seq=4, text=OTHER)
    client.force_login(cast.alice)
    page = client.get(url(cast)).content.decode()
    group = card(page, late.pk)
    assert "并入事项 2019-0003" in group
    score = round(explain([existing.title, OTHER]).score * 100)
    assert f"与事项标题相似度 {score}%" in group
    assert marks(group.split("</strong>", 1)[1].split("</p>", 1)[0])  # in the item's title
    assert f'name="item-{late.pk}" value="2019-0003"' in group


# --- Merge more, merge less ------------------------------------------------------------------


def test_merge_more_and_merge_less_change_the_groups_shown(client, cast, waiting):
    a, b, c = (s.pk for s in waiting)
    pairs = [(s.pk, s.text) for s in waiting]
    # The texts make a case where merging least must split what merging most joins.
    assert propose_groups(pairs, threshold=LOWEST) == [[a, b, c]]
    assert propose_groups(pairs, threshold=HIGHEST) == [[a, b], [c]]
    client.force_login(cast.alice)
    response = click(client, cast, "more", times=40)
    # Without JavaScript: a form that comes back to the page's first page.
    assert response.status_code == 302 and response["Location"].endswith("?page=1")
    page = client.get(url(cast)).content.decode()
    assert groups_shown(page) == [f"{a},{b},{c}"]
    assert percent(LOWEST) in page
    assert re.search(r'name="move" value="more" disabled', page)

    click(client, cast, "less", times=40)
    page = client.get(url(cast)).content.decode()
    assert groups_shown(page) == [f"{a},{b}", f"{c}"]
    assert percent(HIGHEST) in page
    assert re.search(r'name="move" value="less" disabled', page)
    assert not re.search(r'name="move" value="more" disabled', page)


def test_one_step_moves_the_threshold_by_five_points_and_back_to_the_default(client, cast, waiting):
    client.force_login(cast.alice)
    default = percent(DEFAULT_THRESHOLD)
    assert setting(client.get(url(cast)).content.decode()) == (default, False)
    click(client, cast, "less")
    stricter = percent(DEFAULT_THRESHOLD + 0.05)
    assert setting(client.get(url(cast)).content.decode()) == (stricter, True)
    click(client, cast, "default")
    assert setting(client.get(url(cast)).content.decode()) == (default, False)
    assert ConsolidationChoice.objects.get(round=cast.round).threshold is None


def test_the_threshold_and_the_splits_are_the_rounds_for_every_supervisor(client, cast, waiting):
    a, b, c = (s.pk for s in waiting)
    client.force_login(cast.alice)
    click(client, cast, "more", times=40)  # one group of three
    client.post(url(cast, "consolidate-split"), {"split": b, "page": "1"})

    # Another supervisor, in another session, sees the same groups and who made them.
    other = Client()
    other.force_login(make_user("zoe", role="supervisor", first_name="督查员乙"))
    page = other.get(url(cast)).content.decode()
    assert sorted(groups_shown(page)) == sorted([f"{a},{c}", f"{b}"])
    assert percent(LOWEST) in page
    assert "督查员甲" in page
    assert "本批次已有分组经人工拆分或合并。" in page

    # The split is replayed over the groups at another threshold too.
    click(other, cast, "less", times=40)
    page = client.get(url(cast)).content.decode()
    assert sorted(groups_shown(page)) == sorted([f"{a}", f"{b}", f"{c}"])
    assert "督查员乙" in page


def test_reset_forgets_the_splits_and_merges_but_keeps_the_threshold(client, cast, waiting):
    a, b, c = (s.pk for s in waiting)
    client.force_login(cast.alice)
    click(client, cast, "less", times=40)
    client.post(url(cast, "consolidate-split"), {"split": b})
    client.post(url(cast, "consolidate-merge"), {"pick": [b, c]})
    page = client.get(url(cast)).content.decode()
    assert sorted(groups_shown(page)) == sorted([f"{a}", f"{b},{c}"])

    response = client.post(url(cast, "consolidate-reset"), follow=True)
    page = response.content.decode()
    assert groups_shown(page) == [f"{a},{b}", f"{c}"]
    assert percent(HIGHEST) in page
    assert 'action="' + url(cast, "consolidate-reset") not in page  # nothing left to undo


def test_the_whole_round_at_once_keeps_the_splits_another_supervisor_made(client, cast):
    a = make_suggestion(cast.round, seq=1, text=SAME)
    b = make_suggestion(cast.round, seq=2, text=RETYPED)
    make_suggestion(cast.round, seq=3, text=OTHER)
    client.force_login(cast.alice)
    client.post(url(cast, "consolidate-split"), {"split": b.pk})
    other = Client()
    other.force_login(make_user("zoe", role="supervisor"))
    other.post(url(cast, "consolidate-all"))
    assert Item.objects.count() == 3
    assert Item.objects.get(suggestions=a) != Item.objects.get(suggestions=b)


def test_the_whole_round_at_once_makes_the_groups_shown_at_the_rounds_threshold(
    client, cast, waiting
):
    pairs = [(s.pk, s.text) for s in waiting]
    default = propose_groups(pairs, threshold=DEFAULT_THRESHOLD)
    # Whichever end of the control groups these texts otherwise than the default does.
    move, at = next(
        (move, at)
        for move, at in (("more", LOWEST), ("less", HIGHEST))
        if propose_groups(pairs, threshold=at) != default
    )
    client.force_login(cast.alice)
    click(client, cast, move, times=40)
    shown = groups_shown(client.get(url(cast)).content.decode())
    assert shown == as_shown(propose_groups(pairs, threshold=at))
    client.post(url(cast, "consolidate-all"))
    made = [sorted(i.suggestions.values_list("pk", flat=True)) for i in Item.objects.all()]
    assert as_shown(made) == shown


# --- Who may ---------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["bob", "lena", "nobody"])
def test_anyone_else_gets_404_and_changes_nothing(client, cast, waiting, who):
    client.force_login(getattr(cast, who))
    assert client.get(url(cast)).status_code == 404
    assert client.post(url(cast, "consolidate-threshold"), {"move": "more"}).status_code == 404
    assert client.post(url(cast, "consolidate-split"), {"split": waiting[1].pk}).status_code == 404
    assert client.post(url(cast, "consolidate-reset")).status_code == 404
    assert not ConsolidationChoice.objects.exists()


def test_the_control_refuses_get_and_visitors(client, cast):
    assert client.post(url(cast, "consolidate-threshold"), {"move": "more"}).status_code == 302
    client.force_login(cast.alice)
    assert client.get(url(cast, "consolidate-threshold")).status_code == 405


def test_the_page_loads_its_script_as_a_file(client, cast, waiting):
    client.force_login(cast.alice)
    page = client.get(url(cast)).content.decode()
    assert re.search(r'<script src="[^"]*js/consolidation\.js" defer></script>', page)
    assert "<script>" not in page and "style=" not in page
    # The control is a form of its own that works without the script.
    assert f'<form method="post" action="{url(cast, "consolidate-threshold")}"' in page
