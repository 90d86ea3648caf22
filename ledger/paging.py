"""Keyset paging ("seek" paging): a page is the rows after (or before) a position in the
sort order, found through the index, so the last page of a million rows costs what the
first does. No COUNT(*) and no OFFSET: the pager offers first, previous, next and last.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import json
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import BooleanField, Expression, F, QuerySet, Value


@dataclasses.dataclass(frozen=True)
class Sort:
    """A sort order: the fields, all ascending or all descending, the last one unique."""

    fields: tuple[str, ...]
    descending: bool = False

    def order_by(self, reverse: bool = False) -> list:
        down = self.descending != reverse
        return [F(f).desc() if down else F(f).asc() for f in self.fields]

    def after(self, values: list, reverse: bool = False) -> RowAfter:
        """Rows strictly after ``values`` in this order (before them, with ``reverse``).

        One row-value comparison, ``(a, b) > (x, y)``, not its expansion
        ``a > x OR (a = x AND b > y)``: both databases start an index range scan at a
        row value, while the OR form is tested row by row from the start of the index, so
        a page in the middle of a million items cost what OFFSET would (158 ms)."""
        down = self.descending != reverse
        return RowAfter(self.fields, values, "<" if down else ">")


class RowAfter(Expression):
    """``(field, …) > (value, …)`` (or ``<``) as a filter condition."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, fields: tuple[str, ...], values: list, op: str) -> None:
        super().__init__()
        if op not in ("<", ">") or len(fields) != len(values):
            raise ValueError("a row comparison takes < or > and one value per field")
        self.op = op
        self.width = len(fields)
        self.sides = [F(f) for f in fields] + [Value(v) for v in values]

    def get_source_expressions(self) -> list:
        return self.sides

    def set_source_expressions(self, exprs) -> None:
        self.sides = list(exprs)

    def as_sql(self, compiler, connection) -> tuple[str, list]:
        sqls, params = [], []
        for expression in self.sides:
            sql, more = compiler.compile(expression)
            sqls.append(sql)
            params += more
        left, right = ", ".join(sqls[: self.width]), ", ".join(sqls[self.width :])
        return f"({left}) {self.op} ({right})", params


def encode(values: list) -> str:
    plain = [
        v.isoformat() if isinstance(v, datetime.date | datetime.datetime) else v for v in values
    ]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def decode(cursor: str, sample: list[type]) -> list | None:
    """The position a cursor names, or None if it is not one (a bad link gives page one)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (ValueError, TypeError):
        return None
    if not isinstance(values, list) or len(values) != len(sample):
        return None
    out = []
    for value, kind in zip(values, sample, strict=True):
        try:
            if kind is datetime.datetime:
                out.append(datetime.datetime.fromisoformat(value))
            elif kind is datetime.date:
                out.append(datetime.date.fromisoformat(value))
            elif kind is int:
                if not isinstance(value, int) or isinstance(value, bool):
                    return None
                out.append(value)
            else:
                if not isinstance(value, str):
                    return None
                out.append(value)
        except (TypeError, ValueError):
            return None
    return out


@dataclasses.dataclass
class Page:
    rows: list[Any]
    first_cursor: str | None
    last_cursor: str | None
    has_next: bool
    has_previous: bool
    is_last: bool


def page(
    queryset: QuerySet,
    sort: Sort,
    kinds: list[type],
    *,
    size: int,
    after: str = "",
    before: str = "",
    last: bool = False,
    parts: list[QuerySet] | None = None,
    keys: list[tuple] | None = None,
    by_id: QuerySet | None = None,
) -> Page:
    """One page of ``queryset`` in ``sort`` order, one query of ``size + 1`` rows.

    ``after``/``before`` are cursors from a previous page; ``last`` asks for the final page
    (read backwards from the end, then turned round).

    ``parts``: disjoint querysets whose rows together are ``queryset``'s, when each part
    has an index in the sort order and their union has none (an official's items: led by
    the department, or shared with it). Then the first ``size + 1`` of each part are read
    in the sort order and merged by the database in one query, and the page's rows are
    read by their ids in a second: no query sorts every match of the union.

    ``keys``: ``queryset``'s rows as (id, *values of the sort fields), already read (a
    keyword's matches, ``filters.Match``). The database orders these values, which the query
    sends it, so no row is read but the page's.

    ``by_id``: where the page's rows are read by their ids when ``parts`` or ``keys`` found
    them (default ``queryset``): the ids already meet ``queryset``'s conditions, which need
    not be tested again (SQLite read a whole round through them to find 21 rows).
    """
    position, backwards = None, last
    if after:
        position = decode(after, kinds)
    elif before:
        position, backwards = decode(before, kinds), True
    if parts or keys is not None:
        if keys is not None:
            ids = first_of_keys(keys, sort, kinds, position, backwards, size + 1)
        else:
            ids = _first_ids(parts, sort, position, backwards, size + 1)
        source = queryset if by_id is None else by_id
        found = {row.pk: row for row in source.filter(pk__in=ids)}
        rows = [found[pk] for pk in ids if pk in found]
    else:
        qs = queryset
        if position is not None:
            qs = qs.filter(sort.after(position, reverse=backwards))
        rows = list(qs.order_by(*sort.order_by(reverse=backwards))[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()

    def key(row) -> str:
        return encode([_value(row, f) for f in sort.fields])

    moved = position is not None
    return Page(
        rows=rows,
        first_cursor=key(rows[0]) if rows else None,
        last_cursor=key(rows[-1]) if rows else None,
        has_next=(not backwards and more) or (backwards and moved and not last),
        has_previous=(backwards and more) or (not backwards and moved),
        is_last=(not backwards and not more) or last,
    )


def _value(row, field: str):
    value = row
    for part in field.split("__"):
        value = getattr(value, part)
    return value


def _first_ids(
    parts: list[QuerySet], sort: Sort, position: list | None, backwards: bool, n: int
) -> list[int]:
    """The ids of the first ``n`` rows of the union of ``parts`` in ``sort`` order (after
    ``position``): each part limited to ``n`` in its own order, then the union ordered by
    the same columns, so the database's collation orders both."""
    order = sort.order_by(reverse=backwards)
    arms = []
    for part in parts:
        if position is not None:
            part = part.filter(sort.after(position, reverse=backwards))
        arms.append(part.order_by(*order).values_list("pk", *sort.fields)[:n])
    return first_of_union(arms, n, len(sort.fields), descending=sort.descending != backwards)


