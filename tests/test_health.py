"""/health/: what a monitor polls without signing in (ledger/health.py)."""

from __future__ import annotations

import datetime
import json
import socket
from unittest import mock

import pytest
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from ledger import health
from ledger.models import WorkerHeartbeat

from .factory import make_user

URL = "/health/"

pytestmark = pytest.mark.django_db


def waiting_task(*, waited: int, run_after: datetime.datetime | None = None) -> DBTaskResult:
    """A task ready to run, enqueued ``waited`` seconds ago, that no worker has taken."""
    task = DBTaskResult.objects.create(
        args_kwargs={"args": [], "kwargs": {}},
        task_path="ledger.jobs.nothing",
        backend_name="default",
        run_after=run_after or get_date_max(),
    )
    # enqueued_at is auto_now_add: set the past afterwards.
    enqueued = timezone.now() - datetime.timedelta(seconds=waited)
    DBTaskResult.objects.filter(pk=task.pk).update(enqueued_at=enqueued)
    return task


def beat(seconds_ago: int) -> None:
    WorkerHeartbeat.objects.create(
        worker_id=f"w{seconds_ago}",
        beat_at=timezone.now() - datetime.timedelta(seconds=seconds_ago),
    )


def get(client):
    response = client.get(URL)
    return response, json.loads(response.content)


def test_all_well_is_200_ok_for_anyone(client):
    response, body = get(client)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert body["status"] == "ok"
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "ok",
        "disk": "ok",
        "worker": "ok",
    }
    assert body["checks"]["worker"]["waiting_tasks"] == 0


def test_it_is_never_cached(client):
    response, _body = get(client)
    assert "no-store" in response["Cache-Control"]


def test_a_database_that_does_not_answer_fails_it_and_its_error_stays_in_the_log(client):
    broken = mock.MagicMock()
    broken.cursor.side_effect = OperationalError("could not connect to db.internal as rectify")
    with mock.patch.object(health, "connection", broken):
        response, body = get(client)
    assert response.status_code == 503
    assert body["status"] == "fail"
    assert body["checks"]["database"]["status"] == "fail"
    assert body["checks"]["worker"]["status"] == "unknown"
    assert b"db.internal" not in response.content
    assert b"rectify" not in response.content.lower()


def test_too_little_free_disk_fails_it(client, settings):
    minimum = settings.HEALTH_MIN_FREE_MB = 10**12
    response, body = get(client)
    assert response.status_code == 503
    assert body["status"] == "fail"
    disk = body["checks"]["disk"]
    assert disk["status"] == "fail"
    assert disk["free_mb"] < disk["min_free_mb"] == minimum
    assert body["checks"]["database"]["status"] == "ok"


def test_a_media_root_not_made_yet_is_measured_on_its_disk(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "not" / "yet"
    response, body = get(client)
    assert response.status_code == 200
    assert body["checks"]["disk"]["free_mb"] > 0


def test_a_task_waiting_with_no_worker_fails_it(client):
    waiting_task(waited=settings.HEALTH_WORKER_MAX_AGE + 60)
    response, body = get(client)
    assert response.status_code == 503
    assert body["status"] == "fail"
    worker = body["checks"]["worker"]
    assert worker["status"] == "fail"
    assert worker["waiting_tasks"] == 1
    assert worker["heartbeat_age_seconds"] is None
    assert worker["detail"]


def test_a_task_waiting_while_a_worker_beats_is_well(client):
    waiting_task(waited=settings.HEALTH_WORKER_MAX_AGE + 60)
    with mock.patch.object(health, "worker_heartbeat_age", return_value=5.0):
        response, body = get(client)
    assert response.status_code == 200
    assert body["checks"]["worker"] == {
        "status": "ok",
        "waiting_tasks": 1,
        "heartbeat_age_seconds": 5,
        "max_age_seconds": settings.HEALTH_WORKER_MAX_AGE,
    }


def test_a_heartbeat_row_is_read(client):
    waiting_task(waited=settings.HEALTH_WORKER_MAX_AGE + 60)
    beat(seconds_ago=10)
    response, body = get(client)
    assert response.status_code == 200
    assert 9 <= body["checks"]["worker"]["heartbeat_age_seconds"] <= 12


def test_a_heartbeat_too_old_does_not_count(client):
    waiting_task(waited=settings.HEALTH_WORKER_MAX_AGE + 60)
    beat(seconds_ago=settings.HEALTH_WORKER_MAX_AGE + 30)
    response, body = get(client)
    assert response.status_code == 503
    assert body["checks"]["worker"]["status"] == "fail"


def test_no_worker_is_needed_while_nothing_has_waited_long(client):
    # Just enqueued, and one scheduled for tomorrow: neither has waited for a worker yet.
    waiting_task(waited=5)
    waiting_task(waited=3600, run_after=timezone.now() + datetime.timedelta(days=1))
    response, body = get(client)
    assert response.status_code == 200
    assert body["checks"]["worker"]["waiting_tasks"] == 0


def test_finished_and_running_tasks_are_not_waiting(client):
    old = settings.HEALTH_WORKER_MAX_AGE + 60
    for status in ("RUNNING", "SUCCESSFUL", "FAILED"):
        task = waiting_task(waited=old)
        DBTaskResult.objects.filter(pk=task.pk).update(status=status)
    response, _body = get(client)
    assert response.status_code == 200


def test_no_path_or_host_name_is_in_the_answer(client, settings):
    waiting_task(waited=settings.HEALTH_WORKER_MAX_AGE + 60)
    settings.HEALTH_MIN_FREE_MB = 10**12
    response, _body = get(client)
    assert response.status_code == 503
    text = response.content.decode()
    for secret in (str(settings.MEDIA_ROOT), str(settings.BASE_DIR), socket.gethostname()):
        assert secret not in text
    assert "/" not in text


def test_someone_who_must_change_their_password_is_not_sent_away(client):
    user = make_user("newcomer", must_change_password=True)
    client.force_login(user)
    assert client.get("/items/").status_code == 302
    response, body = get(client)
    assert response.status_code == 200
    assert body["status"] == "ok"


def test_it_answers_over_plain_http_when_everything_else_redirects(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/login/").status_code == 301
    assert client.get(URL).status_code == 200


def test_head_is_answered_and_post_refused(client):
    assert client.head(URL).status_code == 200
    assert client.post(URL).status_code == 405
