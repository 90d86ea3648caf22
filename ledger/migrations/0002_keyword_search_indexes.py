"""Trigram indexes for the ledger's keyword search, on PostgreSQL only.

The keyword filter is ``ILIKE '%word%'`` over item titles and the suggestions merged into
them; without an index that is a scan of every row (340 ms at 1M items), with a pg_trgm GIN
index it is an index lookup for words of three characters or more. SQLite has no such
index: there the search scans, which is fine at the sizes SQLite serves.

Creating the extension needs a role that may create it (a superuser, or pg_trgm trusted, as
it is since PostgreSQL 13 for a database owner).
"""

from django.db import migrations

INDEXES = [
    ("item_title_trgm", "ledger_item", "title"),
    ("suggestion_text_trgm", "ledger_suggestion", "text"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(
            # UPPER(): what Django's icontains compares, so the planner can match the index.
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]
    operations = [migrations.RunPython(create, drop, elidable=False)]
