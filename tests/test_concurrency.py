"""Two people act on the same item at the same moment: exactly one wins.

Two operating-system processes (or two threads, each with its own database connection) load
the item, wait for a common start signal, then act. The loser must get the stale-state error
and leave no trace. CI runs this on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection

from ledger import workflow
from ledger.models import Event, Extension, Item

from .factory import in_days, make_user


def race(item_pk: int, actions: list) -> list[object]:
    barrier = threading.Barrier(len(actions))
    results: list[object] = [None] * len(actions)

    def worker(index: int, action) -> None:
        try:
            item = Item.objects.get(pk=item_pk)  # both see the same state and version
            barrier.wait(timeout=10)
            action(item)
            results[index] = "ok"
        except Exception as error:
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


@pytest.fixture
def slow_events(monkeypatch):
    """Hold each transaction open a moment after its UPDATE, so that the two really overlap
    inside the database instead of one finishing before the other starts."""
    original = workflow._event

    def slow(*args, **kwargs):
        time.sleep(0.2)
        return original(*args, **kwargs)

    monkeypatch.setattr(workflow, "_event", slow)


@pytest.mark.django_db(transaction=True)
def test_approve_and_return_at_once_one_wins_one_is_stale(cast, requested, slow_events):
    before = Event.objects.filter(item=requested).count()
    results = race(
        requested.pk,
        [
            lambda item: workflow.approve(item, by=cast.alice),
            lambda item: workflow.return_request(item, by=cast.alice, reason="再核实"),
        ],
    )
    assert sorted(map(type, results), key=str) == sorted([str, workflow.Stale], key=str), results
    item = Item.objects.get(pk=requested.pk)
    winner = "approve" if results[0] == "ok" else "return"
    assert item.state == {"approve": Item.State.CLOSED, "return": Item.State.IN_PROGRESS}[winner]
    new = list(Event.objects.filter(item=requested).values_list("kind", flat=True)[before:])
    assert new == [winner]
    assert item.version == requested.version + 1


@pytest.mark.django_db(transaction=True)
def test_two_departments_posting_progress_at_once_do_not_overwrite_each_other(
    cast, in_progress, slow_events
):
    results = race(
        in_progress.pk,
        [
            lambda item: workflow.post_progress(item, by=cast.bob, text="牵头单位进展", percent=60),
            lambda item: workflow.post_progress(
                item, by=cast.carol, text="配合单位进展", percent=30
            ),
        ],
    )
    assert results.count("ok") == 1
    assert sum(isinstance(r, workflow.Stale) for r in results) == 1
    assert in_progress.progress.count() == 1


def _test_database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_two_processes_approve_and_return_at_once(cast, requested, tmp_path):
    gofile = tmp_path / "go"
    env = os.environ | {"DATABASE_URL": _test_database_url()}
    root = Path(__file__).resolve().parent.parent
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.race_worker",
                str(requested.pk),
                action,
                "alice",
                str(gofile),
            ],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for action in ["approve", "return"]
    ]
    for worker in workers:  # both have loaded the item as it is now
        assert worker.stdout.readline().strip() == "ready", worker.stderr.read()
    gofile.touch()
    outcomes = []
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
        outcomes.append(out.strip())
    assert sorted(outcomes) == ["ok", "stale"]
    item = Item.objects.get(pk=requested.pk)
    approved = outcomes[0] == "ok"
    assert item.state == (Item.State.CLOSED if approved else Item.State.IN_PROGRESS)
    kinds = list(item.events.values_list("kind", flat=True))
    assert kinds[-1] == ("approve" if approved else "return")
    assert kinds.count("approve") + kinds.count("return") == 1


@pytest.mark.django_db(transaction=True)
def test_two_extension_requests_at_once_leave_one_request_and_one_event(
    cast, in_progress, slow_events
):
    before = list(Event.objects.filter(item=in_progress).values_list("pk", flat=True))
    results = race(
        in_progress.pk,
        [
            lambda item: workflow.request_extension(
                item, by=cast.bob, new_deadline=in_days(60), reason="雨季施工"
            ),
            lambda item: workflow.request_extension(
                item, by=cast.bob, new_deadline=in_days(90), reason="资金未到位"
            ),
        ],
    )
    assert results.count("ok") == 1, results
    (refused,) = [r for r in results if r != "ok"]
    # Both saw no request waiting: the loser finds the item changed (or, had it started
    # after the winner committed, the request waiting), and writes nothing.
    assert isinstance(refused, workflow.Stale) or (
        isinstance(refused, workflow.Invalid) and str(refused) == "该事项已有一项延期申请待审批。"
    ), refused
    (extension,) = Extension.objects.filter(item=in_progress)
    winner = 0 if results[0] == "ok" else 1
    assert (extension.status, extension.new_deadline) == (
        Extension.Status.PENDING,
        [in_days(60), in_days(90)][winner],
    )
    new = Event.objects.filter(item=in_progress).exclude(pk__in=before)
    assert list(new.values_list("kind", flat=True)) == [Event.Kind.EXTENSION_REQUEST]
    assert Item.objects.get(pk=in_progress.pk).version == in_progress.version + 1


@pytest.mark.django_db(transaction=True)
def test_granting_and_refusing_one_extension_at_once_decides_it_once(
    cast, in_progress, slow_events
):
    workflow.request_extension(in_progress, by=cast.bob, new_deadline=in_days(60), reason="雨季")
    zoe = make_user("zoe", role="supervisor", first_name="督查员乙")
    before = list(Event.objects.filter(item=in_progress).values_list("pk", flat=True))
    results = race(
        in_progress.pk,
        [
            lambda item: workflow.grant_extension(item, by=cast.alice, note="同意"),
            lambda item: workflow.refuse_extension(item, by=zoe, reason="时限充足"),
        ],
    )
    assert results.count("ok") == 1, results
    (refused,) = [r for r in results if r != "ok"]
    # The loser's decision finds the request decided (or, had it started after the winner
    # committed, no request waiting), and writes nothing.
    assert isinstance(refused, workflow.Invalid), refused
    assert str(refused) in ("该延期申请已由他人审批。", "该事项没有待审批的延期申请。")
    granted = results[0] == "ok"
    extension = Extension.objects.get(item=in_progress)
    item = Item.objects.get(pk=in_progress.pk)
    if granted:
        assert (extension.status, extension.decided_by, item.deadline) == (
            Extension.Status.GRANTED,
            cast.alice,
            in_days(60),
        )
    else:
        assert (extension.status, extension.decided_by, item.deadline) == (
            Extension.Status.REFUSED,
            zoe,
            in_days(30),
        )
    new = Event.objects.filter(item=in_progress).exclude(pk__in=before)
    assert list(new.values_list("kind", flat=True)) == [
        Event.Kind.EXTENSION_GRANT if granted else Event.Kind.EXTENSION_REFUSE
    ]
    assert item.version == in_progress.version + 1
