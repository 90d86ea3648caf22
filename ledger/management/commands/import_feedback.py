"""manage.py import_feedback PATH --round NAME [--dry-run]: suggestions from a spreadsheet.

Every refused row is printed with its number and reason, nothing is written, and the
command exits non-zero. ``--dry-run`` prints what would be written and writes nothing."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ledger.intake.feedback import plan_feedback, write_feedback
from ledger.intake.reading import IntakeError, check_size
from ledger.models import Round


def find_round(name: str) -> Round:
    round = Round.objects.filter(name=name).first() or Round.objects.filter(code=name).first()
    if round is None:
        known = "、".join(Round.objects.values_list("name", flat=True)) or "—"
        raise CommandError(f"No round named “{name}”. Known rounds: {known}")
    return round


def read_path(path: str) -> bytes:
    file = Path(path)
    if not file.is_file():
        raise CommandError(f"No such file: {path}")
    try:
        check_size(file.stat().st_size)  # before a byte is read
    except IntakeError as error:
        raise CommandError(f"{path}: {error}") from None
    return file.read_bytes()


class Command(BaseCommand):
    help = "Import suggestions (意见建议) into a round from .xlsx, .xls, .ods or .csv."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--round", required=True, help="the round's name (or code)")
        parser.add_argument("--dry-run", action="store_true", help="check and print, write nothing")

    def handle(self, *args, path: str, round: str, dry_run: bool, **options):
        target = find_round(round)
        data = read_path(path)
        try:
            plan = plan_feedback(target, data, path)
        except IntakeError as error:
            raise CommandError(f"{path}: {error}") from None
        self.stdout.write(
            f"{path}: sheet “{plan.table.sheet}”, header on row {plan.table.header_row}, "
            f"{plan.rows_read} rows read."
        )
        if plan.refused:
            for refusal in plan.refused:
                self.stderr.write(str(refusal))
            raise CommandError(
                f"{len(plan.refused)} rows refused; nothing was written to {target.name}."
            )
        if dry_run:
            for s in plan.suggestions:
                self.stdout.write(f"{s.seq}\t{s.category_text}\t{s.text[:60]}")
            self.stdout.write(
                f"Dry run: {len(plan.suggestions)} suggestions would be written to "
                f"{target.name}; nothing was written."
            )
            return
        try:
            written = write_feedback(plan)
        except IntakeError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(self.style.SUCCESS(f"{written} suggestions written to {target.name}."))
