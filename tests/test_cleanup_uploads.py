"""``manage.py cleanup_uploads``: an import's upload never confirmed is deleted after a day,
and a preview whose file went says so instead of failing."""

from __future__ import annotations

import datetime
import io
import os
import time
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from ledger.administration import views_setup
from ledger.intake import views_files
from ledger.models import Suggestion

from .factory import make_round, make_user
from .files.intake import build

SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "setup-sample.xlsx"
HEADER = ["序号", "意见建议内容", "所属领域"]
GONE = "该上传已失效，请重新上传文件。"


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    return settings.MEDIA_ROOT


def upload_feedback(client, round):
    data = build.xlsx([HEADER, [1, "加强饮水安全", "社会保障"]])
    url = reverse("intake:import-feedback", args=[round.pk])
    response = client.post(url, {"file": SimpleUploadedFile("意见建议.xlsx", data)})
    assert response.status_code == 200
    return response


def age(media: Path, name: str, hours: float) -> None:
    when = time.time() - hours * 3600
    os.utime(media / name, (when, when))


def waiting(folder: str) -> list[str]:
    try:
        return sorted(default_storage.listdir(folder)[1])
    except FileNotFoundError:
        return []


def cleanup(*args: str) -> str:
    out = io.StringIO()
    call_command("cleanup_uploads", *args, stdout=out)
    return out.getvalue()


def test_uploads_older_than_a_day_go_and_younger_ones_stay(client, cast, media):
    client.force_login(cast.alice)
    old = upload_feedback(client, cast.round)
    fresh = upload_feedback(client, make_round())
    old_name, fresh_name = (
        client.session[views_files.SESSION_KEY][r.context["confirm"].initial["upload"]]["path"]
        for r in (old, fresh)
    )
    age(media, old_name, 25)
    age(media, fresh_name, 23)
    sheet = default_storage.save(f"{views_setup.SHEETS_DIR}/left.xlsx", ContentFile(b"x"))
    age(media, sheet, 30)

    assert "2 files older than 24 hours would be deleted" in cleanup("--dry-run")
    assert len(waiting(views_files.UPLOADS_DIR)) == 2
    assert "2 files older than 24 hours deleted" in cleanup()
    assert waiting(views_files.UPLOADS_DIR) == [Path(fresh_name).name]
    assert waiting(views_setup.SHEETS_DIR) == []
    assert "0 files" in cleanup()  # a second run finds nothing

    # The preview whose file went: "upload again", not an error, and nothing imported.
    confirm = reverse("intake:import-feedback-confirm", args=[cast.round.pk])
    token = old.context["confirm"].initial["upload"]
    gone = client.post(confirm, {"upload": token}, follow=True)
    assert gone.redirect_chain[-1][0] == reverse("intake:import-feedback", args=[cast.round.pk])
    assert GONE in gone.content.decode()
    assert Suggestion.objects.count() == 0
    assert token not in client.session[views_files.SESSION_KEY]
    # The younger one still imports.
    confirm = reverse("intake:import-feedback-confirm", args=[fresh.context["round"].pk])
    done = client.post(confirm, {"upload": fresh.context["confirm"].initial["upload"]})
    assert done.status_code == 302 and Suggestion.objects.count() == 1


def test_a_setup_workbook_swept_before_its_confirmation_asks_for_it_again(client, db, media):
    client.force_login(make_user("root", role="administrator"))
    preview = client.post(
        reverse("manage:setup"), {"file": SimpleUploadedFile(SAMPLE.name, SAMPLE.read_bytes())}
    )
    (name,) = waiting(views_setup.UPLOADS_DIR)
    age(media, f"{views_setup.UPLOADS_DIR}/{name}", 48)
    assert "1 file older than 24 hours deleted" in cleanup()
    token = preview.context["confirm"].initial["upload"]
    response = client.post(reverse("manage:setup-confirm"), {"upload": token}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("manage:setup")
    assert GONE in response.content.decode()


def test_an_export_file_goes_after_a_week_and_its_page_says_so(client, cast, media):
    from ledger import jobs
    from ledger.models import Job

    from .test_jobs import make_report

    old = jobs.enqueue(make_report, kind="export", by=cast.bob, title="导出台账", rows=1)
    fresh = jobs.enqueue(make_report, kind="export", by=cast.bob, title="导出台账", rows=1)
    Job.objects.filter(pk=old.pk).update(
        finished_at=old.finished_at - datetime.timedelta(days=jobs.KEEP_FILES_DAYS, hours=1)
    )
    old_name = old.result_file.name
    assert "1 file of jobs finished more than 7 days ago deleted" in cleanup()
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert not old.result_file and not default_storage.exists(old_name)
    assert fresh.result_file and default_storage.exists(fresh.result_file.name)

    client.force_login(cast.bob)
    page = client.get(old.get_absolute_url()).content.decode()
    assert "文件 报告.txt 已在生成 7 天后删除" in page
    assert reverse("ledger:job-download", args=[old.pk]) not in page
    assert client.get(reverse("ledger:job-download", args=[old.pk])).status_code == 404
