"""Who hears of what: in-app notifications and emails for transitions, and reminder digests.

Two entry points:

- ``notify(event)`` is called by ``ledger.workflow`` inside a transition's transaction, right
  after its ``Event`` is written. The ``Notification`` rows go into that same transaction
  (a transition rolled back leaves none), and the emails wait for its commit
  (``transaction.on_commit``): nobody is mailed about a change that never happened. The
  departments' group robots are told likewise (``supervision.robots``).
- ``send_reminders(today=…, days=…)`` is what ``manage.py send_reminders`` runs: one digest a
  day per department of its open items that are overdue or due soon.

Email is a courtesy on top of the in-app list, never a condition of it: a mail server that
is down is logged and the work goes on.
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core import mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .models import Department, Event, Item, Notification, ReminderDigest, User
from .supervision import robots
from .supervision.workdays import calendar

logger = logging.getLogger(__name__)

NOTIFIED = frozenset(Notification.Kind.values)
# The escalation ladder's steps (supervision.ladder): the lead department and the item's
# leader, who answers for it, hear of each.
LADDER_KINDS = frozenset(
    {Event.Kind.REMIND, Event.Kind.URGE, Event.Kind.ESCALATE, Event.Kind.CIRCULATE}
)


def item_url(item_id: int) -> str:
    """The absolute address of an item's page, for a reader outside any request."""
    return settings.SITE_URL + reverse("ledger:item", args=[item_id])


def _render(template: str, context: dict[str, Any]) -> str:
    # Emails speak the office's language, whatever language the actor's page was in.
    with translation.override(settings.LANGUAGE_CODE):
        return render_to_string(template, context)


def _subject(template: str, context: dict[str, Any]) -> str:
    # A header must be one line, whatever the template's line breaks.
    return " ".join(_render(template, context).split())


# --- Transitions -------------------------------------------------------------------------------


def recipients(event: Event) -> list[tuple[int, str]]:
    """(id, email) of the active users who must hear of this event, never the actor
    (``_recipients``)."""
    return [(pk, email) for pk, email, _department in _recipients(event)]


def _recipients(event: Event) -> list[tuple[int, str, int | None]]:
    """(id, email, department id) of the active users who must hear of this event, never
    the actor.

    Assignment reaches the lead and the co-responsible departments, since all of them must
    act; a return or an approval reaches the lead department, which asked for close-out,
    and so does a reopening, which hands the item back to it;
    an escalation, and every other step of the escalation ladder, reaches the lead
    department and the item's leader, who answers for it.
    A change of assignment reaches every department that answers for the item and those
    that no longer do; a withdrawal, every department that answered for it; a decision on
    an extension, the lead department and whoever asked. One query, whatever the number
    of departments.
    """
    item = event.item
    departments = Q(department_id=item.lead_department_id)
    if event.kind in (Event.Kind.ASSIGN, Event.Kind.REASSIGN, Event.Kind.WITHDRAW):
        shares = Item.co_departments.through.objects.filter(item_id=item.pk)
        departments |= Q(department_id__in=shares.values("department_id"))
    if event.kind == Event.Kind.REASSIGN:
        departments |= Q(department_id__in=event.data.get("lost", []))
    who = Q(role=User.Role.OFFICIAL) & departments
    if event.kind in LADDER_KINDS and item.leader_id is not None:
        who |= Q(role=User.Role.LEADER, leader_id=item.leader_id)
    if event.kind in (Event.Kind.EXTENSION_GRANT, Event.Kind.EXTENSION_REFUSE):
        who |= Q(pk=event.data.get("requested_by"))
    users = User.objects.filter(who, is_active=True).order_by("pk")
    if event.actor_id is not None:
        users = users.exclude(pk=event.actor_id)
    return list(users.values_list("pk", "email", "department_id"))


