"""Input the app refuses before it can do harm: a user name longer than any account's, a
NUL, ids no column can hold, dates out of bounds, a body larger than any upload.

Messages are compared with the catalogue's own translation of their msgid (under the
page's language), so these tests say what the user is shown whether or not a string has
been translated yet."""

from __future__ import annotations

import datetime
import io

import pytest
from axes.models import AccessAttempt
from django.core.handlers.wsgi import WSGIHandler
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext

from ledger import guards
from ledger.forms import DEADLINE_YEARS, years_after
from ledger.models import AuditEntry, Event, Extension, Item, Progress

from .factory import in_days, make_user

pytestmark = pytest.mark.django_db


def zh(message: str, **params) -> str:
    """``message`` as the Chinese page shows it, escaped as a template writes it."""
    with translation.override("zh-hans"):
        text = gettext(message)
    return escape(text % params if params else text)


# --- Sign-in ---------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [151, 256, 10_000])
def test_a_user_name_longer_than_any_account_is_refused_before_authentication(client, length):
    name = "z" * length
    response = client.post(reverse("login"), {"username": name, "password": "whatever"})
    assert response.status_code == 200
    page = response.content.decode()
    assert zh("A user name has at most %(max)d characters.", max=150) in page
    assert f'value="{name}"' in page  # what was typed is kept
    # django-axes never heard of it; the audit trail has the attempt, the name cut.
    assert not AccessAttempt.objects.exists()
    (line,) = AuditEntry.objects.filter(kind=AuditEntry.Kind.SIGN_IN_FAILED)
    assert line.username == "z" * 150


def test_a_user_name_of_the_longest_length_still_signs_in(client):
    make_user("a" * 150, role="supervisor")
    response = client.post(reverse("login"), {"username": "a" * 150, "password": "password"})
    assert response.status_code == 302


# --- NUL -------------------------------------------------------------------------------------


def test_a_nul_in_the_public_search_is_a_400_in_chinese_not_a_500(client):
    response = client.get("/notices/?q=%00")
    assert response.status_code == 400
    page = response.content.decode()
    assert zh("Request not accepted") in page and '<html lang="zh-CN">' in page


def test_the_400_page_is_in_english_when_english_is_chosen(client):
    client.cookies["django_language"] = "en"
    response = client.get("/notices/?q=%00")
    assert response.status_code == 400
    assert "Request not accepted" in response.content.decode()


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"path": "/items/", "data": {"q": "学校\x00"}},
        {"path": "/items/", "data": {"q\x00": "学校"}},
        {"path": "/notifications/read/", "data": {"id": "1\x00"}, "method": "post"},
    ],
)
def test_a_nul_in_a_signed_in_query_or_form_is_a_400(client, cast, request_kwargs):
    client.force_login(cast.bob)
    method = request_kwargs.pop("method", "get")
    response = getattr(client, method)(**request_kwargs)
    assert response.status_code == 400


def test_a_nul_in_the_session_cookie_is_a_400(client, cast):
    # A quoted cookie may carry one escaped ("\\000"); PostgreSQL refuses it in a query.
    cookie = 'sessionid="abcdefgh\\000ijklmnop"'
    response = client.get(reverse("ledger:items"), HTTP_COOKIE=cookie)
    assert response.status_code == 400


def test_a_nul_in_an_uploaded_file_name_is_a_400(client, cast, assigned):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(cast.bob)
    upload = SimpleUploadedFile("a\x00b.pdf", b"%PDF-1.4\n", content_type="application/pdf")
    response = client.post(
        reverse("ledger:item-action", args=[assigned.pk, "progress"]),
        {"version": assigned.version, "text": "x", "percent": 5, "evidence": upload},
    )
    assert response.status_code == 400
    assert not Progress.objects.exists()


# --- Ids no column can hold ------------------------------------------------------------------

HUGE = str(10**30)


@pytest.mark.parametrize(
    "path", [f"/notices/{HUGE}/", f"/notices/{HUGE}/pdf/", "/items/99999999999999999999/"]
)
def test_an_id_larger_than_any_column_is_not_found(client, cast, path):
    client.force_login(cast.alice)
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("value", [HUGE, "²³", "-1", "1.5"])
def test_filters_and_cursors_that_are_not_ids_are_ignored(client, cast, assigned, value):
    client.force_login(cast.alice)
    for params in ({"round": value}, {"lead": value}, {"co": value}, {"leader": value}):
        assert client.get(reverse("ledger:items"), params).status_code == 200
    assert client.get(reverse("ledger:notifications"), {"before": value}).status_code == 200
    assert client.get(reverse("ledger:bulk-assign"), {"round": value}).status_code == 200
    assert client.get(reverse("intake:export"), {"round": value}).status_code == 200


