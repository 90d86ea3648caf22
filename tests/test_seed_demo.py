"""``manage.py seed_demo``: the two rounds of the first seed, in every state, built once.

The command takes seconds, so it runs once for the whole module, inside a transaction that
is rolled back afterwards: every test below reads the same demo ledger, and the other test
modules find the database as empty as they expect it.
"""

from __future__ import annotations

import io
import re
from collections import defaultdict

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from ledger.management.commands import seed_demo
from ledger.models import (
    Category,
    Department,
    Event,
    Extension,
    Item,
    Leader,
    Progress,
    Round,
    Suggestion,
    User,
)
from ledger.publication.models import Notice, Publication

pytestmark = pytest.mark.django_db

# code → (suggestions received, items after consolidation), from the seed.
ROUNDS = {"2019": (547, 538), "2020M": (447, 443)}
STATES = set(Item.LIVE_STATES)
SIGN_INS = {"duchayuan", "jiaoyuju", "lingdao", "guanliyuan"}


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker) -> str:
    """The command's output; the demo ledger stays in the database for the module."""
    with django_db_blocker.unblock(), transaction.atomic():
        out = io.StringIO()
        call_command("seed_demo", stdout=out)
        yield out.getvalue()
        transaction.set_rollback(True)


def counts() -> dict[str, int]:
    models = [
        Round,
        Category,
        Department,
        Leader,
        User,
        Item,
        Suggestion,
        Event,
        Progress,
        Extension,
        Notice,
        Publication,
    ]
    return {model.__name__: model.objects.count() for model in models}


@pytest.mark.parametrize("code", ROUNDS)
def test_the_seed_figures(seeded, code):
    received, consolidated = ROUNDS[code]
    round_ = Round.objects.get(code=code)
    assert round_.suggestions.count() == received
    assert round_.items.count() == consolidated
    assert round_.document_number == "桂绩办发〔2020〕6号"
    assert list(round_.categories.values_list("name", flat=True)) == [
        "经济发展",
        "教育事业",
        "社会保障",
        "交通建设",
        "环境保护",
        "社会治安",
    ]
    # The merged duplicates are exactly the difference between the two figures.
    per_item = round_.items.annotate(n=Count("suggestions")).values_list("n", flat=True)
    assert min(per_item) == 1
    assert sum(n - 1 for n in per_item) == received - consolidated
    numbers = list(round_.items.values_list("number", flat=True))
    assert numbers == [f"{code}-{n:04d}" for n in range(1, consolidated + 1)]


def test_every_suggestion_belongs_to_an_item_of_its_round(seeded):
    assert not Suggestion.objects.filter(item__isnull=True).exists()
    assert not Suggestion.objects.exclude(item__round=F("round")).exists()


def test_items_are_titled_and_classified(seeded):
    assert not Item.objects.filter(title="").exists()
    assert not Item.objects.filter(category__isnull=True).exists()
    assert not Item.objects.exclude(category__round=F("round")).exists()
    assert set(Item.objects.values_list("track", flat=True)) == set(Item.Track.values)
    assert not Item.objects.filter(measures="").exists()
    assert not Item.objects.filter(goal="").exists()


@pytest.mark.parametrize("code", ROUNDS)
def test_every_state_in_each_round(seeded, code):
    items = Item.objects.filter(round__code=code)
    assert set(items.values_list("state", flat=True)) == STATES
    closed = items.filter(state=Item.State.CLOSED)
    assert set(closed.values_list("outcome_kind", flat=True)) == set(Item.OutcomeKind.values)


@pytest.mark.parametrize("code", ROUNDS)
def test_the_demo_official_leads_items_in_every_state(seeded, code):
    items = Item.objects.filter(round__code=code, lead_department__name="市教育局")
    assert set(items.values_list("state", flat=True)) == STATES
    assert items.overdue().exists()


