#!/usr/bin/env python
"""Publication bench: publish a notice whose annex holds N items (default 1,000), and serve
its published page under wrk beside a hello-world view.

    .venv/bin/python bench/publication.py
    scripts/with-postgres bash -c \
        '.venv/bin/python bench/publication.py --database-url "$DATABASE_URL"'

Figures:
- publish time: building the snapshot from the ledger, masking, rendering the page, the PDF
  (WeasyPrint) and the Excel annex, storing them with their SHA-256 — the whole publishing
  task, timed inside a child process that does only that;
- peak memory: the child's peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``), read by
  the child itself at the end: the worker's footprint for one publication, Django included;
- requests/s of the published page (served as stored, one query) and of bench/urls.py's
  hello-world view, each under ``wrk -t2 -c8`` for --wrk-seconds against one gunicorn with
  --workers sync workers, in the same run.

Unknown arguments are ignored (``make bench`` passes the same BENCH_ARGS to every script).
Like bench/run.py it builds its own scratch database (a temporary SQLite file unless
--database-url) and prints only the environment and the table on stdout.
"""

from __future__ import annotations

import argparse
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
from bench.run import (  # noqa: E402
    HELLO_PATH,
    BenchFailure,
    _curl,
    _ensure_tools,
    configure,
    gunicorn,
    prepare_database,
    run_wrk,
    say,
)

