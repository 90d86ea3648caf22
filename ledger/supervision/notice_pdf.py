"""A ladder notice (督办通知, 挂牌督办通知, 情况通报) as a PDF in the official layout, rendered
by the worker with WeasyPrint and the fonts the public notices use (``publication.render``).
"""

from __future__ import annotations

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_tasks import task

from ledger import jobs
from ledger.models import User

from .models import LadderStep, SupervisionNotice


def chinese_date(day) -> str:
    """A date as an official document writes it: 2026年10月12日."""
    return f"{day.year}年{day.month}月{day.day}日"


def rows(notice: SupervisionNotice) -> list[LadderStep]:
    """The items a notice lists, in the order they are printed: by department, by number."""
    return list(
        notice.steps.select_related("item", "item__lead_department").order_by(
            "item__lead_department__order", "item__lead_department__name", "item__number", "pk"
        )
    )


def pdf_html(notice: SupervisionNotice) -> str:
    departments = list(notice.departments.order_by("order", "name"))
    with translation.override(settings.LANGUAGE_CODE):
        return render_to_string(
            "pdf/supervision_notice.html",
            {
                "notice": notice,
                "recipients": "、".join(d.name for d in departments),
                "paragraphs": [p.strip() for p in notice.body.splitlines() if p.strip()],
                "rows": rows(notice),
                "escalation": notice.kind == SupervisionNotice.Kind.ESCALATE,
                "bulletin": notice.kind == SupervisionNotice.Kind.CIRCULATE,
                "issuer": notice.issuer or settings.SITE_NAME,
                "date": chinese_date(timezone.localdate(notice.issued_at)),
            },
        )


def pdf_bytes(notice: SupervisionNotice) -> bytes:
    # Imported here, in the worker that renders: see publication.render.pdf_bytes.
    from weasyprint import HTML

    from ledger.publication.fetcher import STATIC_BASE, StaticOnlyFetcher

    return HTML(
        string=pdf_html(notice), base_url=STATIC_BASE, url_fetcher=StaticOnlyFetcher()
    ).write_pdf()


@task()
def notice_pdf_job(job_id: int, notice_id: int, user_id: int) -> None:
    """The notice's PDF, for a reader who may still read it when the job runs."""
    from .ladder import notices_for

    with jobs.running(job_id) as progress:
        user = User.objects.filter(pk=user_id).first()
        notice = notices_for(user).filter(pk=notice_id).first() if user else None
        if notice is None:
            raise jobs.JobError(_("This notice is not yours to print."))
        progress.set_total(1)
        data = pdf_bytes(notice)
        progress.finish(file_name=f"{notice.title}{notice.number}.pdf", content=data)
