"""Feedback rows → suggestions: numbering, refusals, one transaction."""

from __future__ import annotations

import pytest
from django.utils.translation import override

from ledger.intake.feedback import plan_feedback, write_feedback
from ledger.intake.reading import IntakeError
from ledger.models import Suggestion

from .factory import make_round, make_suggestion
from .files.intake import build

HEADER = ["序号", "意见建议内容", "所属领域", "地区", "渠道", "备注"]


@pytest.fixture(autouse=True)
def _english():
    with override("en"):
        yield


def test_it_imports_every_row_with_its_fields(db):
    round = make_round()
    data = build.xlsx(
        [
            HEADER,
            [1, "加强农村饮水安全", "社会保障", "临桂区", "网络", "重点"],
            [2, "增加公交线路", "交通建设"],
        ],
        title="意见建议汇总表",
    )
    plan = plan_feedback(round, data, "f.xlsx")
    assert plan.refused == []
    assert write_feedback(plan) == 2
    rows = list(
        Suggestion.objects.filter(round=round).values_list(
            "seq", "text", "category_text", "region", "channel", "note"
        )
    )
    assert rows == [
        (1, "加强农村饮水安全", "社会保障", "临桂区", "网络", "重点"),
        (2, "增加公交线路", "交通建设", "", "", ""),
    ]


def test_a_taken_number_refuses_its_row_and_rows_without_one_continue_after_the_highest(db):
    round = make_round()
    make_suggestion(round, seq=5, text="已有")
    data = build.xlsx(
        [HEADER, [5, "重复的序号"], [None, "没有序号甲"], [9, "九号"], ["", "没有序号乙"]]
    )
    plan = plan_feedback(round, data, "f.xlsx")
    assert [(r.row, "already used" in r.reason) for r in plan.refused] == [(2, True)]
    assert [(s.seq, s.text) for s in plan.suggestions] == [
        (9, "九号"),
        (10, "没有序号甲"),
        (11, "没有序号乙"),
    ]
    assert plan.numbered == 2


def test_it_refuses_empty_text_bad_numbers_and_numbers_repeated_in_the_file(db):
    round = make_round()
    data = build.xlsx([HEADER, [1, "甲"], [1, "乙"], ["一", "丙"], [3, None, "交通"]])
    plan = plan_feedback(round, data, "f.xlsx")
    reasons = {r.row: r.reason for r in plan.refused}
    assert "also the number of row 2" in reasons[3]
    assert "not a whole number" in reasons[4]
    assert "empty" in reasons[5]
    assert [s.text for s in plan.suggestions] == ["甲"]


def test_duplicate_suggestions_are_kept_and_counted(db):
    round = make_round()
    data = build.xlsx([HEADER, [1, "路灯不亮"], [2, "路灯不亮"], [3, "路灯  不亮"]])
    plan = plan_feedback(round, data, "f.xlsx")
    assert len(plan.suggestions) == 3
    assert plan.repeated == 1  # 路灯不亮 twice; "路灯 不亮" differs after normalising
    write_feedback(plan)
    assert Suggestion.objects.filter(round=round, text="路灯不亮").count() == 2


def test_a_number_taken_since_the_preview_writes_nothing(db):
    round = make_round()
    plan = plan_feedback(round, build.xlsx([HEADER, [1, "甲"], [2, "乙"]]), "f.xlsx")
    make_suggestion(round, seq=2, text="别人先导入")
    with pytest.raises(IntakeError, match="Nothing was imported"):
        write_feedback(plan)
    assert list(Suggestion.objects.filter(round=round).values_list("text", flat=True)) == [
        "别人先导入"
    ]


def test_full_width_numbers_become_numbers(db):
    round = make_round()
    plan = plan_feedback(
        round,
        build.csv_bytes([HEADER, ["１２", "Ｗｉ-Ｆｉ覆盖不足，请加强。"]], "gb18030"),
        "f.csv",
    )
    assert [(s.seq, s.text) for s in plan.suggestions] == [(12, "Wi-Fi覆盖不足，请加强。")]
