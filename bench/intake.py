#!/usr/bin/env python
"""Intake figures: import of N suggestions (rows/s) and export of M items to .xlsx, with
openpyxl's write-only mode beside xlsxwriter's constant-memory mode writing the same rows.

    .venv/bin/python bench/intake.py [--suggestions 10000] [--export-items 100000]
    .venv/bin/python bench/intake.py --export-only --export-items 20000
    scripts/with-postgres bash -c '.venv/bin/python bench/intake.py --database-url "$DATABASE_URL"'

Import is the whole path a supervisor's upload takes: read the .xlsx (python-calamine),
find the header, normalise, check every row, and bulk-insert in one transaction.
Export is the whole path too: ``values_list().iterator()`` with the names joined in SQL,
the co-departments per chunk, and the workbook written to a file. Both writers get the
same rows from ``ledger.intake.export.ledger_rows``; the ratio is openpyxl's rate over
xlsxwriter's. Peak memory is the growth of the peak RSS of a child process that does
only the openpyxl export (``ru_maxrss`` after, minus before: Django's own footprint is
printed beside it, not counted).

The database is a new temporary SQLite file, or with ``--database-url`` a PostgreSQL
server on which a scratch database is created and dropped. Options that ``make bench``
passes to every script and this one does not know are ignored.
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pgcluster import drop_postgres, scratch_postgres  # noqa: E402 - after the path fix above
from bench.run import BenchFailure, configure, say  # noqa: E402

TARGET_IMPORT_RATE = 5_000
TARGET_RATIO = 0.75
TARGET_MEMORY_MB = 100
SEED_BATCH = 5_000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/intake.py", description=__doc__.split("\n")[0])
    parser.add_argument("--suggestions", type=int, default=10_000, metavar="N")
    parser.add_argument("--export-items", type=int, default=100_000, metavar="M")
    parser.add_argument(
        "--export-only", action="store_true", help="measure the export alone, not the import"
    )
    parser.add_argument("--database-url", default=os.getenv("BENCH_DATABASE_URL"))
    parser.add_argument("--seed", type=int, default=2020)
    # Internal: the child process that measures the export's memory.
    parser.add_argument("--export-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args, _unknown = parser.parse_known_args(argv)
    return args


# --- Data ------------------------------------------------------------------------------------

TOPICS = ["道路", "学校", "医院", "公交", "路灯", "菜市场", "停车", "供水", "垃圾", "公园", "电梯"]
ASKS = ["建议尽快解决", "希望加强管理", "请相关部门落实", "群众反映强烈", "望增加投入"]
PLACES = ["临桂区", "秀峰区", "叠彩区", "象山区", "七星区", "雁山区", "阳朔县", "灵川县"]


def feedback_file(n: int, rng: random.Random) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    ws = book.create_sheet("意见建议")
    ws.append(["2019年度社会评价意见建议汇总表"])
    ws.append([])
    ws.append(["序号", "意见建议内容", "所属领域", "地区", "渠道", "备注"])
    for seq in range(1, n + 1):
        text = (
            f"{rng.choice(PLACES)}{rng.choice(TOPICS)}问题{seq % 977}，"
            f"{rng.choice(ASKS)}。　第{seq}号反映"
        )
        ws.append(
            [
                seq,
                text,
                rng.choice(["经济发展", "教育事业", "交通建设"]),
                rng.choice(PLACES),
                "问卷",
                "",
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def seed_items(m: int, rng: random.Random):
    from django.db import transaction

    from ledger.models import Category, Department, Item, Leader, Round

    with transaction.atomic():
        round = Round.objects.create(name="导出批次", code="ex", year=2020, kind="annual")
        categories = Category.objects.bulk_create(
            [Category(round=round, name=n, order=i) for i, n in enumerate(["经济", "教育", "交通"])]
        )
        departments = Department.objects.bulk_create(
            [Department(name=f"市第{i}局", order=i) for i in range(60)]
        )
        leaders = Leader.objects.bulk_create(
            [Leader(name=f"领导{i}", post="副市长", order=i) for i in range(12)]
        )
        through = Item.co_departments.through
        now = datetime.datetime.now(datetime.UTC)
        for start in range(0, m, SEED_BATCH):
            batch = []
            for n in range(start, min(start + SEED_BATCH, m)):
                long_term = n % 17 == 0
                batch.append(
                    Item(
                        round=round,
                        number=f"ex-{n + 1:06d}",
                        title=f"{rng.choice(PLACES)}{rng.choice(TOPICS)}问题{n}，{rng.choice(ASKS)}",
                        category=rng.choice(categories),
                        leader=rng.choice(leaders),
                        lead_department=rng.choice(departments),
                        responsible_person="张三",
                        deadline=None if long_term else datetime.date(2021, 1 + n % 12, 28),
                        long_term=long_term,
                        measures="一是加强巡查；二是建立长效机制；三是定期通报进展情况。",
                        goal="群众满意",
                        state="assigned",
                        percent=n % 101,
                        created_at=now,
                        updated_at=now,
                    )
                )
            made = Item.objects.bulk_create(batch)
            links = [
                through(item_id=item.pk, department_id=d.pk)
                for item in made[::2]
                for d in rng.sample(departments, 2)
            ]
            through.objects.bulk_create(links, ignore_conflicts=True)
    return round


# --- Measurements ----------------------------------------------------------------------------


def measure_import(n: int, rng: random.Random) -> dict[str, float]:
    from ledger.intake.feedback import plan_feedback, write_feedback
    from ledger.models import Round, Suggestion

    round = Round.objects.create(name="导入批次", code="im", year=2020, kind="annual")
    data = feedback_file(n, rng)
    start = time.perf_counter()
    plan = plan_feedback(round, data, "意见建议.xlsx")
    read = time.perf_counter() - start
    written = write_feedback(plan)
    total = time.perf_counter() - start
    if written != n or Suggestion.objects.filter(round=round).count() != n or plan.refused:
        raise BenchFailure(f"import wrote {written} of {n} rows ({len(plan.refused)} refused)")
    return {"seconds": total, "read_seconds": read, "rate": n / total, "mb": len(data) / 1e6}


def export_openpyxl(round_id: int, path: str) -> int:
    from ledger.intake.export import write_items
    from ledger.models import Item

    return write_items(Item.objects.filter(round_id=round_id), path, title="导出批次问题台账")


def export_xlsxwriter(round_id: int, path: str) -> int:
    """The same rows, formats and layout through xlsxwriter's constant-memory mode."""
    import xlsxwriter

    from ledger.intake.export import COLUMNS, headers, ledger_rows
    from ledger.models import Item

    book = xlsxwriter.Workbook(path, {"constant_memory": True})
    ws = book.add_worksheet("问题台账")
    # The formats ledger.intake.export gives its cells: wrapped text, dates, percents;
    # the other columns plain.
    top = {"valign": "top"}
    wrap = book.add_format(top | {"text_wrap": True})
    date = book.add_format(top | {"num_format": "yyyy-mm-dd"})
    percent = book.add_format(top | {"num_format": "0%"})
    head = book.add_format({"bold": True, "bg_color": "#F2F3F5", "text_wrap": True})
    formats = []
    for index, (name, width, wrapped) in enumerate(COLUMNS):
        ws.set_column(index, index, width)
        formats.append(
            date
            if name == "deadline"
            else percent
            if name == "percent"
            else wrap
            if wrapped
            else None
        )
    ws.freeze_panes(2, 2)
    ws.set_landscape()
    ws.repeat_rows(1)
    ws.write_string(0, 0, "导出批次问题台账", book.add_format({"bold": True, "font_size": 14}))
    for index, text in enumerate(headers()):
        ws.write_string(1, index, text, head)
    r = 1
    for r, row in enumerate(ledger_rows(Item.objects.filter(round_id=round_id)), 2):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, str):
                ws.write_string(r, c, value, formats[c])
            elif isinstance(value, datetime.date):
                ws.write_datetime(
                    r, c, datetime.datetime.combine(value, datetime.time()), formats[c]
                )
            else:
                ws.write_number(r, c, value, formats[c])
    book.close()
    return r - 1