@pytest.mark.parametrize("code", ROUNDS)
def test_overdue_escalated_and_lights(seeded, code):
    items = Item.objects.filter(round__code=code)
    assert items.overdue().count() >= 3
    escalated = items.filter(escalated_at__isnull=False)
    assert escalated.count() >= 3
    assert Event.objects.filter(item__in=escalated, kind=Event.Kind.ESCALATE).exists()
    lights = {item.light() for item in items.open()}
    assert {"red", "yellow", "green"} <= lights


@pytest.mark.parametrize("code", ROUNDS)
def test_extensions_pending_granted_and_refused(seeded, code):
    extensions = Extension.objects.filter(item__round__code=code)
    assert extensions.filter(status=Extension.Status.PENDING).exists()
    assert extensions.filter(status=Extension.Status.REFUSED).exists()
    granted = extensions.filter(status=Extension.Status.GRANTED)
    assert granted.exists()
    for extension in granted:
        # Granting moves the deadline and keeps the first one for the record.
        assert extension.item.deadline == extension.new_deadline
        assert extension.item.original_deadline == extension.old_deadline


@pytest.mark.parametrize("code", ROUNDS)
def test_detours_on_the_way(seeded, code):
    events = Event.objects.filter(item__round__code=code)
    # Returned once, then approved.
    returned = events.filter(kind=Event.Kind.RETURN).values("item")
    assert Item.objects.filter(pk__in=returned, state=Item.State.CLOSED).exists()
    # Declined, and back in draft waiting for a supervisor to reassign it.
    declined = events.filter(kind=Event.Kind.DECLINE).values("item")
    waiting = Item.objects.filter(pk__in=declined, state=Item.State.DRAFT)
    assert waiting.count() >= 2
    assert not waiting.filter(lead_department__isnull=False).exists()
    # The demo leader has remarked on some of their own items.
    comments = events.filter(kind=Event.Kind.COMMENT, actor__username="lingdao")
    assert comments.exists()
    assert not comments.exclude(item__leader__post="常务副市长").exists()
    # Items in progress carry one to three reports each (by the lead department of the day:
    # an item moved to another department keeps the reports of the one that had it).
    moved = events.filter(kind=Event.Kind.REASSIGN).values("item")
    in_progress = Item.objects.filter(round__code=code, state=Item.State.IN_PROGRESS).exclude(
        pk__in=moved
    )
    lead_reports = in_progress.annotate(
        n=Count("progress", filter=Q(progress__department=F("lead_department")))
    ).values_list("n", flat=True)
    assert min(lead_reports) >= 1
    assert max(lead_reports) <= 4  # three, plus one after a return
    # One item was moved to the demo official's department, who was told.
    reassigned = Item.objects.get(pk__in=moved)
    assert reassigned.lead_department.name == "市教育局"
    assert reassigned.notifications.filter(recipient__username="jiaoyuju", kind="reassign").exists()


def test_latest_event_gives_the_state(seeded):
    latest = Event.objects.filter(item=OuterRef("pk")).order_by("-at", "-pk").values("to_state")
    items = Item.objects.annotate(last=Subquery(latest[:1]))
    assert not items.filter(last__isnull=False).exclude(last=F("state")).exists()
    # Every item's history starts with its creation, naming the suggestions it was made of.
    assert not items.filter(last__isnull=True).exists()
    first = Event.objects.filter(item=OuterRef("pk")).order_by("at", "pk").values("pk")
    creations = Event.objects.filter(pk__in=Item.objects.values(first=Subquery(first[:1])))
    assert set(creations.values_list("kind", flat=True)) == {Event.Kind.CREATE}
    made_of = defaultdict(list)
    for item_id, seq in Suggestion.objects.order_by("seq").values_list("item", "seq"):
        made_of[item_id].append(seq)
    assert {e.item_id: e.data["suggestions"] for e in creations} == made_of
    assert {e.data["how"] for e in creations} == {"consolidation"}


