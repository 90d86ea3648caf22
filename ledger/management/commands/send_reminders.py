"""``manage.py send_reminders``: each department's daily digest of overdue and soon-due items.

Run by cron once a day (or more: a second run on the same day sends nothing new). The work
is ``ledger.notifications.send_reminders``; this command only parses and reports.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from ledger.notifications import send_reminders


class Command(BaseCommand):
    help = (
        "Email each department one digest of the items it leads that are overdue or due "
        "within N working days. Sends at most one digest per department per day."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=settings.DUE_SOON_DAYS,
            help=(
                "List items due within this many working days "
                "(default: DUE_SOON_DAYS, %(default)s)."
            ),
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Say what would be sent; send and record nothing.",
        )

    def handle(self, *args: Any, days: int, dry_run: bool, **options: Any) -> None:
        if days < 0:
            raise CommandError(_("--days cannot be negative."))
        summary = send_reminders(days=days, dry_run=dry_run)
        for department, n in summary.sent:
            if dry_run:
                line = _("%(department)s: would send %(n)d item(s)")
            else:
                line = _("%(department)s: sent %(n)d item(s)")
            self.stdout.write(line % {"department": department, "n": n})
        for department in summary.already_sent:
            self.stdout.write(_("%(department)s: already sent today") % {"department": department})
        for department in summary.no_address:
            self.stdout.write(
                _("%(department)s: skipped, no email address") % {"department": department}
            )
        for department in summary.failed:
            self.stderr.write(
                _("%(department)s: sending failed (see the log)") % {"department": department}
            )
        if dry_run:
            total = _(
                "%(day)s (dry run): %(sent)d digest(s) would be sent, listing %(items)d item(s)"
            )
        else:
            total = _("%(day)s: %(sent)d digest(s) sent, listing %(items)d item(s)")
        rest = _(
            "%(already)d already sent today, %(no_address)d without an address, %(failed)d failed."
        )
        figures = {
            "day": summary.day.isoformat(),
            "sent": len(summary.sent),
            "items": summary.items,
            "already": len(summary.already_sent),
            "no_address": len(summary.no_address),
            "failed": len(summary.failed),
        }
        self.stdout.write(f"{total % figures}; {rest % figures}")
        if summary.failed:
            # A non-zero exit makes cron report it; the digests that went out stay sent and
            # recorded, and the failed ones are tried again by the next run.
            raise CommandError(_("%(n)d digest(s) could not be sent.") % {"n": len(summary.failed)})
