from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LedgerConfig(AppConfig):
    name = "ledger"
    verbose_name = _("Rectification ledger")

    def ready(self) -> None:
        # Registers the publication's system checks (fonts and HarfBuzz for PDFs).
        from .publication import checks  # noqa: F401
