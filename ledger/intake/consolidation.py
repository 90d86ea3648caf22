"""Consolidation (归纳): proposing groups of identical and near-identical suggestions, and
turning the groups a supervisor accepts into items.

The proposal (``propose_groups``) is a pure function over ``(id, text)`` pairs, with no
database, so that it can be tested and benched alone. docs/consolidation.md explains the
choices; in short:

1. Texts are normalised (NFKC folds full-width digits, Latin and punctuation to their
   half-width forms; Latin is lower-cased; whitespace, punctuation and symbols are dropped),
   and equal normalised texts are one group at once.
2. Each distinct normalised text becomes its set of character bigrams. Candidate pairs come
   from an inverted index over each text's *rarest* bigrams only (prefix filtering, as in
   the All-Pairs algorithm): two sets as similar as the threshold asks must share one of
   those, so no pair that could pass is missed and the common bigrams of every complaint
   ("建议" "希望" "政府") never produce candidates on their own.
3. A candidate is kept when its Jaccard similarity reaches the threshold, or when the
   shorter text is almost wholly contained in the longer one and not much shorter (a
   suggestion sent again with one clause more or less). Union-find makes the groups.

The writes (``consolidate``, ``attach``) take the groups as the supervisor saw them and
either write every one of them or nothing.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import task

from ledger import jobs, numbering, workflow
from ledger.models import Category, Item, Round, Suggestion, User

# Chosen on the demo rounds and on near-duplicates made from the seed notices
# (docs/consolidation.md, "threshold"): true re-sends score 0.7 and up, different
# complaints that share a department's vocabulary stay under 0.5.
DEFAULT_THRESHOLD = 0.6
# A text this much contained in a longer one is the same suggestion with a clause added…
CONTAINMENT = 0.85
# …provided it is at least this share of the longer one's length.
CONTAINMENT_MIN_RATIO = 0.6
# Texts with fewer bigrams than this are too short for similarity to mean anything
# ("无" "同上" "没有意见"): they group only when equal after normalisation.
MIN_BIGRAMS = 4
# A text joins its group through its most alike texts; past this many, more are not looked
# for (see propose_groups).
MAX_MATCHES = 30

_DROP = re.compile(r"[\W_]+")
_LONG_NUMBER = re.compile(r"\d{7,}")
# A place as citizens name it: two characters and the word that makes them a place
# (新圩镇, 红星村, 中山路, 玉东大道). Two texts that both name places but not one in common are
# the same complaint about two places: two items, however alike the rest.
_PLACE = re.compile(
    r"[\u4e00-\u9fff]{2}(?:街道|社区|大道|小区|花园|中学|小学|幼儿园|学校|医院|卫生院|市场|园区"
    r"|省|市|县|区|镇|乡|村|屯|路|街|巷|河|江|湖|桥|站|城|苑|湾|府|园|庄|寨)"
)


def normalise(text: str) -> str:
    """The text with full-width forms folded, Latin lower-cased, and only letters and digits
    kept: "学校 周边，１２路" and "学校周边12路" are the same."""
    return _DROP.sub("", unicodedata.normalize("NFKC", text).lower())


def places(text: str) -> frozenset[str]:
    """The places a text names. Read from the text before normalisation, so that a match
    never runs across a clause's end ("进城，路更堵了" names no 城路)."""
    return frozenset(_PLACE.findall(unicodedata.normalize("NFKC", text)))


def bigrams(norm: str) -> set[str]:
    if len(norm) < 2:
        return {norm} if norm else set()
    return {norm[i : i + 2] for i in range(len(norm) - 1)}


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def similarity(a: set, b: set, threshold: float = DEFAULT_THRESHOLD) -> float:
    """How alike two bigram sets are as one suggestion, 0 when not alike enough: their
    Jaccard similarity, or for a text nearly contained in a longer one, its containment."""
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    if len(small) < MIN_BIGRAMS:
        return 0.0
    common = len(small & large)
    jaccard = common / (len(small) + len(large) - common)
    if jaccard >= threshold:
        return jaccard
    contained = common / len(small)
    if len(small) >= CONTAINMENT_MIN_RATIO * len(large) and contained >= CONTAINMENT:
        return contained
    return 0.0


def _other_places(a: frozenset[str], a_norm: str, b: frozenset[str], b_norm: str) -> bool:
    """Each text names a place the other does not: the same complaint about two places.
    (A re-send that leaves out the address names fewer places, not others.)"""
    return any(p not in b_norm for p in a) and any(p not in a_norm for p in b)


