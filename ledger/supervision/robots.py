"""Group robots (企业微信/钉钉 群机器人): notices also go to a department's group chat.

``enqueue(event)`` is called by ``notifications.notify`` inside the transition's
transaction: it writes a ``RobotMessage`` for each concerned department that has a robot
(a transition rolled back leaves none) and queues the sending for after the commit. The
sending is a background task (``send_robot_messages``): the request never waits for the
network.

The worker sends a department's waiting messages as one message, a digest with a header
line and a line per item, at most ``PER_MINUTE`` a minute per robot (both robots accept
about 20); more wait for the next minute. A delivery counts only when the robot answers
HTTP 200 with ``errcode`` 0; another is tried again after each of ``RETRY_AFTER`` and then
marked failed, shown with its error on the department's page (/manage/departments/<id>/)
until the administrator retries it. The worker's heartbeat queues a pass for messages whose
time has come (``queue_pass``), so that retries happen without a new event.

Only addresses on ``ROBOT_ALLOWED_HOSTS`` are ever called, over HTTPS (plain HTTP only to
this machine, for tests), and redirects are not followed: an administrator's address must
not let the server call anything else. Item titles and notes are made plain before they go
into the Markdown, so that they cannot forge links or mentions.
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import hmac
import ipaddress
import json
import logging
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_tasks import task
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from ledger.models import Department, Event, Item, Notification, RobotKind

from .models import RobotMessage

logger = logging.getLogger(__name__)

State = RobotMessage.State
Kind = Event.Kind

# The events a department's group hears of: assignment, the ladder's steps, a return, an
# approval, a decision on an extension, a reopening.
ROBOT_EVENTS = frozenset(
    {
        Kind.ASSIGN,
        Kind.REMIND,
        Kind.URGE,
        Kind.ESCALATE,
        Kind.CIRCULATE,
        Kind.RETURN,
        Kind.APPROVE,
        Kind.EXTENSION_GRANT,
        Kind.EXTENSION_REFUSE,
        Kind.REOPEN,
    }
)
# Each robot's own host; ``ROBOT_ALLOWED_HOSTS`` may name others (a private deployment).
OFFICIAL_HOSTS = {RobotKind.WECOM: "qyapi.weixin.qq.com", RobotKind.DINGTALK: "oapi.dingtalk.com"}
# The query parameter that carries the robot's token on its official address.
TOKEN_PARAMS = {RobotKind.WECOM: "key", RobotKind.DINGTALK: "access_token"}

# Both robots accept about 20 messages a minute; we stay at that per department.
PER_MINUTE = 20
RATE_WINDOW = datetime.timedelta(minutes=1)
# After the first failed attempt, tries again after each of these; then it has failed.
RETRY_AFTER = (
    datetime.timedelta(minutes=1),
    datetime.timedelta(minutes=5),
    datetime.timedelta(minutes=30),
    datetime.timedelta(hours=2),
)
ATTEMPTS = len(RETRY_AFTER) + 1
# A claimed message is due again after this if its worker died while sending it.
LEASE = datetime.timedelta(minutes=5)
TIMEOUT_SECONDS = 10
# WeCom refuses Markdown over 4096 bytes; a digest of more waits for the next message.
MAX_BYTES = 4000
# Candidates read for one digest: more than fit in MAX_BYTES.
BATCH = 100
TITLE_CHARS = 80
NOTE_CHARS = 120
ANSWER_BYTES = 64 * 1024
ERROR_CHARS = 500
# How often the worker's heartbeat looks for messages whose time has come.
PASS_SECONDS = 30


# --- Addresses ---------------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _allowed_hosts() -> set[str]:
    return {host.strip().lower().strip("[]") for host in settings.ROBOT_ALLOWED_HOSTS}


def check_url(url: str, kind: str) -> str:
    """The webhook address ``url`` for a robot of ``kind``, cleaned, or ValidationError
    saying what is wrong with it."""
    url = (url or "").strip()
    try:
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 — raises ValueError for a port out of range
    except ValueError:
        raise ValidationError(_("This is not a web address."), code="invalid") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ValidationError(
            _("Paste the robot's whole webhook address, beginning with https://."), code="invalid"
        )
    if parts.username or parts.password or parts.fragment:
        raise ValidationError(_("This is not a robot's webhook address."), code="invalid")
    if host not in _allowed_hosts():
        raise ValidationError(
            _("Only the robots' own addresses are accepted (%(hosts)s), not %(host)s.")
            % {"hosts": "、".join(sorted(_allowed_hosts())), "host": host},
            code="host",
        )
    if parts.scheme != "https" and not _is_loopback(host):
        raise ValidationError(
            _("The address must begin with https://: the robot's key must not travel in clear."),
            code="scheme",
        )
    for other, official in OFFICIAL_HOSTS.items():
        if host == official and other != kind:
            raise ValidationError(
                _("This is an address of a %(robot)s robot: choose that kind of robot.")
                % {"robot": RobotKind(other).label},
                code="kind",
            )
    if host == OFFICIAL_HOSTS.get(kind):
        token = urllib.parse.parse_qs(parts.query).get(TOKEN_PARAMS[kind], [""])[0]
        if not token.strip():
            raise ValidationError(
                _("The address lacks its %(name)s=…: copy the whole address from the robot.")
                % {"name": TOKEN_PARAMS[kind]},
                code="token",
            )
    return url


def check_secret(secret: str) -> str:
    """A DingTalk signing secret, cleaned, or ValidationError."""
    secret = (secret or "").strip()
    if not secret.startswith("SEC") or len(secret) < 10 or any(c.isspace() for c in secret):
        raise ValidationError(
            _(
                "DingTalk's signing secret begins with SEC: copy it from the robot's security "
                "settings."
            ),
            code="secret",
        )
    return secret


def masked(value: str) -> str:
    """A secret or a token as a reminder of which one it is, never in full."""
    value = value or ""
    if len(value) <= 10:
        return "…" if value else ""
    return f"{value[:4]}…{value[-4:]}"


def masked_url(url: str) -> str:
    """The webhook address with its token masked: for the audit trail."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return ""
    query = [(k, masked(v)) for k, v in urllib.parse.parse_qsl(parts.query)]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query, safe="…")))


