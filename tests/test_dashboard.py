"""The supervision dashboard (督办看板): every figure against a count made here from the
rows, the rounding of rates, the edge cases, each role's scope, and every link against the
ledger list it opens."""

from __future__ import annotations

import datetime
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ledger.models import Item, Suggestion
from ledger.supervision.dashboard import average, rate, scope

from .factory import (
    in_days,
    make_category,
    make_department,
    make_item,
    make_leader,
    make_round,
    make_suggestion,
    make_user,
)

DASHBOARD = reverse("supervision:dashboard")
OPEN = ("assigned", "in_progress", "requested")


def closed(**kw):
    return {
        "state": "closed",
        "closed_on": in_days(-1),
        "outcome_kind": "done",
        "percent": 100,
    } | kw


@pytest.fixture
def ledger(cast):
    """Two rounds. 2019年度: 教育局 leads four (one shared with 交通局), 交通局 two (one shared
    with 教育局), 卫健委 one; a draft, a withdrawn item, an item with no leader and one with
    no category. 2020年中期: two more, and one merged away."""
    r1 = cast.round
    r2 = make_round(name="2020年中期", code="2020m", year=2020, kind="midyear")
    edu1, traffic1 = (
        make_category(r1, "教育事业", order=10),
        make_category(r1, "交通建设", order=20),
    )
    edu2 = make_category(r2, "教育事业", order=10)
    L, OL = cast.leader, cast.other_leader
    items = {
        "a1": make_item(
            r1,
            title="学校周边交通拥堵",
            category=edu1,
            lead_department=cast.edu,
            leader=L,
            state="in_progress",
            deadline=in_days(-5),
            percent=40,
            ladder_step="urge",
        ),
        "a2": make_item(
            r1,
            title="校舍老旧",
            category=edu1,
            lead_department=cast.edu,
            leader=L,
            track="joint",
            **closed(closed_on=in_days(-14)),
        ),
        "a3": make_item(
            r1,
            title="公交班次少",
            category=traffic1,
            lead_department=cast.traffic,
            leader=OL,
            state="assigned",
            deadline=in_days(20),
        ),
        "a4": make_item(
            r1,
            title="医院挂号难",
            lead_department=cast.health,
            leader=L,
            track="joint",
            state="requested",
            deadline=in_days(-1),
            percent=90,
            ladder_step="escalate",
        ),
        "a5": make_item(
            r1,
            title="课后服务收费",
            category=traffic1,
            lead_department=cast.edu,
            leader=OL,
            state="in_progress",
            long_term=True,
            percent=30,
        ),
        "a6": make_item(r1, title="尚未交办的问题", category=edu1, leader=L),
        "a7": make_item(
            r1,
            title="误建的事项",
            category=edu1,
            lead_department=cast.edu,
            leader=L,
            state="withdrawn",
            deadline=in_days(-9),
        ),
        "a8": make_item(
            r1,
            title="道路破损",
            category=traffic1,
            lead_department=cast.traffic,
            leader=L,
            **closed(outcome_kind="long_term", percent=70),
        ),
        "a9": make_item(
            r1,
            title="导入时无领导",
            category=edu1,
            lead_department=cast.edu,
            state="assigned",
            deadline=in_days(3),
            percent=5,
        ),
        "b1": make_item(
            r2,
            title="幼儿园收费高",
            category=edu2,
            lead_department=cast.edu,
            leader=L,
            ladder_step="remind",
            **closed(closed_on=in_days(-20)),
        ),
        "b2": make_item(
            r2,
            title="学位紧张",
            category=edu2,
            lead_department=cast.health,
            leader=OL,
            state="in_progress",
            deadline=in_days(-2),
            percent=10,
            ladder_step="circulate",
        ),
    }
    items["b3"] = make_item(
        r2,
        title="重复的学位问题",
        category=edu2,
        lead_department=cast.health,
        leader=OL,
        state="withdrawn",
        merged_into=items["b2"],
    )
    items["a1"].co_departments.add(cast.traffic)
    items["a8"].co_departments.add(cast.edu)
    for key in ("a1", "a1", "a2", None, "a6", "a7"):
        make_suggestion(r1, item=items[key] if key else None)
    for key in ("b1", "b2", "b2"):
        make_suggestion(r2, item=items[key])
    return items


