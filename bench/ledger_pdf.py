#!/usr/bin/env python
"""Printed-ledger bench: the 整改台账 PDF of N items (default 5,000), A4 and A3 landscape.

    .venv/bin/python bench/ledger_pdf.py
    .venv/bin/python bench/ledger_pdf.py --print-items 10000 --papers a4
    scripts/with-postgres bash -c \
        '.venv/bin/python bench/ledger_pdf.py --database-url "$DATABASE_URL"'

Figures, for each paper:
- print time: the whole background job (``ledger_pdf.print_job``): reading the supervisor's
  ledger, laying it out with WeasyPrint part by part, joining the parts, laying the page
  numbers over them, storing the file; timed inside a child process that does only that;
- CPU time: the child's own (user and system), which the wall time approaches on a
  machine with nothing else running;
- peak memory: the child's peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``), read by
  the child itself at the end: the worker's footprint for one printed ledger, Django
  included;
- the pages and the file's size.

The ledger is bench/run.py's seeder (states, departments, leaders and co-responsible
departments as there), with one progress report on each item in progress, so that the
latest-progress column is filled as in a working ledger. Unknown arguments are ignored
(``make bench`` passes the same BENCH_ARGS to every script); the options have names no other
script uses, but for ``--database-url``, ``--reset`` and ``--seed``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.children import run_again  # noqa: E402 - after the path fix above
from bench.run import BenchFailure, configure, prepare_database, say  # noqa: E402

DEFAULT_ITEMS = 5_000
PROGRESS_TEXTS = [
    "已召开专题会议研究部署，制定整改方案，明确责任人和时间节点。",
    "已完成现场摸排，梳理问题清单，正在协调相关部门推进整改。",
    "已落实专项资金，工程已开工建设，目前完成总工程量的六成。",
    "已建立长效机制，定期开展回头看，巩固整改成效。",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/ledger_pdf.py", description=__doc__.split("\n")[0], allow_abbrev=False
    )
    parser.add_argument(
        "--print-items",
        type=int,
        default=DEFAULT_ITEMS,
        metavar="N",
        help=f"items in the printed ledger (default {DEFAULT_ITEMS:,}; at least 200)",
    )
    parser.add_argument(
        "--papers", default="a4,a3", help="papers to print, comma-separated (default a4,a3)"
    )
    parser.add_argument(
        "--database-url",
        default=os.getenv("BENCH_DATABASE_URL"),
        metavar="URL",
        help="scratch database (default: a new temporary SQLite file)",
    )
    parser.add_argument(
        "--reset", action="store_true", help="drop the project's tables from --database-url first"
    )
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument(
        "--print-json", type=Path, metavar="PATH", help="also write figures as JSON"
    )
    parser.add_argument(
        "--keep-pdf", type=Path, metavar="DIR", help="copy each printed PDF into DIR, to look at"
    )
    parser.add_argument("--child-print", help=argparse.SUPPRESS)
    parser.add_argument("--child-user", type=int, help=argparse.SUPPRESS)
    args, _unknown = parser.parse_known_args(argv)
    return args


def seed(args: argparse.Namespace, scratch: Path):
    """bench/run.py's ledger of N items, and a progress report on each item in progress."""
    from django.db import transaction
    from django.utils import timezone

    from bench import run
    from ledger.models import Item, Progress

    bench, _figures = run.seed(
        argparse.Namespace(items=args.print_items, transitions=1),
        random.Random(args.seed),
        scratch,
    )
    rng = random.Random(args.seed)
    today = timezone.localdate()
    reports = []
    for pk, department, percent in Item.objects.filter(state="in_progress").values_list(
        "pk", "lead_department_id", "percent"
    ):
        reports.append(
            Progress(
                item_id=pk,
                author=bench.officials[department],
                department_id=department,
                reported_on=today,
                text=rng.choice(PROGRESS_TEXTS),
                percent=percent,
            )
        )
    with transaction.atomic():
        Progress.objects.bulk_create(reports, batch_size=1000)
    return bench


