"""The department scores' pages: who sees what, the weights page, publishing, and a
published sheet that nothing changes afterwards (page, workbook, PDF)."""

from __future__ import annotations

import datetime
import io
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook
from pypdf import PdfReader

from ledger.models import AuditEntry, Department, Event, Item, Job
from ledger.supervision import scores
from ledger.supervision.models import ScoreSheet, ScoreWeights

from .factory import make_department, make_item, make_round

D = datetime.date
State = Item.State
PAST = D(2026, 11, 2)


def _item(
    round, lead, *, state=State.IN_PROGRESS, deadline=PAST, closed_on=None, co=(), **kw
) -> Item:
    it = make_item(
        round,
        lead_department=lead,
        state=state,
        deadline=deadline,
        closed_on=closed_on,
        outcome_kind="done" if state == State.CLOSED else "",
        **kw,
    )
    for department in co:
        it.co_departments.add(department)
    return it


@pytest.fixture
def scored(cast):
    """cast.round with items of 教育局 (bob), 交通局 (carol) and a third department."""
    roads = make_department("市住建局")
    _item(
        cast.round,
        cast.edu,
        state=State.CLOSED,
        deadline=D(2026, 11, 10),
        closed_on=D(2026, 11, 10),
        satisfaction="satisfied",
        co=[cast.traffic],
    )
    _item(cast.round, cast.edu, state=State.IN_PROGRESS, deadline=D(2099, 1, 1))
    _item(cast.round, cast.traffic, state=State.IN_PROGRESS, deadline=D(2026, 11, 2))
    _item(
        cast.round,
        roads,
        state=State.CLOSED,
        deadline=D(2026, 11, 10),
        closed_on=D(2026, 11, 20),
        satisfaction="basic",
    )
    cast.roads = roads
    return cast


def _get(client, user, name, *args, **params):
    client.force_login(user)
    return client.get(reverse(f"supervision:{name}", args=args), params)


def _text(response) -> str:
    return response.content.decode()


def _without_tokens(html: str) -> str:
    """A page without what changes from one request to the next: the CSRF token, and the
    message that the last action left."""
    html = re.sub(r'<div class="messages" role="status">.*?</div>', "", html, flags=re.S)
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)


def _cells(data: bytes) -> list[list]:
    sheet = load_workbook(io.BytesIO(data)).active
    return [[c.value for c in row] for row in sheet.iter_rows()]


def _decimal(value) -> Decimal | None:
    """A number from the workbook or a figure kept as text, compared as written."""
    return None if value is None else Decimal(str(value)).normalize()


def _pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def _report(client, user, url, data=None) -> bytes:
    client.force_login(user)
    response = client.post(url, data or {})
    assert response.status_code == 302
    job = Job.objects.latest("pk")
    assert response["Location"] == job.get_absolute_url()
    assert job.state == Job.State.DONE, job.error
    with job.result_file.open("rb") as handle:
        return handle.read()


# --- Who sees what ---------------------------------------------------------------------------


def test_a_supervisor_and_a_leader_see_every_department(client, scored):
    for user in (scored.alice, scored.lena):
        html = _text(_get(client, user, "scores", round=scored.round.pk))
        for name in ("市教育局", "市交通运输局", "市住建局"):
            assert name in html
    assert "scores/publish/" in _text(_get(client, scored.alice, "scores"))
    assert "scores/publish/" not in _text(_get(client, scored.lena, "scores"))


def test_an_official_sees_their_own_department_s_row_alone(client, scored):
    response = _get(client, scored.carol, "scores", round=scored.round.pk)
    assert response.status_code == 200
    table = _text(response).split('<table class="ledger scores">')[1].split("</table>")[0]
    assert "市交通运输局" in table
    assert "市教育局" not in table and "市住建局" not in table
    # No export, report, weights or publishing for an official.
    assert _get(client, scored.carol, "scores-export", round=scored.round.pk).status_code == 404
    client.force_login(scored.carol)
    assert (
        client.post(reverse("supervision:scores-report"), {"round": scored.round.pk}).status_code
        == 404
    )
    assert (
        client.post(reverse("supervision:scores-publish"), {"round": scored.round.pk}).status_code
        == 404
    )
    assert _get(client, scored.carol, "score-weights").status_code == 404
    # A department with no item of the round is told so.
    html = _text(_get(client, scored.dave, "scores", round=scored.round.pk))
    assert "市交通运输局" not in html and "市教育局" not in html