def notify(event: Event) -> None:
    """Notify those concerned by ``event``; call it inside the transition's transaction."""
    if event.kind not in NOTIFIED:
        return
    # A department's group robot hears of it whether or not anyone there has an account.
    robots.enqueue(event)
    users = _recipients(event)
    if not users:
        return
    Notification.objects.bulk_create(
        Notification(
            recipient_id=user_id,
            item_id=event.item_id,
            event=event,
            kind=event.kind,
            created_at=event.at,
        )
        for user_id, _email, _department in users
    )
    # A department that lost the item reads another message than one that keeps it.
    groups: dict[str, set[str]] = {}
    for _user_id, email, department in users:
        if email:
            groups.setdefault(audience(event.kind, event.data, department), set()).add(email)
    if groups:
        # Plain values, taken now: by the time the transaction commits, the objects may
        # have moved on, and the callback must not query a database it cannot trust.
        context = _event_context(event)
        addresses = {name: sorted(emails) for name, emails in groups.items()}
        transaction.on_commit(lambda: _send_event_mail(context, addresses))


# --- What a notice says ---------------------------------------------------------------------------

# Who a change of assignment is told to, beside those who keep answering for the item.
LOST = "lost"
GAINED = "gained"


def audience(kind: str, data: dict | None, department_id: int | None) -> str:
    """``LOST`` or ``GAINED`` for a department the change of assignment took the item from
    or gave it to; "" for anyone else."""
    if kind != Event.Kind.REASSIGN or department_id is None:
        return ""
    data = data or {}
    if department_id in data.get("lost", []):
        return LOST
    if department_id in data.get("gained", []):
        return GAINED
    return ""


def headline(kind: str, data: dict | None, audience: str = "") -> str:
    """What happened, in one sentence to the person told, in the active language: the first
    line of the email and of the notice in the list. ``data`` is the event's."""
    data = data or {}
    Kind = Event.Kind
    if kind == Kind.ASSIGN:
        return _("An item has been assigned to your department for rectification.")
    if kind == Kind.RETURN:
        return _("The request to close out this item was returned: its rectification goes on.")
    if kind == Kind.APPROVE:
        return _("The close-out of this item was approved.")
    if kind == Kind.ESCALATE:
        if data.get("new_deadline"):
            return _(
                "This item has been escalated (挂牌督办): complete its rectification by the "
                "new deadline, %(deadline)s."
            ) % {"deadline": data["new_deadline"]}
        return _("This item has been escalated: please speed up its rectification.")
    if kind == Kind.REMIND:
        return _("The deadline of this item is near: %(deadline)s.") % {
            "deadline": data.get("deadline", "")
        }
    if kind == Kind.URGE:
        return _("This item is past its deadline: please speed up its rectification.")
    if kind == Kind.CIRCULATE:
        return _(
            "This item is circulated in a bulletin (通报): it was escalated and is still not "
            "done by the deadline the escalation gave."
        )
    if kind == Kind.REASSIGN:
        if audience == LOST:
            return _("This item is no longer your department's: its assignment was changed.")
        if audience == GAINED:
            return _("The assignment of this item was changed: your department now answers for it.")
        return _("The assignment of this item was changed.")
    if kind == Kind.WITHDRAW:
        into = data.get("merged_into")
        if into:
            return _("This item was merged into item %(number)s and withdrawn.") % {
                "number": into["number"]
            }
        return _("This item was withdrawn from the ledger: nothing more is asked of it.")
    if kind == Kind.EXTENSION_GRANT:
        granted, asked = data.get("new_deadline"), data.get("asked_deadline")
        if granted and asked and asked != granted:
            return _("The extension was granted to %(granted)s, not to %(asked)s as asked.") % {
                "granted": granted,
                "asked": asked,
            }
        if granted:
            return _("The extension was granted: the new deadline is %(granted)s.") % {
                "granted": granted
            }
        return _("The extension was granted.")
    if kind == Kind.REOPEN:
        return _(
            "This item was reopened: its close-out is withdrawn and its rectification goes on."
        )
    if kind == Kind.EXTENSION_REFUSE:
        asked = data.get("new_deadline")
        if asked:
            return _(
                "The request to extend the deadline to %(asked)s was refused: the deadline "
                "stays as it was."
            ) % {"asked": asked}
        return _("The request for an extension was refused: the deadline stays as it was.")
    return ""


