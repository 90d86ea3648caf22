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
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import children  # noqa: E402 - after the path fix above
from bench.run import BenchFailure, count_queries  # noqa: E402

DEFAULT_ITEMS = 100_000
DEFAULT_REPEAT = 15
TARGET_MS = 300.0
TARGET_QUERIES = 20
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


def seed_and_measure(args: argparse.Namespace, scratch: Path) -> dict:
    """The child's figures: seeded, then measured."""
    # As autovacuum would after the ladder's updates: statistics, and the visibility map
    # that index-only scans need.
    bench, steps, seeded = children.seed_ledger(
        args, scratch, remind_share=REMIND_SHARE, analyze="VACUUM ANALYZE ledger_item"
    )
    results = measure(args, bench)
    version = children.database_version()
    return {"database": version, "seconds": seeded, "steps": steps, "pages": results}


# --- The parent: each database in turn --------------------------------------------------------


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
        return children.child(args, "dashboard", args.dashboard_child, seed_and_measure)
    repeat = ["--dashboard-repeat", str(args.dashboard_repeat)]
    return children.parent(args, "dashboard", report, args.dashboard_json, repeat)


if __name__ == "__main__":
    sys.exit(main())
