"""The ledger list: filters in the URL, sorting, keyset paging, state counts, bounded queries."""

from __future__ import annotations

import datetime

import pytest
from django.db.models import Q
from django.urls import reverse

from ledger import workflow
from ledger.models import Item, Suggestion, deadline_key, overdue_condition
from ledger.selectors import SORTS

from .factory import in_days, make_item


def assign(cast, item, *, lead=None, co=(), deadline=30, leader=None):
    workflow.assign(
        item,
        by=cast.alice,
        leader=leader or cast.leader,
        lead_department=lead or cast.edu,
        co_departments=list(co),
        deadline=in_days(deadline),
    )
    return item


@pytest.fixture
def ledger(cast):
    """A small ledger: 教育局 leads three, 卫健委 one, one draft; one escalated."""
    a = assign(cast, make_item(cast.round, title="学校周边交通拥堵"), co=[cast.traffic])
    b = assign(cast, make_item(cast.round, title="校舍老旧"), deadline=3)
    c = assign(
        cast, make_item(cast.round, title="课后服务收费"), deadline=60, leader=cast.other_leader
    )
    d = assign(cast, make_item(cast.round, title="医院挂号难"), lead=cast.health)
    e = make_item(cast.round, title="尚未交办的问题")
    workflow.escalate(c, by=cast.alice, note="请加快")
    Suggestion.objects.create(round=cast.round, seq=1, item=d, text="建议增加网上预约号源")
    return {"a": a, "b": b, "c": c, "d": d, "e": e}


def titles(response) -> list[str]:
    return [item.title for item in response.context["page"].rows]


def get(client, user, **params):
    client.force_login(user)
    return client.get(reverse("ledger:items"), params)


def test_each_role_sees_its_reach(client, cast, ledger):
    assert len(titles(get(client, cast.alice))) == 5
    assert set(titles(get(client, cast.bob))) == {"学校周边交通拥堵", "校舍老旧", "课后服务收费"}
    assert titles(get(client, cast.carol)) == ["学校周边交通拥堵"]
    assert set(titles(get(client, cast.lena))) == {"学校周边交通拥堵", "校舍老旧", "医院挂号难"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"state": "draft"}, {"尚未交办的问题"}),
        ({"lead": "health"}, {"医院挂号难"}),
        ({"co": "traffic"}, {"学校周边交通拥堵"}),
        ({"leader": "other_leader"}, {"课后服务收费"}),
        ({"escalated": "true"}, {"课后服务收费"}),
        ({"q": "校舍"}, {"校舍老旧"}),
        ({"q": "网上预约"}, {"医院挂号难"}),  # words of a merged suggestion
        ({"q": "ＡＢＣ"}, set()),
    ],
)
def test_filters(client, cast, ledger, params, expected):
    ids = {
        "health": cast.health.pk,
        "traffic": cast.traffic.pk,
        "other_leader": cast.other_leader.pk,
    }
    params = {k: ids.get(v, v) for k, v in params.items()}
    assert set(titles(get(client, cast.alice, **params))) == expected


def test_deadline_range_and_overdue(client, cast, ledger):
    page = get(client, cast.alice, due_to=in_days(5).isoformat())
    assert titles(page) == ["校舍老旧"]
    Item.objects.filter(pk=ledger["b"].pk).update(deadline=in_days(-2))
    page = get(client, cast.alice, overdue="true")
    assert titles(page) == ["校舍老旧"]
    assert page.context["overdue_count"] == 1
    assert "逾期" in page.content.decode()


def test_a_bad_date_is_said_next_to_the_field_and_ignored(client, cast, ledger):
    page = get(client, cast.alice, due_from="2020-13-45")
    assert page.status_code == 200
    assert len(titles(page)) == 5
    assert 'class="error"' in page.content.decode()


def test_state_counts_ignore_the_chosen_state(client, cast, ledger):
    page = get(client, cast.alice, state="assigned")
    counts = {value: n for value, _label, n in page.context["states"]}
    assert counts == {"draft": 1, "assigned": 4, "in_progress": 0, "requested": 0, "closed": 0}
    assert len(titles(page)) == 4


def test_sorting_by_deadline_both_ways(client, cast, ledger):
    up = titles(get(client, cast.bob, sort="deadline"))
    assert up == ["校舍老旧", "学校周边交通拥堵", "课后服务收费"]
    assert titles(get(client, cast.bob, sort="-deadline")) == list(reversed(up))


