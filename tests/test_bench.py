"""Smoke test of bench/run.py: it runs end to end at a tiny size and prints every figure,
gunicorn and wrk included.

No timing is asserted: the figures depend on the machine. What is checked is that the
script seeds, measures and reports without error, so a change to the app that breaks a
measurement (a page that stops answering 200, a transition that stops reaching closed)
is caught by the suite rather than on the next hand-run of ``make bench``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The figures this issue adds. Later figures need not be listed here: every label in the
# JSON output is also checked against the printed table.
EXPECTED_LABELS = [
    "seed items",
    "seed rows (all tables)",
    "transitions, all four kinds",
    "transition assign",
    "transition start",
    "transition request close-out",
    "transition approve",
    "transition lost to a race (Stale)",
    "ledger first page, supervisor",
    "ledger last page, supervisor",
    "ledger filtered first page, supervisor",
    "ledger filtered last page, supervisor",
    "ledger first page, official",
    "ledger last page, official",
    "ledger filtered first page, official",
    "ledger filtered last page, official",
    "ledger middle page, supervisor",
    "ledger by deadline first page, supervisor",
    "ledger by deadline last page, supervisor",
    "ledger middle page, official",
    "ledger by deadline first page, official",
    "ledger by deadline last page, official",
    "home, supervisor",
    "home, official",
    "item detail, supervisor",
    "item detail, lead official",
    "wrk hello view",
    "wrk ledger first page, supervisor",
    "wrk ledger / hello",
]
# The targets, each printed in the checks below the table (met or not: the smoke
# test runs at a size no target is set for).
EXPECTED_TARGETS = [
    "median < 50 ms",
    "last page ≤ 1.5× first",
    "time at 1M ≤ 1.5× time at 100k",
    "list ≥ 3% of hello requests/s",
]


def test_bench_runs_at_a_tiny_size(tmp_path: Path) -> None:
    figures_path = tmp_path / "figures.json"
    env = dict(os.environ)
    # Always the bench's own temporary SQLite file, whatever the shell (or with-postgres)
    # points at: the bench must never seed a database the suite is using.
    env.pop("BENCH_DATABASE_URL", None)
    env["TMPDIR"] = str(tmp_path)
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--items",
            "300",
            "--repeat",
            "2",
            "--transitions",
            "5",
            # wrk and gunicorn run for real (the bench installs wrk when it is missing),
            # one second a URL.
            "--wrk-seconds",
            "1",
            "--json",
            str(figures_path),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for word in ("python", "django", "database", "items"):
        assert any(line.startswith(word) for line in out.splitlines()), out
    assert "300" in out

    report = json.loads(figures_path.read_text(encoding="utf-8"))
    labels = [figure["label"] for figure in report["figures"]]
    for label in EXPECTED_LABELS:
        assert label in labels, f"{label!r} missing from {labels}"
    for figure in report["figures"]:
        assert figure["label"] in out, f"{figure['label']!r} not printed"
        assert figure["value"] > 0, figure
    targets = {check["target"] for check in report["targets"]}
    for target in EXPECTED_TARGETS:
        assert target in targets, f"{target!r} missing from {targets}"
        assert target in out, f"{target!r} not printed"
    # The filtered pages are 200 and timed even when the tiny ledger has no match.
    assert "matching items" in out
    # The scratch folder (database, collected static files) is removed at the end.
    assert not list(tmp_path.glob("rectify-bench-*"))
