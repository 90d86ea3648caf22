"""Backup and restore (issue 16): the database and every file under MEDIA_ROOT, back as they
were, on SQLite and on PostgreSQL (``scripts/with-postgres``), or nothing changed at all.

Transactional tests: the restore replaces the whole database (SQLite's backup API, or
pg_restore on its own connection), which no test transaction could hold.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.urls import reverse

from ledger import backup, evidence, workflow
from ledger.models import CoDepartment, Event, Item, Job, Suggestion
from ledger.publication.models import Notice, Publication, Section
from ledger.publication.tasks import start_publishing

from .factory import in_days, make_category, make_item, make_suggestion
from .test_evidence import png

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def media(settings, tmp_path) -> Path:
    """Files on disk, in a folder of this test's own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    return settings.MEDIA_ROOT


def build_ledger(cast) -> dict:
    """Items in several states (a withdrawn one too), suggestions, an evidence file, a job's
    file; returns them by name."""
    r = cast.round
    economy = make_category(r, "经济发展", order=1)
    closed = make_item(r, title="学校门口交通拥堵", category=economy)
    make_suggestion(r, item=closed, text="村民反映学校门口拥堵，联系电话13812345678。")
    make_suggestion(r, item=closed, text="放学时段门口车多。")
    workflow.assign(
        closed,
        by=cast.alice,
        leader=cast.leader,
        lead_department=cast.edu,
        co_departments=[cast.traffic],
        deadline=in_days(30),
    )
    workflow.start(closed, by=cast.bob)
    picture = evidence.check_upload(SimpleUploadedFile("现场照片.png", png()))
    evidence.post_progress(closed, by=cast.bob, text="已增设协管员", percent=80, files=[picture])
    workflow.request_closeout(closed, by=cast.bob, outcome="拥堵明显缓解", outcome_kind="done")
    workflow.approve(closed, by=cast.alice)
    going = make_item(r, title="农贸市场缺斤短两", category=economy)
    make_suggestion(r, item=going, text="秤不准，希望管一管。")
    workflow.assign(
        going,
        by=cast.alice,
        leader=cast.leader,
        lead_department=cast.traffic,
        co_departments=[cast.edu, cast.health],
        deadline=in_days(10),
    )
    workflow.start(going, by=cast.carol)
    withdrawn = make_item(r, title="重复录入的事项")
    make_suggestion(r, item=withdrawn, text="重复的意见")
    workflow.withdraw(withdrawn, by=cast.alice, reason="与第1项重复")
    draft = make_item(r, title="尚未交办的草稿")
    make_suggestion(r, text="尚未归纳的意见")
    job = Job.objects.create(kind="export", title="导出台账", created_by=cast.alice)
    job.result_file.save("台账.xlsx", ContentFile(b"PK\x03\x04 an export"))
    for item in (closed, going, withdrawn, draft):
        item.refresh_from_db()
    return {"closed": closed, "going": going, "withdrawn": withdrawn, "draft": draft}


def publish_notice(cast) -> Notice:
    """Published through the publication's own code path (the task runs at once in tests)."""
    notice = Notice.objects.create(
        title="2019年度群众意见建议整改情况公示",
        issuer="市委市政府督查和绩效考评办公室",
        created_by=cast.alice,
    )
    notice.annex_rounds.set([cast.round])
    Section.objects.create(
        notice=notice,
        order=1,
        heading="一、基本情况",
        body="共梳理问题{{ total }}个，完成整改{{ closed }}个。",
        round=cast.round,
    )
    start_publishing(notice, by=cast.alice)
    notice.refresh_from_db()
    assert notice.state == Notice.State.PUBLISHED, notice.error
    return notice


def ledger_state() -> dict[str, list[tuple]]:
    """Every row of every ledger table in key order: withdrawn items too (base managers),
    the triggers' copies (search text, co-departments' state) too."""
    return {
        model._meta.label: list(model._base_manager.order_by("pk").values_list())
        for model in apps.get_app_config("ledger").get_models(include_auto_created=True)
    }


def files_under(root: Path) -> dict[str, str]:
    return {relative: backup.sha256_of(path) for relative, path in backup.media_files(root)}


def run(*args, **options) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def make_backup(tmp_path: Path) -> Path:
    run("backup", output=tmp_path / "backups")
    (archive,) = (tmp_path / "backups").glob("*.tar.gz")
    return archive


def manifest_of(archive: Path) -> dict:
    with tarfile.open(archive) as tar:
        return json.load(tar.extractfile(backup.MANIFEST))


def empty_everything(media: Path) -> None:
    call_command("flush", interactive=False, verbosity=0)
    shutil.rmtree(media)
    assert backup.ledger_rows() == {}


