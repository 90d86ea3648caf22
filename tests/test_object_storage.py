"""Uploaded and published files in S3-compatible object storage (``MEDIA_STORAGE=s3``).

The journeys of test_evidence, test_publication, test_cleanup_uploads and test_backup again,
against moto's S3 served over HTTP on 127.0.0.1 (ThreadedMotoServer), with the storage the
settings build from the environment: the app talks to it as it would to MinIO or AWS.
Nothing of ours is mocked. Each test has a bucket of its own; MEDIA_ROOT points at a folder
that must never come to exist.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone
from moto.server import ThreadedMotoServer

from ledger.intake import views_files
from ledger.models import Evidence, Suggestion
from ledger.publication.models import Notice, Publication
from rectify.settings import media_storage

from .factory import make_round
from .test_backup import (
    build_ledger,
    ledger_state,
    make_backup,
    manifest_of,
    publish_notice,
    run,
)
from .test_cleanup_uploads import GONE, cleanup, upload_feedback, waiting
from .test_evidence import PDF, png, post, upload
from .test_publication import compose, files_of, ledger, pdf_text, publish  # noqa: F401
from .test_settings import PRODUCTION, manage

REGION = "us-east-1"
KEY_ID, SECRET = "rectify-test", "rectify-test-secret"


@pytest.fixture(scope="module")
def endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@dataclass
class Bucket:
    name: str
    endpoint: str
    client: object
    media_root: Path

    def objects(self) -> dict[str, bytes]:
        """Every object, read straight from the server, not through the app."""
        found = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name):
            for entry in page.get("Contents", ()):
                body = self.client.get_object(Bucket=self.name, Key=entry["Key"])["Body"]
                found[entry["Key"]] = body.read()
        return found

    def hashes(self) -> dict[str, str]:
        return {key: hashlib.sha256(data).hexdigest() for key, data in self.objects().items()}

    def empty(self) -> None:
        for key in self.objects():
            self.client.delete_object(Bucket=self.name, Key=key)


def s3_environment(monkeypatch, endpoint: str, name: str) -> None:
    for variable, value in {
        "S3_BUCKET": name,
        "S3_ENDPOINT_URL": endpoint,
        "S3_REGION": REGION,
        "S3_ACCESS_KEY_ID": KEY_ID,
        "S3_SECRET_ACCESS_KEY": SECRET,
        "S3_ADDRESSING_STYLE": "path",
    }.items():
        monkeypatch.setenv(variable, value)


def use_bucket(settings, monkeypatch, endpoint: str, name: str) -> None:
    """The settings a site with these variables in its rectify.env gets (the storage cache
    is reset by Django's setting_changed handler for STORAGES)."""
    s3_environment(monkeypatch, endpoint, name)
    settings.MEDIA_STORAGE = "s3"
    settings.STORAGES = {**settings.STORAGES, "default": media_storage("s3")}


def new_bucket(endpoint: str):
    """A new empty bucket, made straight on the server: its name and a client of its own."""
    name = f"rectify-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )
    client.create_bucket(Bucket=name)
    return name, client


@pytest.fixture
def bucket(endpoint, settings, monkeypatch, tmp_path) -> Iterator[Bucket]:
    """A new empty bucket, and the settings pointed at it."""
    name, client = new_bucket(endpoint)
    settings.MEDIA_ROOT = tmp_path / "media"
    use_bucket(settings, monkeypatch, endpoint, name)
    yield Bucket(name, endpoint, client, settings.MEDIA_ROOT)
    assert not settings.MEDIA_ROOT.exists(), "a file was written to disk, not to the bucket"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- Evidence ---------------------------------------------------------------------------------


def test_evidence_goes_to_the_bucket_and_a_supervisor_downloads_the_same_bytes(
    client, cast, assigned, bucket
):
    client.force_login(cast.bob)
    photo = png()
    response = post(client, assigned, [upload("现场照片.png", photo), upload("整改报告.pdf", PDF)])
    assert response.status_code == 302
    picture, report = Evidence.objects.order_by("pk")
    assert bucket.objects() == {picture.file.name: photo, report.file.name: PDF}

    # The same file again in a later report: a second object, not the first one replaced,
    # as on disk (deleting one must never take the other's file).
    assigned.refresh_from_db()
    response = post(client, assigned, [upload("整改报告（补充）.pdf", PDF)], text="补充报告")
    assert response.status_code == 302
    again = Evidence.objects.latest("pk")
    assert again.file.name != report.file.name
    assert set(bucket.objects()) == {picture.file.name, report.file.name, again.file.name}

    client.force_login(cast.alice)
    download = client.get(reverse("ledger:evidence", args=[report.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF
    assert download["Content-Type"] == "application/pdf"
    assert int(download["Content-Length"]) == len(PDF)
    assert download["Content-Disposition"].startswith("attachment;")
    assert "private" in download["Cache-Control"]
    # The item page links the app's own download, never the bucket.
    page = client.get(reverse("ledger:item", args=[assigned.pk])).content.decode()
    assert reverse("ledger:evidence", args=[report.pk]) in page
    assert bucket.endpoint not in page and bucket.name not in page

    # Private objects: no grant to anyone but the owner, and no answer without a signature.
    for key in bucket.objects():
        grants = bucket.client.get_object_acl(Bucket=bucket.name, Key=key)["Grants"]
        assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"]
        assert grants[0]["Grantee"]["Type"] == "CanonicalUser"
    with pytest.raises(urllib.error.HTTPError) as anonymous:
        urllib.request.urlopen(f"{bucket.endpoint}/{bucket.name}/{report.file.name}", timeout=10)
    assert anonymous.value.code == 403


# --- Publication ------------------------------------------------------------------------------


@pytest.mark.usefixtures("ledger")  # test_publication's small ledger, imported above
def test_a_published_notice_is_kept_in_the_bucket_and_its_downloads_serve_it(client, cast, bucket):
    notice = publish(client, compose(client, cast))
    assert notice.state == Notice.State.PUBLISHED, notice.error
    publication = Publication.objects.get(notice=notice)
    stored = bucket.objects()
    assert set(stored) == {publication.pdf.name, publication.xlsx.name}
    assert sha256(stored[publication.pdf.name]) == publication.pdf_sha256
    assert sha256(stored[publication.xlsx.name]) == publication.xlsx_sha256

    _html, pdf, xlsx = files_of(client, notice)  # signed out: the public downloads
    assert pdf == stored[publication.pdf.name]
    assert xlsx == stored[publication.xlsx.name]
    assert "一、基本情况" in pdf_text(pdf)


# --- Uploads never confirmed ------------------------------------------------------------------


def test_cleanup_uploads_deletes_an_old_import_from_the_bucket_and_keeps_a_fresh_one(
    client, cast, bucket
):
    """The bucket's own clock says how old an object is: moto's server runs in this process,
    so time_machine moves its clock with ours."""
    client.force_login(cast.alice)
    start = timezone.now()
    old = upload_feedback(client, cast.round)
    with time_machine.travel(start + datetime.timedelta(hours=2)):
        client.force_login(cast.alice)  # the same session, signed in again after the idle limit
        fresh = upload_feedback(client, make_round())
    entries = client.session[views_files.SESSION_KEY]
    old_token, fresh_token = (r.context["confirm"].initial["upload"] for r in (old, fresh))
    old_name, fresh_name = entries[old_token]["path"], entries[fresh_token]["path"]
    assert set(bucket.objects()) == {old_name, fresh_name}

    with time_machine.travel(start + datetime.timedelta(hours=25)):
        assert "1 file older than 24 hours would be deleted" in cleanup("--dry-run")
        assert set(bucket.objects()) == {old_name, fresh_name}
        assert "1 file older than 24 hours deleted" in cleanup()
    assert set(bucket.objects()) == {fresh_name}
    assert waiting(views_files.UPLOADS_DIR) == [Path(fresh_name).name]

    # The preview whose file went asks for it again; the fresh one still imports.
    confirm = reverse("intake:import-feedback-confirm", args=[cast.round.pk])
    gone = client.post(confirm, {"upload": old_token}, follow=True)
    assert GONE in gone.content.decode()
    assert Suggestion.objects.count() == 0
    confirm = reverse("intake:import-feedback-confirm", args=[fresh.context["round"].pk])
    done = client.post(confirm, {"upload": fresh_token})
    assert done.status_code == 302 and Suggestion.objects.count() == 1
    assert bucket.objects() == {}  # a confirmed upload is deleted at once


# --- Settings and health ----------------------------------------------------------------------


def test_object_storage_without_a_bucket_stops_the_start_with_a_clear_message():
    result = manage("check", **(PRODUCTION | {"MEDIA_STORAGE": "s3", "S3_BUCKET": ""}))
    assert result.returncode != 0
    assert (
        "ImproperlyConfigured: MEDIA_STORAGE=s3 needs S3_BUCKET: the name of the bucket"
        in result.stderr
    )


def test_object_storage_settings_pass_the_deploy_check_and_keep_files_private():
    code = (
        "from django.core.files.storage import default_storage as s;"
        "print(s.__class__.__name__, s.bucket_name, s.endpoint_url, s.default_acl,"
        " s.querystring_auth, s.file_overwrite, s.client_config.s3['addressing_style'])"
    )
    env = PRODUCTION | {
        "MEDIA_STORAGE": "s3",
        "S3_BUCKET": "rectify-media",
        "S3_ENDPOINT_URL": "https://minio.internal:9000",
        "S3_ACCESS_KEY_ID": "id",
        "S3_SECRET_ACCESS_KEY": "secret",
        "S3_ADDRESSING_STYLE": "path",
    }
    result = manage("check", "--deploy", "--fail-level", "WARNING", **env)
    assert result.returncode == 0, result.stdout + result.stderr
    result = manage("shell", "-c", code, **env)
    assert result.stdout.split() == [
        "S3Storage",
        "rectify-media",
        "https://minio.internal:9000",
        "None",  # no ACL sent: the bucket's own, private
        "True",
        "False",
        "path",
    ], result.stderr


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"MEDIA_STORAGE": "nfs"}, "MEDIA_STORAGE must be local or s3, not 'nfs'"),
        ({"S3_BUCKET": "  "}, "MEDIA_STORAGE=s3 needs S3_BUCKET"),
        ({"S3_SECRET_ACCESS_KEY": ""}, "Set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY together"),
        ({"S3_ADDRESSING_STYLE": "dns"}, "S3_ADDRESSING_STYLE must be auto, path or virtual"),
    ],
)
def test_a_misconfigured_object_storage_is_refused_naming_the_setting(
    monkeypatch, environment, message
):
    s3_environment(monkeypatch, "http://127.0.0.1:9", "rectify-media")
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    with pytest.raises(ImproperlyConfigured, match=message):
        media_storage(environment.get("MEDIA_STORAGE", "s3"))


