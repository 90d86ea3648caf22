"""The snapshot: everything the public will see of a notice, drawn from the ledger once.

Published, it is frozen as JSON in ``Publication.snapshot`` and the page, the PDF and the
Excel annex are all rendered from it (``render.py``), never from the ledger again.

Only public fields go in: title, issuer, date, document number, version, the sections (their
figures filled in, their text masked) and, per annex round, every item that has left the
drafts with its suggestions, category, lead department, measures and outcome (all citizen
and department text masked) and its state in public words. Responsible persons, leaders,
deadlines, reasons, events, notes, progress and evidence never enter it.

A preview builds the same structure with ``preview=True``: the texts are then ``SafeString``
HTML with every masked span highlighted (``Masked.html()``), and the spans are listed so the
supervisor can lift one, and confirm or dismiss a possible name. A possible name nobody
decided on is masked, in the preview as in the publication.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from django.db.models import Prefetch
from django.utils.html import escape
from django.utils.translation import gettext as _

from ledger.models import Item, Suggestion

from . import figures as figures_mod
from . import markup
from .masking import KIND_LABELS, Masked, mask
from .models import Notice


def public_state(item: Item) -> str:
    """The state as the seeds' tables word it."""
    if item.state == Item.State.CLOSED:
        if item.outcome_kind == Item.OutcomeKind.LONG_TERM:
            return _("Kept up long-term, work continues")
        return _("Rectification complete")
    return _("Being rectified")


def chinese_date(value) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def _masked_slice(m: Masked, start: int, end: int) -> str:
    """``m.source[start:end]`` as masked: a span cut by the ends is shown whole, masked."""
    start, end = max(0, start), min(len(m.source), end)
    out, pos = [], start
    for span in m.spans:
        if span.end <= start or span.start >= end:
            continue
        out.append(m.source[pos : max(pos, span.start)])
        out.append(span.replacement)
        pos = max(pos, span.end)
    out.append(m.source[pos:end] if pos < end else "")
    return "".join(out)


class Masker:
    """Masks texts with the notice's terms and lifted spans, caching repeats, and collects
    the spans it masked (for the preview's list)."""

    def __init__(self, notice: Notice, preview: bool):
        self.preview = preview
        self.spans: dict[tuple[str, str], dict] = {}
        terms = [t for t in notice.terms if t]
        keep = [k for k in notice.keep if k]
        names = [n for n in notice.confirmed_names if n]
        not_names = [n for n in notice.dismissed_names if n]

        @lru_cache(maxsize=20_000)
        def _mask(text: str):
            return mask(text, terms=terms, keep=keep, names=names, not_names=not_names)

        self._mask = _mask

    def __call__(self, text: str) -> str:
        """Masked text: plain (escaped later by the template) or highlighted HTML."""
        if not text:
            return ""
        m = self._mask(text)
        if self.preview:
            for span in m.spans:
                key = (span.kind, span.original)
                if key not in self.spans:
                    self.spans[key] = {
                        "kind": span.kind,
                        "label": KIND_LABELS.get(span.kind, span.kind),
                        "original": span.original,
                        "replacement": span.replacement,
                        "count": 0,
                    }
                    if span.kind == "possible_name":
                        # Where it was first seen: the words around it decide whether it is
                        # a name.
                        self.spans[key]["before"] = _masked_slice(m, span.start - 12, span.start)
                        self.spans[key]["after"] = _masked_slice(m, span.end, span.end + 12)
                self.spans[key]["count"] += 1
            return m.html()
        return m.text

    def piece(self) -> Callable[[str], str]:
        """For the markup: a text run to HTML."""
        if self.preview:
            return self
        return lambda text: escape(self(text))


def sections(notice: Notice, masker: Masker) -> list[dict]:
    out = []
    for section in notice.sections.all():
        body = section.body
        if figures_mod.placeholders(body):
            values = figures_mod.compute(
                section.round_id, section.category_id, section.department_id
            )
            body = figures_mod.fill(body, values)
        out.append(
            {
                "heading": masker(markup.plain(section.heading)),
                "html": markup.to_html(body, masker.piece()),
            }
        )
    return out


def annex_items(round_id: int):
    return (
        Item.objects.filter(round_id=round_id)
        .exclude(state=Item.State.DRAFT)
        .select_related("category", "lead_department")
        .only(
            "number",
            "title",
            "state",
            "outcome_kind",
            "measures",
            "outcome",
            "category__name",
            "lead_department__name",
            "round_id",
        )
        .prefetch_related(
            Prefetch("suggestions", queryset=Suggestion.objects.only("item_id", "seq", "text"))
        )
        .order_by("category__order", "number")
    )


def annexes(notice: Notice, masker: Masker, advance: Callable[[int], None] | None = None):
    out = []
    rounds = sorted(notice.annex_rounds.all(), key=lambda r: (r.year, r.kind != "annual", r.pk))
    for r in rounds:
        rows = []
        for n, item in enumerate(annex_items(r.pk).iterator(chunk_size=500), start=1):
            texts = [s.text for s in item.suggestions.all()] or [item.title]
            rows.append(
                {
                    "n": n,
                    "suggestions": [masker(t) for t in texts],
                    "category": item.category.name if item.category else "",
                    "department": item.lead_department.name if item.lead_department else "",
                    "measures": masker(item.measures),
                    # A claimed outcome is the result only once a supervisor approved it.
                    "outcome": masker(item.outcome) if item.state == Item.State.CLOSED else "",
                    "state": public_state(item),
                }
            )
            if advance and n % 100 == 0:
                advance(100)
        if advance:
            advance(len(rows) % 100)
        out.append(
            {
                "round": r.name,
                "title": _("Completion of rectification, %(round)s") % {"round": r.name},
                "rows": rows,
            }
        )
    return out


def count_annex_rows(notice: Notice) -> int:
    return sum(
        Item.objects.filter(round_id=r.pk).exclude(state=Item.State.DRAFT).count()
        for r in notice.annex_rounds.all()
    )


def build(notice: Notice, *, preview: bool = False, advance=None) -> dict:
    masker = Masker(notice, preview)
    replaces = notice.replaces
    snapshot = {
        "id": notice.pk,
        "title": notice.title,
        "issuer": notice.issuer,
        "date": notice.date.isoformat(),
        "date_display": chinese_date(notice.date),
        "document_number": notice.document_number,
        "version": notice.version,
        "replaces": (
            {"id": replaces.pk, "version": replaces.version, "title": replaces.title}
            if replaces
            else None
        ),
        "sections": sections(notice, masker),
        "annexes": annexes(notice, masker, advance),
    }
    if preview:
        snapshot["spans"] = sorted(masker.spans.values(), key=lambda s: (s["kind"], s["original"]))
    else:
        snapshot["sections"] = [
            {"heading": s["heading"], "html": str(s["html"])} for s in snapshot["sections"]
        ]
    return snapshot
