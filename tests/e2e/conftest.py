"""Browser tests: Playwright drives Debian's Chromium against pytest-django's live server.

One Chromium serves every test of this package; each test opens its own contexts (one per
person signed in), so cookies never leak between people or tests. Chromium is Debian's
(``/usr/bin/chromium``), never a browser Playwright downloads: ``make test`` installs it with
the other system packages.

Playwright's sync API runs an asyncio event loop in the test's own thread while the browser
is open. Django refuses ORM calls from a thread with a running loop unless told otherwise,
hence DJANGO_ALLOW_ASYNC_UNSAFE in these tests only. For the same reason the browser lives
for this package, not the whole session: once the last browser test is done the loop stops,
and the rest of the suite runs with Django's guard intact.

Every page a test visits is checked by axe-core against WCAG 2.0 and 2.1, levels A and AA
(GB/T 37668 asks the same of government sites), and the test fails on any violation: see
``AxeWatch`` below.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-gpu",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 10_000
# axe-core's rule tags for WCAG 2.0 and 2.1, levels A and AA: what GB/T 37668 asks.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}
# Long lists are checked on their first 25 rows: the rest come from the same template lines,
# and axe-core takes seconds per hundred rows (the demo's review queue, an annex of 500).
AXE_CONTEXT = {"exclude": [f"{rows}:nth-child(n+26)" for rows in ("tbody > tr", "ol > li")]}

SET_UP = (
    "`make test` sets them up: it installs the Debian packages in the Makefile's "
    "SYSTEM_PACKAGES (chromium fonts-noto-cjk, through scripts/ensure-packages, as root) and "
    "the pinned Python packages of pyproject.toml (playwright among them) into .venv."
)


@pytest.fixture(scope="package")
def browser() -> Iterator:
    """Debian's Chromium, headless; a failure, never a skip, when it is missing."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        pytest.fail(f"The browser tests need the Python package playwright. {SET_UP}")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"The browser tests need Debian's Chromium at {CHROMIUM}. {SET_UP}")
    # For exactly as long as the loop runs: the tests' own teardown (the database flush of
    # transactional_db) comes before this fixture's.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        try:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
        except Error as error:
            pytest.fail(f"Chromium at {CHROMIUM} did not start ({error}). {SET_UP}")
        yield chromium
        chromium.close()


# The calls by which a test can leave the document a page shows (follow a link, send a form,
# go elsewhere): axe-core checks that document first. Page and Locator are what the tests
# act through; filling a field or choosing a file never navigates, so they are left out and
# the check sees what was typed.
ACTIONS = ("click", "dblclick", "tap", "press", "type", "check", "uncheck", "set_checked")
ACTIONS += ("select_option", "dispatch_event")
LEAVING = {
    "Page": (*ACTIONS, "goto", "reload", "go_back", "go_forward"),
    "Locator": (*ACTIONS, "press_sequentially"),
}
# What a document shows, for knowing it was checked already: its address, the window's size
# and its HTML, less what changes at every request without changing the page (the CSRF
# token, a CSP nonce).
SHOWN = """() => [document.contentType, location.pathname + location.search,
    window.innerWidth + 'x' + window.innerHeight, document.documentElement.outerHTML]"""
PER_REQUEST = re.compile(r'(name="csrfmiddlewaretoken" value|nonce)="[^"]*"')
# The violations (report lines) of each document checked in this run, by what it showed: the
# same sign-in page, shown again, is not checked again, and its violations are reported again.
CHECKED: dict[str, list[tuple[tuple[str, str, str], str]]] = {}


