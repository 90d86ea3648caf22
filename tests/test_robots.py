"""Group robots (企业微信/钉钉): notices reach a department's group chat through its webhook,
received here by a real HTTP server on 127.0.0.1 (ledger/supervision/robots.py)."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import http.server
import json
import re
import threading
import time
import urllib.parse

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from ledger import worker, workflow
from ledger.models import AuditEntry, Department, Event, RobotKind, WorkerHeartbeat
from ledger.supervision import robots
from ledger.supervision.models import RobotMessage

from .factory import in_days, make_item, make_user

pytestmark = pytest.mark.django_db

SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
OK = {"errcode": 0, "errmsg": "ok"}


class RobotServer:
    """A robot's webhook on 127.0.0.1: records each POST and answers what it is told."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.answer: dict | None = OK
        self.status = 200
        self.headers: dict[str, str] = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                parts = urllib.parse.urlsplit(self.path)
                server.received.append(
                    {
                        "path": parts.path,
                        "raw_query": parts.query,
                        "query": dict(urllib.parse.parse_qsl(parts.query)),
                        "body": json.loads(body),
                        "content_type": self.headers.get("Content-Type", ""),
                    }
                )
                payload = json.dumps(server.answer).encode()
                self.send_response(server.status)
                for name, value in server.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(settings):
    settings.ROBOT_ALLOWED_HOSTS = [*django_settings.ROBOT_ALLOWED_HOSTS, "127.0.0.1"]
    settings.ROBOT_GATHER_SECONDS = 0
    robot = RobotServer()
    yield robot
    robot.close()


def wecom(department: Department, server: RobotServer, key: str = "k-edu") -> Department:
    department.robot_kind = RobotKind.WECOM
    department.robot_url = server.url(f"/cgi-bin/webhook/send?key={key}")
    department.save()
    return department


def dingtalk(department: Department, server: RobotServer) -> Department:
    department.robot_kind = RobotKind.DINGTALK
    department.robot_url = server.url("/robot/send?access_token=t-edu")
    department.robot_secret = SECRET
    department.save()
    return department


def content(request: dict) -> str:
    markdown = request["body"]["markdown"]
    return markdown.get("content") or markdown["text"]


def assign(item, cast, **kw):
    return workflow.assign(
        item,
        by=cast.alice,
        leader=cast.leader,
        lead_department=kw.pop("lead", cast.edu),
        co_departments=kw.pop("co", []),
        deadline=in_days(30),
        **kw,
    )


def tick() -> None:
    """One beat of a worker's heartbeat, as run_worker's thread does it."""
    worker.Heartbeat("robot-test-worker").tick()


# --- Delivery --------------------------------------------------------------------------------


def test_an_assignment_reaches_the_wecom_groups_of_the_lead_and_shared_departments(
    cast, draft, server, django_capture_on_commit_callbacks
):
    wecom(cast.edu, server, "k-edu")
    wecom(cast.traffic, server, "k-traffic")
    with django_capture_on_commit_callbacks(execute=True):
        assign(draft, cast, co=[cast.traffic])
    assert sorted(r["query"]["key"] for r in server.received) == ["k-edu", "k-traffic"]
    request = server.received[0]
    assert request["path"] == "/cgi-bin/webhook/send"
    assert request["content_type"].startswith("application/json")
    assert request["body"]["msgtype"] == "markdown"
    text = content(request)
    assert draft.number in text
    assert "学校周边交通拥堵" in text
    assert reverse("ledger:item", args=[draft.pk]) in text
    assert in_days(30).isoformat() in text
    sent = RobotMessage.objects.get(department=cast.edu)
    assert sent.state == RobotMessage.State.SENT
    assert sent.sent_at is not None
    assert sent.events == [Event.objects.get(item=draft, kind="assign").pk]


