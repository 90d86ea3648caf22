#!/usr/bin/env python
"""Consolidation (归纳) of 10,000 suggestions: seconds, groups found, precision and recall.

    .venv/bin/python bench/consolidation.py [--suggestions 10000] [--threshold 0.6]

The suggestions are made the way citizens send them: the complaints of fixtures/demo.json
set in a place (a town, road, village or estate), with a detail and a request, typed with
full-width or half-width punctuation or none; plus the sentences of the two seed notices.
About a quarter are sent again: verbatim, retyped, with a clause left out or added, with
an opener, with full-width digits. Every text knows the complaint it was made from, so the
pairs the algorithm puts together can be scored: precision (pairs grouped that are one
complaint) and recall (pairs of one complaint that were grouped).

``propose_groups`` needs no database; ``--database-url`` and any other option
``make bench`` passes to every script are accepted and ignored.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import random
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEEDS = [ROOT.parent / "shared" / "seeds", Path("/work/shared/seeds")]
FULL = str.maketrans("0123456789,.!?:;()", "０１２３４５６７８９，。！？：；（）")
HALF = str.maketrans("，。！？：；（）", ",.!?:;()")


def _places(data: dict) -> list[str]:
    p = data["places"]
    towns = [t for c in p["counties"] for t in c["towns"]]
    roads = [r for rs in p["roads"].values() for r in rs]
    return towns + roads + p["villages"] + p["estates"] + [c["name"] for c in p["counties"]]


def _seed_sentences() -> list[str]:
    for folder in SEEDS:
        if folder.is_dir():
            text = " ".join(f.read_text(encoding="utf-8") for f in sorted(folder.glob("*.txt")))
            parts = re.split(r"[。；;！？\n]", text)
            return sorted({s.strip() for s in parts if 15 <= len(s.strip()) <= 120})
    return []


def _render(clauses: list[str], r: random.Random, style: str | None = None) -> str:
    text = (
        "".join(c + r.choice("，，，。") for c in clauses[:-1]) + clauses[-1] + r.choice("。。！")
    )
    style = style or r.choice(["full", "full", "half", "bare"])
    if style == "half":
        return text.translate(HALF)
    if style == "bare":
        return re.sub(r"[，。！]", " ", text).strip()
    return text


def _resend(clauses: list[str], r: random.Random, data: dict) -> str:
    """The same suggestion sent again, the ways people send things again."""
    how = r.choice(["same", "restyle", "shorter", "longer", "opener", "digits", "spaces"])
    if how == "shorter" and len(clauses) > 2:
        return _render(clauses[:-1], r)
    if how == "longer":
        return _render([*clauses, r.choice(data["phrases"]["requests"])], r)
    if how == "opener":
        return r.choice(data["phrases"]["openers"]) + _render(clauses, r)
    if how == "digits":
        return _render(clauses, r).translate(FULL)
    if how == "spaces":
        return " ".join(_render(clauses, r))
    if how == "restyle":
        return _render(clauses, r, r.choice(["full", "half", "bare"]))
    return _render(clauses, r, "full")


def build(n: int, seed: int = 4) -> list[tuple[int, str, int]]:
    """``n`` suggestions as (id, text, complaint), about a quarter of them re-sends."""
    r = random.Random(seed)
    data = json.loads((ROOT / "fixtures" / "demo.json").read_text(encoding="utf-8"))
    places = _places(data)
    ctx_keys = ("county", "town", "town2", "road", "village", "estate", "river", "school", "market")
    complaints: list[list[str]] = []
    seen: set[str] = set()
    sentences = _seed_sentences()
    for s in sentences[: n // 20]:
        complaints.append([s])
    topics = [t for ts in data["topics"].values() for t in ts]
    distinct = int(n * 0.75)
    # A complaint is a problem in a place, with or without a detail; past 10,000 misses in a
    # row every such complaint is made, and the rest of the n are re-sends.
    misses = 0
    while len(complaints) < distinct and misses < 10_000:
        topic = r.choice(topics)
        place = r.choice(places)
        problem = r.choice(topic["problems"])
        detail = r.choice(topic["details"]) if r.random() < 0.6 else ""
        if (place, problem, detail) in seen:
            misses += 1
            continue
        misses = 0
        seen.add((place, problem, detail))
        ctx = {k: place for k in ctx_keys}
        clauses = [f"{place}这边", problem.format_map(ctx)]
        if detail:
            clauses.append(detail.format_map(ctx))
        clauses.append(r.choice(topic["requests"] + data["phrases"]["requests"]).format_map(ctx))
        complaints.append(clauses)
    rows = [(_render(c, r), k) for k, c in enumerate(complaints)]
    while len(rows) < n:
        k = r.randrange(len(complaints))
        rows.append((_resend(complaints[k], r, data), k))
    r.shuffle(rows)
    return [(i, text, k) for i, (text, k) in enumerate(rows, start=1)]


def _pairs(groups) -> set[tuple[int, int]]:
    return {p for g in groups for p in itertools.combinations(sorted(g), 2)}


LABELLED = ROOT / "bench" / "data" / "consolidation"
SWEEP = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4)


def labelled() -> list[tuple[int, str, str]]:
    """The hand-written set: (id, text, its true group) from every CSV of bench/data."""
    rows = []
    for path in sorted(LABELLED.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            rows += [(r["group"], r["text"]) for r in csv.DictReader(f)]
    return [(i, text, group) for i, (group, text) in enumerate(rows, start=1)]


def score(rows, groups) -> tuple[float, float, int]:
    """Pair precision and recall of ``groups`` against the rows' true groups."""
    truth: dict = defaultdict(list)
    for i, _text, k in rows:
        truth[k].append(i)
    found, expected = _pairs(groups), _pairs(truth.values())
    hit = len(found & expected)
    precision = hit / len(found) if found else 1.0
    recall = hit / len(expected) if expected else 1.0
    return precision, recall, len(expected)


