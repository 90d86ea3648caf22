"""The department scores' pages (部门考评): the round's live ranking, the published sheets,
the weights, and the table as a workbook and as a PDF report.

Supervisors do everything; leaders read every page and export; an official reads their own
department's row, live and published, and nothing else (docs/supervision.md). Anyone else
finds no such page (404).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from ledger import audit, jobs
from ledger.access import supervisor_required, works_on_items_required
from ledger.inputs import parse_id
from ledger.models import Item, Round, User

from . import scores
from .forms_scores import WeightsForm
from .models import ScoreSheet, ScoreWeights
from .scores import Sheet, may_read_all

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Published sheets a round's page names; the list of them all pages by this many.
SHEETS_SHOWN = 5
SHEETS_PAGE = 30
# Weight changes the weights page lists, newest first.
HISTORY_SHOWN = 20


def _default_round(rounds: list[Round]) -> Round | None:
    """The newest round with an item handed over, else the newest round."""
    handed_over = Item.objects.filter(round_id=OuterRef("pk"), state__in=scores.HANDED_OVER)
    busy = Round.objects.filter(Exists(handed_over)).values_list("pk", flat=True).first()
    return next((r for r in rounds if r.pk == busy), rounds[0] if rounds else None)


def _chosen(value, rounds: list[Round]) -> Round:
    """The round named by ``value``: 404 for one that is not there."""
    pk = parse_id(value)
    for r in rounds:
        if r.pk == pk:
            return r
    raise Http404


def _round(value, rounds: list[Round]) -> Round | None:
    """The round named by ``value``, or the page's default when none is named."""
    return _chosen(value, rounds) if value else _default_round(rounds)


def _for(user: User, sheet: Sheet) -> Sheet:
    return sheet if may_read_all(user) else sheet.only(user.department_id)


def _context(user: User, sheet: Sheet) -> dict:
    shown = _for(user, sheet)
    return {
        "sheet": shown,
        "lines": shown.lines(),
        "measures": shown.measures(),
        "reads_all": may_read_all(user),
    }


def _published(pk: int) -> Sheet:
    sheet = get_object_or_404(ScoreSheet.objects.select_related("round", "published_by"), pk=pk)
    return Sheet.published(sheet)


@login_required
@works_on_items_required
@require_safe
def score_table(request: HttpRequest) -> HttpResponse:
    rounds = list(Round.objects.only("pk", "name", "year", "kind"))
    round = _round(request.GET.get("round", ""), rounds)
    context = {"rounds": rounds, "round": round, "weights": None}
    if round is not None:
        table = scores.compute(round)
        context |= _context(request.user, Sheet.live(table))
        context["weights"] = table.weights
        sheets = list(
            ScoreSheet.objects.filter(round=round)
            .select_related("published_by")
            .only(
                "pk",
                "published_at",
                "published_by__username",
                "published_by__first_name",
                "published_by__last_name",
            )[: SHEETS_SHOWN + 1]
        )
        context["published"] = sheets[:SHEETS_SHOWN]
        context["more_published"] = len(sheets) > SHEETS_SHOWN
    return render(request, "supervision/scores.html", context)


@login_required
@works_on_items_required
@require_safe
def score_sheets(request: HttpRequest) -> HttpResponse:
    """Every published sheet, newest first, a page at a time by id."""
    sheets = ScoreSheet.objects.select_related("round", "published_by").only(
        "pk",
        "published_at",
        "weights_set_at",
        "round__name",
        "published_by__username",
        "published_by__first_name",
        "published_by__last_name",
    )
    before = parse_id(request.GET.get("before"))
    if before is not None:
        sheets = sheets.filter(pk__lt=before)
    page = list(sheets.order_by("-pk")[: SHEETS_PAGE + 1])
    older = page[SHEETS_PAGE - 1].pk if len(page) > SHEETS_PAGE else None
    return render(
        request,
        "supervision/score_sheets.html",
        {"sheets": page[:SHEETS_PAGE], "older": older, "paged": before is not None},
    )


@login_required
@works_on_items_required
@require_safe
def score_sheet(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "supervision/score_sheet.html", _context(request.user, _published(pk)))


def _xlsx(request: HttpRequest, sheet: Sheet) -> HttpResponse:
    if not may_read_all(request.user):
        raise Http404
    audit.record(
        audit.Kind.EXPORT,
        gettext_lazy("Exported %(title)s"),
        {"title": sheet.title()},
        request=request,
        detail={"round": sheet.round_id, "sheet": sheet.sheet_id, "rows": len(sheet.rows)},
    )
    response = HttpResponse(scores.xlsx_bytes(sheet), content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, sheet.file_name("xlsx"))
    return response


