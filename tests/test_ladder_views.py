"""The escalation ladder's pages: confirming and dismissing proposed steps, the thresholds,
the notices and their PDF, and the step on the ledger list, the item page and the export."""

from __future__ import annotations

import datetime
import io
import subprocess

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from ledger import workflow
from ledger.intake.export import write_items
from ledger.models import AuditEntry, Event, Item, Job
from ledger.supervision import ladder, workdays
from ledger.supervision.models import CalendarDay, LadderSettings, LadderStep, SupervisionNotice
from ledger.supervision.notice_pdf import pdf_html

from .factory import in_days, make_item, make_leader

Step = Item.LadderStep
D = datetime.date
TODAY = D(2026, 10, 12)


@pytest.fixture(autouse=True)
def golden_week(db):
    """1–8 October 2026 off, Saturday 10 October worked (调休)."""
    for day in range(1, 9):
        CalendarDay.objects.create(day=D(2026, 10, day), is_workday=False)
    CalendarDay.objects.create(day=D(2026, 10, 10), is_workday=True)
    workdays.forget()


def open_item(cast, deadline, *, lead=None, title=None, leader=None) -> Item:
    item = make_item(cast.round, title=title or f"事项{deadline}")
    workflow.assign(
        item,
        by=cast.alice,
        leader=leader or cast.leader,
        lead_department=lead or cast.edu,
        co_departments=[cast.traffic] if lead is None else [],
        deadline=in_days(30),
    )
    Item.objects.filter(pk=item.pk).update(deadline=deadline)
    return Item.all_objects.get(pk=item.pk)


@pytest.fixture
def urged(cast):
    """Two items of 教育局 and one of 卫健委 proposed for urging (three working days late)."""
    items = [
        open_item(cast, D(2026, 9, 30), title="学校周边交通拥堵"),
        open_item(cast, D(2026, 9, 30), title="校车安全"),
        open_item(cast, D(2026, 9, 30), lead=cast.health, title="医院挂号慢"),
    ]
    ladder.propose(TODAY)
    return items


def step_of(item: Item) -> LadderStep:
    return LadderStep.objects.get(item=item, status="proposed")


def decide(client, **data):
    return client.post(reverse("supervision:ladder-decide"), data)


# --- Who may open what ---------------------------------------------------------------------


@pytest.mark.parametrize("who", ["bob", "lena", "nobody"])
def test_the_ladder_and_its_thresholds_are_the_supervisors(client, cast, urged, who):
    client.force_login(getattr(cast, who))
    for name in ("supervision:ladder", "supervision:ladder-settings"):
        assert client.get(reverse(name)).status_code == 404
    assert decide(client, one=f"confirm:{step_of(urged[0]).pk}").status_code == 404
    assert not Item.objects.exclude(ladder_step="").exists()


def test_the_ladder_page_groups_the_proposed_steps_by_step_and_department(client, cast, urged):
    client.force_login(cast.alice)
    response = client.get(reverse("supervision:ladder"))
    assert response.status_code == 200
    groups = [(g["step"], g["department"].name, len(g["rows"])) for g in response.context["groups"]]
    # Departments in their usual order (order, then name), as every list of them.
    assert groups == [(Step.URGE, "市卫生健康委", 1), (Step.URGE, "市教育局", 2)]
    page = response.content.decode()
    assert "学校周边交通拥堵" in page and "医院挂号慢" in page
    assert [r.days_now for g in response.context["groups"] for r in g["rows"]] == [
        workdays.calendar().between(D(2026, 9, 30), timezone.localdate())
    ] * 3


def test_an_empty_ladder_says_what_to_do_next(client, cast):
    client.force_login(cast.alice)
    page = client.get(reverse("supervision:ladder")).content.decode()
    assert reverse("supervision:notices") in page and "?overdue=true" in page


# --- Deciding ------------------------------------------------------------------------------


def test_confirming_one_step_takes_it_alone(client, cast, urged):
    client.force_login(cast.alice)
    response = decide(client, one=f"confirm:{step_of(urged[0]).pk}")
    assert response.status_code == 302
    steps = dict(
        Item.objects.filter(pk__in=[i.pk for i in urged]).values_list("title", "ladder_step")
    )
    assert steps == {"学校周边交通拥堵": Step.URGE, "校车安全": "", "医院挂号慢": ""}
    [notice] = SupervisionNotice.objects.all()
    assert [d.name for d in notice.departments.all()] == ["市教育局"]
    assert notice.number in " ".join(
        m.message for m in client.get(reverse("supervision:ladder")).context["messages"]
    )


def test_confirming_the_ticked_steps_with_instructions(client, cast, urged):
    client.force_login(cast.alice)
    ticked = [step_of(urged[0]).pk, step_of(urged[2]).pk]
    decide(client, action="confirm", step=ticked, note="请于本周内报送整改进展")
    assert set(Item.objects.filter(ladder_step=Step.URGE).values_list("title", flat=True)) == {
        "学校周边交通拥堵",
        "医院挂号慢",
    }
    assert SupervisionNotice.objects.count() == 2
    assert all("请于本周内报送整改进展" in n.body for n in SupervisionNotice.objects.all())
    notes = Event.objects.filter(kind=Event.Kind.URGE).values_list("note", flat=True)
    assert list(notes) == ["请于本周内报送整改进展"] * 2


