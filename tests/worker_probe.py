"""Looks into, and queues work on, a site of tests/worker_site.py, from a process of its own:
``python -m tests.worker_probe COMMAND [ARGS]`` prints JSON."""

from __future__ import annotations

import json
import os
import sys

import django

django.setup()

from django.core.files.storage import default_storage  # noqa: E402

from ledger import jobs  # noqa: E402
from ledger.intake.export import export_job  # noqa: E402
from ledger.models import Job, User  # noqa: E402
from ledger.publication.models import Notice  # noqa: E402


def supervisor() -> User:
    return User.objects.filter(role=User.Role.SUPERVISOR).order_by("pk").first()


def state(job_id: str) -> dict:
    job = Job.objects.get(pk=int(job_id))
    notice = Notice.objects.filter(job=job).first()
    out = {"state": job.state, "done": job.done, "total": job.total, "error": job.error}
    if notice is not None:
        out["notice"] = notice.state
        out["notice_id"] = notice.pk
        try:
            out["files"] = sorted(default_storage.listdir(f"notices/{notice.pk}")[1])
        except FileNotFoundError:
            out["files"] = []
        if notice.state == Notice.State.PUBLISHED:
            publication = notice.publication
            out["published"] = sorted(
                name.rsplit("/", 1)[1] for name in (publication.pdf.name, publication.xlsx.name)
            )
    if job.result_file:
        out["result_size"] = job.result_file.size
    return out


def seed(items: int) -> None:
    """A supervisor, a round of ``items`` closed items with a suggestion each, and a notice
    of the round, composed but not published."""
    from django.utils import timezone

    from ledger.models import Category, Department, Item, Round, Suggestion
    from ledger.publication.models import Section

    User.objects.create(username="duchayuan", role=User.Role.SUPERVISOR, first_name="督查员")
    department = Department.objects.create(name="市教育局")
    round = Round.objects.create(name="2019年度", code="2019", year=2019, kind="annual")
    category = Category.objects.create(round=round, name="教育事业")
    today = timezone.localdate()
    for n in range(1, items + 1):
        item = Item.objects.create(
            round=round,
            number=f"2019-{n:04d}",
            title=f"学校周边问题{n}",
            category=category,
            lead_department=department,
            state="closed",
            outcome_kind="done",
            closed_on=today,
            measures="增设交通协管员。",
            outcome="已整改。",
        )
        Suggestion.objects.create(round=round, seq=n, item=item, text=f"学校门口拥堵{n}")
    notice = Notice.objects.create(
        title="2019年度整改情况公示", issuer="督查办", date=today, created_by=supervisor()
    )
    notice.annex_rounds.set([round])
    Section.objects.create(
        notice=notice, order=1, heading="一、基本情况", body="共{{ total }}个。", round=round
    )


def main(command: str, *args: str):
    if command == "seed":
        seed(int(args[0]))
        return None
    if command == "publish":  # as the publish button does; the job's id
        from ledger.publication.tasks import start_publishing

        return start_publishing(Notice.objects.get(), supervisor()).pk
    if command == "export":
        by = supervisor()
        job = jobs.enqueue(
            export_job,
            kind="export",
            by=by,
            title="导出台账",
            user_id=by.pk,
            params={},
            title_text="台账",
        )
        return job.pk
    if command == "state":
        return state(args[0])
    if command == "retry":
        return jobs.retry(Job.objects.get(pk=int(args[0])), supervisor()).pk
    if command == "many":
        from tests.worker_tasks import record_run

        return [jobs.enqueue(record_run, kind="test", by=None).pk for _ in range(int(args[0]))]
    if command == "runs":  # how many times each job ran, by the file each run left
        runs: dict[str, int] = {}
        for name in os.listdir(os.environ["RUNS_DIR"]):
            job_id = name.split("-")[0]
            runs[job_id] = runs.get(job_id, 0) + 1
        workers = {name.split("-")[1] for name in os.listdir(os.environ["RUNS_DIR"])}
        states = sorted(set(Job.objects.filter(kind="test").values_list("state", flat=True)))
        return {"runs": runs, "workers": len(workers), "states": states}
    raise SystemExit(f"unknown command {command}")


print(json.dumps(main(*sys.argv[1:])))