class AxeWatch:
    """axe-core on every page a test visits, in the state the test leaves it in.

    When: just before each test step that can leave the document (``LEAVING``: a click, a
    key press, ``goto``…), and on every page's last document once the test's steps are done
    (``finish``, from ``pytest_runtest_call`` below, so that a violation fails the test
    itself). A test leaves a document only through such a step, so each one shown is
    checked, in the last state the test brought it to (after it filled a form, opened a
    <details>); a page that replaces itself (a refresh) has its next document checked.

    Why then, and not on ``load`` or around the navigation: a check is JavaScript run in the
    document, and it must not race that document being replaced. Before the test's own step
    nothing is navigating: the check waits for the document's ``load`` and runs alone, so it
    never flakes. A ``load`` listener would run inside whatever call the test is in, maybe
    the click on the next link; a check from a route handler, holding the navigation back,
    deadlocks (Chromium answers no evaluation while the renderer's navigation waits).

    What was checked already, the same address showing the same HTML at the same size, is
    not checked again (``CHECKED``); ``check`` may also be called whenever a test wants a
    state looked at. In a context without JavaScript, where axe-core cannot run (its timers
    never fire), the document as shown is checked in a twin page of a scripted context, its
    own scripts barred by a CSP. Violations are gathered, one per page, rule and element,
    and reported together at the end, so that one run shows them all.
    """

    def __init__(self, base_url: str) -> None:
        from axe_playwright_python.sync_playwright import Axe

        self.axe = Axe()  # axe-core's script ships inside the wheel: nothing is downloaded
        self.base_url = base_url
        self.contexts: list = []
        self.scriptless: list = []
        self.found: dict[tuple[str, str, str], str] = {}
        self.checked: list[str] = []  # each address checked (or found checked), in order
        self.busy = False

    def watch(self, context, javascript: bool = True) -> None:
        self.contexts.append(context)
        if not javascript:
            self.scriptless.append(context)

    def before(self, page) -> None:
        if page.context in self.contexts:
            self.check(page)

    def check(self, page) -> None:
        """Run axe-core on what the page shows now, unless that was checked already."""
        if self.busy or page.is_closed():
            return
        self.busy = True  # a check makes Playwright calls of its own: no check within them
        try:
            page.wait_for_load_state("load")
            if not page.url.startswith(self.base_url):
                return  # about:blank, before the first goto
            kind, where, size, html = page.evaluate(SHOWN)
            if kind != "text/html":
                return
            key = hashlib.sha256(f"{where} {size} {PER_REQUEST.sub('', html)}".encode()).hexdigest()
            if key not in CHECKED:
                if page.context in self.scriptless:
                    results = self._run_in_twin(page, html)
                else:
                    results = self._run(page)
                CHECKED[key] = list(self._lines(where, results["violations"]))
        finally:
            self.busy = False
        self.checked.append(where)
        self.found.update(CHECKED[key])

    def _run(self, page) -> dict:
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.evaluate(self.axe.axe_script)
        return page.evaluate("([c, options]) => axe.run(c, options)", [AXE_CONTEXT, AXE_OPTIONS])

    def _run_in_twin(self, page, html: str) -> dict:
        twin_context = page.context.browser.new_context(
            viewport=page.viewport_size, locale="en-US", timezone_id="Asia/Shanghai"
        )
        try:
            twin, url = twin_context.new_page(), page.url
            twin.route(
                lambda address: address == url,
                lambda route: route.fulfill(
                    status=200,
                    content_type="text/html; charset=utf-8",
                    headers={"Content-Security-Policy": "script-src 'none'"},
                    body=f"<!doctype html>{html}",
                ),
            )
            twin.goto(url, timeout=TIMEOUT_MS)
            return self._run(twin)
        finally:
            twin_context.close()

    @staticmethod
    def _lines(where: str, violations: list[dict]) -> Iterator[tuple[tuple[str, str, str], str]]:
        for violation in violations:
            for node in violation["nodes"]:
                target = " ".join(str(part) for part in node["target"])
                summary = " ".join(node.get("failureSummary", "").split())
                yield (
                    (where, violation["id"], target),
                    f"{where}: {violation['id']} ({violation['impact']}) at {target}: "
                    f"{violation['help']}. {summary}",
                )

    def finish(self) -> None:
        """Check each page's last document, then fail on any violation found."""
        from playwright.sync_api import Error

        for context in self.contexts:
            for page in context.pages:
                try:
                    self.check(page)
                except Error:  # the page itself was navigating (a refresh): its next document
                    self.check(page)
        assert not self.found, (
            f"axe-core found {len(self.found)} WCAG 2.1 A/AA violation(s) "
            f"(tags {', '.join(AXE_TAGS)}):\n" + "\n".join(self.found.values())
        )


AXE_WATCH = pytest.StashKey[AxeWatch]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """After a browser test's own steps pass, its pages' last documents are checked by
    axe-core, and a violation anywhere in the test fails it (a failure, not a teardown
    error)."""
    result = yield
    if AXE_WATCH in item.stash:
        item.stash[AXE_WATCH].finish()
    return result


@pytest.fixture
def new_page(browser, live_server, transactional_db, request, monkeypatch):
    """Open a page in a fresh context (a person of their own); all are closed afterwards.

    The browser says it prefers English, as an official's English-language system would:
    the pages must still come in Chinese, the language the offices work in. Every document
    a page shows is checked by axe-core (``AxeWatch``).
    """
    import playwright.sync_api

    try:
        watch = AxeWatch(live_server.url)
    except ImportError:
        pytest.fail(f"The browser tests need the Python package axe-playwright-python. {SET_UP}")
    request.node.stash[AXE_WATCH] = watch
    for class_name, methods in LEAVING.items():
        cls = getattr(playwright.sync_api, class_name)
        for name in methods:
            monkeypatch.setattr(cls, name, _checked_first(getattr(cls, name), watch))

    def open_page(**options):
        javascript = options.get("java_script_enabled", True)
        context = browser.new_context(
            base_url=live_server.url,
            viewport=options.pop("viewport", DESKTOP),
            locale="en-US",
            timezone_id="Asia/Shanghai",
            **options,
        )
        context.set_default_timeout(TIMEOUT_MS)
        watch.watch(context, javascript)
        return context.new_page()

    yield open_page
    for context in watch.contexts:
        context.close()


def _checked_first(method, watch: AxeWatch):
    """``method`` of a Page or a Locator, with axe-core checking the page's document first."""

    @functools.wraps(method)
    def leaving(self, *args, **kwargs):
        watch.before(getattr(self, "page", self))
        return method(self, *args, **kwargs)

    return leaving


def sign_in(page, username: str, password: str = "password") -> None:
    """Sign in through the login page, as a person would; lands on the home page."""
    from playwright.sync_api import expect

    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.locator("main").get_by_role("button", name="登录").click()
    expect(page).not_to_have_url(re.compile(r"/login/"))


def screenshot(page, name: str, viewport: dict[str, int]) -> Path:
    """Write ``<name>-<w>x<h>.png`` at that viewport, the whole page, for review."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.set_viewport_size(viewport)
    path = SCREENSHOTS / f"{name}-{viewport['width']}x{viewport['height']}.png"
    page.screenshot(path=path, full_page=True, animations="disabled", caret="hide")
    return path


def horizontal_overflow(page) -> int:
    """How many CSS pixels the page is wider than the window (0: no sideways scrolling)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def tiny_png(width: int = 24, height: int = 16) -> bytes:
    """A real PNG (a small red and white stripe), made here: no binary fixture to keep."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + (b"\xc0\x1c\x1c" if y < height // 2 else b"\xff\xff\xff") * width
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def tiny_pdf() -> bytes:
    """A one-page PDF with a correct cross-reference table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
