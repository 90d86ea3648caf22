"""A site of its own for the tests that run real worker processes (tests/test_worker_process.py):
a database (a SQLite file, or a database in a PostgreSQL cluster started for the tests), a
media folder, and the commands to set it up, look into it and run workers on it. The
processes cannot see the test database, so everything goes through subprocesses."""

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
# A killed worker's claim is given up after this many seconds without a heartbeat.
LEASE_SECONDS = 3


def wait_for(condition, seconds: float, what: str):
    """The first true value of ``condition()``, polled twice a second for ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"Waited {seconds} s for {what}")


class Site:
    def __init__(self, database_url: str, folder: Path) -> None:
        """A site on ``database_url``, which must be migrated (or be migrated with
        ``manage("migrate")``), with its files under ``folder``."""
        self.folder = folder
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "rectify.settings",
            "DEBUG": "true",
            "DATABASE_URL": database_url,
            "MEDIA_ROOT": str(folder / "media"),
            "WORKER_LEASE_SECONDS": str(LEASE_SECONDS),
            "RUNS_DIR": str(folder / "runs"),
            "PYTHONPATH": str(ROOT),
        }
        (folder / "runs").mkdir(parents=True, exist_ok=True)
        self.workers: list[subprocess.Popen] = []

    def manage(self, *args: str) -> str:
        out = self._run([sys.executable, "manage.py", *args])
        return out

    def probe(self, *args: object):
        """Runs tests/worker_probe.py with ``args``; its printed JSON."""
        command = [sys.executable, "-m", "tests.worker_probe", *map(str, args)]
        return json.loads(self._run(command))

    def _run(self, command: list[str]) -> str:
        done = subprocess.run(command, cwd=ROOT, env=self.env, capture_output=True, text=True)
        if done.returncode:
            pytest.fail(f"{' '.join(command[1:])} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def worker(self, *, slow_step: float = 0.0) -> subprocess.Popen:
        """A worker process as production runs it (``manage.py run_worker``), or one whose
        every progress step takes ``slow_step`` seconds longer, to be caught in the middle."""
        command = ["manage.py", "run_worker"] if not slow_step else ["-m", "tests.slow_worker"]
        process = subprocess.Popen(
            [sys.executable, *command, "--no-reload", "--no-startup-delay", "--interval", "0.2"],
            cwd=ROOT,
            env={**self.env, "SLOW_STEP": str(slow_step)},
            stdout=subprocess.DEVNULL,
            stderr=open(self.folder / f"worker-{len(self.workers)}.log", "w"),  # noqa: SIM115
        )
        self.workers.append(process)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait()

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.terminate()
        for process in self.workers:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill(process)

    def worker_log(self, n: int) -> str:
        return (self.folder / f"worker-{n}.log").read_text()