DEFAULT_ITEMS = 1_000
TARGET_SECONDS = 20.0
TARGET_MB = 800.0
TARGET_RPS = 1_000.0

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
PLACES = ["东门街道", "城北镇", "仁厚镇", "新桥镇", "西埌镇", "樟木镇", "名山街道"]
TOPICS = [
    (
        "经济发展",
        "小微企业贷款难，审批时间长，希望政府出台扶持政策，帮助企业渡过难关。",
        "建立政银企对接机制，定期组织银企对接会；落实稳企贷款贴息和融资担保政策。",
        "已组织对接会3场，帮助一批中小微企业获得贷款，审批时间明显缩短。",
    ),
    (
        "教育事业",
        "学校门口上下学时段交通拥堵，孩子过马路很危险，建议增设交通协管员。",
        "增设交通协管员，实行错峰放学，完善学校周边交通标志标线。",
        "上下学高峰拥堵明显缓解，学生安全得到保障。",
    ),
    (
        "社会保障",
        "养老保险转移接续手续繁琐，来回跑了好几趟还没办好，希望简化流程。",
        "推行养老保险关系转移接续网上办理，压减办理材料和时限。",
        "转移接续已实现全程网办，办理时限由45天压缩至15天。",
    ),
    (
        "交通建设",
        "城区到乡镇的公交班次太少，等车时间长，建议增加公交线路和班次。",
        "优化城乡公交线路布局，新增城乡公交线路并加密班次。",
        "新开通城乡公交线路2条，高峰时段发车间隔缩短至15分钟。",
    ),
    (
        "环境保护",
        "附近工厂夜间排放刺鼻气味，影响居民休息，希望有关部门加强监管。",
        "开展夜间专项执法检查，督促企业完善废气收集处理设施。",
        "涉事企业已完成整改，在线监测数据达标，长期坚持夜间巡查。",
    ),
    (
        "社会治安",
        "小区周边夜间治安不好，路灯也不亮，建议加强巡逻和照明。",
        "增加夜间巡逻频次，修复并新增路灯照明设施。",
        "已修复路灯56盏，新增巡逻点位3个，警情明显下降。",
    ),
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/publication.py", description=__doc__.split("\n")[0], allow_abbrev=False
    )
    parser.add_argument(
        "--publish-items",
        type=int,
        default=DEFAULT_ITEMS,
        metavar="N",
        help=f"items in the notice's annex (default {DEFAULT_ITEMS:,})",
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
    parser.add_argument("--wrk-seconds", type=int, default=10, metavar="S")
    parser.add_argument("--workers", type=int, default=2, metavar="W")
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument(
        "--publication-json", type=Path, metavar="PATH", help="also write figures as JSON"
    )
    parser.add_argument("--child-publish", type=int, help=argparse.SUPPRESS)
    args, _unknown = parser.parse_known_args(argv)
    return args


# ---------------------------------------------------------------------------------------


def seed(n: int, rng: random.Random):
    """One round of ``n`` items handed over (none a draft), each with one or two
    suggestions, measures and an outcome; a notice that annexes the round."""
    from django.utils import timezone

    from ledger.models import Category, Department, Item, Round, Suggestion, User
    from ledger.publication.models import Notice, Section

    supervisor = User.objects.create(username="bench-supervisor", role="supervisor")
    r = Round.objects.create(
        name="2019年度",
        code="2019",
        year=2019,
        kind="annual",
        document_number="桂绩办发〔2020〕6号",
    )
    categories = {
        name: Category.objects.create(round=r, name=name, order=i)
        for i, (name, *_rest) in enumerate(TOPICS)
    }
    departments = [Department.objects.create(name=f"市直部门{i:02d}") for i in range(1, 31)]
    today = timezone.localdate()
    items = []
    for i in range(1, n + 1):
        category, _text, measures, outcome = TOPICS[i % len(TOPICS)]
        roll = rng.random()
        state, kind = (
            ("closed", "done")
            if roll < 0.7
            else (("closed", "long_term") if roll < 0.85 else ("in_progress", ""))
        )
        items.append(
            Item(
                round=r,
                number=f"2019-{i:04d}",
                category=categories[category],
                title=f"{category}问题{i}",
                lead_department=rng.choice(departments),
                responsible_person=f"{rng.choice(SURNAMES)}某",
                state=state,
                outcome_kind=kind,
                closed_on=today if state == "closed" else None,
                measures=measures,
                outcome=outcome if state == "closed" else "",
            )
        )
    Item.objects.bulk_create(items, batch_size=500)
    suggestions, seq = [], 0
    for item in Item.objects.filter(round=r).order_by("pk"):
        _c, text, _m, _o = TOPICS[int(item.number[-4:]) % len(TOPICS)]
        for k in range(1 + (rng.random() < 0.3)):
            seq += 1
            who = f"{rng.choice(PLACES)}村民{rng.choice(SURNAMES)}先生"
            phone = f"，联系电话13{rng.randint(100000000, 999999999)}" if k == 0 else ""
            suggestions.append(
                Suggestion(round=r, seq=seq, item=item, text=f"{who}反映：{text}{phone}")
            )
    Suggestion.objects.bulk_create(suggestions, batch_size=1000)
    notice = Notice.objects.create(
        title="2019年度社会评价群众意见建议整改情况公示",
        issuer="市委市政府督查和绩效考评办公室",
        document_number="桂绩办发〔2020〕6号",
        created_by=supervisor,
    )
    notice.annex_rounds.set([r])
    Section.objects.create(
        notice=notice,
        order=1,
        round=r,
        body="自治区反馈我市2019年度社会评价群众意见建议共{{ suggestions }}条，归纳为"
        "{{ total }}条。截止目前，已完成整改{{ closed }}条，整改率{{ rate }}。",
    )
    Section.objects.create(
        notice=notice,
        order=2,
        heading="一、基本情况",
        body="**一是**加强组织领导。**二是**建立问题台账。**三是**层层压实责任。",
    )
    return notice, len(suggestions)


def child_publish(notice_id: int) -> None:
    """In a process of its own: publish, then report time, peak RSS and the PDF's pages."""
    import resource

    import django

    django.setup()
    from pypdf import PdfReader

    from ledger.publication import tasks
    from ledger.publication.models import Notice

    Notice.objects.filter(pk=notice_id).update(state=Notice.State.PUBLISHING)
    notice = Notice.objects.get(pk=notice_id)
    started = time.perf_counter()
    publication = tasks.publish(notice, notice.created_by)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    with publication.pdf.open("rb") as f:
        pages = len(PdfReader(f).pages)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mb": peak_kb / 1024,
                "pages": pages,
                "pdf_bytes": publication.pdf_size,
                "xlsx_bytes": publication.xlsx_size,
                "rows": sum(len(a["rows"]) for a in publication.snapshot["annexes"]),
            }
        )
    )


