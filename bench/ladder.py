#!/usr/bin/env python
"""Escalation ladder bench: the daily proposal (``ladder.propose``) over N items (default
100,000), on SQLite and on PostgreSQL.

    .venv/bin/python bench/ladder.py                    # SQLite, then a PostgreSQL cluster
    .venv/bin/python bench/ladder.py --items 20000
    scripts/with-postgres sh -c '.venv/bin/python bench/ladder.py --database-url "$DATABASE_URL"'

Without --database-url it measures a temporary SQLite file, then a throwaway PostgreSQL
cluster of its own (bench/pgcluster.py); with a PostgreSQL --database-url (make bench-pg), a
scratch database made on that server and dropped afterwards; --databases sqlite measures
SQLite alone. Each database is seeded and measured in a child process of its own (Django is
set up once a process), with bench/run.py's seeder (the ledger bench's rounds, departments,
leaders and items) and a share of the late items already on each step of the ladder.

Figures: the first proposal of the day (it inserts every step due), the same proposal run
again (it must add nothing), and a supervisor confirming as many proposed steps as one
confirmation takes (``ladder.CONFIRM_AT_ONCE``), of every kind, in one request's work.
Target: each proposal under 5 s; the script exits 1 when one is missed. Unknown arguments
are ignored (``make bench`` passes the same BENCH_ARGS to every script).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import children  # noqa: E402 - after the path fix above
from bench.run import BenchFailure  # noqa: E402

DEFAULT_ITEMS = 100_000
TARGET_SECONDS = 5.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/ladder.py", description=__doc__.split("\n")[0], allow_abbrev=False
    )
    parser.add_argument(
        "--items",
        type=int,
        default=DEFAULT_ITEMS,
        metavar="N",
        help=f"items to seed (default {DEFAULT_ITEMS:,}; at least 200)",
    )
    parser.add_argument(
        "--database-url",
        default=os.getenv("BENCH_DATABASE_URL"),
        metavar="URL",
        help="a PostgreSQL server to measure on alone (default: a temporary SQLite file, "
        "then a throwaway PostgreSQL cluster)",
    )
    parser.add_argument(
        "--databases",
        default="sqlite,postgresql",
        metavar="LIST",
        help="without --database-url: which to measure (default sqlite,postgresql)",
    )
    parser.add_argument("--seed", type=int, default=2020, help="random seed (default 2020)")
    parser.add_argument(
        "--ladder-json", type=Path, metavar="PATH", help="also write the figures as JSON"
    )
    parser.add_argument("--ladder-child", help=argparse.SUPPRESS)  # the child's database URL
    args, _unknown = parser.parse_known_args(argv)
    if args.items < 200:
        parser.error("--items must be at least 200 (bench/run.py's seeder needs drafts)")
    unknown = set(args.databases.split(",")) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"--databases: unknown {', '.join(sorted(unknown))}")
    return args


# --- The child: one database ------------------------------------------------------------------


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def measure(bench) -> dict:
    from ledger.supervision import ladder
    from ledger.supervision.models import LadderStep

    first, first_s = timed(ladder.propose)
    if not first.new_total:
        raise BenchFailure("the first proposal proposed nothing: the seeded items are not late")
    again, again_s = timed(ladder.propose)
    if again.new_total or again.waiting != first.waiting:
        raise BenchFailure(f"the second proposal changed the steps: {again}")
    rows = LadderStep.objects.count()
    page = list(
        LadderStep.objects.filter(status="proposed")
        .order_by("pk")
        .values_list("pk", flat=True)[: ladder.CONFIRM_AT_ONCE]
    )
    done, confirm_s = timed(ladder.confirm, page, by=bench.supervisor)
    if len(done.confirmed) + len(done.stale) != len(page):
        raise BenchFailure(f"confirming {len(page)} steps took {len(done.confirmed)}")
    return {
        "database": children.database_version(),
        "read": first.read,
        "proposed": first.new,
        "rows": rows,
        "first_s": first_s,
        "again_s": again_s,
        "confirmed": len(done.confirmed),
        "notices": len(done.notices),
        "confirm_s": confirm_s,
    }


def seed_and_measure(args: argparse.Namespace, scratch: Path) -> dict:
    """The child's figures: seeded, then measured."""
    bench, steps, seeded = children.seed_ledger(args, scratch)
    return measure(bench) | {"seconds": seeded, "steps": steps}


# --- The parent: each database in turn --------------------------------------------------------


def report(args: argparse.Namespace, runs: list[dict]) -> list[str]:
    """Print the table; the targets missed."""
    print(
        f"Escalation ladder bench: {args.items:,} items "
        f"(python {platform.python_version()}, {platform.platform()}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.2f})"
    )
    print(f"{'database':<18} {'figure':<44} {'value':>10}  target")
    missed = []
    for run in runs:
        proposed = sum(run["proposed"].values())
        rows = [
            (f"propose, first run ({proposed:,} steps)", run["first_s"], True),
            ("propose, run again (nothing new)", run["again_s"], True),
            (
                f"confirm {run['confirmed']} steps ({run['notices']} notices)",
                run["confirm_s"],
                False,
            ),
        ]
        for label, seconds, targeted in rows:
            verdict = ""
            if targeted:
                ok = seconds < TARGET_SECONDS
                verdict = f"< {TARGET_SECONDS:.0f} s: {'met' if ok else 'MISSED'}"
                if not ok:
                    missed.append(f"{run['database']}, {label}")
            print(f"{run['database']:<18} {label:<44} {seconds:>8.2f} s  {verdict}")
        steps = ", ".join(f"{step} {n:,}" for step, n in run["steps"].items())
        by_step = ", ".join(f"{step} {n:,}" for step, n in run["proposed"].items())
        print(
            f"{run['database']:<18} seeded in {run['seconds']:.0f} s; {run['read']:,} items near "
            f"or past their deadline read; already on the ladder: {steps}; proposed: {by_step}"
        )
    return missed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.ladder_child:
        return children.child(args, "ladder", args.ladder_child, seed_and_measure)
    databases = args.databases.split(",")
    return children.parent(args, "ladder", report, args.ladder_json, databases=databases)


if __name__ == "__main__":
    sys.exit(main())
