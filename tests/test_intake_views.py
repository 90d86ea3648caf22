"""The intake pages: the hub, upload → preview → confirm, bad files, export."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ledger import workflow
from ledger.intake import views_files
from ledger.models import Item, Job, Round, Suggestion

from .factory import in_days, make_item, make_suggestion
from .files.intake import build

HEADER = ["序号", "意见建议内容", "所属领域", "地区", "渠道", "备注"]


@pytest.fixture(autouse=True)
def fresh_storage(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }


def stored(path: str = "intake/uploads") -> list[str]:
    try:
        return default_storage.listdir(path)[1]
    except FileNotFoundError:
        return []


def upload(client, round, data: bytes, name="意见建议.xlsx", kind="feedback"):
    url = reverse(f"intake:import-{kind}", args=[round.pk])
    return client.post(url, {"file": SimpleUploadedFile(name, data)})


def token_of(response) -> str:
    return response.context["confirm"].initial["upload"]


@pytest.mark.parametrize(
    "name, args",
    [
        ("intake:rounds", []),
        ("intake:round", [1]),
        ("intake:import-feedback", [1]),
        ("intake:import-ledger", [1]),
    ],
)
def test_only_supervisors_reach_the_intake_pages(client, cast, name, args):
    url = reverse(name, args=[cast.round.pk] if args else [])
    assert client.get(url).status_code == 302  # to sign in
    for user in (cast.bob, cast.lena, cast.nobody):
        client.force_login(user)
        assert client.get(url).status_code == 404
    client.force_login(cast.alice)
    assert client.get(url).status_code == 200


def test_the_hub_shows_received_items_and_awaiting_counts(client, cast):
    item = make_item(cast.round)
    make_suggestion(cast.round, item=item)
    make_suggestion(cast.round, item=item)
    make_suggestion(cast.round)
    client.force_login(cast.alice)
    page = client.get(reverse("intake:rounds")).content.decode()
    assert "收到意见建议 <strong>3</strong> 条" in page
    assert "归纳为 <strong>1</strong> 项" in page
    assert "1 条待归纳" in page
    assert reverse("intake:consolidate", args=[cast.round.pk]) in page
    assert reverse("intake:import-feedback", args=[cast.round.pk]) in page


def test_a_supervisor_creates_a_round_and_a_refused_form_keeps_the_input(client, cast):
    client.force_login(cast.alice)
    url = reverse("intake:round-create")
    assert client.get(url).status_code == 405
    bad = client.post(url, {"name": "2021年度", "code": "2019", "year": "2021", "kind": "annual"})
    assert bad.status_code == 400
    assert 'value="2021年度"' in bad.content.decode()
    assert not Round.objects.filter(code="2019", name="2021年度").exists()
    response = client.post(
        url, {"name": "2021年度", "code": "2021", "year": "2021", "kind": "annual"}
    )
    assert response.status_code == 302
    made = Round.objects.get(code="2021")
    assert (made.name, made.year, made.kind) == ("2021年度", 2021, "annual")
    assert response["Location"] == reverse("intake:round", args=[made.pk])
    assert client.get(response["Location"]).status_code == 200


def test_upload_shows_a_preview_and_writes_nothing_until_confirmed(client, cast):
    client.force_login(cast.alice)
    data = build.xlsx(
        [
            HEADER,
            [1, "<script>alert(1)</script>加强饮水安全", "社会保障"],
            [2, None],
            [3, "增加公交"],
        ],
        title="2019年度意见建议汇总表",
    )
    response = upload(client, cast.round, data)
    page = response.content.decode()
    assert response.status_code == 200
    assert re.search(
        r"<td class=\"num\"[^>]*>4</td><td class=\"text\"[^>]*>意见建议内容为空</td>", page
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "导入 2 条意见建议" in page
    assert Suggestion.objects.count() == 0
    assert len(stored()) == 1

    confirm = reverse("intake:import-feedback-confirm", args=[cast.round.pk])
    assert client.get(confirm).status_code == 405
    done = client.post(confirm, {"upload": token_of(response)})
    assert done.status_code == 302
    assert list(Suggestion.objects.values_list("seq", "text")) == [
        (1, "<script>alert(1)</script>加强饮水安全"),
        (3, "增加公交"),
    ]
    assert stored() == []
    # The same token cannot be used twice.
    again = client.post(confirm, {"upload": token_of(response)})
    assert again.status_code == 302 and Suggestion.objects.count() == 2


def test_cancel_deletes_the_stored_upload(client, cast):
    client.force_login(cast.alice)
    response = upload(client, cast.round, build.xlsx([HEADER, [1, "甲"]]))
    confirm = reverse("intake:import-feedback-confirm", args=[cast.round.pk])
    client.post(confirm, {"upload": token_of(response), "cancel": "1"})
    assert stored() == [] and Suggestion.objects.count() == 0


def test_another_users_upload_token_is_refused(client, cast):
    client.force_login(cast.alice)
    response = upload(client, cast.round, build.xlsx([HEADER, [1, "甲"]]))
    token = token_of(response)
    from .factory import make_user

    client.force_login(make_user("eve", role="supervisor"))
    confirm = reverse("intake:import-feedback-confirm", args=[cast.round.pk])
    client.post(confirm, {"upload": token})
    assert Suggestion.objects.count() == 0


@pytest.mark.parametrize(
    "data, name, message",
    [
        (build.png(), "photo.png", "这不是电子表格文件"),
        (b"just text", "意见.xlsx", "内容不是电子表格"),
        (build.damaged_xlsx(), "坏.xlsx", "文件已损坏"),
        (build.fixture("encrypted.xlsx"), "加密.xlsx", "文件设有密码"),
        (build.zip_bomb(), "炸弹.xlsx", "压缩炸弹"),
        (build.xlsx([["姓名", "电话"], ["张三", "1"]]), "无表头.xlsx", "未找到表头"),
    ],
    ids=["png", "text-renamed", "damaged", "encrypted", "zip-bomb", "no-header"],
)
def test_a_bad_file_gets_one_message_beside_the_field_and_nothing_is_written(
    client, cast, data, name, message
):
    client.force_login(cast.alice)
    response = upload(client, cast.round, data, name)
    assert response.status_code == 400
    assert message in response.content.decode()
    errors = response.context["form"].errors["file"]
    assert len(errors) == 1 and message in errors[0]
    assert Suggestion.objects.count() == 0 and stored() == []


def test_a_file_over_the_limit_is_refused_from_its_size(client, cast, settings):
    settings.IMPORT_MAX_BYTES = 1024 * 1024
    client.force_login(cast.alice)
    response = upload(client, cast.round, b"\x00" * (2 * 1024 * 1024), "大.xlsx")
    assert response.status_code == 400
    assert "文件大小为 2.0 MB，最多可导入 1 MB" in response.content.decode()


def test_ledger_import_preview_names_unknown_departments_then_imports_drafts(client, cast):
    client.force_login(cast.alice)
    header = ["编号", "问题", "责任领导", "牵头单位", "配合单位", "整改时限"]
    bad = build.xlsx([header, ["1", "问题甲", "黄建国", "市教育厅", "", "2030-12-31"]])
    page = upload(client, cast.round, bad, "台账.xlsx", kind="ledger").content.decode()
    assert "未知单位“市教育厅”" in page and "市教育局" in page
    good = build.xlsx(
        [header, ["X-1", "问题甲", "副市长 黄建国", "市教育局", "市交通运输局", "2030年12月底"]]
    )
    response = upload(client, cast.round, good, "台账.xlsx", kind="ledger")
    confirm = reverse("intake:import-ledger-confirm", args=[cast.round.pk])
    client.post(confirm, {"upload": token_of(response)})
    item = Item.objects.get(round=cast.round, reference="X-1")
    assert item.number == "2019-0001"  # the round's numbering, the file's number kept beside
    assert item.state == "draft" and item.lead_department == cast.edu
    assert list(item.co_departments.all()) == [cast.traffic]
    # The supervisor assigns it as any draft: its responsibility is already there.
    workflow.assign(item, by=cast.alice)
    item.refresh_from_db()
    assert item.state == "assigned"


def rows_of(response) -> list[str]:
    data = b"".join(response.streaming_content)
    ws = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    return [ws.cell(r, 2).value for r in range(3, ws.max_row + 1)]


def test_export_holds_what_the_list_shows_to_this_user(client, cast, assigned):
    other = make_item(cast.round, number="2019-9999", title="别的部门的事项")
    workflow.assign(
        other, by=cast.alice, leader=cast.leader, lead_department=cast.health, deadline=in_days(10)
    )
    make_item(cast.round, number="2019-0000", title="草稿")
    client.force_login(cast.bob)
    response = client.get(reverse("intake:export"), {"round": cast.round.pk})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert rows_of(response) == [assigned.number]
    client.force_login(cast.alice)
    everything = client.get(reverse("intake:export-round", args=[cast.round.pk]))
    assert rows_of(everything) == ["2019-0000", assigned.number, "2019-9999"]
    filtered = client.get(reverse("intake:export"), {"lead": cast.health.pk})
    assert rows_of(filtered) == ["2019-9999"]


def test_a_large_export_runs_as_a_job(client, cast, monkeypatch):
    monkeypatch.setattr(views_files, "EXPORT_AT_ONCE", 2)
    for n in range(3):
        make_item(cast.round, number=f"J-{n}")
    client.force_login(cast.alice)
    url = reverse("intake:export-round", args=[cast.round.pk])
    page = client.get(url)
    assert page.status_code == 200 and "后台" in page.content.decode()
    assert Job.objects.count() == 0
    response = client.post(url)
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert job.state == "done" and job.created_by == cast.alice
    ws = openpyxl.load_workbook(job.result_file.open("rb")).worksheets[0]
    assert [ws.cell(r, 2).value for r in range(3, ws.max_row + 1)] == ["J-0", "J-1", "J-2"]


def test_export_needs_a_signed_in_user(client, cast):
    assert client.get(reverse("intake:export")).status_code == 302


def test_a_new_upload_replaces_the_one_left_waiting(client, cast):
    client.force_login(cast.alice)
    first = upload(client, cast.round, build.xlsx([HEADER, [1, "甲"]]))
    upload(client, cast.round, build.xlsx([HEADER, [1, "乙"]]))
    assert len(stored()) == 1
    confirm = reverse("intake:import-feedback-confirm", args=[cast.round.pk])
    client.post(confirm, {"upload": token_of(first)})
    assert Suggestion.objects.count() == 0