def test_a_co_department_no_column_can_hold_is_refused_by_the_form(client, cast, draft):
    client.force_login(cast.alice)
    response = client.post(
        reverse("ledger:item-action", args=[draft.pk, "assign"]),
        {
            "version": draft.version,
            "leader": cast.leader.pk,
            "lead_department": cast.edu.pk,
            "co_departments": [HUGE],
            "deadline": in_days(30).isoformat(),
        },
    )
    assert response.status_code == 400
    draft.refresh_from_db()
    assert draft.state == Item.State.DRAFT


def test_an_in_lookup_leaves_out_what_the_column_cannot_hold(cast):
    from ledger.models import Department

    assert list(Department.objects.filter(pk__in=[10**30, cast.edu.pk])) == [cast.edu]
    assert list(Department.objects.filter(pk__in=[10**30])) == []


# --- Dates -----------------------------------------------------------------------------------


def _progress(client, item, day: str):
    return client.post(
        reverse("ledger:item-action", args=[item.pk, "progress"]),
        {"version": item.version, "reported_on": day, "percent": 40, "text": "护栏已安装"},
    )


@pytest.mark.parametrize(
    "day, message, params",
    [
        ("1900-01-01", "The date of progress cannot be before the round’s year, %(year)s.", {}),
        ("2018-12-31", "The date of progress cannot be before the round’s year, %(year)s.", {}),
        (None, "The date of progress cannot be in the future.", {}),
        ("9999-12-31", "The date of progress cannot be in the future.", {}),
    ],
)
def test_a_progress_date_out_of_bounds_is_refused_and_nothing_is_written(
    client, cast, in_progress, day, message, params
):
    day = day or in_days(1).isoformat()  # tomorrow
    client.force_login(cast.bob)
    events = Event.objects.count()
    response = _progress(client, in_progress, day)
    assert response.status_code == 400
    page = response.content.decode()
    assert zh(message, year=cast.round.year) in page
    assert "护栏已安装" in page  # what was typed is kept
    assert not Progress.objects.exists()
    assert Event.objects.count() == events
    before = in_progress.version
    in_progress.refresh_from_db()
    assert in_progress.version == before and in_progress.percent == 0


def test_a_progress_date_in_the_rounds_year_and_today_are_accepted(client, cast, in_progress):
    client.force_login(cast.bob)
    assert _progress(client, in_progress, "2019-01-01").status_code == 302
    in_progress.refresh_from_db()
    assert _progress(client, in_progress, timezone.localdate().isoformat()).status_code == 302
    assert Progress.objects.count() == 2


def _too_far() -> str:
    latest = years_after(timezone.localdate(), DEADLINE_YEARS)
    return zh(
        "A deadline can be at most %(years)d years from today, up to %(date)s.",
        years=DEADLINE_YEARS,
        date=latest.isoformat(),
    )


