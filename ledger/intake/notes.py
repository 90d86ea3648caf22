"""What a preview (and a command) says about a file besides its rows: the columns that are
not read, the rows read as section headings, and how a ledger's items are numbered. Said
in full so that nothing in the file is dropped without the supervisor seeing it."""

from __future__ import annotations

import dataclasses

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .reading import Table


@dataclasses.dataclass
class Note:
    text: str
    details: list[str] = dataclasses.field(default_factory=list)


def table_notes(table: Table) -> list[Note]:
    notes = []
    if table.ignored:
        notes.append(
            Note(
                _("Columns not read: %(columns)s. Their contents are not imported.")
                % {"columns": "、".join(table.ignored)}
            )
        )
    if table.unread:
        notes.append(
            Note(
                _(
                    "Progress and state columns, not imported: %(columns)s. History cannot be "
                    "imported: each item starts as a draft awaiting assignment, and its "
                    "progress comes from its workflow."
                )
                % {"columns": "、".join(table.unread)}
            )
        )
    if table.headings:
        n = len(table.headings)
        notes.append(
            Note(
                ngettext(
                    "%(n)s row was read as a section heading, not as a row to import: it "
                    "gives its category to the rows below it that have none.",
                    "%(n)s rows were read as section headings, not as rows to import: each "
                    "gives its category to the rows below it that have none.",
                    n,
                )
                % {"n": n},
                [f"“{h.text}” → {h.name}" for h in table.headings],
            )
        )
    return notes


def numbering_notes(plan) -> list[Note]:
    """How a ledger plan numbers its items: kept, renumbered (and why), numbered on."""
    numbering = plan.numbering
    notes = []
    if numbering.kept:
        notes.append(
            Note(
                ngettext(
                    "%(n)s number is kept as in the file.",
                    "%(n)s numbers are kept as in the file.",
                    numbering.kept,
                )
                % {"n": numbering.kept}
            )
        )
    if numbering.renumbered:
        why = [
            (
                numbering.foreign,
                _("%(n)s not in this round’s numbering (a 序号 column, another office’s numbers)"),
            ),
            (
                numbering.taken,
                ngettext(
                    "%(n)s already taken by an item of this round",
                    "%(n)s already taken by items of this round",
                    numbering.taken,
                ),
            ),
            (
                numbering.repeated,
                _("%(n)s repeated in the file"),
            ),
        ]
        notes.append(
            Note(
                ngettext(
                    "%(n)s item is numbered in this round’s numbering (%(example)s …); the "
                    "number the file gives it is kept as its number as imported:",
                    "%(n)s items are numbered in this round’s numbering (%(example)s …); the "
                    "number the file gives each is kept as its number as imported:",
                    numbering.renumbered,
                )
                % {"n": numbering.renumbered, "example": f"{plan.round.code}-0001"},
                [text % {"n": n} for n, text in why if n],
            )
        )
    if numbering.missing:
        notes.append(
            Note(
                ngettext(
                    "%(n)s row has no number: it is numbered on in this round’s numbering.",
                    "%(n)s rows have no number: they are numbered on in this round’s numbering.",
                    numbering.missing,
                )
                % {"n": numbering.missing}
            )
        )
    return notes
