"""A task slow enough to kill a worker in the middle of (tests/test_worker_process.py)."""

from __future__ import annotations

import time

from django_tasks import task

from ledger import jobs


@task()
def count_slowly(job_id: int, steps: int) -> None:
    with jobs.running(job_id) as job:
        job.set_total(steps)
        for _ in range(steps):
            time.sleep(0.1)
            job.advance()
            job.flush()
