"""manage.py import_ledger PATH --round NAME [--dry-run]: items with their responsibility.

Each row becomes a draft item (待交办) with its leader, departments and deadline filled in;
see docs/intake.md. Every refused row is printed with its number and reason, nothing is
written, and the command exits non-zero."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ledger.intake.ledger_import import plan_ledger, write_ledger
from ledger.intake.reading import IntakeError

from .import_feedback import find_round, read_path


class Command(BaseCommand):
    help = "Import a ledger (问题台账) into a round as draft items, from .xlsx, .xls, .ods or .csv."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--round", required=True, help="the round's name (or code)")
        parser.add_argument("--dry-run", action="store_true", help="check and print, write nothing")

    def handle(self, *args, path: str, round: str, dry_run: bool, **options):
        target = find_round(round)
        data = read_path(path)
        try:
            plan = plan_ledger(target, data, path)
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
                f"{len(plan.refused)} reasons for refusal; nothing was written to {target.name}."
            )
        if dry_run:
            for item, co in zip(plan.items, plan.co_departments, strict=True):
                deadline = "长期坚持" if item.long_term else (item.deadline or "")
                self.stdout.write(
                    f"{item.number}\t{item.title[:40]}\t{item.leader or ''}\t"
                    f"{item.lead_department or ''}\t{'、'.join(d.name for d in co)}\t{deadline}"
                )
            if plan.new_categories:
                self.stdout.write(f"New categories: {'、'.join(plan.new_categories)}")
            self.stdout.write(
                f"Dry run: {len(plan.items)} draft items would be written to {target.name}; "
                "nothing was written."
            )
            return
        try:
            written = write_ledger(plan)
        except IntakeError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(self.style.SUCCESS(f"{written} draft items written to {target.name}."))
