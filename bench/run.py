#!/usr/bin/env python
"""Rectify's benchmark: seed a scratch database, take measurements, print one table.

Run it with ``make bench`` (options through ``BENCH_ARGS="--items 20000"``) or directly::

    .venv/bin/python bench/run.py --items 100000
    scripts/with-postgres bash -c '.venv/bin/python bench/run.py --database-url "$DATABASE_URL"'

One seeded database feeds a list of small measurement functions (``MEASUREMENTS``); each
returns ``Figure`` rows and the table is printed once at the end, followed by the issue's
targets checked against the figures (``check_targets``). A new figure is one more function
appended to that list. Every number printed is measured in the run that prints it; the
targets are the issue's. bench/README.md says what each figure means.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import itertools
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpResponse
    from django.test import Client

    from ledger.models import Department, Leader, Round, User

ROOT = Path(__file__).resolve().parent.parent
# Run as ``python bench/run.py``, the script's folder comes first on sys.path, not the
# project: put the project there so ``rectify`` and ``ledger`` import from this checkout.
sys.path.insert(0, str(ROOT))

DEFAULT_ITEMS = 100_000
DEFAULT_TRANSITIONS = 300
DEFAULT_REPEAT = 20
DEFAULT_WRK_SECONDS = 10
# One sync worker per core of the two-core machine the figures come from; wrk and
# the database share the same cores.
DEFAULT_WORKERS = 2
# Items built and inserted per chunk: bounds memory (events are ~2 per item) while keeping
# each insert large. SQLite still splits a chunk into statements it can take.
CHUNK = 5_000
BATCH_SIZE = 2_000


class BenchFailure(RuntimeError):
    """A measurement could not be taken as intended (a page was not 200, a count is off)."""


@dataclasses.dataclass
class Figure:
    """One row of the table: what was measured, its value, and the unit it is in."""

    label: str
    value: float
    unit: str
    detail: str = ""  # printed after the unit: query counts, sample sizes
    data: dict[str, Any] = dataclasses.field(default_factory=dict)  # extra, JSON only
    target: str = ""  # the target for this figure, printed beside it


@dataclasses.dataclass
class Bench:
    """The seeded database as the measurement functions see it."""

    args: argparse.Namespace
    rng: random.Random
    items: int
    supervisor: User
    officials: dict[int, User]  # department pk -> an official of that department
    departments: list[Department]
    leaders: list[Leader]
    busiest: Department  # leads the most items: its official sees the largest share
    first_round: Round  # the larger round (55% of items), used by the filtered pages
    draft_ids: list[int]  # draft items the seeding kept for the transition figures
    detail_id: int  # an item with a history, progress reports and suggestions
    transitions: int  # K, after capping to the drafts available
    scratch: Path  # the run's temporary folder (static files, gunicorn's log)


# --------------------------------------------------------------------------------------
# Set-up: environment, database, Django
# --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Seed a scratch database with N ledger items and print measured figures.",
    )
    parser.add_argument(
        "--items",
        type=int,
        default=DEFAULT_ITEMS,
        metavar="N",
        help=f"items to seed (default {DEFAULT_ITEMS:,})",
    )
    parser.add_argument(
        "--transitions",
        type=int,
        default=DEFAULT_TRANSITIONS,
        metavar="K",
        help=f"draft items taken through the workflow (default {DEFAULT_TRANSITIONS})",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=DEFAULT_REPEAT,
        metavar="R",
        help=f"timed requests per page; the median is reported (default {DEFAULT_REPEAT})",
    )
    parser.add_argument(
        "--database-url",
        default=os.getenv("BENCH_DATABASE_URL"),
        metavar="URL",
        help="scratch database (default: env BENCH_DATABASE_URL, else a new "
        "temporary SQLite file). It must be empty unless --reset.",
    )
    parser.add_argument(
        "--reset", action="store_true", help="drop the project's tables from --database-url first"
    )
    parser.add_argument(
        "--json",
        type=Path,
        metavar="PATH",
        help="also write the environment and figures as JSON to PATH",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=2020,
        help="random seed, so two runs seed the same data (default 2020)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary SQLite file and print where it is"
    )
    parser.add_argument(
        "--wrk-seconds",
        type=int,
        default=DEFAULT_WRK_SECONDS,
        metavar="S",
        help=f"length of each measured wrk run (default {DEFAULT_WRK_SECONDS})",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        metavar="W",
        help=f"gunicorn workers under wrk (default {DEFAULT_WORKERS})",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="with --json: add each page query's plan (EXPLAIN ANALYZE on PostgreSQL)",
    )
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="PATH",
        help="the --json file of an earlier run (100,000 items) to check the 1M target against",
    )
    args = parser.parse_args(argv)
    if args.items < 200:
        parser.error("--items must be at least 200 (the figures need drafts and shares)")
    if args.transitions < 1 or args.repeat < 1:
        parser.error("--transitions and --repeat must be at least 1")
    if args.wrk_seconds < 1 or args.workers < 1:
        parser.error("--wrk-seconds and --workers must be at least 1")
    return args


def configure(args: argparse.Namespace, scratch: Path) -> str:
    """Point the settings at the scratch database and a production-like configuration.

    Returns the database URL. The settings read only the environment, so all of this must
    happen before django.setup().
    """
    url = args.database_url
    if not url:
        url = f"sqlite:///{scratch / 'bench.sqlite3'}"
    elif url.startswith("sqlite"):
        import dj_database_url

        # Resolved as the settings will resolve it: sqlite:///db.sqlite3 is relative.
        name = dj_database_url.parse(url)["NAME"]
        if name == ":memory:":
            # The bench reconnects after seeding, and a new connection to :memory: is a
            # new, empty database.
            raise BenchFailure("an in-memory SQLite database cannot be used; give a file")
        if Path(name).resolve() == (ROOT / "db.sqlite3").resolve():
            raise BenchFailure("refusing to use the project's db.sqlite3 as a scratch database")
    os.environ["DJANGO_SETTINGS_MODULE"] = "rectify.settings"
    os.environ["DATABASE_URL"] = url
    # A throwaway key: sessions made by force_login only need to last this run.
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(50)
    # Production settings (DEBUG off: cached templates, no query log, manifest static
    # files), minus the HTTPS redirect the test client would otherwise get as a 301.
    os.environ["DEBUG"] = "false"
    os.environ["SECURE_SSL_REDIRECT"] = "false"
    # testserver for the test client, 127.0.0.1 for gunicorn under wrk.
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1"
    # With DEBUG off, {% static %} reads the manifest that collectstatic writes: collect
    # into the scratch folder, never into the checkout's staticfiles/.
    os.environ["STATIC_ROOT"] = str(scratch / "static")
    os.environ["MEDIA_ROOT"] = str(scratch / "media")
    return url


def prepare_database(args: argparse.Namespace) -> None:
    """Create the schema on an empty database (dropping the project's tables on --reset)."""
    from django.core.management import call_command
    from django.db import connection

    existing = connection.introspection.table_names()
    if existing:
        if not args.reset:
            raise BenchFailure(
                f"the database already has {len(existing)} tables; the bench seeds an empty "
                "one. Pass --reset to drop the project's tables first."
            )
        drop_project_tables()
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)


def drop_project_tables() -> None:
    """Drop the tables this project's migrations made, and nothing else."""
    from django.db import connection

    with connection.cursor() as cursor:
        tables = set(connection.introspection.django_table_names(only_existing=True))
        if "django_migrations" in connection.introspection.table_names(cursor):
            tables.add("django_migrations")
        if connection.vendor == "sqlite":
            # Dropping a referenced table would otherwise run a foreign-key check per row.
            cursor.execute("PRAGMA foreign_keys = OFF")
        cascade = " CASCADE" if connection.vendor == "postgresql" else ""
        for table in sorted(tables):
            cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(table)}{cascade}")
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA foreign_keys = ON")


def environment(args: argparse.Namespace, bench: Bench, temporary: bool) -> dict[str, str]:
    import django
    from django.db import connection

    if connection.vendor == "sqlite":
        version = connection.Database.sqlite_version
        where = "temporary file" if temporary else connection.settings_dict["NAME"]
    else:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
        s = connection.settings_dict
        where = f"{s['HOST']}:{s['PORT']}/{s['NAME']}"  # never the password
    return {
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "django": django.get_version(),
        "database": f"{connection.display_name} {version} ({where})",
        "items": f"{bench.items:,}",
        "machine": f"{platform.platform()}, {os.cpu_count()} CPUs",
        "run": f"seed {args.seed}, K={bench.transitions}, R={args.repeat}",
    }


