"""``manage.py restore ARCHIVE [--force]``: put back what ``manage.py backup`` wrote, into an
empty database and an empty media folder, every file checked against the manifest
(docs/backup.md). Stop the application and its worker first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ledger import backup


class Command(BaseCommand):
    help = (
        "Restore a backup archive into an empty database and an empty MEDIA_ROOT (or bucket), "
        "checking every file's SHA-256 against the manifest."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", type=Path, help="The .tar.gz that backup wrote.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Replace the database and the files even if they are not empty.",
        )
        parser.add_argument("--database", default="default", help="Database alias.")

    def handle(self, *args: Any, archive: Path, force: bool, database: str, **options: Any) -> None:
        try:
            result = backup.restore(archive, using=database, force=force)
        except backup.BackupError as error:
            raise CommandError(str(error)) from None
        manifest = result.manifest
        self.stdout.write(
            f"Restored {archive}, made {backup.created_local(manifest)}:\n"
            f"  database ({manifest['database']['vendor']}): "
            f"{backup.describe_rows(result.rows)}\n"
            f"  media: {backup.count_text(result.files, 'file', 'files')}, "
            f"{backup.size_text(result.size)}, "
            "every SHA-256 as in the manifest"
        )
        for name in manifest.get("missing_media", []):
            self.stderr.write(f"Warning: the database names {name}, which the backup lacked.")
        if result.left:
            self.stderr.write(
                f"{len(result.left)} files already in {backup.media_place()} that the backup "
                "does not have were left in place."
            )
        if result.pending:
            self.stdout.write(
                "This code has migrations the backup's database has not had: run "
                "`manage.py migrate` now (" + ", ".join(result.pending) + ")."
            )
