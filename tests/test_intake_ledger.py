"""Ledger rows → draft items with their responsibility; export then import gives it back."""

from __future__ import annotations

import datetime
import io

import pytest
from django.utils.translation import override

from ledger.intake.export import write_items
from ledger.intake.ledger_import import parse_deadline, plan_ledger, write_ledger
from ledger.models import Item

from .factory import make_category, make_item, make_round
from .files.intake import build

HEADER = [
    "编号",
    "问题",
    "类别",
    "责任领导",
    "牵头单位",
    "配合单位",
    "责任人",
    "整改时限",
    "整改措施",
    "整改目标",
]


@pytest.fixture(autouse=True)
def _english():
    with override("en"):
        yield


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2020-12-31", (datetime.date(2020, 12, 31), False)),
        ("2020/12/31", (datetime.date(2020, 12, 31), False)),
        ("2020.12.31", (datetime.date(2020, 12, 31), False)),
        ("2020年12月31日", (datetime.date(2020, 12, 31), False)),
        ("2020年2月底", (datetime.date(2020, 2, 29), False)),
        ("2021年6月", (datetime.date(2021, 6, 30), False)),
        ("２０２０年１２月底", (datetime.date(2020, 12, 31), False)),
        ("2020年底", (datetime.date(2020, 12, 31), False)),
        (44196.0, (datetime.date(2020, 12, 31), False)),  # an Excel date serial
        ("44196", (datetime.date(2020, 12, 31), False)),
        (datetime.datetime(2020, 12, 31, 0, 0), (datetime.date(2020, 12, 31), False)),
        ("长期坚持", (None, True)),
        ("Long-term", (None, True)),
        ("", (None, False)),
    ],
)
def test_every_deadline_form(value, expected):
    assert parse_deadline(value) == expected


@pytest.mark.parametrize("value", ["尽快", "2020-13-01", "明年"])
def test_what_is_not_a_deadline_is_refused(value):
    with pytest.raises(ValueError):
        parse_deadline(value)


def test_it_imports_rows_as_drafts_with_their_responsibility(cast):
    round = make_round()
    data = build.xlsx(
        [
            HEADER,
            [
                "A-1",
                "学校周边交通拥堵",
                "教育事业",
                "常务副市长 李文华",
                "市教育局",
                "市交通运输局、市卫生健康委",
                "张三",
                "2020年12月底",
                "增设协管员",
                "高峰不拥堵",
            ],
            [
                None,
                "老旧小区加装电梯",
                "城市建设",
                "黄建国",
                "市卫生健康委",
                "市教育局\n市交通运输局",
                "",
                "长期坚持",
                "",
                "",
            ],
        ],
        title="2019年度问题台账",
    )
    plan = plan_ledger(round, data, "ledger.xlsx")
    assert plan.refused == []
    assert plan.new_categories == ["教育事业", "城市建设"]
    assert plan.past_deadlines == 1
    assert write_ledger(plan) == 2
    first, second = Item.objects.filter(round=round).order_by("pk")
    assert (first.number, first.reference, first.state, first.leader, first.lead_department) == (
        f"{round.code}-0001",
        "A-1",
        "draft",
        cast.other_leader,
        cast.edu,
    )
    assert set(first.co_departments.all()) == {cast.traffic, cast.health}
    assert first.deadline == datetime.date(2020, 12, 31) and not first.long_term
    assert (first.responsible_person, first.measures, first.goal, first.category.name) == (
        "张三",
        "增设协管员",
        "高峰不拥堵",
        "教育事业",
    )
    assert (second.number, second.reference) == (f"{round.code}-0002", "")
    assert second.long_term and second.deadline is None and second.leader == cast.leader
    assert set(second.co_departments.all()) == {cast.edu, cast.traffic}


def test_unknown_departments_and_leaders_name_the_closest_known(cast):
    round = make_round()
    data = build.xlsx(
        [HEADER, ["1", "问题甲", "", "黄建军", "市教育厅", "市交通局", "", "2020-12-31", "", ""]]
    )
    plan = plan_ledger(round, data, "f.xlsx")
    reasons = [r.reason for r in plan.refused]
    assert all(r.row == 2 for r in plan.refused)
    assert any("unknown leader “黄建军”" in r and "黄建国" in r for r in reasons)
    assert any("unknown department “市教育厅”" in r and "市教育局" in r for r in reasons)
    assert any("unknown department “市交通局”" in r and "市交通运输局" in r for r in reasons)
    assert plan.items == []


def test_a_bad_deadline_refuses_its_row_and_only_a_row_imported_before_is_refused(cast):
    round = make_round()
    make_item(round, number="7", title="问题甲")
    make_item(round, number=f"{round.code}-0009", reference="9", title="问题丙")
    data = build.xlsx(
        [
            HEADER,
            ["7", "问题甲"],  # the same number and problem: this row was imported before
            ["8", "问题乙", "", "", "", "", "", "尽快"],
            ["9", "问题丙"],  # imported before too, and renumbered then
            ["7", "问题丁"],  # number 7 is taken, by another problem: renumbered
        ]
    )
    plan = plan_ledger(round, data, "f.xlsx")
    reasons = {r.row: r.reason for r in plan.refused}
    assert reasons[2] == (
        "imported before: item 7 of this round has this number (7) and this problem"
    )
    assert "not a deadline" in reasons[3]
    assert f"item {round.code}-0009 of this round has this number (9)" in reasons[4]
    # Numbered on from the round's highest number, as every new item is.
    assert [(i.number, i.reference, i.title) for i in plan.items] == [
        (f"{round.code}-0010", "7", "问题丁")
    ]


def test_export_then_import_gives_the_same_ledger_back(cast):
    source = make_round(name="源批次", code="src")
    education = make_category(source, "教育事业")
    a = make_item(
        source,
        number="src-0001",
        title="=1+1 学校周边交通拥堵",
        category=education,
        leader=cast.leader,
        lead_department=cast.edu,
        deadline=datetime.date(2020, 12, 31),
        responsible_person="张三",
        measures="增设协管员\n错峰放学",
        goal="-高峰不拥堵",
    )
    a.co_departments.set([cast.traffic, cast.health])
    make_item(
        source,
        number="src-0002",
        title="老旧小区加装电梯",
        leader=cast.other_leader,
        lead_department=cast.health,
        long_term=True,
    )
    make_item(source, number="src-0003", title="@路灯不亮")
    out = io.BytesIO()
    write_items(Item.objects.filter(round=source), out, title="源批次")

    target = make_round(name="目标批次", code="dst")
    plan = plan_ledger(target, out.getvalue(), "export.xlsx")
    assert plan.refused == []
    write_ledger(plan)

    def ledger(round, number=lambda item: item.number):
        return [
            (
                number(i),
                i.title,
                i.category.name if i.category else "",
                i.leader_id,
                i.lead_department_id,
                sorted(d.pk for d in i.co_departments.all()),
                i.deadline,
                i.long_term,
                i.responsible_person,
                i.measures,
                i.goal,
            )
            for i in Item.objects.filter(round=round).order_by("number")
        ]

    # Another round's numbers are not this round's: each is kept as the number as imported.
    assert [i.number for i in Item.objects.filter(round=target).order_by("number")] == [
        "dst-0001",
        "dst-0002",
        "dst-0003",
    ]
    assert ledger(target, number=lambda item: item.reference) == ledger(source)
