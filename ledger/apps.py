from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def ensure_share_triggers(sender, using, **kwargs) -> None:
    """Create the co-department triggers again if a migration dropped them (SQLite drops a
    table's triggers when it rebuilds the table)."""
    from django.db import connections

    from . import triggers

    connection = connections[using]
    with connection.cursor() as cursor:
        columns = {
            column.name
            for column in connection.introspection.get_table_description(
                cursor, "ledger_item_co_departments"
            )
        }
    if "state" in columns and not triggers.installed(connection):
        triggers.install(connection)


class LedgerConfig(AppConfig):
    name = "ledger"
    verbose_name = _("Rectification ledger")

    def ready(self) -> None:
        # Registers the publication's system checks (fonts and HarfBuzz for PDFs).
        from .publication import checks  # noqa: F401

        post_migrate.connect(ensure_share_triggers, sender=self)
