"""The audit trail (审计日志, docs/audit.md): one append-only table, ``AuditEntry``, that
the auditor reads and nobody changes.

``record`` writes a line; the views that change accounts or notices, lift a mask, export
or send evidence call it. Sign-ins, failures, sign-outs and lockouts come from Django's and
django-axes' signals, and every item event (the items' own history, ``Event``) is copied as
it is written, so no workflow function has to remember the trail. The lines are written in
the site's language (Chinese) whatever the actor's page language, as a record is.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.utils import translation

from .models import AuditEntry, Event, User

Kind = AuditEntry.Kind


def address(request) -> str | None:
    """The client's address as the sign-in lockout sees it, when it is an address at all."""
    from .auth import client_ip

    value = client_ip(request) if request is not None else None
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:
        return None


def _text(summary, params: dict[str, Any] | None) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        text = str(summary)
        return text % {k: str(v) for k, v in params.items()} if params else text


def _actor(actor: User | None) -> dict[str, Any]:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return {"actor_id": None, "username": "", "actor_name": ""}
    return {
        "actor_id": actor.pk,
        "username": actor.username[:150],
        "actor_name": actor.get_full_name()[:150],
    }


def record(
    kind: str,
    summary,
    params: dict[str, Any] | None = None,
    *,
    request=None,
    actor: User | None = None,
    username: str = "",
    target: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Write one line: ``summary`` (a lazy translatable text, ``%(name)s`` filled from
    ``params``) done by ``actor`` (by default the request's user) on ``target``."""
    who = _actor(actor if actor is not None else getattr(request, "user", None))
    if not who["username"] and username:
        who["username"] = username[:150]
    return AuditEntry.objects.create(
        kind=kind,
        summary=_text(summary, params)[:500],
        target=target[:200],
        detail=detail or {},
        ip=address(request),
        **who,
    )


def _shown(value) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if hasattr(value, "all") and callable(value.all):  # a queryset from a multiple choice
        return "、".join(str(v) for v in value.all())
    return str(value)


def form_changes(form) -> dict[str, list[str]]:
    """What a saved form changed, by field label: [before, after], as they read."""
    out = {}
    with translation.override(settings.LANGUAGE_CODE):
        for name in form.changed_data:
            field = form.fields[name]
            before = form.initial.get(name)
            if hasattr(field, "queryset") and before not in (None, ""):
                if isinstance(before, (list, tuple)):
                    before = "、".join(str(o) for o in field.queryset.filter(pk__in=before))
                elif not hasattr(before, "pk"):
                    before = field.queryset.filter(pk=before).first()
            choices = dict(getattr(field, "choices", []) or [])
            after = form.cleaned_data.get(name)
            out[str(field.label or name)] = [
                _shown(choices.get(before, before)),
                _shown(choices.get(after, after) if not hasattr(after, "pk") else after),
            ]
    return out


def account_target(user: User) -> str:
    return f"{user.username} {user.get_full_name()}".strip()[:200]


def item_target(item) -> str:
    return f"{item.number} {item.title}"[:200]


def copy_events(events: Iterable[Event]) -> None:
    """One line for each item event: what happened to which item, and the event's own
    details (the fields changed, before and after)."""
    lines = []
    with translation.override(settings.LANGUAGE_CODE):
        for event in events:
            item = event.item
            lines.append(
                AuditEntry(
                    kind=Kind.ITEM,
                    summary=f"{event.get_kind_display()}：{item.number}"[:500],
                    target=item_target(item),
                    detail={
                        "item": item.pk,
                        "event": event.pk,
                        "from": event.from_state,
                        "to": event.to_state,
                        # The event's own time: an import may date it in the past; the line
                        # is dated when it was written.
                        "event_at": event.at.isoformat(),
                        **({"note": event.note} if event.note else {}),
                        **event.data,
                    },
                    **_actor(event.actor),
                )
            )
    AuditEntry.objects.bulk_create(lines, batch_size=1000)


# Signal receivers, connected in LedgerConfig.ready.


def on_event_saved(sender, instance: Event, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw:
        copy_events([instance])


def on_signed_in(sender, request, user, **kwargs) -> None:
    from django.utils.translation import gettext_lazy as _

    record(Kind.SIGN_IN, _("Signed in"), request=request, actor=user)


def on_sign_in_failed(sender, credentials, request=None, **kwargs) -> None:
    from django.utils.translation import gettext_lazy as _

    typed = str(credentials.get("username", ""))
    record(
        Kind.SIGN_IN_FAILED,
        _("Sign-in failed for the user name %(username)s"),
        {"username": typed[:150]},
        request=request,
        actor=None,
        username=typed,
    )


def on_signed_out(sender, request, user, **kwargs) -> None:
    from django.utils.translation import gettext_lazy as _

    if user is not None:
        record(Kind.SIGN_OUT, _("Signed out"), request=request, actor=user)


def on_locked_out(sender, request, username, ip_address, **kwargs) -> None:
    from django.utils.translation import gettext_lazy as _

    record(
        Kind.LOCKED_OUT,
        _("Locked out after repeated failed sign-ins: %(username)s"),
        {"username": str(username or "")[:150]},
        request=request,
        actor=None,
        username=str(username or ""),
    )
