"""The third party's phone review (专项评议): a sheet of item numbers, each with 满意,
基本满意 or 不满意 and a comment → the items' ratings (docs/supervision.md).

``plan_review`` reads a sheet and checks every row against the round; it writes nothing.
``write_review`` writes a plan with no refused row, all of it or nothing: one
``ReviewBatch``, one ``Rating`` per row, each item's ``satisfaction``, and one RATE event
per item (copied to the audit trail), with one audit line for the import.

The sheet is read as every import reads one (``intake.reading``: size, kind from the
bytes, header row found among the first rows, unknown columns named); its header names are
in ``intake.headers.REVIEW``. Only closed-out items are rated: the review asks citizens
whether the rectification worked, and an item still open has no result to judge yet.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Iterator

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ledger import audit
from ledger.intake.feedback import Refusal
from ledger.intake.headers import REVIEW
from ledger.intake.reading import IntakeError, Table, clean, read_table
from ledger.models import Event, Item, Round, User

from .models import Rating, ReviewBatch

Satisfaction = Item.Satisfaction
FIELDS = REVIEW
# Longer than any comment a caller writes down; a longer cell is a paste gone wrong.
COMMENT_MAX = 2000
# Ids or numbers per query: well within any database's limit on parameters.
BATCH = 500

# The three words of the review's scale, and the values the application itself writes. A
# word between two levels (较满意, 一般) or beyond them (非常满意) is refused: the rating
# counts in the annual evaluation, and the import does not guess a level for it.
WORDS: dict[str, str] = {
    "满意": Satisfaction.SATISFIED,
    "基本满意": Satisfaction.BASIC,
    "不满意": Satisfaction.UNSATISFIED,
    "satisfied": Satisfaction.SATISFIED,
    "mostlysatisfied": Satisfaction.BASIC,
    "basic": Satisfaction.BASIC,
    "notsatisfied": Satisfaction.UNSATISFIED,
    "unsatisfied": Satisfaction.UNSATISFIED,
}
# Marks a caller may leave around the word: “满意。” “（不满意）”.
AROUND = "。.，,；;！!、（）()[]【】\"'“”‘’"


class RoundNeeded(IntakeError):
    """The sheet's numbers do not name one round: the supervisor must choose it."""


def rating_of(text: str) -> str | None:
    """The rating a cell gives, or None: the three words with any spaces (full-width ones
    too) and surrounding marks, or the application's own values."""
    key = "".join(clean(text).split()).strip(AROUND).lower()
    return WORDS.get(key)


def item_number(text: str) -> str:
    """A number as the sheet writes it, made comparable: full-width digits and dashes
    made half-width, spaces removed."""
    return "".join(clean(text).split())


@dataclasses.dataclass
class PlannedRating:
    row: int
    item: Item
    value: str
    comment: str

    @property
    def label(self) -> str:
        return Satisfaction(self.value).label


@dataclasses.dataclass
class ReviewPlan:
    round: Round
    recognised: bool  # the round was read from the numbers, not chosen
    table: Table
    ratings: list[PlannedRating]
    refused: list[Refusal]
    rated_before: int  # items that already have a rating from an earlier import
    file_name: str

    @property
    def rows_read(self) -> int:
        return len(self.table.rows)

    @property
    def ok(self) -> bool:
        """Whether the plan may be written: rows to save and none refused."""
        return bool(self.ratings) and not self.refused

    @property
    def counts(self) -> list[tuple[str, str, int]]:
        """(value, label, how many rows give it), in the order of the scale."""
        n = {value: 0 for value in Satisfaction.values}
        for rating in self.ratings:
            n[rating.value] += 1
        return [(value, label, n[value]) for value, label in Satisfaction.choices]


def _batched(values: Iterable, size: int = BATCH) -> Iterator[list]:
    iterator = iter(values)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def recognise_round(numbers: Iterable[str]) -> Round:
    """The one round whose numbering (``<code>-0001``) the numbers are written in.

    Raises ``RoundNeeded`` when they name none, or several: the supervisor chooses."""
    rounds = {r.code: r for r in Round.objects.only("pk", "code", "name")}
    named: dict[int, Round] = {}
    for number in numbers:
        code = number.rpartition("-")[0]
        if code in rounds:
            named[rounds[code].pk] = rounds[code]
    if not named:
        raise RoundNeeded(
            _(
                "Choose the round this sheet rates: its numbers are not written as any "
                "round’s item numbers (such as 2019-0001)."
            )
        )
    if len(named) > 1:
        raise RoundNeeded(
            _(
                "The numbers belong to several rounds (%(rounds)s): choose the round this "
                "sheet rates. Rows of the other rounds are then refused."
            )
            % {"rounds": "、".join(r.name for r in sorted(named.values(), key=lambda r: r.pk))}
        )
    return next(iter(named.values()))


def _items(round: Round, numbers: Iterable[str]) -> dict[str, Item]:
    """The round's items (withdrawn ones too) that have one of ``numbers``, by number:
    as many queries as the sheet needs, whatever the size of the round."""
    found: dict[str, Item] = {}
    fields = ("pk", "round_id", "number", "title", "state", "satisfaction", "version")
    for chunk in _batched(sorted(set(numbers))):
        for item in Item.all_objects.filter(round=round, number__in=chunk).only(*fields):
            found[item.number] = item
    return found


