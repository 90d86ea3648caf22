#!/usr/bin/env python
"""Load bench: Rectify under gunicorn and PostgreSQL with a working office at once.

    .venv/bin/python bench/load.py                    # 60 s, 50 + 5 + 20 users
    .venv/bin/python bench/load.py --users 3 --supervisors 1 --readers 2 --duration 5
    scripts/with-postgres sh -c '.venv/bin/python bench/load.py --database-url "$DATABASE_URL"'

It starts a throwaway PostgreSQL cluster (bench/pgcluster.py), or makes a scratch database
on the server of --database-url and drops it afterwards; migrates; seeds a ledger with
bench/run.py's seeder; gives 50 department officials (spread over the 40 departments, the
busiest with two) and 5 supervisors a password; shares the open items out so that each is
reported on by one official only; publishes a notice of the ledger (page, annex pages, PDF)
in this process; starts gunicorn on a free port of 127.0.0.1 with the app's own settings
(rectify.settings, DEBUG off, as behind deploy/'s nginx); then runs locust on
bench/locustfile.py, headless, in a process of its own (gevent patches the standard library
of the process it runs in: never this one, which uses Django).

The officials sign in once each and browse the home page, the ledger with its filters,
their items and notifications, and post progress reports, each carrying a marker of its
own; the supervisors browse the review queue, the items awaiting review and the ledger;
anonymous readers read the public notice. It prints requests/s, and per kind of request its
count, p50/p95/p99 and errors; then checks that every report the app accepted is in the
database exactly once, on its item, by its author, and that nothing else was added.

It exits 1 when a request failed, a kind's p95 is not under --p95-ms, or the write check
fails. Unknown arguments are ignored (``make bench`` passes the same BENCH_ARGS to every
script); its options have names no other bench script uses, but for --database-url, --seed
and --keep, which mean what they mean there.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import dataclasses
import json
import math
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pgcluster import (  # noqa: E402 - after the path fix above
    Cluster,
    drop_postgres,
    free_port,
    scratch_postgres,
)
from bench.run import KEYWORD, BenchFailure, prepare_database, say  # noqa: E402

LOCUSTFILE = ROOT / "bench" / "locustfile.py"
DEFAULT_OFFICIALS = 50
DEFAULT_SUPERVISORS = 5
DEFAULT_READERS = 20
DEFAULT_DURATION = 60
# About the size of the demo's two rounds (981 items): a city's ledger of a year and a half.
# The list pages are keyset-paged and bench/run.py measures them at 100,000 and 1,000,000
# items; here the ledger's size matters less than the number of people at work. The notice
# annexes the whole ledger, so publishing it (before the run) grows with this.
DEFAULT_ITEMS = 1_000
# Sync workers, three: as deploy/rectify-web.service runs gunicorn by default. On two cores
# that is one more than the cores, so that a worker waiting on PostgreSQL leaves none idle,
# and few enough that the CPU-bound requests (a sign-in's password hash, the review queue)
# do not split the two cores four or six ways (bench/README.md has the figures by worker
# count). gthread workers would serialise on the GIL for the same CPU-bound work.
DEFAULT_WORKERS = 3
# Users started per second: the 75 users of the full run in 25 s, so that the sign-ins
# (each a password hash: a sixth of a second of CPU with Argon2id, a quarter with PBKDF2)
# arrive as a morning's would, spread out rather than all at once.
DEFAULT_SPAWN_RATE = 3.0
# Seconds between two clicks of one user, drawn evenly: a brisk pace, several times a real
# person's, so that 75 users make the load of some hundreds.
DEFAULT_THINK = (1.0, 3.0)
TARGET_P95_MS = 500.0
# Users finish the round of work in hand when the time is up (a report in flight is
# answered, not cut off), for at most this long.
STOP_TIMEOUT = 20
# The kinds of request, in the order printed (bench/locustfile.py names them).
KINDS = ["sign-in", "official browse", "official post progress", "supervisor review", "public read"]
SCENARIO = "scenario"
PROXY_VARIABLES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/load.py", description=__doc__.split("\n")[0], allow_abbrev=False
    )
    parser.add_argument(
        "--users",
        type=int,
        default=DEFAULT_OFFICIALS,
        metavar="N",
        help=f"department officials browsing and posting progress (default {DEFAULT_OFFICIALS})",
    )
    parser.add_argument(
        "--supervisors",
        type=int,
        default=DEFAULT_SUPERVISORS,
        metavar="N",
        help=f"supervisors reviewing (default {DEFAULT_SUPERVISORS})",
    )
    parser.add_argument(
        "--readers",
        type=int,
        default=DEFAULT_READERS,
        metavar="N",
        help=f"anonymous readers of the public notice (default {DEFAULT_READERS})",
    )
    parser.add_argument(
        "--duration",
        type=int,
        default=DEFAULT_DURATION,
        metavar="S",
        help=f"seconds of load, ramp-up included (default {DEFAULT_DURATION})",
    )
    parser.add_argument(
        "--spawn-rate",
        type=float,
        default=DEFAULT_SPAWN_RATE,
        metavar="R",
        help=f"users started per second (default {DEFAULT_SPAWN_RATE:g})",
    )
    parser.add_argument(
        "--think",
        default=",".join(f"{s:g}" for s in DEFAULT_THINK),
        metavar="MIN,MAX",
        help="seconds a user waits between two requests, drawn evenly "
        f"(default {DEFAULT_THINK[0]:g},{DEFAULT_THINK[1]:g})",
    )
    parser.add_argument(
        "--p95-ms",
        type=float,
        default=TARGET_P95_MS,
        metavar="MS",
        help=f"target: every kind's p95 under this (default {TARGET_P95_MS:g})",
    )
    parser.add_argument(
        "--load-items",
        type=int,
        default=DEFAULT_ITEMS,
        metavar="N",
        help=f"items in the seeded ledger (default {DEFAULT_ITEMS:,})",
    )
    parser.add_argument(
        "--gunicorn-workers",
        type=int,
        default=DEFAULT_WORKERS,
        metavar="W",
        help=f"gunicorn sync workers (default {DEFAULT_WORKERS})",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="a PostgreSQL server to make the scratch database on (default: env "
        "BENCH_DATABASE_URL when it is PostgreSQL's, else a throwaway cluster of its own)",
    )
    parser.add_argument("--seed", type=int, default=2020, help="random seed (default 2020)")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the scratch folder (gunicorn's logs, locust's CSV files, every sample)",
    )
    args, _unknown = parser.parse_known_args(argv)
    try:
        low, high = (float(s) for s in args.think.split(","))
    except ValueError:
        parser.error("--think takes two numbers of seconds: MIN,MAX")
    if not 0 <= low <= high:
        parser.error("--think: MIN must be at least 0 and at most MAX")
    args.think = (low, high)
    if args.users < 1 or args.supervisors < 0 or args.readers < 0:
        parser.error("--users must be at least 1, --supervisors and --readers at least 0")
    if args.duration < 1 or args.spawn_rate <= 0 or args.gunicorn_workers < 1:
        parser.error("--duration, --spawn-rate and --gunicorn-workers must be positive")
    if args.load_items < 200:
        parser.error("--load-items must be at least 200 (bench/run.py's seeder needs drafts)")
    postgres = ("postgres://", "postgresql://")
    if args.database_url is None and os.getenv("BENCH_DATABASE_URL", "").startswith(postgres):
        args.database_url = os.environ["BENCH_DATABASE_URL"]
    if args.database_url and not args.database_url.startswith(postgres):
        parser.error("--database-url must be a PostgreSQL URL: the load bench runs on PostgreSQL")
    return args


# --- Database and settings ---------------------------------------------------------------


@dataclasses.dataclass
class Database:
    url: str
    where: str
    server_pid: int | None  # the postmaster, when it is this machine's and ours to watch


@contextmanager
def scratch_database(server_url: str | None) -> Iterator[Database]:
    """An empty database: on a throwaway cluster, or made on ``server_url``'s server and
    dropped at the end (the database the URL names is never touched)."""
    if server_url is None:
        say("starting a throwaway PostgreSQL cluster…")
        with Cluster() as cluster:
            say(f"PostgreSQL cluster in {cluster.dir} on port {cluster.port}")
            url = cluster.create_database("load")
            pid = int((cluster.data / "postmaster.pid").read_text().split()[0])
            yield Database(url, "throwaway cluster", pid)
        return
    url, name = scratch_postgres(server_url, "load")
    try:
        yield Database(url, f"database {name} on --database-url", None)
    finally:
        drop_postgres(server_url, name)


def site_environment(url: str, scratch: Path) -> dict[str, str]:
    """rectify.settings' variables for a production-like site (deploy/rectify.env.example):
    DEBUG off (cached templates, manifest static files, secure cookies), a random key, the
    one host, behind a TLS proxy that appends the client's address to X-Forwarded-For. The
    same for this process (seeding, publishing, the write check) and for gunicorn."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARIABLES}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env | {
        "DJANGO_SETTINGS_MODULE": "rectify.settings",
        "DATABASE_URL": url,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "BEHIND_TLS_PROXY": "true",
        "AXES_PROXY_COUNT": "1",
        "STATIC_ROOT": str(scratch / "static"),
        "MEDIA_ROOT": str(scratch / "media"),
        "MEDIA_STORAGE": "local",
        "LOG_LEVEL": "WARNING",
    }


