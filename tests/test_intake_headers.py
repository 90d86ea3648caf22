"""The header names the imports recognise (ledger/intake/headers.py): each one maps its
column, a name whose meaning depends on the others is decided from them, and real header
sets import exactly, every column read or named as not read."""

from __future__ import annotations

import pytest
from django.utils.translation import override

from ledger.intake.feedback import plan_feedback, write_feedback
from ledger.intake.headers import HEADERS, HISTORY, LEDGER
from ledger.intake.ledger_import import plan_ledger, write_ledger
from ledger.intake.reading import Otherwise, header_key, read_table
from ledger.models import Item, Suggestion

from .files.intake import build

REQUIRED = {"ledger": "title", "feedback": "text", "review": "rating"}
# A column beside the one tested, naming the required field (or, for the required field's
# own names, a field that no Otherwise name falls back to).
COMPANION = {
    "ledger": {"title": "责任人", None: "问题"},
    "feedback": {"text": "备注", None: "意见建议内容"},
    "review": {"rating": "编号", None: "评价"},
}
READ = {
    "ledger": {
        "fields": LEDGER,
        "required": "title",
        "multi": ("co",),
        "unread": (HISTORY,),
        "section": "category",
    },
    "feedback": {"fields": HEADERS["feedback"], "required": "text", "section": "category_text"},
    "review": {"fields": HEADERS["review"], "required": "rating"},
}


@pytest.fixture(autouse=True)
def _english():
    with override("en"):
        yield


def read(kind: str, rows: list[list]):
    return read_table(build.xlsx(rows), "f.xlsx", **READ[kind])


SYNONYMS = [
    pytest.param(kind, field, name, id=f"{kind}-{field}-{name}")
    for kind, fields in HEADERS.items()
    for field, names in fields.items()
    for name in names
]


@pytest.mark.parametrize("kind, field, name", SYNONYMS)
def test_every_header_name_maps_its_column(kind, field, name):
    companion = COMPANION[kind].get(field, COMPANION[kind][None])
    table = read(kind, [[companion, name], ["甲", "2020-12-31"]])
    if field == HISTORY:
        # Progress and state are named as not imported, and never read.
        assert table.unread == [name] and table.ignored == []
        assert set(table.rows[0].values) == {REQUIRED[kind]}
        return
    assert table.columns[field] == name
    assert table.rows[0].values[field] == "2020-12-31"
    assert table.ignored == []


def test_no_header_name_belongs_to_two_fields():
    for kind, fields in HEADERS.items():
        seen: dict[str, str] = {}
        for field, names in fields.items():
            for name in names:
                key = header_key(name)
                assert seen.setdefault(key, field) == field, (kind, name)


STRONG_LEADS = [name for name in LEDGER["lead"] if not isinstance(name, Otherwise)]
WEAK_LEADS = [name for name in LEDGER["lead"] if isinstance(name, Otherwise)]


@pytest.mark.parametrize("weak", WEAK_LEADS)
@pytest.mark.parametrize("strong", STRONG_LEADS)
def test_a_weak_lead_header_is_the_co_departments_beside_a_lead_header(strong, weak):
    table = read("ledger", [["问题", weak, strong], ["甲", "市交通运输局", "市教育局"]])
    assert table.columns["lead"] == strong and table.columns["co"] == weak
    assert table.rows[0].values["lead"] == "市教育局"
    assert table.rows[0].values["co"] == "市交通运输局"


@pytest.mark.parametrize("weak", WEAK_LEADS)
def test_a_weak_lead_header_alone_is_the_lead_department(weak):
    table = read("ledger", [["问题", weak, "配合单位"], ["甲", "市教育局", "市交通运输局"]])
    assert (table.columns["lead"], table.columns["co"]) == (weak, "配合单位")


def test_整改任务_is_the_problem_alone_and_the_measures_beside_a_problem():
    alone = read("ledger", [["序号", "整改任务"], [1, "学校周边交通拥堵"]])
    assert alone.columns["title"] == "整改任务"
    beside = read("ledger", [["存在问题", "整改任务"], ["学校周边交通拥堵", "增设护学岗"]])
    assert (beside.columns["title"], beside.columns["measures"]) == ("存在问题", "整改任务")
    # With measures of its own, the header has no room for it: it is named, not dropped.
    full = read("ledger", [["存在问题", "整改任务", "整改措施"], ["甲", "乙", "丙"]])
    assert full.columns["measures"] == "整改措施" and full.ignored == ["整改任务"]