def test_keyset_paging_walks_every_row_once_forward_and_back(client, cast):
    for n in range(45):
        make_item(cast.round, number=f"2019-{n:04d}", title=f"问题{n:02d}")
    client.force_login(cast.alice)
    seen, params = [], {"size": 20}
    while True:
        page = client.get(reverse("ledger:items"), params).context["page"]
        seen += [i.number for i in page.rows]
        if not page.has_next:
            break
        params = {"size": 20, "after": page.last_cursor}
    assert seen == [f"2019-{n:04d}" for n in range(45)]
    last = client.get(reverse("ledger:items"), {"size": 20, "last": "1"}).context["page"]
    assert [i.number for i in last.rows] == [f"2019-{n:04d}" for n in range(25, 45)]
    assert last.has_previous and not last.has_next
    back = client.get(reverse("ledger:items"), {"size": 20, "before": last.first_cursor}).context[
        "page"
    ]
    assert [i.number for i in back.rows] == [f"2019-{n:04d}" for n in range(5, 25)]
    assert back.has_next


@pytest.mark.parametrize("sort", sorted(SORTS))
def test_a_supervisors_list_of_every_state_pages_in_order_forward_and_back(
    client, cast, sort, monkeypatch
):
    """Outside the default order, a list of every state is read one state at a time, each
    through its own index, and merged page by page: walking it forward and back gives every
    item once, in the order of the whole list; so does the overdue list, drafts left out."""
    monkeypatch.setattr("ledger.views_ledger.PAGE_SIZES", (5, 200))
    for n in range(53):
        item = make_item(cast.round, number=f"2019-{(n * 11) % 53:04d}", title=f"问题{n:02d}")
        if n % 5 == 0:
            continue  # a draft
        long_term = n % 7 == 0  # no deadline: after every dated item
        workflow.assign(
            item,
            by=cast.alice,
            leader=cast.leader,
            lead_department=[cast.edu, cast.traffic][n % 2],
            deadline=None if long_term else in_days(n % 13 + 1),
            long_term=long_term,
        )
        if n % 2 == 1 and not long_term:  # fell overdue since
            Item.objects.filter(pk=item.pk).update(deadline=in_days(-(n % 6) - 1))
        if n % 3 == 0:
            workflow.start(item, by=cast.bob if n % 2 == 0 else cast.carol)
    Item.objects.filter(number__endswith="3").update(percent=40)
    Item.objects.filter(number__endswith="7").update(percent=90)
    for params, many in (({}, 53), ({"overdue": "true"}, None)):
        order = SORTS[sort].sort.order_by()
        expected_items = Item.objects.filter(overdue_condition() if params else Q()).annotate(
            deadline_key=deadline_key()
        )
        expected = list(expected_items.order_by(*order).values_list("number", flat=True))
        if many:
            assert len(expected) == many
        assert len(expected) > 12  # more than two pages of five
        seen, query = [], {"size": 5, "sort": sort, **params}
        while True:
            page = get(client, cast.alice, **query).context["page"]
            seen += [i.number for i in page.rows]
            if not page.has_next:
                break
            query = {"size": 5, "sort": sort, **params, "after": page.last_cursor}
        assert seen == expected
        last = get(client, cast.alice, size=5, sort=sort, last="1", **params).context["page"]
        assert [i.number for i in last.rows] == expected[-5:]
        back = get(client, cast.alice, size=5, sort=sort, before=last.first_cursor, **params)
        assert [i.number for i in back.context["page"].rows] == expected[-10:-5]


