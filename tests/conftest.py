"""The shared cast (as in healthchecks' BaseTestCase): a supervisor, officials of two
departments, a leader, and a user with no role; items built from them."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from ledger import workflow
from ledger.models import Item
from ledger.supervision import workdays

from .factory import in_days, make_department, make_item, make_leader, make_round, make_user


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The filter choices are cached for seconds; a test must not see another's rows."""
    cache.clear()
    # Likewise the working-day calendar: each test starts with an empty table of days (a
    # test's rows are rolled back unseen), so the calendar needs no query to know it.
    workdays.prime({})


@pytest.fixture
def cast(db):
    class Cast:
        pass

    c = Cast()
    c.round = make_round(name="2019年度", code="2019", year=2019)
    c.edu = make_department("市教育局")
    c.traffic = make_department("市交通运输局")
    c.health = make_department("市卫生健康委")
    c.leader = make_leader(name="黄建国", post="副市长")
    c.other_leader = make_leader(name="李文华", post="常务副市长")
    c.alice = make_user("alice", role="supervisor", first_name="督查员甲")
    c.bob = make_user("bob", role="official", department=c.edu, first_name="教育局经办人")
    c.carol = make_user("carol", role="official", department=c.traffic, first_name="交通局经办人")
    c.dave = make_user("dave", role="official", department=c.health, first_name="卫健委经办人")
    c.lena = make_user("lena", role="leader", leader=c.leader, first_name="黄建国")
    c.nobody = make_user("nobody")
    return c


@pytest.fixture
def draft(cast) -> Item:
    return make_item(cast.round, title="学校周边交通拥堵")


@pytest.fixture
def assigned(cast, draft) -> Item:
    """Led by 教育局 (bob), shared with 交通局 (carol), under leader 黄建国 (lena)."""
    workflow.assign(
        draft,
        by=cast.alice,
        leader=cast.leader,
        lead_department=cast.edu,
        co_departments=[cast.traffic],
        deadline=in_days(30),
    )
    return draft


@pytest.fixture
def in_progress(cast, assigned) -> Item:
    workflow.start(assigned, by=cast.bob)
    return assigned


@pytest.fixture
def requested(cast, in_progress) -> Item:
    workflow.request_closeout(
        in_progress, by=cast.bob, outcome="已增设交通协管员", outcome_kind="done"
    )
    return in_progress
