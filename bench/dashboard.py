#!/usr/bin/env python
"""Dashboard bench: the supervision dashboard (督办看板) over N items (default 100,000), on
SQLite and on PostgreSQL: its median time and its queries, per role and round.

    .venv/bin/python bench/dashboard.py                 # SQLite, then a PostgreSQL cluster
    .venv/bin/python bench/dashboard.py --items 20000
    scripts/with-postgres sh -c '.venv/bin/python bench/dashboard.py --database-url "$DATABASE_URL"'

Without --database-url it measures a temporary SQLite file, then a throwaway PostgreSQL
cluster of its own (bench/pgcluster.py); with a PostgreSQL --database-url (make bench-pg),
a scratch database made on that server and dropped afterwards. Each database is seeded and
measured in a child process of its own (Django is set up once a process), with bench/run.py's
seeder: the same rounds, departments, leaders and items as the ledger bench, and a share of
the late items on each step of the escalation ladder.

Each page is requested once untimed (its queries counted, its figures checked against a
plain count), then --dashboard-repeat times; the median is reported. Targets: median under
300 ms and fewer than 20 queries for every page; the script exits 1 when one is missed.
Unknown arguments are ignored (``make bench`` passes the same BENCH_ARGS to every script).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pgcluster import Cluster  # noqa: E402 - after the path fix above
from bench.run import (  # noqa: E402
    BenchFailure,
    configure,
    count_queries,
    prepare_database,
    say,
    seed,
)

DEFAULT_ITEMS = 100_000
DEFAULT_REPEAT = 15
TARGET_MS = 300.0
TARGET_QUERIES = 20
# Of the overdue items, the share at each step of the escalation ladder (the rest none).
LADDER_SHARES = {"urge": 0.30, "escalate": 0.10, "circulate": 0.03}
REMIND_SHARE = 0.5  # of the items falling due within a week


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/dashboard.py", description=__doc__.split("\n")[0], allow_abbrev=False
    )
    parser.add_argument(
        "--items",
        type=int,
        default=DEFAULT_ITEMS,
        metavar="N",
        help=f"items to seed (default {DEFAULT_ITEMS:,}; at least 200)",
    )
    parser.add_argument(
        "--dashboard-repeat",
        type=int,
        default=DEFAULT_REPEAT,
        metavar="R",
        help=f"timed requests per page; the median is reported (default {DEFAULT_REPEAT})",
    )
    parser.add_argument(
        "--database-url",
        default=os.getenv("BENCH_DATABASE_URL"),
        metavar="URL",
        help="a PostgreSQL server to measure on alone (default: a temporary SQLite file, "
        "then a throwaway PostgreSQL cluster)",
    )
    parser.add_argument("--seed", type=int, default=2020, help="random seed (default 2020)")
    parser.add_argument(
        "--dashboard-target-ms",
        type=float,
        default=TARGET_MS,
        metavar="MS",
        help=f"the median each page must stay under (default {TARGET_MS:.0f})",
    )
    parser.add_argument(
        "--dashboard-json", type=Path, metavar="PATH", help="also write the figures as JSON"
    )
    parser.add_argument("--dashboard-child", help=argparse.SUPPRESS)  # the child's database URL
    args, _unknown = parser.parse_known_args(argv)
    if args.items < 200:
        parser.error("--items must be at least 200 (bench/run.py's seeder needs drafts)")
    if args.dashboard_repeat < 1:
        parser.error("--dashboard-repeat must be at least 1")
    return args


# --- The child: one database ------------------------------------------------------------------


def climb_the_ladder(rng: random.Random) -> dict[str, int]:
    """Put a share of the late items on each step of the ladder, and half of those falling
    due within a week on the reminder; the counts per step."""
    import datetime

    from django.utils import timezone

    from ledger.models import Item, overdue_condition

    today = timezone.localdate()
    late = list(Item.objects.filter(overdue_condition(today)).values_list("pk", flat=True))
    soon = list(
        Item.objects.open()
        .filter(deadline__gte=today, deadline__lte=today + datetime.timedelta(days=7))
        .values_list("pk", flat=True)
    )
    rng.shuffle(late)
    steps, at = {}, 0
    for step, share in LADDER_SHARES.items():
        ids = late[at : at + int(len(late) * share)]
        at += len(ids)
        steps[step] = ids
    steps["remind"] = rng.sample(soon, int(len(soon) * REMIND_SHARE))
    for step, ids in steps.items():
        for start in range(0, len(ids), 500):
            Item.objects.filter(pk__in=ids[start : start + 500]).update(ladder_step=step)
    return {step: len(ids) for step, ids in steps.items()}


def pages(bench) -> list[tuple[str, object, dict[str, str]]]:
    """(label, user, query) of each page measured."""
    from django.db.models import Count

    from ledger.models import Item, User

    # The leader who answers for the most items.
    busiest = (
        Item.objects.exclude(leader=None)
        .values("leader")
        .annotate(n=Count("pk"))
        .order_by("-n", "leader")
        .first()["leader"]
    )
    leader_user = User.objects.get(role="leader", leader_id=busiest)
    official = bench.officials[bench.busiest.pk]
    out = []
    for who, user in (
        ("supervisor", bench.supervisor),
        ("official", official),
        ("leader", leader_user),
    ):
        out.append((f"{who}, newest round", user, {}))
        out.append((f"{who}, all rounds", user, {"round": "all"}))
    return out


def check_figures(user, query: dict[str, str]) -> int:
    """The dashboard's count of items against a plain count of the same items."""
    from ledger.models import Item, Round
    from ledger.supervision.dashboard import figures

    chosen = None if query.get("round") == "all" else Round.objects.first()
    items = Item.objects.visible_to(user).exclude(state="draft")
    if chosen is not None:
        items = items.filter(round=chosen)
    plain = items.count()
    shown = figures(user, chosen).totals.items
    if shown != plain:
        raise BenchFailure(f"the dashboard counts {shown} items where a plain count finds {plain}")
    return plain