# --- The counts, made here from the rows -----------------------------------------------------


def sees(user, item: Item) -> bool:
    """Who sees what (docs/workflow.md), restated."""
    if item.state == "withdrawn":
        return False
    if user.is_supervisor:
        return True
    if item.state == "draft":
        return False
    if user.is_official:
        shared = item.co_departments.filter(pk=user.department_id).exists()
        return item.lead_department_id == user.department_id or shared
    return user.is_leader and item.leader_id == user.leader_id


def is_overdue(item: Item) -> bool:
    return item.state in OPEN and item.deadline is not None and item.deadline < timezone.localdate()


def reach(user, round=None) -> list[Item]:
    """Every item the user sees, drafts included, of the round (or of all)."""
    items = Item.all_objects.select_related("category").order_by("pk")
    return [i for i in items if sees(user, i) and (round is None or i.round_id == round.pk)]


def counted(user, round=None) -> list[Item]:
    return [i for i in reach(user, round) if i.state != "draft"]


def half_up(part: int, whole: int) -> Decimal:
    """``part`` in ``whole`` as a percentage, rounded here by hand in whole tenths: one
    decimal, half up."""
    tenths = (part * 1000 * 2 + whole) // (2 * whole)
    return Decimal(f"{tenths // 10}.{tenths % 10}")


def summary(items: list[Item]) -> dict:
    n = len(items)
    return {
        "items": n,
        "closed": sum(i.state == "closed" for i in items),
        "overdue": sum(is_overdue(i) for i in items),
        "percent": sum(i.percent for i in items),
    }


def as_counts(row) -> dict:
    return {
        "items": row.items,
        "closed": row.closed,
        "overdue": row.overdue,
        "percent": row.percent,
    }


def page(client, user, **params):
    client.force_login(user)
    response = client.get(DASHBOARD, params)
    assert response.status_code == 200
    return response


# --- Every figure ----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["alice", "bob", "carol", "lena"])
@pytest.mark.parametrize("which", ["first", "second", "all"])
def test_every_figure_is_the_count_made_from_the_rows(client, cast, ledger, who, which):
    user = getattr(cast, who)
    r2 = ledger["b1"].round
    round = {"first": cast.round, "second": r2, "all": None}[which]
    f = page(client, user, round=round.pk if round else "all").context["f"]
    items = counted(user, round)

    assert as_counts(f.totals) == summary(items)
    assert f.totals.on_time == sum(i.state in OPEN and not is_overdue(i) for i in items)
    if items:
        closed_n = summary(items)["closed"]
        assert f.totals.rate == half_up(closed_n, len(items))
        assert f.totals.average == half_up(sum(i.percent for i in items), len(items) * 100)

    # Each group as the parameters of its link: what a user would get by following it.
    by = {
        "track": lambda i: {"track": i.track},
        "category": lambda i: (
            {"category": i.category.name} if i.category else {"without": "category"}
        ),
        "department": lambda i: {"lead": str(i.lead_department_id)},
        "leader": lambda i: {"leader": str(i.leader_id)} if i.leader_id else {"without": "leader"},
        "round": lambda i: {"round": str(i.round_id)},
    }
    with_rows = {
        "track": f.by_track,
        "category": f.by_category,
        "department": f.by_department,
        "leader": f.by_leader,
        "round": f.by_round,
    }
    for key, rows in with_rows.items():
        if (key == "leader" and user.is_leader) or (key == "round" and round is not None):
            assert rows == []
            continue
        groups: dict[frozenset, list[Item]] = {}
        for item in items:
            groups.setdefault(frozenset(by[key](item).items()), []).append(item)
        if key == "track":  # both tracks are always listed
            for track in Item.Track:
                groups.setdefault(frozenset({"track": track.value}.items()), [])
        got = {frozenset(row.params.items()): as_counts(row) for row in rows}
        assert got == {params: summary(group) for params, group in groups.items()}, key

    steps = {s.value: s.count for s in f.steps}
    assert steps == {v: sum(i.ladder_step == v for i in items) for v in Item.LadderStep.values}

    if user.is_supervisor:
        drafts = [i for i in reach(user, round) if i.state == "draft"]
        assert f.drafts == len(drafts)
        received = Suggestion.objects.filter(**({"round": round} if round else {}))
        assert f.suggestions == received.count()
    else:
        assert f.drafts is None
        mine = {i.pk for i in items}
        assert f.suggestions == sum(
            s.item_id in mine for s in Suggestion.objects.filter(item__isnull=False)
        )


