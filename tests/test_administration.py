"""System administration: the administrator role, accounts, one-time passwords, lockouts,
and departments and leaders in the admin (三员: each role sees only what it manages)."""

from __future__ import annotations

import io
import re

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from ledger import workflow
from ledger.models import Department, Leader, User

from .factory import in_days, make_department, make_item, make_leader, make_user

MANAGE_URLS = [
    ("manage:hub", []),
    ("manage:accounts", []),
    ("manage:account-create", []),
    ("manage:account", ["pk"]),
]
POST_URLS = ["manage:account-reset", "manage:account-unlock", "manage:account-active"]


@pytest.fixture
def admin_user(cast):
    return make_user("root", role="administrator", first_name="管理员")


def url(name: str, account: User | None = None) -> str:
    return reverse(name, args=[account.pk]) if account else reverse(name)


def one_time_password(response) -> str:
    return re.search(r'<code class="secret">([^<]+)</code>', response.content.decode())[1]


# --- Who sees what ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["alice", "bob", "lena", "nobody"])
def test_everyone_but_the_administrator_gets_404_on_every_management_url(client, cast, who):
    client.force_login(getattr(cast, who))
    for name, args in MANAGE_URLS:
        assert client.get(reverse(name, args=[cast.bob.pk] if args else [])).status_code == 404
    for name in POST_URLS:
        assert client.post(url(name, cast.bob)).status_code == 404
    cast.bob.refresh_from_db()
    assert cast.bob.is_active


@pytest.mark.parametrize("who", ["alice", "bob", "lena", "nobody"])
def test_everyone_but_the_administrator_gets_404_in_the_admin(client, cast, who):
    client.force_login(getattr(cast, who))
    for path in ("/admin/", "/admin/ledger/department/", f"/admin/ledger/leader/{cast.leader.pk}/"):
        assert client.get(path).status_code == 404


def test_anonymous_users_are_sent_to_the_one_sign_in_page(client, db):
    response = client.get("/admin/ledger/department/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")
    assert client.get(reverse("manage:hub"))["Location"].startswith("/login/")


def test_the_administrator_sees_departments_and_leaders_and_nothing_of_the_workflow(
    client, cast, admin_user
):
    client.force_login(admin_user)
    index = client.get("/admin/").content.decode()
    assert "/admin/ledger/department/" in index and "/admin/ledger/leader/" in index
    for hidden in (
        "/admin/ledger/item/",
        "/admin/auth/group/",
        "/admin/ledger/round/",
        "/admin/django_tasks_db/",
        "/admin/axes/",
    ):
        assert hidden not in index
    assert client.get("/admin/ledger/item/").status_code == 404
    # No item page either: the ledger and the items are the workflow's.
    item = make_item(cast.round)
    assert client.get(reverse("ledger:items")).status_code == 404
    assert client.get(reverse("ledger:item", args=[item.pk])).status_code == 404
    assert client.get(reverse("ledger:home"))["Location"] == reverse("manage:hub")


def test_the_header_offers_system_administration_to_the_administrator_alone(
    client, cast, admin_user
):
    client.force_login(admin_user)
    page = client.get(reverse("manage:hub")).content.decode()
    assert "系统管理" in page and 'href="/items/"' not in page
    client.force_login(cast.alice)
    page = client.get(reverse("ledger:home")).content.decode()
    assert "系统管理" not in page and 'href="/items/"' in page


def test_the_department_list_is_in_chinese_in_order_with_filters_and_search(
    client, cast, admin_user
):
    Department.objects.filter(pk=cast.traffic.pk).update(order=1)
    Department.objects.filter(pk=cast.edu.pk).update(order=2)
    client.force_login(admin_user)
    page = client.get("/admin/ledger/department/").content.decode()
    assert page.index("市交通运输局") < page.index("市教育局")
    assert "停用所选" in page and "删除所选" not in page
    found = client.get("/admin/ledger/department/", {"q": "卫生"}).content.decode()
    assert "市卫生健康委" in found and "市教育局</a>" not in found


# --- Departments and leaders: deactivate, never delete once used -----------------------------


def test_a_used_department_cannot_be_deleted_only_deactivated(client, cast, admin_user):
    client.force_login(admin_user)
    delete = f"/admin/ledger/department/{cast.edu.pk}/delete/"
    assert client.get(delete).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Department.objects.filter(pk=cast.edu.pk).exists()
    client.post(
        "/admin/ledger/department/",
        {"action": "delete_selected", "_selected_action": [cast.edu.pk], "post": "yes"},
    )
    assert Department.objects.filter(pk=cast.edu.pk).exists()
    client.post(
        "/admin/ledger/department/",
        {"action": "deactivate", "_selected_action": [cast.edu.pk]},
    )
    cast.edu.refresh_from_db()
    assert not cast.edu.is_active


