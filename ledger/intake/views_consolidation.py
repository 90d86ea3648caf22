"""The consolidation page (归纳): a round's suggestions not yet in an item, in the groups
``propose_groups`` proposes, for a supervisor to accept, split, merge, or attach to an item
the round already has.

The proposal over a whole round (10,000 suggestions take a second or two) is computed once
and cached under a fingerprint of the round's waiting suggestions, so a page costs a fixed
number of queries whatever the round's size: the fingerprint, one page of suggestions, the
categories, the counts, the round's choices. How strict the proposal is, and the
supervisors' splits and merges (a short list of operations replayed over it), are kept for
the round in a ``ConsolidationChoice``, so every supervisor sees the same groups; an
operation about a suggestion that has since been consolidated simply no longer applies.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Max, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from ledger import jobs
from ledger.access import supervisor_required
from ledger.inputs import parse_id, parse_ids
from ledger.models import (
    Category,
    ConsolidationChoice,
    ConsolidationProposal,
    Item,
    Job,
    Round,
    Suggestion,
    User,
)

from . import consolidation as c

PAGE_SIZE = 30
# A group of hundreds of identical texts shows its first ones; all of them are confirmed.
SHOWN_MEMBERS = 20
CACHE_SECONDS = 3600
# A round of at most this many suggestions is grouped within the request (a second or so);
# a larger one in the background, so that no request's work grows with the round.
INLINE_SUGGESTIONS = 3000
MAX_OPERATIONS = 500
# "Merge more" and "merge less" move the threshold by this step, within these bounds (below
# them everything of a department reads alike, above them only copies do), widened when
# needed so that the default always has this many steps on either side.
THRESHOLD_STEP = 0.05
MIN_THRESHOLD = 0.30
MAX_THRESHOLD = 0.90
STEPS_AROUND_DEFAULT = 3


# --- The proposal and the supervisor's edits -------------------------------------------------


def _proposal(round: Round, threshold: float) -> c.Proposal | Job:
    """The proposal for the round's waiting suggestions at this threshold, while they are
    the same ones (their count, highest id and sum of ids): from this process's cache, or
    from the database, or made now for a round small enough to group within the request.
    A larger round is grouped in the background: its job is returned, to show its
    progress, and the page shows the proposal once it is made."""
    waiting = Suggestion.objects.filter(round=round, item__isnull=True)
    f = waiting.aggregate(n=Count("pk"), top=Max("pk"), total=Sum("pk"))
    if not f["n"]:
        return c.Proposal([], {})
    key = f"{f['n']}:{f['top']}:{f['total']}:{threshold:.4f}"
    cache_key = f"consolidation:{round.pk}:{key}"
    cached = cache.get(cache_key)
    if cached is not None:
        return cached
    stored = ConsolidationProposal.objects.filter(round=round, key=key).select_related("job")
    found = stored.first()
    if found is not None and found.groups is not None:
        proposal = c.stored_proposal(found)
        cache.set(cache_key, proposal, CACHE_SECONDS)
        return proposal
    if found is not None and found.job is not None and found.job.state != Job.State.FAILED:
        return found.job
    if Suggestion.objects.filter(round=round).count() <= INLINE_SUGGESTIONS:
        proposal = c.propose_for_round(round, threshold=threshold)
        c.store_proposal(round, key, proposal)
        cache.set(cache_key, proposal, CACHE_SECONDS)
        return proposal
    return _start_grouping(round, threshold, key)


def _start_grouping(round: Round, threshold: float, key: str) -> Job:
    """Queue the grouping of the round, once: of two pages asking at once, one queues it
    (the unique key) and the other shows its progress. A failed attempt is tried again."""
    with transaction.atomic():
        ConsolidationProposal.objects.filter(
            round=round, key=key, groups__isnull=True, job__state=Job.State.FAILED
        ).delete()
        placeholder, made = ConsolidationProposal.objects.get_or_create(round=round, key=key)
    if not made and placeholder.job_id:
        return placeholder.job
    job = jobs.enqueue(
        c.propose_round_job,
        kind="propose",
        by=None,
        title=_("Grouping the suggestions of %(round)s") % {"round": round.name},
        round_id=round.pk,
        threshold=threshold,
        key=key,
    )
    ConsolidationProposal.objects.filter(pk=placeholder.pk).update(job=job)
    stored = ConsolidationProposal.objects.filter(pk=placeholder.pk).first()
    if stored is not None and stored.groups is not None:
        return c.stored_proposal(stored)  # the immediate backend has made it already
    return job


def _choice(round: Round) -> ConsolidationChoice:
    """The round's choices, or the defaults (unsaved) while nobody has made one."""
    found = ConsolidationChoice.objects.select_related("updated_by").filter(round=round).first()
    return found or ConsolidationChoice(round=round)