def test_the_figures_of_the_fixture_are_as_written(client, cast, ledger):
    """The same figures, spelled out once, so that a mistake shared by the dashboard and the
    counting above would still show."""
    f = page(client, cast.alice, round=cast.round.pk).context["f"]
    # a1 a2 a3 a4 a5 a8 a9: not the draft a6, not the withdrawn a7.
    assert (f.totals.items, f.totals.closed, f.totals.overdue) == (7, 2, 2)
    assert f.totals.rate == Decimal("28.6")  # 2/7 = 28.571…
    assert f.totals.average == Decimal("47.9")  # (40+100+0+90+30+70+5)/7 = 47.857…
    assert f.drafts == 1
    assert f.suggestions == 6  # every row of the round, the unconsolidated one included
    bob = page(client, cast.bob, round=cast.round.pk).context["f"]
    # 教育局 leads a1 a2 a5 a9 (a7 withdrawn) and shares a8.
    assert bob.totals.items == 5
    assert bob.suggestions == 3  # a1's two and a2's one
    assert [r.label for r in bob.by_department] == ["市教育局", "市交通运输局"]


def test_the_default_round_is_the_newest_and_all_rounds_are_offered(client, cast, ledger):
    response = page(client, cast.alice)
    assert response.context["chosen"].name == "2020年中期"
    assert response.context["f"].totals.items == 2
    html = response.content.decode()
    assert 'value="all"' in html and "2019年度" in html


# --- Rounding and the edge cases -------------------------------------------------------------


def test_rates_and_averages_round_half_up_to_one_decimal():
    assert rate(2, 3) == Decimal("66.7")
    assert rate(1, 16) == Decimal("6.3")  # 6.25: half up, where round() would give 6.2
    assert rate(1, 6) == Decimal("16.7")
    assert rate(0, 5) == Decimal("0.0")
    assert rate(5, 5) == Decimal("100.0")
    assert rate(0, 0) is None
    assert average(1, 4) == Decimal("0.3")  # 0.25
    assert average(0, 0) is None


def test_a_rate_on_the_half_is_shown_rounded_up(client, cast):
    for n in range(16):
        extra = closed() if n == 0 else {"state": "in_progress", "deadline": in_days(9)}
        make_item(cast.round, lead_department=cast.edu, leader=cast.leader, **extra)
    response = page(client, cast.alice, round=cast.round.pk)
    assert response.context["rate"] == "6.3%"
    assert "6.3%" in response.content.decode()


def test_no_items_at_all(client, cast):
    response = page(client, cast.alice)
    f = response.context["f"]
    assert (f.totals.items, f.totals.closed, f.totals.overdue, f.drafts) == (0, 0, 0, 0)
    assert f.totals.rate is None and f.totals.average is None
    assert response.context["rate"] == "—"
    assert f.weeks == [] and f.by_category == [] and f.by_department == []
    html = response.content.decode()
    assert 'class="empty"' in html and "<svg" not in html


def test_no_rounds_at_all(client, db):
    user = make_user("sup", role="supervisor")
    client.force_login(user)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    assert response.context["chosen"] is None


def test_every_item_overdue(client, cast):
    for days in (-1, -30, -400):
        make_item(
            cast.round,
            lead_department=cast.edu,
            leader=cast.leader,
            state="assigned",
            deadline=in_days(days),
        )
    f = page(client, cast.alice, round=cast.round.pk).context["f"]
    assert (f.totals.items, f.totals.overdue, f.totals.on_time, f.totals.closed) == (3, 3, 0, 0)
    assert f.totals.rate == Decimal("0.0")
    [edu] = f.by_department
    assert (edu.items, edu.overdue, edu.on_time) == (3, 3, 0)


