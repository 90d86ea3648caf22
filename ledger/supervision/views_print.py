"""The page that prints the ledger for a meeting (整改台账 PDF): what will be printed, the
paper, and the button that starts the job (``ledger_pdf.print_job``).

Whoever may export the ledger to Excel may print it, of the items they may see
(``ledger.selectors.ledger_items``); anyone else gets 404.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from ledger import audit, jobs
from ledger.access import works_on_items_required
from ledger.selectors import ledger_items

from . import ledger_pdf


class PrintForm(forms.Form):
    paper = forms.ChoiceField(label=gettext_lazy("Paper"), initial="a4")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["paper"].choices = ledger_pdf.paper_choices()


@login_required
@works_on_items_required
@require_http_methods(["GET", "HEAD", "POST"])
def print_ledger(request: HttpRequest) -> HttpResponse:
    params = ledger_pdf.list_params(request.GET)
    sort = ledger_pdf.list_sort(request.GET)
    ledger = ledger_items(user=request.user, params=params)
    # Counted up to one past the limit: a count of a whole large ledger is not needed to
    # know it is too large.
    count = ledger.items.order_by()[: ledger_pdf.MAX_ITEMS + 1].count()
    title = ledger_pdf.title_for(ledger.filter)
    form = PrintForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid() and 0 < count <= ledger_pdf.MAX_ITEMS:
        paper = form.cleaned_data["paper"]
        job = jobs.enqueue(
            ledger_pdf.print_job,
            kind="print",
            by=request.user,
            title=_("%(title)s (PDF)") % {"title": title},
            user_id=request.user.pk,
            params=params,
            sort=sort,
            paper=paper,
            language=translation.get_language(),
        )
        audit.record(
            audit.Kind.EXPORT,
            gettext_lazy("Printed %(title)s as a PDF (%(count)s items)"),
            {"title": title, "count": count},
            request=request,
            detail={"filters": params, "items": count, "paper": paper},
        )
        return redirect(job)
    back = {**params, "sort": sort} if sort != ledger_pdf.DEFAULT_SORT else params
    return render(
        request,
        "supervision/print.html",
        {
            "form": form,
            "paper": chosen if (chosen := form["paper"].value()) in ledger_pdf.PAPERS else "a4",
            "title": title,
            "count": count,
            "too_many": count > ledger_pdf.MAX_ITEMS,
            "max_items": f"{ledger_pdf.MAX_ITEMS:,}",
            "conditions": ledger_pdf.conditions(request.user, ledger.filter),
            "action": request.get_full_path(),
            "back": reverse("ledger:items") + (f"?{urlencode(back)}" if back else ""),
            "excel": reverse("intake:export") + (f"?{urlencode(params)}" if params else ""),
        },
    )
