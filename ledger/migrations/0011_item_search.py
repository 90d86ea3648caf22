"""The keyword's text on the item itself (``Item.search``), kept by triggers, with one
trigram index on PostgreSQL in place of the title's and the suggestions' (0002).

With the words on the item's row, a keyword is one condition of the item's, and PostgreSQL
ANDs its index with the round's and the department's before it reads a row: a common word
(in 8% of a million suggestions) within a department's round was some 78,000 suggestion
rows rechecked, now a few thousand items.
"""

from django.db import migrations, models

OLD_INDEXES = [
    ("item_title_trgm", "ledger_item", "title"),
    ("suggestion_text_trgm", "ledger_suggestion", "text"),
]


def trigram_index(name, table, column):
    # UPPER(): what Django's icontains compares, so the planner can match the index.
    return (
        f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
        f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
    )


def drop_sqlite_shares(apps, schema_editor):
    # SQLite adds the column by rebuilding ledger_item, which it refuses while a trigger on
    # another table (the shares' copy) names the table.
    from ledger import triggers

    if schema_editor.connection.vendor == "sqlite":
        triggers.uninstall(schema_editor.connection, "shares")


def install_shares(apps, schema_editor):
    from ledger import triggers

    triggers.install(schema_editor.connection, "shares")


def install_and_fill(apps, schema_editor):
    from ledger import triggers

    connection = schema_editor.connection
    triggers.install(connection, "shares")
    triggers.install(connection, "search")
    with connection.cursor() as cursor:
        # The item's trigger computes the text for every row.
        cursor.execute("UPDATE ledger_item SET search = search")
        if connection.vendor == "postgresql":
            cursor.execute(trigram_index("item_search_trgm", "ledger_item", "search"))
            for name, _table, _column in OLD_INDEXES:
                cursor.execute(f"DROP INDEX IF EXISTS {name}")


def uninstall(apps, schema_editor):
    from ledger import triggers

    connection = schema_editor.connection
    triggers.uninstall(connection, "search")
    # Removing the column rebuilds the table on SQLite (see drop_sqlite_shares).
    drop_sqlite_shares(apps, schema_editor)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX IF EXISTS item_search_trgm")
            for name, table, column in OLD_INDEXES:
                cursor.execute(trigram_index(name, table, column))


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0010_lead_round_number_index"),
    ]

    operations = [
        migrations.RunPython(drop_sqlite_shares, install_shares, elidable=False),
        migrations.AddField(
            model_name="item",
            name="search",
            field=models.TextField(
                blank=True, default="", editable=False, verbose_name="search text"
            ),
        ),
        migrations.RunPython(install_and_fill, uninstall, elidable=False),
    ]
