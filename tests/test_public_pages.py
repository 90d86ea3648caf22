"""The public index of notices, its search and paging, the Atom feed: no sign-in, and only
what was published."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from ledger.publication import views_public
from ledger.publication.models import Notice, Publication

pytestmark = pytest.mark.django_db


def published(cast, title: str, days_ago: int, **kw) -> Notice:
    """A published notice written straight to the tables (publishing itself is tested in
    test_publication.py): only what the index and the feed read."""
    notice = Notice.objects.create(
        title=title,
        issuer="考评办",
        date=datetime.date(2020, 12, 31),
        created_by=cast.alice,
        state="published",
        **kw,
    )
    Publication.objects.create(
        notice=notice,
        snapshot={},
        html=f"<p>{title}</p>",
        html_sha256="a" * 64,
        pdf="notices/x.pdf",
        pdf_sha256="b" * 64,
        pdf_size=1,
        xlsx="notices/x.xlsx",
        xlsx_sha256="c" * 64,
        xlsx_size=1,
        published_by=cast.alice,
        published_at=timezone.now() - datetime.timedelta(days=days_ago),
    )
    return notice


def test_the_index_lists_published_notices_newest_first_and_no_draft(client, cast):
    published(cast, "2019年度整改情况公示", days_ago=30)
    published(cast, "2020年中期整改情况公示", days_ago=1)
    Notice.objects.create(title="草稿公示XQ", issuer="考评办", created_by=cast.alice)
    page = client.get(reverse("publication:index")).content.decode()
    assert page.index("2020年中期整改情况公示") < page.index("2019年度整改情况公示")
    assert "草稿公示XQ" not in page
    assert '<html lang="zh-CN">' in page


def test_the_index_searches_titles_and_says_what_to_do_when_nothing_matches(client, cast):
    published(cast, "2019年度整改情况公示", days_ago=3)
    published(cast, "琼海市社会评价结果公布", days_ago=2)
    page = client.get(reverse("publication:index"), {"q": "琼海"}).content.decode()
    assert "琼海市社会评价结果公布" in page and "2019年度整改情况公示" not in page
    empty = client.get(reverse("publication:index"), {"q": "不存在的标题"}).content.decode()
    assert "没有标题含此内容的公示" in empty and "查看全部公示" in empty


def test_the_index_is_paged(client, cast, monkeypatch):
    monkeypatch.setattr(views_public, "PAGE_SIZE", 2)
    for i in range(5):
        published(cast, f"公示第{i}号", days_ago=10 - i)
    first = client.get(reverse("publication:index")).content.decode()
    assert "公示第4号" in first and "公示第3号" in first and "公示第2号" not in first
    assert "第 1 页，共 3 页" in first
    last = client.get(reverse("publication:index"), {"page": 3}).content.decode()
    assert "公示第0号" in last and "公示第4号" not in last


def test_an_empty_index_says_notices_will_appear(client, db):
    page = client.get(reverse("publication:index")).content.decode()
    assert "尚未发布任何公示" in page


def test_the_feed_lists_published_notices_only(client, cast):
    notice = published(cast, "2019年度整改情况公示", days_ago=1)
    Notice.objects.create(title="草稿公示XQ", issuer="考评办", created_by=cast.alice)
    response = client.get(reverse("publication:feed"))
    assert response["Content-Type"].startswith("application/atom+xml")
    body = response.content.decode()
    assert "2019年度整改情况公示" in body and "草稿公示XQ" not in body
    assert reverse("publication:public", args=[notice.pk]) in body


def test_the_notice_page_is_served_as_stored_in_one_query(client, cast, django_assert_num_queries):
    notice = published(cast, "2019年度整改情况公示", days_ago=1)
    with django_assert_num_queries(1):
        response = client.get(reverse("publication:public", args=[notice.pk]))
    assert response.content.decode() == "<p>2019年度整改情况公示</p>"
    assert response["Cache-Control"] == "public, max-age=300"
