"""Database triggers that keep copies in step with what they copy.

- ``shares``: ``CoDepartment``'s copy of its item's state, deadline and lead department.
- ``search``: ``Item.search``, the text the ledger's keyword searches: the item's number,
  its problem and the texts of the suggestions merged into it.

Triggers, not Python: every write path (the workflow, imports, consolidation, bulk loads,
COPY in the bench, an administrator's UPDATE) keeps the copies right without knowing about
them. They are created by their migrations (0007, 0011) and created again, if missing,
after every ``migrate`` (SQLite drops a table's triggers when a later migration rebuilds
the table).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

SHARES_SQLITE = [
    """
    CREATE TRIGGER IF NOT EXISTS codepartment_copy_item
    AFTER INSERT ON ledger_item_co_departments
    BEGIN
        UPDATE ledger_item_co_departments SET
            state = (SELECT state FROM ledger_item WHERE id = NEW.item_id),
            deadline = (SELECT deadline FROM ledger_item WHERE id = NEW.item_id),
            lead_department_id = (
                SELECT lead_department_id FROM ledger_item WHERE id = NEW.item_id
            )
        WHERE id = NEW.id;
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS item_update_shares
    AFTER UPDATE OF state, deadline, lead_department_id ON ledger_item
    WHEN OLD.state IS NOT NEW.state
        OR OLD.deadline IS NOT NEW.deadline
        OR OLD.lead_department_id IS NOT NEW.lead_department_id
    BEGIN
        UPDATE ledger_item_co_departments SET
            state = NEW.state,
            deadline = NEW.deadline,
            lead_department_id = NEW.lead_department_id
        WHERE item_id = NEW.id;
    END
    """,
]

SHARES_POSTGRESQL = [
    """
    CREATE OR REPLACE FUNCTION ledger_codepartment_copy_item() RETURNS trigger AS $$
    BEGIN
        SELECT state, deadline, lead_department_id
        INTO NEW.state, NEW.deadline, NEW.lead_department_id
        FROM ledger_item WHERE id = NEW.item_id;
        RETURN NEW;
    END
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE OR REPLACE TRIGGER codepartment_copy_item
    BEFORE INSERT OR UPDATE OF item_id ON ledger_item_co_departments
    FOR EACH ROW EXECUTE FUNCTION ledger_codepartment_copy_item()
    """,
    """
    CREATE OR REPLACE FUNCTION ledger_item_update_shares() RETURNS trigger AS $$
    BEGIN
        UPDATE ledger_item_co_departments SET
            state = NEW.state,
            deadline = NEW.deadline,
            lead_department_id = NEW.lead_department_id
        WHERE item_id = NEW.id;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE OR REPLACE TRIGGER item_update_shares
    AFTER UPDATE OF state, deadline, lead_department_id ON ledger_item
    FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state
        OR OLD.deadline IS DISTINCT FROM NEW.deadline
        OR OLD.lead_department_id IS DISTINCT FROM NEW.lead_department_id)
    EXECUTE FUNCTION ledger_item_update_shares()
    """,
]


# An item's search text, one line each: number, problem, and each distinct suggestion text
# in the order received. Lines, so that a keyword (a word holds no whitespace) never matches
# across two of them. The item's own trigger is the one place that writes it; a suggestion's
# insert, change or delete "touches" its items (``SET search = search``), which fires it.
def search_text(vendor: str, row: str = "NEW") -> str:
    """The SQL expression of an item's search text, ``row`` naming the item's row."""
    if vendor == "sqlite":
        # SQLite (3.40) has no ORDER BY within an aggregate: group_concat takes the rows in
        # the order the subquery gives them.
        return f"""
            {row}.number || char(10) || {row}.title || coalesce(char(10) || (
                SELECT group_concat(text, char(10)) FROM (
                    SELECT text FROM ledger_suggestion WHERE item_id = {row}.id
                    GROUP BY text ORDER BY min(seq)
                )
            ), '')
        """
    return rf"""
        concat_ws(E'\n', {row}.number, {row}.title, (
            SELECT string_agg(text, E'\n' ORDER BY seq) FROM (
                SELECT text, min(seq) AS seq FROM ledger_suggestion
                WHERE item_id = {row}.id GROUP BY text
            ) AS texts
        ))
    """


SEARCH_SQLITE = [
    f"""
    CREATE TRIGGER IF NOT EXISTS item_search_update
    AFTER UPDATE OF number, title, search ON ledger_item
    BEGIN
        UPDATE ledger_item SET search = {search_text("sqlite")} WHERE id = NEW.id;
    END
    """,
    # SQLite does not fire a trigger from within itself (recursive_triggers is off), so
    # item_search_update's own UPDATE ends there.
    """
    CREATE TRIGGER IF NOT EXISTS item_search_insert
    AFTER INSERT ON ledger_item
    BEGIN
        UPDATE ledger_item SET search = search WHERE id = NEW.id;
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS suggestion_search_insert
    AFTER INSERT ON ledger_suggestion
    WHEN NEW.item_id IS NOT NULL
    BEGIN
        UPDATE ledger_item SET search = search WHERE id = NEW.item_id;
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS suggestion_search_update
    AFTER UPDATE OF text, item_id ON ledger_suggestion
    WHEN OLD.text IS NOT NEW.text OR OLD.item_id IS NOT NEW.item_id
    BEGIN
        UPDATE ledger_item SET search = search WHERE id IN (OLD.item_id, NEW.item_id);
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS suggestion_search_delete
    AFTER DELETE ON ledger_suggestion
    WHEN OLD.item_id IS NOT NULL
    BEGIN
        UPDATE ledger_item SET search = search WHERE id = OLD.item_id;
    END
    """,
]

SEARCH_POSTGRESQL = [
    f"""
    CREATE OR REPLACE FUNCTION ledger_item_search() RETURNS trigger AS $$
    BEGIN
        NEW.search := {search_text("postgresql")};
        RETURN NEW;
    END
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE OR REPLACE TRIGGER item_search
    BEFORE INSERT OR UPDATE OF number, title, search ON ledger_item
    FOR EACH ROW EXECUTE FUNCTION ledger_item_search()
    """,
    # Per statement, over the statement's rows: consolidation moving 10,000 suggestions
    # touches each of their items once, in one UPDATE.
    """
    CREATE OR REPLACE FUNCTION ledger_suggestion_touch_items() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            UPDATE ledger_item SET search = search
            WHERE id IN (SELECT item_id FROM new_rows);
        ELSIF TG_OP = 'DELETE' THEN
            UPDATE ledger_item SET search = search
            WHERE id IN (SELECT item_id FROM old_rows);
        ELSE
            UPDATE ledger_item SET search = search WHERE id IN (
                SELECT unnest(ARRAY[o.item_id, n.item_id])
                FROM old_rows o JOIN new_rows n ON n.id = o.id
                WHERE o.text IS DISTINCT FROM n.text
                    OR o.item_id IS DISTINCT FROM n.item_id
            );
        END IF;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE OR REPLACE TRIGGER suggestion_search_insert
    AFTER INSERT ON ledger_suggestion REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_suggestion_touch_items()
    """,
    """
    CREATE OR REPLACE TRIGGER suggestion_search_update
    AFTER UPDATE ON ledger_suggestion REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_suggestion_touch_items()
    """,
    """
    CREATE OR REPLACE TRIGGER suggestion_search_delete
    AFTER DELETE ON ledger_suggestion REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_suggestion_touch_items()
    """,
]

# The audit trail is append-only (docs/audit.md): PostgreSQL refuses any UPDATE or DELETE
# of its lines, whoever asks. SQLite, a single-user embedded database, relies on the model's
# refusal alone: its test runs empty tables with DELETE, which a trigger would refuse.
AUDIT_POSTGRESQL = [
    """
    CREATE OR REPLACE FUNCTION ledger_audit_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'The audit trail is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE OR REPLACE TRIGGER auditentry_append_only
    BEFORE UPDATE OR DELETE ON ledger_auditentry
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_audit_append_only()
    """,
]

GROUPS = {
    "shares": {"sqlite": SHARES_SQLITE, "postgresql": SHARES_POSTGRESQL},
    "search": {"sqlite": SEARCH_SQLITE, "postgresql": SEARCH_POSTGRESQL},
    "audit": {"sqlite": [], "postgresql": AUDIT_POSTGRESQL},
}
# Each group's triggers by name, and the table that holds each.
NAMES = {
    "shares": {
        "codepartment_copy_item": "ledger_item_co_departments",
        "item_update_shares": "ledger_item",
    },
    "search": {
        "item_search_update": "ledger_item",
        "item_search_insert": "ledger_item",
        "suggestion_search_insert": "ledger_suggestion",
        "suggestion_search_update": "ledger_suggestion",
        "suggestion_search_delete": "ledger_suggestion",
    },
}
NAMES["audit"] = {}
# PostgreSQL's one item trigger does what SQLite's two do.
POSTGRESQL_NAMES = {
    "audit": {"auditentry_append_only": "ledger_auditentry"},
    "shares": NAMES["shares"],
    "search": {
        "item_search": "ledger_item",
        "suggestion_search_insert": "ledger_suggestion",
        "suggestion_search_update": "ledger_suggestion",
        "suggestion_search_delete": "ledger_suggestion",
    },
}
FUNCTIONS = {
    "shares": ["ledger_codepartment_copy_item", "ledger_item_update_shares"],
    "search": ["ledger_item_search", "ledger_suggestion_touch_items"],
    "audit": ["ledger_audit_append_only"],
}


def _names(connection, group: str) -> dict[str, str]:
    return (POSTGRESQL_NAMES if connection.vendor == "postgresql" else NAMES)[group]


def install(connection, group: str) -> None:
    statements = GROUPS[group].get(connection.vendor)
    if statements is None:
        raise NotImplementedError(f"No {group} triggers for {connection.vendor}")
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def uninstall(connection, group: str) -> None:
    with connection.cursor() as cursor:
        for name, table in _names(connection, group).items():
            on = "" if connection.vendor == "sqlite" else f" ON {table}"
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}{on}")
        if connection.vendor == "postgresql":
            for function in FUNCTIONS[group]:
                cursor.execute(f"DROP FUNCTION IF EXISTS {function}()")


def installed(connection, group: str) -> bool:
    names = list(_names(connection, group))
    marks = ", ".join(["%s"] * len(names))
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                f"SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name IN ({marks})",
                names,
            )
        else:
            cursor.execute(
                f"SELECT COUNT(*) FROM pg_trigger WHERE tgname IN ({marks}) AND NOT tgisinternal",
                names,
            )
        return cursor.fetchone()[0] == len(names)


@contextmanager
def suspended(connection, group: str) -> Iterator[None]:
    """Run the block without ``group``'s triggers, for a bulk load that writes the copies
    itself (the bench's seeding). Within a transaction on PostgreSQL, where disabling a
    trigger is transactional; SQLite has no disabling, so they are dropped and made again."""
    if connection.vendor == "sqlite":
        uninstall(connection, group)
        try:
            yield
        finally:
            install(connection, group)
        return
    names = _names(connection, group)
    with connection.cursor() as cursor:
        for name, table in names.items():
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {name}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for name, table in names.items():
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {name}")


# SQLite alters a table by rebuilding it, which it refuses while a trigger on another table
# names it: a migration that alters ledger_item or ledger_suggestion runs these two around
# its operations (RunPython, each the other's reverse).


def drop_for_sqlite_rebuild(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        for group in ("search", "shares"):
            uninstall(schema_editor.connection, group)


def install_after_sqlite_rebuild(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        for group in ("shares", "search"):
            install(schema_editor.connection, group)
