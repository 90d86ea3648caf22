"""manage.py import_feedback PATH --round NAME [--dry-run]: suggestions from a spreadsheet.

Every refused row is printed with its number and reason, nothing is written, and the
command exits non-zero. ``--dry-run`` prints what would be written and writes nothing."""

from __future__ import annotations

from ledger.intake.commands import ImportCommand
from ledger.intake.feedback import plan_feedback, write_feedback


class Command(ImportCommand):
    help = "Import suggestions (意见建议) into a round from .xlsx, .xls, .ods or .csv."
    noun = "suggestions"

    def plan(self, target, data, path):
        return plan_feedback(target, data, path)

    def write(self, plan):
        return write_feedback(plan)

    def planned(self, plan):
        return len(plan.suggestions)

    def dry_run_lines(self, plan):
        for s in plan.suggestions:
            yield f"{s.seq}\t{s.category_text}\t{s.text[:60]}"
