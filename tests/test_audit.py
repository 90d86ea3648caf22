"""The audit trail (docs/audit.md): what it records, who reads it (the auditor alone), and
that nothing changes or deletes a line."""

from __future__ import annotations

import datetime
import io
from pathlib import Path

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from ledger import workflow
from ledger.models import AuditEntry, AuditTrailError, User

from .factory import in_days, make_user
from .test_evidence import PDF, upload
from .test_publication import compose, ledger, publish  # noqa: F401 (the ledger fixture)

pytestmark = pytest.mark.django_db

Kind = AuditEntry.Kind


@pytest.fixture
def auditor(db) -> User:
    return make_user("shenji", role="auditor", first_name="审计员甲")


def lines(kind: str | None = None) -> list[AuditEntry]:
    found = AuditEntry.objects.order_by("pk")
    return list(found.filter(kind=kind) if kind else found)


def sign_in(client, username: str, password: str = "password"):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_sign_ins_failures_and_sign_outs_are_recorded_with_the_address(client, cast):
    sign_in(client, "bob", "wrong")
    sign_in(client, "bob")
    client.post(reverse("logout"))
    failed, signed_in, signed_out = lines()
    assert (failed.kind, failed.username, failed.actor_id) == (Kind.SIGN_IN_FAILED, "bob", None)
    assert failed.summary == "用户名 bob 登录失败"
    assert (signed_in.kind, signed_in.actor_id, signed_in.actor_name) == (
        Kind.SIGN_IN,
        cast.bob.pk,
        "教育局经办人",
    )
    assert signed_out.kind == Kind.SIGN_OUT
    assert {line.ip for line in lines()} == {"127.0.0.1"}
    # The sign-in that succeeded forgot the failure for the lockout, not for the trail.
    assert lines(Kind.SIGN_IN_FAILED) == [failed]


def test_a_user_name_too_long_for_the_trail_is_cut_not_refused(client, db):
    sign_in(client, "张" * 300, "wrong")
    (line,) = lines(Kind.SIGN_IN_FAILED)
    assert line.username == "张" * 150


def test_a_lockout_is_recorded(client, cast, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "carol", "wrong")
    assert [line.username for line in lines(Kind.LOCKED_OUT)] == ["carol"]


def test_an_account_change_names_what_changed_before_and_after(client, cast):
    admin = make_user("guanli", role="administrator", first_name="管理员")
    client.force_login(admin)
    response = client.post(
        reverse("manage:account", args=[cast.bob.pk]),
        {
            "first_name": "教育局经办人",
            "email": "",
            "role": "supervisor",
            "department": cast.edu.pk,
        },
    )
    assert response.status_code == 302
    (line,) = lines(Kind.ACCOUNT)
    assert (line.username, line.target) == ("guanli", "bob 教育局经办人")
    assert line.summary == "修改账户 bob：角色"
    assert line.detail["changes"] == {"角色": ["部门经办人", "督查员"]}


def test_every_item_event_is_a_line_of_the_trail(cast, draft):
    workflow.assign(
        draft,
        by=cast.alice,
        leader=cast.leader,
        lead_department=cast.edu,
        co_departments=[],
        deadline=in_days(30),
    )
    (line,) = lines(Kind.ITEM)
    event = draft.events.get()
    assert (line.actor_id, line.detail["event"], line.detail["item"]) == (
        cast.alice.pk,
        event.pk,
        draft.pk,
    )
    assert line.summary == f"交办：{draft.number}"
    assert line.detail["to"] == "assigned"


def test_items_made_in_bulk_each_get_their_line(cast):
    from .factory import make_item

    made = [make_item(cast.round) for _ in range(3)]
    workflow.record_creation(made, by=cast.alice, how="manual")
    assert sorted(line.detail["item"] for line in lines(Kind.ITEM)) == sorted(i.pk for i in made)


def test_notice_edits_mask_lifts_and_the_publication_are_recorded(client, cast, ledger):  # noqa: F811
    notice = compose(client, cast)
    client.post(reverse("publication:mask", args=[notice.pk]), {"action": "lift", "text": "张三"})
    publish(client, notice)
    kinds = [line.kind for line in lines() if line.kind not in (Kind.ITEM, Kind.SIGN_IN)]
    assert kinds == [Kind.NOTICE, Kind.NOTICE, Kind.NOTICE, Kind.MASKING, Kind.PUBLICATION]
    lift = lines(Kind.MASKING)[0]
    assert (lift.username, lift.detail["action"], lift.detail["text"]) == ("alice", "lift", "张三")
    published = lines(Kind.PUBLICATION)[0]
    notice.refresh_from_db()
    assert published.detail["pdf_sha256"] == notice.publication.pdf_sha256
    assert published.username == "alice"


def test_exports_and_evidence_downloads_are_recorded(client, cast, assigned):
    from ledger import evidence

    checked = evidence.check_uploads([upload("整改 报告.pdf", PDF)])
    progress = evidence.post_progress(
        assigned, by=cast.bob, text="已安装", percent=50, files=checked
    )
    client.force_login(cast.carol)
    client.get(reverse("ledger:evidence", args=[progress.evidence.get().pk]))
    client.get(reverse("intake:export"))
    (download,) = lines(Kind.DOWNLOAD)
    assert (download.username, download.detail["file"]) == ("carol", "整改 报告.pdf")
    (export,) = lines(Kind.EXPORT)
    assert export.username == "carol" and export.detail["items"] == 1


# Who reads it


