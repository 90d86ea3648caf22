"""Smoke test of bench/consolidation.py at a tiny size: it groups, scores the hand-written
set and serves the consolidation page of a kept proposal, printing every figure. No
timing is asserted; a page that stops answering fails it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_consolidation_bench_runs_and_prints_its_figures():
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = subprocess.run(
        [
            sys.executable,
            "bench/consolidation.py",
            "--suggestions",
            "300",
            "--page-suggestions",
            "400",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "propose_groups" in out and "pair precision" in out
    assert "Hand-written labelled set (391 suggestions" in out
    assert "← default" in out
    assert "Consolidation page of a round of 400 suggestions" in out
    assert "first page" in out and "last page" in out
