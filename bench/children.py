"""The benches' child processes: a measurement in a process of its own, its figures read
back from the last line it prints.

bench/ladder.py and bench/dashboard.py measure each database in a child of their own
(Django is set up once a process): ``parent`` runs the bench's script again with
``--NAME-child URL`` on each database in turn, and ``child`` is that run, seeding
bench/run.py's ledger there with a share of the late items on each step of the escalation
ladder. bench/ledger_pdf.py and bench/publication.py run one task in a child
(``run_again``), so that its time and peak RSS are that task's alone.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bench.pgcluster import Cluster, drop_postgres, scratch_postgres
from bench.run import ROOT, BenchFailure, configure, prepare_database, say, seed

if TYPE_CHECKING:
    from bench.run import Bench

# Of the overdue items, the share already on each step of the ladder (the rest on none).
LADDER_SHARES = {"urge": 0.30, "escalate": 0.10, "circulate": 0.03}


# --- The child: one database ------------------------------------------------------------------


def child(
    args: argparse.Namespace,
    name: str,
    url: str,
    measure: Callable[[argparse.Namespace, Path], dict],
) -> int:
    """Set Django up on the empty database at ``url`` and print what ``measure`` returns
    (it seeds and measures) as one JSON line on stdout; 1 when a measurement fails."""
    scratch = Path(tempfile.mkdtemp(prefix=f"rectify-bench-{name}-"))
    try:
        args.database_url = url
        configure(args, scratch)
        import django

        django.setup()
        prepare_database(argparse.Namespace(reset=False))
        print(json.dumps(measure(args, scratch)))
        return 0
    except BenchFailure as failure:
        print(f"bench/{name}.py: FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        shutil.rmtree(scratch, ignore_errors=True)


def seed_ledger(
    args: argparse.Namespace, scratch: Path, *, remind_share: float = 0.0, analyze: str = "ANALYZE"
) -> tuple[Bench, dict[str, int], float]:
    """bench/run.py's ledger of --items items, a share of its late items on each step of the
    ladder, then ``analyze`` on PostgreSQL: the bench, the items per step, the seconds taken."""
    from django.db import connection

    rng = random.Random(args.seed)
    seed_args = argparse.Namespace(items=args.items, transitions=1, seed=args.seed)
    started = time.perf_counter()
    bench, _figures = seed(seed_args, rng, scratch)
    steps = climb_the_ladder(rng, remind_share)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(analyze)
    return bench, steps, time.perf_counter() - started


def climb_the_ladder(rng: random.Random, remind_share: float) -> dict[str, int]:
    """Put a share of the late items on each step of the ladder, and ``remind_share`` of those
    falling due within a week on the reminder; the counts per step."""
    import datetime

    from django.utils import timezone

    from ledger.models import Item, overdue_condition

    today = timezone.localdate()
    late = list(Item.objects.filter(overdue_condition(today)).values_list("pk", flat=True))
    rng.shuffle(late)
    steps, at = {}, 0
    for step, share in LADDER_SHARES.items():
        ids = late[at : at + int(len(late) * share)]
        at += len(ids)
        steps[step] = ids
    if remind_share:
        soon = list(
            Item.objects.open()
            .filter(deadline__gte=today, deadline__lte=today + datetime.timedelta(days=7))
            .values_list("pk", flat=True)
        )
        steps["remind"] = rng.sample(soon, int(len(soon) * remind_share))
    for step, ids in steps.items():
        for start in range(0, len(ids), 500):
            Item.objects.filter(pk__in=ids[start : start + 500]).update(ladder_step=step)
    return {step: len(ids) for step, ids in steps.items()}


def database_version() -> str:
    """The database measured, as the table names it: "SQLite 3.40.1", "PostgreSQL 16.4"."""
    from django.db import connection

    if connection.vendor == "sqlite":
        return f"SQLite {connection.Database.sqlite_version}"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return f"PostgreSQL {cursor.fetchone()[0].split()[0]}"


# --- The parent: each database in turn --------------------------------------------------------


def parent(
    args: argparse.Namespace,
    name: str,
    report: Callable[[argparse.Namespace, list[dict]], list[str]],
    json_path: Path | None,
    arguments: Sequence[str] = (),
    databases: Sequence[str] = ("sqlite", "postgresql"),
) -> int:
    """Run the child on a scratch database of --database-url's PostgreSQL server alone, else
    on each of ``databases`` in turn; print ``report`` of their figures (it returns the
    targets missed) and write them to ``json_path``. 1 when a target is missed or a child
    fails."""
    server = args.database_url
    runs, pg_name = [], None
    scratch = Path(tempfile.mkdtemp(prefix=f"rectify-bench-{name}-"))
    try:
        if server and server.startswith(("postgres://", "postgresql://")):
            url, pg_name = scratch_postgres(server, name)
            say(f"{name}: {args.items:,} items on PostgreSQL (a scratch database)…")
            runs.append(run_child(args, name, url, arguments))
        else:
            if "sqlite" in databases:
                say(f"{name}: {args.items:,} items on SQLite…")
                url = f"sqlite:///{scratch / f'{name}.sqlite3'}"
                runs.append(run_child(args, name, url, arguments))
            if "postgresql" in databases:
                say(f"{name}: {args.items:,} items on a throwaway PostgreSQL cluster…")
                with Cluster() as cluster:
                    runs.append(run_child(args, name, cluster.create_database(name), arguments))
        missed = report(args, runs)
        if json_path:
            json_path.parent.mkdir(parents=True, exist_ok=True)
            json_path.write_text(json.dumps(runs, ensure_ascii=False, indent=2) + "\n")
        if missed:
            print(f"bench/{name}.py: FAILED: target missed by {'; '.join(missed)}", file=sys.stderr)
            return 1
        return 0
    except BenchFailure as failure:
        print(f"bench/{name}.py: FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        if pg_name:
            drop_postgres(server, pg_name)
        shutil.rmtree(scratch, ignore_errors=True)


def run_child(args: argparse.Namespace, name: str, url: str, arguments: Sequence[str]) -> dict:
    """bench/NAME.py's child on the database at ``url``: its figures. The parent's database
    settings are kept from it (the child is told its database alone); its stderr, the
    seeding's progress, passes through."""
    command = [
        sys.executable,
        str(ROOT / "bench" / f"{name}.py"),
        f"--{name}-child",
        url,
        "--items",
        str(args.items),
        "--seed",
        str(args.seed),
        *arguments,
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BENCH_DATABASE_URL")}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        raise BenchFailure(f"measuring on {url.split('@')[-1]} failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- One task in a process of its own ---------------------------------------------------------


def run_again(script: str, arguments: Sequence[str], env: dict[str, str], what: str) -> dict:
    """``script`` run again in a child process with ``arguments``, for a task timed and
    measured alone: the JSON of the last line it prints. BenchFailure with the end of its
    stderr when ``what`` fails."""
    done = subprocess.run(
        [sys.executable, str(Path(script).resolve()), *arguments],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise BenchFailure(f"{what} failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