def test_every_item_closed(client, cast):
    for _ in range(3):
        make_item(cast.round, lead_department=cast.edu, leader=cast.leader, **closed())
    f = page(client, cast.alice, round=cast.round.pk).context["f"]
    assert (f.totals.items, f.totals.closed, f.totals.overdue) == (3, 3, 0)
    assert f.totals.rate == Decimal("100.0") and f.totals.average == Decimal("100.0")


def test_only_drafts_are_awaiting_assignment_not_items(client, cast):
    make_item(cast.round, title="草稿一")
    response = page(client, cast.alice, round=cast.round.pk)
    f = response.context["f"]
    assert f.totals.items == 0 and f.drafts == 1
    assert reverse("ledger:review") in response.content.decode()


def test_withdrawn_and_merged_items_count_nowhere(client, cast, ledger):
    f = page(client, cast.alice, round="all").context["f"]
    labels = [r.label for rows in (f.by_category, f.by_department, f.by_leader) for r in rows]
    total = sum(r.items for r in f.by_department)
    # a1–a5, a8, a9, b1, b2: neither the draft a6 nor the withdrawn a7 and merged b3.
    assert total == f.totals.items == 9
    assert sum(r.items for r in f.by_round) == 9
    assert labels  # the breakdowns are there; none counts a7 or b3
    assert sum(r.items for r in f.by_category) == sum(r.items for r in f.by_leader) == 9


# --- Scope and access ------------------------------------------------------------------------


def test_a_leader_sees_their_items_only_and_no_leader_breakdown(client, cast, ledger):
    f = page(client, cast.lena, round="all").context["f"]
    assert f.totals.items == len([i for i in counted(cast.lena) if i.leader_id == cast.leader.pk])
    assert f.by_leader == []
    assert f.totals.items == 5  # a1 a2 a4 a8 b1


def test_an_official_of_a_department_without_items_sees_empty_figures(client, cast, ledger):
    other = make_department("市统计局")
    user = make_user("stat", role="official", department=other)
    response = page(client, user, round=cast.round.pk)
    assert response.context["f"].totals.items == 0
    assert 'class="empty"' in response.content.decode()


@pytest.mark.parametrize("who", ["alice", "bob", "carol", "dave", "lena", "nobody"])
def test_the_items_counted_are_those_visible_to_the_user_but_drafts(cast, ledger, who):
    """An official's reach is read as the ledger list reads it (led, or shared): the same
    items as visible_to, whatever the round."""
    user = getattr(cast, who)
    for round in (cast.round, ledger["b1"].round, None):
        seen = Item.objects.visible_to(user).exclude(state="draft")
        if round is not None:
            seen = seen.filter(round=round)
        assert set(scope(user, round)) == set(seen)


@pytest.mark.parametrize("who", ["nobody", "administrator", "auditor"])
def test_anyone_outside_the_ledger_gets_404(client, cast, who):
    user = {
        "nobody": cast.nobody,
        "administrator": make_user("adm", role="administrator"),
        "auditor": make_user("aud", role="auditor"),
    }[who]
    client.force_login(user)
    assert client.get(DASHBOARD).status_code == 404


def test_anonymous_is_sent_to_sign_in(client, cast):
    response = client.get(DASHBOARD)
    assert response.status_code == 302 and reverse("login") in response["Location"]


@pytest.mark.parametrize("value", ["999999", "abc", "0", "-1", "1e3", "٣", "9" * 40])
def test_a_round_that_does_not_exist_is_404(client, cast, value):
    client.force_login(cast.alice)
    assert client.get(DASHBOARD, {"round": value}).status_code == 404


def test_the_nav_links_the_dashboard_for_the_three_roles(client, cast):
    for user in (cast.alice, cast.bob, cast.lena):
        client.force_login(user)
        assert DASHBOARD in client.get(reverse("ledger:home")).content.decode()
    client.force_login(make_user("adm", role="administrator"))
    assert DASHBOARD not in client.get(reverse("manage:hub")).content.decode()


