"""What manage.py import_feedback and import_ledger share: find the round, read the file
(its size checked before a byte is read), plan, print every refusal and write nothing, or
print the dry run, or write."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ledger.models import Round

from .notes import Note, numbering_notes, table_notes
from .reading import IntakeError, check_size


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


class ImportCommand(BaseCommand):
    """A subclass says what it plans and writes (``plan``, ``write``), how many rows the
    plan holds (``planned``), how the dry run lists them (``dry_run_lines``), and the noun
    of its rows (``noun``, e.g. "suggestions")."""

    noun = "rows"
    refusals = "rows refused"

    def plan(self, target: Round, data: bytes, path: str) -> Any:
        raise NotImplementedError

    def write(self, plan: Any) -> int:
        raise NotImplementedError

    def planned(self, plan: Any) -> int:
        raise NotImplementedError

    def dry_run_lines(self, plan: Any) -> Iterable[str]:
        return ()

    def notes(self, plan: Any) -> list[Note]:
        """What the preview says besides the rows: columns not read, section headings, and
        for a ledger how its items are numbered."""
        notes = table_notes(plan.table)
        if hasattr(plan, "numbering"):
            notes += numbering_notes(plan)
        return notes

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--round", required=True, help="the round's name (or code)")
        parser.add_argument("--dry-run", action="store_true", help="check and print, write nothing")

    def handle(self, *args, path: str, round: str, dry_run: bool, **options):
        target = find_round(round)
        data = read_path(path)
        try:
            plan = self.plan(target, data, path)
        except IntakeError as error:
            raise CommandError(f"{path}: {error}") from None
        self.stdout.write(
            f"{path}: sheet “{plan.table.sheet}”, header on row {plan.table.header_row}, "
            f"{plan.rows_read} rows read."
        )
        for note in self.notes(plan):
            self.stdout.write(note.text)
            for detail in note.details:
                self.stdout.write(f"  {detail}")
        if plan.refused:
            for refusal in plan.refused:
                self.stderr.write(str(refusal))
            raise CommandError(
                f"{len(plan.refused)} {self.refusals}; nothing was written to {target.name}."
            )
        if dry_run:
            for line in self.dry_run_lines(plan):
                self.stdout.write(line)
            self.stdout.write(
                f"Dry run: {self.planned(plan)} {self.noun} would be written to "
                f"{target.name}; nothing was written."
            )
            return
        try:
            written = self.write(plan)
        except IntakeError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(self.style.SUCCESS(f"{written} {self.noun} written to {target.name}."))
