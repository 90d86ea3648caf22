"""The ledger printed for a meeting (整改台账 PDF): the list's current filter as a landscape
A4 or A3 PDF, beside the Excel export.

``/supervision/print/?<the list's filters>`` says what will be printed and asks for the
paper; the PDF is always made by a background job (``print_job``): WeasyPrint keeps the
memory of a render, so a web process never runs it. The rows are what
``ledger.selectors.ledger_items`` gives the user for the filters, as on the list and in the
Excel export, read again when the job runs, in the list's order.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import io
import itertools
from collections.abc import Callable, Iterator, Mapping

from django.db.models import OuterRef, QuerySet, Subquery
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext
from django_tasks import task

from ledger import jobs
from ledger.filters import ItemFilter
from ledger.models import Department, Item, Leader, Progress, Round, User
from ledger.selectors import DEFAULT_SORT, SORTS

from .workdays import calendar

# Items read from the database at a time; the co-responsible departments and the latest
# report of each chunk are read in one query each.
CHUNK = 1_000
# The latest progress or outcome is cut at this many characters: the printed ledger is the
# meeting's summary, and the item's page has the whole text.
LATEST_CHARS = 200


@dataclasses.dataclass(frozen=True)
class Paper:
    size: str  # CSS page size
    font: str  # the table's font size: A3 is read from further away


PAPERS = {"a4": Paper("A4", "9pt"), "a3": Paper("A3", "11pt")}


def paper_choices() -> list[tuple[str, str]]:
    return [("a4", _("A4 landscape")), ("a3", _("A3 landscape"))]


def list_params(query: Mapping) -> dict[str, str]:
    """The list's filters among ``query`` (its GET parameters) as plain strings, JSON for a
    job: paging and the order dropped, as the Excel export drops them."""
    return {
        k: v
        for k, v in query.items()
        if k not in ("after", "before", "last", "size", "sort", "page") and isinstance(v, str) and v
    }


def list_sort(query: Mapping) -> str:
    """The list's order, when it is one of the list's own."""
    sort = query.get("sort", DEFAULT_SORT)
    return sort if sort in SORTS else DEFAULT_SORT


def ordered(items: QuerySet[Item], sort: str) -> QuerySet[Item]:
    return items.order_by(*SORTS[sort].sort.order_by())


# --- What the filter chose, in words ---------------------------------------------------------


def title_for(itemfilter: ItemFilter) -> str:
    """整改台账, after the round's name when the filter is one round."""
    round_id = _cleaned(itemfilter).get("round")
    name = None
    if round_id is not None:
        name = Round.objects.filter(pk=round_id).values_list("name", flat=True).first()
    if name:
        return _("%(round)s rectification ledger") % {"round": name}
    return _("Rectification ledger")


def conditions(user: User, itemfilter: ItemFilter) -> list[str]:
    """The reach of ``user`` and each filter applied, in words, in the filter's order; a
    value that did not parse is left out, as the list leaves it out."""
    out: list[str] = []
    if user.is_official:
        department = Department.objects.filter(pk=user.department_id).first()
        out.append(_("Items led by or shared with %(department)s") % {"department": department})
    elif user.is_leader:
        leader = Leader.objects.filter(pk=user.leader_id).first()
        out.append(_("Items under %(leader)s") % {"leader": leader})
    chosen = _cleaned(itemfilter)
    for name, field in itemfilter.form.fields.items():
        value = chosen.get(name)
        if value in (None, ""):
            continue
        if isinstance(value, bool):
            text = _("Yes") if value else _("No")
        else:
            text = _value_text(name, field, value)
        out.append(_("%(label)s: %(value)s") % {"label": field.label or name, "value": text})
    return out


def _cleaned(itemfilter: ItemFilter) -> dict:
    form = itemfilter.form
    return form.cleaned_data if itemfilter.is_bound and hasattr(form, "cleaned_data") else {}


def _value_text(name: str, field, value) -> str:
    if name == "round":
        return Round.objects.filter(pk=value).values_list("name", flat=True).first() or "—"
    if name in ("lead", "co"):
        return Department.objects.filter(pk=value).values_list("name", flat=True).first() or "—"
    if name == "leader":
        leader = Leader.objects.filter(pk=value).first()
        return str(leader) if leader else "—"
    if isinstance(value, datetime.date):
        return value.isoformat()
    choices = dict(getattr(field, "choices", ()) or ())
    return str(choices.get(value, value))


# --- The rows ------------------------------------------------------------------------------

VALUES = (
    "pk",
    "number",
    "title",
    "track",
    "leader__post",
    "leader__name",
    "lead_department__name",
    "deadline",
    "long_term",
    "state",
    "percent",
    "outcome",
    "outcome_kind",
    "ladder_step",
    "latest_id",
)


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= LATEST_CHARS else text[: LATEST_CHARS - 1] + "…"