def test_names_reach_the_page_and_the_charts_escaped(client, cast):
    evil = make_department('<img src=x onerror="alert(1)">局')
    category = make_category(cast.round, 'A&B "类"')
    make_item(
        cast.round,
        lead_department=evil,
        category=category,
        leader=cast.leader,
        state="assigned",
        deadline=in_days(5),
    )
    html = page(client, cast.alice, round=cast.round.pk).content.decode()
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;局" in html
    assert "A&amp;B &quot;类&quot;" in html
    # The category's link carries its name encoded.
    assert "category=A%26B+%22%E7%B1%BB%22" in html


# --- Every link opens the list of exactly the items behind its figure -------------------------


def matches(item: Item, params: dict[str, str]) -> bool:
    """The ledger list's filters that the dashboard's links use, restated."""
    checks = {
        "round": lambda v: item.round_id == int(v),
        "stage": lambda v: item.state in OPEN if v == "open" else item.state != "draft",
        "state": lambda v: item.state == v,
        "overdue": lambda v: is_overdue(item) == (v == "true"),
        "category": lambda v: item.category is not None and item.category.name == v,
        "track": lambda v: item.track == v,
        "lead": lambda v: item.lead_department_id == int(v),
        "leader": lambda v: item.leader_id == int(v),
        "without": lambda v: getattr(item, {"lead": "lead_department"}.get(v, v) + "_id") is None,
        "ladder_step": lambda v: item.ladder_step == ("" if v == "none" else v),
        "closed_from": lambda v: (
            item.closed_on is not None and item.closed_on >= datetime.date.fromisoformat(v)
        ),
        "closed_to": lambda v: (
            item.closed_on is not None and item.closed_on <= datetime.date.fromisoformat(v)
        ),
    }
    assert set(params) <= set(checks), params
    return all(checks[name](value) for name, value in params.items())


def links_of(f) -> list[tuple[str, int]]:
    """(link, the figure it stands for) for every linked figure of the dashboard."""
    out = []
    rows = [f.totals, *f.by_track, *f.by_category, *f.by_department, *f.by_leader, *f.by_round]
    for row in rows:
        out += [
            (row.link, row.items),
            (row.links["closed"], row.closed),
            (row.links["on_time"], row.on_time),
            (row.links["overdue"], row.overdue),
        ]
    out += [(s.link, s.count) for s in f.steps]
    out += [(w.link, w.closed) for w in f.weeks]
    if f.drafts is not None:
        out.append((f.drafts_link, f.drafts))
    return out


def listed(client, link: str) -> tuple[int, set[str]]:
    """The list's count (of the chosen state's tab, or of them all), and the numbers of its
    rows."""
    path, query = link.split("?", 1)
    assert path == reverse("ledger:items")
    response = client.get(link + "&size=200")
    assert response.status_code == 200
    state = dict(parse_qsl(query)).get("state")
    tabs = {value: n for value, _label, n in response.context["states"]}
    count = tabs[state] if state else response.context["total"]
    return count, {i.number for i in response.context["page"].rows}


@pytest.mark.parametrize("who", ["alice", "bob", "lena"])
@pytest.mark.parametrize("which", ["first", "all"])
def test_every_link_lists_exactly_the_items_behind_its_figure(client, cast, ledger, who, which):
    user = getattr(cast, who)
    round = cast.round if which == "first" else None
    f = page(client, user, round=round.pk if round else "all").context["f"]
    everything = reach(user)
    kinds = set()
    for link, figure in links_of(f):
        params = dict(parse_qsl(urlsplit(link).query))
        kinds.update(params)
        expected = {i.number for i in everything if matches(i, params)}
        assert len(expected) == figure, (link, figure, expected)
        total, rows = listed(client, link)
        assert (total, rows) == (figure, expected), link
    # Every kind of link was followed at least once.
    wanted = {"round", "stage", "state", "overdue", "category", "track", "lead", "ladder_step"}
    if which == "all":
        wanted.discard("round")
    assert wanted <= kinds
    if user.is_supervisor:
        assert "without" in kinds and "leader" in kinds