@pytest.mark.parametrize("walk", [False, True], ids=["shares-by-id", "shares-walked"])
@pytest.mark.parametrize("sort", ["number", "-number", "deadline", "-deadline", "-percent"])
def test_an_officials_pages_merge_led_and_shared_items_in_order(
    client, cast, sort, walk, monkeypatch
):
    """An official's list is read as two parts (led, shared) merged page by page: walking
    it forward and back gives every item they see once, in the order of the whole list,
    whichever way the shared part is read (on SQLite a department sharing many items has
    them read by walking the list's order)."""
    if walk:
        monkeypatch.setattr("ledger.selectors.SHARES_WALK", 1)
    for n in range(47):
        item = make_item(cast.round, number=f"2019-{n:04d}", title=f"问题{n:02d}")
        lead = [cast.edu, cast.traffic, cast.health][n % 3]
        co = [cast.edu] if n % 3 == 1 else [cast.traffic] if n % 3 == 0 else []
        long_term = n % 7 == 0  # no deadline: after every dated item
        workflow.assign(
            item,
            by=cast.alice,
            leader=cast.leader,
            lead_department=lead,
            co_departments=co,
            deadline=None if long_term else in_days(40 - n % 11),
            long_term=long_term,
        )
    Item.objects.filter(number__endswith="5").update(percent=50)
    expected = [i.number for i in get(client, cast.alice, sort=sort, size=200).context["page"].rows]
    sees = set(Item.objects.visible_to(cast.bob).values_list("number", flat=True))
    expected = [n for n in expected if n in sees]
    assert len(expected) == 32  # 16 led, 16 shared

    seen, params = [], {"size": 20, "sort": sort}
    while True:
        page = get(client, cast.bob, **params).context["page"]
        seen += [i.number for i in page.rows]
        if not page.has_next:
            break
        params = {"size": 20, "sort": sort, "after": page.last_cursor}
    assert seen == expected
    last = get(client, cast.bob, size=20, sort=sort, last="1").context["page"]
    assert [i.number for i in last.rows] == expected[-20:]
    back = get(client, cast.bob, size=20, sort=sort, before=last.first_cursor).context["page"]
    assert [i.number for i in back.rows] == expected[:12]
    assert not back.has_previous and back.has_next
    # The list's filters hold in both parts: shared items led by 交通局, one state.
    narrowed = get(client, cast.bob, sort=sort, lead=cast.traffic.pk, state="assigned")
    led_by_traffic = Item.objects.visible_to(cast.bob).filter(lead_department=cast.traffic)
    assert [i.number for i in narrowed.context["page"].rows] == [
        n for n in expected if n in set(led_by_traffic.values_list("number", flat=True))
    ]


@pytest.mark.parametrize("sort", sorted(SORTS))
@pytest.mark.parametrize("who", ["alice", "bob"])
def test_a_keywords_pages_keep_the_lists_order_forward_and_back(
    client, cast, sort, who, monkeypatch
):
    """A keyword's matches are paged from what its lookup read (``Ledger.keys``): walking
    them forward and back gives the order the list without the keyword gives them."""
    monkeypatch.setattr("ledger.views_ledger.PAGE_SIZES", (5, 200))
    for n in range(47):
        word = "停车" if n % 4 else "噪音"
        item = make_item(cast.round, number=f"2019-{(n * 7) % 47:04d}", title=f"{word}问题{n}")
        long_term = n % 9 == 0  # no deadline: after every dated item
        workflow.assign(
            item,
            by=cast.alice,
            leader=cast.leader,
            lead_department=cast.edu if n % 3 else cast.traffic,
            co_departments=[cast.edu] if n % 3 == 0 and n % 2 else [],
            deadline=None if long_term else in_days(40 - n % 5),
            long_term=long_term,
        )
    Item.objects.filter(number__endswith="3").update(percent=50)
    Item.objects.filter(number__regex=r"[02468]$").update(state="in_progress", percent=20)
    user = getattr(cast, who)
    for state in ("", "in_progress"):
        whole = get(client, user, sort=sort, size=200, state=state).context["page"].rows
        expected = [i.number for i in whole if i.title.startswith("停车")]
        assert len(expected) > 10
        seen, params = [], {"size": 5, "sort": sort, "q": "停车", "state": state}
        while True:
            page = get(client, user, **params).context["page"]
            seen += [i.number for i in page.rows]
            if not page.has_next:
                break
            params["after"] = page.last_cursor
        assert seen == expected
        params.pop("after")
        last = get(client, user, **params, last="1").context["page"]
        assert [i.number for i in last.rows] == expected[-5:]
        back = get(client, user, **params, before=last.first_cursor).context["page"]
        assert [i.number for i in back.rows] == expected[-10:-5]
        assert back.has_next


def test_a_forged_cursor_gives_the_first_page(client, cast, ledger):
    page = get(client, cast.alice, after="not-a-cursor!!")
    assert page.status_code == 200
    assert len(titles(page)) == 5


def test_the_filter_lives_in_the_url(client, cast, ledger):
    page = get(client, cast.alice, state="assigned", q="校")
    html = page.content.decode()
    assert 'value="校"' in html
    assert "state=assigned" in html  # tab and pager links keep it