def measure(args: argparse.Namespace, bench) -> list[dict]:
    from django.test import Client
    from django.urls import reverse

    url = reverse("supervision:dashboard")
    results = []
    for label, user, query in pages(bench):
        client = Client()
        client.force_login(user)
        with count_queries() as captured:
            response = client.get(url, query)
        if response.status_code != 200 or b'class="chart' not in response.content:
            raise BenchFailure(f"GET {url} {query} as {label}: {response.status_code}, no chart")
        items = check_figures(user, query)
        samples = []
        for _ in range(args.dashboard_repeat):
            started = time.perf_counter()
            response = client.get(url, query)
            samples.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise BenchFailure(f"GET {url} {query} as {label}: {response.status_code}")
        results.append(
            {
                "page": label,
                "items": items,
                "p50_ms": statistics.median(samples) * 1000,
                "queries": len(captured),
                "samples_ms": [round(s * 1000, 2) for s in samples],
                "sql": [{"ms": float(q["time"]) * 1000, "sql": q["sql"]} for q in captured],
            }
        )
    return results


def child(args: argparse.Namespace) -> int:
    """Seed the database at --dashboard-child and measure; one JSON line on stdout."""
    scratch = Path(tempfile.mkdtemp(prefix="rectify-bench-dashboard-"))
    try:
        args.database_url = args.dashboard_child
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
            # As autovacuum would after the ladder's updates: statistics, and the
            # visibility map that index-only scans need.
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE ledger_item")
        seeded = time.perf_counter() - started
        results = measure(args, bench)
        if connection.vendor == "sqlite":
            version = f"SQLite {connection.Database.sqlite_version}"
        else:
            with connection.cursor() as cursor:
                cursor.execute("SHOW server_version")
                version = f"PostgreSQL {cursor.fetchone()[0].split()[0]}"
        print(
            json.dumps({"database": version, "seconds": seeded, "steps": steps, "pages": results})
        )
        return 0
    except BenchFailure as failure:
        print(f"bench/dashboard.py: FAILED: {failure}", file=sys.stderr)
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
        "--dashboard-child",
        url,
        "--items",
        str(args.items),
        "--dashboard-repeat",
        str(args.dashboard_repeat),
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

    name = f"rectify_dashboard_bench_{os.getpid()}"
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
        f"Dashboard bench: {args.items:,} items, median of {args.dashboard_repeat} requests "
        f"(python {platform.python_version()}, {platform.platform()}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.2f})"
    )
    header = f"{'database':<18} {'page':<28} {'items':>8} {'p50 ms':>8} {'queries':>8}  target"
    print(header)
    missed = []
    for run in runs:
        for page in run["pages"]:
            ok = page["p50_ms"] < args.dashboard_target_ms and page["queries"] < TARGET_QUERIES
            if not ok:
                missed.append(f"{run['database']}, {page['page']}")
            print(
                f"{run['database']:<18} {page['page']:<28} {page['items']:>8,} "
                f"{page['p50_ms']:>8.1f} {page['queries']:>8}  "
                f"< {args.dashboard_target_ms:g} ms, < {TARGET_QUERIES} queries: "
                f"{'met' if ok else 'MISSED'}"
            )
        steps = ", ".join(f"{step} {n:,}" for step, n in run["steps"].items())
        print(f"{run['database']:<18} seeded in {run['seconds']:.0f} s; ladder steps: {steps}")
    return missed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.dashboard_child:
        return child(args)
    server = args.database_url
    runs, pg_name = [], None
    scratch = Path(tempfile.mkdtemp(prefix="rectify-bench-dashboard-"))
    try:
        if server and server.startswith(("postgres://", "postgresql://")):
            url, pg_name = scratch_postgres(server)
            say(f"dashboard: {args.items:,} items on PostgreSQL (a scratch database)…")
            runs.append(run_child(args, url))
        else:
            say(f"dashboard: {args.items:,} items on SQLite…")
            runs.append(run_child(args, f"sqlite:///{scratch / 'dashboard.sqlite3'}"))
            say(f"dashboard: {args.items:,} items on a throwaway PostgreSQL cluster…")
            with Cluster() as cluster:
                runs.append(run_child(args, cluster.create_database("dashboard")))
        missed = report(args, runs)
        if args.dashboard_json:
            args.dashboard_json.parent.mkdir(parents=True, exist_ok=True)
            args.dashboard_json.write_text(json.dumps(runs, ensure_ascii=False, indent=2) + "\n")
        if missed:
            print(
                f"bench/dashboard.py: FAILED: target missed by {'; '.join(missed)}", file=sys.stderr
            )
            return 1
        return 0
    except BenchFailure as failure:
        print(f"bench/dashboard.py: FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        if pg_name:
            drop_postgres(server, pg_name)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
