"""Smoke test of bench/load.py: a handful of locust users for a few seconds against gunicorn
on a PostgreSQL cluster of the bench's own, end to end: seeding, publishing, sign-ins,
pages, progress reports, the figures and the write check.

No timing is asserted (the p95 target is set out of reach: a busy test machine is no
measure); what fails it is an error, a page that stops answering as the scenario expects,
or a report the app accepted that is not in the database once.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KINDS = ["sign-in", "official browse", "official post progress", "supervisor review", "public read"]


def test_the_load_bench_runs_and_checks_its_writes() -> None:
    env = dict(os.environ)
    # Always a cluster of the bench's own, whatever the shell or with-postgres points at.
    env.pop("BENCH_DATABASE_URL", None)
    command = [
        sys.executable,
        str(ROOT / "bench" / "load.py"),
        "--users",
        "3",
        "--supervisors",
        "1",
        "--readers",
        "2",
        "--duration",
        "8",
        "--spawn-rate",
        "10",
        "--think",
        "0.1,0.3",
        "--load-items",
        "200",
        "--p95-ms",
        "60000",
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        # SIGTERM first: the bench then stops gunicorn and its cluster on the way out.
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
        raise AssertionError(f"bench/load.py did not finish in 300 s:\n{out}\n{err}") from None
    assert process.returncode == 0, f"{out}\n{err[-3000:]}"

    lines = out.splitlines()
    assert any(line.startswith("requests/s ") for line in lines), out
    for kind in KINDS:
        row = next((line for line in lines if line.startswith(kind + " ")), None)
        assert row is not None, f"no figures for {kind!r}:\n{out}"
        # requests, req/s, p50, p95, p99, max, errors, then the target
        fields = row[len(kind) :].split()
        assert int(fields[0].replace(",", "")) > 0, row
        assert fields[6] == "0", row
    assert "write check: passed" in out, out
    assert "(0 missing)" in out and "0 other reports added" in out, out
    # The scratch folder (logs, static files) and the cluster's are removed at the end.
    folders = re.findall(r"^bench: (?:scratch folder|PostgreSQL cluster in) (\S+)", err, re.M)
    assert len(folders) == 2, err
    for folder in folders:
        assert not Path(folder).exists(), folder
