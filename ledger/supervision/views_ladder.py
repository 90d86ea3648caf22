"""The escalation ladder's pages (docs/supervision.md): the steps proposed, for a supervisor
to confirm or dismiss; the thresholds; and the numbered notices, with their PDF.

The ladder and its thresholds are a supervisor's; a notice is read by whom it concerns
(``ladder.notices_for``). Anything else is not found (404), as everywhere in the app.
"""

from __future__ import annotations

import itertools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Case, Count, IntegerField, Prefetch, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST, require_safe

from ledger import audit, jobs, workflow
from ledger.access import supervisor_required
from ledger.inputs import parse_id
from ledger.models import Department, Item

from . import ladder
from .forms_ladder import DecideForm, LadderSettingsForm
from .models import LadderSettings, LadderStep, SupervisionNotice
from .notice_pdf import notice_pdf_job
from .notice_pdf import rows as notice_rows
from .workdays import calendar

STEPS_PER_PAGE = 50
NOTICES_PER_PAGE = 20
HISTORY_ROWS = 20

_rank = Case(
    *(When(step=step, then=Value(n)) for step, n in ladder.RANK.items() if step),
    output_field=IntegerField(),
)


# --- The proposed steps --------------------------------------------------------------------


def _page_of_steps(request: HttpRequest):
    """A page of the proposed steps, in the order they are grouped: by step, then by lead
    department, the longest overdue first."""
    steps = (
        LadderStep.objects.filter(status=LadderStep.Status.PROPOSED)
        .select_related("item", "item__lead_department", "item__leader")
        .annotate(rank=_rank)
        .order_by(
            "rank",
            "item__lead_department__order",
            "item__lead_department__name",
            "item__deadline",
            "item__number",
            "pk",
        )
    )
    return Paginator(steps, STEPS_PER_PAGE).get_page(request.GET.get("page"))


def _groups(rows, today) -> list[dict]:
    """The page's rows grouped by step and department, each row with its working days past
    the deadline as of today and whether it can still be confirmed."""
    work = calendar()
    labels = dict(Item.LadderStep.choices)
    groups = []
    for (step, department), rows_of in itertools.groupby(
        rows, key=lambda s: (s.step, s.item.lead_department)
    ):
        listed = list(rows_of)
        for row in listed:
            row.stale = _why_stale(row)
            row.days_now = work.between(row.deadline, today)
            row.days_left = -row.days_now if row.days_now <= 0 else None
        groups.append(
            {"step": step, "label": labels[step], "department": department, "rows": listed}
        )
    return groups


def _why_stale(step: LadderStep) -> str:
    """Why a proposed step can no longer be confirmed, or "" when it can."""
    item = step.item
    if not ladder.is_stale(step, item):
        return ""
    if item.state not in ladder.OPEN:
        return _("The item is no longer open (%(state)s).") % {"state": item.get_state_display()}
    if item.long_term or item.deadline is None:
        return _("The item no longer has a deadline.")
    if item.deadline != step.deadline:
        return _("The deadline is %(deadline)s now.") % {"deadline": item.deadline.isoformat()}
    return _("The item has reached this step or a higher one: %(step)s.") % {
        "step": item.get_ladder_step_display()
    }


@login_required
@supervisor_required
@require_safe
def ladder_page(request: HttpRequest) -> HttpResponse:
    return _render_ladder(request, DecideForm())


def _render_ladder(request: HttpRequest, form: DecideForm, status: int = 200) -> HttpResponse:
    page = _page_of_steps(request)
    waiting = ladder.waiting_counts()
    rules = LadderSettings.current()
    return render(
        request,
        "supervision/ladder.html",
        {
            "page": page,
            "groups": _groups(page.object_list, timezone.localdate()),
            "tiles": [
                (step, label, waiting.get(step, 0)) for step, label in Item.LadderStep.choices
            ],
            "waiting": sum(waiting.values()),
            "rules": rules,
            "form": form,
            "ticked": set(form.step_ids),
            "at_once": ladder.CONFIRM_AT_ONCE,
        },
        status=status,
    )


@login_required
@supervisor_required
@require_POST
def ladder_decide(request: HttpRequest) -> HttpResponse:
    form = DecideForm(request.POST)
    if not form.is_valid():
        return _render_ladder(request, form, status=400)
    action = form.cleaned_data["action"]
    ids = form.step_ids
    if action == DecideForm.DISMISS:
        n = ladder.dismiss(ids, by=request.user, request=request)
        messages.success(
            request,
            ngettext(
                "%(n)d proposed step was dismissed.", "%(n)d proposed steps were dismissed.", n
            )
            % {"n": n},
        )
        return redirect(_back(request))
    if form.everything:
        ids, asked = None, LadderStep.objects.filter(status=LadderStep.Status.PROPOSED).count()
    else:
        asked = len(ids)
    try:
        done = ladder.confirm(ids, by=request.user, note=form.cleaned_data["note"])
    except workflow.WorkflowError as error:
        messages.error(request, str(error))
        return _render_ladder(request, form, status=409)
    _report(request, done, asked)
    return redirect(_back(request))


def _back(request: HttpRequest) -> str:
    """The ladder page the decision came from (its page number only)."""
    page = parse_id(request.POST.get("page", ""))
    url = reverse("supervision:ladder")
    return f"{url}?page={page}" if page and page > 1 else url


