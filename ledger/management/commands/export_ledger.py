"""manage.py export_ledger --round NAME --output PATH: a round's ledger as .xlsx."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from ledger.intake.commands import find_round
from ledger.intake.export import write_items
from ledger.models import Item


class Command(BaseCommand):
    help = "Export a round's ledger (问题台账) to an .xlsx workbook."

    def add_arguments(self, parser):
        parser.add_argument("--round", required=True, help="the round's name (or code)")
        parser.add_argument("--output", required=True, help="the .xlsx file to write")

    def handle(self, *args, round: str, output: str, **options):
        target = find_round(round)
        items = Item.objects.filter(round=target).order_by("number")
        title = _("Ledger of %(round)s") % {"round": target.name}
        written = write_items(items, output, title=title)
        self.stdout.write(self.style.SUCCESS(f"{written} items written to {output}."))
