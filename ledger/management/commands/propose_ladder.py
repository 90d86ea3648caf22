"""``manage.py propose_ladder``: the escalation ladder's daily proposal (督办阶梯).

Run once a day by the daily timer, after the reminders; a second run on the same day adds
nothing. The work is ``ledger.supervision.ladder.propose``; this command only parses and
reports. The steps wait on the ladder page for a supervisor to confirm or dismiss them.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from ledger.models import Item
from ledger.supervision.ladder import ORDER, propose


def _day(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise CommandError(_("--today must be a date written YYYY-MM-DD.")) from None


class Command(BaseCommand):
    help = (
        "Propose the escalation ladder's steps due today (reminder, urging, escalation, "
        "circulation), counted in working days, for a supervisor to confirm."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--today",
            type=_day,
            default=None,
            help="Count as of this day (YYYY-MM-DD) instead of today.",
        )

    def handle(self, *args: Any, today: datetime.date | None, **options: Any) -> None:
        result = propose(today)
        labels = {step: str(Item.LadderStep(step).label) for step in ORDER}
        for step in ORDER:
            new, waiting = result.new.get(step, 0), result.waiting.get(step, 0)
            if new or waiting:
                self.stdout.write(
                    _("%(step)s: %(new)d new, %(waiting)d waiting for confirmation")
                    % {"step": labels[step], "new": new, "waiting": waiting}
                )
        self.stdout.write(
            _(
                "%(day)s: %(new)d step(s) proposed, %(waiting)d waiting for confirmation; "
                "%(read)d item(s) near or past their deadline read, %(cleared)d proposal(s) "
                "no longer due cleared."
            )
            % {
                "day": result.day.isoformat(),
                "new": result.new_total,
                "waiting": result.waiting_total,
                "read": result.read,
                "cleared": result.cleared,
            }
        )