def child_print(paper: str, user_id: int) -> None:
    """In a process of its own: print the whole ledger as the supervisor, as the job does,
    then report the time, the peak RSS, the pages and the file's size."""
    import resource

    import django

    django.setup()
    from pypdf import PdfReader

    from ledger.models import Job, User
    from ledger.supervision import ledger_pdf

    user = User.objects.get(pk=user_id)
    job = Job.objects.create(kind="print", title="bench", created_by=user)
    started = time.perf_counter()
    ledger_pdf.print_job.call(
        job_id=job.pk, user_id=user.pk, params={}, sort="number", paper=paper, language="zh-hans"
    )
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_kb = usage.ru_maxrss  # KiB on Linux
    job.refresh_from_db()
    if job.state != Job.State.DONE:
        raise SystemExit(f"the job failed: {job.error}")
    with job.result_file.open("rb") as f:
        data = f.read()
    keep = os.environ.get("BENCH_KEEP_PDF")
    if keep:
        Path(keep, f"ledger-{paper}.pdf").write_bytes(data)
    print(
        json.dumps(
            {
                "paper": paper,
                "seconds": seconds,
                # The process's own CPU time, Django's start included: what the wall time
                # would be on a machine with nothing else running.
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "peak_mb": peak_kb / 1024,
                "pages": len(PdfReader(io.BytesIO(data)).pages),
                "pdf_bytes": len(data),
                "rows": job.total,
            }
        )
    )


def main() -> int:
    args = parse_args()
    if args.child_print:
        child_print(args.child_print, args.child_user)
        return 0
    if args.print_items < 200:
        print("bench/ledger_pdf.py: --print-items must be at least 200", file=sys.stderr)
        return 1
    papers = [p.strip() for p in args.papers.split(",") if p.strip()]
    scratch = Path(tempfile.mkdtemp(prefix="rectify-bench-ledger-pdf-"))
    try:
        url = configure(args, scratch)
        import django

        django.setup()
        from django.db import connection

        from ledger.supervision.ledger_pdf import PAPERS

        unknown = [p for p in papers if p not in PAPERS]
        if unknown or not papers:
            raise BenchFailure(f"--papers takes {', '.join(PAPERS)}, not {args.papers!r}")
        say("preparing the scratch database…")
        prepare_database(args)
        bench = seed(args, scratch)
        vendor = (
            f"{connection.display_name} ({'given URL' if args.database_url else 'temporary file'})"
        )
        connection.close()
        env = dict(os.environ, DATABASE_URL=url)
        if args.keep_pdf:
            args.keep_pdf.mkdir(parents=True, exist_ok=True)
            env["BENCH_KEEP_PDF"] = str(args.keep_pdf.resolve())
        results = []
        for paper in papers:
            say(f"printing {args.print_items:,} items on {paper.upper()} in a child process…")
            arguments = ["--child-print", paper, "--child-user", str(bench.supervisor.pk)]
            results.append(run_again(__file__, arguments, env, "printing"))
        print(
            f"python   {platform.python_version()}  machine {platform.platform()}, "
            f"{os.cpu_count()} CPUs  database {vendor}"
        )
        print(
            f"{'paper':<6} {'items':>7} {'pages':>6} {'PDF':>9} {'time':>9} {'CPU':>9} "
            f"{'peak RSS':>10}"
        )
        for r in results:
            print(
                f"{r['paper'].upper():<6} {r['rows']:>7,} {r['pages']:>6,} "
                f"{r['pdf_bytes'] / 1e6:>6.1f} MB {r['seconds']:>7.1f} s "
                f"{r['cpu_seconds']:>7.1f} s {r['peak_mb']:>7.0f} MB"
            )
        print(f"load     {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min)")
        if args.print_json:
            args.print_json.write_text(json.dumps({"prints": results}, indent=2))
        return 0
    except BenchFailure as error:
        print(f"bench/ledger_pdf.py: {error}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
