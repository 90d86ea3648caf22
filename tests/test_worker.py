"""The worker that survives (ledger/worker.py): work a killed worker left behind is failed
visibly and what it held is freed; the worker waits for a database that is away."""

from __future__ import annotations

import datetime

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.utils import OperationalError
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from ledger import worker
from ledger.models import Job, WorkerHeartbeat
from ledger.publication.models import Notice

pytestmark = pytest.mark.django_db

LONG_AGO = datetime.timedelta(minutes=10)


def claimed_task(by: str, *, status=TaskResultStatus.RUNNING, ago=LONG_AGO) -> DBTaskResult:
    at = timezone.now() - ago
    return DBTaskResult.objects.create(
        status=status,
        started_at=at,
        finished_at=at if status != TaskResultStatus.RUNNING else None,
        args_kwargs={"args": [], "kwargs": {}},
        task_path="ledger.publication.tasks.publish_notice",
        worker_ids=[by],
        backend_name="default",
        run_after=at,
    )


def job_of(task: DBTaskResult, cast, **kw) -> Job:
    return Job.objects.create(
        kind="publish", title="发布公示", created_by=cast.alice, task_id=str(task.pk), **kw
    )


def publishing_notice(job: Job, cast) -> Notice:
    return Notice.objects.create(
        title="2019年度整改公示", state=Notice.State.PUBLISHING, job=job, created_by=cast.alice
    )


def test_work_of_a_dead_worker_is_failed_and_the_notice_it_held_is_freed(cast):
    task = claimed_task("killed-worker")
    job = job_of(task, cast, state=Job.State.RUNNING, done=918, total=3858)
    notice = publishing_notice(job, cast)
    assert worker.recover() == 1
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert "后台任务进程" in job.error or "background worker stopped" in job.error
    task.refresh_from_db()
    assert task.status == TaskResultStatus.FAILED
    notice.refresh_from_db()
    assert notice.state == Notice.State.FAILED and notice.error == job.error
    assert notice.editable  # can be edited and published again


def test_files_a_killed_publication_stored_are_deleted_when_its_notice_is_freed(cast):
    job = job_of(claimed_task("killed-worker"), cast, state=Job.State.RUNNING)
    notice = publishing_notice(job, cast)
    left = default_storage.save(f"notices/{notice.pk}/v1-0123456789ab.pdf", ContentFile(b"%PDF"))
    assert worker.recover() == 1
    notice.refresh_from_db()
    assert notice.state == Notice.State.FAILED
    assert not default_storage.exists(left)


def test_work_of_a_live_worker_is_left_alone(cast):
    WorkerHeartbeat.objects.create(worker_id="busy-worker")
    job = job_of(claimed_task("busy-worker"), cast, state=Job.State.RUNNING)
    notice = publishing_notice(job, cast)
    assert worker.recover() == 0
    job.refresh_from_db()
    notice.refresh_from_db()
    assert (job.state, notice.state) == (Job.State.RUNNING, Notice.State.PUBLISHING)


def test_a_job_whose_task_failed_before_it_could_say_so_is_failed(cast):
    job = job_of(claimed_task("w", status=TaskResultStatus.FAILED), cast, state=Job.State.RUNNING)
    assert worker.recover() == 1
    job.refresh_from_db()
    assert job.state == Job.State.FAILED


def test_a_worker_that_stopped_beating_long_ago_is_not_alive():
    WorkerHeartbeat.objects.create(worker_id="old", beat_at=timezone.now() - LONG_AGO)
    worker.beat("new")
    assert worker.live_workers() == {"new"}


def test_the_worker_waits_for_the_database_and_carries_on():
    calls, waits = [], []

    def run():
        calls.append(1)
        if len(calls) < 4:
            raise OperationalError("connection refused")

    worker.run_surviving(run, running=lambda: True, sleep=waits.append)
    assert len(calls) == 4
    assert waits == [1.0, 2.0, 4.0]


def test_a_worker_told_to_stop_does_not_wait_for_the_database():
    def run():
        raise OperationalError("connection refused")

    worker.run_surviving(run, running=lambda: False, sleep=pytest.fail)


def test_a_heartbeat_that_cannot_be_written_does_not_stop_the_worker(monkeypatch):
    def away(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(worker, "beat", away)
    worker.Heartbeat("w").tick()  # logged, not raised
