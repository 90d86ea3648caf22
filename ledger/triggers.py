"""Database triggers that keep ``CoDepartment``'s copy of its item's state, deadline and lead
department in step with the item.

A trigger, not Python: every write path (the workflow, imports, bulk loads, COPY in the
bench, an administrator's UPDATE) keeps the copy right without knowing about it. They are
created by migration 0007 and created again, if missing, after every ``migrate`` (SQLite
drops a table's triggers when a later migration rebuilds the table).
"""

from __future__ import annotations

SQLITE = [
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

POSTGRESQL = [
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

STATEMENTS = {"sqlite": SQLITE, "postgresql": POSTGRESQL}


def install(connection) -> None:
    statements = STATEMENTS.get(connection.vendor)
    if statements is None:
        raise NotImplementedError(f"No share triggers for {connection.vendor}")
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def installed(connection) -> bool:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name IN "
                "('codepartment_copy_item', 'item_update_shares')"
            )
        else:
            cursor.execute(
                "SELECT COUNT(*) FROM pg_trigger WHERE tgname IN "
                "('codepartment_copy_item', 'item_update_shares') AND NOT tgisinternal"
            )
        return cursor.fetchone()[0] == 2
