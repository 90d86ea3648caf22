"""Rows of a ledger (问题台账) → items of a round, with their responsibility filled in.

Every row becomes a new item in the state draft (待交办), its leader, lead and
co-responsible departments, deadline (or 长期坚持), measures, goal and responsible person
filled from the file. Assigning is left to the supervisor (the review queue's bulk
assignment), because assigning notifies departments and needs a deadline still ahead:
an old ledger with past deadlines imports without failing, and nothing reaches a
department before someone has looked. A row whose number is already an item of the round
is refused: an import never overwrites an item that has a history. The state and progress
columns the export writes are read past: history cannot be imported.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime
import re
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ledger.models import Category, Department, Item, Leader, Round

from . import names as names_module
from .feedback import Refusal
from .names import CATEGORY, DEPARTMENT, LEADER, Names, Unknown, Unknowns
from .reading import IntakeError, Table, clean, read_table

FIELDS: dict[str, tuple[str, ...]] = {
    "number": ("编号", "事项编号", "台账编号", "序号", "Number", "No.", "No"),
    "title": (
        "问题",
        "整改事项",
        "问题描述",
        "存在问题",
        "问题清单",
        "意见建议",
        "Problem",
        "Item",
        "Title",
    ),
    "category": ("类别", "所属领域", "领域", "分类", "Category"),
    "leader": ("责任领导", "市级领导", "牵头领导", "分管领导", "Responsible leader", "Leader"),
    "lead": ("牵头单位", "牵头部门", "责任单位", "主办单位", "Lead department"),
    "co": (
        "配合单位",
        "协办单位",
        "责任部门",
        "配合部门",
        "协办部门",
        "Co-responsible departments",
    ),
    "deadline": ("整改时限", "完成时限", "办结时限", "时限", "Deadline"),
    "measures": ("整改措施", "Measures"),
    "goal": ("整改目标", "Goal"),
    "person": ("责任人", "整改责任人", "Responsible person"),
}
MULTILINE = ("title", "measures", "goal", "co")
LONG_TERM_WORDS = {"长期坚持", "长期", "long-term", "longterm", "ongoing"}
SEPARATORS = re.compile(r"[、，,;；/／\n]+")
EXCEL_EPOCH = datetime.date(1899, 12, 30)


# --- Deadlines -------------------------------------------------------------------------------

_YMD = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_MONTH_END = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?\s*(底|末|月底|月末)?$")
_YEAR_END = re.compile(r"^(\d{4})\s*年\s*(底|末|年底)$")


def parse_deadline(value: Any) -> tuple[datetime.date | None, bool]:
    """(deadline, long_term) from a cell; raises ValueError for what is not a deadline.

    Forms: a date cell, an Excel serial number, 2020-12-31, 2020/12/31, 2020.12.31,
    2020年12月31日, 2020年12月底 (the month's last day), 2020年底, 长期坚持."""
    if value is None or value == "":
        return None, False
    if isinstance(value, datetime.datetime):
        return value.date(), False
    if isinstance(value, datetime.date):
        return value, False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 1 <= value < 2958466:
            return EXCEL_EPOCH + datetime.timedelta(days=int(value)), False
        raise ValueError
    text = clean(value).replace(" ", "")
    if text.lower() in LONG_TERM_WORDS:
        return None, True
    if text.isdigit() and 20000 <= int(text) < 80000:  # a serial number written as text
        return EXCEL_EPOCH + datetime.timedelta(days=int(text)), False
    if m := _YMD.match(text):
        return datetime.date(int(m[1]), int(m[2]), int(m[3])), False
    if (m := _MONTH_END.match(text)) and (m[3] or "月" in text):
        year, month = int(m[1]), int(m[2])
        return datetime.date(year, month, calendar.monthrange(year, month)[1]), False
    if m := _YEAR_END.match(text):
        return datetime.date(int(m[1]), 12, 31), False
    raise ValueError


# --- Names -----------------------------------------------------------------------------------


_key = names_module.key


class UnknownName(ValueError):
    """A leader or department that is not on file (or only deactivated); its message is
    the refusal of a row, as the commands print it."""

    def __init__(self, unknown: Unknown) -> None:
        super().__init__(str(unknown))
        self.unknown = unknown


class Directory:
    """Leaders and departments by normalised name, read once per import.

    With ``active_only`` a deactivated leader or department is never matched (no new item
    may name it) but still recognised, so that the refusal says why."""

    def __init__(self, *, active_only: bool = False) -> None:
        departments = list(Department.objects.all())
        leaders = list(Leader.objects.all())
        self.deactivated_departments: set[str] = set()
        self.deactivated_leaders: list[Leader] = []
        if active_only:
            self.deactivated_departments = {_key(d.name) for d in departments if not d.is_active}
            self.deactivated_leaders = [x for x in leaders if not x.is_active]
            departments = [d for d in departments if d.is_active]
            leaders = [x for x in leaders if x.is_active]
        self.departments = {_key(d.name): d for d in departments}
        self.leaders = leaders
        self.leader_full = {_key(f"{x.post}{x.name}"): x for x in self.leaders}
        self.leader_names: dict[str, list[Leader]] = {}
        for leader in self.leaders:
            self.leader_names.setdefault(_key(leader.name), []).append(leader)
        # One Unknown a name, however many rows use it: the closest names are looked for once.
        self._unknown: dict[tuple[str, str], Unknown] = {}

    def department(self, text: str) -> Department:
        key = _key(text)
        if key in self.departments:
            return self.departments[key]
        unknown = self._unknown.get((DEPARTMENT, key))
        if unknown is None:
            known = {d.name: d for d in self.departments.values()}
            unknown = self._unknown[DEPARTMENT, key] = Unknown(
                DEPARTMENT,
                key,
                text,
                [],
                [known[n] for n in names_module.closest(key, list(known))],
                deactivated=key in self.deactivated_departments,
            )
        raise UnknownName(unknown)

    def leader(self, text: str) -> Leader:
        """By 姓名, 职务+姓名 like “常务副市长 张三”, or 姓名（职务）."""
        key = _key(text)
        if key in self.leader_full:
            return self.leader_full[key]
        post, name = names_module.split_leader(text)
        if post and _key(f"{post}{name}") in self.leader_full:
            return self.leader_full[_key(f"{post}{name}")]
        by_name = self.leader_names.get(key, [])
        if len(by_name) == 1:
            return by_name[0]
        if not by_name:
            # 职务+姓名 with another wording of the post: the name is the end of the text.
            by_name = [x for x in self.leaders if key.endswith(_key(x.name)) and x.name]
            if not by_name and post:
                by_name = self.leader_names.get(_key(name), [])
            if len(by_name) == 1:
                return by_name[0]
        if len(by_name) > 1:
            raise ValueError(
                _("“%(name)s” could be any of %(names)s: write the post before the name")
                % {"name": text, "names": "、".join(str(x) for x in by_name)}
            )
        unknown = self._unknown.get((LEADER, key))
        if unknown is None:
            # Closest as written ("副市长 黄建军" → "副市长 黄建国"), else by the name alone.
            known = {str(x): x for x in self.leaders}
            close = [known[n] for n in names_module.closest(text, list(known))]
            if not close:
                by_name = {x.name: x for x in reversed(self.leaders)}
                close = [by_name[n] for n in names_module.closest(key, list(by_name))]
            unknown = self._unknown[LEADER, key] = Unknown(
                LEADER,
                key,
                text,
                [],
                close,
                deactivated=any(
                    key in (_key(f"{x.post}{x.name}"), _key(x.name))
                    or (x.name and key.endswith(_key(x.name)))
                    or (post and _key(name) == _key(x.name))
                    for x in self.deactivated_leaders
                ),
            )
        raise UnknownName(unknown)


# --- The plan --------------------------------------------------------------------------------


@dataclasses.dataclass
class LedgerPlan:
    round: Round
    table: Table
    items: list[Item]
    co_departments: list[list[Department]]  # beside items, in the same order
    new_categories: list[str]  # named by rows and not answered: created as written
    refused: list[Refusal]
    past_deadlines: int
    # Each name not on file, once, with the rows that use it (names.py).
    unknown: list[Unknown] = dataclasses.field(default_factory=list)
    # Rows left out only because a name they use is not answered yet.
    held: int = 0
    names: Names | None = None

    @property
    def rows_read(self) -> int:
        return len(self.table.rows)

    @property
    def to_create(self) -> list:
        """The leaders, departments and categories the supervisor chose to create that the
        accepted rows use: made on confirm, with the items."""
        return names_module.unsaved(
            x
            for item, co in zip(self.items, self.co_departments, strict=True)
            for x in (item.lead_department, item.leader, item.category, *co)
        )


def _next_numbers(round: Round, taken: set[str]):
    n = 0
    while True:
        n += 1
        number = f"{round.code}-{n:04d}"
        if number not in taken:
            taken.add(number)
            yield number


def _look_up(find, text: str, row: int, names: Names | None, unknowns: Unknowns):
    """(what ``find`` finds for ``text`` or what the supervisor answered for it, the
    refusal when neither, whether the refusal is a name not on file)."""
    try:
        return find(text), "", False
    except UnknownName as e:
        unknown = unknowns.add(e.unknown, row)
        target = names.get(unknown.kind, unknown.key) if names is not None else None
        return target, "" if target is not None else str(e), True
    except ValueError as e:
        return None, str(e), False


def plan_ledger(round: Round, data: bytes, name: str, names: Names | None = None) -> LedgerPlan:
    """Read ``data`` and check every row against the round and the names on file.

    Without ``names`` (the commands) a row naming a leader or department not on file is
    refused with the closest known names. With ``names`` (the web: the supervisor's
    answers, possibly none yet) such a row is held until its names are answered, each
    unknown name being listed once in ``unknown``. A category the round does not have is
    created as written unless an answer says otherwise."""
    table = read_table(
        data, name, fields=FIELDS, required="title", multiline=MULTILINE, raw=("deadline",)
    )
    directory = Directory(active_only=True)
    categories = {c.name: c for c in Category.objects.filter(round=round)}
    taken = set(Item.objects.filter(round=round).values_list("number", flat=True))
    unknowns = Unknowns()
    in_file: dict[str, int] = {}
    refused: list[Refusal] = []
    planned: list[tuple[dict, list[Department], str, Category | None]] = []
    new_categories: dict[str, None] = {}
    today = timezone.localdate()
    past = held = 0
    for row in table.rows:
        v = row.values
        reasons: list[str] = []
        pending: list[str] = []  # names not on file and not answered
        title = v.get("title", "")
        if not title:
            reasons.append(_("the problem (问题) is empty"))
        elif len(title) > 300:
            reasons.append(_("the problem is longer than 300 characters"))
        number = v.get("number", "")
        if number:
            if number in taken:
                reasons.append(
                    _("item %(number)s already exists in this round") % {"number": number}
                )
            elif number in in_file:
                reasons.append(
                    _("number %(number)s is also the number of row %(other)s")
                    % {"number": number, "other": in_file[number]}
                )
            elif len(number) > 32:
                reasons.append(_("the number is longer than 32 characters"))
        fields: dict[str, Any] = {
            "measures": v.get("measures", ""),
            "goal": v.get("goal", ""),
            "responsible_person": v.get("person", "")[:100],
        }
        lookups = []
        if v.get("leader"):
            lookups.append(("leader", directory.leader, v["leader"]))
        if v.get("lead"):
            lookups.append(("lead_department", directory.department, v["lead"]))
        for part in SEPARATORS.split(v.get("co", "")):
            if part.strip():
                lookups.append(("co", directory.department, part))
        co: list[Department] = []
        for field, find, text in lookups:
            found, problem, not_on_file = _look_up(find, text, row.number, names, unknowns)
            if problem:
                (pending if not_on_file and names is not None else reasons).append(problem)
            elif field != "co":
                fields[field] = found
            elif found not in co and found != fields.get("lead_department"):
                co.append(found)
        try:
            deadline, long_term = parse_deadline(v.get("deadline"))
        except ValueError:
            reasons.append(
                _("“%(value)s” is not a deadline (write 2020-12-31, 2020年12月底 or 长期坚持)")
                % {"value": clean(v.get("deadline"))}
            )
            deadline, long_term = None, False
        fields.update(deadline=deadline, long_term=long_term)
        category = v.get("category", "")[:50]
        answered = None
        if category and category not in categories:
            unknown = unknowns.found.get((CATEGORY, category)) or Unknown(
                CATEGORY,
                category,
                category,
                [],
                names_module.closest_categories(category, list(categories.values())),
            )
            unknowns.add(unknown, row.number)
            answered = names.get(CATEGORY, category) if names is not None else None
        if reasons:
            refused.extend(Refusal(row.number, reason) for reason in reasons)
            continue
        if pending:
            held += 1
            continue
        if number:
            in_file[number] = row.number
        if deadline and deadline < today:
            past += 1
        if category and category not in categories and answered is None:
            new_categories[category] = None
        planned.append((fields | {"title": title, "number": number}, co, category, answered))
    numbers = _next_numbers(round, taken | set(in_file))
    items, co_lists = [], []
    now = timezone.now()
    for fields, co, category, answered in planned:
        fields["number"] = fields["number"] or next(numbers)
        items.append(
            Item(
                round=round,
                category=answered or categories.get(category),
                state=Item.State.DRAFT,
                created_at=now,
                updated_at=now,
                **fields,
            )
        )
        items[-1]._category_name = answered.name if answered else category
        co_lists.append(co)
    return LedgerPlan(
        round,
        table,
        items,
        co_lists,
        list(new_categories),
        refused,
        past,
        unknowns.listed(),
        held,
        names,
    )


def write_ledger(plan: LedgerPlan) -> int:
    """Write the plan's items, their categories and co-departments in one transaction,
    with the leaders, departments and categories the supervisor chose to create."""
    try:
        with transaction.atomic():
            names_module.create(plan.round, plan.to_create)
            on_file = {c.name: c for c in Category.objects.filter(round=plan.round)}
            top = max((c.order for c in on_file.values()), default=0)
            made = Category.objects.bulk_create(
                [
                    Category(round=plan.round, name=name, order=top + n * names_module.ORDER_STEP)
                    for n, name in enumerate(
                        (x for x in plan.new_categories if x not in on_file), 1
                    )
                ]
            )
            on_file.update({c.name: c for c in made})
            for item in plan.items:
                if item.category is None and item._category_name:
                    item.category = on_file[item._category_name]
            Item.objects.bulk_create(plan.items, batch_size=1000)
            through = Item.co_departments.through
            links = [
                through(item_id=item.pk, department_id=department.pk)
                for item, departments in zip(plan.items, plan.co_departments, strict=True)
                for department in departments
            ]
            through.objects.bulk_create(links, batch_size=2000)
    except IntegrityError:
        raise IntakeError(
            _(
                "Items were added to this round while you looked at the preview, and some "
                "numbers are now taken. Nothing was imported: check the file again."
            )
        ) from None
    return len(plan.items)
