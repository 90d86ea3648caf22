"""Smoke test of bench/dashboard.py at a small size, on SQLite and on a PostgreSQL cluster
of the bench's own: it seeds, checks the figures against a plain count, times every page
and prints each with its queries; and it exits 1 when a target is missed. No timing is
asserted beyond the bench's own target."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = [
    f"{who}, {which}"
    for who in ("supervisor", "official", "leader")
    for which in ("newest round", "all rounds")
]


def run(*extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BENCH_DATABASE_URL")}
    return subprocess.run(
        [sys.executable, "bench/dashboard.py", "--items", "300", "--dashboard-repeat", "2", *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_dashboard_bench_measures_both_databases_and_fails_a_missed_target(tmp_path):
    done = run("--dashboard-json", str(tmp_path / "d.json"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    for database in ("SQLite", "PostgreSQL"):
        rows = [line for line in lines if line.startswith(database) and "queries:" in line]
        assert [page for page in PAGES if any(page in row for row in rows)] == PAGES, database
        assert all(row.endswith("met") for row in rows), rows
    assert "MISSED" not in done.stdout
    assert (tmp_path / "d.json").exists()

    missed = run("--dashboard-target-ms", "0.001")
    assert missed.returncode == 1
    assert "MISSED" in missed.stdout and "target missed" in missed.stderr
