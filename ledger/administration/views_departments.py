"""The departments' pages of system administration: each department's group robot
(企业微信/钉钉), its deliveries and failures (docs/supervision.md, "Group robots").

Names, e-mails and order are still edited in Django's admin; these pages add what the admin
cannot show safely: the robot's signing secret is never drawn back in full.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Max, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from ledger import audit
from ledger.access import administrator_required
from ledger.models import Department
from ledger.supervision import robots
from ledger.supervision.models import RobotMessage

from .forms import RobotForm

PAGE_SIZE = 50
FAILED_PAGE_SIZE = 20
State = RobotMessage.State


@administrator_required
def department_list(request: HttpRequest) -> HttpResponse:
    departments = Department.objects.order_by("-is_active", "order", "name")
    page = Paginator(departments, PAGE_SIZE).get_page(request.GET.get("page"))
    # The counts of this page's departments in one query, the last sends in another.
    ids = [d.pk for d in page]
    counts = {
        (row["department_id"], row["state"]): row["n"]
        for row in RobotMessage.objects.filter(
            department_id__in=ids, state__in=[State.QUEUED, State.FAILED]
        )
        .values("department_id", "state")
        .annotate(n=Count("pk"))
        .order_by()
    }
    last_sent = dict(
        RobotMessage.objects.filter(department_id__in=ids, state=State.SENT)
        .values("department_id")
        .annotate(at=Max("sent_at"))
        .order_by()
        .values_list("department_id", "at")
    )
    for department in page:
        department.waiting = counts.get((department.pk, State.QUEUED), 0)
        department.failed = counts.get((department.pk, State.FAILED), 0)
        department.last_sent = last_sent.get(department.pk)
    with_robot = Department.objects.exclude(robot_kind="").exclude(robot_url="").count()
    return render(
        request,
        "administration/departments.html",
        {"page": page, "with_robot": with_robot},
    )


def _status(department: Department) -> dict:
    """The robot's last delivery and what waits or failed."""
    mine = RobotMessage.objects.filter(department=department)
    counts = mine.aggregate(
        waiting=Count("pk", filter=Q(state=State.QUEUED)),
        failed=Count("pk", filter=Q(state=State.FAILED)),
        last_sent=Max("sent_at", filter=Q(state=State.SENT)),
    )
    return counts


@administrator_required
def department_detail(request: HttpRequest, pk: int) -> HttpResponse:
    department = get_object_or_404(Department, pk=pk)
    form = RobotForm(request.POST or None, department=department)
    if request.method == "POST" and form.is_valid():
        changed = form.changes()
        if changed:
            data = form.cleaned_data
            with transaction.atomic():
                Department.objects.filter(pk=department.pk).update(
                    robot_kind=data["kind"], robot_url=data["url"], robot_secret=data["secret"]
                )
                audit.record(
                    audit.Kind.ACCOUNT,
                    gettext_lazy("Set the group robot of %(department)s: %(fields)s")
                    if data["kind"]
                    else gettext_lazy("Removed the group robot of %(department)s"),
                    {"department": department.name, "fields": "、".join(changed)},
                    request=request,
                    target=department.name,
                    detail={"department": department.pk, "changes": changed},
                )
            messages.success(
                request, _("The group robot of %(name)s is saved.") % {"name": department}
            )
        else:
            messages.info(request, _("Nothing was changed."))
        return redirect("manage:department", pk=department.pk)
    failed = Paginator(
        RobotMessage.objects.filter(department=department, state=State.FAILED).order_by(
            "-created_at", "-pk"
        ),
        FAILED_PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    for message in failed:
        message.readable = robots.readable(message.text)
    return render(
        request,
        "administration/department.html",
        {
            "department": department,
            "form": form,
            "has_robot": robots.has_robot(department),
            "status": _status(department),
            "failed": failed,
        },
        status=400 if form.errors else 200,
    )


@administrator_required
@require_POST
def department_robot_test(request: HttpRequest, pk: int) -> HttpResponse:
    department = get_object_or_404(Department, pk=pk)
    if not robots.has_robot(department):
        messages.error(request, _("Set the group robot first."))
    else:
        with transaction.atomic():
            robots.send_test(department)
        messages.success(
            request,
            _("A test message is on its way: this page shows whether the robot accepted it."),
        )
    return redirect("manage:department", pk=department.pk)


@administrator_required
@require_POST
def department_robot_retry(request: HttpRequest, pk: int) -> HttpResponse:
    department = get_object_or_404(Department, pk=pk)
    with transaction.atomic():
        n = robots.retry_failed(department)
    if n:
        messages.success(
            request,
            ngettext(
                "%(n)d failed message will be sent again.",
                "%(n)d failed messages will be sent again, together as one.",
                n,
            )
            % {"n": n},
        )
    else:
        messages.info(request, _("No failed message to send again."))
    return redirect("manage:department", pk=department.pk)