def main(argv: list[str] | None = None) -> None:
    # No abbreviations: ``make bench`` passes every script the same BENCH_ARGS, and one
    # meant for another script must not be taken for a prefix of ours.
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--suggestions", type=int, default=10_000)
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument(
        "--database-url", default=None, help="for the page's figures (default: SQLite)"
    )
    parser.add_argument(
        "--page-suggestions",
        type=int,
        default=50_000,
        help="a round this large for the consolidation page's time (0: skip)",
    )
    args, _unknown = parser.parse_known_args(argv)

    # The page is measured on a scratch database (SQLite, or --database-url's PostgreSQL)
    # with production settings, as bench/run.py measures the ledger's pages.
    from bench.run import configure

    scratch = tempfile.TemporaryDirectory(prefix="rectify-bench-")
    configure(args, Path(scratch.name))
    import django

    django.setup()
    from ledger.intake.consolidation import DEFAULT_THRESHOLD, propose_groups

    threshold = args.threshold if args.threshold is not None else DEFAULT_THRESHOLD
    rows = build(args.suggestions)
    pairs = [(i, text) for i, text, _k in rows]
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        groups = propose_groups(pairs, threshold=threshold)
        best = min(best, time.perf_counter() - t0)
    precision, recall, expected = score(rows, groups)
    complaints = len({k for _i, _t, k in rows})
    print(f"Consolidation of {len(rows):,} generated suggestions (threshold {threshold}):")
    met = "met" if best < GROUPING_TARGET_SECONDS else "MISSED"
    print(f"  propose_groups            {best:8.2f} s   (best of 3; target < 10 s: {met})")
    print(f"  groups found              {len(groups):8,d}     (complaints made: {complaints:,})")
    print(f"  pair precision            {precision:8.3f}")
    print(f"  pair recall               {recall:8.3f}     ({expected:,} duplicate pairs)")

    # The figures that judge the method: suggestions written by hand, as citizens write.
    hand = labelled()
    print(
        f"Hand-written labelled set ({len(hand)} suggestions, bench/data/consolidation; "
        "target precision ≥ 0.90 and recall ≥ 0.85):"
    )
    reached = []
    for t in sorted({*SWEEP, threshold}):
        p, r, n = score(hand, propose_groups([(i, x) for i, x, _k in hand], threshold=t))
        if p >= QUALITY_TARGET[0] and r >= QUALITY_TARGET[1]:
            reached.append(f"{t:.2f}")
        mark = "  ← default" if t == DEFAULT_THRESHOLD else ""
        print(f"  threshold {t:.2f}   precision {p:.3f}   recall {r:.3f}   ({n} pairs){mark}")
    # Reported, not enforced: no lexical method reaches it on this set (docs/consolidation.md).
    where = f"reached at {', '.join(reached)}" if reached else "not reached at any threshold"
    print(f"  quality target: {where} (docs/consolidation.md)")

    missed = best >= GROUPING_TARGET_SECONDS
    if args.page_suggestions:
        missed |= not page_figures(args.page_suggestions)
    scratch.cleanup()
    if missed:
        sys.exit(1)


