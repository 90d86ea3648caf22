"""Names a file uses that are not on file: leaders, departments and categories.

A ledger names leaders and departments, and a ledger or a feedback file names categories,
as whoever typed it wrote them. A name that matches nothing on file (or only a deactivated
leader or department) is listed once by the plan, with the rows it appears in and the
closest known names (``Unknowns``), and the supervisor says what each one is: one on file,
or a new one to create (``Choice``). The answers (a mapping, plain JSON kept in the upload's
session entry) are checked against the database every time they are used (``check``), so an
answer that has gone stale since (a department deactivated, a name added by someone else)
is refused with its reason rather than written. New rows are made only on confirm, inside
the import's transaction (``create``).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, Model
from django.utils.translation import gettext as _

from ledger.models import Category, Department, Leader, Round

from .consolidation import match_category
from .reading import IntakeError, clean

LEADER, DEPARTMENT, CATEGORY = "leader", "department", "category"
KINDS = (LEADER, DEPARTMENT, CATEGORY)
MODELS: dict[str, type[Model]] = {LEADER: Leader, DEPARTMENT: Department, CATEGORY: Category}
PERMISSIONS = {LEADER: "ledger.add_leader", DEPARTMENT: "ledger.add_department"}
# Answers one upload keeps: more than any real file names, few enough for a session.
MAX_ANSWERS = 1000
# New rows go after those on file, this far apart, so that one can later be put between.
ORDER_STEP = 10


def key(text: str) -> str:
    """A leader's or department's name as imports compare it: cleaned, without spaces."""
    return clean(text).replace(" ", "")


def closest(word: str, names: Sequence[str], n: int = 3) -> list[str]:
    return difflib.get_close_matches(word, list(names), n=n, cutoff=0.4)


def closest_categories(text: str, categories: Sequence[Category]) -> list[Category]:
    """The round's categories most like ``text``: the one consolidation would match it to
    ("教育" → "教育事业") first, then difflib's."""
    by_pk = {c.pk: c for c in categories}
    by_name = {c.name: c for c in categories}
    picked = match_category(text, [(c.pk, c.name) for c in categories])
    found = [by_pk[picked]] if picked in by_pk else []
    found += [by_name[n] for n in closest(text, list(by_name)) if by_name[n] not in found]
    return found[:3]


# --- A leader's post and name ----------------------------------------------------------------

# The words a post ends with; the name follows it. "副市长" ends with 市长, "市委常委" with 常委.
_POST_WORDS = (
    "市长|书记|主任|主席|部长|局长|秘书长|常委|委员|院长|检察长|县长|区长|镇长|乡长|组长"
    "|政委|司令员|巡视员|调研员|专员|督导|理事长|会长|行长|经理|总监|处长|科长|校长|主任委员"
)
_NAME_IN_BRACKETS = re.compile(r"^(?P<name>[^（(]+?)\s*[（(](?P<post>[^）)]+)[）)]$")
_POST_THEN_NAME = re.compile(rf"^(?P<post>.*(?:{_POST_WORDS}))(?P<name>[^\s、，,]{{2,4}})$")
_ENDS_WITH_POST = re.compile(rf"(?:{_POST_WORDS})$")


def split_leader(text: str) -> tuple[str, str]:
    """(post, name) from a leader as a file writes them: "常务副市长 张三", "常务副市长张三",
    "张三（副市长）", "张三 副市长". A bare name gives no post: a new leader needs one, and the
    supervisor types it."""
    text = clean(text)
    if m := _NAME_IN_BRACKETS.match(text):
        return m["post"].strip()[:100], m["name"].strip()[:50]
    parts = text.split(" ")
    if len(parts) > 1:
        head, last = " ".join(parts[:-1]), parts[-1]
        if _ENDS_WITH_POST.search(last) and not _ENDS_WITH_POST.search(head):
            head, last = last, head  # name first, then the post
        return head[:100], last[:50]
    if m := _POST_THEN_NAME.match(text):
        return m["post"][:100], m["name"][:50]
    return "", text[:50]


# --- What a plan found -----------------------------------------------------------------------


