"""The page of a background job: its progress bar, then its file or where to go next, or
why it failed and a button that starts it again.

Only the person who started a job, or a supervisor, may see it or download its file; for
anyone else it does not exist (404).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from . import audit, jobs
from .models import Job

# While a job runs its page reloads itself this often (a meta refresh: no script needed).
REFRESH_SECONDS = 2


def _job_for(request: HttpRequest, pk: int) -> Job:
    job = get_object_or_404(Job, pk=pk)
    if not (request.user.is_supervisor or job.created_by_id == request.user.pk):
        raise Http404
    return job


@login_required
@require_safe
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_for(request, pk)
    response = render(
        request,
        "ledger/job.html",
        {
            "job": job,
            "refresh": None if job.finished else REFRESH_SECONDS,
            "can_retry": jobs.can_retry(job, request.user),
            "keep_days": jobs.KEEP_FILES_DAYS,
        },
    )
    add_never_cache_headers(response)
    return response


@login_required
@require_safe
def job_download(request: HttpRequest, pk: int) -> FileResponse:
    job = _job_for(request, pk)
    if job.state != Job.State.DONE or not job.result_file:
        raise Http404
    try:
        handle = job.result_file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    audit.record(
        audit.Kind.EXPORT,
        gettext_lazy("Downloaded %(file)s, made by a background job"),
        {"file": job.result_name},
        request=request,
        detail={"job": job.pk, "file": job.result_name},
    )
    response = FileResponse(handle, as_attachment=True, filename=job.result_name)
    response["X-Content-Type-Options"] = "nosniff"
    patch_cache_control(response, private=True)
    return response


@login_required
@require_POST
def job_retry(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_for(request, pk)
    if not jobs.can_retry(job, request.user):
        messages.error(request, _("This job cannot be started again from here."))
        return redirect(job)
    try:
        again = jobs.retry(job, request.user)
    except jobs.JobError as error:
        messages.error(request, str(error))
        return redirect(job)
    return redirect(again)
