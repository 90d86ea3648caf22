"""Titles drafted masked: consolidation and manual creation propose the citizen's words masked
as a notice masks them; the words as received stay on the suggestion, shown on the item's
page to those who may see the item and to nobody else."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from ledger import workflow
from ledger.intake.consolidation import draft_title
from ledger.models import Event, Item, Suggestion

from .factory import in_days, make_item, make_suggestion

pytestmark = pytest.mark.django_db

RAW = "村民陈建华反映，电话13800001234，身份证450902198806120315，门口路灯坏了半个月"
MASKED = "村民陈**反映，电话138****1234，身份证45*************315，门口路灯坏了半个月"


def test_a_drafted_title_is_the_masked_text_on_one_line():
    assert draft_title(RAW) == MASKED
    assert draft_title("我叫黄海，\n  加我微信 lqj_1962") == "我叫黄**， 加我微信 l******2"
    assert draft_title("学校门口交通拥堵") == "学校门口交通拥堵"


def test_the_consolidation_page_proposes_the_masked_text(client, cast):
    s = make_suggestion(cast.round, seq=1, text=RAW)
    client.force_login(cast.alice)
    page = client.get(reverse("intake:consolidate", args=[cast.round.pk])).content.decode()
    (title,) = re.findall(rf'name="title-{s.pk}"[^>]*>([^<]*)</textarea>', page)
    assert html.unescape(title) == MASKED


def test_the_whole_round_at_once_titles_items_masked_and_keeps_the_words(client, cast):
    s = make_suggestion(cast.round, seq=1, text=RAW)
    client.force_login(cast.alice)
    client.post(reverse("intake:consolidate-all", args=[cast.round.pk]))
    item = Item.objects.get(suggestions=s)
    assert item.title == MASKED
    assert Suggestion.objects.get(pk=s.pk).text == RAW


def test_an_existing_title_is_not_rewritten(client, cast):
    old = make_item(cast.round, title=RAW)
    client.force_login(cast.alice)
    make_suggestion(cast.round, seq=1, text="放学时段门口车多")
    client.post(reverse("intake:consolidate-all", args=[cast.round.pk]))
    old.refresh_from_db()
    assert old.title == RAW


def new_item(client, cast, title):
    client.force_login(cast.alice)
    return client.post(
        reverse("ledger:item-new"),
        {
            "round": cast.round.pk,
            "title": title,
            "category": "",
            "track": "joint",
            "measures": "",
            "goal": "",
            "responsible_person": "",
            "remarks": "",
            "leader": "",
            "lead_department": "",
            "deadline": "",
        },
        follow=True,
    )


def test_an_item_added_by_hand_is_titled_masked_and_keeps_the_words_as_its_suggestion(client, cast):
    make_suggestion(cast.round, seq=7, text="别的意见")
    response = new_item(client, cast, RAW)
    assert response.status_code == 200
    item = Item.objects.get()
    assert item.title == MASKED
    (kept,) = item.suggestions.all()
    assert (kept.seq, kept.text, kept.round) == (8, RAW, cast.round)
    (event,) = item.events.all()
    assert (event.kind, event.data) == (Event.Kind.CREATE, {"how": "manual", "suggestions": [8]})
    messages = [str(m) for m in response.context["messages"]]
    assert len(messages) == 2 and "8" in messages[1]


def test_an_item_added_by_hand_without_personal_details_gets_no_suggestion(client, cast):
    new_item(client, cast, "城区部分路段夜间施工噪音扰民")
    item = Item.objects.get()
    assert item.title == "城区部分路段夜间施工噪音扰民"
    assert not item.suggestions.exists()


def test_the_words_as_received_are_shown_to_those_who_may_see_the_item_alone(client, cast):
    new_item(client, cast, RAW)
    item = Item.objects.get()
    page = client.get(reverse("ledger:item", args=[item.pk])).content.decode()
    assert "13800001234" in page and "陈建华" in page
    workflow.assign(
        item,
        by=cast.alice,
        leader=cast.leader,
        lead_department=cast.edu,
        co_departments=[],
        deadline=in_days(30),
    )
    # The lead department's official may see the item, and reads the citizen's words.
    client.force_login(cast.bob)
    page = client.get(reverse("ledger:item", args=[item.pk])).content.decode()
    assert "13800001234" in page and MASKED.split("，")[0] in page
    # Another department's official may not: the item, its title and words are 404.
    client.force_login(cast.carol)
    assert client.get(reverse("ledger:item", args=[item.pk])).status_code == 404
