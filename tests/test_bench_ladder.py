"""Smoke test of bench/ladder.py at a tiny size: it seeds, proposes, proposes again (adding
nothing), confirms a page and prints every figure. No timing is asserted beyond the
bench's own target, which a tiny ledger meets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_ladder_bench_runs_and_prints_its_figures(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BENCH_DATABASE_URL")}
    env["TMPDIR"] = str(tmp_path)
    figures = tmp_path / "ladder.json"
    done = subprocess.run(
        [
            sys.executable,
            "bench/ladder.py",
            "--items",
            "400",
            "--databases",
            "sqlite",
            "--ladder-json",
            str(figures),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = done.stdout
    assert "propose, first run" in out and "propose, run again (nothing new)" in out
    assert "confirm " in out and "MISSED" not in out
    [run] = json.loads(figures.read_text())
    assert run["database"].startswith("SQLite")
    assert sum(run["proposed"].values()) > 0 and run["confirmed"] > 0
