"""deploy/: the units run commands that exist, nginx lets through what the app accepts and
sends what the settings say, the settings example names every variable the settings read,
and the client address behind the proxy is the one it saw."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import get_commands
from django.test import RequestFactory

from ledger import evidence
from ledger.auth import client_ip

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNITS = sorted([*DEPLOY.glob("*.service"), *DEPLOY.glob("*.timer")])
NGINX = (DEPLOY / "nginx.conf").read_text()
ENV_EXAMPLE = (DEPLOY / "rectify.env.example").read_text()
# Variables the example sets for the units' own use, not read by rectify/settings.py.
UNIT_VARIABLES = {"GUNICORN_BIND", "GUNICORN_WORKERS"}


class _Repeated(dict):
    """A section in which a key given twice (ExecStart) keeps every value, as systemd does."""

    def __setitem__(self, key, value):
        if key in self and isinstance(value, list):
            self[key].extend(value)
        else:
            super().__setitem__(key, value)


def read_unit(path: Path) -> configparser.RawConfigParser:
    unit = configparser.RawConfigParser(strict=False, dict_type=_Repeated, interpolation=None)
    unit.optionxform = str  # systemd's keys are case-sensitive
    unit.read_string(path.read_text())
    return unit


def commands(unit: configparser.RawConfigParser) -> list[list[str]]:
    """Each ExecStart as its words, systemd's backslash continuations joined."""
    value = unit.get("Service", "ExecStart", fallback="")
    lines = value.replace("\\\n", " ").split("\n")
    return [shlex.split(line) for line in lines if line.strip()]


def unit_named(name: str) -> configparser.RawConfigParser:
    return read_unit(DEPLOY / name)


def test_the_units_are_all_there():
    assert {path.name for path in UNITS} == {
        "rectify-web.service",
        "rectify-worker.service",
        "rectify-daily.service",
        "rectify-daily.timer",
    }


@pytest.mark.parametrize("path", [p for p in UNITS if p.suffix == ".service"], ids=str)
def test_every_manage_py_command_a_unit_runs_exists(path):
    known = get_commands()
    unit = read_unit(path)
    assert unit.get("Service", "EnvironmentFile") == "/etc/rectify/rectify.env"
    assert unit.get("Service", "User") == "rectify"
    for words in commands(unit):
        if "manage.py" in words:
            name = words[words.index("manage.py") + 1]
            assert name in known, f"{path.name} runs manage.py {name}, which does not exist"


def test_the_worker_is_run_worker_and_restarts_and_is_given_time_to_finish():
    unit = unit_named("rectify-worker.service")
    assert [words[1:3] for words in commands(unit)] == [["manage.py", "run_worker"]]
    assert unit.get("Service", "Restart") == "always"
    assert unit.get("Service", "RestartSec") == "5"
    assert 60 <= int(unit.get("Service", "TimeoutStopSec")) <= 900


def test_the_web_server_is_gunicorn_and_restarts():
    unit = unit_named("rectify-web.service")
    [words] = commands(unit)
    assert words[0].endswith("/gunicorn") and words[1] == "rectify.wsgi"
    assert unit.get("Service", "Restart") == "always"
    # As long as nginx waits for an answer.
    timeout = int(words[words.index("--timeout") + 1])
    assert f"proxy_read_timeout {timeout}s;" in NGINX


def test_the_daily_timer_runs_the_reminders_then_clears_sessions():
    timer = unit_named("rectify-daily.timer")
    assert timer.get("Timer", "Unit") == "rectify-daily.service"
    assert timer.get("Timer", "OnCalendar")
    unit = unit_named("rectify-daily.service")
    assert unit.get("Service", "Type") == "oneshot"
    assert [words[2] for words in commands(unit)] == [
        "send_reminders",
        "propose_ladder",
        "clearsessions",
        "cleanup_uploads",
    ]


def _bytes(size: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", size).groups()
    return int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit.lower()]


def supervisor_programs() -> configparser.RawConfigParser:
    conf = configparser.RawConfigParser(interpolation=None, inline_comment_prefixes=(";",))
    conf.read_string((DEPLOY / "supervisor" / "rectify.conf").read_text())
    return conf


