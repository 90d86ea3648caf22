"""A round too large to group within a request is grouped in the background: the page
shows a progress bar, then the groups, read from the database (docs/consolidation.md)."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import reverse

from ledger.intake import consolidation, views_consolidation
from ledger.models import ConsolidationProposal, Job

from .factory import make_suggestion

pytestmark = pytest.mark.django_db

TEXTS = [
    "中山路路灯坏了好几盏，晚上黑漆漆的，希望尽快修好。",
    "中山路的路灯坏了好几盏，晚上黑漆漆的，请尽快修好！",
    "南湖公园公厕太少，周末游客多的时候要排长队。",
    "东门农贸市场门口占道经营严重，车辆根本过不去。",
]
QUEUED = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


@pytest.fixture
def large(cast, monkeypatch):
    """The cast's round, made "large" by lowering the limit of grouping within a request."""
    monkeypatch.setattr(views_consolidation, "INLINE_SUGGESTIONS", 2)
    return [make_suggestion(cast.round, text=t) for t in TEXTS]


def page(client, cast) -> str:
    return client.get(reverse("intake:consolidate", args=[cast.round.pk])).content.decode()


def test_a_large_round_is_grouped_in_the_background_then_shown(client, cast, large):
    client.force_login(cast.alice)
    with override_settings(TASKS=QUEUED):
        waiting = page(client, cast)
        assert "正在分组" in waiting and 'http-equiv="refresh"' in waiting
        # A second look does not queue the work twice.
        page(client, cast)
    job = Job.objects.get(kind="propose")
    stored = ConsolidationProposal.objects.get(round=cast.round)
    assert stored.groups is None and stored.job == job
    # The worker runs it.
    consolidation.propose_round_job.call(
        job_id=job.pk,
        round_id=cast.round.pk,
        threshold=consolidation.DEFAULT_THRESHOLD,
        key=stored.key,
    )
    job.refresh_from_db()
    assert job.state == Job.State.DONE
    shown = page(client, cast)
    assert "正在分组" not in shown
    assert "2 条意见建议" in shown  # the two reports of one broken street light


def test_a_failed_grouping_is_tried_again(client, cast, large):
    client.force_login(cast.alice)
    with override_settings(TASKS=QUEUED):
        page(client, cast)
        Job.objects.filter(kind="propose").update(state=Job.State.FAILED, error="x")
        page(client, cast)
    assert Job.objects.filter(kind="propose").count() == 2
    assert ConsolidationProposal.objects.filter(round=cast.round).count() == 1


def test_a_small_round_is_grouped_within_the_request(client, cast):
    for text in TEXTS:
        make_suggestion(cast.round, text=text)
    client.force_login(cast.alice)
    assert "2 条意见建议" in page(client, cast)
    assert not Job.objects.filter(kind="propose").exists()
    assert ConsolidationProposal.objects.filter(round=cast.round).exclude(groups=None).exists()
