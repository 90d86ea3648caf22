"""Long work in the background, with a progress bar: exports and publishing.

A view starts the work with ``enqueue``, which records a ``Job`` and hands a django-tasks
task its id; the task, run by ``manage.py run_worker``, reports through ``running``:

    @task()
    def export_round(job_id: int, round_id: int) -> None:
        with jobs.running(job_id) as job:
            job.set_total(n)
            ...
            job.advance(500)
            job.finish(file_name="台账.xlsx", content=data)

The page ``/jobs/<id>/`` shows the bar until the job is done, then its file or its result.
A task that raises leaves the job failed with a message: the ``JobError``'s own, which is
meant for the user, or a generic one (the exception is logged) for anything unexpected.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

from django.core.files import File
from django.core.files.base import ContentFile
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from .models import Job, User

logger = logging.getLogger(__name__)

# A job's file (an export) is deleted this many days after it was made (manage.py
# cleanup_uploads, daily); its page then says so.
KEEP_FILES_DAYS = 7
# Progress is written at most this often: a bar that moves every half second is enough, and
# a job of 100,000 rows does not write 100,000 times.
SAVE_EVERY_SECONDS = 0.5


class JobError(Exception):
    """A failure to show the user as it is worded (already translated)."""


def enqueue(task: Any, *, kind: str, by: User | None, title: str = "", **kwargs: Any) -> Job:
    """Record a job and queue ``task(job_id=…, **kwargs)``. The job row is committed before
    the task is queued (autocommit), so a worker never looks for a job that is not there."""
    job = Job.objects.create(
        kind=kind,
        title=title[:200],
        created_by=by,
        task_path=task.module_path,
        task_kwargs=kwargs,
    )
    result = task.enqueue(job_id=job.pk, **kwargs)
    task_id = str(getattr(result, "id", "") or "")
    if task_id:
        # The immediate backend has run the task already and may have saved the job: only
        # the task id is written here, never the state.
        Job.objects.filter(pk=job.pk).update(task_id=task_id[:64])
    job.refresh_from_db()
    return job


def can_retry(job: Job, user: User) -> bool:
    """Whether ``user`` may start ``job`` again from its page: a failed job that was
    queued with its arguments (publishing is started again from its notice, by a
    supervisor)."""
    if job.state != Job.State.FAILED or not job.task_path:
        return False
    if job.kind == "publish":
        return user.is_supervisor and _failed_notice(job) is not None
    return user.is_supervisor or job.created_by_id == user.pk


def _failed_notice(job: Job):
    """The notice whose publication ``job`` was, while it is still the notice's last
    attempt and failed."""
    from .publication.models import Notice

    return Notice.objects.filter(job=job, state=Notice.State.FAILED).first()


def retry(job: Job, by: User) -> Job:
    """Start a failed job again from the beginning, as it was queued; returns the new job.
    The work is read again from the ledger as it is now: an export re-run lists today's
    items, a notice re-published takes today's figures."""
    if job.state != Job.State.FAILED or not job.task_path:
        raise JobError(_("Only a failed job can be started again."))
    if job.kind == "publish":
        from .publication.tasks import start_publishing

        notice = _failed_notice(job)
        if notice is None:
            raise JobError(_("This notice has been published again since, or is being published."))
        return start_publishing(notice, by)
    task = import_string(job.task_path)
    return enqueue(task, kind=job.kind, by=job.created_by or by, title=job.title, **job.task_kwargs)


class Progress:
    """The handle a running task reports through."""

    def __init__(self, job: Job):
        self.job = job
        self._saved_at = time.monotonic()

    def set_total(self, total: int) -> None:
        self.job.total = max(0, int(total))
        self._save(force=True)

    def advance(self, by: int = 1) -> None:
        self.job.done += by
        self._save()

    def flush(self) -> None:
        """Write the progress now: before a long step that reports nothing while it runs."""
        self._save(force=True)

    def set_done(self, done: int) -> None:
        self.job.done = done
        self._save()

    def finish(
        self,
        *,
        file_name: str = "",
        content: bytes | File | None = None,
        url: str = "",
    ) -> None:
        job = self.job
        if content is not None:
            name = file_name or f"job-{job.pk}"
            file = ContentFile(content, name=name) if isinstance(content, bytes) else content
            job.result_file.save(name, file, save=False)
            job.result_name = name
        job.result_url = url
        job.done = max(job.done, job.total)
        job.state = Job.State.DONE
        job.finished_at = timezone.now()
        job.save()

    def _save(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._saved_at >= SAVE_EVERY_SECONDS:
            Job.objects.filter(pk=self.job.pk).update(done=self.job.done, total=self.job.total)
            self._saved_at = now


@contextlib.contextmanager
def running(job_id: int) -> Iterator[Progress]:
    job = Job.objects.get(pk=job_id)
    job.state = Job.State.RUNNING
    job.started_at = timezone.now()
    job.save(update_fields=["state", "started_at"])
    progress = Progress(job)
    try:
        yield progress
    except JobError as error:
        _fail(job, str(error))
    except Exception:
        logger.exception("Job %s (%s) failed", job.pk, job.kind)
        _fail(job, _("Something went wrong on the server. The error was logged; try again."))
    else:
        if job.state != Job.State.DONE:
            progress.finish()


def _fail(job: Job, message: str) -> None:
    Job.objects.filter(pk=job.pk).update(
        state=Job.State.FAILED, error=message, finished_at=timezone.now()
    )
    job.refresh_from_db()