def _threshold(choice: ConsolidationChoice) -> float:
    return c.DEFAULT_THRESHOLD if choice.threshold is None else choice.threshold


def _on_grid(value: float) -> float:
    """``value`` on the steps' grid: 0.6 − 0.05 is 0.55, not 0.5499999."""
    return round(round(value / THRESHOLD_STEP) * THRESHOLD_STEP, 2)


def threshold_bounds() -> tuple[float, float]:
    """The lowest and highest threshold the control goes to."""
    default = _on_grid(c.DEFAULT_THRESHOLD)
    around = STEPS_AROUND_DEFAULT * THRESHOLD_STEP
    return (
        max(THRESHOLD_STEP, min(MIN_THRESHOLD, _on_grid(default - around))),
        min(1 - THRESHOLD_STEP, max(MAX_THRESHOLD, _on_grid(default + around))),
    )


def _percent(value: float) -> int:
    return round(value * 100)


def _change(
    round: Round, by: User, change: Callable[[ConsolidationChoice], None]
) -> ConsolidationChoice:
    """Apply ``change`` to the round's choices under a row lock, so that two supervisors
    splitting at the same moment both keep their split."""
    ConsolidationChoice.objects.get_or_create(round=round)
    with transaction.atomic():
        choice = ConsolidationChoice.objects.select_for_update().get(round=round)
        change(choice)
        choice.updated_by = by
        choice.updated_at = timezone.now()
        choice.save()
    return choice


def _save_operation(round: Round, by: User, op: list) -> None:
    def add(choice: ConsolidationChoice) -> None:
        choice.operations = [*choice.operations[-(MAX_OPERATIONS - 1) :], op]

    _change(round, by, add)


def _ordered(groups: list[list[int]], repeats: dict[int, int]) -> list[list[int]]:
    """Late re-sends of items already in the ledger first, then groups of several
    suggestions, the largest first; then the single ones, each in the order received."""
    return sorted(
        groups,
        key=lambda g: (not any(pk in repeats for pk in g), len(g) == 1, -len(g), g[0]),
    )


# --- The page --------------------------------------------------------------------------------


@dataclass
class Card:
    key: int  # the group's smallest suggestion id: stable while the group stands
    ids: list[int]
    shown: list[Suggestion] = field(default_factory=list)
    title: str = ""
    category: str = ""  # a Category pk, as text for the form
    item_number: str = ""
    repeats: Item | None = None  # the existing item these suggestions seem to repeat
    picked: bool = False
    errors: dict[str, str] = field(default_factory=dict)
    # Why the texts were put together (consolidation.explain): a percentage, and the words
    # they share, highlighted in each text.
    score: int | None = None
    terms: list[str] = field(default_factory=list)
    # Why it seems to repeat ``repeats``: its title against the texts, the same way.
    repeat_score: int | None = None
    repeat_terms: list[str] = field(default_factory=list)

    @property
    def hidden_count(self) -> int:
        return len(self.ids) - len(self.shown)

    @property
    def members(self) -> str:
        return ",".join(map(str, self.ids))


def _page_number(request: HttpRequest) -> int:
    raw = request.POST.get("page") or request.GET.get("page") or "1"
    return parse_id(raw) or 1


def _cards(
    round: Round,
    groups: list[list[int]],
    categories: list[tuple[int, str]],
    repeats: dict[int, int],
) -> list[Card]:
    """Cards for one page of groups: one query for their suggestions, one for the items
    they seem to repeat."""
    shown_ids = [pk for g in groups for pk in g[:SHOWN_MEMBERS]]
    rows = Suggestion.objects.filter(round=round, item__isnull=True, pk__in=shown_ids).only(
        "pk", "seq", "text", "category_text", "category_id", "round_id", "item_id"
    )
    by_pk = {s.pk: s for s in rows}
    wanted = {repeats[pk] for g in groups for pk in g if pk in repeats}
    items = Item.objects.filter(round=round).in_bulk(wanted) if wanted else {}
    cards = []
    for g in groups:
        shown = [by_pk[pk] for pk in g[:SHOWN_MEMBERS] if pk in by_pk]
        if not shown:
            continue  # consolidated since the proposal was cached
        texts = [s.text for s in shown]
        best = shown[c.representative(texts)]
        category = c.group_category(((s.category_id, s.category_text) for s in shown), categories)
        votes = Counter(repeats[pk] for pk in g if pk in repeats)
        item = items.get(votes.most_common(1)[0][0]) if votes else None
        card = Card(
            key=g[0],
            ids=g,
            shown=shown,
            title=c.draft_title(best.text),
            category=str(category or ""),
            item_number=item.number if item else "",
            repeats=item,
        )
        if len(shown) > 1:
            why = c.explain(texts)
            card.score = _percent(why.score or 0.0)
            card.terms = why.terms
        if item is not None:
            # Against each text alone: a title is short, and the group's own likeness
            # would hide how near the item is.
            whys = [c.explain([item.title, text]) for text in texts]
            card.repeat_score = _percent(max(w.score or 0.0 for w in whys))
            card.repeat_terms = list(dict.fromkeys(t for w in whys for t in w.terms))
        cards.append(card)
    return cards