# --- Seeding ------------------------------------------------------------------------------


def seed(args: argparse.Namespace, scratch: Path, run_id: str) -> dict[str, Any]:
    """The ledger, the accounts and the notice; returns the plan bench/locustfile.py reads."""
    import random

    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.urls import reverse
    from django.utils.http import urlencode

    from bench import run
    from ledger import workflow
    from ledger.models import Item, User

    rng = random.Random(args.seed)
    bench, _figures = run.seed(
        argparse.Namespace(items=args.load_items, transitions=1), rng, scratch
    )
    # One hash, with the settings' first hasher, for every account: each sign-in checks it
    # as it would its own, and the seeding does not spend a hash's time per account.
    password = f"Load-{secrets.token_urlsafe(12)}"
    hashed = make_password(password)

    postable = Item.objects.filter(state__in=workflow.RULES["progress"].sources).order_by("pk")
    share_count = collections.Counter(postable.values_list("lead_department_id", flat=True))
    for dept_id in postable.values_list("co_departments", flat=True):
        if dept_id is not None:
            share_count[dept_id] += 1
    # Officials go to the departments with the most items to report on first; past one per
    # department, the busiest get a second account.
    ranked = sorted(bench.departments, key=lambda d: (-share_count[d.pk], d.pk))
    officials: list[User] = []
    with transaction.atomic():
        for i in range(args.users):
            department = ranked[i % len(ranked)]
            if i < len(ranked):
                user = bench.officials[department.pk]
            else:
                user = User.objects.create(
                    username=f"official{i:02d}",
                    first_name=f"{department.name}经办人{i // len(ranked) + 1}",
                    role=User.Role.OFFICIAL,
                    department=department,
                )
            officials.append(user)
        supervisors = [bench.supervisor] + [
            User.objects.create(
                username=f"supervisor{i + 1}",
                first_name=f"督查员{i + 1}",
                role=User.Role.SUPERVISOR,
            )
            for i in range(1, args.supervisors)
        ]
        supervisors = supervisors[: args.supervisors]
        User.objects.filter(pk__in=[u.pk for u in officials + supervisors]).update(password=hashed)

    # Each open item goes to one of the accounts that may report on it (its lead or a
    # co-responsible department's), the least loaded: two users never write to one item,
    # so a report never meets another's change (the app would rightly refuse it as stale).
    by_department: dict[int, list[User]] = collections.defaultdict(list)
    for user in officials:
        by_department[user.department_id].append(user)
    posts: dict[int, list[int]] = {u.pk: [] for u in officials}
    for item in postable.prefetch_related("co_departments"):
        departments = [item.lead_department_id, *(d.pk for d in item.co_departments.all())]
        candidates = [u for d in departments for u in by_department.get(d, [])]
        if not candidates:
            continue
        user = min(candidates, key=lambda u: (len(posts[u.pk]), u.pk))
        if "progress" not in workflow.allowed_actions(user, item):
            raise BenchFailure(f"{user.username} may not report on item {item.pk}")
        posts[user.pk].append(item.pk)

    def sample(ids: list[int], k: int = 50) -> list[int]:
        return rng.sample(ids, min(k, len(ids)))

    all_ids = list(Item.objects.values_list("pk", flat=True))
    awaiting = (
        list(Item.objects.filter(state=Item.State.REQUESTED).values_list("pk", flat=True))
        or all_ids
    )
    plan: dict[str, Any] = {
        "run": run_id,
        "password": password,
        "think": list(args.think),
        "samples": str(scratch / "samples.json"),
        "journal": str(scratch / "journal.jsonl"),
        "officials": [
            {
                "username": u.username,
                "ip": f"10.20.{i // 250}.{i % 250 + 1}",
                "items": sample(
                    list(Item.objects.visible_to(u).values_list("pk", flat=True)) or all_ids
                ),
                "post": posts[u.pk],
            }
            for i, u in enumerate(officials)
        ],
        "supervisors": [
            {
                "username": u.username,
                "ip": f"10.30.0.{i + 1}",
                "queue": sample(awaiting),
                "items": sample(all_ids),
            }
            for i, u in enumerate(supervisors)
        ],
        "readers": args.readers,
    }
    items = reverse("ledger:items")
    plan["official_lists"] = [
        items,
        f"{items}?state=in_progress",
        f"{items}?overdue=true",
        f"{items}?sort=deadline",
        f"{items}?{urlencode({'q': KEYWORD})}",
    ]
    plan["supervisor_lists"] = [
        f"{items}?state=requested",
        items,
        f"{items}?overdue=true&{urlencode({'q': KEYWORD})}",
    ]
    plan["notice"] = publish_notice(bench.supervisor)
    plan["counts"] = {
        "items": args.load_items,
        "departments": len({u.department_id for u in officials}),
        "postable": sum(len(v) for v in posts.values()),
        "awaiting": len(awaiting) if awaiting is not all_ids else 0,
    }
    return plan


