from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .models import Notification


def unread_notifications(user) -> int:
    if not user.is_authenticated:
        return 0
    # One COUNT on the notification_unread index (recipient, read_at, …).
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def site(request: HttpRequest) -> dict:
    return {
        "SITE_NAME": settings.SITE_NAME,
        "LOCKOUT_MINUTES": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        # Lazy: counted only when a template shows it, at most once a response.
        "UNREAD_NOTIFICATIONS": SimpleLazyObject(lambda: unread_notifications(request.user)),
    }
