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
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pgcluster import Cluster  # noqa: E402 - after the path fix above
from bench.run import BenchFailure, configure, prepare_database, say, seed  # noqa: E402

DEFAULT_ITEMS = 100_000
TARGET_SECONDS = 5.0
# Of the overdue items, the share already on each step of the ladder (the rest on none).
LADDER_SHARES = {"urge": 0.30, "escalate": 0.10, "circulate": 0.03}


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


def climb_the_ladder(rng: random.Random) -> dict[str, int]:
    """Put a share of the late items on each step of the ladder: the counts per step."""
    from django.utils import timezone

    from ledger.models import Item, overdue_condition

    late = list(
        Item.objects.filter(overdue_condition(timezone.localdate())).values_list("pk", flat=True)
    )
    rng.shuffle(late)
    steps, at = {}, 0
    for step, share in LADDER_SHARES.items():
        ids = late[at : at + int(len(late) * share)]
        at += len(ids)
        steps[step] = len(ids)
        for start in range(0, len(ids), 500):
            Item.objects.filter(pk__in=ids[start : start + 500]).update(ladder_step=step)
    return steps


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def measure(bench) -> dict:
    from django.db import connection

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
    if connection.vendor == "sqlite":
        version = f"SQLite {connection.Database.sqlite_version}"
    else:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = f"PostgreSQL {cursor.fetchone()[0].split()[0]}"
    return {
        "database": version,
        "read": first.read,
        "proposed": first.new,
        "rows": rows,
        "first_s": first_s,
        "again_s": again_s,
        "confirmed": len(done.confirmed),
        "notices": len(done.notices),
        "confirm_s": confirm_s,
    }


def child(args: argparse.Namespace) -> int:
    """Seed the database at --ladder-child and measure; one JSON line on stdout."""
    scratch = Path(tempfile.mkdtemp(prefix="rectify-bench-ladder-"))
    try:
        args.database_url = args.ladder_child
        configure(args, scratch)
        import django

        django.setup()
        from django.db import connection

        prepare_database(argparse.Namespace(reset=False))
        rng = random.Random(args.seed)
        seed_args = argparse.Namespace(items=args.items, transitions=1, seed=args.seed)
        started = time.perf_counter()
        bench, _figures = seed(seed_args, rng, scratch)
        steps = climb_the_ladder(rng)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        seeded = time.perf_counter() - started
        result = measure(bench)
        print(json.dumps(result | {"seconds": seeded, "steps": steps}))
        return 0
    except BenchFailure as failure:
        print(f"bench/ladder.py: FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        shutil.rmtree(scratch, ignore_errors=True)


# --- The parent: each database in turn --------------------------------------------------------


def run_child(args: argparse.Namespace, url: str) -> dict:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--ladder-child",
        url,
        "--items",
        str(args.items),
        "--seed",
        str(args.seed),
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BENCH_DATABASE_URL")}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        raise BenchFailure(f"measuring on {url.split('@')[-1]} failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def scratch_postgres(server_url: str) -> tuple[str, str]:
    """A new database on the server of ``server_url``: (its URL, its name)."""
    import psycopg

    name = f"rectify_ladder_bench_{os.getpid()}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name, name


def drop_postgres(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
        return child(args)
    server = args.database_url
    runs, pg_name = [], None
    scratch = Path(tempfile.mkdtemp(prefix="rectify-bench-ladder-"))
    try:
        if server and server.startswith(("postgres://", "postgresql://")):
            url, pg_name = scratch_postgres(server)
            say(f"ladder: {args.items:,} items on PostgreSQL (a scratch database)…")
            runs.append(run_child(args, url))
        else:
            wanted = args.databases.split(",")
            if "sqlite" in wanted:
                say(f"ladder: {args.items:,} items on SQLite…")
                runs.append(run_child(args, f"sqlite:///{scratch / 'ladder.sqlite3'}"))
            if "postgresql" in wanted:
                say(f"ladder: {args.items:,} items on a throwaway PostgreSQL cluster…")
                with Cluster() as cluster:
                    runs.append(run_child(args, cluster.create_database("ladder")))
        missed = report(args, runs)
        if args.ladder_json:
            args.ladder_json.parent.mkdir(parents=True, exist_ok=True)
            args.ladder_json.write_text(json.dumps(runs, ensure_ascii=False, indent=2) + "\n")
        if missed:
            print(f"bench/ladder.py: FAILED: target missed by {'; '.join(missed)}", file=sys.stderr)
            return 1
        return 0
    except BenchFailure as failure:
        print(f"bench/ladder.py: FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        if pg_name:
            drop_postgres(server, pg_name)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