def publish_notice(supervisor) -> dict[str, Any]:
    """The demo's notice of both rounds (seed_demo's sections, its figures drawn from the
    ledger), published here as the worker would: page, annex pages, PDF, Excel."""
    from django.urls import reverse

    from ledger.management.commands.seed_demo import DEMO_NOTICE_TITLE, demo_sections
    from ledger.models import Round
    from ledger.publication import tasks
    from ledger.publication.models import Notice, PublishedAnnex, Section

    rounds = list(Round.objects.order_by("year", "pk"))
    notice = Notice.objects.create(
        title=DEMO_NOTICE_TITLE,
        issuer="市委市政府督查和绩效考评办公室",
        document_number="",
        created_by=supervisor,
    )
    notice.annex_rounds.set(rounds)
    for order, (heading, body, round_) in enumerate(demo_sections(rounds[:2]), start=1):
        Section.objects.create(notice=notice, order=order, heading=heading, body=body, round=round_)
    say("publishing the notice (page, annex pages, PDF, Excel)…")
    started = time.perf_counter()
    Notice.objects.filter(pk=notice.pk).update(state=Notice.State.PUBLISHING)
    notice.refresh_from_db()
    tasks.publish(notice, supervisor)
    say(f"  published in {time.perf_counter() - started:.1f} s")
    annexes = PublishedAnnex.objects.filter(publication__notice=notice).order_by("number")
    return {
        "title": notice.title,
        "page": reverse("publication:public", args=[notice.pk]),
        "annexes": [
            reverse("publication:annex", args=[notice.pk, n])
            for n in annexes.values_list("number", flat=True)
        ],
        "pdf": reverse("publication:pdf", args=[notice.pk]),
    }


