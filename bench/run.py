#!/usr/bin/env python
"""Rectify's benchmark: seed a scratch database, take measurements, print one table.

Run it with ``make bench`` (options through ``BENCH_ARGS="--items 20000"``) or directly::

    .venv/bin/python bench/run.py --items 100000
    scripts/with-postgres bash -c '.venv/bin/python bench/run.py --database-url "$DATABASE_URL"'

One seeded database feeds a list of small measurement functions (``MEASUREMENTS``); each
returns ``Figure`` rows and the table is printed once at the end. A new figure is one more
function appended to that list. Every number printed is measured in the run that prints it.
bench/README.md says what each figure means.
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
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpResponse
    from django.test import Client

    from ledger.models import Department, Item, Leader, User

ROOT = Path(__file__).resolve().parent.parent
# Run as ``python bench/run.py``, the script's folder comes first on sys.path, not the
# project: put the project there so ``rectify`` and ``ledger`` import from this checkout.
sys.path.insert(0, str(ROOT))

DEFAULT_ITEMS = 100_000
DEFAULT_TRANSITIONS = 300
DEFAULT_REPEAT = 20
# Items built and inserted per chunk: bounds memory (events are ~2 per item) while keeping
# each bulk_create large. The backend still splits a chunk into statements it can take.
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
    draft_ids: list[int]  # draft items the seeding kept for the transition figures
    detail_id: int  # an item with a history, progress reports and suggestions
    transitions: int  # K, after capping to the drafts available


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
    args = parser.parse_args(argv)
    if args.items < 200:
        parser.error("--items must be at least 200 (the figures need drafts and shares)")
    if args.transitions < 1 or args.repeat < 1:
        parser.error("--transitions and --repeat must be at least 1")
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
    os.environ["ALLOWED_HOSTS"] = "testserver"
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


def seed(args: argparse.Namespace, rng: random.Random) -> tuple[Bench, list[Figure]]:
    """Insert rounds, categories, departments, leaders, users and N items with histories."""
    from django.db import connection, transaction
    from django.db.models import Count

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
    with transaction.atomic():
        seeder = Seeder(rng)
        for chunk_start in range(0, args.items, CHUNK):
            seeder.add_items(chunk_start, min(chunk_start + CHUNK, args.items), args.items)
    if connection.vendor == "postgresql":
        # Autovacuum would analyze the fresh tables within a minute in production; do it
        # now so that the planner chooses the plans a steady-state server would.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    seconds = time.perf_counter() - started
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
    detail_id = _prepare_detail_item(busiest, seeder.officials[busiest.pk])

    bench = Bench(
        args=args,
        rng=rng,
        items=args.items,
        supervisor=seeder.supervisor,
        officials=seeder.officials,
        departments=seeder.departments,
        leaders=seeder.leaders,
        busiest=busiest,
        draft_ids=draft_ids,
        detail_id=detail_id,
        transitions=k,
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


def _cumulative(weights: list[float]) -> list[float]:
    # rng.choices with cum_weights skips re-adding the weights on every call.
    return list(itertools.accumulate(weights))


class Seeder:
    """Makes the fixed rows at once, then items chunk by chunk (``add_items``)."""

    def __init__(self, rng: random.Random) -> None:
        from django.contrib.auth.hashers import make_password
        from django.utils import timezone

        from ledger.models import Category, Department, Leader, Round, User

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
        self.seqs = {r.pk: 0 for r in self.rounds}

    def add_items(self, start: int, end: int, total: int) -> None:
        """Items ``start``..``end`` of ``total``, their co-departments and their events."""
        from django.db import connection

        from ledger.models import Event, Item

        items: list[Item] = []
        histories: list[list[tuple[Any, ...]]] = []
        first_round_share = int(total * 0.55)  # 547 : 447 in the seeds
        for index in range(start, end):
            r = self.rounds[0] if index < first_round_share else self.rounds[1]
            self.seqs[r.pk] += 1
            item = self.make_item(r, self.seqs[r.pk])
            items.append(item)
            histories.append(self.history(item))
        Item.objects.bulk_create(items, batch_size=BATCH_SIZE)

        ops = connection.ops
        shares: list[tuple[int, int]] = []
        events: list[tuple[Any, ...]] = []
        for item, history in zip(items, histories, strict=True):
            if item.pk is None:
                raise BenchFailure("bulk_create did not return primary keys")
            if item.lead_department_id is not None:
                picked = self.rng.choices(
                    self.dept_ids, cum_weights=self.dept_cum, k=self.rng.randint(0, 2)
                )
                shares.extend(
                    (item.pk, pk) for pk in sorted(set(picked) - {item.lead_department_id})
                )
            events.extend(event_row(ops, item.pk, event) for event in history)
        insert_rows(Item.co_departments.through, ["item", "department"], shares)
        insert_rows(Event, EVENT_COLUMNS, events)
        self.rows["items"] += len(items)
        self.rows["co-departments"] += len(shares)
        self.rows["events"] += len(events)

    def make_item(self, r: Any, seq: int) -> Item:
        """One believable item in a random state, with the fields that state implies."""
        from ledger.models import Item

        rng, today, now = self.rng, self.today, self.now
        category = rng.choice(self.categories[r.pk])
        title = rng.choice(PLACES) + rng.choice(PROBLEMS[category.name])
        if rng.random() < 0.2:
            title = "建议解决" + title
        state = rng.choices(self.states, cum_weights=self.state_cum)[0]
        created = now - datetime.timedelta(days=rng.randint(30, 400), minutes=rng.randint(0, 1440))
        fields: dict[str, Any] = {
            "round_id": r.pk,
            "number": f"{r.code}-{seq:06d}",
            "category_id": category.pk,
            "title": title,
            "track": "joint" if rng.random() < 0.3 else "immediate",
            "state": state,
            "created_at": created,
            "updated_at": created,
        }
        leader_id = rng.choices(self.leader_ids, cum_weights=self.leader_cum)[0]
        if state == "draft":
            # Half the drafts were never assigned; the other half came back declined,
            # with the leader and deadline kept but no lead department.
            if rng.random() < 0.5:
                fields["leader_id"] = leader_id
                fields["deadline"] = today + datetime.timedelta(days=rng.randint(30, 120))
            return Item(**fields)
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
        return Item(**fields)

    def history(self, item: Item) -> list[tuple[Any, ...]]:
        """The events that brought a seeded item to its state, as ledger.workflow writes
        them: (actor, kind, from, to, note, data, at) each.

        Called before the item is inserted: it also sets the version, updated_at and
        updated_by those transitions leave on the row.
        """
        from django.utils import timezone

        official = self.officials.get(item.lead_department_id)
        at = item.created_at
        events: list[tuple[Any, ...]] = []
        for i, kind in enumerate(STEPS[: PATH.index(item.state)]):
            at = at + datetime.timedelta(days=3 + i * 10, hours=i)
            if kind == "approve":
                # Approved on the day the item says it was closed out, or just after the
                # request if that day came first; the row then shows the day of the event.
                closed = timezone.make_aware(
                    datetime.datetime.combine(item.closed_on, datetime.time(10))
                )
                at = min(max(at, closed), self.now)
                item.closed_on = timezone.localdate(at)
            actor = self.supervisor if kind in {"assign", "approve"} else official
            data: dict[str, str] = {}
            note = ""
            if kind == "assign":
                data = {
                    "leader": self.leader_labels[item.leader_id],
                    "lead_department": self.dept_names[item.lead_department_id],
                    "deadline": item.deadline.isoformat(),
                }
            elif kind in {"request", "approve"}:
                data = {"outcome_kind": item.outcome_kind}
                note = item.outcome if kind == "request" else ""
            events.append((actor.pk, kind, PATH[i], PATH[i + 1], note, data, at))
        item.version = 1 + len(events)
        if events:
            item.updated_at, item.updated_by_id = at, events[-1][0]
        return events


STEPS = ["assign", "start", "request", "approve"]
PATH = ["draft", "assigned", "in_progress", "requested", "closed"]


def insert_rows(model: type[Any], names: list[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert plain tuples into ``model``'s table, many rows per INSERT statement.

    Events and co-department links are three rows in four that the seeding writes, and
    through bulk_create they took about 40% of its time: the ORM builds a model instance
    and prepares every value of every row in Python. They need no primary keys back and
    have no signals or Python-side defaults, so they go in as tuples, their values already
    in the form the backend takes (see ``event_row``).

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


def _prepare_detail_item(department: Department, official: User) -> int:
    """Give one in-progress item of ``department`` progress reports and suggestions."""
    from django.db.models import Count
    from django.utils import timezone

    from ledger import workflow
    from ledger.models import Item, Suggestion

    item = (
        Item.objects.filter(state="in_progress", lead_department=department)
        .annotate(shares=Count("co_departments"))
        .filter(shares__gte=1)
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
                seq=1_000_000 + i,
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


def _ledger_page_count(client: Client, url: str, who: str) -> tuple[int, int]:
    """(pages, visible items) as the view's paginator counts them.

    Read from response.context, which the test client fills only while Django's template
    instrumentation is installed. It copies every template context and so slows rendering:
    it is on for this one untimed request only.
    """
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment(debug=False)
    try:
        response = client.get(url)
        _check(response, url, who)
        paginator = response.context["page"].paginator
        return paginator.num_pages, paginator.count
    finally:
        teardown_test_environment()


def time_page(
    bench: Bench, client: Client, url: str, label: str, who: str, detail: str = ""
) -> Figure:
    """Median wall time of R requests to ``url``, and the queries one request runs.

    The first request (counted, untimed) also warms the template cache and the connection,
    as any request after a server's first would find them.
    """
    repeat = bench.args.repeat
    with count_queries() as captured:
        bench_get(client, url, who)
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - started)
        _check(response, url, who)
    median_ms = statistics.median(samples) * 1000
    extra = f", {detail}" if detail else ""
    return Figure(
        label,
        median_ms,
        f"ms (median of {repeat})",
        f"{len(captured)} queries{extra}",
        {
            "url": url,
            "queries": len(captured),
            "samples_ms": [round(s * 1000, 3) for s in samples],
            "sql": [{"ms": float(q["time"]) * 1000, "sql": q["sql"]} for q in captured],
        },
    )


def bench_get(client: Client, url: str, who: str) -> HttpResponse:
    response = client.get(url)
    _check(response, url, who)
    return response


def _client_for(user: User) -> Client:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def measure_ledger_pages(bench: Bench) -> list[Figure]:
    """The ledger list, first and last page, for a supervisor (all N items) and for an
    official of the busiest department (its led and shared items)."""
    from django.urls import reverse

    say(f"measuring ledger pages (R={bench.args.repeat})…")
    url = reverse("ledger:items")
    figures = []
    official = bench.officials[bench.busiest.pk]
    for who, user in (("supervisor", bench.supervisor), ("official", official)):
        client = _client_for(user)
        pages, visible = _ledger_page_count(client, url, who)
        if visible == 0:
            raise BenchFailure(f"the ledger shows the {who} no items")
        sees = f"sees {visible:,} items"
        figures.append(time_page(bench, client, url, f"ledger page 1, {who}", who, sees))
        # The label stays the same from run to run (so JSON files compare); the page
        # number, which grows with N, goes in the detail.
        figures.append(
            time_page(
                bench,
                client,
                f"{url}?page={pages}",
                f"ledger last page, {who}",
                who,
                f"page {pages:,}",
            )
        )
    return figures


def measure_item_detail(bench: Bench) -> list[Figure]:
    """One item's page: its history, five progress reports, three suggestions, the forms
    for the actions the viewer may take."""
    from django.urls import reverse

    from ledger.models import Item

    say("measuring the item page…")
    item = Item.objects.get(pk=bench.detail_id)
    url = reverse("ledger:item", args=[item.pk])
    official = bench.officials[bench.busiest.pk]
    figures = []
    for who, user in (("supervisor", bench.supervisor), ("lead official", official)):
        client = _client_for(user)
        response = bench_get(client, url, who)
        if item.number.encode() not in response.content:
            raise BenchFailure(f"the item page for {who} does not show {item.number}")
        figures.append(
            time_page(
                bench,
                client,
                url,
                f"item detail, {who}",
                who,
                f"{item.events.count()} events, {item.progress.count()} progress",
            )
        )
    return figures


# The figures, in the order they are printed. A later figure is one more function here.
MEASUREMENTS: list[Callable[[Bench], list[Figure]]] = [
    measure_transitions,
    measure_ledger_pages,
    measure_item_detail,
]


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


def render(env: dict[str, str], figures: list[Figure]) -> str:
    key_width = max(len(k) for k in env) + 2
    lines = [f"{key:<{key_width}}{value}" for key, value in env.items()]
    lines.append("")
    label_width = max(len("figure"), *(len(f.label) for f in figures)) + 2
    lines.append(f"{'figure':<{label_width}}{'value':>10}  unit")
    for f in figures:
        unit = f"{f.unit}, {f.detail}" if f.detail else f.unit
        lines.append(f"{f.label:<{label_width}}{format_value(f.value):>10}  {unit}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="rectify-bench-"))
    temporary = not args.database_url
    try:
        configure(args, scratch)
        import django

        django.setup()
        say("creating the schema…")
        prepare_database(args)
        rng = random.Random(args.seed)
        bench, figures = seed(args, rng)
        for measure in MEASUREMENTS:
            figures.extend(measure(bench))
        env = environment(args, bench, temporary)
        print(render(env, figures), flush=True)
        if args.json:
            args.json.write_text(
                json.dumps(
                    {"environment": env, "figures": [dataclasses.asdict(f) for f in figures]},
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