def main() -> int:
    args = parse_args()
    if args.child_publish:
        child_publish(args.child_publish)
        return 0
    scratch = Path(tempfile.mkdtemp(prefix="rectify-bench-publication-"))
    try:
        url = configure(args, scratch)
        import django

        django.setup()
        from django.db import connection

        say("preparing the scratch database…")
        prepare_database(args)
        say(f"seeding {args.publish_items:,} items…")
        notice, suggestions = seed(args.publish_items, random.Random(args.seed))

        say("publishing in a child process…")
        env = dict(os.environ, DATABASE_URL=url)
        published = run_again(__file__, ["--child-publish", str(notice.pk)], env, "publishing")

        _ensure_tools()
        page_path = f"/notices/{notice.pk}/"
        say(f"wrk: gunicorn ({args.workers} workers), {args.wrk_seconds} s a URL…")
        with gunicorn(args.workers, scratch / "gunicorn.log") as base:
            status, body = _curl(base + page_path, "none=1")
            if status != 200 or notice.title.encode() not in body:
                raise BenchFailure(f"GET {page_path} answered {status}, not the notice")
            hello = run_wrk(base + HELLO_PATH, "none=1", args.wrk_seconds)
            page = run_wrk(base + page_path, "none=1", args.wrk_seconds)

        where = "given URL" if args.database_url else "temporary file"
        vendor = f"{connection.display_name} ({where})"
        print(
            f"python   {platform.python_version()}  machine {platform.platform()}, "
            f"{os.cpu_count()} CPUs  database {vendor}"
        )
        print(
            f"annex    {published['rows']:,} items, {suggestions:,} suggestions → "
            f"{published['pages']} PDF pages ({published['pdf_bytes'] / 1e6:.1f} MB), "
            f"XLSX {published['xlsx_bytes'] / 1e3:.0f} kB"
        )
        rows = [
            (
                "publish (snapshot+page+PDF+XLSX)",
                published["seconds"],
                "s",
                f"< {TARGET_SECONDS:.0f} s",
                published["seconds"] < TARGET_SECONDS,
            ),
            (
                "peak RSS of the publishing process",
                published["peak_mb"],
                "MB",
                f"< {TARGET_MB:.0f} MB",
                published["peak_mb"] < TARGET_MB,
            ),
            (
                "published page under wrk",
                page.requests_per_s,
                "req/s",
                f">= {TARGET_RPS:.0f} req/s",
                page.requests_per_s >= TARGET_RPS,
            ),
            ("hello-world view under wrk", hello.requests_per_s, "req/s", "", None),
        ]
        for label, value, unit, target, ok in rows:
            verdict = "" if ok is None else ("met" if ok else "MISSED")
            print(f"{label:<38} {value:>10.1f} {unit:<6} {target:<16} {verdict}")
        print(
            f"page p50 {page.p50_ms:.2f} ms, hello p50 {hello.p50_ms:.2f} ms; "
            f"page/hello = {page.requests_per_s / hello.requests_per_s:.0%}; "
            f"{page.command}"
        )
        if args.publication_json:
            args.publication_json.write_text(
                json.dumps(
                    {
                        "publish": published,
                        "page_rps": page.requests_per_s,
                        "hello_rps": hello.requests_per_s,
                    },
                    indent=2,
                )
            )
        return 0
    except BenchFailure as error:
        print(f"bench/publication.py: {error}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
