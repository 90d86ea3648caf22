"""Item numbers in a round's own numbering, ``{round.code}-{n:04d}`` (2019-0001).

Consolidation and a supervisor's new item both take the next numbers from here. A withdrawn
item keeps its number, so every item counts, withdrawn ones included (``Item.all_objects``):
the round's numbers are unique over all of them.
"""

from __future__ import annotations

from django.db.models.functions import Length

from .models import Item, Round

# Candidate numbers checked per query: well within any database's limit on parameters.
CHECK_BATCH = 500


def format_number(round: Round, n: int) -> str:
    return f"{round.code}-{n:04d}"


def next_number(round: Round) -> int:
    """The n after the round's highest item number ``{code}-{n}``: by length first, so that
    2019-10000 comes after 2019-9999."""
    prefix = f"{round.code}-"
    highest = (
        Item.all_objects.filter(round=round, number__startswith=prefix)
        .order_by(Length("number").desc(), "-number")
        .values_list("number", flat=True)
        .first()
    )
    if highest is None:
        return 1
    tail = highest.removeprefix(prefix)
    if tail.isdigit():
        return int(tail) + 1
    # A hand-made number that is not ours: count on from the number of items instead.
    return Item.all_objects.filter(round=round).count() + 1


def free_numbers(round: Round, count: int) -> list[str]:
    """``count`` numbers no item of the round holds, from ``next_number`` on.

    Each is checked, since a number written with other padding (2019-00012 beside
    2019-0011) can hide above the highest one."""
    found: list[str] = []
    n = next_number(round)
    while len(found) < count:
        batch = [
            format_number(round, k) for k in range(n, n + min(count - len(found), CHECK_BATCH))
        ]
        taken = set(
            Item.all_objects.filter(round=round, number__in=batch).values_list("number", flat=True)
        )
        found += [number for number in batch if number not in taken]
        n += len(batch)
    return found