def test_the_auditor_reads_the_trail_and_filters_it(client, cast, auditor):
    sign_in(client, "bob", "wrong")
    sign_in(client, "carol", "password")
    client.force_login(auditor)
    page = client.get(reverse("ledger:audit")).content.decode()
    assert "用户名 bob 登录失败" in page and "carol" in page
    only_bob = client.get(reverse("ledger:audit"), {"person": "bob"}).content.decode()
    assert "用户名 bob 登录失败" in only_bob and "交通局经办人" not in only_bob
    failures = client.get(reverse("ledger:audit"), {"kind": "sign_in_failed"}).content.decode()
    assert (
        "用户名 bob 登录失败" in failures
        and '<td data-label="类别"><span class="badge badge-audit-sign_in"' not in failures
    )
    tomorrow = (datetime.date.today() + datetime.timedelta(days=2)).isoformat()
    later = client.get(reverse("ledger:audit"), {"since": tomorrow}).content.decode()
    assert "没有符合条件的记录" in later


def test_bad_filters_get_a_message_not_an_error(client, auditor):
    client.force_login(auditor)
    response = client.get(
        reverse("ledger:audit"), {"since": "9999-12-31", "until": "0001-01-01", "kind": "x"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "请填写 2000 至 2100 年之间的日期" in page


def test_the_trail_is_paged_newest_first(client, auditor, settings):
    from ledger import audit, views_audit

    for n in range(views_audit.PAGE_SIZE + 5):
        audit.record(Kind.EXPORT, "第%(n)s次导出", {"n": n}, username="x")
    client.force_login(auditor)
    first = client.get(reverse("ledger:audit"))
    assert "第54次导出" in first.content.decode() and "第4次导出" not in first.content.decode()
    older = first.context["older"]
    second = client.get(reverse("ledger:audit"), {"before": older}).content.decode()
    assert "第4次导出" in second and "第54次导出" not in second


def test_the_auditor_exports_the_filtered_trail_and_the_export_is_recorded(client, auditor):
    sign_in(client, "=HYPERLINK(1)", "wrong")
    client.force_login(auditor)
    response = client.get(reverse("ledger:audit-export"), {"kind": "sign_in_failed"})
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("时间", "用户名", "姓名", "类别")
    assert rows[1][1] == "=HYPERLINK(1)" and sheet.cell(2, 2).data_type == "s"
    assert len(rows) == 2
    (export,) = lines(Kind.EXPORT)
    assert export.username == "shenji" and export.detail["filters"] == {"kind": "sign_in_failed"}


@pytest.mark.parametrize("role", ["administrator", "supervisor", "official", "leader", ""])
def test_nobody_but_the_auditor_finds_the_trail(client, cast, role):
    who = {
        "administrator": make_user("root", role="administrator"),
        "supervisor": cast.alice,
        "official": cast.bob,
        "leader": cast.lena,
        "": cast.nobody,
    }[role]
    client.force_login(who)
    assert client.get(reverse("ledger:audit")).status_code == 404
    assert client.get(reverse("ledger:audit-export")).status_code == 404


def test_a_superuser_is_no_auditor(client, db):
    client.force_login(make_user("su", role="auditor", is_superuser=True))
    assert client.get(reverse("ledger:audit")).status_code == 404


def test_the_auditor_sees_the_trail_and_nothing_else(client, cast, auditor, assigned):
    client.force_login(auditor)
    assert client.get(reverse("ledger:home"))["Location"] == reverse("ledger:audit")
    for url in (
        reverse("ledger:items"),
        reverse("ledger:item", args=[assigned.pk]),
        reverse("manage:hub"),
        reverse("manage:accounts"),
        reverse("publication:manage"),
        reverse("intake:rounds"),
        reverse("intake:export"),
    ):
        assert client.get(url).status_code == 404, url
    nav = client.get(reverse("ledger:audit")).content.decode()
    assert "审计日志" in nav and "系统管理" not in nav and "台账" not in nav


# Nothing changes it


def test_no_code_path_changes_or_deletes_a_line(db):
    from ledger import audit

    line = audit.record(Kind.EXPORT, "导出", username="x")
    line.summary = "改写"
    with pytest.raises(AuditTrailError):
        line.save()
    with pytest.raises(AuditTrailError):
        line.delete()
    with pytest.raises(AuditTrailError):
        AuditEntry.objects.filter(pk=line.pk).update(summary="改写")
    with pytest.raises(AuditTrailError):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get().summary == "导出"


def test_postgresql_refuses_update_and_delete_of_the_trail(tmp_path):
    """On a PostgreSQL server of its own (whichever leg this is), migrated as a site is:
    its trigger refuses to change or delete a line, whoever asks."""
    import os
    import subprocess
    import sys

    import psycopg

    from bench.pgcluster import Cluster

    with Cluster() as pg:
        url = pg.create_database("audit")
        env = os.environ | {"DATABASE_URL": url, "DEBUG": "true", "MEDIA_ROOT": str(tmp_path)}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=Path(__file__).resolve().parent.parent,
            env=env,
            check=True,
            capture_output=True,
        )
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(
                "INSERT INTO ledger_auditentry (at, kind, username, actor_name, summary, target, "
                "detail) VALUES (now(), 'export', 'x', '', '导出', '', '{}')"
            )
            for sql in (
                "UPDATE ledger_auditentry SET summary = 'x'",
                "DELETE FROM ledger_auditentry",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                    db.execute(sql)
            assert db.execute("SELECT summary FROM ledger_auditentry").fetchall() == [("导出",)]
