"""``/health/``: what a monitor polls, without signing in (deploy/README.md).

Three checks, each ``ok`` or ``fail`` (the worker's is ``unknown`` while the database does
not answer): the database answers a trivial query; the disk under MEDIA_ROOT has at least
HEALTH_MIN_FREE_MB free (with MEDIA_STORAGE=s3 instead: the bucket answers, as
``storage``); and no task has waited longer than HEALTH_WORKER_MAX_AGE seconds while no
worker has beaten that recently. A worker is only needed when work waits, so an
idle site with its worker stopped is healthy. The answer is 200 when every check is ok,
503 otherwise, and names no path, host or error text: only counts, ages and sizes.
"""

from __future__ import annotations

import datetime
import logging
import shutil
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection
from django.db.models import Q
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult, get_date_max

logger = logging.getLogger(__name__)

OK, FAIL, UNKNOWN = "ok", "fail", "unknown"


def _heartbeat_model():
    """The model ``manage.py run_worker`` writes its heartbeat to, or None before it exists."""
    try:
        from ledger.models import WorkerHeartbeat
    except ImportError:
        return None
    return WorkerHeartbeat


def worker_heartbeat_age() -> float | None:
    """Seconds since the most recent heartbeat of any worker (``manage.py run_worker`` writes
    a ``WorkerHeartbeat`` row every few seconds), or None when no worker has ever beaten."""
    model = _heartbeat_model()
    if model is None:
        return None
    newest = model.objects.order_by("-beat_at").values_list("beat_at", flat=True).first()
    if newest is None:
        return None
    return max(0.0, (timezone.now() - newest).total_seconds())


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        # The reason goes to the log only: it may name the server, user or database.
        logger.exception("Health check: the database did not answer")
        return {"status": FAIL, "detail": _("The database did not answer.")}
    return {"status": OK}


def _existing(path: Path) -> Path:
    """The folder itself or its nearest existing parent: on a new site MEDIA_ROOT may not
    exist until the first upload, and its disk is the parent's."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk() -> dict:
    minimum = settings.HEALTH_MIN_FREE_MB
    try:
        free = shutil.disk_usage(_existing(Path(settings.MEDIA_ROOT))).free // (1024 * 1024)
    except OSError:
        logger.exception("Health check: the free space of MEDIA_ROOT could not be read")
        return {"status": FAIL, "min_free_mb": minimum, "detail": _("Free space is unknown.")}
    report = {"status": OK if free >= minimum else FAIL, "free_mb": free, "min_free_mb": minimum}
    if free < minimum:
        report["detail"] = _("Less free space for stored files than the minimum.")
    return report


# A folder never written to: listing it is about the cheapest request a bucket answers, and
# unlike asking for one name (a 404 either way) it fails when the bucket is not there.
STORAGE_PROBE = "health"


def check_storage() -> dict:
    """With object storage there is no disk of ours to fill: what can fail is the bucket
    not answering, not existing, or refusing our credentials."""
    try:
        default_storage.listdir(STORAGE_PROBE)
    except FileNotFoundError:
        pass
    except Exception:
        logger.exception("Health check: the file storage did not answer")
        return {"status": FAIL, "detail": _("The file storage did not answer.")}
    return {"status": OK}


def check_worker() -> dict:
    max_age = settings.HEALTH_WORKER_MAX_AGE
    cutoff = timezone.now() - datetime.timedelta(seconds=max_age)
    try:
        # Ready for longer than max_age: enqueued before the cutoff and, when scheduled for
        # later, due since before it (django-tasks-db's "no date" is its far-future maximum).
        waiting = DBTaskResult.objects.filter(
            Q(run_after=get_date_max()) | Q(run_after__lte=cutoff),
            status=TaskResultStatus.READY,
            enqueued_at__lte=cutoff,
        ).count()
        age = worker_heartbeat_age()
    except DatabaseError:
        logger.exception("Health check: the background tasks could not be read")
        return {"status": FAIL, "detail": _("The background tasks could not be read.")}
    alive = age is not None and age <= max_age
    report = {
        "status": OK if alive or not waiting else FAIL,
        "waiting_tasks": waiting,
        "heartbeat_age_seconds": None if age is None else round(age),
        "max_age_seconds": max_age,
    }
    if report["status"] == FAIL:
        report["detail"] = _("Tasks are waiting and no background worker has reported lately.")
    return report


@never_cache
@require_safe
def health(request: HttpRequest) -> JsonResponse:
    database = check_database()
    if database["status"] == OK:
        worker = check_worker()
    else:
        worker = {"status": UNKNOWN, "detail": _("Not checked: the database did not answer.")}
    # Free space only means something for files on this disk; a bucket has none to run out
    # of, and is checked for answering instead.
    if settings.MEDIA_STORAGE == "local":
        files = {"disk": check_disk()}
    else:
        files = {"storage": check_storage()}
    checks = {"database": database, **files, "worker": worker}
    healthy = all(check["status"] == OK for check in checks.values())
    if not healthy:
        failing = [name for name, check in checks.items() if check["status"] != OK]
        logger.warning("Health check failed: %s", ", ".join(failing))
    return JsonResponse(
        {"status": OK if healthy else FAIL, "checks": checks},
        status=200 if healthy else 503,
        json_dumps_params={"ensure_ascii": False},
    )
