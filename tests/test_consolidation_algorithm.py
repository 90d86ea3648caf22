"""``propose_groups`` and its helpers: pure functions, no database."""

from __future__ import annotations

import random

from ledger.intake.consolidation import (
    match_category,
    normalise,
    propose_groups,
    representative,
)


def grouped(texts: list[str]) -> list[list[int]]:
    return sorted(propose_groups(list(enumerate(texts, start=1))))


def test_it_normalises_width_case_whitespace_and_punctuation():
    assert normalise("学校 周边，１２路ＡＢ公交！") == "学校周边12路ab公交"
    assert normalise("  \t。，！") == ""


def test_it_groups_the_same_text_typed_differently():
    texts = [
        "学校门口上下学时段交通拥堵，希望增派交警疏导。",
        "学校门口上下学时段交通拥堵 希望增派交警疏导",
        "学校门口上下学时段交通拥堵,希望增派交警疏导!!!",
        "ＸＸ路１２号学校门口上下学时段交通拥堵",
        "XX路12号学校门口上下学时段交通拥堵。",
    ]
    # The address added and the request left out: still the same complaint.
    assert grouped(texts) == [[1, 2, 3, 4, 5]]


def test_it_groups_a_reworded_or_longer_resend():
    texts = [
        "下水道堵了，污水满街流，创文的时候搞一下，过后又回到老样子，请尽快解决。",
        "下水道堵了，污水满街流，创文的时候搞一下，过后又回到老样子，说了好多年了，"
        "一直没解决，希望政府重视一下！",
        "污水满街流，下水道堵了，创文的时候搞一下，过后又回到老样子。",
    ]
    assert grouped(texts) == [[1, 2, 3]]


def test_it_keeps_apart_different_complaints_to_the_same_department():
    texts = [
        "建议市教育局加强对校外培训机构的监管，规范收费行为。",
        "建议市教育局加强农村学校师资队伍建设，稳定教师队伍。",
        "建议市教育局加强校园食堂管理，提高饭菜质量。",
        "市交通运输局要加强农村公路养护，路面坑洼太多。",
        "市交通运输局要加强出租车管理，拒载绕路太多。",
    ]
    assert grouped(texts) == [[1], [2], [3], [4], [5]]


def test_it_keeps_apart_the_same_complaint_about_two_places():
    texts = [
        "我们新圩镇，报警后处理一下就不管了，希望政府重视一下。",
        "我们旺茂镇，报警后处理一下就不管了，希望政府重视一下！",
        "中山路这里，晚上黑乎乎的，女孩子都不敢走，希望领导下来看看。",
        "解放路这里，晚上黑乎乎的，女孩子都不敢走，希望领导下来看看！",
    ]
    assert grouped(texts) == [[1], [2], [3], [4]]


def test_a_text_like_two_others_does_not_join_their_two_places():
    texts = [
        "晚上黑乎乎的，女孩子都不敢走，希望领导下来看看。",
        "中山路这里，晚上黑乎乎的，女孩子都不敢走，希望领导下来看看。",
        "解放路这里，晚上黑乎乎的，女孩子都不敢走，希望领导下来看看。",
    ]
    groups = grouped(texts)
    assert [2, 3] not in groups and [1, 2, 3] not in groups
    assert len(groups) == 2


def test_very_short_texts_group_only_when_equal():
    texts = ["无", "无。", "同上", "没有", "。。。", "！", "路灯坏了", "路灯坏了！"]
    assert grouped(texts) == [[1, 2], [3], [4], [5], [6], [7, 8]]


def test_every_id_is_in_exactly_one_group_in_order_of_first_appearance():
    rng = random.Random(7)
    words = "学校医院道路路灯垃圾噪音停车公交低保医保教师食堂"
    rows = [(i, "".join(rng.choice(words) for _ in range(12))) for i in range(500)]
    rows += [(500 + i, text + "。") for i, text in rows[:50]]
    groups = propose_groups(rows)
    ids = [i for g in groups for i in g]
    assert sorted(ids) == [i for i, _t in rows]
    assert [g[0] for g in groups] == sorted(g[0] for g in groups)
    assert any(g[:1] == [0] and 500 in g for g in groups)


def test_the_representative_is_the_text_most_like_the_others():
    texts = [
        "路灯坏了 晚上很黑 希望修一下",
        "路灯坏了，晚上很黑，希望修一下。",
        "路灯坏了，晚上很黑，希望尽快修一下，谢谢。",
    ]
    assert representative(texts) == 1


def test_the_representative_avoids_a_phone_number():
    texts = [
        "下水道堵了，污水满街流，希望有关部门管一管，我的电话15871552868。",
        "下水道堵了，污水满街流，希望有关部门管一管，我的电话13912345678。",
        "下水道堵了，污水满街流，希望有关部门管一管。",
    ]
    assert representative(texts) == 2


def test_it_matches_a_category_as_received_to_the_rounds():
    categories = [(1, "经济发展"), (2, "教育事业"), (3, "社会保障"), (4, "交通建设")]
    assert match_category("教育", categories) == 2
    assert match_category("教育事业", categories) == 2
    assert match_category(" 交通 ", categories) == 4
    assert match_category("城市管理", categories) is None
    assert match_category("", categories) is None


def test_a_campaign_of_copies_with_their_own_phone_numbers_is_one_group():
    rng = random.Random(3)
    base = "下水道堵了，污水满街流，创文的时候搞一下，过后又回到老样子，我的电话"
    rows = [(i, base + str(rng.randint(13000000000, 19999999999))) for i in range(300)]
    rows.append((300, "小区垃圾清运不及时，夏天臭味很大，希望环卫部门管一管。"))
    assert sorted(map(len, propose_groups(rows))) == [1, 300]
