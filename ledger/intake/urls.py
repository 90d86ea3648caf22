"""Intake (导入与归纳): importing feedback and ledgers, consolidation, export."""

from .urls_consolidation import urlpatterns as consolidation
from .urls_files import urlpatterns as files

app_name = "intake"

urlpatterns = [*files, *consolidation]
