"""``manage.py cleanup_uploads [--hours N] [--dry-run]``: delete the uploads that waited
for a confirmation that never came, and the sheets of one-time passwords nobody collected.

An import's upload (intake, and the administrator's set-up workbook) is kept in the default
storage between its preview and its confirmation under a name only its session knows; a
preview left open, or a session that expired, leaves the file behind. Run daily; files
younger than the limit (24 hours) are left alone, so a preview in progress is never touched.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from ledger import storage
from ledger.administration.views_setup import SHEETS_DIR
from ledger.administration.views_setup import UPLOADS_DIR as SETUP_UPLOADS_DIR
from ledger.intake.views_files import UPLOADS_DIR as INTAKE_UPLOADS_DIR

FOLDERS = (INTAKE_UPLOADS_DIR, SETUP_UPLOADS_DIR, SHEETS_DIR)


def stale_uploads(older_than: datetime.timedelta) -> list[str]:
    """The waiting files last written more than ``older_than`` ago, as storage names."""
    cutoff = timezone.now() - older_than
    return [path for folder in FOLDERS for path in storage.older_than(folder, cutoff)]


class Command(BaseCommand):
    help = (
        "Delete import uploads never confirmed and sheets of one-time passwords never "
        "downloaded, once older than --hours (default 24). Run daily."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--hours",
            type=int,
            default=24,
            help="Delete files older than this many hours (default: %(default)s).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be deleted; delete nothing."
        )

    def handle(self, *args: Any, hours: int, dry_run: bool, **options: Any) -> None:
        if hours < 1:
            raise CommandError("--hours must be at least 1.")
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