def test_counts_are_capped(client, cast, ledger, monkeypatch):
    from ledger import selectors

    monkeypatch.setattr(selectors, "COUNT_CAP", 2)
    monkeypatch.setattr("ledger.templatetags.ledger_tags.COUNT_CAP", 2)
    page = get(client, cast.alice)
    assert "2+" in page.content.decode()


@pytest.mark.parametrize("size", [20, 50, 200])
@pytest.mark.parametrize("who", ["alice", "bob"])
def test_the_list_runs_at_most_ten_queries_whatever_the_page(
    client, cast, who, size, django_assert_max_num_queries
):
    for n in range(size * 2 + 5):
        item = make_item(cast.round, number=f"2019-{n:04d}", title=f"问题{n}")
        if n % 2:
            item.co_departments.add(cast.traffic)
    Item.objects.update(
        state="assigned",
        lead_department=cast.edu,
        leader=cast.leader,
        deadline=datetime.date(2030, 1, 1),
    )
    client.force_login(getattr(cast, who))
    url = reverse("ledger:items")
    with django_assert_max_num_queries(10):
        first = client.get(url, {"size": size, "q": "问题", "state": "assigned"})
    with django_assert_max_num_queries(10):
        last = client.get(url, {"size": size, "last": "1"})
    assert len(first.context["page"].rows) == size
    assert last.context["page"].is_last


def test_home_for_an_official_lists_overdue_and_due_soon(client, cast, ledger):
    Item.objects.filter(pk=ledger["a"].pk).update(deadline=in_days(-4))
    client.force_login(cast.bob)
    html = client.get(reverse("ledger:home")).content.decode()
    assert "学校周边交通拥堵" in html  # overdue
    assert "校舍老旧" in html  # due in 3 days
    assert "医院挂号难" not in html


def test_an_officials_home_lists_what_fell_overdue_since_the_last_view(client, cast, ledger):
    """The home's query is built once a day and kept; its rows are read on every view."""
    client.force_login(cast.bob)

    def overdue_titles():
        return [i.title for i in client.get(reverse("ledger:home")).context["overdue"]]

    assert overdue_titles() == []
    Item.objects.filter(pk=ledger["c"].pk).update(deadline=in_days(-1))
    Item.objects.filter(pk=ledger["a"].pk).update(deadline=in_days(-4))
    assert overdue_titles() == ["学校周边交通拥堵", "课后服务收费"]


def test_home_for_a_supervisor_shows_the_queue(client, cast, ledger):
    workflow.decline(ledger["a"], by=cast.bob, reason="不属于本单位")
    client.force_login(cast.alice)
    response = client.get(reverse("ledger:home"))
    assert response.context["queue"]["declined"] == 1


def test_shared_rows_follow_their_item_whatever_writes_it(cast):
    from ledger.models import CoDepartment

    item = assign(cast, make_item(cast.round), co=[cast.traffic, cast.health], deadline=10)

    def shares():
        return set(
            CoDepartment.objects.filter(item=item).values_list(
                "department_id", "state", "deadline", "lead_department_id"
            )
        )

    assert shares() == {
        (cast.traffic.pk, "assigned", in_days(10), cast.edu.pk),
        (cast.health.pk, "assigned", in_days(10), cast.edu.pk),
    }
    workflow.start(item, by=cast.bob)
    assert {row[1] for row in shares()} == {"in_progress"}
    # A write that bypasses the workflow (an import, an administrator) is followed too.
    Item.objects.filter(pk=item.pk).update(deadline=in_days(-2), lead_department=cast.traffic)
    assert {(row[2], row[3]) for row in shares()} == {(in_days(-2), cast.traffic.pk)}


@pytest.mark.parametrize("narrowed", [False, True])
def test_an_officials_counts_match_the_items_they_see(cast, narrowed):
    from ledger.selectors import state_counts

    led = [assign(cast, make_item(cast.round), deadline=d) for d in (5, 40, 60)]
    shared = [
        assign(cast, make_item(cast.round), lead=cast.health, co=[cast.edu], deadline=d)
        for d in (5, 40, 60, 90)
    ]
    assign(cast, make_item(cast.round), lead=cast.health, co=[cast.traffic])  # not bob's
    make_item(cast.round)  # a draft: nobody's but the office's
    workflow.start(led[0], by=cast.bob)
    workflow.start(shared[0], by=cast.dave)
    workflow.request_closeout(shared[0], by=cast.dave, outcome="已完成", outcome_kind="done")
    Item.objects.filter(pk__in=[led[1].pk, shared[1].pk]).update(deadline=in_days(-3))

    visible = Item.objects.visible_to(cast.bob)
    counts = state_counts(cast.bob, visible if narrowed else None)
    expected = {state: visible.filter(state=state).count() for state in Item.LIVE_STATES}
    assert {state: counts[state] for state in Item.LIVE_STATES} == expected
    assert expected["assigned"] == 5 and expected["requested"] == 1
    assert counts["overdue"] == 2