@dataclasses.dataclass
class Unknown:
    """A name the file uses that is not on file, once however many rows use it."""

    kind: str  # LEADER, DEPARTMENT or CATEGORY
    key: str  # the name as the plan compares it: the mapping's key
    text: str  # as the file first writes it
    rows: list[int]  # the rows it appears in, as the spreadsheet numbers them
    closest: list[Model]  # known names like it, the closest first
    deactivated: bool = False  # on file, but deactivated: not for a new import

    @property
    def reason(self) -> str:
        if self.kind == LEADER:
            if self.deactivated:
                return _("the leader “%(name)s” is deactivated") % {"name": self.text}
            return _("unknown leader “%(name)s”") % {"name": self.text}
        if self.kind == DEPARTMENT:
            if self.deactivated:
                return _("the department “%(name)s” is deactivated") % {"name": self.text}
            return _("unknown department “%(name)s”") % {"name": self.text}
        return _("category “%(name)s” is not one of this round’s") % {"name": self.text}

    @property
    def hint(self) -> str:
        if not self.closest:
            return ""
        return _("closest known: %(names)s") % {"names": "、".join(map(str, self.closest))}

    def __str__(self) -> str:
        return self.reason + (f" ({self.hint})" if self.hint else "")

    def guess(self) -> tuple[str, str]:
        """(post, name) of the row to create, as first offered."""
        return split_leader(self.text) if self.kind == LEADER else ("", self.text)


class Unknowns:
    """The unknown names of one plan, each once, in the order the file first uses them."""

    def __init__(self) -> None:
        self.found: dict[tuple[str, str], Unknown] = {}

    def add(self, unknown: Unknown, row: int) -> Unknown:
        known = self.found.setdefault((unknown.kind, unknown.key), unknown)
        if not known.rows or known.rows[-1] != row:
            known.rows.append(row)
        return known

    def listed(self) -> list[Unknown]:
        """Leaders, then departments, then categories: the order of the preview."""
        return sorted(self.found.values(), key=lambda u: KINDS.index(u.kind))


# --- The supervisor's answers ----------------------------------------------------------------


@dataclasses.dataclass
class Choice:
    """One answer: an existing row (``to``), or a new one (its name, and a leader's post)."""

    to: int | None = None
    name: str = ""
    post: str = ""

    def as_json(self) -> dict[str, Any]:
        if self.to is not None:
            return {"to": self.to}
        return {"name": self.name, "post": self.post}

    @classmethod
    def from_json(cls, value: Any) -> Choice | None:
        if not isinstance(value, dict):
            return None
        if isinstance(value.get("to"), int):
            return cls(to=value["to"])
        return cls(name=str(value.get("name", "")).strip(), post=str(value.get("post", "")).strip())


def choices_of(mapping: Any) -> dict[tuple[str, str], Choice]:
    """The answers of a stored mapping ``{kind: {key: answer}}``; anything else is dropped."""
    answers: dict[tuple[str, str], Choice] = {}
    if not isinstance(mapping, dict):
        return answers
    for kind in KINDS:
        for k, value in (mapping.get(kind) or {}).items():
            choice = Choice.from_json(value)
            if choice is not None and len(answers) < MAX_ANSWERS:
                answers[kind, str(k)] = choice
    return answers


def as_mapping(answers: dict[tuple[str, str], Choice]) -> dict[str, dict[str, Any]]:
    mapping: dict[str, dict[str, Any]] = {}
    for (kind, k), choice in answers.items():
        mapping.setdefault(kind, {})[k] = choice.as_json()
    return mapping


class Names:
    """Checked answers: each (kind, key) → the row it stands for, on file or new (unsaved).

    A plan asks ``get`` for every unknown name it meets; the new rows its accepted rows
    use are created on confirm (``create``), and only those."""

    def __init__(
        self,
        round: Round,
        answers: dict[tuple[str, str], Choice] | None = None,
        targets: dict[tuple[str, str], Model] | None = None,
    ) -> None:
        self.round = round
        self.answers = answers or {}
        self.targets = targets or {}

    @property
    def mapping(self) -> dict[str, dict[str, Any]]:
        return as_mapping(self.answers)

    def get(self, kind: str, k: str) -> Model | None:
        return self.targets.get((kind, k))


def kind_of(row: Model) -> str:
    return next(kind for kind, model in MODELS.items() if isinstance(row, model))


def unsaved(rows: Iterable[Model | None]) -> list[Model]:
    """The new rows among ``rows``, each once: departments, then leaders, then categories
    (the order ``create`` saves them in)."""
    found = {id(r): r for r in rows if r is not None and r.pk is None}
    order = (DEPARTMENT, LEADER, CATEGORY)
    return sorted(found.values(), key=lambda r: order.index(kind_of(r)))


