"""No 500 for any input.

Every URL pattern the resolver knows is requested as anonymous and as each role (``ROLES``),
GET and POST, with fuzzed query parameters and form fields (``KINDS``): NUL, 10,000
characters, invalid UTF-8, a huge and a negative number, digits ``int()`` refuses, the
first and the last date, repeated keys where one value is expected, empty values. Path
converters are filled with real ids of a small ledger (items in several states, a published
notice and a draft, a round, jobs, evidence, users, departments, leaders, categories), and
with ids that do not exist. No answer may be a server error; every failure is collected and
reported in one message.

The fields sent are those of the forms the pages draw (read from their HTML, whichever
role drew them) and common names (``COMMON_FIELDS``). A POST starts from what the form
holds (the item's version, the selected options, …) and puts the kind's value in every
field, or for a date kind in the date fields alone, so that the date reaches the checks
behind the form. Every URL × role × kind is sent at least once, not every combination:
where a view lets the role in, each kind goes to every action of the URL, in the query
string by a GET and in the form by a POST (one POST for both when the URL takes only POST),
and each (role, kind) takes the next of the pattern's ids, so that items in every state
meet every kind; where the view turns the role away before it reads anything, one POST
carries all the kinds but NUL, a kind a field, and another carries NUL.

The client does not enforce CSRF (the test client's default, ``enforce_csrf_checks=False``):
CSRF is not the point here, and a refused token would hide the view behind it.

Each request runs in a savepoint that is rolled back, and the client's cookies are put back
after it: a POST that succeeds (a deletion, a sign-out, a password reset) leaves the ledger
and the session as they were for the next one, so every answer is the same whatever ran
before it. Background tasks are queued, not run (the dummy backend): a task's failure is a
failed job, never an answer to the request.

The clean requests (no fuzz, the first ids) are also the access table of docs/access.md:
``REGENERATE_ACCESS_DOC=1`` rewrites it, otherwise the file must be what they answer.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import functools
import itertools
import logging
import os
import re
import time
import traceback
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.template.base import Template
from django.test import Client
from django.test.utils import _TestState
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404
from django.utils import timezone

from ledger import evidence, workflow
from ledger.models import Department, Job
from ledger.publication.models import Notice, Publication, PublishedAnnex, Section
from ledger.supervision import ladder, scores
from ledger.supervision.models import CalendarDay, LadderStep, ScoreSheet

from .factory import in_days, make_category, make_item, make_suggestion, make_user

ACCESS_DOC = Path(__file__).resolve().parent.parent / "docs" / "access.md"
QUEUED = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}

PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


# --- Who asks ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Role:
    column: str  # the column of docs/access.md
    user: Callable[[Ledger], object] | None  # None: anonymous


# One line a role. The items of the ledger are led by 市教育局 (bob), shared with 市交通运输局
# (carol) and answered for by lena's leader; dave's department has no part in them.
ROLES: list[Role] = [
    Role("anonymous", None),
    Role("official of another department", lambda ledger: ledger.dave),
    Role("official", lambda ledger: ledger.bob),
    Role("leader", lambda ledger: ledger.lena),
    Role("supervisor", lambda ledger: ledger.alice),
    Role("administrator", lambda ledger: ledger.admin),
    Role("auditor", lambda ledger: make_user("auditor", role="auditor", first_name="审计员")),
]


# --- What is sent -----------------------------------------------------------------------------

# Field names sent to every URL besides those of its forms.
COMMON_FIELDS = (
    "q",
    "page",
    "state",
    "department",
    "leader",
    "category",
    "round",
    "sort",
    "date",
    "deadline",
    "new_deadline",
    "file",
    "id",
    "size",
    "after",
    "before",
    "next",
    "lead",
    "co",
)
DATE_NAME = re.compile(r"date|deadline|reported_on|due_(from|to)")


@dataclasses.dataclass(frozen=True)
class Kind:
    """One kind of bad value. ``value`` is what a field gets, as bytes before
    percent-encoding (so that invalid UTF-8 can be sent); ``dates_only`` kinds go into the
    date fields alone, the others keeping what the form holds."""

    name: str
    value: bytes
    dates_only: bool = False
    repeated: bool = False


KINDS: list[Kind] = [
    Kind("nul", "整改\x00完成".encode()),
    # Mostly ASCII, so that thirty fields of it stay a small request.
    Kind("long", ("长" * 100 + "x" * 9_900).encode()),
    Kind("invalid utf-8", b"\xff\xfe\xfd"),
    Kind("huge integer", str(10**30).encode()),
    Kind("negative", b"-1"),
    # str.isdigit() says yes, int() says no.
    Kind("digits int() refuses", "²³".encode()),
    Kind("first date", b"0001-01-01", dates_only=True),
    Kind("last date", b"9999-12-31", dates_only=True),
    Kind("repeated key", b"1", repeated=True),
    Kind("empty", b""),
]

NUL, EMPTY = KINDS[0], KINDS[-1]
# What a view that turns the role away is sent: every kind but NUL, a kind a field in turn,
# and NUL alone (refused by the middleware before anything else is looked at).
REFUSED_MIXES = [[kind for kind in KINDS if kind is not NUL], [NUL]]

# What the clean matrix answers a role the view is not for.
OUT_OF_REACH = ("302 login", "403", "404")

# Ids that are not there: a plausible one, and one past every integer column.
MISSING_IDS = ("987654321", str(10**30))


# --- The ledger -------------------------------------------------------------------------------


class Ledger:
    """The cast and a ledger with something of everything a URL can name."""

    def __init__(self, cast):
        self.__dict__.update(cast.__dict__)
        self._users: dict[str, object] = {}
        self.admin = make_user("admin", role="administrator", first_name="管理员")
        self.category = make_category(self.round, "教育")
        self.other_category = make_category(self.round, "交通")
        for text in ("学校门口上下学时段交通拥堵", "学校门口接送孩子车辆乱停", "医院挂号慢"):
            make_suggestion(self.round, text=text)

        def assigned(title: str):
            item = make_item(self.round, title=title, category=self.category)
            workflow.assign(
                item,
                by=self.alice,
                leader=self.leader,
                lead_department=self.edu,
                co_departments=[self.traffic],
                deadline=in_days(30),
            )
            return item

        # The first of each list is the one docs/access.md shows.
        in_progress = assigned("学校周边交通拥堵")
        workflow.start(in_progress, by=self.bob)
        checked = evidence.check_uploads([_upload("整改报告.pdf", PDF)])
        progress = evidence.post_progress(
            in_progress, by=self.bob, text="护栏已安装", percent=50, files=checked
        )
        self.evidence = progress.evidence.get()
        workflow.comment(in_progress, by=self.alice, text="请加快进度")

        draft = make_item(self.round, title="食堂卫生", category=self.other_category)
        make_suggestion(self.round, text="食堂卫生差", item=draft)
        just_assigned = assigned("校车安全")
        requested = assigned("课后服务")
        workflow.start(requested, by=self.bob)
        workflow.request_closeout(requested, by=self.bob, outcome="已开展", outcome_kind="done")
        extension = assigned("操场改造")
        workflow.start(extension, by=self.bob)
        workflow.request_extension(
            extension, by=self.bob, new_deadline=in_days(60), reason="雨季施工"
        )
        closed = assigned("教师培训")
        workflow.start(closed, by=self.bob)
        workflow.request_closeout(closed, by=self.bob, outcome="已完成", outcome_kind="done")
        workflow.approve(closed, by=self.alice)
        declined = assigned("校园绿化")
        workflow.decline(declined, by=self.bob, reason="不属于本部门")
        withdrawn = make_item(self.round, title="重复事项")
        workflow.withdraw(withdrawn, by=self.alice, reason="重复")
        escalated = assigned("学区划分")
        workflow.escalate(escalated, by=self.alice, note="督办")
        self.items = [
            in_progress,
            draft,
            just_assigned,
            requested,
            extension,
            closed,
            declined,
            withdrawn,
            escalated,
        ]

        self.job = Job.objects.create(
            kind="export", title="导出台账", created_by=self.bob, state="done"
        )
        self.job.result_file.save("台账.xlsx", ContentFile(b"PK\x03\x04"), save=False)
        self.job.result_name = "台账.xlsx"
        self.job.save()
        self.failed_job = Job.objects.create(
            kind="export",
            title="导出失败",
            created_by=self.bob,
            state="failed",
            error="失败",
            task_path="ledger.intake.export.export_job",
            task_kwargs={"user_id": self.bob.pk, "params": {}, "title_text": "台账"},
        )

        self.draft_notice = Notice.objects.create(
            title="2019年度整改情况公示（草稿）", issuer="考评办", created_by=self.alice
        )
        self.draft_notice.annex_rounds.add(self.round)
        self.section = Section.objects.create(
            notice=self.draft_notice, heading="总体情况", body="共收到 {{ received }} 条意见。"
        )
        Section.objects.create(notice=self.draft_notice, order=1, heading="下一步", body="继续")
        self.notice = Notice.objects.create(
            title="2019年度整改情况公示",
            issuer="考评办",
            date=datetime.date(2020, 12, 31),
            created_by=self.alice,
        )
        self.published_section = Section.objects.create(
            notice=self.notice, heading="总体情况", body="已完成。"
        )
        Notice.objects.filter(pk=self.notice.pk).update(state="published")
        publication = Publication.objects.create(
            notice=self.notice,
            snapshot={},
            html="<p>公示</p>",
            html_sha256="a" * 64,
            pdf=default_storage.save("notices/fuzz.pdf", ContentFile(PDF)),
            pdf_sha256="b" * 64,
            pdf_size=len(PDF),
            xlsx=default_storage.save("notices/fuzz.xlsx", ContentFile(b"PK\x03\x04")),
            xlsx_sha256="c" * 64,
            xlsx_size=4,
            published_by=self.alice,
        )
        PublishedAnnex.objects.create(
            publication=publication, number=1, html="<table></table>", html_sha256="d" * 64
        )
        # The round's department scores as published (ledger/supervision/scores.py).
        self.score_sheet = ScoreSheet.objects.create(
            round=self.round,
            weights=scores.current_weights().as_json(),
            rows=scores.compute(self.round).as_json(),
            published_by=self.alice,
        )
        # The working-day calendar's table: a local day off, and a make-up workday.
        self.calendar_days = [
            CalendarDay.objects.create(day=datetime.date(2026, 11, 20), is_workday=False),
            CalendarDay.objects.create(day=datetime.date(2027, 2, 20), is_workday=True),
        ]
        # The escalation ladder: a step waiting for a supervisor, and a notice to 教育局.
        urged, reminded = self.items[0], self.items[2]
        self.ladder_notice = ladder.issue(
            "urge",
            [self.edu],
            title="督办通知",
            body="请加快整改",
            by=self.alice,
            at=timezone.now(),
            signer="督查办",
        )
        LadderStep.objects.create(
            item=urged,
            step="urge",
            deadline=urged.deadline,
            working_days=3,
            status="confirmed",
            notice=self.ladder_notice,
        )
        LadderStep.objects.create(
            item=reminded, step="remind", deadline=reminded.deadline, working_days=-2
        )

    def user(self, role: Role):
        """The role's user, made once."""
        if role.column not in self._users:
            self._users[role.column] = role.user(self)
        return self._users[role.column]

    def ids(self, route: str, name: str, params: list[str]) -> list[dict[str, str]]:
        """The real values of a pattern's parameters, the first the one docs/access.md
        shows. A new pattern with parameters must be added here."""
        items = [str(item.pk) for item in self.items]
        notices = [str(self.draft_notice.pk), str(self.notice.pk)]
        round_ = str(self.round.pk)
        departments = [str(self.edu.pk), str(self.health.pk)]
        leaders = [str(self.leader.pk), str(self.other_leader.pk)]
        by_name: dict[str, list[dict[str, str]]] = {
            "ledger:item": [{"pk": pk} for pk in items],
            "ledger:item-action": [{"pk": pk} for pk in items],
            "ledger:review-action": [{"pk": pk} for pk in items],
            "ledger:evidence": [{"pk": str(self.evidence.pk)}],
            "ledger:job": [{"pk": str(j.pk)} for j in (self.job, self.failed_job)],
            "ledger:job-download": [{"pk": str(j.pk)} for j in (self.job, self.failed_job)],
            "ledger:job-retry": [{"pk": str(j.pk)} for j in (self.failed_job, self.job)],
            "publication:public": [{"pk": str(self.notice.pk)}],
            "publication:pdf": [{"pk": str(self.notice.pk)}],
            "publication:xlsx": [{"pk": str(self.notice.pk)}],
            "publication:annex": [{"pk": str(self.notice.pk), "number": "1"}],
            "publication:new-version": [{"pk": pk} for pk in reversed(notices)],
            "publication:section-edit": self._sections(),
            "publication:section-delete": self._sections(),
            "publication:section-move": self._sections(),
            "admin:view_on_site": [
                {
                    "content_type_id": str(ContentType.objects.get_for_model(Department).pk),
                    "object_id": self.edu.pk,
                }
            ],
            "admin:app_list": [{"app_label": "ledger"}],
        }
        if route == "/admin/<url>":  # the admin's catch-all
            return [{"url": "nowhere/"}]
        if name in by_name:
            return [{k: str(v) for k, v in d.items()} for d in by_name[name]]
        if name.startswith("publication:") and params == ["pk"]:
            return [{"pk": pk} for pk in notices]
        if name in ("supervision:notice", "supervision:notice-pdf"):
            return [{"pk": str(self.ladder_notice.pk)}]
        if name.startswith("supervision:score-sheet") and params == ["pk"]:
            return [{"pk": str(self.score_sheet.pk)}]
        if name.startswith("manage:account"):
            return [{"pk": str(u.pk)} for u in (self.bob, self.admin, self.alice)]
        if name in ("manage:calendar-day", "manage:calendar-delete"):
            return [{"pk": str(d.pk)} for d in self.calendar_days]
        if name.startswith("manage:department"):
            return [{"pk": pk} for pk in departments]
        if name.startswith("intake:") and params == ["pk"]:
            return [{"pk": round_}]
        if name.startswith("intake:category-"):
            return [
                {"pk": round_, "category_pk": str(c.pk)}
                for c in (self.category, self.other_category)
            ]
        if route.startswith("/admin/ledger/department/"):
            return [{"object_id": pk} for pk in departments]
        if route.startswith("/admin/ledger/leader/"):
            return [{"object_id": pk} for pk in leaders]
        assert not params, f"no ids for {route} ({name}): add them to Ledger.ids"
        return [{}]

    def _sections(self) -> list[dict[str, str]]:
        return [
            {"pk": str(self.draft_notice.pk), "section_pk": str(self.section.pk)},
            {"pk": str(self.notice.pk), "section_pk": str(self.published_section.pk)},
        ]