def load_baseline(path: Path) -> dict[str, Any]:
    """The --json output of an earlier run, for the "1M against 100k" target."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        report["items"] = int(report["items"])
        report["figures"] = [f for f in report["figures"] if "label" in f and "value" in f]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BenchFailure(
            f"--compare {path}: not the --json file of a bench run ({error})"
        ) from None
    return report


def say(message: str) -> None:
    # Progress goes to stderr so that stdout is only the environment and the table.
    print(f"bench: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# Seeding
# --------------------------------------------------------------------------------------

DEPARTMENTS = [
    "市发展和改革委员会",
    "市教育局",
    "市科学技术局",
    "市工业和信息化局",
    "市公安局",
    "市民政局",
    "市司法局",
    "市财政局",
    "市人力资源和社会保障局",
    "市自然资源局",
    "市生态环境局",
    "市住房和城乡建设局",
    "市交通运输局",
    "市水利局",
    "市农业农村局",
    "市商务局",
    "市文化广电和旅游局",
    "市卫生健康委员会",
    "市退役军人事务局",
    "市应急管理局",
    "市审计局",
    "市市场监督管理局",
    "市统计局",
    "市医疗保障局",
    "市城市管理综合执法局",
    "市行政审批局",
    "市林业局",
    "市体育局",
    "市信访局",
    "市大数据发展局",
    "市投资促进局",
    "市供销合作社",
    "市住房公积金管理中心",
    "供电局",
    "市自来水公司",
    "市公共交通集团",
    "城东区人民政府",
    "城西区人民政府",
    "高新区管委会",
    "市政务服务中心",
]
LEADERS = [
    ("王志刚", "市长"),
    ("李文华", "常务副市长"),
    ("张建国", "副市长"),
    ("刘海燕", "副市长"),
    ("陈国强", "副市长"),
    ("杨丽萍", "副市长"),
    ("赵永明", "副市长"),
    ("黄建军", "副市长"),
    ("周晓东", "市政府秘书长"),
    ("吴国平", "市委常委"),
    ("徐红梅", "市委常委"),
    ("孙立新", "市人大常委会副主任"),
]
# Per round, as the seeds' 2019 and 2020 reports classify them: the list is per round.
ROUNDS = [
    (
        "2019年度",
        "2019",
        2019,
        "annual",
        "桂绩办发〔2020〕3号",
        datetime.date(2020, 3, 10),
        ["经济发展", "教育事业", "社会保障", "交通建设", "环境保护", "社会治安"],
    ),
    (
        "2020年中期",
        "2020m",
        2020,
        "midyear",
        "桂绩办发〔2020〕6号",
        datetime.date(2020, 9, 15),
        ["经济发展", "教育事业", "社会保障", "交通建设", "环境保护", "医疗卫生"],
    ),
]
PLACES = [
    "城东区",
    "城西区",
    "高新区",
    "老城区",
    "火车站周边",
    "新区",
    "工业园区",
    "大学城",
    "沿江路一带",
    "城南片区",
    "北部新城",
    "各乡镇",
    "城乡结合部",
    "老旧小区",
    "",
    "",
]
PROBLEMS = {
    "经济发展": [
        "企业开办审批环节多、时间长",
        "小微企业融资难、融资贵",
        "营商环境有待进一步优化",
        "招商引资项目落地慢",
        "农产品销售渠道不畅",
        "工业园区配套设施不完善",
    ],
    "教育事业": [
        "学校周边交通拥堵",
        "中小学学位紧张，大班额问题突出",
        "课后服务时间与家长下班时间不衔接",
        "幼儿园收费偏高",
        "乡村学校师资力量薄弱",
        "校外培训机构管理不规范",
    ],
    "社会保障": [
        "养老服务设施不足",
        "医保异地结算手续繁琐",
        "社保卡办理等待时间长",
        "困难群众救助标准偏低",
        "灵活就业人员参保渠道不畅",
        "公租房分配不够公开透明",
    ],
    "交通建设": [
        "主干道早晚高峰拥堵严重",
        "公交线路覆盖不足、班次少",
        "停车位紧缺，乱停乱放",
        "道路破损修复不及时",
        "路口红绿灯配时不合理",
        "农村公路养护不到位",
    ],
    "环境保护": [
        "夜间施工噪音扰民",
        "河道垃圾清理不及时",
        "餐饮油烟直排",
        "垃圾分类落实不到位",
        "建筑工地扬尘污染",
        "黑臭水体治理进展缓慢",
    ],
    "社会治安": [
        "夜间路灯不亮存在安全隐患",
        "电动车被盗现象较多",
        "电信诈骗宣传防范不够",
        "流动摊贩占道经营",
        "小区治安巡逻力量不足",
        "网吧违规接纳未成年人",
    ],
    "医疗卫生": [
        "看病挂号难、排队时间长",
        "社区卫生服务中心药品不全",
        "基层医疗服务水平不高",
        "医院停车难",
        "疫苗接种点分布不均",
        "急救车响应时间偏长",
    ],
}
MEASURES = [
    "开展专项整治，建立长效机制，定期通报进展。",
    "优化办事流程，压缩办理时限，推行一网通办。",
    "增加投入，加快项目建设，按月调度推进。",
    "加强巡查执法，联合相关部门开展集中治理。",
]
GOALS = ["问题得到有效解决，群众满意。", "年底前完成整改，建立长效管理机制。"]
OUTCOMES = [
    "已完成整改，经回访群众表示满意。",
    "已建立常态化工作机制，阶段性完成，长期坚持。",
    "相关设施已建成投入使用。",
]
# Share of items in each state: most are being worked on, a quarter are closed out.
STATE_WEIGHTS = {"draft": 8, "assigned": 17, "in_progress": 40, "requested": 10, "closed": 25}


# What citizens wrote, in their own words. A suggestion often names its problem otherwise
# than the item it was merged into, which is why the keyword filter also searches the
# suggestions; KEYWORD turns up in titles of one traffic problem and, through these, in
# suggestions merged into items of other problems and categories.
CITIZEN_WORDS = {
    "经济发展": [
        "办个营业执照要跑好几个窗口，材料反复提交",
        "银行贷款门槛高，小店铺资金周转困难",
        "园区道路坑洼，货车进出不便",
        "农产品卖不出去，希望多搞产销对接",
    ],
    "教育事业": [
        "放学时校门口接送车辆乱停乱放，孩子过马路危险",
        "附近学校学位不够，孩子上学要跑很远",
        "课后托管五点就结束，家长来不及接",
        "培训机构收费高还跑路，希望加强监管",
    ],
    "社会保障": [
        "父母年纪大了，附近没有日间照料中心",
        "在外地看病报销要来回跑好几趟",
        "办社保卡排了一上午的队",
        "低保审核时间太长，家里等着用钱",
    ],
    "交通建设": [
        "小区门口车辆乱停乱放，消防通道被堵",
        "早上上班堵车一个小时，希望优化信号灯",
        "公交车等半小时都不来，线路太少",
        "路面坑洼多年没人修，下雨全是积水",
    ],
    "环境保护": [
        "晚上工地施工到半夜，吵得睡不着",
        "河里漂着垃圾，夏天气味难闻",
        "楼下饭馆油烟直接排到居民窗口",
        "垃圾桶分类了，运走时又混在一起",
    ],
    "社会治安": [
        "共享单车和电动车乱停乱放，占用盲道",
        "路灯坏了好几个月，晚上不敢出门",
        "电动车在楼下被偷了两次",
        "老人接到诈骗电话被骗，希望多宣传",
    ],
    "医疗卫生": [
        "医院挂号要排一早上的队",
        "社区医院常用药经常缺货",
        "医院周边车辆乱停乱放，救护车进出困难",
        "打疫苗要跑到很远的地方",
    ],
}
# The filtered ledger pages search for this: four characters, as a user types a phrase.
KEYWORD = "乱停乱放"
CHANNELS = ["12345热线", "网上留言", "座谈会", "问卷调查", "信访来信"]
# Suggestions per item: one as a rule, a few items merge two, a very few have none left
# (their suggestion was moved to another item): 1.02 on average, as in the seeds.
SUGGESTIONS_NONE, SUGGESTIONS_TWO = 0.01, 0.03


def seed(args: argparse.Namespace, rng: random.Random, scratch: Path) -> tuple[Bench, list[Figure]]:
    """Insert rounds, categories, departments, leaders, users and N items with histories."""
    from django.db import connection, transaction
    from django.db.models import Count

    from ledger import triggers
    from ledger.models import Item

    say(f"seeding {args.items:,} items…")
    started = time.perf_counter()
    if connection.vendor == "sqlite":
        # SQLite's default page cache (2 MiB) is soon outgrown by 100,000 items and their
        # indexes, and a transaction that outgrows it spills pages to the WAL and reads
        # them back. The bench's own connection only: it is closed after seeding, and the
        # measurements run on a new one configured by the settings alone.
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size = -262144")
    # The search text's triggers would look up each item's suggestions once per item and
    # once per suggestion (without the indexes, a scan each): the seeder writes the text
    # itself, and check_search_text() then compares a sample with what the triggers write.
    with (
        transaction.atomic(),
        indexes_rebuilt_after(BULK_TABLES),
        triggers.suspended(connection, "search"),
    ):
        seeder = Seeder(rng)
        for chunk_start in range(0, args.items, CHUNK):
            seeder.add_items(chunk_start, min(chunk_start + CHUNK, args.items), args.items)
            if chunk_start and chunk_start % 200_000 == 0:
                say(f"  {chunk_start:,} items in {time.perf_counter() - started:.0f} s…")
        seeder.finish()
        if connection.vendor == "postgresql":
            say(f"  rows in {time.perf_counter() - started:.0f} s; indexes and foreign keys…")
    if connection.vendor == "postgresql":
        # Autovacuum would vacuum and analyze the fresh tables within minutes on a server;
        # do it now, so the planner has statistics and index-only scans find the
        # visibility map set, as on a steady-state server.
        say(f"  indexed in {time.perf_counter() - started:.0f} s; vacuum analyze…")
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    seconds = time.perf_counter() - started
    check_search_text()
    connection.close()

    busiest_pk = (
        Item.objects.exclude(lead_department=None)
        .values("lead_department")
        .annotate(n=Count("pk"))
        .order_by("-n", "lead_department")
        .first()["lead_department"]
    )
    busiest = next(d for d in seeder.departments if d.pk == busiest_pk)
    draft_ids = list(Item.objects.filter(state="draft").order_by("pk").values_list("pk", flat=True))
    # K transitions take K + 1 drafts through the chain (one of them to count queries)
    # and K + 1 others for the lost races.
    k = min(args.transitions, (len(draft_ids) - 2) // 2)
    if k < 1:
        raise BenchFailure(f"only {len(draft_ids)} drafts were seeded; use more --items")
    if k < args.transitions:
        say(
            f"only {len(draft_ids)} drafts seeded: measuring K={k} transitions, "
            f"not {args.transitions}"
        )
    detail_id = _prepare_detail_item(busiest, seeder.officials[busiest.pk], seeder.suggestion_seqs)

    bench = Bench(
        args=args,
        rng=rng,
        items=args.items,
        supervisor=seeder.supervisor,
        officials=seeder.officials,
        departments=seeder.departments,
        leaders=seeder.leaders,
        busiest=busiest,
        first_round=seeder.rounds[0],
        draft_ids=draft_ids,
        detail_id=detail_id,
        transitions=k,
        scratch=scratch,
    )
    rows = seeder.rows
    figures = [
        Figure(
            "seed items",
            args.items / seconds,
            "items/s",
            f"{args.items:,} items in {seconds:.1f} s",
            {"items": args.items, "seconds": seconds},
        ),
        Figure(
            "seed rows (all tables)",
            sum(rows.values()) / seconds,
            "rows/s",
            ", ".join(f"{n:,} {table}" for table, n in rows.items()),
            {"rows": rows, "seconds": seconds},
        ),
    ]
    return bench, figures


def check_search_text(sample: int = 500) -> None:
    """Fail unless a sample of the seeded items holds the search text their trigger would
    write (the same lines, in any order)."""
    from django.db import connection

    from ledger import triggers
    from ledger.models import Item

    ids = list(Item.objects.order_by().values_list("pk", flat=True))
    # Its own generator: the bench's draws after seeding stay as they were.
    picked = random.Random(0).sample(ids, min(sample, len(ids)))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT i.id, i.search, {triggers.search_text(connection.vendor, 'i')} "
            f"FROM ledger_item i WHERE i.id IN ({', '.join(['%s'] * len(picked))})",
            picked,
        )
        rows = cursor.fetchall()
    wrong = [
        pk
        for pk, seeded, written in rows
        if sorted(seeded.split("\n")) != sorted(written.split("\n"))
    ]
    if wrong:
        raise BenchFailure(f"seeded search text differs from the trigger's for items {wrong[:5]}")


# The tables the seeding fills with N-proportional rows.
BULK_TABLES = ["ledger_item", "ledger_item_co_departments", "ledger_event", "ledger_suggestion"]


@contextmanager
def indexes_rebuilt_after(tables: list[str]) -> Iterator[None]:
    """On PostgreSQL, load ``tables`` without their secondary indexes and foreign keys, and
    create them again afterwards, as pg_restore does.

    Maintained row by row, the trigram GIN indexes and the b-trees made COPY cost about
    100 µs an item, and the deferred foreign-key triggers (one per key per row, some ten
    per item) queued up and ran at COMMIT for a third of the seeding time. Built once over
    the loaded rows, an index is a sort, and a foreign key is checked by one join. Unique
    indexes (primary keys, unique constraints) stay: foreign keys refer to them. The
    definitions are read from the catalogue, so the schema afterwards is migrate's.
    """
    from django.db import connection

    if connection.vendor != "postgresql":
        yield
        return
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) "
            "ORDER BY conrelid::regclass::text, conname",
            [tables],
        )
        foreign_keys = cursor.fetchall()
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
            "WHERE indrelid = ANY(%s::regclass[]) AND NOT indisunique "
            "ORDER BY indexrelid::regclass::text",
            [tables],
        )
        indexes = cursor.fetchall()
        for table, name, _definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {quote(name)}")
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {name}")
    yield
    with connection.cursor() as cursor:
        for _name, definition in indexes:
            cursor.execute(definition)
        for table, name, definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {quote(name)} {definition}")


def _cumulative(weights: list[float]) -> list[float]:
    # rng.choices with cum_weights skips re-adding the weights on every call.
    return list(itertools.accumulate(weights))


def _adapter(field: Any) -> Callable[[Any], Any] | None:
    """How the ORM would adapt a value of ``field`` for this backend (None: as it is).

    Only the types the seeded rows hold: dates, datetimes (made naive UTC strings on SQLite)
    and JSON. Everything else (text, numbers, None) both backends take as it is.
    """
    from django.db import connection, models

    ops = connection.ops
    if isinstance(field, models.DateTimeField):
        return ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return ops.adapt_datefield_value
    if isinstance(field, models.JSONField):
        return lambda value: ops.adapt_json_value(value, field.encoder)
    return None


class RowMaker:
    """Turns ``{attname: value}`` dicts into column tuples for ``insert_rows``.

    Every concrete field of the model is a column: one left out of the dict gets the
    field's default, so a field added later with a default needs no change here.
    """

    def __init__(self, model: type[Any], with_pk: bool) -> None:
        fields = [f for f in model._meta.concrete_fields if with_pk or not f.primary_key]
        self.model = model
        self.names = [f.attname for f in fields]
        self.defaults = [None if f.primary_key else f.get_default() for f in fields]
        self.adapters = [(i, a) for i, f in enumerate(fields) if (a := _adapter(f)) is not None]
        self.columns = list(zip(self.names, self.defaults, strict=True))

    def row(self, values: dict[str, Any]) -> tuple[Any, ...]:
        row = [values.get(name, default) for name, default in self.columns]
        for i, adapt in self.adapters:
            row[i] = adapt(row[i])
        return tuple(row)

    def insert(self, rows: list[tuple[Any, ...]]) -> None:
        insert_rows(self.model, self.names, rows)


class Seeder:
    """Makes the fixed rows at once, then items chunk by chunk (``add_items``)."""

    def __init__(self, rng: random.Random) -> None:
        from django.contrib.auth.hashers import make_password
        from django.db.models import Max
        from django.utils import timezone

        from ledger.models import Category, Department, Item, Leader, Round, Suggestion, User

        self.rng = rng
        self.today = timezone.localdate()
        self.now = timezone.now()
        self.rounds = [
            Round.objects.create(
                name=name,
                code=code,
                year=year,
                kind=kind,
                document_number=doc,
                source="自治区绩效办",
                received_on=received,
            )
            for name, code, year, kind, doc, received, _ in ROUNDS
        ]
        self.categories = {
            r.pk: Category.objects.bulk_create(
                [Category(round=r, name=c, order=i) for i, c in enumerate(spec[6])]
            )
            for r, spec in zip(self.rounds, ROUNDS, strict=True)
        }
        self.departments = Department.objects.bulk_create(
            [Department(name=name, order=i) for i, name in enumerate(DEPARTMENTS)]
        )
        self.leaders = Leader.objects.bulk_create(
            [Leader(name=name, post=post, order=i) for i, (name, post) in enumerate(LEADERS)]
        )
        # Unusable passwords: hashing fifty real ones would take seconds, and force_login
        # never checks them.
        users = User.objects.bulk_create(
            [
                User(
                    username="supervisor",
                    first_name="督查员",
                    role="supervisor",
                    password=make_password(None),
                )
            ]
            + [
                User(
                    username=f"official{i:02d}",
                    first_name=f"{d.name}经办人",
                    role="official",
                    department=d,
                    password=make_password(None),
                )
                for i, d in enumerate(self.departments)
            ]
            + [
                User(
                    username=f"leader{i:02d}",
                    first_name=leader.name,
                    role="leader",
                    leader=leader,
                    password=make_password(None),
                )
                for i, leader in enumerate(self.leaders)
            ]
        )
        self.supervisor = users[0]
        self.officials = {u.department_id: u for u in users if u.role == "official"}
        self.rows: dict[str, int] = {
            "items": 0,
            "co-departments": 0,
            "events": 0,
            "suggestions": 0,
            "other": len(self.rounds)
            + sum(len(c) for c in self.categories.values())
            + len(self.departments)
            + len(self.leaders)
            + len(users),
        }
        # A few departments lead far more items than others (教育、交通 more than 统计):
        # weights fall off with the list position, so shares are uneven as in a real city.
        self.dept_ids = [d.pk for d in self.departments]
        self.dept_cum = _cumulative([1.0 / (1 + 0.15 * i) for i in range(len(self.dept_ids))])
        self.dept_names = {d.pk: d.name for d in self.departments}
        self.leader_ids = [leader.pk for leader in self.leaders]
        self.leader_cum = _cumulative([1.0 / (1 + 0.3 * i) for i in range(len(self.leaders))])
        self.leader_labels = {leader.pk: str(leader) for leader in self.leaders}
        self.states = list(STATE_WEIGHTS)
        self.state_cum = _cumulative(list(STATE_WEIGHTS.values()))
        self.seqs = {r.pk: 0 for r in self.rounds}  # item numbers per round
        self.suggestion_seqs = {r.pk: 0 for r in self.rounds}
        # Items go in as plain rows, not model instances (see insert_rows), so their
        # primary keys are chosen here, after any row already in the table; finish() then
        # moves PostgreSQL's identity sequence past them.
        self.next_id = (Item.objects.aggregate(top=Max("pk"))["top"] or 0) + 1
        self.item_rows = RowMaker(Item, with_pk=True)
        self.suggestion_rows = RowMaker(Suggestion, with_pk=False)

    def add_items(self, start: int, end: int, total: int) -> None:
        """Items ``start``..``end`` of ``total``, their co-departments, events, suggestions."""
        from django.db import connection

        from ledger.models import Event, Item

        ops = connection.ops
        rng = self.rng
        items: list[tuple[Any, ...]] = []
        shares: list[tuple[int, int]] = []
        events: list[tuple[Any, ...]] = []
        suggestions: list[tuple[Any, ...]] = []
        first_round_share = int(total * 0.55)  # 547 : 447 in the seeds
        for index in range(start, end):
            r = self.rounds[0] if index < first_round_share else self.rounds[1]
            self.seqs[r.pk] += 1
            item = self.make_item(r, self.seqs[r.pk])
            pk = item["id"]
            # history() also sets the version and last change the events leave on the item.
            events.extend(event_row(ops, pk, event) for event in self.history(item))
            lead = item.get("lead_department_id")
            if lead is not None:
                picked = rng.choices(self.dept_ids, cum_weights=self.dept_cum, k=rng.randint(0, 2))
                shares.extend((pk, d) for d in sorted(set(picked) - {lead}))
            suggestions.extend(self.suggestions(item))
            items.append(self.item_rows.row(item))
        self.item_rows.insert(items)
        insert_rows(Item.co_departments.through, ["item", "department"], shares)
        insert_rows(Event, EVENT_COLUMNS, events)
        self.suggestion_rows.insert(suggestions)
        self.rows["items"] += len(items)
        self.rows["co-departments"] += len(shares)
        self.rows["events"] += len(events)
        self.rows["suggestions"] += len(suggestions)

    def finish(self) -> None:
        """Move the item table's identity sequence past the keys chosen by the seeder."""
        from django.core.management.color import no_style
        from django.db import connection

        from ledger.models import Item

        # Empty on SQLite, whose AUTOINCREMENT follows explicit keys by itself.
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), [Item]):
                cursor.execute(sql)

    def make_item(self, r: Any, seq: int) -> dict[str, Any]:
        """One believable item in a random state, with the fields that state implies, as
        ``{attname: value}``."""
        rng, today, now = self.rng, self.today, self.now
        category = rng.choice(self.categories[r.pk])
        title = rng.choice(PLACES) + rng.choice(PROBLEMS[category.name])
        if rng.random() < 0.2:
            title = "建议解决" + title
        state = rng.choices(self.states, cum_weights=self.state_cum)[0]
        created = now - datetime.timedelta(days=rng.randint(30, 400), minutes=rng.randint(0, 1440))
        fields: dict[str, Any] = {
            "id": self.next_id,
            "round_id": r.pk,
            "number": f"{r.code}-{seq:06d}",
            "category_id": category.pk,
            "title": title,
            "track": "joint" if rng.random() < 0.3 else "immediate",
            "state": state,
            "created_at": created,
            "updated_at": created,
        }
        self.next_id += 1
        # Kept for suggestions(), which words a suggestion after the item's category;
        # not a column, so RowMaker leaves it out.
        fields["_category"] = category.name
        leader_id = rng.choices(self.leader_ids, cum_weights=self.leader_cum)[0]
        if state == "draft":
            # Half the drafts were never assigned; the other half came back declined,
            # with the leader and deadline kept but no lead department.
            if rng.random() < 0.5:
                fields["leader_id"] = leader_id
                fields["deadline"] = today + datetime.timedelta(days=rng.randint(30, 120))
            return fields
        fields |= {
            "leader_id": leader_id,
            "lead_department_id": rng.choices(self.dept_ids, cum_weights=self.dept_cum)[0],
            "responsible_person": rng.choice("王李张刘陈杨赵黄周吴") + rng.choice(["科长", "主任"]),
            "measures": rng.choice(MEASURES),
            "goal": rng.choice(GOALS),
        }
        if state == "closed":
            deadline = (created + datetime.timedelta(days=rng.randint(30, 200))).date()
            closed_on = deadline + datetime.timedelta(days=rng.randint(-25, 10))
            fields |= {"closed_on": min(closed_on, today), "closed_by_id": self.supervisor.pk}
        else:
            # Open deadlines from three months past to five months ahead: about a third
            # of open items are overdue (red), a few are due within the week (yellow).
            deadline = today + datetime.timedelta(days=rng.randint(-90, 150))
            if deadline < today and rng.random() < 0.1:
                fields["escalated_at"] = now - datetime.timedelta(days=rng.randint(1, 30))
        fields["deadline"] = deadline
        if rng.random() < 0.05:
            fields["original_deadline"] = deadline - datetime.timedelta(days=rng.randint(15, 60))
        percent = {
            "assigned": 0,
            "in_progress": rng.randint(5, 90),
            "requested": rng.randint(80, 100),
            "closed": 100,
        }[state]
        if state in {"requested", "closed"}:
            fields["outcome_kind"] = "done" if rng.random() < 0.8 else "long_term"
            fields["outcome"] = rng.choice(OUTCOMES)
            if fields["outcome_kind"] == "long_term":
                percent = rng.randint(60, 95)
        fields["percent"] = percent
        return fields

    def history(self, item: dict[str, Any]) -> list[tuple[Any, ...]]:
        """The events that brought a seeded item to its state, as ledger.workflow writes
        them: (actor, kind, from, to, note, data, at) each.

        Called before the item is inserted: it also sets the version, updated_at and
        updated_by those transitions leave on the row.
        """
        from django.utils import timezone

        official = self.officials.get(item.get("lead_department_id"))
        at = item["created_at"]
        events: list[tuple[Any, ...]] = []
        for i, kind in enumerate(STEPS[: PATH.index(item["state"])]):
            at = at + datetime.timedelta(days=3 + i * 10, hours=i)
            if kind == "approve":
                # Approved on the day the item says it was closed out, or just after the
                # request if that day came first; the row then shows the day of the event.
                closed = timezone.make_aware(
                    datetime.datetime.combine(item["closed_on"], datetime.time(10))
                )
                at = min(max(at, closed), self.now)
                item["closed_on"] = timezone.localdate(at)
            actor = self.supervisor if kind in {"assign", "approve"} else official
            data: dict[str, str] = {}
            note = ""
            if kind == "assign":
                data = {
                    "leader": self.leader_labels[item["leader_id"]],
                    "lead_department": self.dept_names[item["lead_department_id"]],
                    "deadline": item["deadline"].isoformat(),
                }
            elif kind in {"request", "approve"}:
                data = {"outcome_kind": item["outcome_kind"]}
                note = item["outcome"] if kind == "request" else ""
            events.append((actor.pk, kind, PATH[i], PATH[i + 1], note, data, at))
        item["version"] = 1 + len(events)
        if events:
            item["updated_at"], item["updated_by_id"] = at, events[-1][0]
        return events

    def suggestions(self, item: dict[str, Any]) -> list[tuple[Any, ...]]:
        """The suggestions merged into ``item``: half recorded in the item's own words,
        half in the citizen's (CITIZEN_WORDS), received before the item was made."""
        rng = self.rng
        draw = rng.random()
        count = 0 if draw < SUGGESTIONS_NONE else 2 if draw > 1 - SUGGESTIONS_TWO else 1
        rows = []
        texts = []
        for _ in range(count):
            round_id = item["round_id"]
            self.suggestion_seqs[round_id] += 1
            region = rng.choice(PLACES[:12])
            if rng.random() < 0.5:
                text = f"{region}群众反映：{item['title']}，希望有关部门尽快解决。"
            else:
                text = f"{rng.choice(CITIZEN_WORDS[item['_category']])}，希望有关部门管一管。"
            texts.append(text)
            received = item["created_at"] - datetime.timedelta(days=rng.randint(5, 60))
            rows.append(
                self.suggestion_rows.row(
                    {
                        "round_id": round_id,
                        "seq": self.suggestion_seqs[round_id],
                        "text": text,
                        "category_text": item["_category"],
                        "region": region,
                        "channel": rng.choice(CHANNELS),
                        "item_id": item["id"],
                        "created_at": received,
                    }
                )
            )
        # The item's search text, as its trigger writes it (suspended while seeding: see
        # seed()): number, problem, each distinct suggestion text in the order received.
        item["search"] = "\n".join([item["number"], item["title"], *dict.fromkeys(texts)])
        return rows