def test_anyone_else_finds_nothing(client, scored):
    for name in ("scores", "score-sheets", "score-weights"):
        assert _get(client, scored.nobody, name).status_code == 404
        client.logout()
        assert client.get(reverse(f"supervision:{name}")).status_code == 302
    for name in ("score-weights",):
        assert _get(client, scored.lena, name).status_code == 404
        assert _get(client, scored.bob, name).status_code == 404


def test_a_round_that_is_not_there_is_not_found(client, scored):
    assert _get(client, scored.alice, "scores", round="987654321").status_code == 404
    assert _get(client, scored.alice, "scores", round="x").status_code == 404
    assert _get(client, scored.alice, "scores-export", round="0").status_code == 404
    # No round named: the round the page shows first.
    assert _get(client, scored.alice, "scores-export").status_code == 200


def test_the_newest_round_with_work_is_shown_first(client, scored):
    make_round(name="2030年度", code="2030", year=2030)  # nothing handed over yet
    html = _text(_get(client, scored.alice, "scores"))
    assert "市住建局" in html
    empty = _text(_get(client, scored.alice, "scores", round=Item.objects.first().round_id + 1))
    assert "市住建局" not in empty


def test_text_from_the_ledger_is_escaped(client, scored):
    Department.objects.filter(pk=scored.roads.pk).update(name="<script>alert(1)</script>")
    html = _text(_get(client, scored.alice, "scores", round=scored.round.pk))
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_page_takes_the_same_queries_whatever_the_departments(client, scored):
    client.force_login(scored.alice)
    url = reverse("supervision:scores") + f"?round={scored.round.pk}"
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for n in range(12):
        _item(
            scored.round,
            make_department(f"部门{n}"),
            state=State.CLOSED,
            deadline=D(2026, 11, 10),
            closed_on=D(2026, 11, 9),
            co=[scored.health],
        )
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many) == len(few)


# --- Weights ---------------------------------------------------------------------------------


def _weights(**given) -> dict[str, str]:
    return {m: "10" for m in scores.MEASURES} | given


def test_a_supervisor_sets_the_weights_with_who_and_when(client, scored):
    client.force_login(scored.alice)
    response = client.post(reverse("supervision:score-weights"), _weights(on_time="50.5"))
    assert response.status_code == 302
    row = ScoreWeights.objects.get()
    assert row.set_by == scored.alice and row.set_at is not None
    assert row.weights["on_time"] == "50.5" and row.weights["speed"] == "10"
    line = AuditEntry.objects.filter(kind=AuditEntry.Kind.SCORES).get()
    assert line.actor_id == scored.alice.pk
    assert line.detail["after"]["on_time"] == "50.5"
    assert line.detail["before"]["on_time"] == "30"
    assert scores.current_weights().values["on_time"] == Decimal("50.5")
    # A change is a new row: the earlier one stays, with its own author.
    client.post(reverse("supervision:score-weights"), _weights(on_time="1"))
    assert ScoreWeights.objects.count() == 2
    assert scores.current_weights().values["on_time"] == Decimal(1)


@pytest.mark.parametrize(
    "given",
    [
        {"on_time": "-1"},
        {"speed": "abc"},
        {"returns": ""},
        {m: "0" for m in scores.MEASURES},
        {"overdue": "1e9"},
    ],
)
def test_weights_that_make_no_score_are_refused_and_kept(client, scored, given):
    client.force_login(scored.alice)
    data = _weights(**given)
    response = client.post(reverse("supervision:score-weights"), data)
    assert response.status_code == 400
    assert not ScoreWeights.objects.exists()
    html = _text(response)
    for measure, value in given.items():
        if value:
            assert f'name="{measure}" value="{value}"' in html