def test_a_dingtalk_message_is_signed_with_the_timestamp_and_the_secret(
    cast, in_progress, server, django_capture_on_commit_callbacks
):
    dingtalk(cast.edu, server)
    before = int(time.time() * 1000)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.escalate(in_progress, by=cast.alice, note="请本周内办结")
    after = int(time.time() * 1000)
    (request,) = server.received
    assert request["path"] == "/robot/send"
    assert request["query"]["access_token"] == "t-edu"
    timestamp = request["query"]["timestamp"]
    assert before <= int(timestamp) <= after
    expected = base64.b64encode(
        hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(), hashlib.sha256).digest()
    ).decode()
    assert request["query"]["sign"] == expected
    # Sent URL-encoded: base64's + / = do not reach DingTalk as spaces or separators.
    assert f"sign={urllib.parse.quote_plus(expected)}" in request["raw_query"]
    markdown = request["body"]["markdown"]
    assert request["body"]["msgtype"] == "markdown"
    assert "市教育局" in markdown["title"]
    assert in_progress.number in markdown["text"]
    assert "请本周内办结" in markdown["text"]


def test_a_burst_of_five_for_one_department_arrives_as_one_message(
    cast, server, settings, django_capture_on_commit_callbacks
):
    items = [make_item(cast.round, title=f"路灯不亮{n}") for n in range(5)]
    for item in items:
        assign(item, cast)
    wecom(cast.edu, server)
    settings.ROBOT_GATHER_SECONDS = 60
    start = timezone.now()
    for n, item in enumerate(items):
        # One transition after another, each its own transaction, as a supervisor urges:
        # ten seconds apart, the last one 40 seconds after the first.
        with (
            time_machine.travel(start + datetime.timedelta(seconds=10 * n), tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            workflow.escalate(item, by=cast.alice, note="请加快办理")
            tick()
    assert server.received == []  # still gathering
    with time_machine.travel(start + datetime.timedelta(seconds=61), tick=False):
        tick()
    (request,) = server.received
    text = content(request)
    header, *lines = text.splitlines()
    assert "5" in header and "市教育局" in header
    assert len(lines) == 5
    for item, text_line in zip(items, lines, strict=True):
        assert item.number in text_line and item.title in text_line
    sent = RobotMessage.objects.filter(department=cast.edu)
    assert {m.state for m in sent} == {RobotMessage.State.SENT}
    assert len({m.sent_at for m in sent}) == 1


def test_a_refusal_is_retried_by_the_worker_then_failed_and_shown_for_a_retry(
    cast, draft, server, client, django_capture_on_commit_callbacks
):
    wecom(cast.edu, server)
    server.answer = {"errcode": 310000, "errmsg": "keywords not in content"}
    with django_capture_on_commit_callbacks(execute=True):
        assign(draft, cast)
    assert len(server.received) == 1
    message = RobotMessage.objects.get(department=cast.edu)
    assert message.state == RobotMessage.State.QUEUED
    assert "310000" in message.last_error
    tick()
    assert len(server.received) == 1  # not before its time
    at = timezone.now()
    for n, wait in enumerate(robots.RETRY_AFTER, start=2):
        at += wait + datetime.timedelta(seconds=1)
        with time_machine.travel(at, tick=False):
            tick()
        assert len(server.received) == n
    message.refresh_from_db()
    assert message.state == RobotMessage.State.FAILED
    assert message.attempts == robots.ATTEMPTS
    with time_machine.travel(at + datetime.timedelta(days=1), tick=False):
        tick()
    assert len(server.received) == robots.ATTEMPTS  # failed: no more tries

    admin = make_user("root", role="administrator", first_name="管理员")
    client.force_login(admin)
    page = client.get(reverse("manage:department", args=[cast.edu.pk]))
    html = page.content.decode()
    assert "errcode 310000: keywords not in content" in html
    assert draft.number in html
    retry = reverse("manage:department-robot-retry", args=[cast.edu.pk])
    assert f'action="{retry}"' in html
    listing = client.get(reverse("manage:departments")).content.decode()
    assert f"{reverse('manage:department', args=[cast.edu.pk])}#failed" in listing

    server.answer = OK
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(retry).status_code == 302
    assert len(server.received) == robots.ATTEMPTS + 1
    message.refresh_from_db()
    assert message.state == RobotMessage.State.SENT
    assert (
        "310000"
        not in client.get(reverse("manage:department", args=[cast.edu.pk])).content.decode()
    )


def test_a_robot_that_answers_an_http_error_or_a_redirect_fails_and_is_not_followed(
    cast, draft, server, django_capture_on_commit_callbacks
):
    wecom(cast.edu, server)
    server.status, server.headers = 302, {"Location": server.url("/elsewhere")}
    with django_capture_on_commit_callbacks(execute=True):
        assign(draft, cast)
    assert [r["path"] for r in server.received] == ["/cgi-bin/webhook/send"]
    assert RobotMessage.objects.get().last_error == "HTTP 302"


def test_a_rolled_back_transition_sends_nothing(
    cast, in_progress, server, django_capture_on_commit_callbacks
):
    wecom(cast.edu, server)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        workflow.escalate(in_progress, by=cast.alice, note="请加快办理")
        raise RuntimeError("the rest of the request failed")
    assert callbacks == []
    assert not RobotMessage.objects.exists()
    tick()
    assert server.received == []


def test_events_other_than_the_listed_ones_and_departments_without_a_robot_send_nothing(
    cast, assigned, server, django_capture_on_commit_callbacks
):
    wecom(cast.traffic, server)  # shares the item, but only assignment reaches co-departments
    with django_capture_on_commit_callbacks(execute=True):
        workflow.start(assigned, by=cast.bob)
        workflow.escalate(assigned, by=cast.alice, note="请加快办理")
    assert server.received == []
    assert not RobotMessage.objects.exists()


def test_titles_cannot_forge_links_or_mentions(cast, server, django_capture_on_commit_callbacks):
    item = make_item(cast.round, title="[点此领取](https://evil.example/x) <@all> **紧急** @所有人")
    wecom(cast.edu, server)
    with django_capture_on_commit_callbacks(execute=True):
        assign(item, cast)
    text = content(server.received[0])
    targets = re.findall(r"\]\(([^)]*)\)", text)
    assert targets == [django_settings.SITE_URL + reverse("ledger:item", args=[item.pk])]
    assert "<@" not in text and "@" not in text
    assert "**紧急**" not in text
    assert "evil.example" in text  # still readable, as plain text
    assert "https://evil" not in text


def test_more_than_the_robots_rate_waits_for_the_next_minute(
    cast, server, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(robots, "PER_MINUTE", 2)
    wecom(cast.edu, server)
    for _n in range(3):
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            robots.send_test(cast.edu)
    assert len(server.received) == 2
    waiting = RobotMessage.objects.get(state=RobotMessage.State.QUEUED)
    assert waiting.attempts == 0
    assert waiting.next_try_at > timezone.now()
    with time_machine.travel(waiting.next_try_at + datetime.timedelta(seconds=1), tick=False):
        tick()
    assert len(server.received) == 3


def test_two_workers_never_take_the_same_message(cast, server):
    wecom(cast.edu, server)
    message = RobotMessage.objects.create(department=cast.edu, text="x")
    now = timezone.now()
    assert robots._claim([message.pk], now) == [message.pk]
    assert robots._claim([message.pk], now) == []
    message.refresh_from_db()
    assert message.attempts == 1
    assert message.next_try_at > now  # a dead worker's claim comes due again after the lease


def test_the_worker_queues_one_pass_at_a_time(cast, server, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    wecom(cast.edu, server)
    assert robots.queue_pass() is False  # nothing waits
    RobotMessage.objects.create(department=cast.edu, text="x")
    assert robots.queue_pass() is True
    assert robots.queue_pass() is False  # one is queued already
    assert (
        DBTaskResult.objects.filter(
            task_path=robots.send_due_robot_messages.module_path, status=TaskResultStatus.READY
        ).count()
        == 1
    )


def test_a_department_whose_robot_was_removed_fails_its_waiting_messages(cast, server):
    message = RobotMessage.objects.create(department=cast.edu, text="x")
    robots.send_due()
    message.refresh_from_db()
    assert message.state == RobotMessage.State.FAILED
    assert server.received == []


# --- The administrator's page ----------------------------------------------------------------


@pytest.fixture
def admin_client(client, cast):
    client.force_login(make_user("root", role="administrator", first_name="管理员"))
    return client


def save_robot(client, department, **data):
    return client.post(reverse("manage:department", args=[department.pk]), data)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/cgi-bin/webhook/send?key=abc",
        "https://169.254.169.254/latest/meta-data/",
        "http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc",
        "https://user:pw@qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc",
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send",
        "https://oapi.dingtalk.com/robot/send?access_token=abc",
        "ftp://qyapi.weixin.qq.com/x",
        "qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc",
    ],
)
def test_an_address_off_the_robots_hosts_or_not_https_is_refused(admin_client, cast, url):
    response = save_robot(admin_client, cast.edu, kind="wecom", url=url)
    assert response.status_code == 400
    assert "url" in response.context["form"].errors
    # What was typed stays in the form.
    assert response.context["form"]["url"].value() == url
    cast.edu.refresh_from_db()
    assert cast.edu.robot_kind == "" and cast.edu.robot_url == ""


def test_dingtalk_needs_its_secret_which_is_never_shown_back(admin_client, cast):
    url = "https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef"
    assert save_robot(admin_client, cast.edu, kind="dingtalk", url=url).status_code == 400
    refused = save_robot(admin_client, cast.edu, kind="dingtalk", url=url, secret="abc123456789")
    assert "secret" in refused.context["form"].errors
    assert (
        save_robot(admin_client, cast.edu, kind="dingtalk", url=url, secret=SECRET).status_code
        == 302
    )
    cast.edu.refresh_from_db()
    assert (cast.edu.robot_kind, cast.edu.robot_url, cast.edu.robot_secret) == (
        "dingtalk",
        url,
        SECRET,
    )
    page = admin_client.get(reverse("manage:department", args=[cast.edu.pk])).content.decode()
    assert SECRET not in page and SECRET[4:20] not in page
    assert robots.masked(SECRET) in page
    # Saved again without typing it: the secret on file is kept.
    assert save_robot(admin_client, cast.edu, kind="dingtalk", url=url).status_code == 302
    cast.edu.refresh_from_db()
    assert cast.edu.robot_secret == SECRET
    line = AuditEntry.objects.filter(kind="account", target="市教育局").latest("pk")
    assert "市教育局" in line.summary
    assert SECRET not in json.dumps(line.detail, ensure_ascii=False)
    assert "0123456789abcdef" not in json.dumps(line.detail, ensure_ascii=False)


def test_a_wecom_robot_is_saved_audited_and_removed(admin_client, cast):
    url = (
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
    )
    assert (
        save_robot(admin_client, cast.edu, kind="wecom", url=url, secret=SECRET).status_code == 302
    )
    cast.edu.refresh_from_db()
    assert (cast.edu.robot_kind, cast.edu.robot_url, cast.edu.robot_secret) == ("wecom", url, "")
    assert AuditEntry.objects.filter(kind="account", target="市教育局").count() == 1
    assert save_robot(admin_client, cast.edu, kind="", url=url).status_code == 302
    cast.edu.refresh_from_db()
    assert (cast.edu.robot_kind, cast.edu.robot_url) == ("", "")
    assert AuditEntry.objects.filter(kind="account", target="市教育局").count() == 2


def test_a_test_message_reaches_the_group(
    admin_client, cast, server, django_capture_on_commit_callbacks
):
    wecom(cast.edu, server)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("manage:department-robot-test", args=[cast.edu.pk]))
    assert response.status_code == 302
    (request,) = server.received
    assert "市教育局" in content(request)
    page = admin_client.get(reverse("manage:department", args=[cast.edu.pk])).content.decode()
    assert timezone.localtime(RobotMessage.objects.get().sent_at).strftime("%Y-%m-%d %H:%M") in page


@pytest.mark.parametrize("who", ["alice", "bob", "lena", "nobody"])
def test_only_the_administrator_reaches_the_department_pages(client, cast, who):
    client.force_login(getattr(cast, who))
    assert client.get(reverse("manage:departments")).status_code == 404
    assert client.get(reverse("manage:department", args=[cast.edu.pk])).status_code == 404
    for name in ("manage:department-robot-test", "manage:department-robot-retry"):
        assert client.post(reverse(name, args=[cast.edu.pk])).status_code == 404
    response = client.post(
        reverse("manage:department", args=[cast.edu.pk]),
        {"kind": "wecom", "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x"},
    )
    assert response.status_code == 404
    cast.edu.refresh_from_db()
    assert cast.edu.robot_url == ""


def test_a_failing_pass_does_not_stop_the_workers_heartbeat(cast, monkeypatch):
    def broken(now=None):
        raise RuntimeError("no pass today")

    monkeypatch.setattr(robots, "queue_pass", broken)
    tick()
    assert WorkerHeartbeat.objects.filter(worker_id="robot-test-worker").exists()