def _candidate_threshold(threshold: float) -> float:
    """The lowest Jaccard a pair that ``similar`` accepts can have: the prefix filter must
    let every such pair through. Contained to CONTAINMENT at the length ratio r gives
    J = c·r / (1 + r − c·r), smallest at the smallest r."""
    c, r = CONTAINMENT, CONTAINMENT_MIN_RATIO
    return min(threshold, c * r / (1 + r - c * r))


def propose_groups(
    suggestions: Sequence[tuple[int, str]], *, threshold: float = DEFAULT_THRESHOLD
) -> list[list[int]]:
    """Groups of the ids whose texts are the same suggestion, every id in exactly one group
    (a suggestion like no other is a group of one). Groups and their ids keep the input's
    order of first appearance."""
    # 1. Exact duplicates after normalisation. An empty text (punctuation only) is never
    # grouped: there is nothing to say it repeats another.
    by_norm: dict[str, int] = {}
    texts: list[str] = []
    originals: list[str] = []  # one received text per distinct normalised text
    slot_of: list[int] = []
    for _id, text in suggestions:
        norm = normalise(text)
        if not norm:
            slot_of.append(len(texts))
            texts.append("")
            originals.append("")
            continue
        slot = by_norm.get(norm)
        if slot is None:
            slot = by_norm[norm] = len(texts)
            texts.append(norm)
            originals.append(text)
        slot_of.append(slot)

    # 2. Near duplicates among the distinct texts. Bigrams become ints ranked by how many
    # texts hold them, rarest first, so that a text's prefix is its rarest bigrams.
    sets = [bigrams(t) for t in texts]
    df: Counter[str] = Counter()
    for s in sets:
        df.update(s)
    rank = {g: i for i, (g, _n) in enumerate(sorted(df.items(), key=lambda kv: (kv[1], kv[0])))}
    tokens = [sorted(rank[g] for g in s) for s in sets]
    int_sets = [frozenset(t) for t in tokens]
    place_sets = [places(t) for t in originals]

    cand_t = _candidate_threshold(threshold)
    index: dict[int, list[int]] = defaultdict(list)
    edges: list[tuple[float, int, int]] = []
    # Shorter texts first: each text is probed against the shorter-or-equal ones indexed
    # before it, so every pair is looked at once, from its longer side.
    order = sorted(range(len(texts)), key=lambda i: len(tokens[i]))
    for x in order:
        toks = tokens[x]
        size = len(toks)
        if size < MIN_BIGRAMS:
            continue
        # Probe with the prefix that any pair at cand_t must share a bigram in; index only
        # the shorter prefix that suffices for the longer texts probing later (All-Pairs).
        prefix = size - math.ceil(cand_t * size) + 1
        indexed = size - math.ceil(2 * cand_t / (1 + cand_t) * size) + 1
        min_size = cand_t * size
        seen: set[int] = set()
        xs = int_sets[x]
        matched = 0
        for tok in toks[:prefix]:
            for y in index[tok]:
                if y in seen:
                    continue
                seen.add(y)
                if len(tokens[y]) >= min_size:
                    score = similarity(xs, int_sets[y], threshold)
                    if score and not _other_places(
                        place_sets[x], texts[x], place_sets[y], texts[y]
                    ):
                        edges.append((score, x, y))
                        matched += 1
                        # Enough to place x in its group: a campaign of thousands of
                        # copies of one text, each with its own phone number, would
                        # otherwise compare every pair.
                        if matched >= MAX_MATCHES:
                            break
            if matched >= MAX_MATCHES:
                break
        for tok in toks[:indexed]:
            index[tok].append(x)

    # Most similar pairs first, and a pair joins two groups only if no member of one names
    # a place the other group never names: A like B and A like C does not make B and C,
    # about two places, one item.
    uf = _UnionFind(len(texts))
    # Per group, one member for each set of places its members name: the others cannot
    # conflict, and a thousand copies naming the same place need one check, not a thousand.
    placed: dict[int, dict[frozenset[str], int]] = {
        i: {place_sets[i]: i} for i in range(len(texts)) if place_sets[i]
    }
    for _score, x, y in sorted(edges, reverse=True):
        rx, ry = uf.find(x), uf.find(y)
        if rx == ry:
            continue
        px, py = placed.pop(rx, {}), placed.pop(ry, {})
        if any(
            _other_places(place_sets[a], texts[a], place_sets[b], texts[b])
            for a in px.values()
            for b in py.values()
        ):
            placed.update({k: v for k, v in ((rx, px), (ry, py)) if v})
            continue
        uf.union(rx, ry)
        if px or py:
            placed[uf.find(rx)] = py | px

    # 3. Groups, in the order their first member was given.
    groups: dict[int, list[int]] = {}
    for (id_, _text), slot in zip(suggestions, slot_of, strict=True):
        groups.setdefault(uf.find(slot), []).append(id_)
    return list(groups.values())