def has_robot(department: Department) -> bool:
    return bool(department.robot_kind and department.robot_url)


# --- What a message says ---------------------------------------------------------------------

# Characters that Markdown, WeCom's mentions (<@…>) or tags (<font>) would read, turned into
# their full-width forms: a title reads the same and cannot make a link, a heading or a
# mention.
_PLAIN = str.maketrans(
    {
        "\\": "＼",
        "`": "｀",
        "*": "＊",
        "_": "＿",
        "[": "［",
        "]": "］",
        "(": "（",
        ")": "）",
        "<": "＜",
        ">": "＞",
        "#": "＃",
        "@": "＠",
        "|": "｜",
        "~": "～",
        "!": "！",
        "&": "＆",
        "$": "＄",
    }
)


def plain(text: str, limit: int | None = None) -> str:
    """``text`` as Markdown that shows it and does nothing else: one line, no markup, no
    address a robot would turn into a link."""
    text = " ".join(str(text or "").split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.translate(_PLAIN).replace("://", "：//").replace("www.", "www．")


def _item_url(item_id: int) -> str:
    return settings.SITE_URL + reverse("ledger:item", args=[item_id])


def line(event: Event) -> str:
    """The event told in one line of Markdown, in the office's language."""
    from ledger.notifications import note_label  # notifications imports this module

    item = event.item
    with translation.override(settings.LANGUAGE_CODE):
        label = Notification.Kind(event.kind).label
        text = f"**{label}** [{plain(item.number)}]({_item_url(item.pk)}) "
        text += plain(item.title, TITLE_CHARS)
        if item.deadline and item.state in Item.OPEN_STATES:
            text += plain(_("(deadline %(date)s)") % {"date": item.deadline.isoformat()})
        if event.note:
            text += f" {plain(note_label(event.kind, event.data))}：{plain(event.note, NOTE_CHARS)}"
    return text


_BOLD = re.compile(r"\*\*([^*]*)\*\*")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def readable(text: str) -> str:
    """A message's line as a page shows it: the Markdown we wrote taken out (user text in
    it was made plain, so only ours is left to take)."""
    return _LINK.sub(r"\1", _BOLD.sub(r"\1", text))


def compose(department: Department, lines: list[str]) -> tuple[str, str]:
    """The title and the Markdown of one message: a header line with the count, then a
    line per notice."""
    with translation.override(settings.LANGUAGE_CODE):
        title = ngettext(
            "%(site)s · %(department)s: %(count)d notice",
            "%(site)s · %(department)s: %(count)d notices",
            len(lines),
        ) % {"site": settings.SITE_NAME, "department": department.name, "count": len(lines)}
    title = plain(title)
    return title, "\n".join([f"#### {title}", *(f"- {text}" for text in lines)])


def _fitting(department: Department, texts: list[str]) -> int:
    """How many of ``texts`` fit in one message (at least one)."""
    n = len(texts)
    while n > 1 and len(compose(department, texts[:n])[1].encode()) > MAX_BYTES:
        n -= 1
    return n


# --- Enqueueing, in the transition's transaction ---------------------------------------------


def _concerned(event: Event) -> list[Department]:
    """The active departments with a robot that must hear of ``event``: the lead department,
    and for an assignment the co-responsible ones too, since all of them must act."""
    item = event.item
    which = Q(pk=item.lead_department_id)
    if event.kind == Kind.ASSIGN:
        shares = Item.co_departments.through.objects.filter(item_id=item.pk)
        which |= Q(pk__in=shares.values("department_id"))
    return list(
        Department.objects.filter(which, is_active=True)
        .exclude(robot_kind="")
        .exclude(robot_url="")
        .order_by("pk")
    )


def _gathered_until(department_id: int, now: datetime.datetime) -> datetime.datetime:
    """When a new message of the department goes: with those already gathering, if any,
    else after ``ROBOT_GATHER_SECONDS``; several notices in a row thus go as one."""
    first = (
        RobotMessage.objects.filter(department_id=department_id, state=State.QUEUED, attempts=0)
        .order_by("next_try_at")
        .values_list("next_try_at", flat=True)
        .first()
    )
    until = now + datetime.timedelta(seconds=settings.ROBOT_GATHER_SECONDS)
    if first is None:
        return until
    return max(now, min(first, until))


def enqueue(event: Event) -> list[RobotMessage]:
    """Queue ``event`` for the group robots of the departments concerned; call it inside
    the transition's transaction."""
    if event.kind not in ROBOT_EVENTS:
        return []
    departments = _concerned(event)
    if not departments:
        return []
    text = line(event)
    now = timezone.now()
    messages = []
    for department in departments:
        at = _gathered_until(department.pk, now)
        messages.append(
            RobotMessage.objects.create(
                department=department, text=text, events=[event.pk], next_try_at=at, created_at=now
            )
        )
        transaction.on_commit(functools.partial(schedule, department.pk, at), robust=True)
    return messages


def send_test(department: Department) -> RobotMessage:
    """Queue a test message for the department's robot, to go at once."""
    with translation.override(settings.LANGUAGE_CODE):
        text = plain(
            _("Test message: %(site)s notices for %(department)s will arrive in this group.")
            % {"site": settings.SITE_NAME, "department": department.name}
        )
    message = RobotMessage.objects.create(department=department, text=text)
    transaction.on_commit(functools.partial(schedule, department.pk), robust=True)
    return message


def retry_failed(department: Department) -> int:
    """Queue the department's failed messages again, to go at once; returns how many."""
    n = RobotMessage.objects.filter(department=department, state=State.FAILED).update(
        state=State.QUEUED, attempts=0, next_try_at=timezone.now(), last_error=""
    )
    if n:
        transaction.on_commit(functools.partial(schedule, department.pk), robust=True)
    return n


def schedule(department_id: int, at: datetime.datetime | None = None) -> None:
    """Queue the sending of the department's messages, at ``at`` when the backend can wait;
    otherwise a time to come is left to the worker's pass (``queue_pass``)."""
    job = send_robot_messages
    if at is not None and at > timezone.now():
        if not job.get_backend().supports_defer:
            return
        job = job.using(run_after=at)
    job.enqueue(department_id=department_id)


# --- Sending, in the worker ------------------------------------------------------------------


@task()
def send_robot_messages(department_id: int) -> int:
    return deliver(department_id)


@task()
def send_due_robot_messages() -> int:
    return send_due()


def queue_pass(now: datetime.datetime | None = None) -> bool:
    """Queue a pass over every department when a message's time has come and no pass is
    waiting already: the worker's heartbeat calls this."""
    now = now or timezone.now()
    if not RobotMessage.objects.filter(state=State.QUEUED, next_try_at__lte=now).exists():
        return False
    waiting = DBTaskResult.objects.filter(
        task_path=send_due_robot_messages.module_path, status=TaskResultStatus.READY
    )
    if waiting.exists():
        return False
    send_due_robot_messages.enqueue()
    return True


def send_due(now: datetime.datetime | None = None) -> int:
    """Send every department's messages whose time has come; returns the messages sent."""
    now = now or timezone.now()
    due = RobotMessage.objects.filter(state=State.QUEUED, next_try_at__lte=now)
    departments = sorted(set(due.values_list("department_id", flat=True)))
    return sum(deliver(department_id) for department_id in departments)


def deliver(department_id: int) -> int:
    """Send the department's due messages, as few messages as fit; returns how many were
    delivered. Stops at a failure (the robot is tried again later) and at the rate limit
    (the rest wait for the next minute)."""
    department = Department.objects.filter(pk=department_id).first()
    if department is None:
        return 0
    delivered = 0
    for _round in range(PER_MINUTE):
        now = timezone.now()
        due = list(
            RobotMessage.objects.filter(
                department_id=department_id, state=State.QUEUED, next_try_at__lte=now
            )
            .order_by("created_at", "pk")
            .values_list("pk", "text", "attempts")[:BATCH]
        )
        if not due:
            break
        if not has_robot(department):
            with translation.override(settings.LANGUAGE_CODE):
                error = _("The department has no group robot any more.")
            RobotMessage.objects.filter(pk__in=[row[0] for row in due]).update(
                state=State.FAILED, last_error=error
            )
            break
        free_at = _rate_limited_until(department_id, now)
        if free_at is not None:
            RobotMessage.objects.filter(
                department_id=department_id, state=State.QUEUED, next_try_at__lte=now
            ).update(next_try_at=free_at)
            schedule(department_id, free_at)
            break
        batch = due[: _fitting(department, [row[1] for row in due])]
        claimed = set(_claim([row[0] for row in batch], now))
        batch = [row for row in batch if row[0] in claimed]
        if not batch:
            continue
        title, text = compose(department, [row[1] for row in batch])
        error = post(department, title, text)
        _record(department_id, batch, error)
        if error:
            logger.warning(
                "Group robot of %s refused %d message(s): %s", department, len(batch), error
            )
            break
        delivered += len(batch)
    return delivered


def _rate_limited_until(department_id: int, now: datetime.datetime) -> datetime.datetime | None:
    """When the robot accepts another message, if it has had ``PER_MINUTE`` in the last
    minute; None if it accepts one now. The messages of one digest share their sent_at."""
    times = sorted(
        set(
            RobotMessage.objects.filter(
                department_id=department_id, state=State.SENT, sent_at__gt=now - RATE_WINDOW
            ).values_list("sent_at", flat=True)
        )
    )
    if len(times) < PER_MINUTE:
        return None
    return times[-PER_MINUTE] + RATE_WINDOW


def _claim(ids: Iterable[int], now: datetime.datetime) -> list[int]:
    """Take the messages for this worker: each by a compare-and-set on its time, so that of
    two workers each message goes to one. A message taken is due again after ``LEASE``, in
    case the worker dies while sending it; taking it is an attempt."""
    won = []
    with transaction.atomic():
        for pk in ids:
            taken = RobotMessage.objects.filter(
                pk=pk, state=State.QUEUED, next_try_at__lte=now
            ).update(next_try_at=now + LEASE, attempts=F("attempts") + 1)
            if taken:
                won.append(pk)
    return won


def _record(department_id: int, batch: list[tuple[int, str, int]], error: str) -> None:
    now = timezone.now()
    ids = [row[0] for row in batch]
    sent = RobotMessage.objects.filter(pk__in=ids)
    if not error:
        sent.update(state=State.SENT, sent_at=now, last_error="")
        return
    error = error[:ERROR_CHARS]
    sent.filter(attempts__gte=ATTEMPTS).update(state=State.FAILED, last_error=error)
    # Each message was attempted once more than its row said when it was claimed.
    retries = sorted({row[2] + 1 for row in batch if row[2] + 1 < ATTEMPTS})
    for attempts in retries:
        sent.filter(attempts=attempts, state=State.QUEUED).update(
            next_try_at=now + RETRY_AFTER[attempts - 1], last_error=error
        )
    if retries:
        schedule(department_id, now + RETRY_AFTER[retries[0] - 1])


def signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """DingTalk's signed address: the timestamp in milliseconds and the base64 HMAC-SHA256
    of "timestamp\\nsecret" keyed by the secret, URL-encoded."""
    digest = hmac.new(
        secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    joiner = "&" if urllib.parse.urlsplit(url).query else "?"
    return f"{url}{joiner}timestamp={timestamp_ms}&sign={sign}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: the robot's host must not send the server elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def post(department: Department, title: str, text: str) -> str:
    """Send one message to the department's robot; "" when it was accepted, else what
    went wrong."""
    url = department.robot_url
    try:
        check_url(url, department.robot_kind)
    except ValidationError as error:
        return " ".join(error.messages)
    if department.robot_kind == RobotKind.DINGTALK:
        body = {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
        url = signed_url(url, department.robot_secret, int(time.time() * 1000))
    else:
        body = {"msgtype": "markdown", "markdown": {"content": text}}
    request = urllib.request.Request(
        url,
        data=json.dumps(body, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    handlers: list = [_NoRedirect()]
    if _is_loopback(urllib.parse.urlsplit(url).hostname or ""):
        handlers.append(urllib.request.ProxyHandler({}))
    try:
        with urllib.request.build_opener(*handlers).open(
            request, timeout=TIMEOUT_SECONDS
        ) as answer:
            status, raw = answer.status, answer.read(ANSWER_BYTES)
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    except (urllib.error.URLError, OSError, ValueError) as error:
        return str(getattr(error, "reason", error)) or type(error).__name__
    if status != 200:
        return f"HTTP {status}"
    try:
        answer = json.loads(raw)
    except ValueError:
        return "HTTP 200, not JSON"
    code = answer.get("errcode") if isinstance(answer, dict) else None
    if code == 0:
        return ""
    message = answer.get("errmsg", "") if isinstance(answer, dict) else ""
    return f"errcode {code}: {message}".strip()
