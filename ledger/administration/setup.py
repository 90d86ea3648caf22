"""Bulk set-up from one workbook (批量导入部门、领导和账号): departments, leaders, accounts.

An office's first administrator fills in one workbook with up to three sheets, each
recognised by its header, not its name. ``plan_setup`` reads and checks it and says what
would be written; nothing touches the database but reads. ``write_setup`` writes a plan's
rows in one transaction, all or none, and returns the new accounts with their one-time
passwords, which exist nowhere else: the caller hands them out once and forgets them.

A department already on file (the same name), or a leader (the same name and post), is
kept as it is: the workbook never changes what is on file. A department or leader the
workbook creates counts as known to the accounts sheet of the same workbook.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Max
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_variables
from openpyxl import Workbook
from openpyxl.styles import Font

from ledger.intake.export import FORMULA_STARTS, cell_text
from ledger.intake.feedback import Refusal
from ledger.intake.ledger_import import EXCEL_EPOCH, Directory
from ledger.intake.reading import IntakeError, SheetTable, TableKind, clean, read_tables
from ledger.models import Department, Leader, User

from .passwords import one_time_password

# The header names of each sheet (first = preferred). The accounts sheet is tried first
# and the departments sheet last: an accounts sheet has a 部门 column and a 姓名 column
# too, and only its 用户名 tells it from the others.
FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "accounts": {
        "username": ("用户名", "登录名", "账号", "Username", "User name"),
        "name": ("姓名", "Full name", "Name"),
        "role": ("角色", "Role"),
        "department": ("部门", "单位", "部门名称", "单位名称", "Department"),
        "leader": ("领导", "Leader"),
        "email": ("邮箱", "电子邮箱", "Email", "E-mail"),
    },
    "leaders": {
        "name": ("姓名", "领导姓名", "Name"),
        "post": ("职务", "Post"),
        "term_start": ("任期开始", "任职时间", "Term starts"),
        "term_end": ("任期结束", "Term ends"),
        "order": ("排序", "顺序", "Order"),
    },
    "departments": {
        "name": ("部门", "单位", "部门名称", "单位名称", "Department"),
        "order": ("排序", "顺序", "Order"),
        "email": ("邮箱", "电子邮箱", "通知邮箱", "Email", "E-mail"),
    },
}
KINDS = {
    "accounts": TableKind(gettext_lazy("a sheet of accounts"), FIELDS["accounts"], ("username",)),
    "leaders": TableKind(
        gettext_lazy("a sheet of leaders"),
        FIELDS["leaders"],
        ("name", "post"),
        raw=("term_start", "term_end"),
    ),
    "departments": TableKind(
        gettext_lazy("a sheet of departments"), FIELDS["departments"], ("name",)
    ),
}

# The words a 角色 cell may hold; the role's value (supervisor …) is accepted too.
ROLE_WORDS: dict[str, tuple[str, ...]] = {
    User.Role.SUPERVISOR: ("督查员", "考评办"),
    User.Role.OFFICIAL: ("部门经办人", "经办人", "部门", "Department official"),
    User.Role.LEADER: ("市级领导", "领导"),
    User.Role.ADMINISTRATOR: ("系统管理员", "管理员"),
}

_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*(?:[-/.月]\s*(\d{1,2})\s*日?|月)?$")


def _key(text: str) -> str:
    """A name as ``ledger_import.Directory`` keys it: cleaned, without spaces."""
    return clean(text).replace(" ", "")


def _word(text: str) -> str:
    return _key(text).lower()


ROLES: dict[str, str] = {
    _word(word): role for role, words in ROLE_WORDS.items() for word in (role, *words)
}


# --- The plan --------------------------------------------------------------------------------


@dataclasses.dataclass
class Kept:
    row: int
    name: str


@dataclasses.dataclass
class Section:
    """What one sheet would do: rows to create, rows kept as on file, rows refused."""

    kind: str
    table: SheetTable | None
    create: list[Any] = dataclasses.field(default_factory=list)
    kept: list[Kept] = dataclasses.field(default_factory=list)
    refused: list[Refusal] = dataclasses.field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return len(self.table.rows) if self.table else 0

    @property
    def title(self) -> str:
        return {
            "departments": _("Departments"),
            "leaders": _("Leaders"),
            "accounts": _("Accounts"),
        }[self.kind]


@dataclasses.dataclass
class SetupPlan:
    departments: Section
    leaders: Section
    accounts: Section

    @property
    def sections(self) -> list[Section]:
        return [self.departments, self.leaders, self.accounts]

    @property
    def to_create(self) -> int:
        return sum(len(section.create) for section in self.sections)

    @property
    def refused(self) -> int:
        return sum(len(section.refused) for section in self.sections)


def plan_setup(data: bytes, name: str) -> SetupPlan:
    """Read ``data`` and check every row; raises ``IntakeError`` for a file refused whole."""
    tables = read_tables(data, name, kinds=KINDS)
    directory = Directory()
    departments = _plan_departments(tables.get("departments"), directory)
    leaders = _plan_leaders(tables.get("leaders"), directory)
    accounts = _plan_accounts(tables.get("accounts"), directory)
    return SetupPlan(departments, leaders, accounts)


def _model_errors(obj: models.Model, table: SheetTable, columns: dict[str, str]) -> list[str]:
    """The model's own checks of each field (lengths, e-mail, the user name's characters),
    as reasons naming the file's column. Uniqueness, the constraints and the relations
    are checked by the plan for the whole file at once, and by the database on writing."""
    exclude = [f.name for f in obj._meta.fields if f.name not in columns]
    try:
        obj.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        reasons = []
        for field, messages in error.message_dict.items():
            column = table.columns.get(columns.get(field, ""))
            reasons.extend(
                _("%(column)s: %(message)s") % {"column": column, "message": message}
                if column
                else message
                for message in messages
            )
        return reasons
    return []


def _order(text: str, default: int) -> int:
    """An 排序 cell: a whole number, or the row's place in the sheet when empty."""
    if not text:
        return default
    if not text.isdigit():
        raise ValueError(
            _("“%(value)s” is not an order number (write a whole number)") % {"value": text}
        )
    return int(text)


