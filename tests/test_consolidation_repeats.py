"""The repeats citizens write and the look-alikes that must stay apart, one small hand-written
case each (docs/consolidation.md). The whole labelled set is measured by bench/consolidation.py;
these are the kinds it is made of, kept here so a change that loses one fails."""

from __future__ import annotations

import pytest

from ledger.intake.consolidation import propose_groups
from ledger.intake.matching import places


def together(*texts: str) -> bool:
    return len(propose_groups(list(enumerate(texts)))) == 1


REPEATS = {
    "shortened": (
        "解放路的路灯坏了好几盏，晚上黑漆漆的，老人散步都不敢出门，希望尽快修好。",
        "解放路路灯坏了好几盏，请尽快修好。",
    ),
    "lengthened with a story": (
        "小区电动车经常被偷，希望加强巡逻。",
        "我们小区电动车经常被偷，上个月我家刚买的新车停在楼下一晚上就没了，报了警也没下文，"
        "邻居好几家都被偷过，希望派出所加强巡逻。",
    ),
    "colloquial and formal": (
        "12路公交车班次太少了，等半天都等不来一趟，上班老是迟到！",
        "建议公交公司增加12路公交车班次，缩短等车时间。",
    ),
    "full-width and no punctuation": (
        "１２路公交车班次太少，等车时间太长。",
        "12路公交车班次太少 等车时间太长",
    ),
    "generic places are no places": (
        "部分学校门口上下学时段交通拥堵，建议交警增派警力疏导。",
        "城区学校门口上下学时段交通拥堵严重，希望交警疏导一下。",
    ),
    "a detail added": (
        "东门农贸市场卫生太差，污水横流。",
        "东门农贸市场卫生太差了，早上七点去买菜，地上全是污水，苍蝇乱飞。",
    ),
}

APART = {
    "the same complaint about two places": (
        "中山路路灯坏了好几盏，晚上黑漆漆的，希望尽快修好。",
        "解放路路灯坏了好几盏，晚上黑漆漆的，希望尽快修好。",
    ),
    "two complaints about one place": (
        "东门农贸市场卫生太差，污水横流，苍蝇乱飞。",
        "东门农贸市场门口占道经营严重，车辆根本过不去。",
    ),
    "two complaints in the same words of request": (
        "建议相关部门加强对校外培训机构的监管，规范收费行为。",
        "建议相关部门加强对餐饮店油烟排放的监管，规范经营行为。",
    ),
    "two complaints to one office": (
        "市交通运输局要加强农村公路养护，路面坑洼太多。",
        "市交通运输局要加强出租车管理，拒载绕路太多。",
    ),
}


@pytest.mark.parametrize("kind", REPEATS)
def test_a_repeat_is_proposed_as_one_group(kind):
    assert together(*REPEATS[kind])


@pytest.mark.parametrize("kind", APART)
def test_a_look_alike_stays_apart(kind):
    assert not together(*APART[kind])


def test_a_place_is_read_only_where_a_name_begins_a_word():
    assert places("希望解决朝阳小学门口拥堵，中山路路灯也坏了") == {"朝阳小学", "中山路"}
    assert places("希望政府重视，部分学校和城区道路都有这个问题") == frozenset()
    assert places("人民中路的电动车经常被偷") == {"人民中路"}
    assert places("北 流 市 后 山 被 挖") == {"北流市"}


@pytest.mark.django_db
def test_a_suggestion_repeating_an_imported_item_is_proposed_to_join_it():
    from ledger.intake.consolidation import propose_for_round

    from .factory import make_item, make_round, make_suggestion

    round = make_round()
    item = make_item(round, title="中山路路灯坏了好几盏，晚上黑漆漆的，行人出行不安全")
    make_item(round, title="东门农贸市场占道经营严重")
    repeat = make_suggestion(round, text="中山路的路灯坏了好几盏，晚上一片漆黑，希望尽快修好。")
    other = make_suggestion(round, text="南湖公园公厕太少，周末游客多的时候要排长队。")
    proposal = propose_for_round(round)
    assert proposal.repeats == {repeat.pk: item.pk}
    assert sorted(proposal.groups) == sorted([[repeat.pk], [other.pk]])