def note_label(kind: str, data: dict | None) -> str:
    """What the event's note is to the person told: a reason, instructions, or a note."""
    Kind = Event.Kind
    if kind == Kind.REASSIGN:
        return _("Reason for the change")
    if kind in (Kind.RETURN, Kind.EXTENSION_REFUSE, Kind.REOPEN) or (
        kind == Kind.WITHDRAW and not (data or {}).get("merged_into")
    ):
        return _("Reason")
    if kind in LADDER_KINDS:
        return _("Instructions")
    return _("Note")


def changes(kind: str, data: dict | None) -> list:
    """The fields a change of assignment or a reopening changed, before and after
    (``ledger.history``)."""
    if kind not in (Event.Kind.REASSIGN, Event.Kind.REOPEN):
        return []
    from .history import lines  # history reads the workflow, which imports this module

    return [line for line in lines(Event(kind=kind, data=data or {})) if line.changed]


def _event_context(event: Event) -> dict[str, Any]:
    item = event.item
    return {
        "kind": event.kind,
        "kind_label": Notification.Kind(event.kind).label,
        "data": dict(event.data or {}),
        "number": item.number,
        "title": item.title,
        "deadline": item.deadline,
        "lead_department": item.lead_department.name if item.lead_department else "",
        "actor": event.actor.display_name() if event.actor else "",
        "note": event.note,
        "at": timezone.localtime(event.at),
        "url": item_url(item.pk),
        "site_name": settings.SITE_NAME,
    }


def _mail_context(context: dict[str, Any], audience: str) -> dict[str, Any]:
    """The words of one audience's message, in the office's language."""
    kind, data = context["kind"], context["data"]
    with translation.override(settings.LANGUAGE_CODE):
        return context | {
            "audience": audience,
            "headline": headline(kind, data, audience),
            "note_label": note_label(kind, data),
            "changes": [
                {"label": str(c.label), "before": c.before, "after": c.after}
                for c in changes(kind, data)
            ],
            # The page of an item taken from one's department is not found.
            "url": "" if audience == LOST else context["url"],
        }


def _send_event_mail(context: dict[str, Any], addresses: dict[str, list[str]]) -> None:
    """Runs after the commit: a failure here must not reach the user whose action succeeded.

    ``addresses``: by audience (``audience``), each told in its own words."""
    try:
        messages = []
        for name, emails in addresses.items():
            words = _mail_context(context, name)
            subject = _subject("ledger/email/notification_subject.txt", words)
            body = _render("ledger/email/notification.txt", words).strip() + "\n"
            # One message per person: officials of different departments do not need each
            # other's addresses.
            messages += [mail.EmailMessage(subject, body, to=[address]) for address in emails]
        with mail.get_connection() as connection:
            connection.send_messages(messages)
    except Exception:
        logger.exception(
            "Could not email the %s notification of item %s to %d recipient(s)",
            context["kind"],
            context["number"],
            sum(len(emails) for emails in addresses.values()),
        )


# --- Reminder digests --------------------------------------------------------------------------


@dataclasses.dataclass
class ReminderSummary:
    """What a run of ``send_reminders`` did, department by department."""

    day: datetime.date
    days: int
    dry_run: bool = False
    sent: list[tuple[Department, int]] = dataclasses.field(default_factory=list)
    already_sent: list[Department] = dataclasses.field(default_factory=list)
    no_address: list[Department] = dataclasses.field(default_factory=list)
    failed: list[Department] = dataclasses.field(default_factory=list)

    @property
    def items(self) -> int:
        return sum(n for _department, n in self.sent)


def due_items(today: datetime.date, days: int) -> list[Item]:
    """Open items overdue or due within ``days`` working days, of active lead departments,
    in one query.

    Ordered by department, then by deadline: the overdue ones come first in each department,
    the most overdue at the top.
    """
    horizon = calendar().add(today, days)
    return list(
        Item.objects.open()
        .filter(deadline__lte=horizon, lead_department__is_active=True)
        .select_related("lead_department")
        .order_by("lead_department_id", "deadline", "round_id", "number")
    )