def _next_order(model: type[models.Model]) -> int:
    """Rows without an 排序 follow those on file, in the sheet's order."""
    return model.objects.aggregate(n=Max("order"))["n"] or 0


def _plan_departments(table: SheetTable | None, directory: Directory) -> Section:
    section = Section("departments", table)
    if table is None:
        return section
    columns = {"name": "name", "email": "email", "order": "order"}
    seen: dict[str, int] = {}
    base = _next_order(Department)
    for place, row in enumerate(table.rows, 1):
        v = row.values
        name = v.get("name", "")
        key = _key(name)
        reasons: list[str] = []
        if not name:
            reasons.append(_("the department (部门) is empty"))
        elif key in seen:
            reasons.append(
                _("the department “%(name)s” is also on row %(other)s")
                % {"name": name, "other": seen[key]}
            )
        elif key in directory.departments:
            seen[key] = row.number
            section.kept.append(Kept(row.number, directory.departments[key].name))
            continue
        if reasons:
            section.refused.extend(Refusal(row.number, reason) for reason in reasons)
            continue
        seen[key] = row.number
        try:
            order = _order(v.get("order", ""), base + place)
        except ValueError as e:
            reasons.append(str(e))
            order = 0
        department = Department(name=name, email=v.get("email", ""), order=order)
        reasons.extend(_model_errors(department, table, columns))
        if reasons:
            section.refused.extend(Refusal(row.number, reason) for reason in reasons)
            continue
        section.create.append(department)
        directory.departments[key] = department
    return section