@dataclass
class Explanation:
    """Why a group was proposed: how alike its texts are, and the words they share."""

    score: float | None  # the mean similarity of its pairs, 0–1; None for a single text
    terms: list[str]  # words at least two of its texts share, the most telling first


def explain(texts: Sequence[str], limit: int = 8) -> Explanation:
    """The score and shared words of a group of texts, for the supervisor to judge it."""
    if len(texts) < 2:
        return Explanation(None, [])
    sets = [bigrams(normalise(t)) for t in texts]
    pairs = [(i, j) for i in range(len(sets)) for j in range(i + 1, len(sets))]
    total = 0.0
    for i, j in pairs:
        union = len(sets[i] | sets[j])
        total += len(sets[i] & sets[j]) / union if union else 0.0
    shared = Counter(g for s in sets for g in s)
    terms = [g for g, n in shared.most_common() if n >= 2][:limit]
    return Explanation(total / len(pairs), terms)


def representative(texts: Sequence[str]) -> int:
    """The index of the text most like the others of its group (the medoid by bigram
    Jaccard), the proposed item title. A text typed with its punctuation reads better as a
    title than one typed without, so it wins a near tie, and one without a phone or ID
    number is preferred; then the earlier one."""
    sets = [bigrams(normalise(t)) for t in texts]

    def score(i: int) -> float:
        total = 0.0
        for j, other in enumerate(sets):
            if j != i:
                union = len(sets[i] | other)
                total += len(sets[i] & other) / union if union else 0.0
        punctuated = any(mark in texts[i] for mark in "，。,")
        # A phone or ID number is the citizen's, not the item's: the title would carry it
        # into the ledger and its exports.
        personal = _LONG_NUMBER.search(unicodedata.normalize("NFKC", texts[i]))
        return total + (0.1 if punctuated else 0.0) - (0.3 if personal else 0.0)

    return max(range(len(texts)), key=lambda i: (score(i), -i))


def title_for(text: str) -> str:
    """An item title from a suggestion's text: one line, within the field's length."""
    line = " ".join(text.split())
    limit = Item._meta.get_field("title").max_length
    return line if len(line) <= limit else line[: limit - 1] + "…"


def match_category(category_text: str, categories: Sequence[tuple[int, str]]) -> int | None:
    """The round's category meant by a category as received: the same name, one inside the
    other ("经济" → "经济发展"), or the name sharing most of its characters; else None."""
    text = normalise(category_text)
    if not text:
        return None
    names = [(pk, normalise(name)) for pk, name in categories]
    for pk, name in names:
        if name == text:
            return pk
    inside = [(len(name), pk) for pk, name in names if name and (text in name or name in text)]
    if inside:
        return min(inside)[1]
    best, best_score = None, 0.5
    for pk, name in names:
        if name:
            score = len(set(text) & set(name)) / len(set(text) | set(name))
            if score > best_score:
                best, best_score = pk, score
    return best


def group_category(
    members: Iterable[tuple[int | None, str]], categories: Sequence[tuple[int, str]]
) -> int | None:
    """The category most of a group's suggestions were received under, or None. Members
    are (category_id, category_text): a suggestion put under one of the round's categories
    at import counts as that one, whatever its words; the others count as their words
    match."""
    known = {pk for pk, _name in categories}
    votes = Counter(
        pk
        for pk in (
            category_id if category_id in known else match_category(text, categories)
            for category_id, text in members
        )
        if pk is not None
    )
    return votes.most_common(1)[0][0] if votes else None


# --- Reading a round ------------------------------------------------------------------------


def round_counts(round: Round) -> tuple[int, int, int]:
    """(suggestions received, items of the round, suggestions not yet in an item): the
    "547 received → 538 items" of a round, in two queries."""
    counts = Suggestion.objects.filter(round=round).aggregate(
        received=Count("pk"), awaiting=Count("pk", filter=Q(item__isnull=True))
    )
    items = Item.objects.filter(round=round).count()
    return counts["received"], items, counts["awaiting"]


@dataclass
class Proposal:
    groups: list[list[int]]  # of the waiting suggestions' ids
    # A waiting suggestion that repeats one already in an item → that item's id: a late
    # re-send is proposed to join the item rather than to become a new one.
    repeats: dict[int, int]


def propose_for_round(round: Round, *, threshold: float = DEFAULT_THRESHOLD) -> Proposal:
    """The groups of the round's suggestions not yet in an item (one query, then
    ``propose_groups``). The round's consolidated suggestions take part, so that a waiting
    one like them is found; the groups keep only the waiting ids."""
    rows = list(
        Suggestion.objects.filter(round=round).order_by("seq").values_list("pk", "text", "item_id")
    )
    item_of = {pk: item for pk, _text, item in rows if item is not None}
    groups: list[list[int]] = []
    repeats: dict[int, int] = {}
    for group in propose_groups([(pk, text) for pk, text, _item in rows], threshold=threshold):
        fresh = [pk for pk in group if pk not in item_of]
        if not fresh:
            continue
        groups.append(fresh)
        items = Counter(item_of[pk] for pk in group if pk in item_of)
        if items:
            repeats.update(dict.fromkeys(fresh, items.most_common(1)[0][0]))
    return Proposal(groups, repeats)


def apply_operations(groups: list[list[int]], ops: list) -> list[list[int]]:
    """The groups after a supervisor's splits (``["split", id]``: the suggestion leaves
    its group and stands alone) and merges (``["merge", [id, …]]``: the groups holding
    these suggestions become one), in the order they were made. An operation about a
    suggestion no longer waiting does nothing."""
    group_of: dict[int, int] = {}
    members: dict[int, list[int]] = {}
    for n, g in enumerate(groups):
        members[n] = list(g)
        for pk in g:
            group_of[pk] = n
    fresh = len(groups)
    for op in ops:
        kind, arg = op[0], op[1]
        if kind == "split" and arg in group_of and len(members[group_of[arg]]) > 1:
            members[group_of[arg]].remove(arg)
            members[fresh] = [arg]
            group_of[arg] = fresh
            fresh += 1
        elif kind == "merge":
            targets = sorted({group_of[pk] for pk in arg if pk in group_of})
            if len(targets) < 2:
                continue
            into = targets[0]
            for t in targets[1:]:
                for pk in members.pop(t):
                    group_of[pk] = into
                    members[into].append(pk)
    return [sorted(g) for g in members.values() if g]


# --- Writing ---------------------------------------------------------------------------------


class ConsolidationError(Exception):
    """Nothing was written; the message says why, naming the suggestion or item."""


@dataclass
class AcceptedGroup:
    """A group as the supervisor confirmed it: its suggestions, and either a new item's
    title and category, or an existing item of the round to join."""

    suggestion_ids: list[int]
    title: str = ""
    category_id: int | None = None
    item: Item | None = None


def _lock_awaiting(round: Round, ids: list[int]) -> dict[int, Suggestion]:
    """The suggestions, locked, after checking each is the round's and still in no item."""
    # No join here: PostgreSQL cannot lock the nullable side of an outer join, and only
    # the suggestions' rows need the lock.
    rows = {
        s.pk: s
        for s in Suggestion.objects.select_for_update()
        .filter(pk__in=ids)
        .only("pk", "seq", "round_id", "item_id")
    }
    for pk in ids:
        row = rows.get(pk)
        if row is None or row.round_id != round.pk:
            raise ConsolidationError(
                _("Suggestion #%(pk)d is not one of this round's suggestions any more.")
                % {"pk": pk}
            )
        if row.item_id is not None:
            item = Item.all_objects.only("number", "title").get(pk=row.item_id)
            raise ConsolidationError(
                _(
                    "Suggestion No. %(seq)d has meanwhile been put into item %(number)s "
                    "(%(title)s). Nothing was written: the page now shows the suggestions "
                    "still waiting."
                )
                % {"seq": row.seq, "number": item.number, "title": item.title}
            )
    return rows


def consolidate(round: Round, groups: Sequence[AcceptedGroup], *, by: User) -> list[Item]:
    """Every group becomes one item (a draft) or joins the item it names, and every
    suggestion in it is linked to that item: all in one transaction, or nothing.

    A suggestion that someone else consolidated since the page was drawn, or that appears
    in two groups, refuses the whole batch with a message that names it."""
    if not by.is_supervisor:
        raise ConsolidationError(_("Only a supervisor may consolidate suggestions."))
    ids = [pk for g in groups for pk in g.suggestion_ids]
    if not ids:
        raise ConsolidationError(_("Tick at least one group."))
    if len(set(ids)) != len(ids):
        twice = next(pk for pk, n in Counter(ids).items() if n > 1)
        raise ConsolidationError(
            _("Suggestion #%(pk)d is in two groups; keep it in one.") % {"pk": twice}
        )
    with transaction.atomic():
        # The round's row is the lock that serialises two supervisors numbering new items
        # of the same round; the suggestions' rows stop a second linking of a suggestion.
        Round.objects.select_for_update().filter(pk=round.pk).first()
        rows = _lock_awaiting(round, ids)
        existing = [g.item.pk for g in groups if g.item is not None]
        if existing:
            found = set(
                Item.objects.filter(round=round, pk__in=existing).values_list("pk", flat=True)
            )
            for g in groups:
                if g.item is not None and g.item.pk not in found:
                    raise ConsolidationError(
                        _("Item %(number)s is not an item of this round.")
                        % {"number": g.item.number}
                    )
        numbers = iter(numbering.free_numbers(round, sum(g.item is None for g in groups)))
        at = timezone.now()
        new = []
        for g in groups:
            if g.item is None:
                g.item = Item(
                    round=round,
                    number=next(numbers),
                    title=title_for(g.title),
                    category_id=g.category_id,
                    state=Item.State.DRAFT,
                    created_at=at,
                    updated_at=at,
                    updated_by=by,
                )
                # What the item's first event records: the suggestions it was made from.
                g.item._creation = {"suggestions": sorted(rows[pk].seq for pk in g.suggestion_ids)}
                new.append(g.item)
        for item in new:
            # One by one rather than bulk_create: the pk is needed on every database.
            item.save(force_insert=True)
        for g in groups:
            Suggestion.objects.filter(pk__in=g.suggestion_ids, item__isnull=True).update(
                item=g.item
            )
        workflow.record_creation(new, by=by, how="consolidation", at=at)
    return [g.item for g in groups if g.item is not None]


def attach(round: Round, suggestion_ids: list[int], item: Item, *, by: User) -> Item:
    """Link suggestions to an item the round already has (a late re-send of one in the
    ledger)."""
    consolidate(round, [AcceptedGroup(suggestion_ids, item=item)], by=by)
    return item


@task()
def consolidate_round_job(job_id: int, round_id: int, user_id: int, operations: list) -> None:
    """Every group proposed for the round (after the supervisor's splits and merges)
    becomes an item, or joins the item it repeats: the whole round in one transaction.
    Titles and categories are the ones the page proposes."""
    with jobs.running(job_id) as job:
        round = Round.objects.get(pk=round_id)
        user = User.objects.get(pk=user_id)
        proposal = propose_for_round(round)
        groups = apply_operations(proposal.groups, operations)
        if not groups:
            raise jobs.JobError(_("No suggestion of this round is waiting to be consolidated."))
        job.set_total(len(groups) * 2)
        rows = {
            s.pk: s
            for s in Suggestion.objects.filter(round=round, item__isnull=True).only(
                "pk", "text", "category_text", "category_id"
            )
        }
        categories = list(Category.objects.filter(round=round).values_list("pk", "name"))
        items = Item.objects.filter(round=round).in_bulk(set(proposal.repeats.values()))
        accepted = []
        for g in groups:
            members = [rows[pk] for pk in g if pk in rows]
            if not members:
                continue
            votes = Counter(proposal.repeats[pk] for pk in g if pk in proposal.repeats)
            if votes and votes.most_common(1)[0][0] in items:
                item = items[votes.most_common(1)[0][0]]
                accepted.append(AcceptedGroup([s.pk for s in members], item=item))
            else:
                shown = members[:20]
                best = shown[representative([s.text for s in shown])]
                accepted.append(
                    AcceptedGroup(
                        [s.pk for s in members],
                        title=best.text,
                        category_id=group_category(
                            ((s.category_id, s.category_text) for s in shown), categories
                        ),
                    )
                )
            job.advance()
        try:
            consolidate(round, accepted, by=user)
        except ConsolidationError as error:
            raise jobs.JobError(str(error)) from error
        job.set_done(len(groups) * 2)
        job.finish(url=reverse("intake:consolidate", args=[round.pk]))