def create(round: Round, rows: list[Model]) -> None:
    """Save new rows after those on file. Call inside the import's transaction: a name that
    someone else added meanwhile refuses the whole import."""
    try:
        with transaction.atomic():
            for kind in (DEPARTMENT, LEADER, CATEGORY):
                of_kind = [r for r in rows if kind_of(r) == kind]
                if not of_kind:
                    continue
                if kind == CATEGORY:
                    on_file = Category.objects.filter(round=round)
                else:
                    on_file = MODELS[kind].objects.all()
                top = on_file.aggregate(top=Max("order"))["top"] or 0
                for n, row in enumerate(of_kind, 1):
                    row.order = top + n * ORDER_STEP
                    row.save(force_insert=True)
    except IntegrityError:
        raise IntakeError(
            _(
                "A name you chose to create was added by someone else meanwhile. Nothing "
                "was imported: check the file again and choose it in the list."
            )
        ) from None


def check(mapping: Any, *, round: Round, user) -> tuple[Names, dict[tuple[str, str], str]]:
    """The answers that still hold, as ``Names``, and a message for each one that does not:
    a row no longer on file (or deactivated, or another round's category), a new row the
    user may not create, a new leader without a name or a post, a new name that is on file
    by now. Nothing is written."""
    answers = choices_of(mapping)
    wanted: dict[str, set[int]] = {kind: set() for kind in KINDS}
    for (kind, _k), choice in answers.items():
        if choice.to is not None:
            wanted[kind].add(choice.to)
    on_file: dict[str, dict[int, Model]] = {
        LEADER: Leader.objects.filter(is_active=True).in_bulk(wanted[LEADER]),
        DEPARTMENT: Department.objects.filter(is_active=True).in_bulk(wanted[DEPARTMENT]),
        CATEGORY: Category.objects.filter(round=round).in_bulk(wanted[CATEGORY]),
    }
    targets: dict[tuple[str, str], Model] = {}
    errors: dict[tuple[str, str], str] = {}
    new: dict[tuple, Model] = {}  # one new row for several names that create the same
    for (kind, k), choice in answers.items():
        if choice.to is not None:
            target = on_file[kind].get(choice.to)
            if target is None:
                errors[kind, k] = _(
                    "What was chosen for “%(name)s” is no longer on file (or was "
                    "deactivated): choose again."
                ) % {"name": k}
            else:
                targets[kind, k] = target
            continue
        problem = _refuse_new(kind, choice, round=round, user=user)
        if problem:
            errors[kind, k] = problem
            continue
        ident = (kind, choice.post, key(choice.name) if kind == DEPARTMENT else choice.name)
        if ident not in new:
            if kind == LEADER:
                new[ident] = Leader(name=choice.name, post=choice.post)
            elif kind == DEPARTMENT:
                new[ident] = Department(name=choice.name)
            else:
                new[ident] = Category(round=round, name=choice.name)
        targets[kind, k] = new[ident]
    kept = {kk: c for kk, c in answers.items() if kk not in errors}
    return Names(round, kept, targets), errors


def _refuse_new(kind: str, choice: Choice, *, round: Round, user) -> str:
    """Why a new row cannot be made from this answer, or ""."""
    if kind in PERMISSIONS and not user.has_perm(PERMISSIONS[kind]):
        if kind == LEADER:
            return _(
                "You may not add leaders: choose one on file, or ask the administrator to "
                "add it first."
            )
        return _(
            "You may not add departments: choose one on file, or ask the administrator to "
            "add it first."
        )
    name, post = choice.name, choice.post
    if kind == LEADER:
        if not name or not post:
            return _("A new leader needs a name and a post.")
        if len(name) > 50 or len(post) > 100:
            return _("A leader’s name is at most 50 characters, a post at most 100.")
        same = Leader.objects.filter(name=name, post=post).first()
        label = f"{post} {name}"
    elif kind == DEPARTMENT:
        if not name:
            return _("Give the new department a name.")
        if len(name) > 100:
            return _("A department’s name is at most 100 characters.")
        # Compared as imports compare them: "市 教育局" is "市教育局".
        departments = Department.objects.only("name", "is_active")
        same = next((d for d in departments if key(d.name) == key(name)), None)
        label = name
    else:
        if not name:
            return _("Give the new category a name.")
        if len(name) > 50:
            return _("A category’s name is at most %(n)s characters.") % {"n": 50}
        if Category.objects.filter(round=round, name=name).exists():
            return _("This round already has a category “%(name)s”: choose it in the list.") % {
                "name": name
            }
        return ""
    if same is None:
        return ""
    if not same.is_active:
        return _(
            "“%(name)s” is on file but deactivated: choose another, or ask the administrator "
            "to reactivate it."
        ) % {"name": label}
    return _("“%(name)s” is on file by now: choose it in the list.") % {"name": label}
