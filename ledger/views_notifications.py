"""The in-app notifications list and the POSTs that mark notifications read."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from . import notifications
from .inputs import parse_id
from .models import Item, Notification

PAGE_SIZE = 50


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    """The user's notifications, newest first, 50 a page.

    Paged by keyset, not by page number: "older than this one" reads the next 51 rows from
    the (recipient, created_at, id) index, with no COUNT over a history that only grows.
    """
    rows = Notification.objects.filter(recipient=request.user)
    before = request.GET.get("before", "")
    if (older_than := parse_id(before)) is not None:
        cursor = rows.filter(pk=older_than).values("created_at", "pk").first()
        if cursor is not None:
            rows = rows.filter(
                Q(created_at__lt=cursor["created_at"])
                | Q(created_at=cursor["created_at"], pk__lt=cursor["pk"])
            )
    # A join, not a prefetch through Item.objects: a withdrawn item's notices still show it.
    page = list(
        rows.select_related("item", "event__actor")
        .defer("item__search")
        .order_by("-created_at", "-pk")[: PAGE_SIZE + 1]
    )
    older = page[PAGE_SIZE - 1].pk if len(page) > PAGE_SIZE else None
    page = page[:PAGE_SIZE]
    _describe(page, request.user)
    return render(
        request,
        "ledger/notifications.html",
        {"notifications": page, "older": older, "paged": bool(before)},
    )


def _describe(page: list[Notification], user) -> None:
    """What each notice says to this reader, and whether its item still opens for them (an
    item reassigned away from their department no longer does): one query for the page."""
    visible = set(
        Item.all_objects.visible_to(user)
        .filter(pk__in={n.item_id for n in page})
        .values_list("pk", flat=True)
    )
    department = getattr(user, "department_id", None)
    for n in page:
        data = n.event.data if n.event else {}
        heard = notifications.audience(n.kind, data, department)
        n.headline = notifications.headline(n.kind, data, heard)
        n.note_label = notifications.note_label(n.kind, data)
        n.changes = notifications.changes(n.kind, data)
        n.visible = n.item_id in visible


@login_required
@require_POST
def notification_read(request: HttpRequest) -> HttpResponse:
    """Mark one notification read (``id``), or all the user's unread ones."""
    now = timezone.now()
    mine = Notification.objects.filter(recipient=request.user)
    one = request.POST.get("id", "")
    if one:
        # Another user's notification is not found, like an item outside one's reach.
        if (pk := parse_id(one)) is None:
            raise Http404
        notification = get_object_or_404(mine, pk=pk)
        if notification.read_at is None:
            mine.filter(pk=notification.pk, read_at__isnull=True).update(read_at=now)
    else:
        mine.filter(read_at__isnull=True).update(read_at=now)
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(back)
    return redirect("ledger:notifications")
