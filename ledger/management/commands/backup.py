"""``manage.py backup [--output DIR]``: the database and every stored file (under MEDIA_ROOT,
or in the bucket with MEDIA_STORAGE=s3) in one ``.tar.gz`` with a manifest
(docs/backup.md). Safe while the application runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ledger import backup


class Command(BaseCommand):
    help = (
        "Write one archive (.tar.gz) holding the database and every stored file (MEDIA_ROOT, "
        "or the bucket), with a manifest of their SHA-256."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            type=Path,
            default=Path(settings.BASE_DIR) / "backups",
            help="Folder to write the archive into (default: %(default)s).",
        )
        parser.add_argument("--database", default="default", help="Database alias.")

    def handle(self, *args: Any, output: Path, database: str, **options: Any) -> None:
        try:
            result = backup.create(output, using=database)
        except backup.BackupError as error:
            raise CommandError(str(error)) from None
        manifest = result.manifest
        media = manifest["media"]
        for relative in result.skipped:
            self.stderr.write(f"Skipped {relative}: not a regular file, or deleted meanwhile.")
        for name in result.missing:
            self.stderr.write(
                f"Warning: the database names {name}, which is not in {backup.media_place()}."
            )
        size = result.path.stat().st_size
        self.stdout.write(
            f"Backup written: {result.path} ({backup.size_text(size)})\n"
            f"  database ({manifest['database']['vendor']}): "
            f"{backup.describe_rows(manifest['database']['rows'])}\n"
            f"  media: {backup.count_text(len(media), 'file', 'files')}, "
            f"{backup.size_text(sum(entry['size'] for entry in media))}"
        )