@login_required
@works_on_items_required
@require_safe
def score_table_export(request: HttpRequest) -> HttpResponse:
    if not may_read_all(request.user):
        raise Http404
    round = _round(request.GET.get("round", ""), list(Round.objects.only("pk", "name")))
    if round is None:
        raise Http404
    return _xlsx(request, Sheet.live(scores.compute(round)))


@login_required
@works_on_items_required
@require_safe
def score_sheet_export(request: HttpRequest, pk: int) -> HttpResponse:
    return _xlsx(request, _published(pk))


def _report(request: HttpRequest, title: str, **kwargs) -> HttpResponse:
    job = jobs.enqueue(
        scores.report_job,
        kind="scores-report",
        by=request.user,
        title=_("PDF report: %(title)s") % {"title": title},
        user_id=request.user.pk,
        language=translation.get_language() or "zh-hans",
        **kwargs,
    )
    audit.record(
        audit.Kind.EXPORT,
        gettext_lazy("Printed %(title)s as a PDF report"),
        {"title": title},
        request=request,
        detail={"job": job.pk, **kwargs},
    )
    return redirect(job)


@login_required
@works_on_items_required
@require_POST
def score_table_report(request: HttpRequest) -> HttpResponse:
    if not may_read_all(request.user):
        raise Http404
    round = _round(request.POST.get("round", ""), list(Round.objects.only("pk", "name")))
    if round is None:
        raise Http404
    title = _("Department scores of %(round)s") % {"round": round.name}
    return _report(request, title, round_id=round.pk)


@login_required
@works_on_items_required
@require_POST
def score_sheet_report(request: HttpRequest, pk: int) -> HttpResponse:
    if not may_read_all(request.user):
        raise Http404
    sheet = _published(pk)
    return _report(request, sheet.title(), sheet_id=pk)


@login_required
@supervisor_required
@require_POST
def score_publish(request: HttpRequest) -> HttpResponse:
    """Freeze the round's table as it is now: its rows and the weights they were made with."""
    if not request.POST.get("round"):
        messages.error(request, _("Choose the round whose scores to publish."))
        return redirect("supervision:scores")
    round = _chosen(request.POST.get("round"), list(Round.objects.only("pk", "name")))
    table = scores.compute(round)
    back = f"{reverse('supervision:scores')}?round={round.pk}"
    if not table.rows:
        messages.error(
            request,
            _("Nothing to publish: no department has an item of this round handed over yet."),
        )
        return redirect(back)
    sheet = ScoreSheet.objects.create(
        round=round,
        weights=table.weights.as_json(),
        weights_set_at=table.weights.set_at,
        rows=table.as_json(),
        published_by=request.user,
        published_at=timezone.now(),
    )
    audit.record(
        audit.Kind.SCORES,
        gettext_lazy("Published the department scores of %(round)s"),
        {"round": round.name},
        request=request,
        target=round.name[:200],
        detail={"sheet": sheet.pk, "weights": sheet.weights, "departments": len(table.rows)},
    )
    messages.success(
        request,
        _(
            "Published. This sheet stays as it is now, whatever later changes to the ledger or "
            "the weights."
        ),
    )
    return redirect("supervision:score-sheet", pk=sheet.pk)


@login_required
@supervisor_required
@require_http_methods(["GET", "HEAD", "POST"])
def score_weights(request: HttpRequest) -> HttpResponse:
    now = scores.current_weights()
    form = WeightsForm(request.POST or None, initial=now.values)
    if request.method == "POST" and form.is_valid():
        saved = ScoreWeights.objects.create(
            weights=scores.Weights(form.weights()).as_json(),
            set_by=request.user,
            set_at=timezone.now(),
        )
        audit.record(
            audit.Kind.SCORES,
            gettext_lazy("Changed the weights of the department score"),
            request=request,
            detail={"before": scores.Weights(now.values).as_json(), "after": saved.weights},
        )
        messages.success(
            request,
            _(
                "The weights are saved and the live ranking uses them. Published sheets keep the "
                "weights they were published with."
            ),
        )
        return redirect("supervision:score-weights")
    history = list(
        ScoreWeights.objects.select_related("set_by").order_by("-set_at", "-pk")[:HISTORY_SHOWN]
    )
    changes = [
        {
            "at": row.set_at,
            "by": row.set_by,
            "text": scores.weights_text(scores.read_weights(row.weights)),
        }
        for row in history
    ]
    return render(
        request,
        "supervision/score_weights.html",
        {"form": form, "now": now, "changes": changes, "measures": scores.LABELS},
        status=400 if form.errors else 200,
    )