# Pair precision and recall asked of the proposal on the hand-written set.
QUALITY_TARGET = (0.90, 0.85)
# The targets this script exits non-zero for missing.
GROUPING_TARGET_SECONDS = 10.0
PAGE_TARGET_SECONDS = 2.0


def page_figures(n: int) -> bool:
    """The consolidation page of a round of ``n`` suggestions: the background grouping's
    time, then the page's, first and a later page, read from the kept proposal with this
    process's cache empty (as on another host)."""
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db.models import Count, Max, Sum
    from django.test import Client
    from django.urls import reverse

    from ledger.intake import consolidation
    from ledger.intake.views_consolidation import PAGE_SIZE, _proposal
    from ledger.models import Job, Round, Suggestion, User

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    # A round of its own, whatever a database passed with --database-url already holds.
    stamp = time.strftime("%Y%m%d%H%M%S")
    round_ = Round.objects.create(
        name=f"基准批次{stamp}", code=f"bench{stamp}", year=2020, kind="annual"
    )
    texts = [text for _i, text, _k in build(n, seed=5)]
    Suggestion.objects.bulk_create(
        (Suggestion(round=round_, seq=i, text=t) for i, t in enumerate(texts, start=1)),
        batch_size=2000,
    )
    supervisor = User.objects.create(username=f"bench{stamp}", role=User.Role.SUPERVISOR)
    t0 = time.perf_counter()
    threshold = consolidation.DEFAULT_THRESHOLD
    waiting = Suggestion.objects.filter(round=round_)
    proposal = consolidation.propose_for_round(round_, threshold=threshold)
    f = waiting.aggregate(n=Count("pk"), top=Max("pk"), total=Sum("pk"))
    consolidation.store_proposal(
        round_, f"{f['n']}:{f['top']}:{f['total']}:{threshold:.4f}", proposal
    )
    grouping = time.perf_counter() - t0
    assert not isinstance(_proposal(round_, threshold), Job)  # kept, not grouped again
    client = Client()
    client.force_login(supervisor)
    url = reverse("intake:consolidate", args=[round_.pk])
    last = max(1, -(-len(proposal.groups) // PAGE_SIZE))
    times = {}
    for label, query in (("first page", ""), ("last page", f"?page={last}")):
        best = float("inf")
        for _ in range(3):
            cache.clear()
            t0 = time.perf_counter()
            response = client.get(url + query)
            best = min(best, time.perf_counter() - t0)
            assert response.status_code == 200, response.status_code
        times[label] = best
    worst = max(times.values())
    met = "met" if worst < PAGE_TARGET_SECONDS else "MISSED"
    print(f"Consolidation page of a round of {n:,} suggestions ({len(proposal.groups):,} groups):")
    print(f"  grouping in the background   {grouping:8.2f} s   (a job with a progress bar)")
    for label, seconds in times.items():
        print(f"  {label:<28} {seconds:8.2f} s   (best of 3, this process's cache empty)")
    print(f"  target < {PAGE_TARGET_SECONDS:g} s: {met}")
    return met == "met"


if __name__ == "__main__":
    main()
