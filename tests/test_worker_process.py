"""Real worker processes (``manage.py run_worker``) on a site of their own (docs/workflow.md,
"Long work in the background"): on a SQLite file in the suite's SQLite leg, on a PostgreSQL
cluster started for these tests in its PostgreSQL leg:

- a worker killed with SIGKILL in the middle of publishing or of an export: the next worker
  fails the job with a message, frees the notice and leaves no file of it; started again,
  the work finishes;
- two workers on 50 queued jobs run each once;
- a worker whose PostgreSQL is stopped under it carries on when it is back.
"""

from __future__ import annotations

import shutil
import time

import pytest
from django.conf import settings

from bench.pgcluster import Cluster

from .worker_site import LEASE_SECONDS, Site, wait_for

pytestmark = pytest.mark.django_db(databases=[])  # they never touch the test database


ITEMS = 200


@pytest.fixture(scope="module")
def cluster():
    with Cluster() as pg:
        yield pg


@pytest.fixture(scope="module")
def migrated(tmp_path_factory, cluster):
    """A migrated database of each kind, made when first asked for, to copy for each site."""
    folder = tmp_path_factory.mktemp("template")
    made = {}

    def template(kind: str):
        if kind not in made:
            if kind == "sqlite":
                made[kind] = folder / "template.sqlite3"
                url = f"sqlite:///{made[kind]}"
            else:
                made[kind] = "template_site"
                url = cluster.create_database(made[kind])
            Site(url, folder).manage("migrate", "--noinput")
        return made[kind]

    return template


# The database of this leg of the suite (make test, make test-pg).
LEG = "sqlite" if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") else "postgresql"


@pytest.fixture(params=[LEG])
def site(request, tmp_path, migrated, cluster):
    if request.param == "sqlite":
        shutil.copy(migrated("sqlite"), tmp_path / "site.sqlite3")
        url = f"sqlite:///{tmp_path}/site.sqlite3"
    else:
        url = cluster.create_database(
            f"site_{time.monotonic_ns()}", template=migrated("postgresql")
        )
    site = Site(url, tmp_path)
    yield site
    site.stop_workers()


def kill_in_the_middle(site: Site, job_id: int) -> dict:
    """Run ``job_id`` on a slowed worker, SIGKILL it once the job has begun, and return what
    the next worker made of it."""
    slow = site.worker(slow_step=0.05)
    wait_for(lambda: site.probe("state", job_id)["done"] > 0, 120, "the job to begin")
    site.kill(slow)
    assert site.probe("state", job_id)["state"] == "running"  # what a killed worker leaves
    time.sleep(LEASE_SECONDS + 1)  # the killed worker's lease runs out
    site.worker()
    return wait_for(
        lambda: (s := site.probe("state", job_id))["state"] == "failed" and s,
        60,
        "the next worker to fail the job",
    )


def test_publishing_killed_midway_is_failed_freed_and_can_be_published_again(site):
    site.probe("seed", ITEMS)
    job = site.probe("publish")
    after = kill_in_the_middle(site, job)
    assert after["notice"] == "failed"  # never left "publishing"
    assert "请重新开始" in after["error"]
    assert after["files"] == []  # no file of the killed attempt

    again = site.probe("retry", job)
    done = wait_for(
        lambda: (s := site.probe("state", again))["state"] == "done" and s, 180, "the re-run"
    )
    assert done["notice"] == "published"
    assert done["files"] == done["published"]  # its own two files, nothing else


def test_an_export_killed_midway_is_failed_and_runs_again_to_its_file(site):
    site.probe("seed", ITEMS)
    job = site.probe("export")
    after = kill_in_the_middle(site, job)
    assert "请重新开始" in after["error"] and "result_size" not in after

    again = site.probe("retry", job)
    done = wait_for(
        lambda: (s := site.probe("state", again))["state"] == "done" and s, 180, "the re-run"
    )
    assert done["result_size"] > 0


def test_two_workers_run_each_of_50_queued_jobs_once(site):
    jobs = site.probe("many", 50)
    site.worker()
    site.worker()
    runs = wait_for(
        lambda: (r := site.probe("runs"))["states"] == ["done"] and r, 120, "all 50 jobs"
    )
    assert sorted(runs["runs"]) == sorted(str(job) for job in jobs)
    assert set(runs["runs"].values()) == {1}
    assert runs["workers"] == 2  # both took a share


@pytest.mark.parametrize("site", ["postgresql"], indirect=True)
def test_a_worker_whose_database_stops_carries_on_when_it_is_back(site, cluster):
    worker = site.worker()
    first = site.probe("many", 1)[0]
    wait_for(lambda: site.probe("state", first)["state"] == "done", 60, "the first job")
    cluster.stop()
    # Long enough for the worker to find the database away and wait for it.
    time.sleep(5)
    cluster.start()
    second = site.probe("many", 1)[0]
    wait_for(lambda: site.probe("state", second)["state"] == "done", 90, "the next job")
    assert worker.poll() is None  # the same process, still running
    assert "Database unreachable" in site.worker_log(0)
