"""A real worker process killed with SIGKILL in the middle of a job, and the next worker
that finds the job failed and the notice it held freed (docs/workflow.md). The processes
share a database file of their own: they cannot see the test database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import json, sys, django
django.setup()
from ledger.models import Job
from ledger.publication.models import Notice
if sys.argv[1] == "start":
    from ledger import jobs
    from ledger.models import User
    from tests.worker_tasks import count_slowly
    by = User.objects.create(username="duchayuan", role="supervisor")
    job = jobs.enqueue(count_slowly, kind="publish", by=by, title="slow", steps=600)
    Notice.objects.create(title="公示", state="publishing", job=job, created_by=by)
    print(job.pk)
else:
    job = Job.objects.get(pk=int(sys.argv[2]))
    notice = Notice.objects.get(job=job)
    print(json.dumps({"state": job.state, "done": job.done, "error": job.error,
                      "notice": notice.state}))
"""


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"Waited {seconds} s for {what}")


def test_a_job_of_a_killed_worker_is_failed_by_the_next_worker(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "rectify.settings",
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path}/worker.sqlite3",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "WORKER_LEASE_SECONDS": "3",
        "PYTHONPATH": str(ROOT),
    }
    python = sys.executable

    def manage(*args, **kw):
        return subprocess.run(
            [python, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, **kw
        )

    def probe(*args) -> str:
        out = subprocess.run(
            [python, "-c", PROBE, *args], cwd=ROOT, env=env, check=True, capture_output=True
        )
        return out.stdout.decode().strip()

    def worker() -> subprocess.Popen:
        return subprocess.Popen(
            [
                python,
                "manage.py",
                "run_worker",
                "--no-reload",
                "--no-startup-delay",
                "--interval",
                "0.2",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    manage("migrate", "--noinput")
    job_id = probe("start")
    state = lambda: json.loads(probe("state", job_id))  # noqa: E731

    first = worker()
    try:
        wait_for(lambda: state()["done"] > 0, 60, "the job to start")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert state()["state"] == "running"  # what a killed worker leaves behind

    second = worker()
    try:
        after = wait_for(
            lambda: (s := state())["state"] == "failed" and s["notice"] != "publishing" and s,
            60,
            "the job to be failed and its notice freed",
        )
    finally:
        second.terminate()
        second.wait(timeout=30)
    assert after["notice"] == "failed"
    assert "start it again" in after["error"] or "重新" in after["error"]
