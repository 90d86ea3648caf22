"""The background worker for production: django-tasks-db's ``db_worker`` with a heartbeat,
recovery of work a killed worker left behind, and reconnection when the database is away
(ledger/worker.py)."""

from __future__ import annotations

from django_tasks_db.management.commands import db_worker

from ledger import worker as resilience


class SurvivingWorker(db_worker.Worker):
    def run(self) -> None:
        heartbeat = resilience.Heartbeat(self.worker_id)
        heartbeat.start()
        try:
            resilience.run_surviving(super().run, running=lambda: self.running)
        finally:
            heartbeat.stopped.set()


class Command(db_worker.Command):
    help = (
        "Run the background worker (publishing, exports, consolidation): db_worker that beats, "
        "recovers work a killed worker left behind, and waits for the database when it is away."
    )

    def handle(self, *args, **options):
        # db_worker builds its Worker by name: ours is put in its place for this call.
        original = db_worker.Worker
        db_worker.Worker = SurvivingWorker
        try:
            return super().handle(*args, **options)
        finally:
            db_worker.Worker = original
