"""Bulk set-up from one workbook: departments, leaders and accounts, a preview, one
transaction, and the one-time passwords downloaded once."""

from __future__ import annotations

import datetime
import importlib.util
import io
from pathlib import Path

import openpyxl
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import InMemoryStorage, default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ledger.administration import setup, views_setup
from ledger.intake.reading import IntakeError
from ledger.models import Department, Leader, User

from .factory import make_user

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "fixtures" / "setup-sample.xlsx"
ACCOUNTS_HEADER = ["用户名", "姓名", "角色", "部门", "领导", "邮箱"]


def _sample_script():
    spec = importlib.util.spec_from_file_location(
        "build_setup_sample", ROOT / "fixtures" / "build_setup_sample.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def fresh_storage(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }


@pytest.fixture
def admin_user(db):
    return make_user("root", role="administrator", first_name="管理员")


@pytest.fixture
def admin(client, admin_user):
    client.force_login(admin_user)
    return client


def workbook(sheets: dict[str, list[list]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client, data: bytes, name: str = "设置.xlsx"):
    return client.post(reverse("manage:setup"), {"file": SimpleUploadedFile(name, data)})


def confirm(client, preview, *, follow: bool = False, **extra):
    token = preview.context["confirm"].initial["upload"]
    return client.post(reverse("manage:setup-confirm"), {"upload": token, **extra}, follow=follow)


def stored(folder: str) -> list[str]:
    try:
        return default_storage.listdir(folder)[1]
    except FileNotFoundError:
        return []


def reasons(preview, kind: str) -> list[str]:
    return [r.reason for r in getattr(preview.context["plan"], kind).refused]


def accounts_sheet(*rows: list) -> bytes:
    return workbook({"账号": [ACCOUNTS_HEADER, *rows]})


# --- The sample workbook ---------------------------------------------------------------------


def test_the_sample_workbook_sets_an_office_up_exactly(admin, admin_user):
    sample = _sample_script()
    preview = upload(admin, SAMPLE.read_bytes(), SAMPLE.name)
    assert preview.status_code == 200
    plan = preview.context["plan"]
    assert [len(s.create) for s in plan.sections] == [6, 2, 10]
    assert plan.refused == 0
    assert plan.departments.table.header_row == 2  # below the merged title row
    assert "序号" in preview.content.decode()  # read past, and said so
    assert Department.objects.count() == 0  # nothing written by the preview

    done = confirm(admin, preview, confirm="1")
    assert done["Location"] == reverse("manage:setup-done")
    assert stored(views_setup.UPLOADS_DIR) == []
    assert Department.objects.count() == len(sample.DEPARTMENTS) == 6
    assert set(Department.objects.values_list("name", "email")) == set(sample.DEPARTMENTS)
    assert Leader.objects.count() == 2
    li = Leader.objects.get(name="李文华")
    assert (li.post, li.term_start) == ("常务副市长", datetime.date(2021, 9, 1))
    made = User.objects.exclude(pk=admin_user.pk)
    assert made.count() == len(sample.ACCOUNTS) == 10
    for username, name, _role, department, leader, email in sample.ACCOUNTS:
        user = made.get(username=username)
        assert user.must_change_password
        assert (user.first_name, user.email) == (name, email)
        assert (user.department.name if user.department else "") == department
        assert (user.leader is not None) == bool(leader)
    assert made.get(username="liwenhua").leader == li
    assert made.get(username="huangjianguo").leader == Leader.objects.get(name="黄建国")
    assert set(made.values_list("role", flat=True)) == {"supervisor", "official", "leader"}

    page = admin.get(done["Location"]).content.decode()
    assert "jiaoyuju01" in page and reverse("manage:setup-download") in page

    # The passwords: one sheet, sent once, never cached, and each one signs its account in.
    sheet = admin.post(reverse("manage:setup-download"))
    assert sheet.status_code == 200
    assert "no-store" in sheet["Cache-Control"]
    assert sheet["Content-Type"].startswith("application/vnd.openxmlformats")
    assert stored(views_setup.SHEETS_DIR) == []
    rows = list(openpyxl.load_workbook(io.BytesIO(sheet.content)).active.values)
    assert list(rows[0]) == ["用户名", "姓名", "角色", "部门", "一次性密码"]
    assert [row[0] for row in rows[1:]] == [a[0] for a in sample.ACCOUNTS]
    jiaoyu = next(row for row in rows if row[0] == "jiaoyuju01")
    assert jiaoyu[1:4] == ("刘芳", "部门经办人", "市教育局")
    for username, *_rest, password in rows[1:]:
        person = admin.__class__()
        signed_in = person.post(reverse("login"), {"username": username, "password": password})
        assert signed_in.status_code == 302, username
        # A one-time password: every page leads to the password page.
        assert person.get(reverse("ledger:home"))["Location"] == reverse("password-change")

    again = admin.post(reverse("manage:setup-download"), follow=True)
    assert again.redirect_chain[-1][0] == reverse("manage:setup-done")
    assert "已下载" in again.content.decode()
    assert "重置" in again.content.decode()
    assert reverse("manage:setup-download") not in again.content.decode()


def test_the_sample_script_builds_the_committed_sample():
    out = io.BytesIO()
    _sample_script().build().save(out)
    built = openpyxl.load_workbook(out)
    committed = openpyxl.load_workbook(SAMPLE)
    assert built.sheetnames == committed.sheetnames
    for name in built.sheetnames:
        assert list(built[name].values) == list(committed[name].values)


def test_the_sample_can_be_downloaded_from_the_upload_page(admin):
    page = admin.get(reverse("manage:setup")).content.decode()
    assert reverse("manage:setup-sample") in page
    response = admin.get(reverse("manage:setup-sample"))
    assert b"".join(response.streaming_content) == SAMPLE.read_bytes()


# --- What is kept, refused, ignored ----------------------------------------------------------


def test_departments_and_leaders_on_file_are_kept_as_they_are(admin, cast):
    data = workbook(
        {
            "部门": [["部门", "邮箱"], ["市教育局", "new@example.gov.cn"], ["市民政局", ""]],
            "领导": [["姓名", "职务"], ["黄建国", "副市长"], ["黄建国", "常务副市长"]],
        }
    )
    preview = upload(admin, data)
    plan = preview.context["plan"]
    assert [k.name for k in plan.departments.kept] == ["市教育局"]
    assert [d.name for d in plan.departments.create] == ["市民政局"]
    assert [k.name for k in plan.leaders.kept] == ["副市长 黄建国"]
    assert [str(x) for x in plan.leaders.create] == ["常务副市长 黄建国"]
    page = preview.content.decode()
    assert "已在库" in page and "副市长 黄建国" in page
    confirm(admin, preview, confirm="1")
    cast.edu.refresh_from_db()
    assert cast.edu.email == ""  # kept as it was
    assert Leader.objects.filter(name="黄建国").count() == 2


def test_an_unknown_department_is_refused_with_the_closest_names(admin, cast):
    data = workbook(
        {
            "部门": [["部门"], ["市民政局"]],
            "账号": [
                ACCOUNTS_HEADER,
                ["a1", "甲", "部门经办人", "市教育厅", "", ""],
                ["a2", "乙", "经办人", "市民证局", "", ""],
                ["a3", "丙", "部门", "市民政局", "", ""],
            ],
        }
    )
    preview = upload(admin, data)
    refused = preview.context["plan"].accounts.refused
    assert [r.row for r in refused] == [2, 3]
    assert "市教育厅" in refused[0].reason and "市教育局" in refused[0].reason
    # A department of the same workbook is known, and offered as the closest.
    assert "市民政局" in refused[1].reason
    made = preview.context["plan"].accounts.create
    assert [(u.username, u.department.name) for u in made] == [("a3", "市民政局")]
    confirm(admin, preview, confirm="1")
    assert User.objects.get(username="a3").department == Department.objects.get(name="市民政局")


def test_user_names_taken_repeated_or_invalid_are_refused(admin, cast):
    preview = upload(
        admin,
        accounts_sheet(
            ["bob", "", "督查员", "", "", ""],
            ["Alice", "", "督查员", "", "", ""],
            ["wang", "王", "督查员", "", "", ""],
            ["WANG", "王二", "督查员", "", "", ""],
            ["bad name!", "", "督查员", "", "", ""],
            ["", "无名", "督查员", "", "", ""],
        ),
    )
    why = dict((r.row, r.reason) for r in preview.context["plan"].accounts.refused)
    assert set(why) == {2, 3, 5, 6, 7}
    assert "bob" in why[2] and "alice" in why[3]  # taken, whatever the case
    assert "4" in why[5]  # repeats row 4
    assert "用户名" in why[6]  # Django's own validator, naming the column
    assert [u.username for u in preview.context["plan"].accounts.create] == ["wang"]


def test_a_bad_role_word_is_refused_with_the_accepted_words(admin, db):
    preview = upload(
        admin,
        accounts_sheet(
            ["a1", "", "科员", "", "", ""],
            ["a2", "", "", "", "", ""],
            ["a3", "", "Supervisor", "", "", ""],
            ["a4", "", "administrator", "", "", ""],
            ["a5", "", "考评办", "", "", ""],
        ),
    )
    refused = preview.context["plan"].accounts.refused
    assert [r.row for r in refused] == [2, 3]
    assert "科员" in refused[0].reason
    for word in ("督查员", "部门经办人", "市级领导", "系统管理员"):
        assert word in refused[0].reason and word in refused[1].reason
    made = preview.context["plan"].accounts.create
    assert [u.role for u in made] == ["supervisor", "administrator", "supervisor"]


def test_officials_need_a_department_and_leader_accounts_a_free_leader(admin, cast):
    data = workbook(
        {
            "领导": [
                ["领导姓名", "职务", "任期开始", "任期结束"],
                ["周正", "副市长", "2021年9月", ""],
            ],
            "账号": [
                ACCOUNTS_HEADER,
                ["o1", "", "部门经办人", "", "", ""],
                ["l1", "", "市级领导", "", "", ""],
                ["l2", "", "市级领导", "", "王不在", ""],
                ["l3", "", "市级领导", "", "黄建国", ""],  # lena signs in as him
                ["l4", "", "领导", "", "副市长 周正", ""],
                ["l5", "", "领导", "", "周正", ""],
            ],
        }
    )
    preview = upload(admin, data)
    plan = preview.context["plan"]
    why = {r.row: r.reason for r in plan.accounts.refused}
    assert set(why) == {2, 3, 4, 5, 7}
    assert "王不在" in why[4]
    assert "lena" in why[5]
    assert "6" in why[7]  # the leader of row 6's account
    assert plan.leaders.create[0].term_start == datetime.date(2021, 9, 1)
    (l4,) = plan.accounts.create
    assert l4.leader is plan.leaders.create[0] and l4.first_name == "周正"
    confirm(admin, preview, confirm="1")
    assert User.objects.get(username="l4").leader == Leader.objects.get(name="周正")


def test_bad_dates_and_empty_cells_refuse_their_row(admin, db):
    data = workbook(
        {
            "领导": [
                ["姓名", "职务", "任职时间", "任期结束", "排序"],
                ["甲", "副市长", "去年", "", ""],
                ["乙", "副市长", "2021-02-30", "", ""],
                ["丙", "", "", "", ""],
                ["丁", "副市长", "2023-01-01", "2022-01-01", ""],
                ["戊", "副市长", "2021.9", "2026年9月", "第一"],
                ["己", "副市长", datetime.date(2021, 9, 1), 46000, "3"],
            ],
        }
    )
    plan = upload(admin, data).context["plan"]
    why = {r.row: r.reason for r in plan.leaders.refused}
    assert set(why) == {2, 3, 4, 5, 6}
    assert "去年" in why[2] and "2021-02-30" in why[3] and "职务" in why[4]
    assert "第一" in why[6]
    (ji,) = plan.leaders.create
    assert (ji.term_start, ji.term_end, ji.order) == (
        datetime.date(2021, 9, 1),
        datetime.date(2025, 12, 9),
        3,
    )
    assert setup.parse_date("2026年9月", end=True) == datetime.date(2026, 9, 30)


def test_an_ignored_column_is_named_in_the_preview(admin, db):
    data = workbook({"部门": [["部门名称", "负责人", "排序"], ["市民政局", "张三", "1"]]})
    preview = upload(admin, data)
    assert preview.context["plan"].departments.table.ignored == ["负责人"]
    assert "负责人" in preview.content.decode()


# --- Files refused whole ---------------------------------------------------------------------


def test_a_csv_is_refused_with_a_word_to_use_a_workbook(admin, db):
    response = upload(admin, "用户名,角色\nwang,督查员\n".encode(), "accounts.csv")
    assert response.status_code == 400
    (error,) = response.context["form"].errors["file"]
    assert "CSV" in error and ".xlsx" in error
    assert User.objects.count() == 1


def test_a_workbook_without_a_known_header_is_refused_naming_the_columns(admin, db):
    response = upload(admin, workbook({"Sheet1": [["序号", "备注"], ["1", "x"]]}))
    assert response.status_code == 400
    (error,) = response.context["form"].errors["file"]
    for column in ("部门", "姓名", "职务", "用户名"):
        assert column in error
    assert stored(views_setup.UPLOADS_DIR) == []


def test_two_sheets_of_one_kind_are_refused(db):
    data = workbook({"一": [["部门"], ["甲"]], "二": [["单位名称"], ["乙"]]})
    with pytest.raises(IntakeError, match=r"一.*二"):
        setup.plan_setup(data, "x.xlsx")


# --- All or nothing --------------------------------------------------------------------------


def test_a_failure_in_the_middle_writes_nothing(admin, admin_user, monkeypatch):
    hash_all = setup._hash_all

    def someone_else_meanwhile(passwords):
        # Another administrator takes one of the workbook's user names after the check.
        make_user("jiaoyuju01", role="supervisor")
        return hash_all(passwords)

    monkeypatch.setattr(setup, "_hash_all", someone_else_meanwhile)
    preview = upload(admin, SAMPLE.read_bytes(), SAMPLE.name)
    response = confirm(admin, preview, confirm="1")
    assert response["Location"] == reverse("manage:setup")
    assert Department.objects.count() == 0  # inserted before the accounts, rolled back
    assert Leader.objects.count() == 0
    assert set(User.objects.values_list("username", flat=True)) == {"root", "jiaoyuju01"}
    assert stored(views_setup.SHEETS_DIR) == []
    assert stored(views_setup.UPLOADS_DIR) == []
    page = admin.get(response["Location"]).content.decode()
    assert "未写入" in page


def test_cancel_writes_nothing_and_forgets_the_upload(admin, db):
    preview = upload(admin, SAMPLE.read_bytes(), SAMPLE.name)
    assert len(stored(views_setup.UPLOADS_DIR)) == 1
    assert confirm(admin, preview, cancel="1")["Location"] == reverse("manage:setup")
    assert stored(views_setup.UPLOADS_DIR) == []
    assert Department.objects.count() == 0
    # The token is spent.
    assert confirm(admin, preview, confirm="1")["Location"] == reverse("manage:setup")
    assert Department.objects.count() == 0


def test_an_uncollected_sheet_older_than_a_day_goes_at_the_next_upload(
    client, admin, admin_user, monkeypatch
):
    preview = upload(admin, SAMPLE.read_bytes(), SAMPLE.name)
    confirm(admin, preview, confirm="1")
    assert len(stored(views_setup.SHEETS_DIR)) == 1
    other = client.__class__()
    other.force_login(make_user("root2", role="administrator"))
    upload(other, workbook({"部门": [["部门"], ["市民政局"]]}))
    assert len(stored(views_setup.SHEETS_DIR)) == 1  # not a day old: kept
    # A day passes for the files (sessions last a working day: the clock stays).
    modified = InMemoryStorage.get_modified_time
    a_day = datetime.timedelta(days=1, minutes=1)
    monkeypatch.setattr(
        InMemoryStorage, "get_modified_time", lambda storage, path: modified(storage, path) - a_day
    )
    upload(other, workbook({"部门": [["部门"], ["市民政局"]]}))
    assert stored(views_setup.SHEETS_DIR) == []
    assert len(stored(views_setup.UPLOADS_DIR)) == 1  # the upload just made
    refused = admin.post(reverse("manage:setup-download"), follow=True)
    assert refused.redirect_chain[-1][0] == reverse("manage:setup-done")
    assert "一天内未下载" in refused.content.decode()


# --- Who may -------------------------------------------------------------------------------


GET_URLS = ["manage:setup", "manage:setup-done", "manage:setup-sample"]
POST_URLS = ["manage:setup", "manage:setup-confirm", "manage:setup-download"]


@pytest.mark.parametrize("who", ["alice", "bob", "lena", "nobody"])
def test_everyone_but_the_administrator_gets_404(client, cast, who):
    client.force_login(getattr(cast, who))
    for name in GET_URLS:
        assert client.get(reverse(name)).status_code == 404, name
    for name in POST_URLS:
        data = {"file": SimpleUploadedFile("x.xlsx", SAMPLE.read_bytes())}
        assert client.post(reverse(name), data).status_code == 404, name
    assert not Department.objects.filter(name="市公安局").exists()


def test_anonymous_users_are_sent_to_sign_in(client, db):
    for name in GET_URLS + POST_URLS:
        assert client.get(reverse(name))["Location"].startswith("/login/")


def test_get_on_the_changing_urls_is_405(admin):
    for name in ("manage:setup-confirm", "manage:setup-download"):
        assert admin.get(reverse(name)).status_code == 405


def test_the_passwords_are_on_no_page_and_in_no_session(admin):
    preview = upload(admin, SAMPLE.read_bytes(), SAMPLE.name)
    done = confirm(admin, preview, confirm="1", follow=True)
    sheet = admin.post(reverse("manage:setup-download"))
    passwords = [row[4] for row in openpyxl.load_workbook(io.BytesIO(sheet.content)).active.values]
    session = str(dict(admin.session))
    for password in passwords[1:]:
        assert password not in done.content.decode()
        assert password not in session


def test_a_stored_sheet_is_found_by_its_session_alone(admin, client):
    default_storage.save(f"{views_setup.SHEETS_DIR}/guess.xlsx", ContentFile(b"x"))
    response = admin.post(reverse("manage:setup-download"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("manage:setup")
    assert stored(views_setup.SHEETS_DIR) == ["guess.xlsx"]
