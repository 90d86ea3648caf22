"""Ledgers and feedback files laid out as offices make them (tests/fixtures/ledgers): a
title above the header, a header of two rows under a merged band, section headings between
the items, notes, progress columns; the round's one numbering; the creation events."""

from __future__ import annotations

import datetime
import io
import re
from pathlib import Path

import pytest
import python_calamine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils.translation import override

from ledger.intake.feedback import plan_feedback, write_feedback
from ledger.intake.ledger_import import in_numbering, plan_ledger, write_ledger
from ledger.intake.reading import IntakeError, section_name
from ledger.models import Event, Item, Suggestion

from .factory import make_category, make_item, make_round
from .files.intake import build
from .fixtures.ledgers import build as examples

FIXTURES = Path(examples.__file__).resolve().parent
LEAD_AND_RESPONSIBLE = "整改台账-牵头单位与责任单位.xlsx"
RESPONSIBLE_AND_CO = "督办清单-责任单位与配合单位.xlsx"
TWO_ROW_HEADER = "问题整改清单-两行表头与分组.xlsx"
FEEDBACK = "意见建议汇总表-分组.xlsx"


def example(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture(autouse=True)
def fresh_storage(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }


@pytest.mark.parametrize("name", examples.FILES)
def test_the_committed_examples_are_what_the_script_builds(name):
    def cells(data: bytes) -> list[list]:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        return [book.get_sheet_by_index(0).to_python()]

    out = io.BytesIO()
    examples.build(name).save(out)
    assert cells(out.getvalue()) == cells(example(name))


def items_of(round) -> list[Item]:
    return list(Item.objects.filter(round=round).order_by("number"))


# --- 牵头单位 beside 责任单位 ------------------------------------------------------------------


def test_a_ledger_with_牵头单位_and_责任单位_keeps_every_department_and_note(cast):
    with override("en"):
        plan = plan_ledger(cast.round, example(LEAD_AND_RESPONSIBLE), LEAD_AND_RESPONSIBLE)
    assert plan.refused == [] and plan.table.header_row == 3
    assert plan.table.ignored == ["联系电话"]
    assert plan.table.unread == ["整改进展"]
    write_ledger(plan, by=cast.alice)
    items = items_of(cast.round)
    assert [
        (
            i.number,
            i.reference,
            i.title,
            i.leader,
            i.lead_department,
            set(i.co_departments.all()),
            i.deadline,
            i.long_term,
            i.remarks,
        )
        for i in items
    ] == [
        (
            "2019-0001",
            "1",
            "学校周边上下学时段交通拥堵",
            cast.leader,
            cast.edu,
            {cast.traffic},
            datetime.date(2020, 9, 30),
            False,
            "涉及城区12所学校",
        ),
        (
            "2019-0002",
            "2",
            "老旧小区加装电梯推进慢",
            cast.other_leader,
            cast.health,
            {cast.edu, cast.traffic},
            None,
            True,
            "",
        ),
        (
            "2019-0003",
            "3",
            "农村饮水安全保障不足",
            cast.leader,
            cast.health,
            set(),
            datetime.date(2020, 12, 31),
            False,
            "群众反映强烈\n列入民生实事",
        ),
    ]
    assert {i.state for i in items} == {"draft"}  # 整改进展 is not history to import


def test_the_preview_names_every_column_not_read_and_how_items_are_numbered(client, cast):
    client.force_login(cast.alice)
    client.cookies["django_language"] = "en"
    response = client.post(
        reverse("intake:import-ledger", args=[cast.round.pk]),
        {"file": SimpleUploadedFile(LEAD_AND_RESPONSIBLE, example(LEAD_AND_RESPONSIBLE))},
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Columns not read: 联系电话. Their contents are not imported." in page
    assert "Progress and state columns, not imported: 整改进展." in page
    assert "3 items are numbered in this round’s numbering (2019-0001 …)" in page
    assert "3 not in this round’s numbering (a 序号 column" in page
    # Each renumbered item shows the number the file gives it.
    assert re.search(r"2019-0001<br><span[^>]*>in the file: 1</span>", page)
    assert "涉及城区12所学校" in page  # the remarks
    assert Item.objects.count() == 0


def test_the_feedback_preview_names_its_columns_not_read_and_its_sections(client, cast):
    client.force_login(cast.alice)
    client.cookies["django_language"] = "en"
    response = client.post(
        reverse("intake:import-feedback", args=[cast.round.pk]),
        {"file": SimpleUploadedFile(FEEDBACK, example(FEEDBACK))},
    )
    page = response.content.decode()
    assert "Columns not read: 提出人. Their contents are not imported." in page
    assert "2 rows were read as section headings, not as rows to import" in page
    assert "“一、教育事业” → 教育事业" in page and "“二、交通建设” → 交通建设" in page
    assert "电话访问" in page and "临桂区" in page and "多次反映" in page


# --- 责任单位 as the lead, and numbering -----------------------------------------------------


def test_责任单位_alone_is_the_lead_and_numbers_are_kept_or_renumbered(cast):
    with override("en"):
        plan = plan_ledger(cast.round, example(RESPONSIBLE_AND_CO), RESPONSIBLE_AND_CO)
    assert plan.refused == [] and plan.table.unread == ["办理状态"]
    numbering = plan.numbering
    assert (numbering.kept, numbering.repeated, numbering.foreign) == (2, 1, 1)
    write_ledger(plan, by=cast.alice)
    assert [
        (i.number, i.reference, i.lead_department, set(i.co_departments.all()), i.remarks)
        for i in items_of(cast.round)
    ] == [
        ("2019-0001", "", cast.traffic, {cast.edu, cast.health}, ""),
        ("2019-0002", "", cast.health, {cast.traffic}, ""),
        # Repeated in the file, and a 序号 left in: numbered on, past the file's own numbers.
        ("2019-0003", "2019-0002", cast.edu, {cast.health}, "编号与上一行重复"),
        ("2019-0004", "7", cast.traffic, set(), ""),
    ]


def test_a_number_taken_in_the_round_is_renumbered_and_a_row_imported_before_refused(cast):
    make_item(cast.round, number="2019-0001", title="别的问题")
    make_item(cast.round, number="2019-0002", title="医院周边停车难")
    with override("en"):
        plan = plan_ledger(cast.round, example(RESPONSIBLE_AND_CO), RESPONSIBLE_AND_CO)
    assert [(r.row, r.reason) for r in plan.refused] == [
        (
            3,
            "imported before: item 2019-0002 of this round has this number (2019-0002) "
            "and this problem",
        )
    ]
    assert [(i.number, i.reference, i.title) for i in plan.items] == [
        ("2019-0003", "2019-0001", "公交线路覆盖不足"),
        ("2019-0004", "2019-0002", "校园食品安全监管不到位"),
        ("2019-0005", "7", "城区夜间施工噪音扰民"),
    ]
    assert (plan.numbering.kept, plan.numbering.taken, plan.numbering.foreign) == (0, 2, 1)


def test_importing_the_same_file_again_creates_nothing(cast):
    write_ledger(plan_ledger(cast.round, example(LEAD_AND_RESPONSIBLE), "a.xlsx"))
    with override("en"):
        again = plan_ledger(cast.round, example(LEAD_AND_RESPONSIBLE), "a.xlsx")
    assert again.items == [] and len(again.refused) == 3
    assert again.refused[0].reason.startswith("imported before: item 2019-0001")


def test_a_withdrawn_items_number_is_not_given_again(cast):
    make_item(cast.round, number="2019-0001", title="作废的事项", state=Item.State.WITHDRAWN)
    data = build.xlsx([["序号", "问题"], [1, "新问题"]])
    plan = plan_ledger(cast.round, data, "f.xlsx")
    assert [(i.number, i.reference) for i in plan.items] == [("2019-0002", "1")]


def test_the_rounds_numbers_a_refused_row_gives_are_kept_free_for_it(cast):
    data = build.xlsx([["编号", "问题", "整改时限"], ["2019-0001", "甲", "尽快"], ["", "乙", ""]])
    plan = plan_ledger(cast.round, data, "f.xlsx")
    assert [r.row for r in plan.refused] == [2]
    assert [i.number for i in plan.items] == ["2019-0002"]


@pytest.mark.parametrize(
    "number, kept",
    [
        ("2019-0001", True),
        ("2019-12345", True),
        ("2019-12", False),  # not written as the round writes its numbers
        ("2019-0000", False),
        ("2019-00012", False),
        ("12", False),
        ("2020-0001", False),
        ("2019-０００１", False),
    ],
)
def test_what_is_in_the_rounds_numbering(cast, number, kept):
    assert in_numbering(cast.round, number) is kept


# --- A header of two rows, section headings ----------------------------------------------


def test_a_two_row_header_and_section_headings_give_departments_and_categories(cast):
    make_category(cast.round, "教育事业")
    with override("en"):
        plan = plan_ledger(cast.round, example(TWO_ROW_HEADER), TWO_ROW_HEADER)
    table = plan.table
    assert (table.header_row, table.header_rows) == (3, 2)
    assert (table.columns["lead"], table.columns["co"]) == ("牵头单位", "配合单位")
    assert [(h.row, h.name) for h in table.headings] == [
        (4, "教育事业"),
        (7, "交通出行"),
        (9, "城市管理"),
    ]
    # Headings are neither items nor refusals; the categories new to the round are listed.
    assert plan.refused == [] and plan.rows_read == 4
    assert plan.new_categories == ["交通出行", "城市管理"]
    write_ledger(plan, by=cast.alice)
    assert [
        (
            i.reference,
            i.category.name,
            i.lead_department,
            set(i.co_departments.all()),
            i.goal,
            i.remarks,
        )
        for i in items_of(cast.round)
    ] == [
        ("1", "教育事业", cast.edu, {cast.health}, "课后服务全覆盖", ""),
        ("2", "教育事业", cast.edu, {cast.traffic}, "高峰时段不拥堵", ""),
        ("3", "交通出行", cast.traffic, set(), "", ""),
        ("4", "城市管理", cast.traffic, {cast.edu}, "", "已纳入年度计划"),
    ]


def test_the_preview_of_a_two_row_header_says_its_rows_and_its_sections(client, cast):
    client.force_login(cast.alice)
    client.cookies["django_language"] = "en"
    response = client.post(
        reverse("intake:import-ledger", args=[cast.round.pk]),
        {"file": SimpleUploadedFile(TWO_ROW_HEADER, example(TWO_ROW_HEADER))},
    )
    page = response.content.decode()
    assert "header on row 2–3" in page
    assert "3 rows were read as section headings, not as rows to import" in page
    assert "“三、城市管理类问题 1 项” → 城市管理" in page
    assert "Rows refused" not in page


def test_a_band_keeps_its_name_over_a_sub_header_the_import_does_not_know(cast):
    data = build.xlsx(
        [
            ["序号", "问题", "责任单位", None, "完成时限", None],
            [None, None, "牵头单位", "配合单位", "计划", "实际"],
            [1, "问题甲", "市教育局", "市交通运输局", "2030-12-31", None],
        ]
    )
    table = plan_ledger(cast.round, data, "f.xlsx").table
    assert (table.header_row, table.header_rows) == (2, 2)
    assert table.columns["deadline"] == "完成时限" and table.ignored == ["实际"]
    assert table.rows[0].values["co"] == "市交通运输局"


def test_a_title_that_is_also_a_column_name_is_not_taken_for_the_header(cast):
    data = build.xlsx([["序号", "问题", "牵头单位"], [1, "问题甲", "市教育局"]], title="问题清单")
    table = plan_ledger(cast.round, data, "f.xlsx").table
    assert (table.header_row, table.header_rows, table.columns["title"]) == (2, 1, "问题")


def test_a_column_with_data_and_no_header_is_named_by_its_letter(cast):
    with override("en"):
        data = build.xlsx([["序号", "问题", None], [1, "问题甲", "张三 13800000000"]])
        table = plan_ledger(cast.round, data, "f.xlsx").table
    assert table.ignored == ["column C (no header)"]


def test_a_row_with_its_own_category_keeps_it_under_a_heading(cast):
    data = build.xlsx(
        [
            ["序号", "问题", "类别"],
            ["一、教育事业（2项）"],
            [1, "课后服务时间短", ""],
            [2, "校车不足", "交通建设"],
        ]
    )
    plan = plan_ledger(cast.round, data, "f.xlsx")
    assert [i._category_name for i in plan.items] == ["教育事业", "交通建设"]


def test_feedback_sections_channel_region_and_note_are_kept(cast):
    make_category(cast.round, "教育事业")
    plan = plan_feedback(cast.round, example(FEEDBACK), FEEDBACK)
    assert plan.refused == [] and len(plan.table.headings) == 2
    write_feedback(plan)
    assert list(
        Suggestion.objects.order_by("seq").values_list(
            "seq", "category_text", "region", "channel", "note"
        )
    ) == [
        (1, "教育事业", "临桂区", "电话访问", "多次反映"),
        (2, "教育事业", "秀峰区", "网络评议", ""),
        (3, "交通建设", "七星区", "短信评议", ""),
    ]


@pytest.mark.parametrize(
    "text, name",
    [
        ("一、教育事业（3项）", "教育事业"),
        ("（二）交通出行", "交通出行"),
        ("(三) 社会保障", "社会保障"),
        ("二、城市管理类问题 5 项", "城市管理"),
        ("四、环境保护（共4条）", "环境保护"),
        ("第五部分 社会治安", "社会治安"),
        ("经济发展类", "经济发展"),
        ("教育事业（2项）", "教育事业"),
        # Not headings: items and notes.
        ("老旧小区加装电梯", ""),
        ("1、学校周边交通拥堵", ""),
        ("（1）学校周边交通拥堵", ""),
        ("一、学校周边交通拥堵，家长反映强烈。", ""),
        ("建议增加公交线路5条", ""),
        ("注：以上问题由市考评办汇总", ""),
    ],
)
def test_what_reads_as_a_section_heading(text, name):
    assert section_name(text) == name


# --- Creation is history -----------------------------------------------------------------


def test_each_imported_item_has_its_creation_event_naming_the_file(client, cast):
    client.force_login(cast.alice)
    response = client.post(
        reverse("intake:import-ledger", args=[cast.round.pk]),
        {"file": SimpleUploadedFile(LEAD_AND_RESPONSIBLE, example(LEAD_AND_RESPONSIBLE))},
    )
    token = response.context["confirm"].initial["upload"]
    client.post(reverse("intake:import-ledger-confirm", args=[cast.round.pk]), {"upload": token})
    events = Event.objects.filter(item__round=cast.round).order_by("item__number")
    assert [(e.item.number, e.kind, e.actor, e.to_state, e.data) for e in events] == [
        (
            f"2019-000{n}",
            "create",
            cast.alice,
            "draft",
            {"how": "ledger", "file": LEAD_AND_RESPONSIBLE, "row": n + 3, "reference": str(n)},
        )
        for n in (1, 2, 3)
    ]


def test_the_command_records_creation_by_no_one(cast, tmp_path):
    path = tmp_path / TWO_ROW_HEADER
    path.write_bytes(example(TWO_ROW_HEADER))
    out = io.StringIO()
    with override("en"):
        call_command("import_ledger", str(path), "--round", "2019年度", stdout=out)
    assert "3 rows were read as section headings, not as rows to import" in out.getvalue()
    assert "4 items are numbered in this round’s numbering" in out.getvalue()
    event = Event.objects.filter(item__round=cast.round).order_by("item__number").first()
    assert (event.actor, event.data["file"], event.data["row"]) == (None, TWO_ROW_HEADER, 5)


def test_nothing_is_written_when_the_creation_events_cannot_be(cast, monkeypatch):
    from ledger import workflow

    def refuse(*args, **kwargs):
        raise IntakeError("stop")

    monkeypatch.setattr(workflow, "record_creation", refuse)
    plan = plan_ledger(cast.round, example(LEAD_AND_RESPONSIBLE), "a.xlsx")
    with pytest.raises(IntakeError):
        write_ledger(plan)
    assert Item.objects.count() == 0 and Event.objects.count() == 0


def test_another_round_is_numbered_its_own_way(cast):
    round = make_round(name="2020年中期", code="2020m")
    plan = plan_ledger(round, example(RESPONSIBLE_AND_CO), RESPONSIBLE_AND_CO)
    assert [(i.number, i.reference) for i in plan.items] == [
        ("2020m-0001", "2019-0001"),
        ("2020m-0002", "2019-0002"),
        ("2020m-0003", "2019-0002"),
        ("2020m-0004", "7"),
    ]