# --- gunicorn and locust ------------------------------------------------------------------


def _direct_get(url: str, timeout: float = 5) -> int:
    """The status of one GET straight to gunicorn, as the TLS proxy would forward it."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(
        url, headers={"Host": "127.0.0.1", "X-Forwarded-Proto": "https"}
    )
    with opener.open(request, timeout=timeout) as response:
        response.read()
        return response.status


# The kind of request (a header bench/locustfile.py sends), the status, the app's own time
# in microseconds (from the worker reading the request to its writing the response: not the
# wait in the queue for a free worker) and the request line.
ACCESS_FORMAT = "%({x-load-kind}i)s\t%(s)s\t%(D)s\t%(r)s"


@contextmanager
def gunicorn(env: dict[str, str], workers: int, scratch: Path) -> Iterator[tuple[int, int]]:
    """gunicorn serving rectify.wsgi on a free port of 127.0.0.1, as deploy/'s unit runs it;
    its port and the arbiter's pid while it runs. Stopped however the block ends."""
    port = free_port()
    log = scratch / "gunicorn.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "rectify.wsgi:application",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--chdir",
        str(ROOT),
        "--timeout",
        "120",
        "--graceful-timeout",
        "30",
        "--access-logfile",
        str(scratch / "access.log"),
        "--access-logformat",
        ACCESS_FORMAT,
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise BenchFailure(f"gunicorn exited ({process.returncode}): {log.read_text()}")
            try:
                if _direct_get(f"http://127.0.0.1:{port}/login/") == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise BenchFailure(f"gunicorn did not answer within 60 s: {log.read_text()}")
            time.sleep(0.2)
        # A worker imports the app when it starts, and the URLs (every view module with
        # them) at its first request, which took seconds on a busy machine: requests sent
        # all at once, so that every worker has answered one before the clock starts.
        try:
            with concurrent.futures.ThreadPoolExecutor(2 * workers) as pool:
                statuses = set(
                    pool.map(
                        lambda _: _direct_get(f"http://127.0.0.1:{port}/login/", timeout=60),
                        range(4 * workers),
                    )
                )
        except OSError as error:
            raise BenchFailure(f"gunicorn failed GET /login/: {error}") from None
        if statuses != {200}:
            raise BenchFailure(f"gunicorn answered GET /login/ with {statuses}")
        yield port, process.pid
    finally:
        # SIGTERM lets the arbiter stop its workers; the process group is killed if it hangs.
        process.terminate()
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _machine_cpu_seconds() -> float:
    """CPU time the whole machine has been busy, all cores together (/proc/stat)."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


def _tree_cpu_seconds(root: int | None) -> float | None:
    """CPU time used so far by the live processes of the tree under ``root`` (gunicorn's
    arbiter and its workers; the postmaster and its backends)."""
    if root is None:
        return None
    parents: dict[int, int] = {}
    used: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
        used[int(entry.name)] = int(fields[11]) + int(fields[12])  # utime, stime
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    return sum(used.get(pid, 0) for pid in tree) / os.sysconf("SC_CLK_TCK")


def cpu_snapshot(gunicorn_pid: int, postgres_pid: int | None) -> dict[str, float | None]:
    return {
        "machine": _machine_cpu_seconds(),
        "gunicorn": _tree_cpu_seconds(gunicorn_pid),
        "postgres": _tree_cpu_seconds(postgres_pid),
        # Children this process has waited for: locust, once it has exited.
        "children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
        + resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime,
        "at": time.monotonic(),
    }


def run_locust(
    args: argparse.Namespace,
    plan: dict[str, Any],
    port: int,
    scratch: Path,
    watch: tuple[int, int | None],
) -> dict[str, Any]:
    """locust, headless, in a process of its own; what it wrote, and where the CPU went
    meanwhile (``watch``: gunicorn's and PostgreSQL's top processes)."""
    plan_path = scratch / "plan.json"
    plan_path.write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")
    users = len(plan["officials"]) + len(plan["supervisors"]) + plan["readers"]
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        f"{args.spawn_rate:g}",
        "--run-time",
        f"{args.duration}s",
        "--stop-timeout",
        str(STOP_TIMEOUT),
        "--host",
        f"https://127.0.0.1:{port}",  # plain http on the wire: see TlsProxyAdapter
        # locust's own tables, for a look with --keep (the figures come from the samples:
        # these leave out the requests made while users finish after the time is up).
        "--csv",
        str(scratch / "locust"),
        "--only-summary",
        "--loglevel",
        "INFO",
    ]
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARIABLES}
    env["RECTIFY_LOAD_PLAN"] = str(plan_path)
    say(
        f"locust: {users} users at {args.spawn_rate:g}/s for {args.duration} s "
        f"against gunicorn on 127.0.0.1:{port}…"
    )
    version = (
        subprocess.run(
            [sys.executable, "-m", "locust", "--version"],
            capture_output=True,
            text=True,
            check=False,
        )
        .stdout.split(" from ")[0]
        .strip()
    )
    before = cpu_snapshot(*watch)
    try:
        done = subprocess.run(
            command,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=args.duration + STOP_TIMEOUT + 120,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise BenchFailure(f"locust did not finish in time: {error.stderr}") from None
    after = cpu_snapshot(*watch)
    (scratch / "locust.log").write_text(done.stderr, encoding="utf-8")
    samples_path = Path(plan["samples"])
    if not samples_path.exists():
        raise BenchFailure(f"locust failed ({done.returncode}): {done.stderr[-3000:]}")
    journal_path = Path(plan["journal"])
    journal = (
        [json.loads(line) for line in journal_path.read_text(encoding="utf-8").splitlines()]
        if journal_path.exists()
        else []
    )
    return {
        "samples": json.loads(samples_path.read_text(encoding="utf-8")),
        "journal": journal,
        "users": users,
        "stderr": done.stderr,
        "version": version,
        "cpu": cpu_use(before, after),
    }


def cpu_use(before: dict[str, float | None], after: dict[str, float | None]) -> str:
    """Cores busy on average while locust ran, and whose: on a two-core machine the load
    generator, the server and the database share them, and other work may too."""
    seconds = after["at"] - before["at"]

    def cores(key: str) -> float | None:
        if before[key] is None or after[key] is None:
            return None
        return (after[key] - before[key]) / seconds

    machine, server, database = cores("machine"), cores("gunicorn"), cores("postgres")
    locust = cores("children")
    rest = machine - server - locust - (database or 0)
    shown = "–" if database is None else f"{database:.2f}"
    return (
        f"{machine:.2f} of {os.cpu_count()} cores busy on average over {seconds:.0f} s: "
        f"gunicorn {server:.2f}, PostgreSQL {shown}, locust {locust:.2f}, "
        f"everything else {max(rest, 0):.2f}"
    )


# --- Figures and checks -------------------------------------------------------------------


def percentile(sorted_ms: list[float], p: float) -> float:
    """Nearest rank: the smallest time that ``p`` % of the requests took at most."""
    return sorted_ms[max(0, math.ceil(p / 100 * len(sorted_ms)) - 1)]


def figures(samples: list[list]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Per kind and per page: count, p50/p95/p99/max in ms, errors and their messages."""

    def summarise(rows: list[list]) -> dict[str, Any]:
        times = sorted(r[3] for r in rows)
        errors = collections.Counter(r[4] for r in rows if r[4] is not None)
        return {
            "count": len(rows),
            "p50": percentile(times, 50),
            "p95": percentile(times, 95),
            "p99": percentile(times, 99),
            "max": times[-1],
            "errors": sum(errors.values()),
            "messages": errors,
        }

    by_kind: dict[str, list[list]] = collections.defaultdict(list)
    by_page: dict[str, list[list]] = collections.defaultdict(list)
    for row in samples:
        by_kind[row[0]].append(row)
        if row[0] != SCENARIO:
            by_page[f"{row[0]} · {row[1]}"].append(row)
    return (
        {kind: summarise(rows) for kind, rows in by_kind.items()},
        {page: summarise(rows) for page, rows in by_page.items()},
    )