def first_of_union(
    arms: list[QuerySet], n: int, width: int, *, descending: bool = False
) -> list[int]:
    """The ids of the first ``n`` rows of the union of ``arms``, each a sliced
    ``values_list`` of an id and ``width`` sort columns in its own order, ordered by those
    columns (all ascending, or all descending) in one query."""
    if not arms:
        return []
    return run_ids(arms[0].db, union_sql(arms, n, width, descending=descending))


def union_sql(
    arms: list[QuerySet], n: int, width: int, *, descending: bool = False
) -> tuple[str, list] | None:
    """first_of_union's query and its parameters, to run with ``run_ids`` (None: no arm can
    match anything)."""
    sqls, params = [], []
    for arm in arms:
        try:
            sql, arm_params = arm.query.sql_with_params()
        except EmptyResultSet:  # an arm that can match nothing
            continue
        sqls.append(f"SELECT * FROM ({sql}) part_{len(sqls)}")
        params += arm_params
    if not sqls:
        return None
    direction = "DESC" if descending else "ASC"
    # By position: the columns after the id are the sort columns, in order.
    columns = ", ".join(f"{i} {direction}" for i in range(2, width + 2))
    return f"{' UNION ALL '.join(sqls)} ORDER BY {columns} LIMIT {int(n)}", params


def run_ids(using: str, built: tuple[str, list] | None) -> list[int]:
    """The first column of each row of ``built`` (union_sql's)."""
    if built is None:
        return []
    with connections[using].cursor() as cursor:
        cursor.execute(*built)
        return [row[0] for row in cursor.fetchall()]


# Each kind of sort value as PostgreSQL reads it back from JSON text.
_SQL_TYPES = {int: "bigint", str: "text", datetime.date: "date", datetime.datetime: "timestamptz"}


def _json_value(value):
    if isinstance(value, datetime.datetime):
        # One fixed width, in UTC, so that on SQLite text order is time order.
        return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def first_of_keys(
    keys: list[tuple],
    sort: Sort,
    kinds: list[type],
    position: list | None,
    backwards: bool,
    n: int,
    using: str = "default",
) -> list[int]:
    """The ids of the first ``n`` of ``keys`` ((id, *sort values) each) in ``sort`` order,
    after ``position``: ordered by the database, so that text sorts by its collation, as the
    column does. The keys travel as one JSON parameter (psycopg adapts a list in Python,
    value by value: slower than the query)."""
    if not keys:
        return []
    width = len(sort.fields)
    down = sort.descending != backwards
    direction, op = ("DESC", "<") if down else ("ASC", ">")
    connection = connections[using]
    if connection.vendor == "postgresql":
        source = "json_array_elements(%s::json) AS k(v)"
        types = [_SQL_TYPES[kind] for kind in [int, *kinds]]
        columns = [f"(k.v->>{i})::{t}" for i, t in enumerate(types)]
        placeholders = [f"%s::{t}" for t in types[1:]]
    else:
        source = "json_each(%s)"
        columns = [f"json_extract(value, '$[{i}]')" for i in range(width + 1)]
        placeholders = ["%s"] * width
    if all(kind in (int, str) for kind in kinds):
        payload = json.dumps(keys, ensure_ascii=False)  # as they are: tuples as arrays
    else:
        payload = json.dumps([[_json_value(v) for v in key] for key in keys])
    params = [payload]
    where = ""
    if position is not None:
        where = "WHERE ({}) {} ({})".format(", ".join(columns[1:]), op, ", ".join(placeholders))
        params += [_json_value(v) for v in position]
    order = ", ".join(f"{c} {direction}" for c in columns[1:])
    sql = f"SELECT {columns[0]} FROM {source} {where} ORDER BY {order} LIMIT {int(n)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]