def test_an_extension_to_9999_is_refused(client, cast, in_progress):
    client.force_login(cast.bob)
    response = client.post(
        reverse("ledger:item-action", args=[in_progress.pk, "request_extension"]),
        {"version": in_progress.version, "new_deadline": "9999-12-31", "reason": "雨季施工"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert _too_far() in page and "雨季施工" in page
    assert not Extension.objects.exists()


def test_an_extension_into_the_past_is_refused_by_the_form(client, cast, in_progress):
    client.force_login(cast.bob)
    response = client.post(
        reverse("ledger:item-action", args=[in_progress.pk, "request_extension"]),
        {"version": in_progress.version, "new_deadline": "2001-01-01", "reason": "雨季施工"},
    )
    assert response.status_code == 400
    assert zh("The new deadline cannot be in the past.") in response.content.decode()
    assert not Extension.objects.exists()


def test_granting_an_extension_beyond_ten_years_is_refused(client, cast, in_progress):
    from ledger import workflow

    workflow.request_extension(in_progress, by=cast.bob, new_deadline=in_days(60), reason="雨季")
    in_progress.refresh_from_db()
    client.force_login(cast.alice)
    response = client.post(
        reverse("ledger:item-action", args=[in_progress.pk, "grant_extension"]),
        {"version": in_progress.version, "deadline": "9999-12-31"},
    )
    assert response.status_code == 400
    assert _too_far() in response.content.decode()
    assert Extension.objects.get().status == Extension.Status.PENDING


@pytest.mark.parametrize("action, fixture", [("assign", "draft"), ("reassign", "assigned")])
def test_an_assignment_deadline_beyond_ten_years_is_refused(client, cast, request, action, fixture):
    item = request.getfixturevalue(fixture)
    client.force_login(cast.alice)
    data = {
        "version": item.version,
        "leader": cast.leader.pk,
        "lead_department": cast.edu.pk,
        "deadline": years_after(timezone.localdate(), DEADLINE_YEARS + 1).isoformat(),
        "reason": "调整",
    }
    before = (item.state, item.deadline)
    response = client.post(reverse("ledger:item-action", args=[item.pk, action]), data)
    assert response.status_code == 400
    assert _too_far() in response.content.decode()
    item.refresh_from_db()
    assert (item.state, item.deadline) == before


def test_a_deadline_exactly_ten_years_away_is_accepted(client, cast, draft):
    client.force_login(cast.alice)
    latest = years_after(timezone.localdate(), DEADLINE_YEARS)
    response = client.post(
        reverse("ledger:item-action", args=[draft.pk, "assign"]),
        {
            "version": draft.version,
            "leader": cast.leader.pk,
            "lead_department": cast.edu.pk,
            "deadline": latest.isoformat(),
        },
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.deadline == latest


def test_years_after_a_29th_of_february():
    assert years_after(datetime.date(2028, 2, 29), 10) == datetime.date(2038, 2, 28)


# --- Bodies larger than any upload -----------------------------------------------------------


class Unreadable(io.RawIOBase):
    def read(self, *args):
        raise AssertionError("the body was read")

    readline = readinto = read


def _environ(length: int, **extra) -> dict:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/items/1/progress/",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "multipart/form-data; boundary=x",
        "CONTENT_LENGTH": str(length),
        "wsgi.input": Unreadable(),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        **extra,
    }


def _call(environ: dict) -> tuple[str, bytes]:
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"] = status

    body = b"".join(WSGIHandler()(environ, start_response))
    return answer["status"], body


def test_the_limit_is_the_largest_upload_and_the_forms_room(settings):
    settings.EVIDENCE_MAX_BYTES = 20 * 1024 * 1024
    settings.IMPORT_MAX_BYTES = 20 * 1024 * 1024
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
    assert guards.largest_body() == (10 * 20 + 5) * 1024 * 1024
    settings.IMPORT_MAX_BYTES = 300 * 1024 * 1024
    assert guards.largest_body() == 305 * 1024 * 1024


def test_a_body_above_the_limit_is_refused_with_413_without_being_read(cast):
    status, body = _call(_environ(guards.largest_body() + 1))
    assert status.startswith("413")
    page = body.decode()
    assert zh("Too large to send") in page and '<html lang="zh-CN">' in page
    assert f"{guards.largest_body() // (1024 * 1024)} MB" in page


def test_the_413_page_is_in_english_when_english_is_chosen(cast):
    status, body = _call(_environ(guards.largest_body() + 1, HTTP_COOKIE="django_language=en"))
    assert status.startswith("413")
    assert "Too large to send" in body.decode()


@override_settings(EVIDENCE_MAX_BYTES=100, IMPORT_MAX_BYTES=100, DATA_UPLOAD_MAX_MEMORY_SIZE=100)
def test_the_limit_follows_the_settings(client, cast, in_progress):
    assert guards.largest_body() == 10 * 100 + 100
    client.force_login(cast.bob)
    url = reverse("ledger:item-action", args=[in_progress.pk, "progress"])
    response = client.post(url, {"version": in_progress.version, "text": "x" * 1200})
    assert response.status_code == 413
    # At the limit it goes through to the view (which finds the form incomplete).
    response = client.post(url, {"version": in_progress.version, "text": "x" * 10})
    assert response.status_code == 400
    assert not Progress.objects.exists()


def test_a_body_without_a_length_is_not_refused_and_not_read(cast):
    status, _body = _call(_environ(0, CONTENT_LENGTH=""))
    assert not status.startswith(("413", "5"))
