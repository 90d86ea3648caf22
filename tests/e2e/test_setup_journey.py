"""An office sets itself up in a real browser, from an empty database (no demo).

The first administrator, made by ``manage.py create_admin --no-input`` as the README says,
signs in with the printed one-time password and is made to choose their own; imports the
sample set-up workbook (departments, leaders, accounts) and downloads the accounts'
one-time passwords, once. A supervisor and an official from that sheet sign in and are made
to change their passwords (a weak one refused with its rule). The supervisor creates a
round, which starts with the six categories, and imports a ledger that names a leader and a
department not on file; both are matched in the preview, and the items land with the right
leader, departments and categories. Screenshots at a desktop's and a phone's width.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from openpyxl import Workbook, load_workbook

from ledger.models import Category, Item, Round, User

from .conftest import DESKTOP, PHONE, SET_UP, horizontal_overflow, screenshot, sign_in

try:
    from playwright.sync_api import Page, expect
except ImportError as error:  # a failure that says how to fix it, never a skip
    raise ImportError(f"The browser tests need the Python package playwright. {SET_UP}") from error

pytestmark = pytest.mark.e2e

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "setup-sample.xlsx"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ROUND = "2026年度"


def ledger_xlsx() -> bytes:
    """A hand-made ledger: its leader is typed with a wrong character and its lead
    department by an older name, neither of which is on file."""
    book = Workbook()
    sheet = book.active
    sheet.append(["问题", "类别", "责任领导", "牵头单位", "配合单位", "整改时限"])
    sheet.append(
        [
            "学校周边上下学时段交通拥堵",
            "教育事业",
            "常务副市长李文化",
            "市教体局",
            "市交通运输局",
            "2027-06-30",
        ]
    )
    sheet.append(
        ["城区公交线路少、班次间隔长", "交通建设", "黄建国", "市交通运输局", None, "2027年3月底"]
    )
    sheet.append(["幼儿园学位紧张", "教育事业", "常务副市长李文化", "市教体局", None, "长期坚持"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def change_password(page: Page, old: str, new: str) -> None:
    expect(page).to_have_url(re.compile(r"/password/$"))
    page.fill("#id_old_password", old)
    page.fill("#id_new_password1", new)
    page.fill("#id_new_password2", new)
    page.locator("main").get_by_role("button", name="修改密码").click()


def look(page: Page, name: str) -> None:
    screenshot(page, name, DESKTOP)
    screenshot(page, name, PHONE)
    assert horizontal_overflow(page) == 0, f"{name} scrolls sideways on a phone"
    page.set_viewport_size(DESKTOP)


def test_an_office_sets_itself_up_from_an_empty_database(new_page):
    assert not User.objects.exists() and not Round.objects.exists()
    out = io.StringIO()
    call_command("create_admin", "admin", "--no-input", "--name", "张管理", stdout=out)
    first_password = out.getvalue().rsplit(": ", 1)[1].strip()

    # The administrator signs in and must choose a password first.
    admin = new_page()
    sign_in(admin, "admin", first_password)
    expect(admin.locator(".alert")).to_contain_text("一次性密码")
    look(admin, "setup-password")
    change_password(admin, first_password, "Guan-Li-2026")
    expect(admin.locator("h1")).to_have_text("系统管理")

    # The set-up workbook: preview, then written, then the passwords once.
    admin.locator("nav.tabs").get_by_role("link", name="从工作簿批量导入").click()
    admin.locator("input[type=file][name=file]").set_input_files(str(SAMPLE))
    admin.get_by_role("button", name="检查文件").click()
    expect(admin.locator("h1")).to_have_text("导入前核对")
    expect(admin.locator("main")).to_contain_text("序号")  # a column the set-up ignores, named
    look(admin, "setup-preview")
    admin.locator("button[name=confirm]").click()
    with admin.expect_download() as download:
        admin.locator("main form button.primary").click()
    sheet = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes())).active
    rows = list(sheet.iter_rows(values_only=True))
    column = {name: i for i, name in enumerate(rows[0])}
    passwords = {r[column["用户名"]]: r[column["一次性密码"]] for r in rows[1:]}
    assert {"duchayuan01", "jiaoyuju01", "liwenhua"} <= set(passwords)
    assert User.objects.get(username="jiaoyuju01").department.name == "市教育局"
    look(admin, "setup-done")

    # An official signs in with the one-time password and is made to change it.
    official = new_page()
    sign_in(official, "jiaoyuju01", passwords["jiaoyuju01"])
    official.goto("/items/")
    expect(official).to_have_url(re.compile(r"/password/$"))
    change_password(official, passwords["jiaoyuju01"], "weakpassword")
    expect(official.locator(".error").first).to_contain_text("至少包含以下字符中的 3 种")
    change_password(official, passwords["jiaoyuju01"], "Jiao-Yu-2026")
    expect(official.locator(".messages")).to_contain_text("密码已修改")

    # The supervisor does the same, then makes a round: it starts with six categories.
    supervisor = new_page()
    sign_in(supervisor, "duchayuan01", passwords["duchayuan01"])
    change_password(supervisor, passwords["duchayuan01"], "Du-Cha-2026")
    supervisor.locator("nav.nav").get_by_role("link", name="导入归纳").click()
    form = supervisor.locator("form.intake-form")
    form.locator("#id_name").fill(ROUND)
    form.locator("#id_code").fill("2026")
    form.locator("#id_year").fill("2026")
    form.locator("#id_kind").select_option("annual")
    form.get_by_role("button", name="创建批次").click()
    expect(supervisor.locator("h1")).to_have_text(ROUND)
    for name in ("经济发展", "教育事业", "社会保障", "交通建设", "环境保护", "社会治安"):
        expect(supervisor.locator("main")).to_contain_text(name)

    # A ledger naming a leader and a department not on file: each listed once, matched.
    supervisor.get_by_role("link", name="导入台账").click()
    supervisor.locator("input[type=file][name=file]").set_input_files(
        {"name": "整改台账.xlsx", "mimeType": XLSX, "buffer": ledger_xlsx()}
    )
    supervisor.get_by_role("button", name="检查文件").click()
    names = supervisor.locator("section.intake-names")
    expect(names.locator("tbody tr")).to_have_count(2)
    department = names.locator("tbody tr").filter(has_text="市教体局")
    leader = names.locator("tbody tr").filter(has_text="李文化")
    expect(department).to_contain_text("2")
    # A supervisor may map, not create, a department or leader: no "create" option.
    expect(department.locator("option[value=new]")).to_have_count(0)
    look(supervisor, "setup-ledger-names")
    department.locator("select").select_option(label="市教育局")
    leader.locator("select").select_option(label="常务副市长 李文华")
    names.get_by_role("button", name="应用并重新检查").click()
    # Drawn again: the answers kept, every row now importable.
    expect(department.locator("select option:checked")).to_have_text("市教育局")
    expect(supervisor.locator("button[name=confirm]")).to_have_text("导入 3 项事项")
    assert not Item.objects.exists()  # nothing written before the import is confirmed
    supervisor.locator("button[name=confirm]").click()
    expect(supervisor.locator(".messages")).to_contain_text("3")

    items = {
        i.title: i for i in Item.objects.select_related("leader", "lead_department", "category")
    }
    school = items["学校周边上下学时段交通拥堵"]
    assert (school.leader.name, school.lead_department.name, school.category.name) == (
        "李文华",
        "市教育局",
        "教育事业",
    )
    assert [d.name for d in school.co_departments.all()] == ["市交通运输局"]
    assert items["幼儿园学位紧张"].long_term
    assert items["城区公交线路少、班次间隔长"].category.name == "交通建设"
    assert Category.objects.filter(round__name=ROUND).count() == 6

    # The administrator's overview counts the accounts made.
    admin.goto("/manage/")
    look(admin, "setup-hub")