def check_writes(run_id: str, journal: list[dict], progress_before: int) -> tuple[bool, str]:
    """Every accepted report in the database once, on its item, by its author; none that
    failed (refused, or an error the browser saw); no other report added since the run
    began.

    A report whose answer never came (the run ended while it was in flight) may be stored
    or not, but once at most: the browser never learnt either way.
    """
    from ledger.models import Progress

    sent = {e["marker"]: e for e in journal if e["state"] == "sent"}
    accepted = {e["marker"] for e in journal if e["state"] == "accepted"}
    failed = {e["marker"] for e in journal if e["state"] == "failed"}
    unanswered = set(sent) - accepted - failed
    pattern = re.compile(re.escape(f"[{run_id}-") + r"[^\]]+\]")
    stored: dict[str, list[tuple[int, str]]] = collections.defaultdict(list)
    unmarked = 0
    rows = Progress.objects.filter(pk__gt=progress_before).values_list(
        "item_id", "author__username", "text"
    )
    for item_id, author, text in rows:
        found = pattern.search(text)
        if found is None:
            unmarked += 1
        else:
            stored[found.group(0)].append((item_id, author))
    missing = sorted(accepted - set(stored))
    twice = sorted(m for m, where in stored.items() if len(where) > 1)
    misplaced = sorted(
        m
        for m, where in stored.items()
        if m in sent and where[0] != (sent[m]["item"], sent[m]["user"])
    )
    failed_but_stored = sorted(failed & set(stored))
    never_sent = sorted(set(stored) - set(sent))
    ok = bool(accepted) and not (
        missing or twice or misplaced or failed_but_stored or never_sent or unmarked
    )
    detail = (
        f"{len(sent)} progress reports sent, {len(accepted)} accepted, {len(failed)} failed, "
        f"{len(unanswered)} unanswered when the run ended; in the database: "
        f"{len(accepted) - len(missing)} of the accepted ({len(missing)} missing), "
        f"{len(twice)} stored twice or more, {len(misplaced)} on the wrong item or author, "
        f"{len(failed_but_stored)} failed but stored, {len(never_sent)} never sent, "
        f"{unmarked} other reports added"
    )
    if unanswered:
        detail += f"; of the unanswered, {len(unanswered & set(stored))} stored"
    if not accepted:
        detail += "; no report was accepted, so nothing was checked"
    for label, markers in (
        ("missing", missing),
        ("stored twice or more", twice),
        ("on the wrong item or author", misplaced),
        ("failed but stored", failed_but_stored),
        ("never sent", never_sent),
    ):
        if markers:
            detail += f"\n  {label}: {', '.join(markers[:10])}"
    return ok, detail


