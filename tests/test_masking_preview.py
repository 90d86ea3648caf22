"""Possible names in a notice's preview: shown apart, masked until the supervisor decides,
each decision stored on the notice and written to the audit trail; published notices stay
as they were published whatever the masking rules do afterwards."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from ledger.models import AuditEntry
from ledger.publication import snapshot
from ledger.publication.masking import mask
from ledger.publication.models import Notice, Publication, PublishedAnnex

from .factory import make_suggestion
from .test_publication import (  # noqa: F401 (the ledger fixture)
    compose,
    files_of,
    ledger,
    previewed,
    publish,
    text_of,
)

pytestmark = pytest.mark.django_db

# 黄海 is a sea to the dictionary: after 我叫 it is only possibly a name.
POSSIBLE = "我叫黄海，学校门口的斑马线早就看不清了。"


@pytest.fixture
def possible(cast, ledger):  # noqa: F811
    make_suggestion(cast.round, item=ledger["done"], text=POSSIBLE)
    return ledger


def decide(client, notice, action, text="黄海"):
    return client.post(
        reverse("publication:mask", args=[notice.pk]), {"action": action, "text": text}, follow=True
    )


def forms_for(panel: str, action: str, text: str = "黄海") -> int:
    pattern = rf'name="action" value="{action}">\s*<input type="hidden" name="text" value="{text}">'
    return len(re.findall(pattern, panel))


def masking_lines() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(kind=AuditEntry.Kind.MASKING).order_by("pk"))


def test_an_undecided_possible_name_is_shown_apart_and_masked(client, cast, possible):
    notice = compose(client, cast)
    page = client.get(reverse("publication:preview", args=[notice.pk])).content.decode()
    assert '<mark class="masked masked-possible_name"' in page
    paper, panel = previewed(client, notice)
    assert "我叫黄**，学校门口" in paper and "黄海" not in paper
    # In the panel: the words around it, and the two decisions.
    assert 'class="possible-names"' in panel
    context = '…我叫<mark class="masked masked-possible_name">黄海</mark>，学校门口的斑马线早就看…'
    assert context in panel
    assert forms_for(panel, "confirm_name") == 1 and forms_for(panel, "dismiss_name") == 1
    # A certain name is listed as before, with its lift.
    assert forms_for(panel, "lift", "张三") == 1


def test_a_confirmed_name_is_masked_as_a_name_and_the_decision_is_recorded(client, cast, possible):
    notice = compose(client, cast)
    response = decide(client, notice, "confirm_name")
    assert response.status_code == 200
    notice.refresh_from_db()
    assert (notice.confirmed_names, notice.dismissed_names) == (["黄海"], [])
    paper, panel = previewed(client, notice)
    assert "我叫黄**，" in paper
    assert 'class="possible-names"' not in panel
    assert forms_for(panel, "reopen_name") == 1
    (line,) = masking_lines()
    assert (line.actor_id, line.username) == (cast.alice.pk, "alice")
    assert line.detail == {"notice": notice.pk, "action": "confirm_name", "text": "黄海"}
    assert notice.title in line.summary


def test_a_dismissed_possible_name_is_shown_as_it_is_and_can_be_taken_back(client, cast, possible):
    notice = compose(client, cast)
    decide(client, notice, "dismiss_name")
    notice.refresh_from_db()
    assert (notice.confirmed_names, notice.dismissed_names) == ([], ["黄海"])
    paper, panel = previewed(client, notice)
    assert "我叫黄海，学校门口" in paper
    # Dismissing decides only where the rules were unsure: 张三 after 村民 stays masked.
    assert "村民张**反映" in paper
    assert forms_for(panel, "reopen_name") == 1

    decide(client, notice, "reopen_name")
    notice.refresh_from_db()
    assert (notice.confirmed_names, notice.dismissed_names) == ([], [])
    paper, panel = previewed(client, notice)
    assert "我叫黄**，" in paper and forms_for(panel, "dismiss_name") == 1
    assert [(x.detail["action"], x.detail["text"], x.username) for x in masking_lines()] == [
        ("dismiss_name", "黄海", "alice"),
        ("reopen_name", "黄海", "alice"),
    ]
    # Deciding again what is already decided changes nothing and records nothing.
    decide(client, notice, "reopen_name")
    assert len(masking_lines()) == 2


def test_an_undecided_possible_name_is_masked_when_published(client, cast, possible):
    notice = publish(client, compose(client, cast))
    assert notice.state == "published", notice.error
    html, _pdf, _xlsx = files_of(client, notice)
    assert "我叫黄**，学校门口" in text_of(html)
    assert "黄海" not in html
    assert "黄海" not in json.dumps(notice.publication.snapshot, ensure_ascii=False)


def test_a_dismissed_possible_name_is_published_as_it_is(client, cast, possible):
    notice = compose(client, cast)
    decide(client, notice, "dismiss_name")
    notice = publish(client, notice)
    html, _pdf, _xlsx = files_of(client, notice)
    assert "我叫黄海，学校门口" in text_of(html)


def test_decisions_are_refused_once_published_and_copied_into_a_correction(client, cast, possible):
    notice = compose(client, cast)
    decide(client, notice, "confirm_name")
    decide(client, notice, "dismiss_name", "李四")
    notice = publish(client, notice)
    decide(client, notice, "reopen_name")
    notice.refresh_from_db()
    assert (notice.confirmed_names, notice.dismissed_names) == (["黄海"], ["李四"])
    client.force_login(cast.alice)
    client.post(reverse("publication:new-version", args=[notice.pk]))
    correction = Notice.objects.get(replaces=notice)
    assert (correction.confirmed_names, correction.dismissed_names) == (["黄海"], ["李四"])


def test_a_decision_needs_a_known_action_and_a_text(client, cast, possible):
    notice = compose(client, cast)
    mask_url = reverse("publication:mask", args=[notice.pk])
    assert client.post(mask_url, {"action": "confirm_name", "text": ""}).status_code == 400
    assert client.post(mask_url, {"action": "name_it", "text": "黄海"}).status_code == 400
    assert masking_lines() == []


# -- frozen --------------------------------------------------------------------------------


def published_bytes(client, notice) -> tuple:
    html, pdf, xlsx = files_of(client, notice)
    publication = Publication.objects.get(notice=notice)
    annexes = tuple(PublishedAnnex.objects.filter(publication=publication).values_list("html"))
    return html, pdf, xlsx, publication.html, publication.snapshot, annexes


def test_changing_the_masking_rules_changes_nothing_already_published(
    client, cast, possible, monkeypatch
):
    notice = publish(client, compose(client, cast))
    assert notice.state == "published", notice.error
    before = published_bytes(client, notice)

    # Rules that mask every text whole, and rules that mask nothing.
    monkeypatch.setattr(snapshot, "mask", lambda text, **kw: mask("", **kw))
    assert published_bytes(client, notice) == before
    monkeypatch.setattr(
        snapshot, "mask", lambda text, **kw: mask(text, terms=[text] if text else [])
    )
    assert published_bytes(client, notice) == before
    # Running the masker over the stored snapshot, as a new rule would, writes nothing.
    stored = Publication.objects.get(notice=notice).snapshot
    for annex in stored["annexes"]:
        for row in annex["rows"]:
            for text in row["suggestions"]:
                mask(text)
    assert published_bytes(client, notice) == before
    # And the preview of a published notice is built again, but publishes nothing.
    client.force_login(cast.alice)
    assert client.get(reverse("publication:preview", args=[notice.pk])).status_code == 200
    assert published_bytes(client, notice) == before