@pytest.mark.parametrize("name", ["web", "worker"])
def test_without_systemd_supervisor_runs_what_the_unit_runs_and_restarts_it(name):
    """deploy/supervisor/ is the units' equivalent where systemd is absent: the same
    command, user and time to stop, started again whenever it stops."""
    unit = unit_named(f"rectify-{name}.service")
    program = supervisor_programs()[f"program:rectify-{name}"]
    (words,) = commands(unit)
    command = shlex.split(program["command"])
    assert command[0] == "/srv/rectify/deploy/run-with-env"
    joined = " ".join(command[1:])
    assert all(word.split("=")[0].lstrip("$") in joined for word in words if "$" not in word)
    assert program["user"] == unit.get("Service", "User")
    assert program["directory"] == unit.get("Service", "WorkingDirectory")
    assert program["autorestart"] == "true"
    assert int(program["stopwaitsecs"]) == int(unit.get("Service", "TimeoutStopSec"))


def test_without_systemd_cron_runs_the_daily_commands_in_the_units_order():
    unit = unit_named("rectify-daily.service")
    daily = [words[words.index("manage.py") + 1] for words in commands(unit)]
    (line,) = [
        line
        for line in (DEPLOY / "supervisor" / "rectify.cron").read_text().splitlines()
        if line.strip() and not line.startswith("#") and "deploy/manage" in line
    ]
    assert re.findall(r"deploy/manage (\w+)", line) == daily


def test_nginx_lets_through_the_largest_upload_the_app_accepts():
    sizes = re.findall(r"^\s*client_max_body_size\s+(\S+);", NGINX, re.M)
    assert sizes
    largest = max(settings.IMPORT_MAX_BYTES, settings.EVIDENCE_MAX_BYTES * evidence.MAX_FILES)
    assert min(_bytes(size) for size in sizes) >= largest


def test_nginx_sends_the_hsts_the_settings_describe():
    values = set(re.findall(r'add_header\s+Strict-Transport-Security\s+"([^"]+)"', NGINX))
    expected = f"max-age={settings.SECURE_HSTS_SECONDS}"
    if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
        expected += "; includeSubDomains"
    if settings.SECURE_HSTS_PRELOAD:
        expected += "; preload"
    assert values == {expected}


def test_nginx_serves_static_files_and_no_media():
    served = re.findall(r"^\s*(?:alias|root)\s+(\S+);", NGINX, re.M)
    static_root = re.search(r"^STATIC_ROOT=(\S+)", ENV_EXAMPLE, re.M).group(1)
    media_root = re.search(r"^MEDIA_ROOT=(\S+)", ENV_EXAMPLE, re.M).group(1)
    assert served == [f"{static_root}/"]
    assert media_root not in NGINX
    assert "location /media" not in NGINX
    # What the app trusts behind the proxy (BEHIND_TLS_PROXY, AXES_PROXY_COUNT=1).
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in NGINX
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in NGINX
    assert "proxy_set_header Host $host;" in NGINX


def test_the_settings_example_names_every_variable_the_settings_read():
    source = (ROOT / "rectify" / "settings.py").read_text()
    read = set(
        re.findall(
            r'(?:os\.getenv|os\.environ\.get|envint|envbool|envlist)\("([A-Z_0-9]+)"', source
        )
    )
    assert "os.environ[" not in source  # every read goes through one of the above
    named = set(re.findall(r"^#?([A-Z][A-Z_0-9]*)=", ENV_EXAMPLE, re.M))
    assert read - named == set(), "missing from deploy/rectify.env.example"
    assert named - read - UNIT_VARIABLES == set(), "not read by rectify/settings.py"


# --- The client address behind the proxy (AXES_PROXY_COUNT) ---------------------------------


def _request(forwarded: str | None = None, remote: str = "127.0.0.1"):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().post("/login/", **extra)


def test_without_a_proxy_the_connection_is_the_client(settings):
    settings.CLIENT_IP_PROXY_COUNT = 0
    assert client_ip(_request("203.0.113.9", remote="198.51.100.7")) == "198.51.100.7"


def test_behind_one_proxy_the_address_it_appended_is_the_client(settings):
    settings.CLIENT_IP_PROXY_COUNT = 1
    # The first entry was written by the client itself: not to be believed.
    assert client_ip(_request("10.9.9.9, 203.0.113.9")) == "203.0.113.9"
    assert client_ip(_request("203.0.113.9")) == "203.0.113.9"


def test_behind_two_proxies_the_outer_ones_entry_is_the_client(settings):
    settings.CLIENT_IP_PROXY_COUNT = 2
    assert client_ip(_request("10.9.9.9, 203.0.113.9, 192.0.2.1")) == "203.0.113.9"


def test_a_header_shorter_than_the_proxies_is_not_believed(settings):
    settings.CLIENT_IP_PROXY_COUNT = 2
    assert client_ip(_request("203.0.113.9", remote="192.0.2.1")) == "192.0.2.1"
    assert client_ip(_request(None, remote="192.0.2.1")) == "192.0.2.1"