def test_an_unused_department_or_leader_can_be_deleted(client, cast, admin_user):
    typo = make_department("市教育句")
    leader = make_leader(name="错录", post="副市长")
    client.force_login(admin_user)
    assert (
        client.post(f"/admin/ledger/department/{typo.pk}/delete/", {"post": "yes"}).status_code
        == 302
    )
    assert (
        client.post(f"/admin/ledger/leader/{leader.pk}/delete/", {"post": "yes"}).status_code == 302
    )
    assert not Department.objects.filter(pk=typo.pk).exists()
    assert not Leader.objects.filter(pk=leader.pk).exists()


def test_a_leader_with_items_cannot_be_deleted(client, cast, admin_user, assigned):
    client.force_login(admin_user)
    assert client.get(f"/admin/ledger/leader/{cast.leader.pk}/delete/").status_code == 403


def test_a_deactivated_department_is_not_offered_for_new_assignments_but_stays_on_old_items(
    client, cast, assigned
):
    Department.objects.filter(pk=cast.traffic.pk).update(is_active=False)
    draft = make_item(cast.round, title="另一个待交办事项")
    client.force_login(cast.alice)
    form = client.get(reverse("ledger:item", args=[draft.pk])).content.decode()
    lead = re.search(r'<select name="lead_department".*?</select>', form, re.S)[0]
    assert "市教育局" in lead and "市交通运输局" not in lead
    refused = client.post(
        reverse("ledger:item-action", args=[draft.pk, "assign"]),
        {
            "version": draft.version,
            "leader": cast.leader.pk,
            "lead_department": cast.traffic.pk,
            "deadline": in_days(30).isoformat(),
        },
    )
    assert refused.status_code == 400
    draft.refresh_from_db()
    assert draft.state == "draft"
    # The item assigned before keeps showing its co-department.
    old = client.get(reverse("ledger:item", args=[assigned.pk])).content.decode()
    assert "市交通运输局" in old


# --- Accounts ---------------------------------------------------------------------------------