def ledger_rows(items: QuerySet[Item]) -> Iterator[dict]:
    """One dict per item of ``items``, in their order, with what the printed ledger shows.

    The items and their joined names stream from the database in chunks; the
    co-responsible departments and the latest report of a chunk are read in one query
    each."""
    states = dict(Item.State.choices)
    tracks = dict(Item.Track.choices)
    steps = dict(Item.LadderStep.choices)
    long_term = pgettext("ledger column", "Long-term")
    kinds = {Item.OutcomeKind.LONG_TERM: long_term}
    today = timezone.localdate()
    days = calendar()
    latest = Progress.objects.filter(item=OuterRef("pk")).order_by("-created_at", "-pk")
    rows = (
        items.annotate(latest_id=Subquery(latest.values("pk")[:1]))
        .values_list(*VALUES)
        .iterator(chunk_size=CHUNK)
    )
    through = Item.co_departments.through
    n = 0
    while chunk := list(itertools.islice(rows, CHUNK)):
        co: dict[int, list[str]] = {}
        shares = (
            through.objects.filter(item_id__in=[r[0] for r in chunk])
            .order_by("department__order", "department__name")
            .values_list("item_id", "department__name")
        )
        for item_id, name in shares:
            co.setdefault(item_id, []).append(name)
        reports = {
            item_id: (on, text)
            for item_id, on, text in Progress.objects.filter(
                pk__in=[r[-1] for r in chunk if r[-1] is not None]
            ).values_list("item_id", "reported_on", "text")
        }
        for (
            pk,
            number,
            title,
            track,
            post,
            leader,
            lead,
            deadline,
            is_long_term,
            state,
            percent,
            outcome,
            outcome_kind,
            step,
            _latest,
        ) in chunk:
            n += 1
            due = deadline.isoformat() if deadline else "—"
            overdue = ""
            if state in Item.OPEN_STATES and deadline is not None and deadline < today:
                late = days.between(deadline, today)
                overdue = ngettext(
                    "Overdue by %(d)s working day", "Overdue by %(d)s working days", late
                ) % {"d": late}
            if outcome and state in (Item.State.REQUESTED, Item.State.CLOSED):
                kind = kinds.get(outcome_kind)
                when, text = "", f"{kind}：{outcome}" if kind else outcome
            elif pk in reports:
                on, text = reports[pk]
                when = on.isoformat()
            else:
                when, text = "", ""
            yield {
                "n": n,
                "number": number,
                "title": title,
                "track": str(tracks.get(track, track)),
                "post": post or "",
                "leader": leader or "",
                "lead": lead or "",
                "co": "、".join(co.get(pk, ())),
                "deadline": long_term if is_long_term else due,
                "state": str(states.get(state, state)),
                "overdue": overdue,
                "step": str(steps.get(step, "")),
                "percent": percent,
                "when": when,
                "latest": _cut(text),
            }


# --- The document --------------------------------------------------------------------------


def _css_string(text: str) -> str:
    """``text`` as a CSS string's inside: quotes, backslashes, line ends and ``<`` escaped
    (the stylesheet is inline, so ``</style>`` must never appear in it)."""
    out = []
    for ch in text:
        if ch in '"\\<>&' or ord(ch) < 0x20:
            out.append(f"\\{ord(ch):x} ")
        else:
            out.append(ch)
    return "".join(out)


def page_numbers_css() -> str:
    """The bottom margin's ``content``: "第 N 页 共 M 页" in the active language, with
    WeasyPrint's page counters in place of N and M."""
    marker = "\x00"
    text = _("Page %(page)s of %(pages)s") % {
        "page": f"{marker}page{marker}",
        "pages": f"{marker}pages{marker}",
    }
    parts = []
    for i, piece in enumerate(text.split(marker)):
        if i % 2:
            parts.append(f"counter({'pages' if piece == 'pages' else 'page'})")
        elif piece:
            parts.append(f'"{_css_string(piece)}"')
    return " ".join(parts)


def _css_content(text: str) -> str:
    return f'"{_css_string(text)}"'


# Rows laid out by WeasyPrint at a time: it keeps the memory of a whole layout until its file
# is written, so a ledger laid out in parts of this many rows needs what one part needs,
# however many rows it has (bench/README.md has the figures).
RENDER_ROWS = 500


@dataclasses.dataclass
class Printed:
    pages: int
    rows: int