def _upload(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


# --- The URLs ---------------------------------------------------------------------------------

GROUP = re.compile(r"\(\?P<(\w+)>([^)]*)\)")
CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


@dataclasses.dataclass(frozen=True)
class Pattern:
    """One URL pattern, as a path template with ``{param}`` holes."""

    route: str  # as docs/access.md shows it
    name: str  # namespace:name, the namespace alone for an unnamed pattern
    template: str
    params: tuple[str, ...]
    choices: dict[str, tuple[str, ...]]  # a regex group's alternatives: each is a URL


def _patterns(resolver=None, prefix: str = "", namespace: str = "") -> Iterator[Pattern]:
    for entry in (resolver or get_resolver()).url_patterns:
        part = str(entry.pattern).removeprefix("^").removesuffix("$")
        if isinstance(entry, URLResolver):
            inner = ":".join(n for n in (namespace, entry.namespace or "") if n)
            yield from _patterns(entry, prefix + part, inner)
            continue
        assert isinstance(entry, URLPattern)
        raw = prefix + part
        choices: dict[str, tuple[str, ...]] = {}

        def hole(match: re.Match) -> str:
            name, body = match.group(1), match.group(2)
            if re.fullmatch(r"\w+(\|\w+)*", body):
                choices[name] = tuple(body.split("|"))  # noqa: B023
            return "{" + name + "}"

        template = CONVERTER.sub(lambda m: "{" + m.group(2) + "}", GROUP.sub(hole, raw))
        route = CONVERTER.sub(r"<\2>", GROUP.sub(r"<\1>", raw))
        params = tuple(re.findall(r"\{(\w+)\}", template))
        name = ":".join(part for part in (namespace, entry.name) if part)
        yield Pattern("/" + route, name, "/" + template, params, choices)


def all_patterns() -> list[Pattern]:
    return list(_patterns())


@dataclasses.dataclass(frozen=True)
class Url:
    pattern: Pattern
    fixed: dict[str, str]  # the regex alternatives chosen

    def path(self, ids: dict[str, str]) -> str:
        return self.pattern.template.format(**(ids | self.fixed))


def urls_of(pattern: Pattern) -> list[Url]:
    """A pattern's URLs: one per alternative of its regex groups (each action of an item is
    its own URL), the ids left to fill."""
    names = list(pattern.choices)
    return [
        Url(pattern, dict(zip(names, values, strict=True)))
        for values in itertools.product(*(pattern.choices[n] for n in names))
    ]


# --- Reading forms off pages ------------------------------------------------------------------


@dataclasses.dataclass
class Field:
    kind: str  # "text", "date", "file"
    default: str


class FormReader(HTMLParser):
    """The forms of a page: where each posts (or gets) to, and its fields with what they
    hold."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.page = page
        self.forms: list[tuple[str, str, dict[str, Field]]] = []  # (method, path, fields)
        self.fields: dict[str, Field] | None = None
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            action = urlsplit(urljoin(self.page, a.get("action") or self.page)).path
            self.fields = {}
            self.forms.append(((a.get("method") or "get").lower(), action, self.fields))
            return
        if self.fields is None or not a.get("name"):
            return
        name = a["name"]
        if tag == "input":
            kind = a.get("type", "text").lower()
            if kind in {"checkbox", "radio"} and name in self.fields and "checked" not in a:
                return
            if kind in {"submit", "button", "image", "reset"} and name in self.fields:
                return
            is_date = kind == "date" or DATE_NAME.search(name)
            field_kind = "file" if kind == "file" else "date" if is_date else "text"
            self.fields[name] = Field(field_kind, a.get("value", ""))
        elif tag == "select":
            self.select = name
            self.fields.setdefault(name, Field("text", ""))
        elif tag == "option" and self.select and self.fields is not None:
            field = self.fields[self.select]
            value = a.get("value", "")
            if "selected" in a or (not field.default and value):
                field.default = value
        elif tag == "textarea":
            self.textarea = name
            self.fields[name] = Field("text", "")

    def handle_data(self, data):
        if self.textarea and self.fields is not None:
            self.fields[self.textarea].default += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.fields = None
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None


class Forms:
    """Every form seen, by where it sends: the exact path, and the URL it resolves to with
    its ids left out (an item's assign form, whichever item drew it)."""

    def __init__(self):
        self.exact: dict[tuple[str, str], dict[str, Field]] = {}
        self.by_url: dict[tuple[str, str], dict[str, Field]] = {}

    @staticmethod
    def url_key(path: str) -> str:
        try:
            match = resolve(path)
        except Resolver404:
            return path
        fixed = sorted((k, v) for k, v in match.kwargs.items() if not str(v).isdigit())
        return f"{match.view_name}{fixed}"

    def read(self, page: str, html: str) -> None:
        reader = FormReader(page)
        reader.feed(html)
        for method, path, fields in reader.forms:
            for store, key in (
                (self.exact, (method, path)),
                (self.by_url, (method, self.url_key(path))),
            ):
                known = store.setdefault(key, {})
                for name, field in fields.items():
                    known.setdefault(name, field)

    def fields(self, method: str, path: str) -> dict[str, Field]:
        fields = dict(self.by_url.get((method, self.url_key(path)), {}))
        fields |= self.exact.get((method, path), {})
        for name in COMMON_FIELDS:
            if name not in fields:
                # A file is sent only to a form with a file field: a multipart body costs
                # Django ten times an urlencoded one to read, and it reads them the same.
                fields[name] = Field("date" if DATE_NAME.search(name) else "text", "")
        return fields


# --- Building requests ------------------------------------------------------------------------


def _fill(field: Field) -> bytes:
    """What a field holds before the fuzz: the form's own value, or some text."""
    if field.default:
        return field.default.encode()
    if field.kind == "date":
        return timezone.localdate().isoformat().encode()
    return "测试".encode()


def _values(fields: dict[str, Field], kinds: list[Kind]) -> list[tuple[str, Kind, bytes | None]]:
    """(name, kind, value) for each field; a file's value is None.

    One kind: every field gets it, or for a date kind the date fields get it and the others
    keep what the form holds. Several kinds: the fields take them in turn (the mix sent to
    a view that turns the role away before it reads a field)."""
    out: list[tuple[str, Kind, bytes | None]] = []
    for n, (name, field) in enumerate(fields.items()):
        kind = kinds[n % len(kinds)]
        if field.kind == "file":
            out.append((name, kind, None))
        elif kind.dates_only and field.kind != "date" and len(kinds) == 1:
            out.append((name, kind, _fill(field)))
        elif kind.repeated:
            out.extend((name, kind, value) for value in (_fill(field), b"2", b"x"))
        else:
            out.append((name, kind, kind.value))
    return out


def query_string(fields: dict[str, Field], kinds: list[Kind]) -> str:
    pairs = [
        (name, kind.value if value is None else value)
        for name, kind, value in _values(fields, kinds)
        # A date kind alone: the other fields of a GET form are left out.
        if not (len(kinds) == 1 and kind.dates_only and fields[name].kind != "date")
    ]
    return "&".join(f"{_quoted(name.encode())}={_quoted(value)}" for name, value in pairs)


@functools.cache
def _quoted(value: bytes) -> str:
    """Percent-encoded once: thirty fields of 10,000 characters on every request made the
    test spend more time quoting than the application answering."""
    return quote(value, safe="")


def _file_parts(kind: Kind) -> list[tuple[bytes, bytes]]:
    """(file name, content) of the files a file field gets for a kind."""
    if kind.name == "empty":
        return [(b"", b"")]
    if kind.repeated:
        return [("一.pdf".encode(), PDF), ("二.pdf".encode(), PDF)]
    if kind.dates_only:
        return [("整改报告.pdf".encode(), PDF)]
    return [(kind.value[:300] + b".pdf", kind.value)]


BOUNDARY = "fuzzfuzzfuzzBoUnDaRy"
URLENCODED = "application/x-www-form-urlencoded"


def form_body(fields: dict[str, Field], kinds: list[Kind]) -> tuple[bytes, str]:
    """The body and content type of a POST: multipart when the form has a file field."""
    values = _values(fields, kinds)
    if all(value is not None for _, _, value in values):
        body = "&".join(f"{_quoted(name.encode())}={_quoted(value)}" for name, _, value in values)
        return body.encode(), URLENCODED
    parts = []
    for name, kind, value in values:
        disposition = f'Content-Disposition: form-data; name="{name}"'.encode()
        if value is not None:
            parts.append(b"%s\r\n\r\n%s" % (disposition, value))
            continue
        for filename, content in _file_parts(kind):
            parts.append(
                b'%s; filename="%s"\r\nContent-Type: application/octet-stream\r\n\r\n%s'
                % (disposition, filename, content)
            )
    boundary = BOUNDARY.encode()
    body = b"".join(b"--%s\r\n%s\r\n" % (boundary, part) for part in parts)
    return body + b"--%s--\r\n" % boundary, f"multipart/form-data; boundary={BOUNDARY}"


# --- Running them -----------------------------------------------------------------------------


class Asker:
    """One client per role, each request in a savepoint rolled back and the cookies put back
    after it; every server error (or exception) recorded."""

    def __init__(self, ledger: Ledger):
        self.clients: dict[str, Client] = {}
        self.cookies: dict[str, SimpleCookie] = {}
        for role in ROLES:
            client = Client(raise_request_exception=True)
            if role.user is not None:
                client.force_login(ledger.user(role))
            self.clients[role.column] = client
            self.cookies[role.column] = copy.deepcopy(client.cookies)
        self.failures: list[str] = []
        self.count = 0

    def __call__(self, role: Role, method: str, path: str, what: str, **extra):
        client = self.clients[role.column]
        self.count += 1
        response = None
        try:
            with transaction.atomic():
                if method == "get":
                    response = client.get(path, **extra)
                else:
                    response = client.post(path, **extra)
                if response.streaming:
                    # Read to the end: the client then closes the response (and its file).
                    b"".join(response.streaming_content)
                transaction.set_rollback(True)
        except Exception as error:
            frames = traceback.extract_tb(error.__traceback__)
            ours = [f for f in frames if "/site-packages/" not in f.filename]
            where = "".join(f" at {f.filename}:{f.lineno}" for f in ours[-1:] + frames[-1:])
            line = f"{type(error).__name__}: {str(error)[:200]}{where}"
            self.failures.append(f"{method.upper()} {path[:120]} [{role.column}, {what}]: {line}")
        else:
            if response.status_code >= 500:
                self.failures.append(
                    f"{method.upper()} {path[:120]} [{role.column}, {what}]: {response.status_code}"
                )
        finally:
            if response is None or response.cookies:
                client.cookies = copy.deepcopy(self.cookies[role.column])
        return response


def status_class(response) -> str:
    """What docs/access.md writes of an answer."""
    if response is None:
        return "500"
    code = response.status_code
    if code in {301, 302, 303, 307, 308}:
        target = urlsplit(response["Location"]).path
        if target == "/login/":
            return f"{code} login"
        try:
            match = resolve(target)
        except Resolver404:
            return f"{code} → {target}"
        return f"{code} → {match.view_name}"
    return str(code)


@dataclasses.dataclass
class Matrix:
    """What the clean requests found, by row (``row_name``) and role column."""

    # The cells of the access table: the GET's status class, and for a URL that takes
    # only POST the status class of an empty POST as well.
    table: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    # (row, role) where the URL takes only POST (its GET is a 405).
    post_only: set[tuple[str, str]] = dataclasses.field(default_factory=set)
    # (row, role) the view turns away whatever is sent (OUT_OF_REACH).
    refused: set[tuple[str, str]] = dataclasses.field(default_factory=set)


def clean_matrix(ledger: Ledger, asker: Asker, forms: Forms | None = None) -> Matrix:
    """GET every URL pattern with its first ids as every role, and POST nothing to those
    that take only POST: the access table, and who each view turns away. With ``forms``,
    also read the forms of every page drawn, for each of the pattern's ids, where the role
    is let in."""
    matrix = Matrix()
    for pattern in all_patterns():
        ids = ledger.ids(pattern.route, pattern.name, list(pattern.params))
        path = urls_of(pattern)[0].path(ids[0])
        row = row_name(pattern)
        for role in ROLES:
            response = asker(role, "get", path, "no fuzz")
            status = cell = status_class(response)
            if status == "405":
                matrix.post_only.add((row, role.column))
                posted = asker(role, "post", path, "no fuzz", data=b"", content_type=URLENCODED)
                status = status_class(posted)
                cell = f"405, POST {status}"
            matrix.table.setdefault(row, {})[role.column] = cell
            if status in OUT_OF_REACH:
                matrix.refused.add((row, role.column))
                continue
            if forms is None:
                continue
            _read_forms(forms, path, response)
            # POST-only URLs draw nothing: their first id is enough.
            for values in ids[1:] if not pattern.choices else ():
                other = urls_of(pattern)[0].path(values)
                _read_forms(forms, other, asker(role, "get", other, "no fuzz"))
    return matrix


def _read_forms(forms: Forms, path: str, response) -> None:
    if (
        response is not None
        and response.status_code == 200
        and response.get("Content-Type", "").startswith("text/html")
        and not response.streaming
    ):
        forms.read(path, response.content.decode())


def row_name(pattern: Pattern) -> str:
    return f"`{pattern.route}` | {pattern.name or '—'}"


def access_doc(table: dict[str, dict[str, str]]) -> str:
    columns = [role.column for role in ROLES]
    lines = [
        "# Who may open what",
        "",
        "Written by `tests/test_fuzz.py` from the requests it makes: run",
        "`REGENERATE_ACCESS_DOC=1 .venv/bin/python -m pytest tests/test_fuzz.py` after a change",
        "of who may open what, and read the diff. Otherwise the test fails when this file and",
        "the application disagree, so the table cannot drift.",
        "",
        "Each row is a URL pattern (its route and its URL name; the admin's own patterns are",
        "Django's), each column a role. A cell is the answer to a plain GET of the pattern,",
        "filled with the ids of a small test ledger: an item in progress led by 市教育局 (the",
        "*official*'s department), shared with 市交通运输局 and answered for by the *leader*,",
        "with its progress and evidence; a published notice and a draft with its sections; a",
        "round and its categories; a finished job the official started; the official's account;",
        "a department and a leader. The *official of another department* works for 市卫生健康委,",
        "which has no part in the item. A pattern with alternatives (`<action>`) is shown with",
        "its first: `assign` for an item, `approve` in the review queue.",
        "",
        "- **200**: the page (or the file) is given.",
        "- **302 login**: not signed in: sent to the sign-in page, and back after it.",
        "- **302 → name**: sent on to the page of that URL name: an administrator's home is",
        "  system administration, an auditor's the audit trail, a signed-in user's sign-in page",
        "  their home.",
        "- **403**: signed in and let into the area, but not allowed this (the admin's delete of",
        "  a department or leader something refers to).",
        "- **404**: not found, or out of this user's reach, which is answered the same way: an",
        "  item, a file, a job or a page that is not theirs gives away nothing of itself.",
        "- **405, POST …**: the URL takes only POST (a form's action), and a GET is refused",
        "  whoever asks, once signed in; after the comma, what an empty POST gets: **400** (let",
        "  in; the form is incomplete), **404** (out of reach), **302 …** (done: there is",
        "  nothing to fill in, as signing out), **409** and others as HTTP says.",
        "",
        "Roles (docs/administration.md, docs/audit.md): *supervisor* (督查员, the evaluation",
        "office), *official* (部门经办人), *leader* (市级领导), *administrator* (系统管理员:",
        "accounts, departments and leaders; sees no item), *auditor* (审计员: the audit trail",
        "and nothing else).",
        "",
        "| URL | name | " + " | ".join(columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for row, cells in table.items():
        lines.append(f"| {row} | " + " | ".join(cells[c] for c in columns) + " |")
    return "\n".join(lines) + "\n"


@pytest.fixture
def ledger(cast, settings, monkeypatch) -> Iterator[Ledger]:
    settings.TASKS = QUEUED
    # Templates rendered as in production: the test runner's instrumentation sends a signal
    # and copies the context for every template and every form widget, for assertions on
    # response.context that this test does not make; without it the matrix takes a third
    # of the time.
    saved = getattr(_TestState, "saved_data", None)
    if saved is not None and hasattr(saved, "template_render"):
        monkeypatch.setattr(Template, "_render", saved.template_render)
    # Thousands of 404s and 405s are expected: only what the test reports matters.
    request_log = logging.getLogger("django.request")
    level = request_log.level
    request_log.setLevel(logging.CRITICAL)
    yield Ledger(cast)
    request_log.setLevel(level)


def test_the_access_table_in_the_docs_is_what_the_application_does(ledger):
    asker = Asker(ledger)
    matrix = clean_matrix(ledger, asker)
    assert not asker.failures, "\n".join(asker.failures)
    text = access_doc(matrix.table)
    if os.environ.get("REGENERATE_ACCESS_DOC") == "1":
        ACCESS_DOC.write_text(text, encoding="utf-8")
    assert ACCESS_DOC.read_text(encoding="utf-8") == text, (
        "docs/access.md differs from what the application does: run "
        "REGENERATE_ACCESS_DOC=1 .venv/bin/python -m pytest tests/test_fuzz.py and read the diff"
    )


def fuzz(
    asker: Asker,
    forms: Forms,
    role: Role,
    path: str,
    kinds: list[Kind],
    what: str,
    post_only: bool,
) -> None:
    """The fuzz of ``kinds`` in the query string (a GET) and in the form (a POST), or in
    both at once (one POST)."""
    query = query_string(forms.fields("get", path), kinds)
    body, content_type = form_body(forms.fields("post", path), kinds)
    if post_only:
        path = f"{path}?{query}"
    else:
        asker(role, "get", f"{path}?{query}", what)
    asker(role, "post", path, what, data=body, content_type=content_type)


def test_no_input_gets_a_server_error(ledger):
    started = time.monotonic()
    asker = Asker(ledger)
    forms = Forms()
    matrix = clean_matrix(ledger, asker, forms)
    for pattern in all_patterns():
        ids = ledger.ids(pattern.route, pattern.name, list(pattern.params))
        urls = urls_of(pattern)
        row = row_name(pattern)
        for r, role in enumerate(ROLES):
            if (row, role.column) in matrix.refused:
                # The view turns the role away before it reads a field, whichever action
                # or id the URL names: POSTs with the fuzz in the query string and the
                # body, one with every kind but NUL (a kind a field, in turn), one with NUL
                # (refused before the rest is looked at), and one with a missing id.
                for n, kinds in enumerate(REFUSED_MIXES):
                    path = urls[(r + n) % len(urls)].path(ids[(r + n) % len(ids)])
                    what = "fuzz: " + ", ".join(kind.name for kind in kinds)
                    fuzz(asker, forms, role, path, kinds, what, post_only=True)
                if pattern.params:
                    path = urls[0].path(dict.fromkeys(pattern.params, MISSING_IDS[r % 2]))
                    fuzz(asker, forms, role, path, [EMPTY], "missing id", post_only=True)
                continue
            # Every action with every kind: the query string by a GET and the form by a
            # POST, or both by one POST where the URL takes only POST (a GET is answered
            # before the query string is read). Each (role, kind) takes the next of the
            # pattern's ids: items in every state meet every kind, without multiplying
            # the requests.
            post_only = (row, role.column) in matrix.post_only
            for url in urls:
                for k, kind in enumerate(KINDS):
                    path = url.path(ids[(r * len(KINDS) + k) % len(ids)])
                    fuzz(asker, forms, role, path, [kind], f"fuzz: {kind.name}", post_only)
                if pattern.params:
                    # An id that is not there: a plausible one or one past every integer
                    # column, by turns.
                    path = url.path(dict.fromkeys(pattern.params, MISSING_IDS[r % 2]))
                    if post_only:
                        fuzz(asker, forms, role, path, [EMPTY], "missing id", post_only=True)
                    else:
                        asker(role, "get", path, "missing id")
    elapsed = time.monotonic() - started
    print(f"{asker.count} requests in {elapsed:.1f} s")
    assert not asker.failures, f"{len(asker.failures)} server errors:\n" + "\n".join(asker.failures)
