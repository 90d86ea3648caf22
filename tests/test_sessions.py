"""Sessions (issue 17): a new key at sign-in, an end after 30 minutes idle and after 8 hours
whatever the activity, nothing of a signed-in page kept by a browser, and the browser
features no page uses turned off."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db

START = datetime.datetime(2026, 12, 4, 9, 0, tzinfo=datetime.UTC)


def sign_in(client, username: str = "bob"):
    response = client.post(reverse("login"), {"username": username, "password": "password"})
    assert response.status_code == 302
    return response


def test_signing_in_gives_a_new_session_key(client, cast):
    client.get(reverse("login"))
    client.session.save()
    before = client.session.session_key
    sign_in(client)
    assert client.session.session_key != before
    assert client.session["_auth_user_id"] == str(cast.bob.pk)


def test_thirty_minutes_without_a_request_end_the_session(client, cast):
    items = reverse("ledger:items")
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client)
        clock.shift(datetime.timedelta(minutes=29))
        assert client.get(items).status_code == 200  # activity counts from here
        clock.shift(datetime.timedelta(minutes=29))
        assert client.get(items).status_code == 200
        clock.shift(datetime.timedelta(minutes=31))
        response = client.get(items)
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('login')}?next={items}"
        page = client.get(response["Location"]).content.decode()
        assert "30 分钟未操作，已自动退出" in page
        assert "_auth_user_id" not in client.session
        assert client.get(items).status_code == 302  # still signed out


def test_eight_hours_end_the_session_however_busy(client, cast):
    home = reverse("ledger:home")
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client)
        for _ in range(7 * 4 + 3):  # a request every quarter hour for 7¾ hours
            clock.shift(datetime.timedelta(minutes=15))
            assert client.get(home).status_code == 200
        clock.shift(datetime.timedelta(minutes=15))
        response = client.get(home, follow=True)
        assert response.redirect_chain[-1][0].startswith(reverse("login"))
        assert "已登录 8 小时" in response.content.decode()


def test_the_limits_are_settings(client, cast, settings):
    settings.SESSION_IDLE_SECONDS = 5 * 60
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client)
        clock.shift(datetime.timedelta(minutes=6))
        assert client.get(reverse("ledger:items")).status_code == 302


def test_signed_in_pages_are_never_stored_and_public_ones_may_be(client, cast):
    client.force_login(cast.bob)
    for url in (reverse("ledger:home"), reverse("ledger:items"), reverse("password-change")):
        cache = client.get(url)["Cache-Control"]
        assert "no-store" in cache and "private" in cache, url
    client.logout()
    public = client.get(reverse("publication:index"))
    assert "no-store" not in public.get("Cache-Control", "")


def test_browser_features_no_page_uses_are_turned_off(client, db):
    policy = client.get(reverse("login"))["Permissions-Policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()"):
        assert feature in policy
    assert settings.SESSION_COOKIE_AGE == settings.SESSION_ABSOLUTE_SECONDS
