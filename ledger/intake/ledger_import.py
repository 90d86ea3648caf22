"""Rows of a ledger (问题台账) → items of a round, with their responsibility filled in.

Every row becomes a new item in the state draft (待交办), its leader, lead and
co-responsible departments, deadline (or 长期坚持), measures, goal, responsible person and
remarks filled from the file. Assigning is left to the supervisor (the review queue's bulk
assignment), because assigning notifies departments and needs a deadline still ahead:
an old ledger with past deadlines imports without failing, and nothing reaches a
department before someone has looked. The state and progress columns the export writes
are named in the preview and not read: history cannot be imported. Each item created
gets its first event (创建), naming the file and the row it came from.

One numbering per round: a row keeps its number only when it already is one of the
round's (``<round code>-NNNN``, as ``_next_numbers`` writes them), is the first of the file
to have it, and no item of the round has it. Any other row is numbered on in the round's
numbering and keeps the file's number as ``Item.reference``: a 序号 column (1, 2, 3 …),
another office's numbers, a number repeated in the file or taken in the round. A row whose
number an item of the round already has (as its number or as its number as imported) with
the same problem is refused: that is the same row imported again, and an import never
overwrites an item that has a history.
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

from ledger import numbering as numbering_module
from ledger import workflow
from ledger.models import Category, Department, Item, Leader, Round, User

from . import names as names_module
from .feedback import Refusal
from .headers import HISTORY, LEDGER
from .names import CATEGORY, DEPARTMENT, LEADER, Names, Unknown, Unknowns
from .reading import IntakeError, Table, clean, read_table

FIELDS = LEDGER
MULTILINE = ("title", "measures", "goal", "co", "remarks")
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
class Numbering:
    """How the planned items are numbered: each keeps its number, or why it is renumbered."""

    kept: int = 0  # the file's number, already one of the round's numbering
    foreign: int = 0  # not in the round's numbering: a 序号, another office's number
    taken: int = 0  # an item of the round has it (with another problem)
    repeated: int = 0  # an earlier row of the file has it
    missing: int = 0  # no number in the file

    @property
    def renumbered(self) -> int:
        return self.foreign + self.taken + self.repeated


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
    file_name: str = ""  # as the creation events name it
    numbering: Numbering = dataclasses.field(default_factory=Numbering)

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
    """The round's next free numbers, on from its highest, as every other way of making an
    item numbers them (ledger/numbering.py)."""
    n = numbering_module.next_number(round) - 1
    while True:
        n += 1
        number = numbering_module.format_number(round, n)
        if number not in taken:
            taken.add(number)
            yield number


def in_numbering(round: Round, number: str) -> bool:
    """Whether ``number`` is written as ``_next_numbers`` writes the round's numbers."""
    prefix = f"{round.code}-"
    digits = number[len(prefix) :]
    return (
        number.startswith(prefix)
        and digits.isascii()
        and digits.isdigit()
        and int(digits) >= 1
        and f"{int(digits):04d}" == digits
    )


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


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
        data,
        name,
        fields=FIELDS,
        required="title",
        multiline=MULTILINE,
        raw=("deadline",),
        multi=("co",),
        unread=(HISTORY,),
        section="category",
    )
    directory = Directory(active_only=True)
    categories = {c.name: c for c in Category.objects.filter(round=round)}
    # Withdrawn items keep their numbers: all of them count.
    existing = list(
        Item.all_objects.filter(round=round).values_list("number", "reference", "title")
    )
    taken = {number for number, _reference, _title in existing}
    # A number as a file gives it → (number, problem) of each item that has it, as its
    # number or as its number as imported: what tells a row imported before.
    had: dict[str, list[tuple[str, str]]] = {}
    for number, reference, title in existing:
        had.setdefault(number, []).append((number, title))
        if reference:
            had.setdefault(reference, []).append((number, title))
    # The round's numbers the file gives, refused rows' included, are not handed to others:
    # a row corrected and imported later still finds its number free.
    reserved = {
        number for row in table.rows if in_numbering(round, number := row.values.get("number", ""))
    }
    unknowns = Unknowns()
    refused: list[Refusal] = []
    planned: list[tuple[int, dict, list[Department], str, Category | None]] = []
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
        if len(number) > 32:
            reasons.append(_("the number is longer than 32 characters"))
        elif number and title:
            again = next((n for n, t in had.get(number, ()) if _same_text(t, title)), None)
            if again is not None:
                reasons.append(
                    _(
                        "imported before: item %(item)s of this round has this number "
                        "(%(number)s) and this problem"
                    )
                    % {"item": again, "number": number}
                )
        fields: dict[str, Any] = {
            "measures": v.get("measures", ""),
            "goal": v.get("goal", ""),
            "remarks": v.get("remarks", ""),
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
        if deadline and deadline < today:
            past += 1
        if category and category not in categories and answered is None:
            new_categories[category] = None
        planned.append(
            (row.number, fields | {"title": title, "number": number}, co, category, answered)
        )
    numbers = _next_numbers(round, taken | reserved)
    numbering = Numbering()
    in_file: set[str] = set()
    items, co_lists = [], []
    now = timezone.now()
    for row_number, fields, co, category, answered in planned:
        given = fields["number"]
        if not given:
            numbering.missing += 1
        elif not in_numbering(round, given):
            numbering.foreign += 1
        elif given in taken:
            numbering.taken += 1
        elif given in in_file:
            numbering.repeated += 1
        else:
            numbering.kept += 1
            in_file.add(given)
            fields["reference"] = ""
        if "reference" not in fields:
            fields.update(number=next(numbers), reference=given)
        item = Item(
            round=round,
            category=answered or categories.get(category),
            state=Item.State.DRAFT,
            created_at=now,
            updated_at=now,
            **fields,
        )
        item._category_name = answered.name if answered else category
        item._creation = {"row": row_number, "reference": item.reference}
        items.append(item)
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
        file_name=name.replace("\\", "/").rsplit("/", 1)[-1],
        numbering=numbering,
    )


def write_ledger(plan: LedgerPlan, by: User | None = None) -> int:
    """Write the plan's items, their categories and co-departments in one transaction,
    with the leaders, departments and categories the supervisor chose to create, and each
    item's creation event (by ``by``: the supervisor on the web, no one for a command)."""
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
            workflow.record_creation(plan.items, by=by, how="ledger", file=plan.file_name)
    except IntegrityError:
        raise IntakeError(
            _(
                "Items were added to this round while you looked at the preview, and some "
                "numbers are now taken. Nothing was imported: check the file again."
            )
        ) from None
    return len(plan.items)