@pytest.mark.parametrize("walk", [False, True], ids=["shares-by-id", "shares-walked"])
def test_an_officials_list_filtered_by_a_lead_department_counts_and_lists_its_items(
    client, cast, walk, monkeypatch
):
    """Filtered to their own department as lead, an official's shared part holds nothing,
    and filtered to another, the led part; either is left out, and the list is the same."""
    if walk:
        monkeypatch.setattr("ledger.selectors.SHARES_WALK", 1)
    for n in range(9):
        lead = [cast.edu, cast.health, cast.traffic][n % 3]
        co = [cast.edu] if n % 2 and lead != cast.edu else []
        assign(cast, make_item(cast.round, title=f"问题{n}"), lead=lead, co=co)
    workflow.start(Item.objects.get(title="问题0"), by=cast.bob)
    visible = Item.objects.visible_to(cast.bob)
    for lead in (cast.edu, cast.health, cast.traffic):
        page = get(client, cast.bob, lead=lead.pk, size=200).context
        expected = visible.filter(lead_department=lead).order_by("round_id", "number")
        assert [i.pk for i in page["page"].rows] == [i.pk for i in expected]
        assert {s: n for s, _label, n in page["states"]} == {
            s: expected.filter(state=s).count() for s in Item.LIVE_STATES if s != "draft"
        }
    assert visible.filter(lead_department=cast.health).count() == 2  # shared with 教育局


def test_a_keyword_never_reaches_past_what_the_user_may_see(client, cast, ledger):
    client.force_login(cast.bob)  # 市教育局: 医院挂号难 is 卫健委's alone
    page = client.get(reverse("ledger:items"), {"q": "医院"}).content.decode()
    assert "医院挂号难" not in page
    page = client.get(reverse("ledger:items"), {"q": "网上预约"}).content.decode()
    assert "医院挂号难" not in page
    client.force_login(cast.dave)
    page = client.get(reverse("ledger:items"), {"q": "网上预约"}).content.decode()
    assert "医院挂号难" in page


def test_a_keyword_finds_an_item_by_its_number_in_either_case(client, cast, ledger):
    number = ledger["b"].number
    client.force_login(cast.alice)
    for typed in (number, number.upper(), number.lower()):
        page = client.get(reverse("ledger:items"), {"q": typed}).content.decode()
        assert "校舍老旧" in page and "学校周边交通拥堵" not in page, typed


def test_a_short_word_matches_in_either_case_and_only_within_reach(client, cast, ledger):
    """One or two characters make no trigram, so PostgreSQL tests them with STRPOS rather
    than through the index, and an official's lookup reads the led and the shared part
    apart: the same matches either way, in either case, never past the user's reach."""
    Suggestion.objects.create(round=cast.round, seq=2, item=ledger["a"], text="建议增设5g基站")
    Suggestion.objects.create(round=cast.round, seq=3, item=ledger["d"], text="医院5G信号差")
    for typed in ("5g", "5G", "５Ｇ"):  # full-width, as a Chinese IME types it
        assert sorted(titles(get(client, cast.alice, q=typed))) == [
            "医院挂号难",
            "学校周边交通拥堵",
        ]
        # 教育局 leads 学校周边交通拥堵; 医院挂号难 is 卫健委's alone.
        assert titles(get(client, cast.bob, q=typed)) == ["学校周边交通拥堵"]
        # 交通局 shares 学校周边交通拥堵, which 教育局 leads.
        assert titles(get(client, cast.carol, q=typed)) == ["学校周边交通拥堵"]
    counts = {v: n for v, _, n in get(client, cast.carol, q="5g").context["states"]}
    assert counts == {"assigned": 1, "in_progress": 0, "requested": 0, "closed": 0}
    # Filtered to another lead department, an official's shared part alone is read.
    assert titles(get(client, cast.carol, q="5g", lead=cast.edu.pk)) == ["学校周边交通拥堵"]
    assert titles(get(client, cast.carol, q="5g", lead=cast.traffic.pk)) == []
    assert titles(get(client, cast.bob, q="5g", lead=cast.edu.pk)) == ["学校周边交通拥堵"]


