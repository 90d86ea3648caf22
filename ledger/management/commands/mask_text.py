"""``manage.py mask_text``: mask personal details in the text on standard input.

The same ``ledger.publication.masking.mask`` that masks a notice's annexes, so an office can
check by hand what the public would read:

    echo "村民陈建华，电话13800001234" | manage.py mask_text --show

A possible name (a name the rules are unsure of) is masked, as at publication, and named on
standard error, with or without ``--show``: ``--name N`` confirms one (masked as a name
wherever it occurs), ``--not-name N`` dismisses one (shown as it is), as the supervisor does
in a notice's preview.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ledger.publication.masking import KIND_LABELS, mask


class Command(BaseCommand):
    help = (
        "Read UTF-8 text on standard input and print it with personal details masked "
        "(names, phone, ID and bank card numbers, QQ and WeChat ids, e-mail, car plates, "
        "house addresses); possible names are named on standard error."
    )
    # Tests pass a file object here instead of replacing sys.stdin.
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--term",
            action="append",
            default=[],
            metavar="T",
            help="Also mask every occurrence of T as ****. Repeat for several terms.",
        )
        parser.add_argument(
            "--keep",
            action="append",
            default=[],
            metavar="K",
            help="Never mask the text K, even where a rule matches it. Repeatable.",
        )
        parser.add_argument(
            "--name",
            action="append",
            default=[],
            metavar="N",
            help="N is a name: mask it as one wherever it occurs. Repeatable.",
        )
        parser.add_argument(
            "--not-name",
            action="append",
            default=[],
            metavar="N",
            help="N is not a name: show it where it is only a possible name. Repeatable.",
        )
        parser.add_argument(
            "--show",
            action="store_true",
            help="List every masked span (kind, original → replacement) on standard error.",
        )

    def handle(
        self,
        *args: Any,
        term: list[str],
        keep: list[str],
        name: list[str],
        not_name: list[str],
        show: bool,
        **options: Any,
    ):
        text = self.read(options.get("stdin") or sys.stdin)
        masked = mask(text, terms=term, keep=keep, names=name, not_names=not_name)
        self.stdout.write(masked.text, ending="")
        possible = [s for s in masked.spans if s.kind == "possible_name"]
        for span in possible:
            self.stderr.write(
                _(
                    "Possible name at %(start)d-%(end)d: %(original)s → %(replacement)s "
                    "(masked; --not-name %(original)s shows it, --name %(original)s confirms it)"
                )
                % {
                    "start": span.start,
                    "end": span.end,
                    "original": span.original,
                    "replacement": span.replacement,
                }
            )
        if show:
            for span in masked.spans:
                self.stderr.write(
                    f"{span.start}-{span.end}\t{span.kind}\t{KIND_LABELS[span.kind]}\t"
                    f"{span.original} → {span.replacement}"
                )
            count = len(masked.spans)
            self.stderr.write(
                ngettext("%(count)d span masked.", "%(count)d spans masked.", count)
                % {"count": count}
            )

    @staticmethod
    def read(stream: Any) -> str:
        raw = stream.buffer.read() if hasattr(stream, "buffer") else stream.read()
        if isinstance(raw, str):
            return raw
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CommandError(
                _("Standard input is not UTF-8 (byte %(pos)d).") % {"pos": exc.start}
            ) from exc
