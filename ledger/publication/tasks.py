"""Publishing a notice: a background task (django-tasks), run by ``manage.py run_worker``.

``start_publishing`` (in the web process) moves the notice from draft to publishing and
queues ``publish_notice``; the task builds the snapshot from the ledger, renders the page,
the PDF and the Excel annex from it, stores them with their SHA-256 and marks the notice
published, all or nothing. If anything fails the notice goes to "failed" with the reason,
stays unpublished and can be edited and published again, and no file of the attempt is
left in storage: those it stored are deleted, and those of an attempt whose worker was
killed are deleted by the recovery that frees the notice, or by the next attempt.
"""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_tasks import task

from ledger import audit, jobs
from ledger.models import User

from . import render, snapshot
from .models import Notice, Publication, PublishedAnnex, publication_path
from .views_public import page_cache_key

logger = logging.getLogger(__name__)


class PublishError(jobs.JobError):
    pass


def start_publishing(notice: Notice, by: User):
    """Queue the publishing of ``notice``; returns the job. Refuses (PublishError) a notice
    that is not a draft or a failed attempt, or was just taken by someone else."""
    with transaction.atomic():
        claimed = Notice.objects.filter(pk=notice.pk, state__in=Notice.EDITABLE_STATES).update(
            state=Notice.State.PUBLISHING, error="", updated_at=timezone.now()
        )
    if not claimed:
        raise PublishError(_("This notice is already being published or was published."))
    job = jobs.enqueue(
        publish_notice,
        kind="publish",
        by=by,
        title=_("Publishing %(title)s") % {"title": notice.title},
        notice_id=notice.pk,
        user_id=by.pk,
    )
    Notice.objects.filter(pk=notice.pk).update(job=job)
    return job


def _fail(notice_id: int, message: str) -> None:
    Notice.objects.filter(pk=notice_id, state=Notice.State.PUBLISHING).update(
        state=Notice.State.FAILED, error=message, updated_at=timezone.now()
    )


def discard_leftovers(notice_id: int) -> list[str]:
    """Delete the files an unfinished attempt at publishing ``notice_id`` stored, and
    return their names. Only a notice without a publication has such files: a published
    notice's folder holds its own files, which are never touched."""
    if Publication.objects.filter(notice_id=notice_id).exists():
        return []
    folder = publication_path(Publication(notice_id=notice_id), "").rstrip("/")
    try:
        names = default_storage.listdir(folder)[1]
    except FileNotFoundError:
        return []
    removed = []
    for name in names:
        default_storage.delete(f"{folder}/{name}")
        removed.append(f"{folder}/{name}")
    if removed:
        logger.warning("Deleted %d file(s) of an unfinished publication: %s", len(removed), removed)
    return removed


def publish(notice: Notice, by: User, progress=None) -> Publication:
    """Build, render and store; the notice must be in the publishing state."""
    with translation.override(render.PUBLIC_LANGUAGE):
        # Weighted by what each step costs: the PDF takes about three times as long as
        # reading and masking the rows, the workbook a fifth.
        rows = snapshot.count_annex_rows(notice)
        pdf_weight, xlsx_weight = 3 * rows + 1, rows // 5 + 1
        if progress:
            progress.set_total(rows + pdf_weight + xlsx_weight + 1)
        snap = snapshot.build(notice, advance=progress.advance if progress else None)
        if progress:
            progress.flush()
        pdf = render.pdf_bytes(snap)
        if progress:
            progress.advance(pdf_weight)
            progress.flush()
        xlsx = render.xlsx_bytes(snap)
        if progress:
            progress.advance(xlsx_weight)
        files = {
            "pdf": {"sha256": render.sha256(pdf), "size": len(pdf)},
            "xlsx": {"sha256": render.sha256(xlsx), "size": len(xlsx)},
        }
        html = render.page_html(snap, files)
        annex_pages = render.annex_pages_html(snap)
    # The files a killed earlier attempt left, so that this one's names are the plain ones.
    discard_leftovers(notice.pk)
    stored: list[str] = []
    try:
        with transaction.atomic():
            locked = Notice.objects.select_for_update().get(pk=notice.pk)
            if locked.state != Notice.State.PUBLISHING:
                raise PublishError(_("This notice is no longer waiting to be published."))
            publication = Publication(
                notice=locked,
                snapshot=snap,
                html=html,
                html_sha256=render.sha256(html),
                pdf_sha256=files["pdf"]["sha256"],
                pdf_size=len(pdf),
                xlsx_sha256=files["xlsx"]["sha256"],
                xlsx_size=len(xlsx),
                published_by=by,
            )
            stem = f"v{locked.version}-{files['pdf']['sha256'][:12]}"
            publication.pdf.save(f"{stem}.pdf", ContentFile(pdf), save=False)
            stored.append(publication.pdf.name)
            publication.xlsx.save(f"{stem}.xlsx", ContentFile(xlsx), save=False)
            stored.append(publication.xlsx.name)
            publication.save()
            PublishedAnnex.objects.bulk_create(
                PublishedAnnex(
                    publication=publication, number=k, html=page, html_sha256=render.sha256(page)
                )
                for k, page in enumerate(annex_pages, start=1)
            )
            locked.state = Notice.State.PUBLISHED
            locked.error = ""
            locked.updated_at = timezone.now()
            locked.save()
    except BaseException:
        # The transaction was rolled back: nothing refers to the files it stored.
        for name in stored:
            default_storage.delete(name)
        raise
    audit.record(
        audit.Kind.PUBLICATION,
        gettext_lazy("Published the notice %(notice)s"),
        {"notice": f"{locked.title}（v{locked.version}）"},
        actor=by,
        target=f"{locked.title} v{locked.version}"[:200],
        detail={
            "notice": locked.pk,
            "publication": publication.pk,
            "pdf_sha256": publication.pdf_sha256,
            "xlsx_sha256": publication.xlsx_sha256,
            "html_sha256": publication.html_sha256,
        },
    )
    if locked.replaces_id:
        # The replaced page gains its "replaced by" banner at once (in this process; in the
        # others within views_public.PAGE_CACHE_SECONDS).
        cache.delete(page_cache_key(locked.replaces_id))
    if progress:
        progress.advance(1)
    return publication


@task()
def publish_notice(job_id: int, notice_id: int, user_id: int) -> None:
    with jobs.running(job_id) as progress:
        try:
            notice = Notice.objects.get(pk=notice_id)
            publish(notice, User.objects.get(pk=user_id), progress)
        except jobs.JobError as error:
            _fail(notice_id, str(error))
            raise
        except Exception:
            logger.exception("Publishing notice %s failed", notice_id)
            _fail(notice_id, _("Publishing failed on the server. The error was logged; try again."))
            raise
        progress.finish(url=Notice(pk=notice_id).public_url())
