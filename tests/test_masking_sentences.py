"""The masker on sentences written by hand the way citizens and offices write them.

``bench/data/masking/sentences.tsv`` (shared with ``bench/masking.py``) says, for each
sentence, what must vanish from the masked text and what must stay; a sentence with nothing
to vanish must come out exactly as it went in. The text judged is the published one: a
possible name is masked, as it is at publication unless the supervisor keeps it.
"""

from __future__ import annotations

import pytest

from bench.masking import read
from ledger.publication.masking import mask

ROWS = read()


def _id(row) -> str:
    return row.text[:24]


def test_the_set_is_large_enough_and_holds_every_kind_of_case():
    citizen = [r for r in ROWS if r.group == "citizen"]
    must_stay = [r for r in ROWS if not r.vanish]
    kinds = {kind for r in ROWS for kind, _o in r.vanish}
    assert len(citizen) >= 60
    assert len(must_stay) >= 20
    assert sum(r.group == "office" for r in must_stay) >= 20
    assert {"name", "qq", "wechat", "mobile", "id_card", "address"} <= kinds


@pytest.mark.parametrize("row", [r for r in ROWS if r.vanish], ids=_id)
def test_personal_details_vanish_and_the_rest_stays(row):
    masked = mask(row.text).text
    for kind, original in row.vanish:
        if (kind, original) in row.known_misses:
            # docs/masking.md lists it: the day it is masked, take the ? off in the file.
            assert original in masked, f"{original} is masked now: not a known miss any more"
        else:
            assert original not in masked, (kind, original, masked)
    for kept in row.stay:
        assert kept in masked, (kept, masked)


@pytest.mark.parametrize("row", [r for r in ROWS if not r.vanish], ids=_id)
def test_texts_without_personal_details_come_out_as_they_went_in(row):
    m = mask(row.text)
    assert m.text == row.text, [(s.kind, s.original) for s in m.spans]
