"""The administrator's working-day calendar page (/manage/calendar/), and deadlines given as
a number of working days in the supervisors' forms."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from ledger import workflow
from ledger.administration import forms_calendar
from ledger.models import AuditEntry, Event, Item
from ledger.supervision import workdays
from ledger.supervision.models import CalendarDay, ScheduleYear

from .factory import make_item, make_user

D = datetime.date
CST = datetime.timezone(datetime.timedelta(hours=8))
CALENDAR = reverse("manage:calendar")
BULK = reverse("manage:calendar-bulk")
SCHEDULE = reverse("manage:calendar-schedule")


@pytest.fixture
def admin(cast):
    return make_user("root", role="administrator", first_name="管理员")


@pytest.fixture
def logged_in(client, admin):
    client.force_login(admin)
    return client


@pytest.fixture
def december_2026():
    """The schedule of 2026 is in the library; 2027's is not out yet."""
    with time_machine.travel(datetime.datetime(2026, 12, 4, 10, tzinfo=CST), tick=False):
        yield


@pytest.fixture
def eve_of_national_day():
    """Wednesday 30 September 2026: five working days on is Tuesday 13 October."""
    with time_machine.travel(datetime.datetime(2026, 9, 30, 10, tzinfo=CST), tick=False):
        yield


def calendar_lines() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(kind=AuditEntry.Kind.CALENDAR).order_by("pk"))


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- Who sees it -----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["alice", "bob", "lena", "nobody", "auditor"])
def test_everyone_but_the_administrator_gets_404(client, cast, who):
    user = make_user("auditor", role="auditor") if who == "auditor" else getattr(cast, who)
    row = CalendarDay.objects.create(day=D(2026, 11, 2), is_workday=False, note="本地")
    client.force_login(user)
    day_url = reverse("manage:calendar-day", args=[row.pk])
    for url in (CALENDAR, BULK, day_url):
        assert client.get(url).status_code == 404
    assert client.post(CALENDAR, {"day": "2026-11-03", "is_workday": "False"}).status_code == 404
    assert client.post(BULK, {"text": "2026-11-04 休", "save": "1"}).status_code == 404
    assert client.post(SCHEDULE, {"year": "2027", "entered": "1"}).status_code == 404
    assert client.post(day_url, {"day": "2026-11-02", "is_workday": "True"}).status_code == 404
    assert client.post(reverse("manage:calendar-delete", args=[row.pk])).status_code == 404
    assert list(CalendarDay.objects.values_list("day", "is_workday")) == [(D(2026, 11, 2), False)]
    assert not ScheduleYear.objects.exists()
    assert calendar_lines() == []


def test_anonymous_is_sent_to_sign_in(client, db):
    assert client.get(CALENDAR)["Location"].startswith("/login/")


# --- The year view ---------------------------------------------------------------------------


def test_the_year_view_shows_the_librarys_days_and_the_tables_marked_by_source(logged_in):
    CalendarDay.objects.create(day=D(2026, 11, 20), is_workday=False, note="市庆<b>日</b>")
    response = logged_in.get(CALENDAR, {"year": "2026"})
    assert response.status_code == 200
    special = {d.day: d for d in response.context["special"]}
    assert special[D(2026, 10, 1)].source == "library" and not special[D(2026, 10, 1)].workday
    assert special[D(2026, 10, 10)].source == "library" and special[D(2026, 10, 10)].workday
    assert special[D(2026, 11, 20)].source == "table"
    assert D(2026, 10, 8) not in special  # an ordinary Thursday
    page = response.content.decode()
    assert "国庆节" in page  # the library's own name of the day
    assert "市庆&lt;b&gt;日&lt;/b&gt;" in page and "<b>日" not in page
    assert reverse("manage:calendar-day", args=[CalendarDay.objects.get().pk]) in page
    # 365 days: the working days and the days off of the calendar in force.
    assert response.context["workdays"] + response.context["days_off"] == 365
    assert response.context["workdays"] == workdays.calendar().between(
        D(2025, 12, 31), D(2026, 12, 31)
    )