def write_pdf(
    out,
    *,
    title: str,
    conditions: list[str],
    rows: list[dict],
    paper: str,
    today: datetime.date,
    progress: Callable[[int], None] | None = None,
) -> Printed:
    """Write the printed ledger of ``rows`` to the binary file ``out``.

    The rows are laid out in parts of RENDER_ROWS, each a PDF of its own; a part's last
    page, unless it is the ledger's last, is dropped and its rows begin the next part, so
    that no page ends early where two parts meet. The parts are then joined, and the
    running header and the page numbers ("第 N 页 共 M 页", WeasyPrint's page counters) are
    laid over every page from one more document of as many empty pages."""
    import tempfile

    from pypdf import PdfReader, PdfWriter
    from weasyprint import HTML

    from ledger.publication.fetcher import STATIC_BASE, StaticOnlyFetcher

    def html_of(template: str, context: dict):
        html = render_to_string(template, {**shared, **context})
        return HTML(string=html, base_url=STATIC_BASE, url_fetcher=StaticOnlyFetcher())

    shared = {
        "title": title,
        "paper": PAPERS[paper],
        "language": translation.get_language() or "zh-hans",
    }
    parts = []
    start = 0
    with contextlib.ExitStack() as stack:
        while True:
            batch = rows[start : start + RENDER_ROWS]
            last = start + RENDER_ROWS >= len(rows)
            document = html_of(
                "pdf/ledger.html",
                {
                    "first": start == 0,
                    "rows": batch,
                    "count": len(rows),
                    "conditions": conditions,
                    "printed": printed_text(today, len(rows)),
                },
            ).render()
            pages = document.pages
            carried = 0 if last else _rows_on_last_page(pages, batch)
            if carried:
                pages = pages[:-1]
            for page in pages:
                # The rows' ids found them on the page; the file needs no link targets.
                page.anchors.clear()
            part = stack.enter_context(tempfile.TemporaryFile())
            document.copy(pages).write_pdf(part)
            parts.append((part, len(pages)))
            del document, pages
            done = len(batch) - carried
            if progress:
                progress(done)
            start += done
            if last:
                break
        total = sum(n for _part, n in parts)
        margins = html_of(
            "pdf/ledger_margins.html",
            {
                "pages": range(total),
                "header_left": mark_safe(_css_content(title)),
                "header_right": mark_safe(_css_content(printed_text(today, len(rows)))),
                "page_numbers": mark_safe(page_numbers_css()),
            },
        ).write_pdf()
        writer = PdfWriter()
        for part, _n in parts:
            part.seek(0)
            writer.append(part)
        for page, over in zip(writer.pages, PdfReader(io.BytesIO(margins)).pages, strict=True):
            page.merge_page(over)
            page.compress_content_streams()
        writer.add_metadata({"/Title": title})
        writer.write(out)
    return Printed(pages=total, rows=len(rows))


def _rows_on_last_page(pages, batch: list[dict]) -> int:
    """How many rows of ``batch`` are on the last of ``pages``, to lay out again at the top
    of the next part. Each row's id is an anchor on every page the row is on. 0 when the
    last page is the only one, holds every row, or begins with the rest of a row split over
    two pages (dropping the page would lose that part of the row)."""
    if len(pages) < 2:
        return 0
    on_last = {int(a[1:]) for a in pages[-1].anchors if a.startswith("r")}
    before = {int(a[1:]) for a in pages[-2].anchors if a.startswith("r")}
    if not on_last or min(on_last) in before:
        return 0
    carried = sum(1 for row in batch if row["n"] >= min(on_last))
    return carried if carried < len(batch) else 0


def printed_text(today: datetime.date, count: int) -> str:
    """The line under the title, and the running header's right: the date and the count."""
    text = ngettext("Printed %(date)s · %(n)s item", "Printed %(date)s · %(n)s items", count)
    return text % {"date": date_format(today), "n": count}


# --- The job ---------------------------------------------------------------------------------

# A printed ledger holds at most this many items: more is a book, not a meeting's paper,
# and would hold the worker for long; a larger filter is asked to narrow, or to use Excel.
MAX_ITEMS = 10_000


def too_many_text() -> str:
    return _(
        "These filters select more than %(n)s items, more than a printed ledger holds. "
        "Narrow the filters, or export the ledger to Excel."
    ) % {"n": f"{MAX_ITEMS:,}"}


def file_name(title: str, today: datetime.date) -> str:
    return f"{title}-{today:%Y%m%d}.pdf".replace("/", "-").replace("\\", "-")


@task()
def print_job(
    job_id: int, user_id: int, params: dict[str, str], sort: str, paper: str, language: str
) -> None:
    """The printed ledger, in the background: what ``ledger_items`` gives this user for
    ``params`` (the list's filters) in the list's order, read when the job runs, in the
    language the user asked in."""
    import tempfile

    from django.core.files import File

    from ledger.selectors import ledger_items

    with jobs.running(job_id) as job, translation.override(language):
        user = User.objects.get(pk=user_id)
        ledger = ledger_items(user=user, params=params)
        items = ordered(ledger.items, sort if sort in SORTS else DEFAULT_SORT)
        count = items.order_by()[: MAX_ITEMS + 1].count()
        if count > MAX_ITEMS:
            raise jobs.JobError(too_many_text())
        job.set_total(count)
        title = title_for(ledger.filter)
        rows = list(ledger_rows(items))
        today = timezone.localdate()
        # A scratch file of this process: job.finish saves it to the default storage.
        with tempfile.TemporaryFile() as out:
            write_pdf(
                out,
                title=title,
                conditions=conditions(user, ledger.filter),
                rows=rows,
                paper=paper if paper in PAPERS else "a4",
                today=today,
                progress=job.advance,
            )
            out.seek(0)
            name = file_name(title, today)
            job.finish(file_name=name, content=File(out, name=name))