def test_confirming_all_takes_every_step_waiting(client, cast, urged):
    client.force_login(cast.alice)
    decide(client, every="confirm")
    assert Item.objects.filter(ladder_step=Step.URGE).count() == 3
    assert not LadderStep.objects.filter(status="proposed").exists()


def test_dismissing_a_step_leaves_the_item_and_writes_the_audit_trail(client, cast, urged):
    client.force_login(cast.alice)
    version = urged[0].version
    decide(client, one=f"dismiss:{step_of(urged[0]).pk}")
    item = Item.objects.get(pk=urged[0].pk)
    assert item.version == version and item.ladder_step == ""
    assert LadderStep.objects.get(item=item).status == "dismissed"
    line = AuditEntry.objects.get(kind=AuditEntry.Kind.LADDER)
    assert line.actor_id == cast.alice.pk and line.detail["steps"][0]["item"] == item.number


def test_a_decision_without_a_tick_is_refused_and_keeps_the_instructions(client, cast, urged):
    client.force_login(cast.alice)
    response = decide(client, action="confirm", note="加快进度<script>")
    assert response.status_code == 400
    page = response.content.decode()
    assert "加快进度&lt;script&gt;</textarea>" in page
    assert not Item.objects.exclude(ladder_step="").exists()


def test_a_step_whose_item_closed_is_shown_and_not_confirmed(client, cast, urged):
    Item.objects.filter(pk=urged[1].pk).update(
        state=Item.State.CLOSED, closed_on=TODAY, outcome_kind="done"
    )
    client.force_login(cast.alice)
    response = client.get(reverse("supervision:ladder"))
    rows = {r.item.title: r for g in response.context["groups"] for r in g["rows"]}
    assert rows["校车安全"].stale and not rows["学校周边交通拥堵"].stale
    assert f'value="{rows["校车安全"].pk}"' not in response.content.decode().replace(
        f'value="dismiss:{rows["校车安全"].pk}"', ""
    )
    decide(client, every="confirm")
    assert Item.all_objects.get(pk=urged[1].pk).ladder_step == ""
    assert Item.objects.filter(ladder_step=Step.URGE).count() == 2


# --- The thresholds ------------------------------------------------------------------------


def test_the_thresholds_are_appended_with_who_set_them_and_audited(client, cast):
    client.force_login(cast.alice)
    url = reverse("supervision:ladder-settings")
    data = {
        "remind_before": 2,
        "urge_after": 2,
        "escalate_after": 8,
        "escalate_days": 7,
        "circulate_after": 1,
    }
    assert client.post(url, data).status_code == 302
    data["urge_after"] = 4
    client.post(url, data)
    rows = list(LadderSettings.objects.order_by("pk").values_list("urge_after", "set_by"))
    assert rows == [(2, cast.alice.pk), (4, cast.alice.pk)]
    assert LadderSettings.current().urge_after == 4
    assert AuditEntry.objects.filter(kind=AuditEntry.Kind.LADDER).count() == 2
    page = client.get(url)
    assert page.context["current"].set_by == cast.alice and len(page.context["history"]) == 2
    assert "督查员甲" in page.content.decode()


def test_the_issuing_office_set_with_the_thresholds_heads_the_next_notices(client, cast, urged):
    client.force_login(cast.alice)
    data = {
        "remind_before": 3,
        "urge_after": 1,
        "escalate_after": 10,
        "escalate_days": 10,
        "circulate_after": 1,
        "issuer": "某市督查考评办公室",
    }
    assert client.post(reverse("supervision:ladder-settings"), data).status_code == 302
    ladder.confirm(LadderStep.objects.values_list("pk", flat=True), by=cast.alice, today=TODAY)
    issuers = set(SupervisionNotice.objects.values_list("issuer", flat=True))
    assert issuers == {"某市督查考评办公室"}
    assert "某市督查考评办公室" in pdf_html(SupervisionNotice.objects.first())


def test_thresholds_out_of_order_are_refused_and_kept(client, cast):
    client.force_login(cast.alice)
    url = reverse("supervision:ladder-settings")
    data = {
        "remind_before": 3,
        "urge_after": 5,
        "escalate_after": 5,
        "escalate_days": 10,
        "circulate_after": 0,
    }
    response = client.post(url, data)
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"escalate_after", "circulate_after"}
    assert 'value="5"' in response.content.decode()
    assert not LadderSettings.objects.exists()
    assert not AuditEntry.objects.filter(kind=AuditEntry.Kind.LADDER).exists()


# --- Notices -------------------------------------------------------------------------------


@pytest.fixture
def notices(cast, urged):
    """An urging notice to 教育局 (two items) and one to 卫健委 (one)."""
    ladder.confirm(LadderStep.objects.values_list("pk", flat=True), by=cast.alice, today=TODAY)
    return {n.departments.get().name: n for n in SupervisionNotice.objects.all()}


