"""The audit trail's pages (docs/audit.md): for the auditor (审计员) alone. Anyone else,
administrators and supervisors included, finds no such page (404), as for every page that
is not theirs.

The list is newest first, a page at a time by id (no COUNT, no OFFSET: the trail only
grows), filtered by person, kind and dates; the same filter exports to .xlsx."""

from __future__ import annotations

import datetime
import io

from django import forms
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from . import audit
from .access import auditor_required
from .inputs import parse_id
from .intake.export import text_cell
from .models import AuditEntry

PAGE_SIZE = 50
# An export holds at most this many lines; a larger one asks for narrower filters.
EXPORT_LIMIT = 100_000
# Dates outside these are not dates of this trail: refused, not searched.
FIRST_YEAR, LAST_YEAR = 2000, 2100
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class TrailFilter(forms.Form):
    person = forms.CharField(
        label=gettext_lazy("Person"),
        required=False,
        max_length=150,
        help_text=gettext_lazy("User name or name, or part of it"),
    )
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"),
        required=False,
        choices=[("", gettext_lazy("All kinds")), *AuditEntry.Kind.choices],
    )
    since = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        for name in ("since", "until"):
            day = data.get(name)
            if day and not FIRST_YEAR <= day.year <= LAST_YEAR:
                self.add_error(
                    name,
                    _("Give a date between %(first)s and %(last)s.")
                    % {"first": FIRST_YEAR, "last": LAST_YEAR},
                )
        if since and until and since > until:
            self.add_error("until", _("The end date is before the start date."))
        return data

    def entries(self) -> QuerySet[AuditEntry]:
        lines = AuditEntry.objects.all()
        if not self.is_valid():
            return lines.none()
        data = self.cleaned_data
        if person := data["person"].strip():
            lines = lines.filter(Q(username__icontains=person) | Q(actor_name__icontains=person))
        if data["kind"]:
            lines = lines.filter(kind=data["kind"])
        zone = timezone.get_current_timezone()
        if data["since"]:
            start = datetime.datetime.combine(data["since"], datetime.time.min, tzinfo=zone)
            lines = lines.filter(at__gte=start)
        if data["until"]:
            end = datetime.datetime.combine(
                data["until"] + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone
            )
            lines = lines.filter(at__lt=end)
        return lines


def _position(value: str | None) -> int | None:
    return parse_id(value)


@never_cache
@auditor_required
@require_safe
def trail(request: HttpRequest) -> HttpResponse:
    form = TrailFilter(request.GET or None)
    lines = form.entries() if request.GET else AuditEntry.objects.all()
    before, after = _position(request.GET.get("before")), _position(request.GET.get("after"))
    if after is not None:
        page = list(lines.filter(pk__gt=after).order_by("pk")[: PAGE_SIZE + 1])
        newer = len(page) > PAGE_SIZE
        page = page[:PAGE_SIZE][::-1]
        older = bool(page) and lines.filter(pk__lt=page[-1].pk).exists()
    else:
        if before is not None:
            lines = lines.filter(pk__lt=before)
        page = list(lines.order_by("-pk")[: PAGE_SIZE + 1])
        older = len(page) > PAGE_SIZE
        page = page[:PAGE_SIZE]
        newer = before is not None and bool(page)
    query = request.GET.copy()
    for key in ("before", "after"):
        query.pop(key, None)
    return render(
        request,
        "audit/trail.html",
        {
            "form": form,
            "lines": page,
            "older": page[-1].pk if older and page else None,
            "newer": page[0].pk if newer and page else None,
            "query": query.urlencode(),
            "filtered": any(request.GET.get(k) for k in form.fields),
        },
        status=400 if form.errors else 200,
    )


@never_cache
@auditor_required
@require_safe
def trail_export(request: HttpRequest) -> HttpResponse:
    form = TrailFilter(request.GET or None)
    lines = form.entries() if request.GET else AuditEntry.objects.all()
    if form.errors:
        return trail(request)
    count = lines.order_by()[: EXPORT_LIMIT + 1].count()
    if count > EXPORT_LIMIT:
        return render(
            request,
            "audit/trail.html",
            {
                "form": form,
                "lines": [],
                "too_many": EXPORT_LIMIT,
                "query": request.GET.urlencode(),
                "filtered": True,
            },
            status=400,
        )
    audit.record(
        audit.Kind.EXPORT,
        gettext_lazy("Exported %(count)s lines of the audit trail"),
        {"count": count},
        request=request,
        detail={"filters": {k: v for k, v in request.GET.items() if k in form.fields}},
    )
    out = io.BytesIO()
    _workbook(lines.order_by("-pk").iterator(chunk_size=2000)).save(out)
    name = f"{_('Audit trail')}-{timezone.localdate():%Y%m%d}.xlsx"
    response = HttpResponse(out.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response


def _workbook(lines) -> Workbook:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Audit trail"))
    sheet.append(
        [_("Time"), _("User name"), _("Full name"), _("Kind"), _("What"), _("On"), _("Address")]
    )
    zone = timezone.get_current_timezone()
    for line in lines:
        sheet.append(
            [
                timezone.localtime(line.at, zone).strftime("%Y-%m-%d %H:%M:%S"),
                *(
                    _text(sheet, value)
                    for value in (
                        line.username,
                        line.actor_name,
                        line.get_kind_display(),
                        line.summary,
                        line.target,
                    )
                ),
                line.ip or "",
            ]
        )
    return book


def _text(sheet, value: str) -> WriteOnlyCell:
    """A text that stays text: a user name typed at the sign-in page or a notice's title
    that begins like a formula must not run as one in the auditor's spreadsheet."""
    return text_cell(sheet, str(value))