def _report(request: HttpRequest, done: ladder.Confirmation, asked: int) -> None:
    if done.confirmed:
        text = ngettext(
            "%(n)d step was confirmed.", "%(n)d steps were confirmed.", len(done.confirmed)
        ) % {"n": len(done.confirmed)}
        if done.notices:
            numbers = "、".join(n.number for n in done.notices)
            text += " " + _("Notices issued: %(numbers)s.") % {"numbers": numbers}
        messages.success(request, text)
    if done.stale:
        messages.warning(
            request,
            ngettext(
                "%(n)d step could not be confirmed: its item has changed since it was "
                "proposed, or someone decided it first. It is marked on the list.",
                "%(n)d steps could not be confirmed: their items have changed since they were "
                "proposed, or someone decided them first. They are marked on the list.",
                len(done.stale),
            )
            % {"n": len(done.stale)},
        )
    rest = asked - len(done.confirmed) - len(done.stale)
    if rest > 0:
        messages.info(
            request,
            ngettext(
                "%(n)d more step is waiting: confirm again to take it.",
                "%(n)d more steps are waiting: confirm again to take them.",
                rest,
            )
            % {"n": rest},
        )
    if not done.confirmed and not done.stale:
        messages.info(request, _("Nothing was confirmed: those steps were decided already."))


# --- The thresholds ------------------------------------------------------------------------

FIELDS = LadderSettingsForm.Meta.fields


@login_required
@supervisor_required
def ladder_settings(request: HttpRequest) -> HttpResponse:
    current = LadderSettings.current()
    initial = {name: getattr(current, name) for name in FIELDS}
    if request.method == "POST":
        form = LadderSettingsForm(request.POST, initial=initial)
        if form.is_valid():
            # The first saving records who set the thresholds, even when they are the defaults.
            if current.pk and not form.has_changed():
                messages.info(request, _("Nothing was changed: the thresholds are as they were."))
                return redirect("supervision:ladder-settings")
            row = form.save(commit=False)
            row.set_by = request.user
            row.set_at = timezone.now()
            row.save()
            audit.record(
                audit.Kind.LADDER,
                gettext_lazy("Changed the escalation ladder's thresholds"),
                request=request,
                target=str(LadderSettings._meta.verbose_name),
                detail={"settings": row.pk, "fields": audit.form_changes(form)},
            )
            messages.success(request, _("The new thresholds apply from the next proposal on."))
            return redirect("supervision:ladder-settings")
    else:
        form = LadderSettingsForm(initial=initial)
    history = list(
        LadderSettings.objects.select_related("set_by").order_by("-set_at", "-pk")[:HISTORY_ROWS]
    )
    return render(
        request,
        "supervision/ladder_settings.html",
        {"form": form, "current": current, "history": history, "fields": FIELDS},
        status=400 if form.errors else 200,
    )


# --- Notices -------------------------------------------------------------------------------


def _notice_for(request: HttpRequest, pk: int) -> SupervisionNotice:
    return get_object_or_404(ladder.notices_for(request.user).select_related("issued_by"), pk=pk)


def _reads_notices(user) -> bool:
    return user.is_authenticated and user.works_on_items


@login_required
@require_safe
def notice_list(request: HttpRequest) -> HttpResponse:
    if not _reads_notices(request.user):
        raise Http404
    kind = request.GET.get("kind", "")
    notices = ladder.notices_for(request.user)
    if kind in SupervisionNotice.Kind.values:
        notices = notices.filter(kind=kind)
    else:
        kind = ""
    notices = (
        notices.annotate(items=Count("steps"))
        .prefetch_related(
            Prefetch("departments", queryset=Department.objects.only("pk", "name", "order"))
        )
        .order_by("-issued_at", "-pk")
    )
    page = Paginator(notices, NOTICES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "supervision/notice_list.html",
        {
            "page": page,
            "kind": kind,
            "kinds": SupervisionNotice.Kind.choices,
            "query": f"kind={kind}" if kind else "",
        },
    )


@login_required
@require_safe
def notice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if not _reads_notices(request.user):
        raise Http404
    notice = _notice_for(request, pk)
    rows = notice_rows(notice)
    # Each item links to its page only for a reader who may open it.
    visible = set(
        Item.all_objects.visible_to(request.user)
        .filter(pk__in=[row.item_id for row in rows])
        .values_list("pk", flat=True)
    )
    for row in rows:
        row.linked = row.item_id in visible
    return render(
        request,
        "supervision/notice_detail.html",
        {
            "notice": notice,
            "departments": list(notice.departments.order_by("order", "name")),
            "rows": rows,
            "escalation": notice.kind == SupervisionNotice.Kind.ESCALATE,
        },
    )


@login_required
@require_POST
def notice_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """Print a notice: its PDF is rendered by the worker (WeasyPrint is never loaded by a
    web process), and the job's page offers the file."""
    if not _reads_notices(request.user):
        raise Http404
    notice = _notice_for(request, pk)
    job = jobs.enqueue(
        notice_pdf_job,
        kind="notice_pdf",
        by=request.user,
        title=f"{notice.title} {notice.number}",
        notice_id=notice.pk,
        user_id=request.user.pk,
    )
    return redirect("ledger:job", pk=job.pk)