def test_a_backup_restored_into_an_emptied_installation_gives_back_the_same_ledger(
    cast, media, tmp_path, client
):
    rows = build_ledger(cast)
    notice = publish_notice(cast)
    publication = Publication.objects.get(notice=notice)
    before = ledger_state()
    files = files_under(media)
    pdf, xlsx = publication.pdf.name, publication.xlsx.name
    assert {pdf, xlsx} <= set(files)
    assert any(name.startswith("evidence/") for name in files)
    assert any(name.startswith("jobs/") for name in files)

    archive = make_backup(tmp_path)
    manifest = manifest_of(archive)
    assert manifest["database"]["vendor"] == connection.vendor
    assert manifest["created_at"]
    leaves = dict(MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes())
    assert manifest["migrations"]["ledger"] == leaves["ledger"]
    assert {e["path"]: e["sha256"] for e in manifest["media"]} == files
    assert {e["path"]: e["size"] for e in manifest["media"]}[pdf] == publication.pdf_size
    assert manifest["missing_media"] == []
    assert manifest["database"]["rows"]["ledger_item"] == 4  # the withdrawn one too

    # Over a ledger that is there, a restore is refused and changes nothing.
    with pytest.raises(CommandError, match="already holds ledger rows"):
        run("restore", str(archive))
    assert ledger_state() == before and files_under(media) == files

    # An empty database but files left: refused too, and the database stays empty.
    call_command("flush", interactive=False, verbosity=0)
    with pytest.raises(CommandError, match=f"MEDIA_ROOT .* already holds {len(files)} files"):
        run("restore", str(archive))
    assert backup.ledger_rows() == {} and files_under(media) == files

    empty_everything(media)
    said = run("restore", str(archive))
    assert "4 items, 5 suggestions" in said and f"{len(files)} files" in said

    assert ledger_state() == before
    assert files_under(media) == files
    assert backup.sha256_of(media / pdf) == publication.pdf_sha256
    assert backup.sha256_of(media / xlsx) == publication.xlsx_sha256
    going = rows["going"]
    assert Item.all_objects.get(pk=rows["withdrawn"].pk).state == Item.State.WITHDRAWN
    assert [i.number for i in Item.all_objects.order_by("pk")] == [
        rows[k].number for k in ("closed", "going", "withdrawn", "draft")
    ]
    assert Event.objects.count() == len(before["ledger.Event"])
    assert Suggestion.objects.filter(item=going).count() == 1
    # The public download serves the restored bytes.
    served = client.get(reverse("publication:pdf", args=[notice.pk]))
    body = b"".join(served.streaming_content)
    assert hashlib.sha256(body).hexdigest() == publication.pdf_sha256

    # The sequences and the triggers came back with the rows.
    new = make_item(cast.round, title="恢复后新增的事项")
    assert new.pk > max(pk for pk, *_ in before["ledger.Item"])
    make_suggestion(cast.round, item=going, text="恢复后收到的意见XQ")
    search = Item.all_objects.values_list("search", flat=True).get(pk=going.pk)
    assert "恢复后收到的意见XQ" in search
    Item.objects.filter(pk=going.pk).update(deadline=in_days(60))
    assert set(CoDepartment.objects.filter(item=going).values_list("deadline", flat=True)) == {
        in_days(60)
    }


def rewrite(archive: Path, target: Path, *, member=None, manifest=None) -> Path:
    """A copy of ``archive`` with one member's bytes or the manifest changed."""
    with tarfile.open(archive) as source, tarfile.open(target, "w:gz") as out:
        for info in source:
            data = source.extractfile(info).read()
            if member and info.name.startswith(member[0]):
                data = member[1](data)
            if manifest and info.name == backup.MANIFEST:
                data = json.dumps(manifest(json.loads(data))).encode()
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    return target


def test_a_damaged_or_foreign_archive_restores_nothing_and_force_replaces(cast, media, tmp_path):
    build_ledger(cast)
    before = ledger_state()
    files = files_under(media)
    archive = make_backup(tmp_path)
    empty_everything(media)

    flipped = rewrite(
        archive, tmp_path / "flipped.tar.gz", member=("media/evidence/", lambda d: d[:-1] + b"!")
    )
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    other = "postgresql" if connection.vendor == "sqlite" else "sqlite"
    foreign = rewrite(
        archive,
        tmp_path / "foreign.tar.gz",
        manifest=lambda m: m | {"database": m["database"] | {"vendor": other}},
    )
    newer = rewrite(
        archive,
        tmp_path / "newer.tar.gz",
        manifest=lambda m: m | {"migrations": m["migrations"] | {"ledger": "9999_future"}},
    )
    for bad, why in [
        (flipped, "does not match its manifest"),
        (cut, "damaged or incomplete|no manifest"),
        (foreign, "across vendors is not supported"),
        (newer, "newer version of Rectify"),
    ]:
        with pytest.raises(CommandError, match=why):
            run("restore", str(bad))
        assert backup.ledger_rows() == {}, bad
        assert files_under(media) == {}, bad

    run("restore", str(archive))
    assert ledger_state() == before
    # --force replaces a ledger that moved on since; a file the backup lacks stays.
    make_item(cast.round, title="备份之后的事项")
    (media / "stray.txt").write_text("x")
    with pytest.raises(CommandError, match="already holds ledger rows"):
        run("restore", str(archive))
    run("restore", str(archive), force=True)
    assert ledger_state() == before
    assert files_under(media) == files | {"stray.txt": hashlib.sha256(b"x").hexdigest()}