def test_a_new_weight_changes_the_live_score(client, scored):
    before = {r["department"]: r["score"] for r in scores.compute(scored.round).as_json()}
    client.force_login(scored.alice)
    client.post(
        reverse("supervision:score-weights"),
        {m: "0" for m in scores.MEASURES} | {"satisfaction": "1"},
    )
    after = {r["department"]: r["score"] for r in scores.compute(scored.round).as_json()}
    assert after["市住建局"] == "80.0" and after["市住建局"] != before["市住建局"]


# --- Publishing ------------------------------------------------------------------------------


def _publish(client, cast) -> ScoreSheet:
    client.force_login(cast.alice)
    response = client.post(reverse("supervision:scores-publish"), {"round": cast.round.pk})
    sheet = ScoreSheet.objects.latest("pk")
    assert response["Location"] == reverse("supervision:score-sheet", args=[sheet.pk])
    return sheet


def test_publishing_copies_every_row_and_the_weights(client, scored):
    client.force_login(scored.alice)
    client.post(reverse("supervision:score-weights"), _weights(on_time="40"))
    live = scores.compute(scored.round).as_json()
    sheet = _publish(client, scored)
    assert sheet.rows == live
    assert sheet.weights == scores.current_weights().as_json()
    assert sheet.weights_set_at == ScoreWeights.objects.get().set_at
    assert sheet.published_by == scored.alice
    line = AuditEntry.objects.filter(kind=AuditEntry.Kind.SCORES).latest("pk")
    assert line.detail["sheet"] == sheet.pk
    # Listed on the round's page and among all sheets.
    url = reverse("supervision:score-sheet", args=[sheet.pk])
    assert url in _text(_get(client, scored.alice, "scores", round=scored.round.pk))
    assert url in _text(_get(client, scored.lena, "score-sheets"))


def test_a_round_with_nothing_to_score_is_not_published(client, cast):
    client.force_login(cast.alice)
    response = client.post(reverse("supervision:scores-publish"), {"round": cast.round.pk})
    assert response.status_code == 302
    assert not ScoreSheet.objects.exists()
    # Nor is a round nobody named.
    response = client.post(reverse("supervision:scores-publish"))
    assert response["Location"] == reverse("supervision:scores")
    assert not ScoreSheet.objects.exists()


def test_a_published_sheet_never_changes(client, scored):
    sheet = _publish(client, scored)
    page_url = reverse("supervision:score-sheet", args=[sheet.pk])
    xlsx_url = reverse("supervision:score-sheet-export", args=[sheet.pk])
    pdf_url = reverse("supervision:score-sheet-report", args=[sheet.pk])

    def published():
        client.force_login(scored.alice)
        page = _without_tokens(_text(client.get(page_url)))
        workbook = _cells(client.get(xlsx_url).content)
        pdf = _pdf_text(_report(client, scored.alice, pdf_url))
        official = _without_tokens(_text(_get(client, scored.carol, "score-sheet", sheet.pk)))
        return page, workbook, pdf, official

    before = published()
    live_before = scores.compute(scored.round).as_json()
    assert "市住建局" in before[0] and "市住建局" in before[2]

    # New weights, and the ledger changes: an item closed, one added, a department renamed.
    client.force_login(scored.alice)
    client.post(
        reverse("supervision:score-weights"),
        {m: "0" for m in scores.MEASURES} | {"satisfaction": "1"},
    )
    Item.objects.filter(lead_department=scored.traffic).update(
        state=State.CLOSED,
        closed_on=D(2026, 10, 1),
        outcome_kind="done",
        satisfaction="unsatisfied",
    )
    _item(scored.round, scored.roads, state=State.IN_PROGRESS, deadline=D(2026, 1, 5))
    Event.objects.create(
        item=Item.objects.first(),
        kind=Event.Kind.RETURN,
        from_state="requested",
        to_state="in_progress",
    )
    Department.objects.filter(pk=scored.roads.pk).update(name="市住房城乡建设局")

    live_after = scores.compute(scored.round).as_json()
    assert live_after != live_before  # the changes were real
    assert published() == before


