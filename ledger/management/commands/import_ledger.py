"""manage.py import_ledger PATH --round NAME [--dry-run]: items with their responsibility.

Each row becomes a draft item (待交办) with its leader, departments and deadline filled in;
see docs/intake.md. Every refused row is printed with its number and reason, nothing is
written, and the command exits non-zero."""

from __future__ import annotations

from ledger.intake.commands import ImportCommand
from ledger.intake.ledger_import import plan_ledger, write_ledger


class Command(ImportCommand):
    help = "Import a ledger (问题台账) into a round as draft items, from .xlsx, .xls, .ods or .csv."
    noun = "draft items"
    refusals = "reasons for refusal"

    def plan(self, target, data, path):
        return plan_ledger(target, data, path)

    def write(self, plan):
        return write_ledger(plan)

    def planned(self, plan):
        return len(plan.items)

    def dry_run_lines(self, plan):
        for item, co in zip(plan.items, plan.co_departments, strict=True):
            deadline = "长期坚持" if item.long_term else (item.deadline or "")
            yield (
                f"{item.number}\t{item.title[:40]}\t{item.leader or ''}\t"
                f"{item.lead_department or ''}\t{'、'.join(d.name for d in co)}\t{deadline}"
            )
        if plan.new_categories:
            yield f"New categories: {'、'.join(plan.new_categories)}"
