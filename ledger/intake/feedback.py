"""Rows of a feedback file → ``Suggestion`` rows of a round (导入意见建议).

``plan_feedback`` reads and checks a file and says what would be written; nothing touches
the database but reads. ``write_feedback`` writes a plan's suggestions in one transaction,
all or none.

Numbers (序号): a row keeps the file's 序号 when it is a whole number not yet used in the
round nor earlier in the file. A 序号 already used is refused, with the reason: the same
file imported twice is then refused row by row instead of doubling the round. Rows without a
序号 are numbered on from the highest number in the round and in the file.
"""

from __future__ import annotations

import dataclasses

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from ledger.models import Category, Round, Suggestion

from . import names as names_module
from .consolidation import match_category
from .headers import FEEDBACK
from .names import CATEGORY, Names, Unknown, Unknowns
from .reading import IntakeError, Row, Table, read_table

FIELDS = FEEDBACK
LIMITS = {"category_text": 50, "region": 50, "channel": 50, "note": 200}


@dataclasses.dataclass
class Refusal:
    row: int
    reason: str

    def __str__(self) -> str:
        return _("Row %(row)s: %(reason)s") % {"row": self.row, "reason": self.reason}


@dataclasses.dataclass
class FeedbackPlan:
    round: Round
    table: Table
    suggestions: list[Suggestion]
    refused: list[Refusal]
    repeated: int  # rows whose text repeats an earlier row's: kept, consolidation groups them
    numbered: int  # rows without a 序号, given the next free number
    # Each category as received that is none of the round's, once, with its rows.
    unknown: list[Unknown] = dataclasses.field(default_factory=list)
    names: Names | None = None

    @property
    def rows_read(self) -> int:
        return len(self.table.rows)

    @property
    def to_create(self) -> list:
        """The categories the supervisor chose to create: made on confirm."""
        return names_module.unsaved(s.category for s in self.suggestions)


def plan_feedback(round: Round, data: bytes, name: str, names: Names | None = None) -> FeedbackPlan:
    """Read ``data`` and check every row; raises ``IntakeError`` for a file refused whole.

    A category as received that consolidation would not match to one of the round's is
    listed once in ``unknown``; ``names`` (the supervisor's answers) may put it under one
    of the round's categories or a new one. The words as received are kept either way."""
    table = read_table(
        data,
        name,
        fields=FIELDS,
        required="text",
        multiline=("text",),
        section="category_text",
    )
    taken = set(Suggestion.objects.filter(round=round).values_list("seq", flat=True))
    highest = max(taken, default=0)
    refused: list[Refusal] = []
    accepted: list[tuple[Row, int | None]] = []
    in_file: dict[int, int] = {}  # seq → row that has it
    for row in table.rows:
        values = row.values
        if not values.get("text"):
            refused.append(Refusal(row.number, _("the suggestion’s text is empty")))
            continue
        too_long = next((f for f, n in LIMITS.items() if len(values.get(f) or "") > n), None)
        if too_long:
            refused.append(
                Refusal(
                    row.number,
                    _("“%(column)s” is longer than %(n)s characters")
                    % {"column": table.columns[too_long], "n": LIMITS[too_long]},
                )
            )
            continue
        seq = None
        raw = values.get("seq") or ""
        if raw:
            if not raw.isdigit() or int(raw) < 1:
                refused.append(
                    Refusal(
                        row.number,
                        _("the number “%(seq)s” is not a whole number") % {"seq": raw},
                    )
                )
                continue
            seq = int(raw)
            if seq in taken:
                refused.append(
                    Refusal(
                        row.number,
                        _(
                            "number %(seq)s is already used by a suggestion of this round "
                            "(was this file imported before?)"
                        )
                        % {"seq": seq},
                    )
                )
                continue
            if seq in in_file:
                refused.append(
                    Refusal(
                        row.number,
                        _("number %(seq)s is also the number of row %(other)s")
                        % {"seq": seq, "other": in_file[seq]},
                    )
                )
                continue
            in_file[seq] = row.number
        accepted.append((row, seq))
    next_seq = max(highest, max(in_file, default=0)) + 1
    categories = list(Category.objects.filter(round=round))
    pairs = [(c.pk, c.name) for c in categories]
    matched: dict[str, bool] = {}  # category as received → one of the round's
    unknowns = Unknowns()
    suggestions = []
    seen_texts: set[str] = set()
    repeated = numbered = 0
    for row, seq in accepted:
        if seq is None:
            seq, next_seq = next_seq, next_seq + 1
            numbered += 1
        values = row.values
        text = values["text"]
        if text in seen_texts:
            repeated += 1
        seen_texts.add(text)
        category = None
        category_text = values.get("category_text", "")
        if category_text:
            if category_text not in matched:
                matched[category_text] = match_category(category_text, pairs) is not None
            if not matched[category_text]:
                unknown = unknowns.found.get((CATEGORY, category_text)) or Unknown(
                    CATEGORY,
                    category_text,
                    category_text,
                    [],
                    names_module.closest_categories(category_text, categories),
                )
                unknowns.add(unknown, row.number)
                category = names.get(CATEGORY, category_text) if names is not None else None
        suggestions.append(
            Suggestion(
                round=round,
                seq=seq,
                text=text,
                category_text=category_text,
                category=category,
                region=values.get("region", ""),
                channel=values.get("channel", ""),
                note=values.get("note", ""),
            )
        )
    suggestions.sort(key=lambda s: s.seq)
    return FeedbackPlan(
        round, table, suggestions, refused, repeated, numbered, unknowns.listed(), names
    )


def write_feedback(plan: FeedbackPlan) -> int:
    """Write the plan's suggestions, and the categories the supervisor chose to create, in
    one transaction; returns how many suggestions were written.

    Another import into the round since the plan was made may have taken a number: then
    nothing is written and the user is asked to preview again."""
    try:
        with transaction.atomic():
            names_module.create(plan.round, plan.to_create)
            Suggestion.objects.bulk_create(plan.suggestions, batch_size=1000)
    except IntegrityError:
        raise IntakeError(
            _(
                "Suggestions were added to this round while you looked at the preview, and "
                "some numbers are now taken. Nothing was imported: check the file again."
            )
        ) from None
    return len(plan.suggestions)
