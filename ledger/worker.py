"""The background worker that outlives its database and its own death (docs/workflow.md,
"Long work in the background").

``manage.py run_worker`` runs django-tasks-db's worker with these additions:

- **A heartbeat.** A thread writes the worker's ``WorkerHeartbeat`` row every
  HEARTBEAT_SECONDS. A task claimed by a worker whose heartbeat is older than the lease
  (``WORKER_LEASE_SECONDS``) was left behind by a process that died (``kill -9``, a machine
  lost).
- **Recovery.** At start and every RECOVER_SECONDS, ``recover`` fails such tasks and their
  jobs with a message a supervisor can act on, and frees a notice left "publishing": it can
  be published again. Nothing stays "running" for good.
- **Group robots.** Every ``robots.PASS_SECONDS`` it queues a pass over the group-robot
  messages whose time has come (a retry, a gathered digest), so that they go without a new
  event.
- **Reconnection.** When the database goes away the worker logs it, waits (1, 2, 4 … up to
  RECONNECT_MAX_SECONDS) and carries on when it is back, instead of exiting.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import threading
import time

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.utils import InterfaceError, OperationalError
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from .models import Job, WorkerHeartbeat
from .supervision import robots

logger = logging.getLogger(__name__)

# A worker silent for WORKER_LEASE_SECONDS (settings; several missed beats, so that a busy
# machine or a short database outage does not fail live work) is dead.
HEARTBEAT_SECONDS = 10
RECOVER_SECONDS = 30
RECONNECT_MAX_SECONDS = 30
# The database errors that mean "not reachable now", not "this query is wrong".
DATABASE_AWAY = (OperationalError, InterfaceError)


def beat(worker_id: str, *, started_at: datetime.datetime | None = None) -> None:
    """Record that ``worker_id`` is alive now."""
    defaults = {"host": socket.gethostname()[:255], "pid": os.getpid(), "beat_at": timezone.now()}
    if started_at is not None:
        defaults["started_at"] = started_at
    WorkerHeartbeat.objects.update_or_create(worker_id=worker_id, defaults=defaults)


def lease() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.WORKER_LEASE_SECONDS)


def live_workers(now: datetime.datetime | None = None) -> set[str]:
    since = (now or timezone.now()) - lease()
    beating = WorkerHeartbeat.objects.filter(beat_at__gte=since)
    return set(beating.values_list("worker_id", flat=True))


def interrupted_message() -> str:
    return _(
        "The background worker stopped while this was running (the server was restarted or "
        "the process was killed), so it did not finish. Nothing of it was kept: start it "
        "again."
    )


def recover(now: datetime.datetime | None = None) -> int:
    """Fail the tasks and jobs that a dead worker left running, and free what they held;
    returns how many jobs were failed. Safe to run from every worker at once: each task
    is failed by one compare-and-set update."""
    now = now or timezone.now()
    lease_start = now - lease()
    alive = live_workers(now)
    failed = 0
    running = DBTaskResult.objects.filter(
        status=TaskResultStatus.RUNNING, started_at__lt=lease_start
    )
    for task in running.only("pk", "worker_ids"):
        if task.worker_ids and task.worker_ids[-1] in alive:
            continue
        with transaction.atomic():
            taken = DBTaskResult.objects.filter(pk=task.pk, status=TaskResultStatus.RUNNING).update(
                status=TaskResultStatus.FAILED, finished_at=now
            )
            if taken:
                failed += _fail_jobs(Job.objects.filter(task_id=str(task.pk)), now)
                # In the same transaction: nobody sees the job failed and its notice held.
                _free_notices(now)
    # A job still marked as working whose task is no longer running (it failed before the
    # job could say so, or was recovered above in an earlier pass).
    orphans = Job.objects.filter(state__in=[Job.State.QUEUED, Job.State.RUNNING]).exclude(
        task_id=""
    )
    finished_tasks = DBTaskResult.objects.filter(
        status__in=[TaskResultStatus.FAILED, TaskResultStatus.SUCCESSFUL],
        finished_at__lt=lease_start,
    ).values_list("pk", flat=True)
    stuck = orphans.filter(task_id__in=[str(pk) for pk in finished_tasks])
    failed += _fail_jobs(stuck, now)
    _free_notices(now)
    return failed


def _fail_jobs(jobs, now: datetime.datetime) -> int:
    return jobs.filter(state__in=[Job.State.QUEUED, Job.State.RUNNING]).update(
        state=Job.State.FAILED, error=interrupted_message(), finished_at=now
    )


def _free_notices(now: datetime.datetime) -> None:
    """A notice is never left "publishing" without a job that is still at work on it: it
    goes to "failed", with the job's message, and can be published again; the files its
    killed attempt may have stored are deleted."""
    from .publication.models import Notice
    from .publication.tasks import discard_leftovers

    held = Notice.objects.filter(state=Notice.State.PUBLISHING).exclude(
        job__state__in=[Job.State.QUEUED, Job.State.RUNNING]
    )
    for notice in held.select_related("job"):
        message = notice.job.error if notice.job and notice.job.error else interrupted_message()
        freed = Notice.objects.filter(pk=notice.pk, state=Notice.State.PUBLISHING).update(
            state=Notice.State.FAILED, error=message, updated_at=now
        )
        if freed:
            discard_leftovers(notice.pk)


class Heartbeat(threading.Thread):
    """Beats for the worker, and recovers what dead workers left, on its own connection:
    a long task in the main thread does not stop the beat."""

    def __init__(self, worker_id: str) -> None:
        super().__init__(name=f"heartbeat-{worker_id}", daemon=True)
        self.worker_id = worker_id
        self.started_at = timezone.now()
        self.stopped = threading.Event()
        self._recovered_at = 0.0
        self._robots_at = 0.0

    def run(self) -> None:
        while not self.stopped.is_set():
            self.tick()
            self.stopped.wait(HEARTBEAT_SECONDS)
        connection.close()

    def tick(self) -> None:
        try:
            beat(self.worker_id, started_at=self.started_at)
            if time.monotonic() - self._recovered_at >= RECOVER_SECONDS:
                if count := recover():
                    logger.warning("Failed %d job(s) left behind by a stopped worker", count)
                self._recovered_at = time.monotonic()
            if time.monotonic() - self._robots_at >= robots.PASS_SECONDS:
                self._robots_at = time.monotonic()
                self.queue_robots()
        except DATABASE_AWAY as error:
            logger.warning("Heartbeat of worker %s not written: %s", self.worker_id, error)
            close_old_connections()
            connection.close()

    def queue_robots(self) -> None:
        """Queue the group robots' pass; a failure of it must not stop the beat."""
        try:
            robots.queue_pass()
        except DATABASE_AWAY:
            raise
        except Exception:
            logger.exception("Could not queue the group robots' pass")


def run_surviving(run, *, running, sleep=time.sleep) -> None:
    """Call ``run`` (a worker's loop) again whenever the database is away, waiting longer
    each time up to RECONNECT_MAX_SECONDS, until ``running()`` says the worker was told to
    stop."""
    wait = 1.0
    while True:
        try:
            run()
            return
        except DATABASE_AWAY as error:
            if not running():
                return
            logger.warning("Database unreachable (%s); trying again in %.0f s", error, wait)
            connection.close()
            sleep(wait)
            wait = min(wait * 2, RECONNECT_MAX_SECONDS)