def test_the_chosen_filters_stay_chosen_in_their_dropdowns(client, cast, ledger):
    client.force_login(cast.alice)
    page = client.get(
        reverse("ledger:items"),
        {"lead": cast.edu.pk, "co": cast.traffic.pk, "round": cast.round.pk},
    ).content.decode()
    assert f'<option value="{cast.edu.pk}" selected>{cast.edu.name}</option>' in page
    assert f'<option value="{cast.traffic.pk}" selected>{cast.traffic.name}</option>' in page
    assert f'<option value="{cast.round.pk}" selected>{cast.round.name}</option>' in page
    assert f'<option value="{cast.health.pk}" selected>' not in page


def test_an_officials_home_merges_led_and_shared_items_by_deadline(client, cast):
    led = assign(cast, make_item(cast.round, title="本局牵头的逾期事项"))
    shared = assign(
        cast, make_item(cast.round, title="本局配合的逾期事项"), lead=cast.health, co=[cast.edu]
    )
    other = assign(cast, make_item(cast.round, title="别人的逾期事项"), lead=cast.health)
    soon = assign(
        cast,
        make_item(cast.round, title="本局配合的临期事项"),
        lead=cast.health,
        co=[cast.edu],
        deadline=3,
    )
    Item.objects.filter(pk=led.pk).update(deadline=in_days(-2))
    Item.objects.filter(pk__in=[shared.pk, other.pk]).update(deadline=in_days(-9))
    client.force_login(cast.bob)
    response = client.get(reverse("ledger:home"))
    assert [i.title for i in response.context["overdue"]] == [
        "本局配合的逾期事项",
        "本局牵头的逾期事项",
    ]
    assert [i.title for i in response.context["due_soon"]] == [soon.title]


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_counts_within_a_keyword_match_the_counts_through_the_items(cast, ledger, who):
    from ledger.selectors import ledger_items, state_counts

    user = getattr(cast, who)
    Item.objects.filter(pk=ledger["a"].pk).update(deadline=in_days(-4))
    result = ledger_items(user=user, params={"q": "学校 交通"})
    assert result.ids is not None
    assert result.counts(user) == state_counts(user, result.every_state)
    everyone = ledger_items(user=user, params={"q": "问题"})
    assert everyone.counts(user) == state_counts(user, everyone.every_state)


@pytest.mark.parametrize("who", ["alice", "bob"])
@pytest.mark.parametrize("word", ["学校", "学校周边"])
def test_counts_of_a_word_too_common_to_list_match_the_counts_through_the_items(
    cast, ledger, who, word, monkeypatch
):
    from ledger import filters
    from ledger.selectors import ledger_items, state_counts

    monkeypatch.setattr(filters, "KEYWORD_IDS", 0)  # every word is too common to list
    user = getattr(cast, who)
    Item.objects.filter(pk=ledger["a"].pk).update(deadline=in_days(-4))
    for item in (ledger["b"], ledger["c"]):
        Item.objects.filter(pk=item.pk).update(title=f"学校周边{item.title}")
    result = ledger_items(user=user, params={"q": word})
    assert result.ids is None
    # Two characters make no trigram: the counts are one grouped pass, not capped arms.
    assert result.filter.keyword_scans == (len(word) < 3)
    expected = {state: result.every_state.filter(state=state).count() for state in Item.LIVE_STATES}
    counts = result.counts(user)
    assert {state: counts[state] for state in Item.LIVE_STATES} == expected
    assert counts == state_counts(user, result.every_state)
    assert counts["overdue"] == 1 and sum(expected.values()) == 3


def test_a_keyword_and_a_state_list_only_that_states_matches(client, cast, ledger):
    workflow.start(ledger["b"], by=cast.bob)
    Item.objects.filter(pk=ledger["b"].pk).update(title="学校校舍老旧")
    client.force_login(cast.bob)
    response = client.get(reverse("ledger:items"), {"q": "学校", "state": "in_progress"})
    assert [i.title for i in response.context["page"].rows] == ["学校校舍老旧"]
    response = client.get(reverse("ledger:items"), {"q": "学校", "state": "assigned"})
    assert [i.title for i in response.context["page"].rows] == ["学校周边交通拥堵"]


