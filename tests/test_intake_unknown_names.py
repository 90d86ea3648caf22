"""Names a ledger or feedback file uses that are not on file: listed once in the preview,
matched or created by the supervisor, written only on confirm (docs/intake.md)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ledger.intake import views_files
from ledger.intake.ledger_import import plan_ledger
from ledger.intake.names import LEADER, split_leader
from ledger.models import Category, Department, Item, Leader, Suggestion

from .factory import make_category, make_department, make_leader
from .files.intake import build

LEDGER = ["编号", "问题", "类别", "责任领导", "牵头单位", "配合单位", "整改时限"]
FEEDBACK = ["序号", "意见建议内容", "所属领域"]


def upload(client, round, rows, kind="ledger"):
    url = reverse(f"intake:import-{kind}", args=[round.pk])
    header = LEDGER if kind == "ledger" else FEEDBACK
    data = build.xlsx([header, *rows])
    return client.post(url, {"file": SimpleUploadedFile(f"{kind}.xlsx", data)})


def token_of(response) -> str:
    return response.context["confirm"].initial["upload"]


def answer(client, round, response, answers: dict, kind="ledger"):
    """POST the names form as the preview draws it, with ``answers``: the text of a name
    (as the row shows it) → {"to": …, "name": …, "post": …}; other names left as drawn."""
    data = {"upload": token_of(response), "n": []}
    for row in response.context["name_rows"]:
        n = row.index
        data["n"].append(f"{row.unknown.kind}:{row.unknown.key}")
        given = answers.get(row.unknown.text, {})
        data[f"to-{n}"] = given.get("to", row.selected)
        data[f"name-{n}"] = given.get("name", row.new_name)
        data[f"post-{n}"] = given.get("post", row.new_post)
    return client.post(reverse(f"intake:import-{kind}-resolve", args=[round.pk]), data)


def confirm(client, round, response, kind="ledger"):
    url = reverse(f"intake:import-{kind}-confirm", args=[round.pk])
    return client.post(url, {"upload": token_of(response)})


def grant(user, codename: str) -> None:
    user.user_permissions.add(Permission.objects.get(codename=codename))


def test_an_unknown_leader_in_three_rows_is_listed_once_then_matched_and_imported(client, cast):
    client.force_login(cast.alice)
    rows = [
        ["A-1", "问题甲", "", "副市长 黄建军", "市教育局", "", "2030-12-31"],
        ["A-2", "问题乙", "", "副市长 黄建军", "市教育局", "", "2030-12-31"],
        ["A-3", "问题丙", "", "黄建国", "市教育局", "", "2030-12-31"],
        ["A-4", "问题丁", "", "副市长 黄建军", "市交通运输局", "", "2030-12-31"],
    ]
    response = upload(client, cast.round, rows)
    page = response.content.decode()
    (row,) = response.context["name_rows"]
    assert (row.unknown.kind, row.unknown.rows) == (LEADER, [2, 3, 5])
    assert page.count("未知领导“副市长 黄建军”") == 1
    assert "最接近的有：副市长 黄建国" in page
    assert row.closest[0] == (str(cast.leader.pk), "副市长 黄建国")
    assert "有 3 行列出的责任领导或单位尚未登记" in page
    assert len(response.context["plan"].items) == 1 and not response.context["plan"].refused

    matched = answer(client, cast.round, response, {"副市长 黄建军": {"to": cast.leader.pk}})
    assert matched.status_code == 200
    assert Item.objects.count() == 0  # nothing written before the confirm
    assert "导入 4 项" in matched.content.decode()
    (row,) = matched.context["name_rows"]
    assert row.selected == str(cast.leader.pk)  # the answer is drawn again as chosen

    done = confirm(client, cast.round, matched)
    assert done.status_code == 302
    items = Item.objects.filter(round=cast.round).order_by("number")
    assert [(i.reference, i.leader) for i in items] == [
        ("A-1", cast.leader),
        ("A-2", cast.leader),
        ("A-3", cast.leader),
        ("A-4", cast.leader),
    ]


def test_rows_with_other_problems_stay_refused_once_their_name_is_matched(client, cast):
    client.force_login(cast.alice)
    rows = [
        ["B-1", "问题甲", "", "", "市教育厅", "", "2030-12-31"],
        ["B-2", "问题乙", "", "", "市教育厅", "", "尽快"],
    ]
    response = upload(client, cast.round, rows)
    plan = response.context["plan"]
    # The unknown name is no row's refusal: it is listed once, for both rows.
    assert [r.row for r in plan.refused] == [3] and "not a deadline" not in plan.refused[0].reason
    assert response.context["name_rows"][0].unknown.rows == [2, 3]
    matched = answer(client, cast.round, response, {"市教育厅": {"to": cast.edu.pk}})
    assert [i.reference for i in matched.context["plan"].items] == ["B-1"]
    assert [r.row for r in matched.context["plan"].refused] == [3]
    confirm(client, cast.round, matched)
    assert list(Item.objects.values_list("reference", "lead_department")) == [("B-1", cast.edu.pk)]


def test_a_category_to_create_is_created_on_confirm_and_not_before(client, cast):
    make_category(cast.round, "经济发展")
    client.force_login(cast.alice)
    response = upload(client, cast.round, [["C-1", "问题甲", "城建", "", "", "", ""]])
    (row,) = response.context["name_rows"]
    assert row.selected == "new"  # a ledger's new category is created unless told otherwise
    matched = answer(client, cast.round, response, {"城建": {"to": "new", "name": "城市建设"}})
    assert matched.status_code == 200
    assert "本批次将新增类别： 城市建设" in matched.content.decode()
    assert list(Category.objects.values_list("name", flat=True)) == ["经济发展"]
    assert Item.objects.count() == 0
    confirm(client, cast.round, matched)
    item = Item.objects.get(reference="C-1")
    assert item.category.name == "城市建设" and item.category.round == cast.round
    assert list(cast.round.categories.values_list("name", flat=True)) == ["经济发展", "城市建设"]


def test_a_supervisor_without_add_department_cannot_create_one(client, cast):
    client.force_login(cast.alice)
    response = upload(client, cast.round, [["D-1", "问题甲", "", "", "市教育厅", "", ""]])
    (row,) = response.context["name_rows"]
    assert row.create == ""
    assert '<option value="new"' not in response.content.decode()
    forged = answer(client, cast.round, response, {"市教育厅": {"to": "new", "name": "市教育厅"}})
    assert forged.status_code == 400
    page = forged.content.decode()
    assert "您无权新增单位" in page and "未作任何更改" in page
    session = client.session["intake_uploads"][token_of(response)]
    assert session["names"] == {}
    confirm(client, cast.round, forged)
    assert not Department.objects.filter(name="市教育厅").exists()
    assert Item.objects.count() == 0  # its only row waits for the name


def test_with_add_department_a_new_department_is_created_with_the_items(client, cast):
    grant(cast.alice, "add_department")
    client.force_login(cast.alice)
    rows = [["E-1", "问题甲", "", "", "市教育厅", "市教育厅、市交通运输局", ""]]
    response = upload(client, cast.round, rows)
    (row,) = response.context["name_rows"]
    assert row.create and row.new_name == "市教育厅"
    matched = answer(client, cast.round, response, {"市教育厅": {"to": "new"}})
    assert not Department.objects.filter(name="市教育厅").exists()
    confirm(client, cast.round, matched)
    new = Department.objects.get(name="市教育厅")
    item = Item.objects.get(reference="E-1")
    assert item.lead_department == new and list(item.co_departments.all()) == [cast.traffic]
    assert new.order > max(cast.edu.order, cast.traffic.order, cast.health.order)


def test_a_new_leader_needs_a_post_and_is_read_from_the_text(client, cast):
    grant(cast.alice, "add_leader")
    client.force_login(cast.alice)
    response = upload(client, cast.round, [["F-1", "问题甲", "", "张三（市长助理）", "", "", ""]])
    (row,) = response.context["name_rows"]
    assert (row.new_post, row.new_name) == ("市长助理", "张三")
    refused = answer(client, cast.round, response, {"张三（市长助理）": {"to": "new", "post": ""}})
    assert refused.status_code == 400
    assert "新增领导需填写姓名和职务" in refused.content.decode()
    assert refused.context["name_rows"][0].new_post == ""  # what was typed is kept
    matched = answer(
        client, cast.round, response, {"张三（市长助理）": {"to": "new", "post": "副市长"}}
    )
    assert matched.status_code == 200 and not Leader.objects.filter(name="张三").exists()
    confirm(client, cast.round, matched)
    added = Leader.objects.get(name="张三", post="副市长")
    assert Item.objects.get(reference="F-1").leader == added


def test_a_deactivated_department_is_not_matched_and_is_listed_as_deactivated(client, cast):
    cast.health.is_active = False
    cast.health.save()
    client.force_login(cast.alice)
    response = upload(client, cast.round, [["G-1", "问题甲", "", "", "市卫生健康委", "", ""]])
    (row,) = response.context["name_rows"]
    assert row.unknown.deactivated
    page = response.content.decode()
    assert "部门“市卫生健康委”已停用" in page and '<span class="flag">已停用</span>' in page
    offered = {value for value, _label in row.closest + row.others}
    assert str(cast.health.pk) not in offered and str(cast.edu.pk) in offered
    assert response.context["plan"].items == []
    # The command refuses the row and says why.
    data = build.xlsx([LEDGER, ["G-1", "问题甲", "", "", "市卫生健康委"]])
    plan = plan_ledger(cast.round, data, "f.xlsx")
    assert "部门“市卫生健康委”已停用" in plan.refused[0].reason


def test_a_bad_answer_changes_nothing(client, cast):
    client.force_login(cast.alice)
    response = upload(client, cast.round, [["H-1", "问题甲", "", "黄建军", "", "", ""]])
    bad = answer(client, cast.round, response, {"黄建军": {"to": "999999"}})
    assert bad.status_code == 400
    assert "已不在册" in bad.content.decode()
    assert client.session["intake_uploads"][token_of(response)]["names"] == {}
    assert Item.objects.count() == 0


def test_a_department_deactivated_since_the_answer_refuses_the_confirm(client, cast):
    client.force_login(cast.alice)
    response = upload(client, cast.round, [["J-1", "问题甲", "", "", "市教育厅", "", ""]])
    matched = answer(client, cast.round, response, {"市教育厅": {"to": cast.edu.pk}})
    Department.objects.filter(pk=cast.edu.pk).update(is_active=False)
    refused = confirm(client, cast.round, matched)
    assert refused.status_code == 409
    page = refused.content.decode()
    assert "未导入任何内容" in page and "为“市教育厅”选择的对象已不在册（或已停用）" in page
    assert Item.objects.count() == 0
    # The upload is still waiting: answered again, it imports.
    again = answer(client, cast.round, refused, {"市教育厅": {"to": cast.traffic.pk}})
    confirm(client, cast.round, again)
    assert Item.objects.get(reference="J-1").lead_department == cast.traffic


def test_a_name_someone_added_since_the_answer_is_used_as_on_file(client, cast):
    grant(cast.alice, "add_department")
    client.force_login(cast.alice)
    response = upload(client, cast.round, [["K-1", "问题甲", "", "", "市教育厅", "", ""]])
    matched = answer(client, cast.round, response, {"市教育厅": {"to": "new"}})
    added = make_department("市教育厅")  # by the administrator, meanwhile
    assert confirm(client, cast.round, matched).status_code == 302
    assert Item.objects.get(reference="K-1").lead_department == added
    assert Department.objects.filter(name="市教育厅").count() == 1


def test_a_new_name_that_is_on_file_is_refused(client, cast):
    grant(cast.alice, "add_department")
    client.force_login(cast.alice)
    response = upload(client, cast.round, [["M-1", "问题甲", "", "", "市教育厅", "", ""]])
    refused = answer(client, cast.round, response, {"市教育厅": {"to": "new", "name": "市教育局"}})
    assert refused.status_code == 400
    assert "“市教育局”现已登记，请在列表中选择" in refused.content.decode()
    assert refused.context["name_rows"][0].new_name == "市教育局"
    assert Department.objects.count() == 3


def test_a_feedback_category_mapped_lands_in_the_suggestion_and_in_consolidation(client, cast):
    traffic = make_category(cast.round, "交通建设")
    make_category(cast.round, "社会保障")
    client.force_login(cast.alice)
    text = "学校门口上下学时段交通拥堵，希望增派交警疏导。"
    rows = [[1, text, "出行"], [2, text, "出行"], [3, "公园厕所太少", "社会保障"]]
    response = upload(client, cast.round, rows, kind="feedback")
    (row,) = response.context["name_rows"]
    assert (row.unknown.text, row.unknown.rows, row.selected) == ("出行", [2, 3], "")
    matched = answer(client, cast.round, response, {"出行": {"to": traffic.pk}}, kind="feedback")
    assert Suggestion.objects.count() == 0
    confirm(client, cast.round, matched, kind="feedback")
    first, second, third = Suggestion.objects.order_by("seq")
    assert (first.category, first.category_text) == (traffic, "出行")
    assert second.category == traffic and third.category is None
    page = client.get(reverse("intake:consolidate", args=[cast.round.pk]))
    card = next(c for c in page.context["cards"] if first.pk in c.ids)
    assert card.category == str(traffic.pk)


def test_a_feedback_category_created_keeps_the_words_as_received(client, cast):
    client.force_login(cast.alice)
    response = upload(client, cast.round, [[1, "公园厕所太少", "城市管理"]], kind="feedback")
    matched = answer(client, cast.round, response, {"城市管理": {"to": "new"}}, kind="feedback")
    assert not Category.objects.exists()
    confirm(client, cast.round, matched, kind="feedback")
    suggestion = Suggestion.objects.get()
    assert (suggestion.category.name, suggestion.category_text) == ("城市管理", "城市管理")


def test_more_names_than_the_form_holds_come_up_as_these_are_answered(client, cast, monkeypatch):
    monkeypatch.setattr(views_files, "NAMES_SHOWN", 1)
    client.force_login(cast.alice)
    rows = [
        ["N-1", "问题甲", "", "", "市教育厅", "", ""],
        ["N-2", "问题乙", "", "", "市交通厅", "", ""],
    ]
    response = upload(client, cast.round, rows)
    assert [r.unknown.text for r in response.context["name_rows"]] == ["市教育厅"]
    assert "另有 1 个未登记的名称" in response.content.decode()
    first = answer(client, cast.round, response, {"市教育厅": {"to": cast.edu.pk}})
    assert [r.unknown.text for r in first.context["name_rows"]] == ["市交通厅"]
    second = answer(client, cast.round, first, {"市交通厅": {"to": cast.traffic.pk}})
    # The first answer is kept though the form no longer carried it.
    assert [i.lead_department for i in second.context["plan"].items] == [cast.edu, cast.traffic]


@pytest.mark.parametrize("kind", ["ledger", "feedback"])
def test_the_names_form_is_for_supervisors_and_posts_only(client, cast, kind):
    url = reverse(f"intake:import-{kind}-resolve", args=[cast.round.pk])
    assert client.post(url).status_code == 302  # to sign in
    for user in (cast.bob, cast.lena, cast.nobody):
        client.force_login(user)
        assert client.post(url).status_code == 404
        assert client.get(url).status_code == 404
    client.force_login(cast.alice)
    assert client.get(url).status_code == 405
    # A token this session does not have: back to the upload page.
    gone = client.post(url, {"upload": "nope"})
    assert gone.status_code == 302 and gone["Location"].endswith(f"/{kind}/")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("常务副市长 张三", ("常务副市长", "张三")),
        ("常务副市长张三", ("常务副市长", "张三")),
        ("张三（副市长）", ("副市长", "张三")),
        ("张三(副市长)", ("副市长", "张三")),
        ("张三 副市长", ("副市长", "张三")),
        ("市委常委、副市长 李四", ("市委常委、副市长", "李四")),
        ("张三", ("", "张三")),
    ],
)
def test_a_leaders_post_and_name_are_read_from_the_text(text, expected):
    assert split_leader(text) == expected


def test_a_leader_written_name_then_post_is_matched(cast):
    data = build.xlsx([LEDGER, ["K-1", "问题甲", "", "李文华（常务副市长）"]])
    plan = plan_ledger(cast.round, data, "f.xlsx")
    assert plan.refused == [] and plan.items[0].leader == cast.other_leader


def test_unknown_leaders_are_found_among_active_ones_only(cast):
    make_leader(name="王五", post="副市长", is_active=False)
    data = build.xlsx([LEDGER, ["L-1", "问题甲", "", "副市长 王五"]])
    plan = plan_ledger(cast.round, data, "f.xlsx")
    assert "领导“副市长 王五”已停用" in plan.refused[0].reason
    assert plan.unknown[0].deactivated