def test_two_names_of_one_field_read_the_first_listed_and_name_the_other():
    table = read("ledger", [["问题", "牵头领导", "责任领导"], ["甲", "李文华", "黄建国"]])
    assert table.columns["leader"] == "责任领导" and table.ignored == ["牵头领导"]


# (header, rows, [(lead, co) of each item]): header sets as offices write them.
HEADER_SETS = {
    "牵头单位 beside 责任单位": (
        ["序号", "存在问题", "整改措施", "责任领导", "牵头单位", "责任单位", "完成时限"],
        [
            [
                1,
                "学校周边交通拥堵",
                "增设护学岗",
                "黄建国",
                "市教育局",
                "市交通运输局",
                "2030-06-30",
            ],
            [2, "医院停车难", "", "黄建国", "市卫生健康委", "市交通运输局、市教育局", "长期坚持"],
        ],
        [("edu", {"traffic"}), ("health", {"traffic", "edu"})],
    ),
    "责任单位 with 配合单位, no 牵头单位": (
        ["序号", "问题", "责任单位", "配合单位", "完成时限", "办理状态", "备注"],
        [
            [1, "公交线路覆盖不足", "市交通运输局", "市教育局", "2030年底", "待办理", ""],
            [2, "课后服务时间太短", "市教育局", "", "2030年6月", "推进中", "重点"],
        ],
        [("traffic", {"edu"}), ("edu", set())],
    ),
    "主办单位 with 责任部门 and 协办单位": (
        ["编号", "问题描述", "主办单位", "责任部门", "协办单位", "整改时限"],
        [
            ["A1", "夜间施工噪音", "市交通运输局", "市教育局", "市卫生健康委", "2030-12-31"],
            ["A2", "食品安全", "市卫生健康委", "", "市教育局", "2030-12-31"],
        ],
        [("traffic", {"edu", "health"}), ("health", {"edu"})],
    ),
    "责任部门 alone, unknown columns around": (
        ["序号", "反馈问题", "责任部门", "联系人", "联系电话", "整改时限"],
        [
            [1, "路灯不亮", "市交通运输局", "张三", "0773-1234567", "2030-12-31"],
            [2, "幼儿园学位不足", "市教育局", "李四", "", "长期坚持"],
        ],
        [("traffic", set()), ("edu", set())],
    ),
    "English, as another system exports": (
        ["No.", "Problem", "Lead department", "Co-responsible departments", "Deadline", "Status"],
        [[1, "Street lights", "市交通运输局", "市教育局", "2030-12-31", "open"]],
        [("traffic", {"edu"})],
    ),
}


@pytest.mark.parametrize("header, rows, expected", HEADER_SETS.values(), ids=HEADER_SETS.keys())
def test_real_header_sets_import_the_right_lead_and_co_departments(cast, header, rows, expected):
    departments = {"edu": cast.edu, "traffic": cast.traffic, "health": cast.health}
    plan = plan_ledger(cast.round, build.xlsx([header, *rows], title="整改台账"), "台账.xlsx")
    assert plan.refused == []
    write_ledger(plan, by=cast.alice)
    items = Item.objects.filter(round=cast.round).order_by("number")
    assert [(i.lead_department, set(i.co_departments.all())) for i in items] == [
        (departments[lead], {departments[d] for d in co}) for lead, co in expected
    ]
    # Every column is read, or named in what the preview says.
    named = set(plan.table.columns.values()) | set(plan.table.ignored) | set(plan.table.unread)
    assert {part for text in named for part in text.split("、")} >= set(header)


def test_feedback_keeps_channel_region_and_note_and_names_the_rest(db):
    from .factory import make_round

    round = make_round()
    data = build.xlsx(
        [
            ["序号", "意见建议内容", "所属区域", "反馈渠道", "备注", "提出人", "联系电话"],
            [1, "增加公办幼儿园学位", "临桂区", "电话访问", "多次反映", "王**", "138****0000"],
        ]
    )
    plan = plan_feedback(round, data, "f.xlsx")
    assert plan.table.ignored == ["提出人", "联系电话"]
    write_feedback(plan)
    assert list(Suggestion.objects.values_list("region", "channel", "note")) == [
        ("临桂区", "电话访问", "多次反映")
    ]
