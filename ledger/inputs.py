"""Numbers a request names, in its path, its query string or a form, read strictly.

An id is a whole number from 1 to the largest value of the id columns (bigint), written in
ASCII digits. ``str.isdigit()`` is not that test: it says yes to "²" and "①", which
``int()`` refuses (a 500 where a 404 or a refusal was meant), and to "١٢", which it reads.
And a number larger than a bigint matches no row on PostgreSQL but cannot even be bound by
SQLite's driver (OverflowError): it is not an id, whatever the database.
"""

from __future__ import annotations

import re

# The largest value of a bigint column, which every id (BigAutoField) is.
MAX_ID = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")


def parse_id(raw: object) -> int | None:
    """``raw`` as an id, or None when it is not one."""
    if not isinstance(raw, str) or not _DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None


def parse_ids(raws) -> list[int]:
    """The ids among ``raws``, in order; anything else left out."""
    return [value for raw in raws if (value := parse_id(raw)) is not None]


class IdConverter:
    """``<id:pk>`` in a URL: an id as ``parse_id`` reads it. A longer number is no match
    (404), as is one beyond the id columns' range."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = parse_id(value)
        if number is None:
            raise ValueError(f"{value!r} is not an id")
        return number

    def to_url(self, value: int | str) -> str:
        return str(value)