def gunicorn_errors(scratch: Path, limit: int = 80) -> str:
    """The app's logged errors (tracebacks of 500s), for the failure message."""
    log = scratch / "gunicorn.log"
    if not log.exists():
        return ""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(lines[-limit:])


def app_times(scratch: Path) -> dict[str, list[float]]:
    """The app's own time of each request, in ms, by kind, from gunicorn's access log."""
    times: dict[str, list[float]] = collections.defaultdict(list)
    log = scratch / "access.log"
    if log.exists():
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            kind, _status, micros, *_request = line.split("\t")
            if kind in KINDS:
                times[kind].append(int(micros) / 1000)
    return {kind: sorted(values) for kind, values in times.items()}


def report(
    args: argparse.Namespace,
    plan: dict[str, Any],
    result: dict[str, Any],
    database: Database,
    load: tuple[float, float],
    write_check: tuple[bool, str],
    scratch: Path,
) -> list[str]:
    """Print the figures and the checks; the targets missed (none: the run passed)."""
    import django
    from django.db import connection

    samples = result["samples"]
    kinds, pages = figures(samples)
    app = app_times(scratch)
    requests = [s for s in samples if s[0] != SCENARIO]
    window = max(s[2] + s[3] / 1000 for s in requests) - min(s[2] for s in requests)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    gunicorn_version = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    counts = plan["counts"]
    print(
        f"python   {platform.python_version()}  django {django.get_version()}  "
        f"machine {platform.platform()}, {os.cpu_count()} CPUs  "
        f"load average {load[0]:.2f} before, {load[1]:.2f} after"
    )
    print(f"database PostgreSQL {pg_version} ({database.where})")
    print(
        f"server   {gunicorn_version}, {args.gunicorn_workers} sync workers, rectify.settings "
        "(DEBUG off; behind a TLS proxy, played by the client side)"
    )
    print(
        f"ledger   {counts['items']:,} items; {len(plan['officials'])} officials in "
        f"{counts['departments']} departments, {counts['postable']} open items shared out "
        f"to report on; {len(plan['supervisors'])} supervisors, {counts['awaiting']} items "
        f"awaiting review; a published notice with {len(plan['notice']['annexes'])} annex pages"
    )
    print(
        f"load     {result['version']}, {result['users']} users "
        f"({len(plan['officials'])} officials, {len(plan['supervisors'])} supervisors, "
        f"{plan['readers']} readers) started at {args.spawn_rate:g}/s, {args.duration} s, "
        f"think {args.think[0]:g}–{args.think[1]:g} s"
    )
    print(f"cpu      {result['cpu']}")
    print(
        f"requests/s {len(requests) / window:.1f} total ({len(requests):,} requests in "
        f"{window:.1f} s, from the first sent to the last answered)"
    )
    print()
    print(
        f"{'kind':<24}{'requests':>9}{'req/s':>7}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
        f"{'max ms':>8}{'errors':>7}{'app p95':>9}  p95 target"
    )
    missed: list[str] = []
    for kind in KINDS:
        f = kinds.get(kind)
        if f is None:
            users = {"supervisor review": plan["supervisors"], "public read": plan["readers"]}
            if users.get(kind, True):
                print(f"{kind:<24}{0:>9}  (none made)")
                missed.append(f"no {kind} requests were made")
            else:
                print(f"{kind:<24}{0:>9}  (no such users)")
            continue
        met = f["p95"] < args.p95_ms
        own = f"{percentile(app[kind], 95):.0f}" if app.get(kind) else "–"
        print(
            f"{kind:<24}{f['count']:>9,}{f['count'] / window:>7.1f}{f['p50']:>8.0f}"
            f"{f['p95']:>8.0f}{f['p99']:>8.0f}{f['max']:>8.0f}{f['errors']:>7}{own:>9}"
            f"  < {args.p95_ms:g} ms {'met' if met else 'MISSED'}"
        )
        if not met:
            missed.append(f"{kind}: p95 {f['p95']:.0f} ms, not under {args.p95_ms:g} ms")
        if f["errors"]:
            missed.append(f"{kind}: {f['errors']} errors")
    if SCENARIO in kinds:
        n = kinds[SCENARIO]["errors"]
        print(f"{'errors in the scenario':<24}{n:>9}  (exceptions in bench/locustfile.py)")
        missed.append(f"{n} errors in the scenario's own code")
    print(
        "(times as the browser sees them, from sending the request to the last byte; app p95: "
        "gunicorn's own time, without the wait for a free worker)"
    )
    print()
    print("slowest pages by p95:")
    for name, f in sorted(pages.items(), key=lambda kv: -kv[1]["p95"])[:8]:
        print(
            f"  {name:<58}{f['count']:>6,}  p50 {f['p50']:>5.0f}  p95 {f['p95']:>5.0f}  "
            f"p99 {f['p99']:>5.0f} ms"
        )
    messages: collections.Counter[str] = collections.Counter()
    for f in kinds.values():
        messages.update(f["messages"])
    if messages:
        print("errors:")
        for message, n in messages.most_common(10):
            print(f"  {n:>5} × {message}")
    if "Not all users finished" in result["stderr"]:
        print(
            f"note: some users were still at work {STOP_TIMEOUT} s after the time was up, "
            "and were stopped where they were"
        )
    if "CPU usage above" in result["stderr"]:
        print(
            "note: locust warned that its CPU use went above 90%: its times then include "
            "its own delays"
        )
    print()
    ok, detail = write_check
    print(f"write check: {'passed' if ok else 'FAILED'}: {detail}")
    if not ok:
        missed.append("the write check failed")
    verdict = "met" if not missed else "MISSED: " + "; ".join(missed)
    print(
        f"targets  0 errors, p95 < {args.p95_ms:g} ms for every kind, every accepted report "
        f"stored once: {verdict}"
    )
    return missed