def parse_date(value: Any, *, end: bool = False) -> datetime.date | None:
    """A term's date: a date cell, an Excel serial number, 2021-01-05, 2021/1/5, 2021.1.5,
    2021年1月5日, or a month (2021年1月, 2021-01): its first day, or its last for ``end``.
    Raises ValueError for anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 1 <= value < 2958466:
            return EXCEL_EPOCH + datetime.timedelta(days=int(value))
        raise ValueError
    text = clean(value).replace(" ", "")
    if text.isdigit() and 20000 <= int(text) < 80000:  # a serial number written as text
        return EXCEL_EPOCH + datetime.timedelta(days=int(text))
    m = _DATE.match(text)
    if not m:
        raise ValueError
    year, month = int(m[1]), int(m[2])
    if m[3]:
        return datetime.date(year, month, int(m[3]))
    first = datetime.date(year, month, 1)
    if not end:
        return first
    return (first + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(days=1)


def _plan_leaders(table: SheetTable | None, directory: Directory) -> Section:
    section = Section("leaders", table)
    if table is None:
        return section
    columns = {
        "name": "name",
        "post": "post",
        "term_start": "term_start",
        "term_end": "term_end",
        "order": "order",
    }
    seen: dict[str, int] = {}
    base = _next_order(Leader)
    for place, row in enumerate(table.rows, 1):
        v = row.values
        name, post = v.get("name", ""), v.get("post", "")
        key = _key(f"{post}{name}")
        reasons: list[str] = []
        if not name:
            reasons.append(_("the leader's name (姓名) is empty"))
        if not post:
            reasons.append(_("the post (职务) is empty"))
        if not reasons:
            if key in seen:
                reasons.append(
                    _("the leader “%(name)s” is also on row %(other)s")
                    % {"name": f"{post} {name}", "other": seen[key]}
                )
            elif key in directory.leader_full:
                seen[key] = row.number
                section.kept.append(Kept(row.number, str(directory.leader_full[key])))
                continue
        if reasons:
            section.refused.extend(Refusal(row.number, reason) for reason in reasons)
            continue
        seen[key] = row.number
        dates = {}
        for field in ("term_start", "term_end"):
            try:
                dates[field] = parse_date(v.get(field), end=field == "term_end")
            except ValueError:
                dates[field] = None
                reasons.append(
                    _("“%(value)s” is not a date (write 2021-01-05 or 2021年1月5日)")
                    % {"value": clean(v.get(field))}
                )
        if dates["term_start"] and dates["term_end"] and dates["term_end"] < dates["term_start"]:
            reasons.append(_("the term ends before it starts"))
        try:
            order = _order(v.get("order", ""), base + place)
        except ValueError as e:
            reasons.append(str(e))
            order = 0
        leader = Leader(name=name, post=post, order=order, **dates)
        reasons.extend(_model_errors(leader, table, columns))
        if reasons:
            section.refused.extend(Refusal(row.number, reason) for reason in reasons)
            continue
        # Someone of the same name on file under another post: most often a new post
        # for the same person, which the administrator should see before confirming.
        leader.namesakes = [str(x) for x in directory.leader_names.get(_key(name), [])]
        section.create.append(leader)
        directory.leaders.append(leader)
        directory.leader_full[key] = leader
        directory.leader_names.setdefault(_key(name), []).append(leader)
    return section


def _accepted_roles() -> str:
    return "、".join(word for words in ROLE_WORDS.values() for word in words[:2])


def _plan_accounts(table: SheetTable | None, directory: Directory) -> Section:
    section = Section("accounts", table)
    if table is None:
        return section
    columns = {"username": "username", "first_name": "name", "email": "email", "role": "role"}
    taken = {u.lower(): u for u in User.objects.values_list("username", flat=True).iterator()}
    with_account = dict(
        User.objects.filter(leader__isnull=False).values_list("leader_id", "username")
    )
    usernames: dict[str, int] = {}
    # id() of a leader → the row whose account signs in as it: a leader this workbook
    # creates has no key yet, and Django hashes no unsaved row.
    leaders: dict[int, int] = {}
    for row in table.rows:
        v = row.values
        # As Django's user model will store it, so that the checks below see that name.
        username = User.normalize_username(v.get("username", ""))
        reasons: list[str] = []
        if not username:
            reasons.append(_("the user name (用户名) is empty"))
        elif username.lower() in taken:
            reasons.append(
                _("the user name “%(name)s” is already taken") % {"name": taken[username.lower()]}
            )
        elif username.lower() in usernames:
            reasons.append(
                _("the user name “%(name)s” is also on row %(other)s")
                % {"name": username, "other": usernames[username.lower()]}
            )
        else:
            usernames[username.lower()] = row.number
        role = ROLES.get(_word(v.get("role", "")))
        if role is None:
            if v.get("role"):
                reasons.append(
                    _("unknown role “%(role)s” (write one of: %(words)s)")
                    % {"role": v["role"], "words": _accepted_roles()}
                )
            else:
                reasons.append(
                    _("the role (角色) is empty (write one of: %(words)s)")
                    % {"words": _accepted_roles()}
                )
        department = leader = None
        if role == User.Role.OFFICIAL:
            if not v.get("department"):
                reasons.append(_("A department official needs a department."))
            else:
                try:
                    department = directory.department(v["department"])
                except ValueError as e:
                    reasons.append(str(e))
                else:
                    if not department.is_active:
                        reasons.append(
                            _("the department “%(name)s” is deactivated")
                            % {"name": department.name}
                        )
        elif role == User.Role.LEADER:
            if not v.get("leader"):
                reasons.append(_("A leader's account needs the leader it signs in as."))
            else:
                try:
                    leader = directory.leader(v["leader"])
                except ValueError as e:
                    reasons.append(str(e))
                else:
                    if not leader.is_active:
                        reasons.append(_("the leader “%(name)s” is deactivated") % {"name": leader})
                    reasons.extend(_leader_taken(leader, with_account, leaders))
        user = User(
            username=username,
            first_name=v.get("name", "") or (leader.name if leader else ""),
            email=v.get("email", ""),
            role=role or "",
            department=department,
            leader=leader,
            must_change_password=True,
        )
        checked = columns if username else {f: c for f, c in columns.items() if f != "username"}
        reasons.extend(_model_errors(user, table, checked))
        if reasons:
            section.refused.extend(Refusal(row.number, reason) for reason in reasons)
            continue
        if leader is not None:
            leaders[id(leader)] = row.number
        section.create.append(user)
    return section


def _leader_taken(
    leader: Leader, with_account: dict[int, str], in_file: dict[int, int]
) -> Iterator[str]:
    """One account per leader: one on file, or one on an earlier row, refuses this one."""
    if leader.pk in with_account:
        yield _("the leader “%(leader)s” already has an account (“%(username)s”)") % {
            "leader": leader,
            "username": with_account[leader.pk],
        }
    elif id(leader) in in_file:
        yield _("the leader “%(leader)s” is also the leader of the account on row %(other)s") % {
            "leader": leader,
            "other": in_file[id(leader)],
        }


# --- Writing ---------------------------------------------------------------------------------


@dataclasses.dataclass
class SetupResult:
    departments: int
    leaders: int
    # The new accounts and their one-time passwords, in the sheet's order; kept nowhere.
    accounts: list[tuple[User, str]] = dataclasses.field(repr=False)


@sensitive_variables("passwords")
def _hash_all(passwords: list[str]) -> list[str]:
    """The passwords' hashes, several at once: the hasher is made slow on purpose, and
    hashlib lets other threads run while it works."""
    if not passwords:
        return []
    workers = min(len(passwords), os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(make_password, passwords))


@sensitive_variables("passwords", "made")
def write_setup(plan: SetupPlan) -> SetupResult:
    """Create the plan's departments, leaders and accounts in one transaction, or none.

    Each account is made as ``accounts.create_account`` makes one: a one-time password,
    ``must_change_password``, the model's field checks (done when planning). Uniqueness and
    the role's constraints, checked for the whole file by the plan, are the database's to
    enforce here: a clash with a row added since refuses the whole workbook."""
    users = plan.accounts.create
    passwords = [one_time_password() for _user in users]
    for user, hashed in zip(users, _hash_all(passwords), strict=True):
        user.password = hashed
        user.must_change_password = True
    try:
        with transaction.atomic():
            # Inserted rows get their keys back, so the accounts' departments and leaders
            # made here are linked when the accounts are inserted.
            Department.objects.bulk_create(plan.departments.create)
            Leader.objects.bulk_create(plan.leaders.create)
            User.objects.bulk_create(users, batch_size=500)
    except IntegrityError:
        raise IntakeError(
            _(
                "Accounts, departments or leaders were added while you looked at the "
                "preview, and some rows of the workbook now clash with them. Nothing was "
                "written: upload the workbook again."
            )
        ) from None
    made = list(zip(users, passwords, strict=True))
    return SetupResult(len(plan.departments.create), len(plan.leaders.create), made)


@sensitive_variables("accounts", "password")
def passwords_workbook(accounts: list[tuple[User, str]]) -> bytes:
    """The one-time passwords as a sheet to hand out: user name, name, role, department."""
    book = Workbook()
    sheet = book.active
    sheet.title = _("One-time passwords")[:31]
    sheet.append(
        [_("User name"), _("Full name"), _("Role"), _("Department"), _("One-time password")]
    )
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for user, password in accounts:
        department = user.department.name if user.department else ""
        texts = [user.username, user.first_name, user.get_role_display(), department]
        sheet.append([cell_text(text) for text in texts] + [password])
        # A name from the file could read as a formula: such a cell stays text.
        for cell in sheet[sheet.max_row][:4]:
            if isinstance(cell.value, str) and cell.value.startswith(FORMULA_STARTS):
                cell.data_type, cell.quotePrefix = "s", True
    for column, width in zip("ABCDE", (18, 14, 14, 22, 18), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
