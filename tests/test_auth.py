"""Sign-in and sign-out pages, in Chinese, with a lockout after repeated failures."""

from __future__ import annotations

from django.urls import reverse

from .factory import make_user


def test_the_sign_in_page_speaks_chinese(client, db):
    page = client.get(reverse("login")).content.decode()
    assert 'lang="zh-CN"' in page
    assert "登录" in page
    assert "密码" in page


def test_the_sign_in_page_speaks_english_when_chosen(client, db):
    client.post(reverse("set_language"), {"language": "en", "next": "/login/"})
    page = client.get(reverse("login")).content.decode()
    assert "Sign in" in page
    assert 'lang="en"' in page


def test_signing_in_leads_home(client, db):
    make_user("zhang", role="supervisor")
    response = client.post(reverse("login"), {"username": "zhang", "password": "password"})
    assert response.status_code == 302
    assert response["Location"] == reverse("ledger:home")


def test_a_wrong_password_is_refused_in_chinese(client, db):
    make_user("zhang")
    response = client.post(reverse("login"), {"username": "zhang", "password": "nope"})
    assert response.status_code == 200
    assert "请输入一个正确的" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_five_wrong_passwords_lock_the_account_out_even_with_the_right_one(client, db):
    make_user("zhang")
    for _ in range(5):
        client.post(reverse("login"), {"username": "zhang", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "zhang", "password": "password"})
    assert response.status_code == 429
    assert "暂停" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_lockout_is_for_that_account_only(client, db):
    make_user("zhang")
    make_user("wang")
    for _ in range(5):
        client.post(reverse("login"), {"username": "zhang", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "wang", "password": "password"})
    assert response.status_code == 302


def test_signing_out_is_a_post(client, db):
    user = make_user("zhang")
    client.force_login(user)
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_pages_send_a_content_security_policy(client, db):
    response = client.get(reverse("login"))
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert response["X-Frame-Options"] == "DENY"


def test_an_english_browser_still_gets_chinese_until_english_is_chosen(client, db):
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert "登录" in page.content.decode()
    client.post(reverse("set_language"), {"language": "en", "next": "/login/"})
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert "Sign in" in page.content.decode()
