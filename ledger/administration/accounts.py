"""Accounts: created, reset, unlocked and (de)activated by an administrator.

Each change that gives out a password returns it once, as a one-time password the person
must replace at their next sign-in; it is never stored in the clear.
"""

from __future__ import annotations

from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from ledger.models import User

from .passwords import one_time_password


def create_account(**fields) -> tuple[User, str]:
    """A new account with a one-time password: (the user, the password to hand out)."""
    password = one_time_password()
    user = User(**fields, must_change_password=True)
    user.set_password(password)
    user.full_clean()
    user.save()
    return user, password


def reset_password(user: User) -> str:
    """Replace the user's password by a one-time one; their other sessions end with it
    (the session hash follows the password), and a lockout on the name is lifted."""
    password = one_time_password()
    with transaction.atomic():
        user.set_password(password)
        user.must_change_password = True
        user.save(update_fields=["password", "must_change_password"])
        unlock(user)
    return password


def unlock(user: User) -> int:
    """Forget the failed sign-ins on the user's name (django-axes' reset): how many."""
    return axes_reset(username=user.username)


def locked_usernames(usernames) -> set[str]:
    """Which of these names are locked out now: as many recent failures as the limit."""
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    return set(
        AccessAttempt.objects.filter(
            username__in=list(usernames),
            failures_since_start__gte=settings.AXES_FAILURE_LIMIT,
            attempt_time__gte=since,
        ).values_list("username", flat=True)
    )


def in_use(obj: models.Model) -> bool:
    """Whether any row refers to ``obj`` (a department, a leader): then it is kept for the
    history that names it, and can only be deactivated. Every reverse relation is asked,
    so one added later is asked too."""
    for relation in obj._meta.related_objects:
        model = relation.related_model
        if relation.many_to_many:
            if getattr(obj, relation.get_accessor_name()).exists():
                return True
        elif model._default_manager.filter(**{relation.field.name: obj}).exists():
            return True
    return False