def _addresses(department: Department, officials: Iterable[str]) -> list[str]:
    # The department's own mailbox first, then each official's; an address listed twice
    # (an official who gave the department's) would get the digest twice.
    addresses: list[str] = []
    seen: set[str] = set()
    for address in [department.email, *officials]:
        key = address.strip().lower()
        if key and key not in seen:
            seen.add(key)
            addresses.append(address.strip())
    return addresses


def _digest_message(
    department: Department, items: list[Item], today: datetime.date, days: int, to: list[str]
) -> mail.EmailMessage:
    overdue = [item for item in items if item.deadline < today]
    due = [item for item in items if item.deadline >= today]
    context = {
        "department": department.name,
        "today": today,
        "days": days,
        "overdue": [_digest_row(item, today) for item in overdue],
        "due": [_digest_row(item, today) for item in due],
        "overdue_count": len(overdue),
        "due_count": len(due),
        "site_name": settings.SITE_NAME,
        "ledger_url": settings.SITE_URL + reverse("ledger:items"),
    }
    subject = _subject("ledger/email/digest_subject.txt", context)
    body = _render("ledger/email/digest.txt", context).strip() + "\n"
    return mail.EmailMessage(subject, body, to=to)


def _digest_row(item: Item, today: datetime.date) -> dict[str, Any]:
    return {
        "number": item.number,
        "title": item.title,
        "deadline": item.deadline,
        "days_overdue": calendar().between(item.deadline, today),
        "days_left": calendar().between(today, item.deadline),
        "url": item_url(item.pk),
    }


def _record_and_send(
    department: Department, items: list[Item], today: datetime.date, days: int, to: list[str]
) -> bool:
    """Record the digest, then send it; False if another run recorded it first.

    Both in one transaction: if sending fails, the record is rolled back and the next run
    tries again. Meanwhile the uncommitted row holds the unique key, so a run started at
    the same moment waits on it and then finds the digest sent, instead of sending twice.
    """
    with transaction.atomic():
        try:
            with transaction.atomic():
                ReminderDigest.objects.create(department=department, day=today, items=len(items))
        except IntegrityError:
            return False
        _digest_message(department, items, today, days, to).send()
    return True


def send_reminders(
    *, today: datetime.date | None = None, days: int | None = None, dry_run: bool = False
) -> ReminderSummary:
    """Send each department one digest of its overdue and soon-due items, once a day.

    The number of queries grows with the departments, never with the items: the items of
    all departments come in one query, their officials' addresses in another.
    """
    today = today or timezone.localdate()
    days = settings.DUE_SOON_DAYS if days is None else days
    summary = ReminderSummary(day=today, days=days, dry_run=dry_run)
    items = due_items(today, days)
    department_ids = sorted({item.lead_department_id for item in items})
    if not department_ids:
        return summary
    officials: dict[int, list[str]] = {}
    for department_id, email in (
        User.objects.filter(
            role=User.Role.OFFICIAL, is_active=True, department_id__in=department_ids
        )
        .exclude(email="")
        .order_by("department_id", "pk")
        .values_list("department_id", "email")
    ):
        officials.setdefault(department_id, []).append(email)
    # Read first to skip quietly what is known to be done; the unique constraint still
    # decides a race with a run that is sending right now.
    done = set(
        ReminderDigest.objects.filter(day=today, department_id__in=department_ids).values_list(
            "department_id", flat=True
        )
    )
    for _department_id, group in itertools.groupby(items, key=lambda item: item.lead_department_id):
        listed = list(group)
        department = listed[0].lead_department
        if department.pk in done:
            summary.already_sent.append(department)
            continue
        to = _addresses(department, officials.get(department.pk, []))
        if not to:
            summary.no_address.append(department)
            continue
        if dry_run:
            summary.sent.append((department, len(listed)))
            continue
        try:
            sent = _record_and_send(department, listed, today, days, to)
        except Exception:
            logger.exception("Could not send the reminder digest of %s for %s", department, today)
            summary.failed.append(department)
            continue
        if sent:
            summary.sent.append((department, len(listed)))
        else:
            summary.already_sent.append(department)
    return summary