def test_a_table_row_over_a_library_day_says_what_the_library_said(logged_in):
    CalendarDay.objects.create(day=D(2026, 10, 10), is_workday=False, note="本地不调休")
    page = logged_in.get(CALENDAR, {"year": "2026"})
    day = next(d for d in page.context["special"] if d.day == D(2026, 10, 10))
    assert (day.source, day.workday, day.name) == ("table", False, "本地不调休")
    assert day.library  # the library's make-up workday, shown beside the table's row


@pytest.mark.parametrize("year", ["1999", "2999", "abc", "²³", str(10**30), ""])
def test_a_year_out_of_reach_shows_this_year_with_the_choosers_error(logged_in, year):
    response = logged_in.get(CALENDAR, {"year": year})
    assert response.status_code == 200
    assert response.context["year"] == timezone.localdate().year
    assert response.context["chooser"].errors


def test_the_year_view_takes_a_bounded_number_of_queries(logged_in, django_assert_max_num_queries):
    CalendarDay.objects.bulk_create(
        CalendarDay(day=D(2027, 1, 1) + datetime.timedelta(days=n), is_workday=n % 2 == 0)
        for n in range(200)
    )
    with django_assert_max_num_queries(8):
        assert logged_in.get(CALENDAR, {"year": "2027"}).status_code == 200


# --- Add, change, delete ---------------------------------------------------------------------