def test_a_published_sheet_shows_an_official_their_row(client, scored):
    sheet = _publish(client, scored)
    html = _text(_get(client, scored.bob, "score-sheet", sheet.pk))
    table = html.split('<table class="ledger scores">')[1].split("</table>")[0]
    assert "市教育局" in table and "市住建局" not in table
    assert _get(client, scored.bob, "score-sheet-export", sheet.pk).status_code == 404
    assert _get(client, scored.lena, "score-sheet-export", sheet.pk).status_code == 200
    assert _get(client, scored.nobody, "score-sheet", sheet.pk).status_code == 404
    assert _get(client, scored.alice, "score-sheet", 987654321).status_code == 404


# --- The workbook and the PDF ----------------------------------------------------------------


def test_the_workbook_holds_every_figure_and_no_formula(client, scored):
    Department.objects.filter(pk=scored.roads.pk).update(
        name='=HYPERLINK("http://x.invalid","点我")'
    )
    response = _get(client, scored.lena, "scores-export", round=scored.round.pk)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(response.content))
    cells = [c for row in book.active.iter_rows() for c in row]
    assert not [c for c in cells if c.data_type == "f"]
    hostile = next(c for c in cells if c.value == '=HYPERLINK("http://x.invalid","点我")')
    assert hostile.data_type == "s" and hostile.quotePrefix
    rows = _cells(response.content)
    live = {r["department"]: r for r in scores.compute(scored.round).as_json()}
    data = {row[1]: row for row in rows[4:]}
    assert set(data) == set(live)
    for name, r in live.items():
        row = data[name]
        assert row[0] == r["rank"]
        assert _decimal(row[2]) == _decimal(r["score"])
        assert row[3:8] == [r["led"], r["shared"], r["due"], r["on_time"], r["closed"]]
        assert row[11] == r["overdue"]
        assert [_decimal(v) for v in row[17:]] == [_decimal(v) for v in r["measures"].values()]
    line = AuditEntry.objects.filter(kind=AuditEntry.Kind.EXPORT).latest("pk")
    assert line.actor_id == scored.lena.pk


def test_the_pdf_report_has_the_table_and_the_charts(client, scored):
    Department.objects.filter(pk=scored.roads.pk).update(name="<b>住建</b>局")
    data = _report(
        client, scored.lena, reverse("supervision:scores-report"), {"round": scored.round.pk}
    )
    text = _pdf_text(data)
    for name in ("市教育局", "市交通运输局", "<b>住建</b>局"):
        assert name in text.replace(" ", "")
    html = scores.pdf_html(scores.Sheet.live(scores.compute(scored.round)))
    assert "&lt;b&gt;住建&lt;/b&gt;局" in html and "<b>住建</b>" not in html
    assert html.count("<svg") == 3  # scores, on-time rates, ratings


def test_published_sheets_are_listed_a_page_at_a_time(client, scored):
    from ledger.supervision.views_scores import SHEETS_PAGE

    ScoreSheet.objects.bulk_create(
        ScoreSheet(round=scored.round, weights={}, rows=[], published_by=scored.alice)
        for _ in range(SHEETS_PAGE + 1)
    )
    newest_first = list(ScoreSheet.objects.order_by("-pk").values_list("pk", flat=True))
    first = _text(_get(client, scored.lena, "score-sheets"))
    links = re.findall(r'href="/supervision/scores/published/(\d+)/"', first)
    assert [int(pk) for pk in links] == newest_first[:SHEETS_PAGE]
    older = re.search(r'href="\?before=(\d+)"', first).group(1)
    second = _text(_get(client, scored.lena, "score-sheets", before=older))
    links = re.findall(r'href="/supervision/scores/published/(\d+)/"', second)
    assert [int(pk) for pk in links] == newest_first[SHEETS_PAGE:]
    assert 'href="?before=' not in second