def test_an_official_reads_their_departments_notice_and_not_anothers(client, cast, notices):
    client.force_login(cast.bob)
    listed = client.get(reverse("supervision:notices")).context["page"].object_list
    assert [n.pk for n in listed] == [notices["市教育局"].pk]
    ours = client.get(reverse("supervision:notice", args=[notices["市教育局"].pk]))
    assert ours.status_code == 200 and "校车安全" in ours.content.decode()
    theirs = notices["市卫生健康委"].pk
    assert client.get(reverse("supervision:notice", args=[theirs])).status_code == 404
    assert client.post(reverse("supervision:notice-pdf", args=[theirs])).status_code == 404
    # A co-responsible department is not addressed: 交通局 reads neither.
    client.force_login(cast.carol)
    assert list(client.get(reverse("supervision:notices")).context["page"].object_list) == []


def test_a_leader_reads_the_notices_that_list_their_items(client, cast, urged):
    other = make_leader(name="陈某", post="副市长")
    Item.objects.filter(pk=urged[2].pk).update(leader=other)
    ladder.confirm(LadderStep.objects.values_list("pk", flat=True), by=cast.alice, today=TODAY)
    client.force_login(cast.lena)
    listed = client.get(reverse("supervision:notices")).context["page"].object_list
    assert [n.departments.get().name for n in listed] == ["市教育局"]


def test_the_supervisor_reads_every_notice_and_anyone_else_none(client, cast, notices):
    client.force_login(cast.alice)
    assert len(client.get(reverse("supervision:notices")).context["page"].object_list) == 2
    client.force_login(cast.nobody)
    assert client.get(reverse("supervision:notices")).status_code == 404
    pk = notices["市教育局"].pk
    assert client.get(reverse("supervision:notice", args=[pk])).status_code == 404


def test_the_notice_list_reads_a_bounded_number_of_queries(
    client, cast, notices, django_assert_max_num_queries
):
    client.force_login(cast.alice)
    with django_assert_max_num_queries(8):
        client.get(reverse("supervision:notices"))


def test_the_pdf_is_made_by_a_job_and_names_the_department(client, cast, notices, tmp_path):
    notice = notices["市教育局"]
    client.force_login(cast.bob)
    response = client.post(reverse("supervision:notice-pdf", args=[notice.pk]))
    job = Job.objects.get(kind="notice_pdf")
    assert response.url == reverse("ledger:job", args=[job.pk])
    assert job.state == Job.State.DONE and job.created_by == cast.bob
    data = job.result_file.read()
    assert data.startswith(b"%PDF")
    path = tmp_path / "notice.pdf"
    path.write_bytes(data)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    for words in ("市教育局", "督办〔2026〕1号", "学校周边交通拥堵", "校车安全"):
        assert words in text
    assert "医院挂号慢" not in text
    download = client.get(reverse("ledger:job-download", args=[job.pk]))
    assert download.status_code == 200


def test_text_in_the_pdf_is_text(cast, urged):
    Item.objects.filter(pk=urged[0].pk).update(title="<script>alert(1)</script>")
    ladder.confirm([step_of(urged[0]).pk], by=cast.alice, today=TODAY)
    html = pdf_html(SupervisionNotice.objects.get())
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- The step on the list, the item page and the export ------------------------------------


def test_the_list_filters_and_shows_the_step(client, cast, notices):
    other = open_item(cast, D(2026, 11, 30), title="尚未督办")
    client.force_login(cast.alice)
    url = reverse("ledger:items")
    urged = client.get(url, {"ladder_step": "urge"})
    assert {i.title for i in urged.context["page"].rows} == {
        "学校周边交通拥堵",
        "校车安全",
        "医院挂号慢",
    }
    assert "badge-ladder-urge" in urged.content.decode()
    none = client.get(url, {"ladder_step": "none"})
    assert [i.pk for i in none.context["page"].rows] == [other.pk]


def test_the_item_page_shows_the_step_and_links_its_notices(client, cast, notices):
    item = Item.objects.get(title="校车安全")
    client.force_login(cast.bob)
    page = client.get(reverse("ledger:item", args=[item.pk])).content.decode()
    assert "badge-ladder-urge" in page
    assert reverse("supervision:notice", args=[notices["市教育局"].pk]) in page
    # 交通局 shares the item but was not sent the notice: no link to a page it cannot open.
    client.force_login(cast.carol)
    page = client.get(reverse("ledger:item", args=[item.pk])).content.decode()
    assert "badge-ladder-urge" in page
    assert reverse("supervision:notice", args=[notices["市教育局"].pk]) not in page


def test_the_export_has_the_step_column(cast, notices):
    from django.utils import translation

    open_item(cast, D(2026, 11, 30), title="尚未督办")
    out = io.BytesIO()
    with translation.override("en"):
        write_items(Item.objects.order_by("number"), out, title="台账")
        urged = str(Step.URGE.label)
    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    rows = list(sheet.iter_rows(values_only=True))
    header = next(r for r in rows if r and "Ladder step" in r)
    column = header.index("Ladder step")
    values = {r[3]: r[column] for r in rows[rows.index(header) + 1 :]}
    assert values["校车安全"] == urged
    assert values["尚未督办"] is None
