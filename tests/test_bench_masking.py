"""Smoke test of bench/masking.py: it judges the hand-written sentences, prints every figure
and meets its targets. No timing is asserted beyond the bench's own target."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_masking_bench_runs_and_prints_its_figures(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "bench/masking.py", "--json", str(tmp_path / "m.json"), "--items", "9"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    out = done.stdout
    assert "hand-written sentences" in out
    for group in ("all", "names", "QQ / WeChat", "other details"):
        assert f"\n  {group} " in out
    assert "must-stay texts changed" in out and "possible names flagged" in out
    assert "texts/s" in out
    assert "MISSED" not in out
    assert (tmp_path / "m.json").exists()