def test_the_suggestions_link_of_an_official_lists_the_items_they_came_in(client, cast, ledger):
    f = page(client, cast.bob, round=cast.round.pk).context["f"]
    total, rows = listed(client, f.suggestions_link)
    expected = {
        s.item.number
        for s in Suggestion.objects.filter(round=cast.round, item__isnull=False)
        if sees(cast.bob, s.item) and s.item.state != "draft"
    }
    assert expected <= rows and total == len(rows)
    client.force_login(cast.alice)
    f = client.get(DASHBOARD, {"round": cast.round.pk}).context["f"]
    assert f.suggestions_link == reverse("intake:round", args=[cast.round.pk])


def test_the_list_keeps_the_dashboards_filters_in_its_form(client, cast, ledger):
    client.force_login(cast.alice)
    html = client.get(
        reverse("ledger:items"), {"track": "joint", "stage": "open", "ladder_step": "urge"}
    ).content.decode()
    assert '<option value="joint" selected>' in html
    assert '<option value="open" selected>' in html
    assert '<option value="urge" selected>' in html


# --- Weeks -----------------------------------------------------------------------------------


def test_items_closed_each_week(client, cast):
    today = datetime.date(2024, 6, 12)  # a Wednesday
    with time_machine.travel(datetime.datetime(2024, 6, 12, 10, tzinfo=datetime.UTC), tick=False):
        assert timezone.localdate() == today
        for day in ("2024-06-10", "2024-06-09", "2024-06-03", "2024-05-20"):
            make_item(
                cast.round,
                lead_department=cast.edu,
                leader=cast.leader,
                **closed(closed_on=datetime.date.fromisoformat(day)),
            )
        f = page(client, cast.alice, round=cast.round.pk).context["f"]
        weeks = [(w.start.isoformat(), w.closed) for w in f.weeks]
        assert weeks == [
            ("2024-05-20", 1),
            ("2024-05-27", 0),
            ("2024-06-03", 2),  # Monday 3rd and Sunday 9th
            ("2024-06-10", 1),
        ]
        total, rows = listed(client, f.weeks[2].link)
        assert total == 2 and len(rows) == 2


def test_the_weekly_chart_shows_the_last_52_weeks(client, cast):
    with time_machine.travel(datetime.datetime(2024, 6, 12, 10, tzinfo=datetime.UTC), tick=False):
        for day in ("2022-01-05", "2024-06-11"):
            make_item(
                cast.round,
                lead_department=cast.edu,
                leader=cast.leader,
                **closed(closed_on=datetime.date.fromisoformat(day)),
            )
        f = page(client, cast.alice, round=cast.round.pk).context["f"]
        assert len(f.weeks) == 52
        assert f.weeks[-1].start == datetime.date(2024, 6, 10)
        assert sum(w.closed for w in f.weeks) == 1


def test_old_close_outs_alone_show_the_weeks_up_to_the_last(client, cast):
    with time_machine.travel(datetime.datetime(2024, 6, 12, 10, tzinfo=datetime.UTC), tick=False):
        for day in ("2021-03-01", "2021-03-17"):
            make_item(
                cast.round,
                lead_department=cast.edu,
                leader=cast.leader,
                **closed(closed_on=datetime.date.fromisoformat(day)),
            )
        f = page(client, cast.alice, round=cast.round.pk).context["f"]
        assert [(w.start.isoformat(), w.closed) for w in f.weeks] == [
            ("2021-03-01", 1),
            ("2021-03-08", 0),
            ("2021-03-15", 1),
        ]


# --- Bounded queries -------------------------------------------------------------------------


def queries(client, user, **params) -> int:
    client.force_login(user)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(DASHBOARD, params).status_code == 200
    return len(captured)


@pytest.mark.parametrize("who", ["alice", "bob", "lena"])
def test_the_queries_do_not_grow_with_the_ledger(client, cast, ledger, who):
    user = getattr(cast, who)
    before = {which: queries(client, user, round=which) for which in (cast.round.pk, "all")}
    for n in range(12):
        department = make_department(f"新部门{n}")
        leader = make_leader(name=f"新领导{n}")
        category = make_category(cast.round, f"新类别{n}")
        item = make_item(
            cast.round,
            lead_department=department,
            leader=leader,
            category=category,
            **closed(closed_on=in_days(-7 * n)),
        )
        item.co_departments.add(cast.edu)
    after = {which: queries(client, user, round=which) for which in (cast.round.pk, "all")}
    assert after == before
    assert max(after.values()) < 20