def test_history_is_a_consistent_past(seeded):
    now = timezone.now()
    assert not Event.objects.filter(at__gt=now).exists()
    assert not Progress.objects.filter(reported_on__gt=timezone.localdate()).exists()
    # Each event starts from the state the previous one ended in.
    trails: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for item_id, from_state, to_state in Event.objects.order_by("item", "at", "pk").values_list(
        "item", "from_state", "to_state"
    ):
        trails[item_id].append((from_state, to_state))
    for trail in trails.values():
        previous = "draft"
        for from_state, to_state in trail:
            assert from_state == previous
            previous = to_state
    # Those who acted on an item's behalf were officials of its departments, or supervisors.
    for event in Event.objects.select_related("actor").exclude(actor__role="supervisor"):
        assert event.actor.role in {"official", "leader"}


def test_citizens_wrote_like_citizens(seeded):
    texts = list(Suggestion.objects.values_list("text", flat=True))
    lengths = sorted(len(t) for t in texts)
    assert lengths[0] < 30 < 90 < lengths[-1]
    # Details the publication will have to mask.
    assert sum(bool(re.search(r"1[3-9]\d{9}", t)) for t in texts) >= 20
    assert sum("室" in t for t in texts) >= 5
    assert any("村民" in t for t in texts)
    # Typed in both kinds of punctuation.
    assert any("，" in t for t in texts)
    assert any("," in t for t in texts)


def test_texts_are_drawn_the_same_every_time(seeded):
    data = seed_demo.load_reference()
    cast = seed_demo.ensure_cast(data)
    spec = data["rounds"][0]
    first = [d.texts for d in seed_demo.RoundBuilder(spec, data, cast).write()]
    again = [d.texts for d in seed_demo.RoundBuilder(spec, data, cast).write()]
    assert first == again


def test_the_demo_users_sign_in(seeded, client):
    request = RequestFactory().post("/login/")  # django-axes wants the request
    for username in SIGN_INS:
        assert client.login(request=request, username=username, password="rectify-demo")
        client.logout()
    supervisor = User.objects.get(username="duchayuan")
    assert supervisor.is_supervisor and not supervisor.is_administrator
    official = User.objects.get(username="jiaoyuju")
    assert official.is_official and official.department.name == "市教育局"
    leader = User.objects.get(username="lingdao")
    assert leader.is_leader and leader.leader.post == "常务副市长"
    assert Item.objects.visible_to(leader).count() > 50
    administrator = User.objects.get(username="guanliyuan")
    assert administrator.is_administrator and not administrator.works_on_items
    assert not Item.objects.visible_to(administrator).exists()
    # The other departments' officials act in the demo but cannot sign in.
    others = User.objects.filter(role="official").exclude(username="jiaoyuju")
    assert others.exists()
    assert not any(user.has_usable_password() for user in others)


def test_the_output_names_the_sign_ins(seeded):
    for username in SIGN_INS:
        assert username in seeded
    assert "rectify-demo" in seeded
    assert "547" in seeded and "538" in seeded
    assert "447" in seeded and "443" in seeded


def test_a_second_run_adds_nothing(seeded):
    before = counts()
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert counts() == before
    for username in SIGN_INS:
        assert username in out.getvalue()


def test_the_demo_notice_is_published_with_figures_from_the_ledger(seeded, client):
    # The tests' task backend runs the publishing at once; `make run`'s worker does it
    # in the background.
    notice = Notice.objects.get()
    assert notice.state == Notice.State.PUBLISHED
    index = client.get(reverse("publication:index")).content.decode()
    assert notice.title in index
    page = client.get(reverse("publication:public", args=[notice.pk])).content.decode()
    assert "群众意见建议共547条" in page and "归纳为538条" in page
    assert "群众意见建议共447条" in page and "归纳为443条" in page
    assert "{{" not in page and "整改率" in page
