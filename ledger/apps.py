from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate
from django.utils.translation import gettext_lazy as _


def drop_sqlite_triggers(sender, using, **kwargs) -> None:
    """On SQLite, drop the triggers before migrations run: a migration that rebuilds a
    table (as SQLite alters one) fails while a trigger on another table names it.
    ``ensure_triggers`` creates them again afterwards."""
    from django.db import connections

    from . import triggers

    connection = connections[using]
    if connection.vendor == "sqlite":
        for group in triggers.GROUPS:
            triggers.uninstall(connection, group)


def ensure_triggers(sender, using, **kwargs) -> None:
    """Create the triggers again if a migration dropped them (SQLite drops a table's
    triggers when it rebuilds the table). Each group once its migration has made the
    columns it writes."""
    from django.db import connections

    from . import triggers

    connection = connections[using]
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        if "ledger_item" not in tables:
            return
        shares = {
            c.name
            for c in connection.introspection.get_table_description(
                cursor, "ledger_item_co_departments"
            )
        }
        items = {
            c.name for c in connection.introspection.get_table_description(cursor, "ledger_item")
        }
    ready_groups = (
        ("shares", "state" in shares),
        ("search", "search" in items),
        ("audit", "ledger_auditentry" in tables),
    )
    for group, ready in ready_groups:
        if ready and not triggers.installed(connection, group):
            triggers.install(connection, group)


class LedgerConfig(AppConfig):
    name = "ledger"
    verbose_name = _("Rectification ledger")

    def ready(self) -> None:
        # `in` on integer columns leaves out what they cannot hold (ledger/lookups.py).
        from . import lookups  # noqa: F401

        # Registers the publication's system checks (fonts and HarfBuzz for PDFs).
        from .publication import checks  # noqa: F401

        pre_migrate.connect(drop_sqlite_triggers, sender=self)
        post_migrate.connect(ensure_triggers, sender=self)

        # The audit trail's sources (ledger/audit.py).
        from axes.signals import user_locked_out
        from django.contrib.auth import signals as auth
        from django.db.models.signals import post_save

        from . import audit
        from .models import Event

        post_save.connect(audit.on_event_saved, sender=Event, dispatch_uid="audit-events")
        auth.user_logged_in.connect(audit.on_signed_in, dispatch_uid="audit-sign-in")
        from .middleware import note_sign_in

        auth.user_logged_in.connect(note_sign_in, dispatch_uid="session-limits")
        auth.user_login_failed.connect(audit.on_sign_in_failed, dispatch_uid="audit-sign-in-failed")
        auth.user_logged_out.connect(audit.on_signed_out, dispatch_uid="audit-sign-out")
        user_locked_out.connect(audit.on_locked_out, dispatch_uid="audit-locked-out")

        # A change to the working-day calendar is seen at once by this process.
        from django.db.models.signals import post_delete

        from .supervision import workdays
        from .supervision.models import CalendarDay, ScheduleYear

        for model in (CalendarDay, ScheduleYear):
            for signal in (post_save, post_delete):
                signal.connect(workdays.on_calendar_changed, sender=model, weak=False)