def test_adding_a_day(logged_in):
    response = logged_in.post(
        f"{CALENDAR}?year=2026", {"day": "2027-02-08", "is_workday": "False", "note": "春节"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"{CALENDAR}?year=2027"
    row = CalendarDay.objects.get()
    assert (row.day, row.is_workday, row.note, row.updated_by.username) == (
        D(2027, 2, 8),
        False,
        "春节",
        "root",
    )
    assert not workdays.calendar().is_workday(D(2027, 2, 8))  # seen at once
    (line,) = calendar_lines()
    assert "2027-02-08" in line.summary and "春节" in line.summary
    assert (line.username, line.target) == ("root", "2027-02-08")


def test_a_day_already_in_the_table_is_refused_keeping_what_was_typed(logged_in):
    CalendarDay.objects.create(day=D(2027, 2, 8), is_workday=False, note="春节")
    response = logged_in.post(
        f"{CALENDAR}?year=2027", {"day": "2027-02-08", "is_workday": "True", "note": "改成上班"}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["day"]
    page = response.content.decode()
    assert 'value="改成上班"' in page and 'value="2027-02-08"' in page
    assert list(CalendarDay.objects.values_list("is_workday", "note")) == [(False, "春节")]
    assert calendar_lines() == []


@pytest.mark.parametrize(
    "data",
    [
        {"day": "1999-12-31", "is_workday": "False"},
        {"day": "2027-02-30", "is_workday": "False"},
        {"day": "2027-02-08", "is_workday": "maybe"},
        {"day": "2027-02-08", "is_workday": "False", "note": "长" * 101},
    ],
)
def test_a_bad_day_is_refused(logged_in, data):
    assert logged_in.post(CALENDAR, data).status_code == 400
    assert not CalendarDay.objects.exists()


def test_changing_a_day(logged_in):
    row = CalendarDay.objects.create(day=D(2027, 2, 20), is_workday=False, note="")
    url = reverse("manage:calendar-day", args=[row.pk])
    assert logged_in.get(url).status_code == 200
    response = logged_in.post(url, {"day": "2027-02-20", "is_workday": "True", "note": "调休上班"})
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.is_workday, row.note) == (True, "调休上班")
    assert workdays.calendar().is_workday(D(2027, 2, 20))
    (line,) = calendar_lines()
    assert "2027-02-20" in line.summary and "调休上班" in line.summary
    # Sending the same again changes nothing and writes no line.
    logged_in.post(url, {"day": "2027-02-20", "is_workday": "True", "note": "调休上班"})
    assert len(calendar_lines()) == 1


def test_moving_a_row_onto_another_rows_day_is_refused(logged_in):
    CalendarDay.objects.create(day=D(2027, 2, 8), is_workday=False)
    row = CalendarDay.objects.create(day=D(2027, 2, 9), is_workday=False, note="春节")
    url = reverse("manage:calendar-day", args=[row.pk])
    response = logged_in.post(url, {"day": "2027-02-08", "is_workday": "False", "note": "春节"})
    assert response.status_code == 400
    row.refresh_from_db()
    assert row.day == D(2027, 2, 9)


def test_deleting_a_day(logged_in):
    row = CalendarDay.objects.create(day=D(2026, 10, 10), is_workday=False, note="本地")
    assert not workdays.calendar().is_workday(D(2026, 10, 10))
    url = reverse("manage:calendar-delete", args=[row.pk])
    assert logged_in.get(url).status_code == 405
    response = logged_in.post(url)
    assert response["Location"] == f"{CALENDAR}?year=2026"
    assert not CalendarDay.objects.exists()
    assert workdays.calendar().is_workday(D(2026, 10, 10))  # the library's make-up day again
    (line,) = calendar_lines()
    assert "2026-10-10" in line.summary
    assert logged_in.post(url).status_code == 404


# --- The banner and the official schedule ----------------------------------------------------


def test_the_banner_names_the_coming_year_without_a_schedule(logged_in, december_2026):
    response = logged_in.get(CALENDAR)
    assert response.context["year"] == 2026
    assert response.context["missing"] == [2027]
    page = response.content.decode()
    assert 'name="year" value="2027"' in page and SCHEDULE in page
    # The hub says so too.
    hub = logged_in.get(reverse("manage:hub"))
    assert hub.context["missing_schedule"] == [2027]
    assert f"{CALENDAR}?year=2027" in hub.content.decode()


def test_the_schedule_button_is_refused_while_the_year_has_no_day_in_the_table(
    logged_in, december_2026
):
    response = logged_in.post(SCHEDULE, {"year": "2027", "entered": "1"})
    assert response["Location"] == f"{CALENDAR}?year=2027"
    assert not ScheduleYear.objects.exists()
    assert workdays.years_without_schedule() == [2027]
    assert calendar_lines() == []


def test_confirming_the_schedule_and_taking_it_back(logged_in, admin, december_2026):
    CalendarDay.objects.create(day=D(2027, 2, 8), is_workday=False, note="春节")
    logged_in.post(SCHEDULE, {"year": "2027", "entered": "1"})
    (row,) = ScheduleYear.objects.all()
    assert (row.year, row.confirmed_by) == (2027, admin)
    response = logged_in.get(CALENDAR)
    assert response.context["missing"] == []
    assert 'name="entered" value="1"' not in response.content.decode()
    # The year's own view says who confirmed it, with the undo.
    page = logged_in.get(CALENDAR, {"year": "2027"})
    assert page.context["schedule"] == row
    assert 'name="entered" value="0"' in page.content.decode()
    # Twice is once.
    logged_in.post(SCHEDULE, {"year": "2027", "entered": "1"})
    assert ScheduleYear.objects.count() == 1
    logged_in.post(SCHEDULE, {"year": "2027", "entered": "0"})
    assert not ScheduleYear.objects.exists()
    assert workdays.years_without_schedule() == [2027]
    assert ["2027" in line.summary for line in calendar_lines()] == [True, True]


@pytest.mark.parametrize(
    "data", [{"year": "1999", "entered": "1"}, {"year": "x", "entered": "1"}, {"year": "2027"}]
)
def test_a_bad_schedule_request_changes_nothing(logged_in, data):
    CalendarDay.objects.create(day=D(2027, 2, 8), is_workday=False)
    assert logged_in.post(SCHEDULE, data).status_code == 302
    assert not ScheduleYear.objects.exists()


# --- Bulk entry ------------------------------------------------------------------------------

GOOD = """# 2027年部分节假日安排
2027-01-01 休 元旦
2027-02-06~2027-02-12 休 春节
2027/2/20 班 春节调休
2027年10月9日 班，国庆节调休
"""


def test_the_preview_writes_nothing_and_shows_each_day(logged_in):
    response = logged_in.post(BULK, {"text": GOOD, "preview": "1"})
    assert response.status_code == 200
    days = [(p["new"].day, p["new"].is_workday) for p in response.context["preview"]]
    assert len(days) == 10
    assert days[0] == (D(2027, 1, 1), False)
    assert (D(2027, 2, 20), True) in days and (D(2027, 10, 9), True) in days
    assert not CalendarDay.objects.exists()
    assert calendar_lines() == []
    assert 'name="save"' in response.content.decode()


def test_saving_writes_every_day_and_one_audit_line(logged_in, admin):
    CalendarDay.objects.create(day=D(2027, 2, 20), is_workday=False, note="旧的")
    response = logged_in.post(BULK, {"text": GOOD, "save": "1"})
    assert response.status_code == 302
    assert response["Location"] == f"{CALENDAR}?year=2027"
    assert CalendarDay.objects.count() == 10
    replaced = CalendarDay.objects.get(day=D(2027, 2, 20))
    assert (replaced.is_workday, replaced.note, replaced.updated_by) == (True, "春节调休", admin)
    assert CalendarDay.objects.get(day=D(2027, 2, 10)).note == "春节"
    cal = workdays.calendar()
    assert not cal.is_workday(D(2027, 2, 8)) and cal.is_workday(D(2027, 2, 20))
    (line,) = calendar_lines()
    assert "2027-02-06" in line.summary
    assert {d["day"] for d in line.detail["days"]} >= {"2027-01-01", "2027-10-09"}
    before = next(d for d in line.detail["days"] if d["day"] == "2027-02-20")["before"]
    assert before == {"is_workday": False, "note": "旧的"}


def test_a_bad_line_saves_nothing_and_says_which(logged_in):
    text = GOOD + "2027-02-30 休 不存在的日子\n2027-03-01 maybe\n"
    for button in ("preview", "save"):
        response = logged_in.post(BULK, {"text": text, button: "1"})
        assert response.status_code == 400
        errors = response.context["line_errors"]
        assert [e.line for e in errors] == [6, 7]
        assert not CalendarDay.objects.exists()
        assert 'name="save"' not in response.content.decode()
        assert "不存在的日子" in response.content.decode()  # the text as typed is kept
    assert calendar_lines() == []


@pytest.mark.parametrize(
    ("line", "day", "is_workday", "note"),
    [
        ("2027-02-06 休 春节", D(2027, 2, 6), False, "春节"),
        ("2027/2/20，上班，春节调休", D(2027, 2, 20), True, "春节调休"),
        ("2027.10.9\twork", D(2027, 10, 9), True, ""),
        ("２０２７年１０月１日\u3000休息\u3000国庆节", D(2027, 10, 1), False, "国庆节"),
    ],
)
def test_the_ways_a_line_may_be_written(db, line, day, is_workday, note):
    days, errors = forms_calendar.parse(line)
    assert errors == []
    assert [(d.day, d.is_workday, d.note) for d in days] == [(day, is_workday, note)]


def test_the_same_day_twice_in_one_paste_is_a_line_error(logged_in):
    response = logged_in.post(
        BULK, {"text": "2027-02-06 休\n2027-02-01~2027-02-07 休", "save": "1"}
    )
    assert response.status_code == 400
    assert [e.line for e in response.context["line_errors"]] == [2]
    assert not CalendarDay.objects.exists()


def test_an_empty_paste_is_refused(logged_in):
    response = logged_in.post(BULK, {"text": "# only a comment\n\n", "preview": "1"})
    assert response.status_code == 400
    assert response.context["form"].errors["text"]


def test_too_many_days_at_once_is_refused(logged_in):
    response = logged_in.post(BULK, {"text": "2027-01-01~2028-12-31 休", "save": "1"})
    assert response.status_code == 400
    assert not CalendarDay.objects.exists()


# --- Deadlines as a number of working days ---------------------------------------------------


def assign_data(item: Item, cast, **extra) -> dict:
    return {
        "version": item.version,
        "leader": cast.leader.pk,
        "lead_department": cast.edu.pk,
        "co_departments": [cast.traffic.pk],
        **extra,
    }


def test_assigning_with_a_number_of_working_days(eve_of_national_day, client, cast, draft):
    client.force_login(cast.alice)
    url = reverse("ledger:item-action", args=[draft.pk, "assign"])
    response = client.post(url, assign_data(draft, cast, deadline="", working_days="5"))
    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.state, draft.deadline) == (Item.State.ASSIGNED, D(2026, 10, 13))
    event = draft.events.get(kind=Event.Kind.ASSIGN)
    assert event.data["deadline"] == "2026-10-13"
    assert (event.data["working_days"], event.data["counted_from"]) == (5, "2026-09-30")
    assert any("2026-10-13" in text for text in said(response))
    client.cookies["django_language"] = "en"
    page = client.get(reverse("ledger:item", args=[draft.pk])).content.decode()
    assert "5 working days from 2026-09-30" in page  # the timeline says how it was counted


def test_a_date_and_a_number_that_disagree_are_refused_keeping_both(
    eve_of_national_day, client, cast, draft
):
    client.force_login(cast.alice)
    url = reverse("ledger:item-action", args=[draft.pk, "assign"])
    response = client.post(
        url, assign_data(draft, cast, deadline="2026-10-12", working_days="5", note="请抓紧")
    )
    assert response.status_code == 400
    draft.refresh_from_db()
    assert draft.state == Item.State.DRAFT
    page = response.content.decode()
    assert 'value="2026-10-12"' in page and 'value="5"' in page and "请抓紧" in page
    assert "2026-10-13" in page  # the message names the day the number comes to


def test_a_date_and_a_number_that_agree_are_accepted(eve_of_national_day, client, cast, draft):
    client.force_login(cast.alice)
    url = reverse("ledger:item-action", args=[draft.pk, "assign"])
    client.post(url, assign_data(draft, cast, deadline="2026-10-13", working_days="5"))
    draft.refresh_from_db()
    assert draft.deadline == D(2026, 10, 13)


def test_the_date_the_form_showed_gives_way_to_a_number(eve_of_national_day, client, cast):
    proposed = make_item(cast.round, deadline=D(2026, 12, 31))
    client.force_login(cast.alice)
    url = reverse("ledger:item-action", args=[proposed.pk, "assign"])
    client.post(url, assign_data(proposed, cast, deadline="2026-12-31", working_days="5"))
    proposed.refresh_from_db()
    assert proposed.deadline == D(2026, 10, 13)


@pytest.mark.parametrize("n", ["0", "-3", "x", "99999999", str(10**30)])
def test_a_bad_number_of_working_days_is_refused(eve_of_national_day, client, cast, draft, n):
    client.force_login(cast.alice)
    url = reverse("ledger:item-action", args=[draft.pk, "assign"])
    response = client.post(url, assign_data(draft, cast, working_days=n))
    assert response.status_code == 400
    draft.refresh_from_db()
    assert draft.state == Item.State.DRAFT


def test_bulk_assignment_with_a_number_of_working_days(eve_of_national_day, client, cast):
    drafts = [make_item(cast.round) for _ in range(2)]
    client.force_login(cast.alice)
    response = client.post(
        reverse("ledger:bulk-assign-submit"),
        {
            "selection": [f"{d.pk}:{d.version}" for d in drafts],
            "leader": cast.leader.pk,
            "lead_department": cast.edu.pk,
            "working_days": "10",
        },
    )
    assert response.status_code == 302
    # Ten working days from 30 September: 8, 9, 10 (Saturday), 12 … 16, 19 and 20 October.
    assert {Item.objects.get(pk=d.pk).deadline for d in drafts} == {D(2026, 10, 20)}
    assert all(e.data["working_days"] == 10 for e in Event.objects.filter(kind=Event.Kind.ASSIGN))
    assert any("2026-10-20" in text for text in said(response))


def test_granting_an_extension_for_a_number_of_working_days(
    eve_of_national_day, client, cast, in_progress
):
    workflow.request_extension(
        in_progress, by=cast.bob, new_deadline=D(2026, 12, 31), reason="施工期长"
    )
    in_progress.refresh_from_db()
    client.force_login(cast.alice)
    url = reverse("ledger:item-action", args=[in_progress.pk, "grant_extension"])
    # 45 working days from 30 September, past the holiday week.
    expected = workdays.calendar().add(D(2026, 9, 30), 45)
    response = client.post(
        url,
        {"version": in_progress.version, "deadline": "2026-12-31", "working_days": "45"},
    )
    assert response.status_code == 302
    in_progress.refresh_from_db()
    assert in_progress.deadline == expected
    event = in_progress.events.get(kind=Event.Kind.EXTENSION_GRANT)
    assert (event.data["new_deadline"], event.data["working_days"]) == (expected.isoformat(), 45)
