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
"""

from __future__ import annotations

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


@pytest.fixture
def new_page(browser, live_server, transactional_db):
    """Open a page in a fresh context (a person of their own); all are closed afterwards.

    The browser says it prefers English, as an official's English-language system would:
    the pages must still come in Chinese, the language the offices work in.
    """
    contexts = []

    def open_page(**options):
        context = browser.new_context(
            base_url=live_server.url,
            viewport=options.pop("viewport", DESKTOP),
            locale="en-US",
            timezone_id="Asia/Shanghai",
            **options,
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


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
