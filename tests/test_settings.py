"""Settings come from the environment; production settings pass `check --deploy`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS"}
        and not k.startswith("SECURE_")
    }
    clean["DJANGO_SETTINGS_MODULE"] = "rectify.settings"
    return subprocess.run(
        [sys.executable, "manage.py", *args, *(["--no-imports"] if args[0] == "shell" else [])],
        cwd=ROOT,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k3y-" + "x7Qp2Lm9Zr4Vt8Nw1Yb6Hc5Jd0Fg3Ks" * 2,
    "ALLOWED_HOSTS": "rectify.example.gov.cn",
}


def test_production_settings_pass_the_deploy_check_without_a_warning():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_a_missing_secret_key_stops_a_production_start():
    result = manage("check", DEBUG="false", ALLOWED_HOSTS="x")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_a_bad_boolean_is_refused_with_its_name():
    result = manage("check", **(PRODUCTION | {"DEBUG": "maybe"}))
    assert result.returncode != 0
    assert "DEBUG must be true or false" in result.stderr


def test_postgresql_is_chosen_by_url():
    code = (
        "from django.conf import settings; d = settings.DATABASES['default'];"
        "print(d['ENGINE'], d['NAME'], d['HOST'], d['PORT'])"
    )
    result = manage(
        "shell",
        "-c",
        code,
        **(PRODUCTION | {"DATABASE_URL": "postgres://u:p@db.internal:5433/rectify"}),
    )
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "rectify",
        "db.internal",
        "5433",
    ], result.stderr


def test_postgresql_sessions_plan_for_memory_not_a_spinning_disk():
    """The keyword's trigram index is followed, not a whole-table scan, only with a random
    page cost near the sequential one (see the settings' comment)."""
    code = "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS'])"
    result = manage(
        "shell",
        "-c",
        code,
        **(PRODUCTION | {"DATABASE_URL": "postgres://u:p@db.internal:5433/rectify"}),
    )
    assert "-c random_page_cost=1.1" in result.stdout, result.stderr
    assert "-c jit=off" in result.stdout


def test_sqlite_is_the_default():
    code = "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"
    result = manage("shell", "-c", code, **PRODUCTION)
    assert result.stdout.strip() == "django.db.backends.sqlite3", result.stderr


def test_a_command_that_only_reads_the_code_needs_no_secret_key():
    result = manage("makemigrations", "--check", "--dry-run", DEBUG="false")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout
