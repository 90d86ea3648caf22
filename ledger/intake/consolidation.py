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

import heapq
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
from ledger.models import (
    Category,
    ConsolidationProposal,
    Item,
    Round,
    Suggestion,
    User,
)
from ledger.publication.masking import mask

from . import matching

# Chosen on the labelled set in bench/data/consolidation (docs/consolidation.md,
# "threshold"): the cosine above which two texts are proposed as one suggestion.
DEFAULT_THRESHOLD = 0.25
# Texts shorter than this, normalised ("无" "同上" "没有意见"), are too short for similarity
# to mean anything: they group only when equal.
MIN_CHARS = 4
# A text joins its group through its most alike texts; past this many, more are not looked
# for (see propose_groups).
MAX_MATCHES = 30
# How often a background grouping reports its progress, in texts.
PROGRESS_EVERY = 500
# How many of a text's heaviest features it is indexed and probed under (_candidates).
TOP_FEATURES = 20
# How many earlier texts each text is scored against at most, its likeliest by their
# heaviest shared features: work stays linear in the round (see _candidates).
MAX_CANDIDATES = 30
# How many of the texts under one feature a text is probed against (see _candidates).
MAX_POSTING = 50
# What share of the threshold two texts' heaviest shared features must make up for the
# pair to be scored at all.
CANDIDATE_SHARE = 0.6
# Two groups join when their members are, on average, this share of the threshold alike.
AVERAGE_SHARE = 0.8
# Members of each group compared for that average, at most.
LINK_SAMPLE = 12

_DROP = re.compile(r"[\W_]+")
_LONG_NUMBER = re.compile(r"\d{7,}")
# A place as citizens name it: two characters and the word that makes them a place
# (新圩镇, 红星村, 中山路, 玉东大道). Two texts that both name places but not one in common are
# the same complaint about two places: two items, however alike the rest.


def normalise(text: str) -> str:
    """The text with full-width forms folded, Latin lower-cased, and only letters and digits
    kept: "学校 周边，１２路" and "学校周边12路" are the same."""
    return _DROP.sub("", unicodedata.normalize("NFKC", text).lower())


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


def _features(texts: Sequence[str], advance=None) -> list[tuple[list[str], list[str]]]:
    """Each text's words and bigrams (matching.features). ``advance(n)`` is told of every
    PROGRESS_EVERY texts read: a large round's grouping runs in the background behind a
    progress bar."""
    feats = []
    for n, text in enumerate(texts, start=1):
        feats.append(matching.features(text))
        if advance and n % PROGRESS_EVERY == 0:
            advance(PROGRESS_EVERY)
    if advance:
        advance(len(texts) % PROGRESS_EVERY)
    return feats


def _vectors(feats: Sequence[tuple[list[str], list[str]]]) -> list[dict[str, float]]:
    """Each text's unit TF-IDF vector, weighted over these texts themselves."""
    weights = matching.Weights(feats)
    return [weights.vector(words, grams) for words, grams in feats]


def _candidates(vectors: list[dict[str, float]], threshold: float) -> list[tuple[int, int]]:
    """The pairs worth scoring: those whose most telling features alone already make up a
    good part of the threshold. Each text is indexed under its TOP_FEATURES heaviest
    features and probes with the same, so the words every complaint uses never make a
    pair, and one topic word (停车, 路灯) does not make every complaint about it one."""
    index: dict[str, list[tuple[int, float]]] = defaultdict(list)
    floor = threshold * CANDIDATE_SHARE
    pairs = []
    for x, v in enumerate(vectors):
        top = heapq.nlargest(TOP_FEATURES, v, key=v.__getitem__)
        partial: defaultdict[int, float] = defaultdict(float)
        for feature in top:
            weight = v[feature]
            posting = index[feature]
            # Only the latest MAX_POSTING texts under one feature are probed: a feature
            # thousands of texts lead with (a topic, a campaign's sentence) would otherwise
            # make every pair of them a candidate; a repeat is still found through the
            # latest copies, and through the text's other features.
            for y, other in posting[-MAX_POSTING:]:
                partial[y] += weight * other
            posting.append((x, weight))
        likeliest = heapq.nlargest(MAX_CANDIDATES, partial.items(), key=lambda yd: yd[1])
        pairs += [(y, x) for y, dot in likeliest if dot >= floor]
    return pairs


def _average(vectors: list[dict[str, float]], a: list[int], b: list[int]) -> float:
    """The mean similarity between two groups' members, over at most LINK_SAMPLE of each
    (a campaign of thousands of copies is alike throughout)."""
    a, b = a[:LINK_SAMPLE], b[:LINK_SAMPLE]
    total = sum(matching.cosine(vectors[x], vectors[y]) for x in a for y in b)
    return total / (len(a) * len(b))


def propose_groups(
    suggestions: Sequence[tuple[int, str]],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    advance=None,
) -> list[list[int]]:
    """Groups of the ids whose texts are the same suggestion, every id in exactly one group
    (a suggestion like no other is a group of one). Groups and their ids keep the input's
    order of first appearance. ``advance(n)``, if given, hears of the distinct texts read
    (the bulk of the work)."""
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

    # 2. Near duplicates among the distinct texts: cosine of their TF-IDF vectors, scored
    # on the candidate pairs only, never across two named places.
    vectors = _vectors(_features(originals, advance))
    place_sets = [matching.places(t) for t in originals]
    folded = [matching.fold(t) for t in originals]
    edges: list[tuple[float, int, int]] = []
    matched: Counter[int] = Counter()
    for x, y in _candidates(vectors, threshold):
        if len(texts[x]) < MIN_CHARS or len(texts[y]) < MIN_CHARS:
            continue
        # A campaign of thousands of copies, each with its own phone number, needs a few
        # partners per text to be one group, not every pair.
        if matched[x] >= MAX_MATCHES and matched[y] >= MAX_MATCHES:
            continue
        score = matching.cosine(vectors[x], vectors[y])
        if score >= threshold and not matching.other_places(
            place_sets[x], folded[x], place_sets[y], folded[y]
        ):
            edges.append((score, x, y))
            matched[x] += 1
            matched[y] += 1

    # Most similar pairs first. A pair joins two groups only if the groups are alike as a
    # whole (average linkage: A like B and B like C does not make A and C one complaint),
    # and if no member of one names a place the other group never names.
    uf = _UnionFind(len(texts))
    members: dict[int, list[int]] = {}
    # Per group, one member for each set of places its members name: the others cannot
    # conflict, and a thousand copies naming the same place need one check, not a thousand.
    placed: dict[int, dict[frozenset[str], int]] = {
        i: {place_sets[i]: i} for i in range(len(texts)) if place_sets[i]
    }
    for _score, x, y in sorted(edges, reverse=True):
        rx, ry = uf.find(x), uf.find(y)
        if rx == ry:
            continue
        mx, my = members.get(rx, [rx]), members.get(ry, [ry])
        if _average(vectors, mx, my) < threshold * AVERAGE_SHARE:
            continue
        px, py = placed.pop(rx, {}), placed.pop(ry, {})
        if any(
            matching.other_places(place_sets[a], folded[a], place_sets[b], folded[b])
            for a in px.values()
            for b in py.values()
        ):
            placed.update({k: v for k, v in ((rx, px), (ry, py)) if v})
            continue
        uf.union(rx, ry)
        root = uf.find(rx)
        members.pop(rx, None), members.pop(ry, None)
        members[root] = mx + my
        if px or py:
            placed[root] = py | px

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
    """The score and shared words of a group of texts, for the supervisor to judge it: the
    mean cosine of its pairs (weighted over these texts, so a little apart from the
    round-wide score that proposed it), and the words two or more of them use, the rarer in
    general language first."""
    if len(texts) < 2:
        return Explanation(None, [])
    feats = _features(texts)
    vectors = _vectors(feats)
    pairs = [(i, j) for i in range(len(texts)) for j in range(i + 1, len(texts))]
    score = sum(matching.cosine(vectors[i], vectors[j]) for i, j in pairs) / len(pairs)
    used = Counter(w.lstrip("@") for words, _grams in feats for w in set(words))
    idf, median = matching.background_idf()
    shared = [w for w, n in used.items() if n >= 2]
    shared.sort(key=lambda w: (-idf.get(w, median), w))
    return Explanation(min(score, 1.0), shared[:limit])


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


def draft_title(text: str) -> str:
    """The title proposed for an item from a citizen's words: masked as a notice masks
    them (docs/masking.md; a possible name too), then one line within the field's length.
    A title is read by every official who sees the item, lands in exports, and is what an
    annex shows of an item without suggestions; the words as received stay on the
    suggestion, for those who may see the item."""
    return title_for(mask(text).text)


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


def propose_for_round(
    round: Round, *, threshold: float = DEFAULT_THRESHOLD, progress=None
) -> Proposal:
    """The groups of the round's suggestions not yet in an item (two queries, then
    ``propose_groups``). The round's consolidated suggestions take part, so that a waiting
    one like them is found, and so do the titles of its items that hold no suggestion (an
    item imported from a ledger): a waiting suggestion like one of them is proposed to join
    that item, not to become a second one. The groups keep only the waiting ids."""
    rows = list(
        Suggestion.objects.filter(round=round).order_by("seq").values_list("pk", "text", "item_id")
    )
    # Items are told apart from suggestions by a negative id.
    titled = Item.objects.filter(round=round, suggestions__isnull=True).values_list("pk", "title")
    item_of = {pk: item for pk, _text, item in rows if item is not None}
    item_of.update({-pk: pk for pk, _title in titled})
    texts = [(pk, text) for pk, text, _item in rows] + [(-pk, title) for pk, title in titled]
    groups: list[list[int]] = []
    repeats: dict[int, int] = {}
    if progress is not None:
        progress.set_total(len(texts))
    advance = progress.advance if progress is not None else None
    for group in propose_groups(texts, threshold=threshold, advance=advance):
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
def propose_round_job(job_id: int, round_id: int, threshold: float, key: str) -> None:
    """Group a round too large to group within a request, and keep the proposal for the
    consolidation page (``ConsolidationProposal``)."""
    with jobs.running(job_id) as job:
        round = Round.objects.get(pk=round_id)
        proposal = propose_for_round(round, threshold=threshold, progress=job)
        store_proposal(round, key, proposal)
        job.finish(url=reverse("intake:consolidate", args=[round.pk]))


def store_proposal(round: Round, key: str, proposal: Proposal) -> None:
    """Keep ``proposal`` as the round's for ``key``; proposals for other keys (suggestions
    since consolidated, another threshold) are dropped, one in the making excepted."""
    with transaction.atomic():
        ConsolidationProposal.objects.update_or_create(
            round=round,
            key=key,
            defaults={
                "groups": proposal.groups,
                "repeats": {str(k): v for k, v in proposal.repeats.items()},
                "made_at": timezone.now(),
            },
        )
        ConsolidationProposal.objects.filter(round=round, groups__isnull=False).exclude(
            key=key
        ).delete()


def stored_proposal(stored: ConsolidationProposal) -> Proposal:
    return Proposal(stored.groups, {int(k): v for k, v in stored.repeats.items()})


@task()
def consolidate_round_job(
    job_id: int,
    round_id: int,
    user_id: int,
    operations: list,
    threshold: float = DEFAULT_THRESHOLD,
) -> None:
    """Every group proposed for the round at its threshold (after the supervisor's splits
    and merges) becomes an item, or joins the item it repeats: the whole round in one
    transaction. Titles and categories are the ones the page proposes."""
    with jobs.running(job_id) as job:
        round = Round.objects.get(pk=round_id)
        user = User.objects.get(pk=user_id)
        proposal = propose_for_round(round, threshold=threshold)
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
                        title=draft_title(best.text),
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