def test_health_checks_that_the_bucket_answers_instead_of_the_disk(
    client, db, bucket, endpoint, settings, monkeypatch
):
    response = client.get("/health/")
    body = json.loads(response.content)
    assert response.status_code == 200, body
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "ok",
        "storage": "ok",
        "worker": "ok",
    }

    missing = f"gone-{uuid.uuid4().hex[:12]}"
    use_bucket(settings, monkeypatch, endpoint, missing)
    response = client.get("/health/")
    body = json.loads(response.content)
    assert response.status_code == 503
    assert body["checks"]["storage"]["status"] == "fail"
    assert body["checks"]["storage"]["detail"]
    assert missing not in response.content.decode() and endpoint not in response.content.decode()


# --- Backup -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_backup_copies_the_bucket_and_a_restore_writes_it_back(cast, bucket, tmp_path, client):
    build_ledger(cast)
    notice = publish_notice(cast)
    publication = Publication.objects.get(notice=notice)
    before = ledger_state()
    files = bucket.hashes()
    assert {publication.pdf.name, publication.xlsx.name} <= set(files)
    assert any(name.startswith("evidence/") for name in files)
    assert any(name.startswith("jobs/") for name in files)

    archive = make_backup(tmp_path)
    manifest = manifest_of(archive)
    assert {e["path"]: e["sha256"] for e in manifest["media"]} == files
    assert manifest["missing_media"] == []

    # An empty database but a bucket with files: refused, nothing changed.
    call_command("flush", interactive=False, verbosity=0)
    with pytest.raises(CommandError, match=f"The bucket {bucket.name} already holds {len(files)}"):
        run("restore", str(archive))
    assert bucket.hashes() == files

    bucket.empty()
    said = run("restore", str(archive))
    assert f"{len(files)} files" in said
    assert ledger_state() == before
    assert bucket.hashes() == files
    served = client.get(reverse("publication:pdf", args=[notice.pk]))
    assert sha256(b"".join(served.streaming_content)) == publication.pdf_sha256

    # --force over a bucket that holds the same names and one more: each file back under its
    # own name (a storage never overwrites, so the old one goes first), the extra one left.
    bucket.client.put_object(Bucket=bucket.name, Key="stray.txt", Body=b"x")
    run("restore", str(archive), force=True)
    assert ledger_state() == before
    assert bucket.hashes() == files | {"stray.txt": sha256(b"x")}


@pytest.mark.django_db(transaction=True)
def test_a_backup_made_on_disk_restores_into_a_bucket(
    cast, endpoint, settings, monkeypatch, tmp_path, client
):
    """How a site moves its files from MEDIA_ROOT to a bucket (docs/backup.md)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    build_ledger(cast)
    notice = publish_notice(cast)
    before = ledger_state()
    archive = make_backup(tmp_path)
    on_disk = {e["path"]: e["sha256"] for e in manifest_of(archive)["media"]}

    call_command("flush", interactive=False, verbosity=0)
    name, s3 = new_bucket(endpoint)
    use_bucket(settings, monkeypatch, endpoint, name)
    run("restore", str(archive))
    assert ledger_state() == before
    assert Bucket(name, endpoint, s3, settings.MEDIA_ROOT).hashes() == on_disk
    served = client.get(reverse("publication:xlsx", args=[notice.pk]))
    xlsx = b"".join(served.streaming_content)
    assert sha256(xlsx) == Publication.objects.get(notice=notice).xlsx_sha256