STEPS = ["assign", "start", "request", "approve"]
PATH = ["draft", "assigned", "in_progress", "requested", "closed"]


def insert_rows(model: type[Any], names: list[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert plain tuples into ``model``'s table, many rows per INSERT statement.

    Everything the seeding writes per item (the item, its events, co-department links and
    suggestions) goes in as tuples: through bulk_create the ORM builds a model instance
    and prepares every value of every row in Python, which was most of the seeding time.
    The rows have no signals to send, their keys are chosen by the seeder (items) or not
    needed back (the rest), and their values are already in the form the backend takes
    (see ``RowMaker`` and ``event_row``).

    On PostgreSQL they go in by COPY: Django binds parameters on the client, and psycopg
    re-parses a long INSERT for every batch, which cost more than the insert itself.
    """
    from django.db import connection

    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(model._meta.get_field(n).column) for n in names)
    if connection.vendor == "postgresql":
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    head = f"INSERT INTO {table} ({columns}) VALUES "
    one = f"({', '.join(['%s'] * len(names))})"
    # As many rows as the backend takes parameters for (999 on Django's SQLite).
    size = max(1, min(BATCH_SIZE, connection.ops.bulk_batch_size(names, rows)))
    full_sql = head + ", ".join([one] * size)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), size):
            batch = rows[start : start + size]
            sql = full_sql if len(batch) == size else head + ", ".join([one] * len(batch))
            cursor.execute(sql, [value for row in batch for value in row])


EVENT_COLUMNS = ["item", "actor", "kind", "from_state", "to_state", "note", "data", "at"]


def event_row(ops: Any, item_id: int, event: tuple[Any, ...]) -> tuple[Any, ...]:
    """A history tuple as Event's columns take it: JSON and the datetime adapted by the
    backend's own operations, exactly as the ORM adapts them."""
    *head, data, at = event
    return (item_id, *head, ops.adapt_json_value(data, None), ops.adapt_datetimefield_value(at))


PROGRESS = [
    "已召开专题会议，研究制定整改方案。",
    "已完成现场调查，明确责任分工和时间节点。",
    "整改工程已开工建设，完成总工程量的四成。",
    "主体工程基本完工，正在进行收尾和验收准备。",
    "已组织回访，群众反映问题得到初步解决。",
]


def _prepare_detail_item(
    department: Department, official: User, suggestion_seqs: dict[int, int]
) -> int:
    """Give one in-progress item of ``department`` progress reports and three more
    suggestions (numbered after the seeded ones of its round)."""
    from django.db.models import Count
    from django.utils import timezone

    from ledger import workflow
    from ledger.models import Item, Suggestion

    item = (
        Item.objects.filter(state="in_progress", lead_department=department)
        .annotate(n_shares=Count("co_departments"))
        .filter(n_shares__gte=1)
        .order_by("pk")
        .first()
    )
    if item is None:
        raise BenchFailure(f"no in-progress item led by {department} to show in detail")
    # Through the real workflow, so the rows are what the app writes: each report is one
    # transaction with its compare-and-swap on the item.
    for days_ago, text in zip((40, 30, 20, 10, 2), PROGRESS, strict=True):
        at = timezone.now() - datetime.timedelta(days=days_ago)
        workflow.post_progress(
            item, by=official, text=text, percent=min(100, item.percent + 5), at=at
        )
    Suggestion.objects.bulk_create(
        [
            Suggestion(
                round_id=item.round_id,
                seq=suggestion_seqs[item.round_id] + 1 + i,
                item=item,
                region="城东区",
                text=f"群众反映：{item.title}，希望有关部门尽快解决。（第{i + 1}条）",
            )
            for i in range(3)
        ]
    )
    return item.pk


# --------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@contextmanager
def count_queries() -> Iterator[list[dict[str, str]]]:
    """The statements run inside the block (the list is filled when the block ends).

    Transaction control is left out: Django logs SQLite's BEGIN and COMMIT as queries but
    not PostgreSQL's, and counts should compare across the two.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    captured: list[dict[str, str]] = []
    with CaptureQueriesContext(connection) as context:
        yield captured
    captured.extend(
        q
        for q in context.captured_queries
        if not q["sql"].lstrip().upper().startswith(TRANSACTION_CONTROL)
    )


def measure_transitions(bench: Bench) -> list[Figure]:
    """Workflow calls per second, each one transaction with its compare-and-swap and Event.

    K drafts go assign → start → request → approve: a supervisor assigns each to a
    department; that department's official starts it and asks for close-out; the
    supervisor approves. Each kind runs over all K items in turn, so each gets its own rate.
    """
    from django.utils import timezone

    from ledger import workflow
    from ledger.models import Item

    say(f"measuring transitions (K={bench.transitions})…")
    k = bench.transitions
    rng = bench.rng
    chain_ids = bench.draft_ids[: k + 1]
    items = list(Item.objects.filter(pk__in=chain_ids).order_by("pk"))
    deadline = timezone.localdate() + datetime.timedelta(days=60)
    plan: dict[int, tuple[Department, list[Department], Leader]] = {}
    for item in items:
        lead = rng.choice(bench.departments)
        co = [d for d in rng.sample(bench.departments, 2) if d.pk != lead.pk][:1]
        plan[item.pk] = (lead, co, rng.choice(bench.leaders))

    def assign(item: Item) -> object:
        lead, co, leader = plan[item.pk]
        return workflow.assign(
            item,
            by=bench.supervisor,
            leader=leader,
            lead_department=lead,
            co_departments=co,
            deadline=deadline,
            responsible_person="王科长",
        )

    def start(item: Item) -> object:
        return workflow.start(item, by=bench.officials[plan[item.pk][0].pk])

    def request(item: Item) -> object:
        return workflow.request_closeout(
            item,
            by=bench.officials[plan[item.pk][0].pk],
            outcome="已完成整改，群众满意。",
            outcome_kind="done",
        )

    def approve(item: Item) -> object:
        return workflow.approve(item, by=bench.supervisor)

    steps: list[tuple[str, Callable[[Item], object]]] = [
        ("assign", assign),
        ("start", start),
        ("request close-out", request),
        ("approve", approve),
    ]
    # The first item goes through the chain alone, untimed, to count each step's queries
    # (capturing adds overhead, so it stays out of the timed loops).
    probe, timed = items[0], items[1:]
    queries: dict[str, int] = {}
    for name, step in steps:
        with count_queries() as captured:
            step(probe)
        queries[name] = len(captured)

    figures: list[Figure] = []
    total = 0.0
    for name, step in steps:
        started = time.perf_counter()
        for item in timed:
            step(item)
        seconds = time.perf_counter() - started
        total += seconds
        figures.append(
            Figure(
                f"transition {name}",
                len(timed) / seconds,
                "per s",
                f"{queries[name]} queries",
                {"k": len(timed), "seconds": seconds, "queries": queries[name]},
            )
        )
    closed = Item.objects.filter(pk__in=chain_ids, state="closed").count()
    if closed != k + 1:
        raise BenchFailure(f"{closed} of {k + 1} items reached closed after the chain")
    figures.insert(
        0,
        Figure(
            "transitions, all four kinds",
            4 * len(timed) / total,
            "per s",
            f"K={len(timed)}, {4 * len(timed):,} calls",
            {"k": len(timed), "calls": 4 * len(timed), "seconds": total},
        ),
    )
    figures.append(_measure_stale(bench, deadline))
    return figures


def _measure_stale(bench: Bench, deadline: datetime.date) -> Figure:
    """Lost races per second: an assign against a version someone else has since changed.

    The losing call updates no row, reads who won, rolls back and raises Stale.
    """
    from django.db.models import F
    from django.utils import timezone

    from ledger import workflow
    from ledger.models import Item

    k = bench.transitions
    ids = bench.draft_ids[k + 1 : 2 * k + 2]
    items = list(Item.objects.filter(pk__in=ids).order_by("pk"))
    # Another user edits every item after our copies were read (state kept, version bumped).
    rival = bench.officials[bench.busiest.pk]
    Item.objects.filter(pk__in=ids).update(
        version=F("version") + 1, updated_by=rival, updated_at=timezone.now()
    )
    lead = bench.busiest
    leader = bench.leaders[0]

    def lose(item: Item) -> None:
        try:
            workflow.assign(
                item, by=bench.supervisor, leader=leader, lead_department=lead, deadline=deadline
            )
        except workflow.Stale:
            return
        raise BenchFailure(f"assign on a stale copy of item {item.pk} did not raise Stale")

    probe, timed = items[0], items[1:]
    with count_queries() as captured:
        lose(probe)
    started = time.perf_counter()
    for item in timed:
        lose(item)
    seconds = time.perf_counter() - started
    if Item.objects.filter(pk__in=ids).exclude(state="draft").exists():
        raise BenchFailure("a stale assign changed an item")
    return Figure(
        "transition lost to a race (Stale)",
        len(timed) / seconds,
        "per s",
        f"{len(captured)} queries, nothing written",
        {"k": len(timed), "seconds": seconds, "queries": len(captured)},
    )


def _check(response: HttpResponse, url: str, who: str) -> None:
    if response.status_code != 200:
        raise BenchFailure(f"GET {url} as {who} answered {response.status_code}, not 200")


def time_page(
    bench: Bench,
    client: Client,
    url: str,
    label: str,
    who: str,
    detail: str = "",
    target: str = "",
    expect: str = "",
) -> Figure:
    """Median wall time of R requests to ``url``, and the queries one request runs.

    The first request (counted, untimed) also warms the template cache and the connection,
    as any request after a server's first would find them; it must show ``expect`` (an
    item number), so a figure is never the time of the wrong page.
    """
    repeat = bench.args.repeat
    with count_queries() as captured:
        response = bench_get(client, url, who)
    if expect and expect.encode() not in response.content:
        raise BenchFailure(f"GET {url} as {who} does not show {expect}")
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - started)
        _check(response, url, who)
    median_ms = statistics.median(samples) * 1000
    extra = f", {detail}" if detail else ""
    sql = [{"ms": float(q["time"]) * 1000, "sql": q["sql"]} for q in captured]
    if bench.args.explain:
        for query in sql:
            query["plan"] = explain(query["sql"])
    return Figure(
        label,
        median_ms,
        f"ms (median of {repeat})",
        f"{len(captured)} queries{extra}",
        {
            "url": url,
            "queries": len(captured),
            "samples_ms": [round(s * 1000, 3) for s in samples],
            "sql": sql,
        },
        target,
    )


def explain(sql: str) -> str:
    """The plan of one captured query: EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL, which runs
    it again (reads only: the pages run nothing else), EXPLAIN QUERY PLAN on SQLite."""
    from django.db import connection

    if not sql.lstrip().upper().startswith("SELECT"):
        return ""
    prefix = (
        "EXPLAIN (ANALYZE, BUFFERS) "
        if connection.vendor == "postgresql"
        else ("EXPLAIN QUERY PLAN ")
    )
    with connection.cursor() as cursor:
        # The captured text has its parameters inlined by the backend, so it runs as is.
        cursor.execute(prefix + sql)
        return "\n".join(" ".join(str(v) for v in row) for row in cursor.fetchall())


def bench_get(client: Client, url: str, who: str) -> HttpResponse:
    response = client.get(url)
    _check(response, url, who)
    return response


def _client_for(user: User) -> Client:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


# The targets ("The workspace in the browser"). Each is printed beside the figures
# it applies to, and checked on this run's numbers after the table.
SMALL, LARGE = 100_000, 1_000_000
LIST_MS = 50.0  # list page median under 50 ms at 100k items
GROWTH = 1.5  # time at 1M ≤ 1.5× time at 100k, and last page ≤ 1.5× the first
WRK_SHARE = 3.0  # at 1M the list serves ≥ 3% of the hello-world view's requests/s
# Below this many items the filtered pages may match nothing (the smoke test's tiny N);
# above it the seeding puts a hundred or more matches in them.
MATCHES_FROM = 10_000


def list_filters(bench: Bench) -> dict[str, str]:
    """Three filters and a four-character keyword, as someone narrowing the list types
    them: items in progress, of the larger round, led by the busiest department, that
    mention KEYWORD in their title or a merged suggestion."""
    return {
        "state": "in_progress",
        "round": str(bench.first_round.pk),
        "lead": str(bench.busiest.pk),
        "q": KEYWORD,
    }


def _ends(user: User, params: dict[str, str]) -> tuple[int, str, str]:
    """(matching items, number of the first, number of the last) in the list's default
    order, through the query the list itself starts from."""
    from django.http import QueryDict

    from ledger.selectors import ledger_items

    query = QueryDict(mutable=True)
    query.update(params)
    items = ledger_items(user=user, params=query).items
    numbers = items.order_by("round_id", "number").values_list("number", flat=True)
    return items.count(), numbers.first() or "", numbers.last() or ""


def measure_ledger_pages(bench: Bench) -> list[Figure]:
    """The ledger list for a supervisor (all N items) and an official of the busiest
    department (its led and shared items): first and last page (``?last=1``) unfiltered,
    and first and last page with three filters and a keyword."""
    from urllib.parse import urlencode

    from django.conf import settings
    from django.urls import reverse

    say(f"measuring ledger pages (R={bench.args.repeat})…")
    base = reverse("ledger:items")
    size = settings.LEDGER_PAGE_SIZE
    official = bench.officials[bench.busiest.pk]
    figures = []
    for who, user in (("supervisor", bench.supervisor), ("official", official)):
        client = _client_for(user)
        for kind, params in (("", {}), ("filtered ", list_filters(bench))):
            matches, first, last = _ends(user, params)
            if matches == 0 and (not params or bench.items >= MATCHES_FROM):
                raise BenchFailure(f"the {kind}ledger shows the {who} no items ({params})")
            if params and bench.items >= MATCHES_FROM and matches <= size:
                raise BenchFailure(
                    f"the filtered ledger has {matches} items for the {who}: its first "
                    "and last pages would be the same page"
                )
            what = f"{matches:,} items" if not params else f"{matches:,} matching items"
            url = f"{base}?{urlencode(params)}" if params else base
            first_page = time_page(
                bench,
                client,
                url,
                f"ledger {kind}first page, {who}",
                who,
                f"{what}, {size} a page",
                f"< {LIST_MS:g} ms",
                first,
            )
            last_page = time_page(
                bench,
                client,
                f"{url}{'&' if params else '?'}last=1",
                f"ledger {kind}last page, {who}",
                who,
                "",
                f"< {LIST_MS:g} ms; ≤ {GROWTH:g}× first",
                last,
            )
            _compare_to_first(last_page, first_page)
            figures += [first_page, last_page]
        figures += _other_positions(bench, client, user, who)
    return figures


def _compare_to_first(last_page: Figure, first_page: Figure) -> None:
    """Say in the last page's figure how its time compares to the first page's."""
    ratio = last_page.value / first_page.value
    last_page.detail = f"{last_page.data['queries']} queries, {ratio:.2f}× the first page"
    last_page.data["ratio_to_first"] = ratio


def _other_positions(bench: Bench, client: Client, user: User, who: str) -> list[Figure]:
    """The same list (no filter) at a page in its middle, reached by the cursor a "next"
    link carries, and sorted by deadline (first and last page): keyset paging must read the
    same few rows there as at either end of the default order."""
    from django.conf import settings
    from django.http import QueryDict
    from django.urls import reverse

    from ledger.paging import encode
    from ledger.selectors import SORTS, ledger_items

    base = reverse("ledger:items")
    size = settings.LEDGER_PAGE_SIZE
    items = ledger_items(user=user, params=QueryDict()).items
    ordered = items.order_by("round_id", "number")
    middle = ordered.count() // 2
    at, after = ordered.values_list("round_id", "number")[middle : middle + 2]
    figures = [
        time_page(
            bench,
            client,
            f"{base}?after={encode(list(at))}",
            f"ledger middle page, {who}",
            who,
            f"after item {middle + 1:,} of the list's order, {size} a page",
            f"< {LIST_MS:g} ms",
            after[1],
        )
    ]
    by_deadline = items.order_by(*SORTS["deadline"].sort.order_by()).values_list(
        "number", flat=True
    )
    first_page = time_page(
        bench,
        client,
        f"{base}?sort=deadline",
        f"ledger by deadline first page, {who}",
        who,
        f"soonest deadline first, {size} a page",
        f"< {LIST_MS:g} ms",
        by_deadline.first(),
    )
    last_page = time_page(
        bench,
        client,
        f"{base}?sort=deadline&last=1",
        f"ledger by deadline last page, {who}",
        who,
        "",
        f"< {LIST_MS:g} ms; ≤ {GROWTH:g}× first",
        by_deadline.last(),
    )
    _compare_to_first(last_page, first_page)
    return [*figures, first_page, last_page]


def measure_home(bench: Bench) -> list[Figure]:
    """Each role's home page: counts per state and overdue (both), the evaluation office's
    queue (supervisor), the department's overdue and due-soon lists (official)."""
    from django.urls import reverse

    say("measuring home pages…")
    url = reverse("ledger:home")
    official = bench.officials[bench.busiest.pk]
    return [
        time_page(bench, _client_for(user), url, f"home, {who}", who)
        for who, user in (("supervisor", bench.supervisor), ("official", official))
    ]


# The hello-world page bench/urls.py adds beside the app's URLs, for gunicorn only.
HELLO_PATH = "/bench/hello/"
WRK_THREADS, WRK_CONNECTIONS = 2, 8


@dataclasses.dataclass
class WrkResult:
    requests_per_s: float
    requests: int
    p50_ms: float
    socket_errors: int
    command: str


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ensure_tools() -> None:
    """wrk and curl from Debian, installed as the Makefile installs PostgreSQL."""
    result = subprocess.run(
        [str(ROOT / "scripts" / "ensure-packages"), "wrk", "curl"],
        stdout=sys.stderr,  # stdout is the table's alone
        stderr=subprocess.STDOUT,
        check=False,
    )
    if result.returncode != 0 or not shutil.which("wrk") or not shutil.which("curl"):
        raise BenchFailure("wrk and curl are needed (scripts/ensure-packages wrk curl)")


@contextmanager
def gunicorn(workers: int, log: Path) -> Iterator[str]:
    """gunicorn serving bench.settings (the app plus HELLO_PATH) on the scratch database,
    on a free port of 127.0.0.1; the base URL while it runs. Stopped however the block ends.
    """
    import urllib.request

    port = _free_port()
    # The bench's own environment (database, SECRET_KEY, DEBUG off, static root), so the
    # session made here is valid there; only the URLconf differs.
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="bench.settings")
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--chdir",
        str(ROOT),
        "--log-level",
        "warning",
        "rectify.wsgi:application",
    ]
    base = f"http://127.0.0.1:{port}"
    # Straight to the loopback address, whatever http_proxy the environment sets.
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise BenchFailure(f"gunicorn exited ({process.returncode}): {log.read_text()}")
            try:
                with direct.open(base + HELLO_PATH, timeout=5) as response:
                    if response.status == 200 and response.read() == b"hello":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise BenchFailure(f"gunicorn did not answer within 60 s: {log.read_text()}")
            time.sleep(0.2)
        yield base
    finally:
        # SIGTERM lets the master stop its workers; the process group (started for this
        # server alone) is killed only if that hangs.
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _latency_ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def run_wrk(url: str, cookie: str, seconds: int) -> WrkResult:
    """``wrk -t2 -c8 -d<seconds>s --latency`` with the session cookie, parsed."""
    command = [
        "wrk",
        f"-t{WRK_THREADS}",
        f"-c{WRK_CONNECTIONS}",
        f"-d{seconds}s",
        "--latency",
        "-H",
        f"Cookie: {cookie}",
        url,
    ]
    shown = " ".join(c if not c.startswith("Cookie") else "'Cookie: …'" for c in command)
    result = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=seconds + 120
    )
    out = result.stdout
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.MULTILINE)
    total = re.search(r"^\s*(\d+) requests in", out, re.MULTILINE)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s|m)\b", out, re.MULTILINE)
    if result.returncode != 0 or not (rate and total and p50):
        raise BenchFailure(f"{shown} failed ({result.returncode}): {out}{result.stderr}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        raise BenchFailure(f"{shown}: {bad.group(1)} responses were errors (4xx/5xx)")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkResult(
        requests_per_s=float(rate.group(1)),
        requests=int(total.group(1)),
        p50_ms=_latency_ms(p50.group(1), p50.group(2)),
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
        command=shown,
    )