def _render(
    request: HttpRequest,
    round: Round,
    *,
    posted: dict[int, Card] | None = None,
    alert: str = "",
    status: int = 200,
) -> HttpResponse:
    choice = _choice(round)
    threshold = _threshold(choice)
    lowest, highest = threshold_bounds()
    proposal = _proposal(round, threshold)
    grouping = proposal if isinstance(proposal, Job) else None
    if grouping is not None:
        proposal = c.Proposal([], {})
    groups = _ordered(c.apply_operations(proposal.groups, choice.operations), proposal.repeats)
    pages = max(1, -(-len(groups) // PAGE_SIZE))
    page = min(_page_number(request), pages)
    categories = list(Category.objects.filter(round=round).values_list("pk", "name"))
    cards = _cards(
        round, groups[(page - 1) * PAGE_SIZE : page * PAGE_SIZE], categories, proposal.repeats
    )
    for card in cards:
        # A refused confirm keeps what was typed, card by card.
        if posted and card.key in posted:
            typed = posted[card.key]
            card.title, card.category, card.item_number = (
                typed.title,
                typed.category,
                typed.item_number,
            )
            card.picked, card.errors = typed.picked, typed.errors
    received, items, awaiting = c.round_counts(round)
    multi = sum(1 for g in groups if len(g) > 1)
    return render(
        request,
        "intake/consolidation.html",
        {
            "round": round,
            "cards": cards,
            "categories": categories,
            "page": page,
            "pages": pages,
            "page_range": range(1, pages + 1) if pages <= 12 else None,
            "received": received,
            "items": items,
            "awaiting": awaiting,
            "group_count": len(groups),
            "multi_count": multi,
            "choice": choice,
            "edited": bool(choice.operations),
            "threshold": _percent(threshold),
            "default_threshold": _percent(c.DEFAULT_THRESHOLD),
            "can_merge_more": threshold > lowest + 1e-9,
            "can_merge_less": threshold < highest - 1e-9,
            "alert": alert,
            "grouping": grouping,
        },
        status=status,
    )


def _round(pk: int) -> Round:
    return get_object_or_404(Round, pk=pk)


def _back(round: Round, page: int, anchor: str = "") -> HttpResponse:
    url = reverse("intake:consolidate", args=[round.pk])
    return redirect(f"{url}?page={page}{'#' + anchor if anchor else ''}")


@login_required
@supervisor_required
def consolidate(request: HttpRequest, pk: int) -> HttpResponse:
    return _render(request, _round(pk))


def _ids(raw: str) -> list[int]:
    return parse_ids(p.strip() for p in raw.split(","))


@login_required
@supervisor_required
@require_POST
def confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """The ticked groups (or every group of the page) become items, or join the item whose
    number was given: all of them or none."""
    round = _round(pk)
    everything = request.POST.get("all") == "1"
    posted: dict[int, Card] = {}
    for raw_key in request.POST.getlist("group"):
        if (key := parse_id(raw_key)) is None:
            continue
        posted[key] = Card(
            key=key,
            ids=_ids(request.POST.get(f"members-{key}", "")),
            title=request.POST.get(f"title-{key}", "").strip(),
            category=request.POST.get(f"category-{key}", "").strip(),
            item_number=request.POST.get(f"item-{key}", "").strip(),
            picked=everything or raw_key in request.POST.getlist("pick"),
        )
    picked = [card for card in posted.values() if card.picked and card.ids]
    if not picked:
        return _render(
            request,
            round,
            posted=posted,
            alert=_("Tick at least one group, or create items from every group on the page."),
            status=400,
        )
    categories = set(Category.objects.filter(round=round).values_list("pk", flat=True))
    numbers = {card.item_number for card in picked if card.item_number}
    existing = {i.number: i for i in Item.objects.filter(round=round, number__in=numbers)}
    accepted = []
    for card in picked:
        if card.item_number:
            item = existing.get(card.item_number)
            if item is None:
                card.errors["item"] = _("This round has no item numbered %(number)s.") % {
                    "number": card.item_number
                }
            accepted.append(c.AcceptedGroup(card.ids, item=item))
            continue
        if not card.title:
            card.errors["title"] = _("Give the item a title.")
        category_id = parse_id(card.category)
        if card.category and category_id not in categories:
            card.errors["category"] = _("Choose one of the round's categories.")
        accepted.append(c.AcceptedGroup(card.ids, title=card.title, category_id=category_id))
    if any(card.errors for card in picked):
        return _render(
            request,
            round,
            posted=posted,
            alert=_("Nothing was written. Correct what is marked in red."),
            status=400,
        )
    try:
        c.consolidate(round, accepted, by=request.user)
    except c.ConsolidationError as error:
        return _render(request, round, posted=posted, alert=str(error), status=409)
    made = sum(1 for card in picked if not card.item_number)
    linked = sum(len(card.ids) for card in picked)
    text = ngettext(
        "%(n)d suggestion linked: %(made)d new item, %(joined)d group joined existing items.",
        "%(n)d suggestions linked: %(made)d new items, %(joined)d groups joined existing items.",
        linked,
    ) % {"n": linked, "made": made, "joined": len(picked) - made}
    messages.success(request, text)
    return _back(round, _page_number(request))


@login_required
@supervisor_required
@require_POST
def merge(request: HttpRequest, pk: int) -> HttpResponse:
    """The ticked groups become one group."""
    round = _round(pk)
    keys = parse_ids(request.POST.getlist("pick"))
    if len(keys) < 2:
        messages.error(request, _("Tick two groups or more to merge them."))
        return _back(round, _page_number(request))
    _save_operation(round, request.user, ["merge", keys])
    messages.success(request, _("The ticked groups were merged into one."))
    return _back(round, _page_number(request), f"g{min(keys)}")


@login_required
@supervisor_required
@require_POST
def split(request: HttpRequest, pk: int) -> HttpResponse:
    """One suggestion leaves its group and becomes a group of its own."""
    round = _round(pk)
    suggestion = parse_id(request.POST.get("split", ""))
    if suggestion is not None:
        _save_operation(round, request.user, ["split", suggestion])
        messages.success(request, _("The suggestion now stands alone, among the single ones."))
    return _back(round, _page_number(request))


@login_required
@supervisor_required
@require_POST
def reset(request: HttpRequest, pk: int) -> HttpResponse:
    """Back to the groups as proposed: every split and merge of the round is forgotten.
    The threshold stays; its own control takes it back to the default."""
    round = _round(pk)

    def forget(choice: ConsolidationChoice) -> None:
        choice.operations = []

    _change(round, request.user, forget)
    messages.success(request, _("The groups are back as proposed."))
    return _back(round, 1)


@login_required
@supervisor_required
@require_POST
def change_threshold(request: HttpRequest, pk: int) -> HttpResponse:
    """Merge more (a lower threshold: fewer, larger groups), merge less (a higher one: more,
    smaller groups), or back to the default, for the round; the page is drawn again from
    its first page, the splits and merges replayed over the new proposal."""
    round = _round(pk)
    move = request.POST.get("move", "")
    lowest, highest = threshold_bounds()

    def step(choice: ConsolidationChoice) -> None:
        now = _threshold(choice)
        if move == "more":
            new = max(lowest, _on_grid(now - THRESHOLD_STEP))
        elif move == "less":
            new = min(highest, _on_grid(now + THRESHOLD_STEP))
        else:
            new = c.DEFAULT_THRESHOLD
        # The default is stored as no choice, so that the round follows it when retuned.
        choice.threshold = None if math.isclose(new, c.DEFAULT_THRESHOLD) else new

    if move in ("more", "less", "default"):
        _change(round, request.user, step)
    return _back(round, 1)


@login_required
@supervisor_required
@require_POST
def confirm_all(request: HttpRequest, pk: int) -> HttpResponse:
    """Every group of the round, as proposed and as split or merged, becomes an item (or
    joins the item it repeats), in the background: a round of thousands is one click."""
    round = _round(pk)
    choice = _choice(round)
    job = jobs.enqueue(
        c.consolidate_round_job,
        kind="consolidate",
        by=request.user,
        title=_("Consolidation of %(round)s") % {"round": round.name},
        round_id=round.pk,
        user_id=request.user.pk,
        operations=choice.operations,
        threshold=_threshold(choice),
    )
    return redirect(job)
