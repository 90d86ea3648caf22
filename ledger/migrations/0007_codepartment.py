"""Co-responsible departments become an explicit model, ``CoDepartment``, on the same table,
with a copy of the item's state, deadline and lead department kept by triggers."""

import django.db.models.deletion
from django.db import migrations, models


def fill_and_install(apps, schema_editor):
    from ledger import triggers

    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE ledger_item_co_departments SET
                state = (SELECT state FROM ledger_item WHERE id = item_id),
                deadline = (SELECT deadline FROM ledger_item WHERE id = item_id),
                lead_department_id = (
                    SELECT lead_department_id FROM ledger_item WHERE id = item_id
                )
            """
        )
    triggers.install(connection, "shares")


def uninstall(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER IF EXISTS codepartment_copy_item")
            cursor.execute("DROP TRIGGER IF EXISTS item_update_shares")
        else:
            cursor.execute(
                "DROP TRIGGER IF EXISTS codepartment_copy_item ON ledger_item_co_departments"
            )
            cursor.execute("DROP TRIGGER IF EXISTS item_update_shares ON ledger_item")
            cursor.execute("DROP FUNCTION IF EXISTS ledger_codepartment_copy_item()")
            cursor.execute("DROP FUNCTION IF EXISTS ledger_item_update_shares()")


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0006_job"),
    ]

    operations = [
        # The table exists already (the ManyToManyField made it): only Django's picture of it
        # changes.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="CoDepartment",
                    fields=[
                        (
                            "id",
                            models.AutoField(primary_key=True, serialize=False),
                        ),
                        (
                            "item",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="shares",
                                to="ledger.item",
                            ),
                        ),
                        (
                            "department",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="shares",
                                to="ledger.department",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "ledger_item_co_departments",
                        "unique_together": {("item", "department")},
                    },
                ),
                migrations.AlterField(
                    model_name="item",
                    name="co_departments",
                    field=models.ManyToManyField(
                        blank=True,
                        related_name="shared_items",
                        through="ledger.CoDepartment",
                        through_fields=("item", "department"),
                        to="ledger.department",
                        verbose_name="co-responsible departments",
                    ),
                ),
            ],
            database_operations=[],
        ),
        migrations.AddField(
            model_name="codepartment",
            name="state",
            field=models.CharField(
                choices=[
                    ("draft", "Awaiting assignment"),
                    ("assigned", "Assigned"),
                    ("in_progress", "In progress"),
                    ("requested", "Close-out requested"),
                    ("closed", "Closed out"),
                ],
                db_default="draft",
                max_length=20,
            ),
        ),
        migrations.AddField(
            model_name="codepartment",
            name="deadline",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="codepartment",
            name="lead_department",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="ledger.department",
            ),
        ),
        migrations.AlterModelOptions(
            name="codepartment",
            options={
                "verbose_name": "co-responsible department",
                "verbose_name_plural": "co-responsible departments",
            },
        ),
        migrations.AddIndex(
            model_name="codepartment",
            index=models.Index(
                fields=["department", "state", "deadline"], name="codepartment_counts"
            ),
        ),
        migrations.RunPython(fill_and_install, uninstall),
    ]
