"""Background jobs: progress, outcome, file, and who may see them."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_tasks import task

from ledger import jobs
from ledger.models import Job

pytestmark = pytest.mark.django_db


@task()
def make_report(job_id: int, rows: int) -> None:
    with jobs.running(job_id) as job:
        job.set_total(rows)
        for _ in range(rows):
            job.advance()
        job.finish(file_name="报告.txt", content="完成".encode())


@task()
def refuse(job_id: int) -> None:
    with jobs.running(job_id):
        raise jobs.JobError("文件里没有可导出的事项。")


@task()
def crash(job_id: int) -> None:
    with jobs.running(job_id):
        raise RuntimeError("secret internal detail")


def test_a_finished_job_offers_its_file_to_whoever_started_it(client, cast):
    job = jobs.enqueue(make_report, kind="export", by=cast.bob, title="导出台账", rows=3)
    assert (job.state, job.done, job.total, job.percent) == ("done", 3, 3, 100)
    client.force_login(cast.bob)
    page = client.get(job.get_absolute_url()).content.decode()
    assert "导出台账" in page and "下载" in page and 'http-equiv="refresh"' not in page
    download = client.get(reverse("ledger:job-download", args=[job.pk]))
    assert b"".join(download.streaming_content) == "完成".encode()
    assert "attachment" in download["Content-Disposition"]


def test_a_job_is_not_found_for_another_official_but_seen_by_a_supervisor(client, cast):
    job = jobs.enqueue(make_report, kind="export", by=cast.bob, rows=1)
    client.force_login(cast.dave)
    assert client.get(job.get_absolute_url()).status_code == 404
    assert client.get(reverse("ledger:job-download", args=[job.pk])).status_code == 404
    client.force_login(cast.alice)
    assert client.get(job.get_absolute_url()).status_code == 200


def test_a_job_refused_says_why_in_the_users_words(client, cast):
    job = jobs.enqueue(refuse, kind="export", by=cast.bob)
    assert job.state == "failed" and job.error == "文件里没有可导出的事项。"
    client.force_login(cast.bob)
    assert "文件里没有可导出的事项。" in client.get(job.get_absolute_url()).content.decode()
    assert client.get(reverse("ledger:job-download", args=[job.pk])).status_code == 404


def test_an_unexpected_failure_hides_its_details(client, cast):
    job = jobs.enqueue(crash, kind="export", by=cast.bob)
    assert job.state == "failed"
    assert "secret" not in job.error and job.error


def test_a_running_job_shows_its_bar_and_refreshes(client, cast):
    job = Job.objects.create(
        kind="export", title="导出", created_by=cast.bob, state="running", done=25, total=100
    )
    client.force_login(cast.bob)
    page = client.get(job.get_absolute_url()).content.decode()
    assert 'http-equiv="refresh"' in page and 'value="25"' in page and "25 / 100" in page


@task()
def fail_once_then_report(job_id: int, marker: str) -> None:
    """Fails the first time it runs for ``marker``, then makes its report."""
    with jobs.running(job_id) as job:
        if not Job.objects.filter(title=marker, state=Job.State.FAILED).exists():
            raise jobs.JobError("第一次失败。")
        job.finish(file_name="报告.txt", content=marker.encode())


def test_a_failed_job_is_started_again_from_its_page_by_whoever_started_it(client, cast):
    failed = jobs.enqueue(
        fail_once_then_report, kind="export", by=cast.bob, title="导出XQ", marker="导出XQ"
    )
    assert failed.state == "failed"
    client.force_login(cast.bob)
    page = client.get(failed.get_absolute_url()).content.decode()
    assert "重新开始" in page
    response = client.post(reverse("ledger:job-retry", args=[failed.pk]))
    again = Job.objects.latest("pk")
    assert response.status_code == 302 and response["Location"] == again.get_absolute_url()
    assert again.pk != failed.pk
    assert (again.state, again.kind, again.title, again.created_by) == (
        "done",
        "export",
        "导出XQ",
        cast.bob,
    )
    download = client.get(reverse("ledger:job-download", args=[again.pk]))
    assert b"".join(download.streaming_content) == "导出XQ".encode()


def test_a_job_is_not_started_again_by_another_official_nor_when_it_did_not_fail(client, cast):
    failed = jobs.enqueue(
        fail_once_then_report, kind="export", by=cast.bob, title="导出XQ", marker="导出XQ"
    )
    done = jobs.enqueue(make_report, kind="export", by=cast.bob, rows=1)
    client.force_login(cast.dave)
    assert client.post(reverse("ledger:job-retry", args=[failed.pk])).status_code == 404
    client.force_login(cast.bob)
    assert "重新开始" not in client.get(done.get_absolute_url()).content.decode()
    client.post(reverse("ledger:job-retry", args=[done.pk]))
    assert Job.objects.count() == 2  # nothing queued