def plan_review(data: bytes, name: str, round: Round | None = None) -> ReviewPlan:
    """Read ``data`` and check every row; raises ``IntakeError`` for a file refused whole,
    ``RoundNeeded`` when no round is given and the numbers do not name one.

    A row is refused for an empty or unknown number, an empty rating or a word that is not
    one of the scale, a comment too long, a withdrawn item, an item not closed out, and a
    number an earlier row has: one row per item and import."""
    table = read_table(data, name, fields=FIELDS, required="rating", multiline=("comment",))
    if "number" not in table.columns:
        raise IntakeError(
            _(
                "The sheet has a column of ratings (“%(rating)s”) but none of item numbers: "
                "add a column 事项编号 (or 编号, 序号) holding each item’s number."
            )
            % {"rating": table.columns["rating"]}
        )
    numbers = [item_number(row.values.get("number", "")) for row in table.rows]
    recognised = round is None
    if round is None:
        round = recognise_round(n for n in numbers if n)
    items = _items(round, (n for n in numbers if n))
    ratings: list[PlannedRating] = []
    refused: list[Refusal] = []
    first_row: dict[str, int] = {}
    for row, number in zip(table.rows, numbers, strict=True):
        text = row.values.get("rating", "")
        comment = row.values.get("comment", "")
        reasons: list[str] = []
        if not number:
            reasons.append(_("the item number is empty"))
        value = rating_of(text)
        if not text:
            reasons.append(_("the rating is empty: write 满意, 基本满意 or 不满意"))
        elif value is None:
            reasons.append(
                _("“%(value)s” is not a rating: write 满意, 基本满意 or 不满意") % {"value": text}
            )
        if len(comment) > COMMENT_MAX:
            reasons.append(
                _("the comment is longer than %(n)s characters") % {"n": f"{COMMENT_MAX:,}"}
            )
        item = items.get(number) if number else None
        if number:
            if number in first_row:
                reasons.append(
                    _("item %(number)s is rated on row %(row)s already: one row per item")
                    % {"number": number, "row": first_row[number]}
                )
            else:
                first_row[number] = row.number
            if item is None:
                reasons.append(
                    _("no item of %(round)s has the number “%(number)s”")
                    % {"round": round.name, "number": number}
                )
            elif item.state == Item.State.WITHDRAWN:
                reasons.append(
                    _("item %(number)s is withdrawn (作废): it is not rated") % {"number": number}
                )
            elif item.state != Item.State.CLOSED:
                reasons.append(
                    _(
                        "item %(number)s is not closed out (it is “%(state)s”): only "
                        "closed-out items are rated"
                    )
                    % {"number": number, "state": Item.State(item.state).label}
                )
        if reasons:
            refused.extend(Refusal(row.number, reason) for reason in reasons)
            continue
        ratings.append(PlannedRating(row.number, item, value, comment))
    return ReviewPlan(
        round=round,
        recognised=recognised,
        table=table,
        ratings=ratings,
        refused=refused,
        rated_before=sum(1 for r in ratings if r.item.satisfaction),
        file_name=name.replace("\\", "/").rsplit("/", 1)[-1][:200],
    )


class _Changed(Exception):
    """An item left close-out between the preview and the confirmation."""


def write_review(plan: ReviewPlan, *, by: User, request=None) -> ReviewBatch:
    """Write a plan with no refused row in one transaction, or nothing.

    Each item is rated only if it is still closed out: one reopened since the preview
    refuses the whole import, which is then checked again from the file."""
    if not plan.ok:
        raise IntakeError(_("Nothing was imported: the sheet has rows that are refused."))
    at = timezone.now()
    try:
        with transaction.atomic():
            batch = ReviewBatch.objects.create(
                round=plan.round,
                file_name=plan.file_name,
                rows=len(plan.ratings),
                imported_by=by,
                imported_at=at,
            )
            Rating.objects.bulk_create(
                [
                    Rating(item_id=r.item.pk, batch=batch, value=r.value, comment=r.comment)
                    for r in plan.ratings
                ],
                batch_size=1000,
            )
            # One update per rating and chunk, not per item; the item changes, so its
            # version moves on as with any change, and a page drawn before is stale.
            rated = 0
            for value in Satisfaction.values:
                ids = [r.item.pk for r in plan.ratings if r.value == value]
                for chunk in _batched(ids):
                    rated += Item.objects.filter(pk__in=chunk, state=Item.State.CLOSED).update(
                        satisfaction=value,
                        version=F("version") + 1,
                        updated_at=at,
                        updated_by=by,
                    )
            if rated != len(plan.ratings):
                raise _Changed
            events = Event.objects.bulk_create(
                [
                    Event(
                        item=r.item,
                        actor=by,
                        kind=Event.Kind.RATE,
                        from_state=Item.State.CLOSED,
                        to_state=Item.State.CLOSED,
                        data={
                            "rating": r.value,
                            "comment": r.comment,
                            "batch": batch.pk,
                            "file": plan.file_name,
                            "row": r.row,
                        },
                        at=at,
                    )
                    for r in plan.ratings
                ],
                batch_size=1000,
            )
            audit.copy_events(events)  # bulk_create sends no post_save
            counts = {value: n for value, _label, n in plan.counts}
            audit.record(
                audit.Kind.ITEM,
                gettext_lazy(
                    "Imported the phone review “%(file)s” into %(round)s: %(n)s ratings "
                    "(满意 %(satisfied)s, 基本满意 %(basic)s, 不满意 %(unsatisfied)s)"
                ),
                {"file": plan.file_name, "round": plan.round.name, "n": batch.rows, **counts},
                request=request,
                actor=by,
                target=plan.file_name,
                detail={"batch": batch.pk, "round": plan.round.pk, "rows": batch.rows, **counts},
            )
    except _Changed:
        raise IntakeError(
            _(
                "Some of these items are no longer closed out (reopened since the preview): "
                "nothing was imported. Check the file again."
            )
        ) from None
    return batch