# --- Main ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # A SIGTERM (a CI timeout, a kill) ends the run through the finally blocks below, which
    # stop gunicorn and remove the cluster.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    scratch = Path(tempfile.mkdtemp(prefix="rectify-bench-load-"))
    say(f"scratch folder {scratch}")
    load_before = os.getloadavg()[0]
    try:
        with scratch_database(args.database_url) as database:
            env = site_environment(database.url, scratch)
            os.environ.update(env)
            import django

            django.setup()
            from django.db import connection
            from django.db.models import Max

            from ledger.models import Progress

            try:
                say("migrating…")
                prepare_database(argparse.Namespace(reset=False))
                run_id = secrets.token_hex(4)
                plan = seed(args, scratch, run_id)
                progress_before = Progress.objects.aggregate(top=Max("pk"))["top"] or 0
                connection.close()
                say(f"gunicorn: {args.gunicorn_workers} sync workers…")
                with gunicorn(env, args.gunicorn_workers, scratch) as (port, pid):
                    result = run_locust(args, plan, port, scratch, (pid, database.server_pid))
                write_check = check_writes(run_id, result["journal"], progress_before)
                missed = report(
                    args,
                    plan,
                    result,
                    database,
                    (load_before, os.getloadavg()[0]),
                    write_check,
                    scratch,
                )
            finally:
                connection.close()
        if missed:
            errors = gunicorn_errors(scratch)
            if "Traceback" in errors or "ERROR" in errors:
                print(f"gunicorn's log (the last lines):\n{errors}", file=sys.stderr)
            print(f"bench/load.py: FAILED: {'; '.join(missed)}", file=sys.stderr)
            return 1
        return 0
    except BenchFailure as error:
        print(f"bench/load.py: FAILED: {error}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            say(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
