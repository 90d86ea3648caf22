"""The scenario of bench/load.py, run by locust: department officials, supervisors and
anonymous readers of the public notice, each a simulated browser.

Not meant to be run by hand: bench/load.py seeds the database, writes the plan this file
reads (accounts, the items each may open and post progress on, the notice's pages; the file
named by RECTIFY_LOAD_PLAN), starts gunicorn, runs locust on this file, and reads back what
it writes: every request's kind, time and outcome, and a journal of the progress reports
sent and accepted. It runs in locust's process, where gevent has patched the standard
library; nothing here imports Django.

Each signed-in user signs in once, with the login form and its CSRF token, and never
again: a failed sign-in stops that user rather than retry (django-axes would lock the
account out after five). Every response is checked: the status expected (a redirect where
one is not expected is an error: it would be the login page), and for a progress report,
the redirect back to the item and the report shown on it.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from locust import HttpUser, between, events, task
from locust.exception import StopUser
from requests.adapters import HTTPAdapter

PLAN = json.loads(Path(os.environ["RECTIFY_LOAD_PLAN"]).read_text(encoding="utf-8"))
THINK = between(*PLAN["think"])
# A request that takes longer than this is an error (and never hangs the run).
TIMEOUT = 30
# After the first round of work, in which every official with an item to report on posts
# one, an official posts progress in this share of rounds; the rest are reading.
POST_SHARE = 0.5
# The kinds the figures are printed by (bench/load.py prints them in this order).
SIGN_IN = "sign-in"
OFFICIAL_BROWSE = "official browse"
OFFICIAL_POST = "official post progress"
SUPERVISOR = "supervisor review"
PUBLIC = "public read"
SCENARIO = "scenario"  # an exception in this file's own code: counted as an error

PROGRESS_TEXTS = [
    "本周召开专题推进会，研究解决整改中的难点问题，明确下一阶段任务分工。",
    "已完成现场核查，整改方案正在按计划推进，群众反映的情况已逐项登记。",
    "施工单位已进场，完成工程量约三成，预计月底前完成主体部分。",
    "已组织相关科室开展联合检查，督促责任单位落实整改措施。",
    "已回访反映问题的群众，对目前的整改进度表示认可，将继续跟进。",
]


# --- What locust records ----------------------------------------------------------------

SAMPLES: list[list] = []


@events.request.add_listener
def _record(request_type, name, response_time, exception, start_time=None, **_kwargs):
    """Every request, as [kind, page, start, milliseconds, error or None]; written out at
    the end for bench/load.py, which computes the percentiles from all of them."""
    kind, _, page = name.partition(" · ")
    error = None if exception is None else str(exception)[:300]
    SAMPLES.append([kind, f"{request_type} {page}", start_time, response_time, error])


@events.user_error.add_listener
def _user_error(user_instance, exception, tb, **_kwargs):
    SAMPLES.append([SCENARIO, type(user_instance).__name__, time.time(), 0.0, repr(exception)])


@events.quitting.add_listener
def _write_samples(**_kwargs):
    Path(PLAN["samples"]).write_text(json.dumps(SAMPLES), encoding="utf-8")


def journal(state: str, marker: str, item: int, username: str) -> None:
    """One line per progress report: "sent" before it is posted, then "accepted" when the
    app answered with the redirect that means it was saved, "failed" otherwise. Written at
    once, so that a report in flight when the run ends is still known to have been sent."""
    line = json.dumps({"state": state, "marker": marker, "item": item, "user": username})
    with open(PLAN["journal"], "a", encoding="utf-8") as f:
        f.write(line + "\n")


# --- The browser's side of the wire ------------------------------------------------------


class TlsProxyAdapter(HTTPAdapter):
    """Plays nginx's part (deploy/nginx.conf) between the simulated browser and gunicorn.

    The browser speaks https to the site, so it sends the cookies the app marks Secure; the
    proxy forwards plain http to gunicorn with Host, X-Forwarded-Proto and X-Forwarded-For
    set, as nginx does. The app, told it is behind a TLS proxy (BEHIND_TLS_PROXY), sees a
    secure request from the browser's own address (AXES_PROXY_COUNT=1). Only the loopback
    address is ever reached: bench/load.py gives locust https://127.0.0.1:<port>.
    """

    def __init__(self, client_ip: str) -> None:
        super().__init__()
        self.client_ip = client_ip

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        if parts.hostname != "127.0.0.1":
            raise ValueError(f"the load bench only talks to 127.0.0.1, not {request.url}")
        request.url = urlunsplit(("http", *parts[1:]))
        request.headers["Host"] = parts.hostname  # nginx's $host: the name, no port
        request.headers["X-Forwarded-Proto"] = "https"
        request.headers["X-Forwarded-For"] = self.client_ip
        if request.method == "POST":
            # What a browser sends with a form posted from the site's own page.
            request.headers["Origin"] = f"https://{parts.hostname}"
        return super().send(request, **kwargs)


class Forms(HTMLParser):
    """The forms of a page: {action: {field: value}} for inputs and text areas."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, dict[str, str]] = {}
        self._current: dict[str, str] | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._current = self.forms.setdefault(a.get("action") or "", {})
        elif self._current is not None and tag == "input" and a.get("name"):
            if a.get("type") not in {"checkbox", "radio", "file"} or "checked" in a:
                self._current[a["name"]] = a.get("value") or ""
        elif self._current is not None and tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self._current[self._textarea] = ""

    def handle_data(self, data):
        if self._current is not None and self._textarea:
            self._current[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._current = None


def forms_of(html: str) -> dict[str, dict[str, str]]:
    parser = Forms()
    parser.feed(html)
    return parser.forms


# --- Users --------------------------------------------------------------------------------


class Browser(HttpUser):
    """A browser on the site: checked requests, one session, no automatic redirects."""

    abstract = True
    wait_time = THINK

    def on_start(self) -> None:
        self.client.trust_env = False  # never an HTTP proxy from the environment
        self.client.mount("https://", TlsProxyAdapter(self.client_ip()))
        self.client.headers["Accept-Language"] = "zh-CN,zh;q=0.9"

    def client_ip(self) -> str:
        raise NotImplementedError

    def fetch(
        self,
        kind: str,
        label: str,
        path: str,
        *,
        method: str = "GET",
        expect: int = 200,
        contains: str = "",
        location: str | None = None,
        **kwargs,
    ):
        """One request, reported as ``kind · label``; the response, or None when it was
        not what a browser should get (then counted as an error): another status than
        ``expect``, a page without ``contains``, a redirect elsewhere than ``location``."""
        # The kind goes along in a header for gunicorn's access log, which bench/load.py
        # reads for the app's own time of each kind (without the wait for a free worker).
        kwargs["headers"] = {"X-Load-Kind": kind, **kwargs.get("headers", {})}
        with self.client.request(
            method,
            path,
            name=f"{kind} · {label}",
            catch_response=True,
            allow_redirects=False,
            timeout=TIMEOUT,
            **kwargs,
        ) as response:
            if response.status_code != expect:
                where = response.headers.get("Location", "")
                response.failure(
                    f"{method} {label}: {response.status_code} {where}".rstrip() + f", not {expect}"
                )
                return None
            if contains and contains not in response.text:
                response.failure(f"{method} {label}: the page does not show {contains!r}")
                return None
            if location is not None and response.headers.get("Location") != location:
                response.failure(
                    f"{method} {label}: redirected to {response.headers.get('Location')!r}, "
                    f"not {location!r}"
                )
                return None
            response.success()
            return response


class SignedIn(Browser):
    abstract = True
    accounts: itertools.count  # position in the plan's list of this kind of account
    plan_key = ""

    def on_start(self) -> None:
        try:
            self.account = PLAN[self.plan_key][next(type(self).accounts)]
        except IndexError:
            raise StopUser() from None  # more users than accounts: bench/load.py prevents it
        super().on_start()
        self.sign_in()

    def client_ip(self) -> str:
        return self.account["ip"]

    def sign_in(self) -> None:
        page = self.fetch(SIGN_IN, "/login/", "/login/")
        token = forms_of(page.text).get("", {}).get("csrfmiddlewaretoken") if page else None
        if token is None:
            raise StopUser()
        self.wait()  # typing the user name and password
        done = self.fetch(
            SIGN_IN,
            "/login/",
            "/login/",
            method="POST",
            expect=302,
            data={
                "csrfmiddlewaretoken": token,
                "next": "",
                "username": self.account["username"],
                "password": PLAN["password"],
            },
            headers={"Referer": "https://127.0.0.1/login/"},
            location="/",
        )
        if done is None:
            raise StopUser()  # never tried again: each account signs in once

    def page(self, kind: str, label: str, path: str, **kwargs):
        return self.fetch(kind, label, path, **kwargs)


class Official(SignedIn):
    """A department official: the home page, the ledger and its filters, the items of the
    department, and progress reports on the items the plan gives this account alone (so
    that no two users ever write to one item: a report bumps the item's version)."""

    accounts = itertools.count()
    plan_key = "officials"
    fixed_count = len(PLAN["officials"])

    def on_start(self) -> None:
        super().on_start()
        self.reports = 0
        self.rng = random.Random(self.account["username"])

    def browse(self, label: str, path: str, **kwargs):
        return self.page(OFFICIAL_BROWSE, label, path, **kwargs)

    @task
    def a_round_of_work(self) -> None:
        # The home page lists the department's overdue and due-soon items: from there to an
        # item (the first time, straight to a report), then the ledger.
        self.browse("/", "/")
        self.wait()
        mine = self.account["post"]
        if mine and (self.reports == 0 or self.rng.random() < POST_SHARE):
            self.post_progress(self.rng.choice(mine))
        else:
            self.browse("/items/[id]/", f"/items/{self.rng.choice(self.account['items'])}/")
        self.wait()
        self.browse("/items/?…", self.rng.choice(PLAN["official_lists"]))
        if self.rng.random() < 0.3:
            self.wait()
            self.browse("/notifications/", "/notifications/")

    def post_progress(self, pk: int) -> None:
        item_path = f"/items/{pk}/"
        action = f"/items/{pk}/progress/"
        page = self.browse("/items/[id]/", item_path, contains=f'action="{action}"')
        if page is None:
            return
        form = forms_of(page.text)[action]
        self.wait()  # writing the report
        self.reports += 1
        marker = f"[{PLAN['run']}-{self.account['username']}-{self.reports}]"
        username = self.account["username"]
        percent = min(100, int(form.get("percent") or 0) + self.rng.randint(1, 5))
        fields = form | {
            "percent": str(percent),
            "text": f"{self.rng.choice(PROGRESS_TEXTS)}{marker}",
        }
        # multipart/form-data, as the browser sends this form (it has a file field): each
        # field a part, and the file input an empty part, as with no file chosen.
        parts = {name: (None, value) for name, value in fields.items()}
        parts["evidence"] = ("", b"", "application/octet-stream")
        journal("sent", marker, pk, username)
        done = self.fetch(
            OFFICIAL_POST,
            "/items/[id]/progress/",
            action,
            method="POST",
            expect=302,
            files=parts,
            headers={"Referer": f"https://127.0.0.1{item_path}"},
            location=item_path,
        )
        if done is None:
            journal("failed", marker, pk, username)
            return
        journal("accepted", marker, pk, username)
        # The browser follows the redirect: the item page, with the report on it.
        self.browse("/items/[id]/ after a report", item_path, contains=marker)


class Supervisor(SignedIn):
    """A supervisor (督查员): the home page, the review queue, the items awaiting review
    (close-out requests, declined items) and the ledger filtered to them."""

    accounts = itertools.count()
    plan_key = "supervisors"
    fixed_count = len(PLAN["supervisors"])

    def on_start(self) -> None:
        super().on_start()
        self.rng = random.Random(self.account["username"])

    def review(self, label: str, path: str, **kwargs):
        return self.page(SUPERVISOR, label, path, **kwargs)

    @task
    def a_round_of_review(self) -> None:
        self.review("/", "/")
        self.wait()
        self.review("/review/", "/review/")
        self.wait()
        self.review("/items/[id]/", f"/items/{self.rng.choice(self.account['queue'])}/")
        self.wait()
        self.review("/items/?…", self.rng.choice(PLAN["supervisor_lists"]))
        self.wait()
        self.review("/items/[id]/", f"/items/{self.rng.choice(self.account['items'])}/")


class Reader(Browser):
    """Anyone, not signed in, reading the published notice: the index, the notice, one of
    its annex pages, now and then the PDF."""

    numbers = itertools.count(1)
    fixed_count = PLAN["readers"]

    def on_start(self) -> None:
        n = next(Reader.numbers)
        self.ip = f"10.77.{n // 250}.{n % 250 + 1}"
        self.rng = random.Random(n)
        super().on_start()

    def client_ip(self) -> str:
        return self.ip

    def read(self, label: str, path: str, **kwargs):
        return self.fetch(PUBLIC, label, path, **kwargs)

    @task
    def a_visit(self) -> None:
        notice = PLAN["notice"]
        self.read("/notices/", "/notices/", contains=notice["title"])
        self.wait()
        self.read("/notices/[id]/", notice["page"], contains=notice["title"])
        self.wait()
        self.read("/notices/[id]/annex/[n]/", self.rng.choice(notice["annexes"]))
        if self.rng.random() < 0.1:
            self.wait()
            self.read("/notices/[id]/pdf/", notice["pdf"])