def _curl(url: str, cookie: str) -> tuple[int, bytes]:
    """(status, body) of one GET, redirects not followed: a login redirect shows as 302."""
    result = subprocess.run(
        [
            "curl",
            "-sS",
            "--noproxy",
            "*",
            "--max-time",
            "60",
            "-H",
            f"Cookie: {cookie}",
            "-w",
            "\n%{http_code}",
            url,
        ],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise BenchFailure(f"curl {url} failed: {result.stderr.decode(errors='replace')}")
    body, _, status = result.stdout.rpartition(b"\n")
    return int(status), body


def measure_wrk(bench: Bench) -> list[Figure]:
    """Requests per second of the ledger's first page (supervisor) under wrk against
    gunicorn, beside a hello-world view served by the same gunicorn in the same run."""
    from django.conf import settings
    from django.urls import reverse

    seconds, workers = bench.args.wrk_seconds, bench.args.workers
    say(f"measuring requests/s: gunicorn ({workers} workers) under wrk, {seconds} s a URL…")
    _ensure_tools()
    # A real session row, made through the test client on the same database; gunicorn's
    # workers read it as they would a browser's.
    client = _client_for(bench.supervisor)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    _count, first_number, _last = _ends(bench.supervisor, {})
    list_path = reverse("ledger:items")
    with gunicorn(workers, bench.scratch / "gunicorn.log") as base:
        status, body = _curl(base + list_path, cookie)
        if status != 200 or first_number.encode() not in body:
            raise BenchFailure(
                f"gunicorn answered GET {list_path} with {status}, not the ledger page "
                f"showing {first_number}"
            )
        results = {}
        for name, path in (("hello", HELLO_PATH), ("list", list_path)):
            # One second unmeasured first, so that every worker has loaded its templates
            # and opened its connection before the measured run.
            run_wrk(base + path, cookie, 1)
            results[name] = run_wrk(base + path, cookie, seconds)
    hello, listing = results["hello"], results["list"]
    share = 100 * listing.requests_per_s / hello.requests_per_s
    version = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()

    def figure(label: str, result: WrkResult) -> Figure:
        errors = f", {result.socket_errors} socket errors" if result.socket_errors else ""
        return Figure(
            label,
            result.requests_per_s,
            "requests/s",
            f"p50 {result.p50_ms:.1f} ms, {result.requests:,} requests{errors}",
            {**dataclasses.asdict(result), "server": f"{version}, {workers} sync workers"},
        )

    return [
        figure("wrk hello view", hello),
        figure("wrk ledger first page, supervisor", listing),
        Figure(
            "wrk ledger / hello",
            share,
            "% of hello's requests/s",
            f"{version}, {workers} workers; wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{seconds}s",
            {"share_percent": share},
            f"≥ {WRK_SHARE:g}% at 1M",
        ),
    ]


def measure_item_detail(bench: Bench) -> list[Figure]:
    """One item's page: its history, five progress reports, three suggestions, the forms
    for the actions the viewer may take."""
    from django.urls import reverse

    from ledger.models import Item

    say("measuring the item page…")
    item = Item.objects.get(pk=bench.detail_id)
    url = reverse("ledger:item", args=[item.pk])
    official = bench.officials[bench.busiest.pk]
    return [
        time_page(
            bench,
            _client_for(user),
            url,
            f"item detail, {who}",
            who,
            f"{item.events.count()} events, {item.progress.count()} progress",
            expect=item.number,
        )
        for who, user in (("supervisor", bench.supervisor), ("lead official", official))
    ]


# The figures, in the order they are printed. A later figure is one more function here.
MEASUREMENTS: list[Callable[[Bench], list[Figure]]] = [
    measure_transitions,
    measure_ledger_pages,
    measure_home,
    measure_item_detail,
    measure_wrk,
]


# --------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------


@dataclasses.dataclass
class Check:
    """One target checked on one figure: met is None when it cannot be checked here."""

    target: str
    figure: str
    measured: str
    met: bool | None
    note: str = ""


def _scale_note(items: int, scale: int) -> str:
    # Every target is checked whatever N is, but the issue sets each for one scale.
    return "" if items == scale else f"set for {scale:,} items; this run has {items:,}"


def check_targets(
    figures: list[Figure], items: int, baseline: dict[str, Any] | None
) -> list[Check]:
    """The issue's targets, checked on this run's figures (and a baseline run's, if given)."""
    by_label = {f.label: f for f in figures}
    pages = [f for f in figures if f.label.startswith("ledger ")]
    checks = [
        Check(
            f"median < {LIST_MS:g} ms",
            f.label,
            f"{f.value:.1f} ms",
            f.value < LIST_MS,
            _scale_note(items, SMALL),
        )
        for f in pages
    ]
    for f in pages:
        first = by_label.get(f.label.replace("last page", "first page"))
        if "last page" in f.label and first:
            ratio = f.value / first.value
            checks.append(
                Check(f"last page ≤ {GROWTH:g}× first", f.label, f"{ratio:.2f}×", ratio <= GROWTH)
            )
    if baseline is None:
        checks.append(
            Check(
                f"time at 1M ≤ {GROWTH:g}× time at 100k",
                "ledger pages",
                "not compared",
                None,
                "pass --compare with the --json file of a 100,000-item run",
            )
        )
    else:
        base_items = int(baseline["items"])
        base = {f["label"]: f for f in baseline["figures"]}
        note = (
            ""
            if (items, base_items) == (LARGE, SMALL)
            else (f"set for 1,000,000 vs 100,000 items; this is {items:,} vs {base_items:,}")
        )
        for f in pages:
            if f.label in base:
                ratio = f.value / base[f.label]["value"]
                checks.append(
                    Check(
                        f"time at 1M ≤ {GROWTH:g}× time at 100k",
                        f.label,
                        f"{ratio:.2f}× ({base[f.label]['value']:.1f} ms before)",
                        ratio <= GROWTH,
                        note,
                    )
                )
    share = by_label.get("wrk ledger / hello")
    if share:
        checks.append(
            Check(
                f"list ≥ {WRK_SHARE:g}% of hello requests/s",
                share.label,
                f"{share.value:.1f}%",
                share.value >= WRK_SHARE,
                _scale_note(items, LARGE),
            )
        )
    return checks


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------


def format_value(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    """Columns padded to their widest cell (East Asian wide characters count twice)."""
    cells = [header, *rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(header))]

    def line(row: list[str]) -> str:
        out = []
        for i, cell in enumerate(row):
            pad = " " * (widths[i] - _width(cell))
            last = i == len(row) - 1
            out.append(pad + cell if i in right else cell + ("" if last else pad))
        return "  ".join(out).rstrip()

    return [line(row) for row in cells]


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def render(env: dict[str, str], figures: list[Figure], checks: list[Check]) -> str:
    key_width = max(len(k) for k in env) + 2
    lines = [f"{key:<{key_width}}{value}" for key, value in env.items()]
    lines.append("")
    lines += _table(
        ["figure", "value", "target", "unit"],
        [
            [
                f.label,
                format_value(f.value),
                f.target,
                f"{f.unit}, {f.detail}" if f.detail else f.unit,
            ]
            for f in figures
        ],
        right={1},
    )
    lines.append("")
    met = {True: "yes", False: "NO", None: "–"}
    lines += _table(
        ["target", "figure", "measured", "met", "note"],
        [[c.target, c.figure, c.measured, met[c.met], c.note] for c in checks],
        right={2},
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="rectify-bench-"))
    temporary = not args.database_url
    try:
        baseline = load_baseline(args.compare) if args.compare else None
        configure(args, scratch)
        import django

        django.setup()
        say("creating the schema…")
        prepare_database(args)
        load_before = os.getloadavg()[0]
        rng = random.Random(args.seed)
        bench, figures = seed(args, rng, scratch)
        for measure in MEASUREMENTS:
            figures.extend(measure(bench))
        env = environment(args, bench, temporary)
        # Other work on the machine moves every timing: say how busy it was.
        env["load"] = f"{load_before:.2f} before seeding, {os.getloadavg()[0]:.2f} at the end"
        checks = check_targets(figures, bench.items, baseline)
        if args.compare:
            env["compared with"] = f"{args.compare} ({int(baseline['items']):,} items)"
        print(render(env, figures, checks), flush=True)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(
                json.dumps(
                    {
                        "environment": env,
                        "items": bench.items,
                        "figures": [dataclasses.asdict(f) for f in figures],
                        "targets": [dataclasses.asdict(c) for c in checks],
                    },
                    ensure_ascii=False,
                    indent=2,
                )
                + "\n",
                encoding="utf-8",
            )
            say(f"wrote {args.json}")
        return 0
    except BenchFailure as failure:
        print(f"bench: FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        if "django" in sys.modules and "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        if args.keep and temporary:
            say(f"kept the database in {scratch / 'bench.sqlite3'}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