def test_each_row_shows_its_light_deadline_flags_and_escapes_what_it_shows(client, cast, ledger):
    Item.objects.filter(pk=ledger["a"].pk).update(
        deadline=in_days(-2), title="<script>alert(1)</script>学校周边"
    )
    Item.objects.filter(pk=ledger["b"].pk).update(deadline=None, long_term=True)
    client.force_login(cast.bob)
    page = client.get(reverse("ledger:items"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    row = {
        key: page[page.index(f'href="/items/{item.pk}/"') :].split("</tr>")[0]
        for key, item in ledger.items()
        if key in "abc"
    }
    assert "&lt;script&gt;alert(1)&lt;/script&gt;学校周边" in row["a"]
    assert "<script>alert" not in page
    assert 'class="light light-red" title="逾期"' in row["a"]
    assert in_days(-2).isoformat() in row["a"] and "市教育局" in row["a"]
    assert "长期坚持" in row["b"] and "light-" not in row["b"]
    # Escalated: the row shows the step of the escalation ladder it has reached.
    assert '<span class="badge badge-ladder-escalate">' in row["c"] and "李文华" in row["c"]
    assert '<span class="badge badge-assigned">已交办</span>' in row["c"]


def test_rows_name_a_department_and_leader_newer_than_the_kept_names(client, cast, ledger):
    """The list reads the items alone and names their departments and leaders from names
    kept for seconds; a row naming one made since is not left without its name."""
    from ledger.models import Department, Leader

    client.force_login(cast.alice)
    assert "<tr>" in client.get(reverse("ledger:items")).content.decode()  # names now kept
    dept = Department.objects.create(name="市<数据>局")
    leader = Leader.objects.create(name="周新", post="副市长")
    Item.objects.filter(pk=ledger["d"].pk).update(lead_department=dept, leader=leader)
    page = client.get(reverse("ledger:items"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    row = page[page.index(f'href="/items/{ledger["d"].pk}/"') :].split("</tr>")[0]
    assert "市&lt;数据&gt;局" in row and "副市长 周新" in row


def test_an_officials_overdue_list_takes_the_soonest_of_every_open_state(client, cast):
    from ledger.selectors import first_by_deadline

    items = []
    for n in range(14):
        shared = n % 3 == 0
        item = assign(
            cast,
            make_item(cast.round, title=f"逾期事项{n}"),
            lead=cast.health if shared else cast.edu,
            co=[cast.edu] if shared else [],
        )
        by = cast.dave if shared else cast.bob
        if n % 2:
            workflow.start(item, by=by)
        if n % 4 == 1:
            workflow.request_closeout(item, by=by, outcome="已完成", outcome_kind="done")
        items.append(item)
    for n, item in enumerate(items):
        Item.objects.filter(pk=item.pk).update(deadline=in_days(-30 + (n * 7) % 17))
    closed = assign(cast, make_item(cast.round, title="已销号的事项"))
    Item.objects.filter(pk=closed.pk).update(
        state="closed", deadline=in_days(-60), closed_on=in_days(-1), outcome_kind="done"
    )
    expected = list(
        Item.objects.visible_to(cast.bob)
        .overdue()
        .order_by("deadline", "id")
        .values_list("title", flat=True)[:10]
    )
    assert {i.state for i in items} == {"assigned", "in_progress", "requested"}
    got = [i.title for i in first_by_deadline(cast.bob, overdue_condition())]
    assert got == expected and len(got) == 10 and "已销号的事项" not in got


def test_the_query_tag_changes_one_parameter_and_drops_the_position_when_the_list_changes():
    from django.http import QueryDict

    from ledger.templatetags.ledger_tags import query

    params = QueryDict("q=%E5%AD%A6%E6%A0%A1+%26%3C&co=3&co=4&after=abc&sort=number")
    # A new position keeps the rest, in place.
    assert (
        query(params, after="xyz") == "?q=%E5%AD%A6%E6%A0%A1+%26%3C&co=3&co=4&after=xyz&sort=number"
    )
    # Another order or filter: back to the first page; a changed parameter keeps its place.
    assert (
        query(params, sort="-deadline") == "?q=%E5%AD%A6%E6%A0%A1+%26%3C&co=3&co=4&sort=-deadline"
    )
    assert (
        query(params, state="closed", co=None)
        == "?q=%E5%AD%A6%E6%A0%A1+%26%3C&sort=number&state=closed"
    )
    assert query(QueryDict(""), state=None) == "?"
