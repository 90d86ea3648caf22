"""Tasks for the tests that run real worker processes (tests/test_worker_process.py)."""

from __future__ import annotations

import os
import time
import uuid

from django_tasks import task

from ledger import jobs


@task()
def record_run(job_id: int) -> None:
    """Leaves a file named after the job and the process that ran it, every time it runs."""
    with jobs.running(job_id):
        time.sleep(0.2)  # long enough for both workers of a test to take a share
        name = f"{job_id}-{os.getpid()}-{uuid.uuid4().hex}"
        with open(os.path.join(os.environ["RUNS_DIR"], name), "x"):
            pass
