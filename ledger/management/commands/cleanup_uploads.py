"""``manage.py cleanup_uploads [--hours N] [--job-days N] [--dry-run]``: delete the uploads
that waited for a confirmation that never came, the sheets of one-time passwords nobody
collected, and the files of background jobs (exports) made more than a week ago.

An import's upload (intake, and the administrator's set-up workbook) is kept in the default
storage between its preview and its confirmation under a name only its session knows; a
preview left open, or a session that expired, leaves the file behind. Run daily; files
younger than the limit (24 hours) are left alone, so a preview in progress is never touched.
An export's file is for downloading once: after ``jobs.KEEP_FILES_DAYS`` its job page says
it was deleted and to export again.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from ledger import jobs, storage
from ledger.administration.views_setup import SHEETS_DIR
from ledger.administration.views_setup import UPLOADS_DIR as SETUP_UPLOADS_DIR
from ledger.intake.views_files import UPLOADS_DIR as INTAKE_UPLOADS_DIR
from ledger.models import Job

FOLDERS = (INTAKE_UPLOADS_DIR, SETUP_UPLOADS_DIR, SHEETS_DIR)


def stale_uploads(older_than: datetime.timedelta) -> list[str]:
    """The waiting files last written more than ``older_than`` ago, as storage names."""
    cutoff = timezone.now() - older_than
    return [path for folder in FOLDERS for path in storage.older_than(folder, cutoff)]


def expired_job_files(older_than: datetime.timedelta):
    """The finished jobs whose file was made more than ``older_than`` ago."""
    cutoff = timezone.now() - older_than
    return Job.objects.filter(state=Job.State.DONE, finished_at__lt=cutoff).exclude(result_file="")


class Command(BaseCommand):
    help = (
        "Delete import uploads never confirmed and sheets of one-time passwords never "
        "downloaded, once older than --hours (default 24), and the files of jobs finished "
        "more than --job-days ago (default 7). Run daily."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--hours",
            type=int,
            default=24,
            help="Delete files older than this many hours (default: %(default)s).",
        )
        parser.add_argument(
            "--job-days",
            type=int,
            default=jobs.KEEP_FILES_DAYS,
            help="Delete the files of jobs finished this many days ago (default: %(default)s).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be deleted; delete nothing."
        )

    def handle(self, *args: Any, hours: int, job_days: int, dry_run: bool, **options: Any) -> None:
        if hours < 1:
            raise CommandError("--hours must be at least 1.")
        if job_days < 1:
            raise CommandError("--job-days must be at least 1.")
        stale = stale_uploads(datetime.timedelta(hours=hours))
        for path in stale:
            if not dry_run:
                default_storage.delete(path)
            if options["verbosity"] > 1:
                self.stdout.write(f"{'Would delete' if dry_run else 'Deleted'} {path}")
        verb = "would be deleted" if dry_run else "deleted"
        self.stdout.write(
            f"{len(stale)} {'file' if len(stale) == 1 else 'files'} older than {hours} hours "
            f"{verb} from {', '.join(FOLDERS)}."
        )
        expired = list(expired_job_files(datetime.timedelta(days=job_days)))
        for job in expired:
            if not dry_run:
                job.result_file.delete(save=False)
                # The name stays: the job page says which file was deleted.
                Job.objects.filter(pk=job.pk).update(result_file="")
            if options["verbosity"] > 1:
                self.stdout.write(f"{'Would delete' if dry_run else 'Deleted'} {job.result_file}")
        self.stdout.write(
            f"{len(expired)} {'file' if len(expired) == 1 else 'files'} of jobs finished more "
            f"than {job_days} days ago {verb}."
        )