def test_an_account_is_created_with_a_one_time_password_that_must_be_changed(
    client, cast, admin_user
):
    client.force_login(admin_user)
    response = client.post(
        url("manage:account-create"),
        {
            "username": "wangwu",
            "first_name": "王五",
            "role": "official",
            "department": cast.health.pk,
            "email": "wangwu@example.cn",
        },
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    password = one_time_password(response)
    user = User.objects.get(username="wangwu")
    assert (user.role, user.department, user.must_change_password) == (
        "official",
        cast.health,
        True,
    )
    # The password is not kept in the clear anywhere on the account.
    assert password not in user.password

    person = client.__class__()
    signed_in = person.post(reverse("login"), {"username": "wangwu", "password": password})
    assert signed_in.status_code == 302
    # Every page leads to the password page until a password of one's own is chosen.
    for path in (reverse("ledger:home"), reverse("ledger:items"), "/notifications/"):
        assert person.get(path)["Location"] == reverse("password-change")
    page = person.get(reverse("password-change")).content.decode()
    assert "一次性密码" in page
    changed = person.post(
        reverse("password-change"),
        {
            "old_password": password,
            "new_password1": "Qing-He-2026",
            "new_password2": "Qing-He-2026",
        },
    )
    assert changed["Location"] == reverse("ledger:home")
    user.refresh_from_db()
    assert not user.must_change_password
    assert person.get(reverse("ledger:home")).status_code == 200


def test_a_form_refused_keeps_what_was_typed_and_says_why(client, cast, admin_user):
    client.force_login(admin_user)
    response = client.post(
        url("manage:account-create"),
        {"username": "zhaoliu", "first_name": "赵六", "role": "official"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "部门经办人须指定所属部门" in page
    assert 'value="zhaoliu"' in page and 'value="赵六"' in page
    assert not User.objects.filter(username="zhaoliu").exists()


def test_a_leader_account_needs_its_leader_and_one_account_per_leader(client, cast, admin_user):
    client.force_login(admin_user)
    data = {"username": "huang2", "first_name": "黄建国", "role": "leader"}
    assert client.post(url("manage:account-create"), data).status_code == 400
    taken = client.post(url("manage:account-create"), data | {"leader": cast.leader.pk})
    assert taken.status_code == 400  # lena already signs in as this leader
    assert not User.objects.filter(username="huang2").exists()
    made = client.post(url("manage:account-create"), data | {"leader": cast.other_leader.pk})
    assert made.status_code == 200
    assert User.objects.get(username="huang2").leader == cast.other_leader


def test_a_deactivated_department_is_not_offered_for_a_new_account(client, cast, admin_user):
    Department.objects.filter(pk=cast.health.pk).update(is_active=False)
    client.force_login(admin_user)
    page = client.get(url("manage:account-create")).content.decode()
    assert f'value="{cast.health.pk}"' not in page
    # The account of that department still shows it.
    page = client.get(url("manage:account", cast.dave)).content.decode()
    assert f'value="{cast.health.pk}" selected' in page


def test_the_list_filters_by_role_department_and_name(client, cast, admin_user):
    client.force_login(admin_user)
    page = client.get(url("manage:accounts"), {"role": "official"}).content.decode()
    assert "bob" in page and "carol" in page and ">alice<" not in page
    page = client.get(url("manage:accounts"), {"department": cast.edu.pk}).content.decode()
    assert ">bob<" in page and ">carol<" not in page
    page = client.get(url("manage:accounts"), {"q": "卫健委"}).content.decode()
    assert ">dave<" in page and ">bob<" not in page
    empty = client.get(url("manage:accounts"), {"q": "没有这个人"}).content.decode()
    assert "没有符合条件的账号" in empty


def test_resetting_a_password_gives_a_new_one_time_password(client, cast, admin_user):
    client.force_login(admin_user)
    response = client.post(url("manage:account-reset", cast.bob))
    password = one_time_password(response)
    cast.bob.refresh_from_db()
    assert cast.bob.must_change_password
    assert cast.bob.check_password(password) and not cast.bob.check_password("password")


def test_deactivating_an_account_ends_its_sign_in_and_not_ones_own(client, cast, admin_user):
    bob = client.__class__()
    bob.force_login(cast.bob)
    client.force_login(admin_user)
    client.post(url("manage:account-active", cast.bob), {"active": "0"})
    cast.bob.refresh_from_db()
    assert not cast.bob.is_active
    assert bob.get(reverse("ledger:home")).status_code == 302  # signed out
    client.post(url("manage:account-active", admin_user), {"active": "0"})
    admin_user.refresh_from_db()
    assert admin_user.is_active
    client.post(url("manage:account-active", cast.bob), {"active": "1"})
    cast.bob.refresh_from_db()
    assert cast.bob.is_active


def test_an_administrator_cannot_change_their_own_role(client, cast, admin_user):
    client.force_login(admin_user)
    response = client.post(
        url("manage:account", admin_user),
        {"first_name": "管理员", "role": "supervisor"},
    )
    assert response.status_code == 400
    admin_user.refresh_from_db()
    assert admin_user.role == "administrator"


def test_a_locked_out_account_is_unlocked_by_the_administrator(client, cast, admin_user):
    person = client.__class__()
    for _ in range(5):
        person.post(reverse("login"), {"username": "bob", "password": "wrong"})
    assert (
        person.post(reverse("login"), {"username": "bob", "password": "password"}).status_code
        == 429
    )
    client.force_login(admin_user)
    listed = client.get(url("manage:accounts"), {"department": cast.edu.pk}).content.decode()
    assert "已锁定" in listed
    page = client.get(url("manage:account", cast.bob)).content.decode()
    assert reverse("manage:account-unlock", args=[cast.bob.pk]) in page
    client.post(url("manage:account-unlock", cast.bob))
    assert not AccessAttempt.objects.filter(username="bob").exists()
    assert (
        person.post(reverse("login"), {"username": "bob", "password": "password"}).status_code
        == 302
    )


def test_get_on_every_changing_url_is_405(client, cast, admin_user):
    client.force_login(admin_user)
    for name in POST_URLS:
        assert client.get(url(name, cast.bob)).status_code == 405


# --- Passwords ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short1A", "密码长度太短"),
        ("lowercaseonly-", "至少包含以下字符中的 3 种"),
        ("12345678901", "至少包含以下字符中的 3 种"),
        ("Password1", "太常见"),
    ],
)
def test_a_weak_password_is_refused_with_the_rule_it_breaks(client, cast, password, rule):
    client.force_login(cast.bob)
    response = client.post(
        reverse("password-change"),
        {"old_password": "password", "new_password1": password, "new_password2": password},
    )
    assert response.status_code == 400
    assert rule in response.content.decode()
    cast.bob.refresh_from_db()
    assert cast.bob.check_password("password")


def test_every_role_has_a_password_page_linked_from_the_header(client, cast, admin_user):
    for user in (cast.alice, cast.bob, cast.lena, admin_user):
        client.force_login(user)
        home = client.get(reverse("ledger:home"), follow=True).content.decode()
        assert f'href="{reverse("password-change")}"' in home
        assert client.get(reverse("password-change")).status_code == 200


# --- The first administrator -------------------------------------------------------------------


def test_create_admin_prints_a_one_time_password_without_input(db):
    out = io.StringIO()
    call_command("create_admin", "first", "--no-input", "--name", "张管理", stdout=out)
    user = User.objects.get(username="first")
    password = out.getvalue().rsplit(": ", 1)[1].strip()
    assert user.is_administrator and user.must_change_password and not user.is_superuser
    assert user.check_password(password)
    with pytest.raises(CommandError):
        call_command("create_admin", "first", "--no-input", stdout=io.StringIO())


def test_the_administrator_takes_no_part_in_the_workflow(cast, admin_user, draft):
    with pytest.raises(workflow.NotAllowed):
        workflow.assign(
            draft,
            by=admin_user,
            leader=cast.leader,
            lead_department=cast.edu,
            co_departments=[],
            deadline=in_days(30),
        )