def current_rss_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child_export(args: argparse.Namespace) -> int:
    """In a process of its own: the openpyxl export alone, and its peak RSS."""
    import django

    django.setup()
    from django.db import connection

    connection.ensure_connection()
    import ledger.intake.export  # noqa: F401  (imported before the baseline is taken)

    # The RSS now, not the peak so far: setting Django up may have peaked higher than
    # the export ever reaches, which would hide the export's own growth.
    before = current_rss_kb()
    rows = export_openpyxl(args.export_child, args.output)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{rows} {before} {after}")  # kB on Linux
    return 0


def measure_export(round_id: int, scratch: Path, m: int) -> dict[str, float | str]:
    figures: dict[str, float | str] = {}
    # Alternated and the best of two kept: other work on a shared machine moves each run.
    # Each writer goes first once, so that neither always meets what the seeding left
    # running (on PostgreSQL, the autovacuum of the new rows).
    writers = [("openpyxl", export_openpyxl), ("xlsxwriter", export_xlsxwriter)]
    for attempt in range(2):
        for name, writer in writers if attempt == 0 else writers[::-1]:
            path = str(scratch / f"{name}.xlsx")
            start = time.perf_counter()
            rows = writer(round_id, path)
            seconds = time.perf_counter() - start
            if rows != m:
                raise BenchFailure(f"{name} wrote {rows} of {m} rows")
            say(f"  {name}: {seconds:.1f} s")
            if attempt == 0 or seconds < figures[f"{name}_seconds"]:
                figures[f"{name}_seconds"] = seconds
                figures[f"{name}_rate"] = m / seconds
                figures[f"{name}_mb"] = os.path.getsize(path) / 1e6
    figures["ratio"] = figures["openpyxl_rate"] / figures["xlsxwriter_rate"]
    # openpyxl serialises with lxml when it is installed, else with et_xmlfile (pure
    # Python): the ratio depends on which.
    import openpyxl

    figures["openpyxl_xml"] = "lxml" if openpyxl.LXML else "et_xmlfile"
    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--export-child",
            str(round_id),
            "--output",
            str(scratch / "child.xlsx"),
        ],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=False,
    )
    if child.returncode != 0:
        raise BenchFailure(f"the memory child failed: {child.stderr[-2000:]}")
    rows, before, after = (int(x) for x in child.stdout.split()[-3:])
    figures["peak_growth_mb"] = (after - before) / 1024
    figures["peak_rss_mb"] = after / 1024
    figures["base_rss_mb"] = before / 1024
    return figures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.export_child is not None:
        return child_export(args)
    scratch = Path(tempfile.mkdtemp(prefix="rectify-intake-bench-"))
    server_url, pg_name = args.database_url, None
    try:
        if server_url and server_url.startswith("postgres"):
            args.database_url, pg_name = scratch_postgres(server_url, "intake")
        else:
            args.database_url = None  # a new SQLite file in the scratch folder
        url = configure(args, scratch)
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        say("intake bench: creating the schema…")
        call_command("migrate", interactive=False, verbosity=0)
        rng = random.Random(args.seed)
        imp = None
        if not args.export_only:
            say(f"importing {args.suggestions:,} suggestions…")
            imp = measure_import(args.suggestions, rng)
        say(f"seeding {args.export_items:,} items to export…")
        started = time.perf_counter()
        round = seed_items(args.export_items, rng)
        if connection.vendor == "postgresql":
            # What autovacuum would do to the new rows during the measurement, done now.
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        say(f"  seeded in {time.perf_counter() - started:.1f} s; exporting…")
        exp = measure_export(round.pk, scratch, args.export_items)
        connection.close()
        vendor = "PostgreSQL" if pg_name else "SQLite"
        lines = [
            f"Intake bench ({vendor}, {url.split('@')[-1] if pg_name else 'temporary file'})",
        ]
        if imp:
            lines.append(
                f"  import {args.suggestions:,} suggestions (.xlsx {imp['mb']:.1f} MB, read + "
                f"normalise + check + bulk insert): {imp['rate']:,.0f} rows/s "
                f"({imp['seconds']:.2f} s, of which reading {imp['read_seconds']:.2f} s)"
                f"  target ≥ {TARGET_IMPORT_RATE:,}: "
                f"{'met' if imp['rate'] >= TARGET_IMPORT_RATE else 'NOT MET'}"
            )
        lines += [
            f"  export {args.export_items:,} items, openpyxl write-only "
            f"(XML by {exp['openpyxl_xml']}): "
            f"{exp['openpyxl_rate']:,.0f} rows/s ({exp['openpyxl_seconds']:.1f} s, "
            f"{exp['openpyxl_mb']:.1f} MB)",
            f"  export {args.export_items:,} items, xlsxwriter constant_memory (the same rows "
            f"and cell formats): "
            f"{exp['xlsxwriter_rate']:,.0f} rows/s ({exp['xlsxwriter_seconds']:.1f} s, "
            f"{exp['xlsxwriter_mb']:.1f} MB)",
            f"  ratio openpyxl / xlsxwriter: {exp['ratio']:.2f}  target ≥ {TARGET_RATIO}: "
            f"{'met' if exp['ratio'] >= TARGET_RATIO else 'NOT MET'}",
            f"  export peak memory (a child process: peak RSS minus RSS before the export): "
            f"{exp['peak_growth_mb']:.1f} MB (peak RSS {exp['peak_rss_mb']:.0f} MB in all, "
            f"{exp['base_rss_mb']:.0f} MB before the export)  target < "
            f"{TARGET_MEMORY_MB} MB: "
            f"{'met' if exp['peak_growth_mb'] < TARGET_MEMORY_MB else 'NOT MET'}",
        ]
        print("\n".join(lines), flush=True)
        return 0
    except BenchFailure as failure:
        print(f"bench/intake.py: FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        if pg_name:
            drop_postgres(server_url, pg_name)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
