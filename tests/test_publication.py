"""Publication (issue 5): compose a notice, publish it to a frozen page, PDF and Excel annex.

The ledger here is small (tests/factory.py) but holds everything that must never reach the
public: a draft item, a responsible person, a leader, return and extension reasons, event
notes, and a citizen's phone number and name in the suggestions.
"""

from __future__ import annotations

import datetime
import io
import json
import re

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils.translation import override
from openpyxl import load_workbook
from pypdf import PdfReader

from ledger import jobs
from ledger.models import Event, Extension, Item, Job
from ledger.publication import render, tasks
from ledger.publication.models import (
    FrozenError,
    Notice,
    Publication,
    PublishedAnnex,
    Section,
)

from .factory import in_days, make_category, make_item, make_suggestion

pytestmark = pytest.mark.django_db

PHONE = "13812345678"
PERSON = "王守责"  # responsible person: internal
RETURN_REASON = "退回理由佐证不足XQ"
EXTENSION_REASON = "延期理由资金未到位XQ"
DRAFT_TITLE = "尚未交办的草稿事项XQ"


@pytest.fixture
def ledger(cast):
    """Four items of 2019年度: done, long-term, in progress, and a draft."""
    r = cast.round
    economy = make_category(r, "经济发展", order=1)
    schools = make_category(r, "教育事业", order=2)
    today = datetime.date(2020, 12, 1)
    done = make_item(
        r,
        title="学校门口交通拥堵",
        category=schools,
        lead_department=cast.edu,
        leader=cast.leader,
        responsible_person=PERSON,
        state="closed",
        outcome_kind="done",
        closed_on=today,
        measures="增设交通协管员，错峰放学。",
        outcome="上下学高峰拥堵明显缓解。",
        deadline=today,
    )
    make_suggestion(r, item=done, text=f"村民张三反映学校门口拥堵，联系电话{PHONE}。")
    make_suggestion(r, item=done, text="放学时段门口车多，孩子过马路危险。")
    long_term = make_item(
        r,
        title="小微企业贷款难",
        category=economy,
        lead_department=cast.traffic,
        responsible_person=PERSON,
        state="closed",
        outcome_kind="long_term",
        closed_on=today,
        measures="建立政银企对接机制。",
        outcome="已组织对接会3场，长期坚持。",
    )
    make_suggestion(r, item=long_term, text='=HYPERLINK("http://evil.example","点我")')
    going = make_item(
        r,
        title="农贸市场缺斤短两",
        category=economy,
        lead_department=cast.health,
        responsible_person=PERSON,
        state="in_progress",
        deadline=in_days(-3),
        measures="开展计量器具专项检查。",
    )
    make_suggestion(r, item=going, text="某某单位的秤不准，希望管一管。")
    Event.objects.create(
        item=going,
        actor=cast.alice,
        kind="return",
        from_state="requested",
        to_state="in_progress",
        note=RETURN_REASON,
    )
    Extension.objects.create(
        item=going, requested_by=cast.dave, new_deadline=in_days(30), reason=EXTENSION_REASON
    )
    draft = make_item(r, title=DRAFT_TITLE, category=economy)
    make_suggestion(r, item=draft, text="草稿里的意见XQ")
    return {
        "done": done,
        "long_term": long_term,
        "going": going,
        "draft": draft,
        "economy": economy,
    }


def compose(client, cast, **extra) -> Notice:
    """Compose through the pages, as a supervisor would."""
    client.force_login(cast.alice)
    response = client.post(
        reverse("publication:create"),
        {
            "title": "2019年度社会评价群众意见建议整改情况公示",
            "issuer": "市委市政府督查和绩效考评办公室",
            "date": "2020-12-31",
            "document_number": "桂绩办发〔2020〕6号",
            "annex_rounds": [cast.round.pk],
            "terms_text": "某某单位",
            "keep_text": "",
        }
        | extra,
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    notice = Notice.objects.latest("pk")
    add_section(client, notice, body="根据通知要求，现将整改情况公示如下。")
    add_section(
        client,
        notice,
        heading="一、基本情况",
        body="共梳理问题{{ total }}个，完成整改{{ closed }}个，整改率{{ rate }}。",
        round=cast.round.pk,
    )
    return notice


def add_section(client, notice, **data):
    fields = {"heading": "", "body": "", "round": "", "category": "", "department": ""}
    before = set(notice.sections.values_list("pk", flat=True))
    response = client.post(reverse("publication:section-add", args=[notice.pk]), fields | data)
    assert response.status_code == 302, response.content.decode()[:3000]
    (added,) = notice.sections.exclude(pk__in=before)
    assert (added.heading, added.body, added.order) == (
        data.get("heading", ""),
        data.get("body", ""),
        len(before) + 1,
    )
    return response


def publish(client, notice) -> Notice:
    response = client.post(reverse("publication:publish", args=[notice.pk]))
    assert response.status_code == 302
    notice.refresh_from_db()
    return notice


def files_of(client, notice) -> tuple[str, bytes, bytes]:
    """The notice page followed by its annex pages, the PDF and the Excel annex."""
    client.logout()
    page = client.get(reverse("publication:public", args=[notice.pk]))
    annexes = [
        client.get(reverse("publication:annex", args=[notice.pk, k])).content.decode()
        for k in range(1, notice.annex_rounds.count() + 1)
    ]
    pdf = client.get(reverse("publication:pdf", args=[notice.pk]))
    xlsx = client.get(reverse("publication:xlsx", args=[notice.pk]))
    assert (page.status_code, pdf.status_code, xlsx.status_code) == (200, 200, 200)
    assert annexes and all("<table" in a for a in annexes)
    html = page.content.decode() + "".join(annexes)
    return html, b"".join(pdf.streaming_content), b"".join(xlsx.streaming_content)


def pdf_text(data: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def xlsx_rows(data: bytes) -> list[list]:
    wb = load_workbook(io.BytesIO(data))
    return [[c.value for c in row] for ws in wb.worksheets for row in ws.iter_rows()]


def test_a_published_notice_shows_the_same_masked_items_in_page_pdf_and_excel(client, cast, ledger):
    notice = publish(client, compose(client, cast))
    assert notice.state == "published", notice.error
    page, pdf, xlsx = files_of(client, notice)
    text = pdf_text(pdf).replace("\n", "")
    rows = xlsx_rows(xlsx)
    cells = "\n".join(str(v) for row in rows for v in row if v is not None)

    for output in (page, text, cells):
        # Masked as government notices do: the phone keeps 3 + 4 digits, the name its surname.
        assert "138****5678" in output
        assert "村民张**反映" in output
        assert "****的秤不准" in output  # the supervisor's term
        assert "学校门口" in output and "增设交通协管员" in output
        assert "已完成整改" in output and "长期坚持、持续推进" in output
        assert "正在整改" in output
        for secret in (
            PHONE,
            "张三",
            "某某单位",
            PERSON,
            cast.leader.name,
            RETURN_REASON,
            EXTENSION_REASON,
            DRAFT_TITLE,
            "草稿里的意见XQ",
        ):
            assert secret not in output, secret
    # The figures come from the ledger: 3 items handed over (the draft is not counted),
    # 2 closed out, 66.67% rounded half up.
    assert "共梳理问题3个，完成整改2个，整改率66.67%" in page
    assert "共梳理问题3个，完成整改2个，整改率66.67%" in text
    # The Excel annex: a title row, a header row, one row per item in category order.
    assert rows[1] == ["序号", "意见建议", "类别", "牵头单位", "整改措施及成效", "整改状态"]
    assert [r[2] for r in rows[2:]] == ["经济发展", "经济发展", "教育事业"]
    # The page shows each file's SHA-256, and it is the SHA-256 of what is served.
    assert render.sha256(pdf) in page and render.sha256(xlsx) in page


def test_a_formula_like_suggestion_stays_text_in_the_excel_annex(client, cast, ledger):
    notice = publish(client, compose(client, cast))
    _page, _pdf, xlsx = files_of(client, notice)
    wb = load_workbook(io.BytesIO(xlsx))
    cell = next(
        c
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for c in row
        if isinstance(c.value, str) and "HYPERLINK" in c.value
    )
    assert cell.data_type == "s"
    assert cell.value.startswith("=HYPERLINK")


def test_control_characters_in_a_suggestion_do_not_stop_the_excel_annex(client, cast, ledger):
    """A suggestion pasted from another system with a control character XML forbids:
    the notice still publishes, and the annex holds the text without it."""
    make_suggestion(cast.round, item=ledger["done"], text="路灯\x01不亮\x0b请维修")
    notice = publish(client, compose(client, cast))
    assert notice.state == "published"
    _page, _pdf, xlsx = files_of(client, notice)
    values = [v for row in xlsx_rows(xlsx) for v in row if isinstance(v, str)]
    assert any("路灯不亮请维修" in v for v in values)


def test_editing_the_ledger_after_publishing_changes_nothing_published(client, cast, ledger):
    notice = publish(client, compose(client, cast))
    before = files_of(client, notice)
    publication = Publication.objects.get(notice=notice)

    going = ledger["going"]
    Item.objects.filter(pk=going.pk).update(
        state="closed",
        outcome_kind="done",
        closed_on=datetime.date(2021, 1, 5),
        outcome="后来整改完成XQ",
        measures="改过的措施XQ",
    )
    ledger["done"].suggestions.update(text="改过的意见XQ")
    cast.edu.name = "改名后的教育局XQ"
    cast.edu.save()
    make_item(cast.round, title="发布后新增XQ", state="assigned", category=ledger["economy"])

    after = files_of(client, notice)
    assert after == before
    assert render.sha256(after[1]) == publication.pdf_sha256
    assert render.sha256(after[2]) == publication.xlsx_sha256
    assert "XQ" not in after[0].replace("XQ\n", "")


def test_published_rows_refuse_every_change(client, cast, ledger):
    notice = publish(client, compose(client, cast))
    notice.title = "改标题"
    with pytest.raises(FrozenError):
        notice.save()
    with pytest.raises(FrozenError):
        notice.delete()
    section = Section.objects.filter(notice=notice).first()
    section.body = "改正文"
    with pytest.raises(FrozenError):
        section.save()
    with pytest.raises(FrozenError):
        Section.objects.create(notice=notice, body="新段落")
    publication = Publication.objects.get(notice=notice)
    publication.html = "<p>改</p>"
    with pytest.raises(FrozenError):
        publication.save()
    with pytest.raises(FrozenError):
        publication.delete()
    # Through the pages: the edit form is refused and nothing changes.
    client.force_login(cast.alice)
    response = client.post(
        reverse("publication:edit", args=[notice.pk]),
        {"title": "改标题", "issuer": "x", "date": "2020-12-31"},
        follow=True,
    )
    assert "该公示已发布或正在发布，不能修改。如需更正，请生成新版本。" in response.content.decode()
    assert Notice.objects.get(pk=notice.pk).title != "改标题"


def test_a_correction_is_a_new_version_and_the_old_page_points_to_it(client, cast, ledger):
    old = publish(client, compose(client, cast))
    client.force_login(cast.alice)
    response = client.post(reverse("publication:new-version", args=[old.pk]))
    new = Notice.objects.get(replaces=old)
    assert response.url == reverse("publication:edit", args=[new.pk])
    assert (new.state, new.version, new.sections.count()) == ("draft", 2, 2)
    section = new.sections.last()
    client.post(
        reverse("publication:section-edit", args=[new.pk, section.pk]),
        {
            "heading": "一、基本情况（更正）",
            "body": "更正后的正文。",
            "round": "",
            "category": "",
            "department": "",
        },
    )
    client.logout()
    assert "取代" not in client.get(reverse("publication:public", args=[old.pk])).content.decode()
    client.force_login(cast.alice)
    publish(client, new)
    assert new.state == "published", new.error

    client.logout()
    old_page = client.get(reverse("publication:public", args=[old.pk])).content.decode()
    new_page = client.get(reverse("publication:public", args=[new.pk])).content.decode()
    assert "本公示已被第2版取代" in old_page
    assert f'href="{reverse("publication:public", args=[new.pk])}"' in old_page
    assert "更正第1版" in new_page
    assert "更正后的正文。" in new_page and "更正后的正文。" not in old_page


def test_published_pages_and_files_are_cacheable_and_answer_304(client, cast, ledger):
    notice = publish(client, compose(client, cast))
    client.logout()
    urls = [reverse(f"publication:{name}", args=[notice.pk]) for name in ("public", "pdf", "xlsx")]
    for url in [*urls, reverse("publication:annex", args=[notice.pk, 1])]:
        first = client.get(url)
        etag = first["ETag"]
        assert "public" in first["Cache-Control"] and "max-age=" in first["Cache-Control"]
        again = client.get(url, HTTP_IF_NONE_MATCH=etag)
        assert again.status_code == 304
        assert again["ETag"] == etag
        assert client.get(url, HTTP_IF_NONE_MATCH='"other"').status_code == 200
    pdf = client.get(reverse("publication:pdf", args=[notice.pk]))
    assert pdf["Content-Type"] == "application/pdf"
    assert "filename*=utf-8''" in pdf["Content-Disposition"]


def test_a_failed_publication_leaves_the_notice_unpublished_and_says_why(
    client, cast, ledger, monkeypatch
):
    def broken(snapshot, fetcher=None):
        raise jobs.JobError("字体文件缺失，无法生成PDF。")

    monkeypatch.setattr(render, "pdf_bytes", broken)
    notice = publish(client, compose(client, cast))
    assert notice.state == "failed"
    assert not Publication.objects.filter(notice=notice).exists()
    page = client.get(reverse("publication:edit", args=[notice.pk])).content.decode()
    assert "字体文件缺失，无法生成PDF。" in page
    client.logout()
    assert client.get(reverse("publication:public", args=[notice.pk])).status_code == 404
    # Fixed, it can be published again.
    monkeypatch.undo()
    client.force_login(cast.alice)
    assert publish(client, notice).state == "published"


def test_a_failure_after_the_files_are_stored_leaves_no_file_behind(
    client, cast, ledger, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("the database refused the annex pages")

    monkeypatch.setattr(PublishedAnnex.objects, "bulk_create", broken)
    notice = publish(client, compose(client, cast))
    assert notice.state == "failed"
    assert default_storage.listdir(f"notices/{notice.pk}") == ([], [])


def test_a_failed_publication_is_started_again_from_its_job_page(client, cast, ledger, monkeypatch):
    def broken(snapshot, fetcher=None):
        raise jobs.JobError("字体文件缺失，无法生成PDF。")

    monkeypatch.setattr(render, "pdf_bytes", broken)
    notice = publish(client, compose(client, cast))
    failed = notice.job
    assert (notice.state, failed.state) == ("failed", "failed")
    monkeypatch.undo()
    client.force_login(cast.bob)  # an official may not publish
    assert client.post(reverse("ledger:job-retry", args=[failed.pk])).status_code == 404
    client.force_login(cast.alice)
    response = client.post(reverse("ledger:job-retry", args=[failed.pk]))
    notice.refresh_from_db()
    assert notice.state == "published" and notice.job != failed
    assert response["Location"] == notice.job.get_absolute_url()
    _, pdf, xlsx = files_of(client, notice)
    assert pdf.startswith(b"%PDF") and xlsx.startswith(b"PK")
    # The folder holds the two published files and nothing else.
    stored = default_storage.listdir(f"notices/{notice.pk}")[1]
    assert sorted(stored) == sorted(
        name.rsplit("/", 1)[1]
        for name in (notice.publication.pdf.name, notice.publication.xlsx.name)
    )


def test_an_unexpected_error_is_logged_and_the_user_gets_a_plain_reason(
    client, cast, ledger, monkeypatch
):
    def crash(snapshot):
        raise RuntimeError("internal detail /srv/secret")

    monkeypatch.setattr(render, "xlsx_bytes", crash)
    notice = publish(client, compose(client, cast))
    assert notice.state == "failed"
    assert "secret" not in notice.error and notice.error


def test_compose_pages_are_for_supervisors_only(client, cast, ledger):
    notice = compose(client, cast)
    urls = [
        reverse("publication:manage"),
        reverse("publication:create"),
        reverse("publication:edit", args=[notice.pk]),
        reverse("publication:preview", args=[notice.pk]),
        reverse("publication:section-add", args=[notice.pk]),
    ]
    for user in (cast.bob, cast.lena, cast.nobody):
        client.force_login(user)
        for url in urls:
            assert client.get(url).status_code == 404, (user, url)
        assert client.post(reverse("publication:publish", args=[notice.pk])).status_code == 404
    client.logout()
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login"))
    # A draft has no public page.
    assert client.get(reverse("publication:public", args=[notice.pk])).status_code == 404
    assert client.get(reverse("publication:pdf", args=[notice.pk])).status_code == 404


def test_an_unknown_placeholder_is_refused_naming_it_and_the_text_is_kept(client, cast, ledger):
    notice = compose(client, cast)
    body = "完成整改{{ closed }}个，满意度{{ satisfaction }}。"
    response = client.post(
        reverse("publication:section-add", args=[notice.pk]),
        {"heading": "二、成效", "body": body, "round": cast.round.pk},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "{{ satisfaction }}" in page
    assert "完成整改{{ closed }}个，满意度{{ satisfaction }}。" in page  # kept in the textarea
    assert notice.sections.count() == 2


def test_figures_without_a_scope_are_refused(client, cast, ledger):
    notice = compose(client, cast)
    response = client.post(
        reverse("publication:section-add", args=[notice.pk]),
        {"heading": "", "body": "共{{ total }}个", "round": "", "category": "", "department": ""},
    )
    assert response.status_code == 400
    assert notice.sections.count() == 2


def test_a_category_section_counts_that_category(client, cast, ledger):
    notice = compose(client, cast)
    add_section(
        client,
        notice,
        heading="二、经济发展",
        body="经济发展类{{ total }}个，已完成{{ done }}个，长期坚持{{ long_term }}个，"
        "正在整改{{ in_progress }}个，逾期{{ overdue }}个，整改率{{ rate }}。",
        category=ledger["economy"].pk,
    )
    publish(client, notice)
    page, pdf, _x = files_of(client, notice)
    expected = "经济发展类2个，已完成0个，长期坚持1个，正在整改1个，逾期1个，整改率50.00%。"
    assert expected in page
    assert expected in pdf_text(pdf).replace("\n", "")


HOSTILE = (
    "<script>alert('x')</script>开头\n\n"
    '<img src=x onerror="alert(1)">图片\n\n'
    '<a href="javascript:alert(1)">链接</a>\n\n'
    "<style>body{display:none}</style>样式\n\n"
    "- **加粗**条目\n\n| 类别 | 数量 |\n|---|---|\n| 教育 | 3 |"
)


def test_hostile_markup_in_a_section_reaches_no_page_pdf_or_excel(client, cast, ledger):
    notice = compose(client, cast)
    add_section(client, notice, heading="<script>alert(2)</script>三、", body=HOSTILE)
    client.force_login(cast.alice)
    preview = client.get(reverse("publication:preview", args=[notice.pk])).content.decode()
    publish(client, notice)
    page, pdf, xlsx = files_of(client, notice)
    for html in (page, preview):
        for bad in ("<script", "onerror", "javascript:", "<style", "<img", "alert("):
            assert bad not in html, bad
        assert "<strong>加粗</strong>" in html
        assert '<th scope="col">类别</th>' in html
    text = pdf_text(pdf)
    for output in (text, "\n".join(str(v) for row in xlsx_rows(xlsx) for v in row)):
        for bad in ("<script", "onerror", "javascript:", "<style", "<img", "alert(", "display:"):
            assert bad not in output, bad
    assert "开头" in text and "链接" in text


def test_the_preview_highlights_masked_spans_and_lets_the_supervisor_add_or_lift(
    client, cast, ledger
):
    notice = compose(client, cast)
    url = reverse("publication:preview", args=[notice.pk])
    page = client.get(url).content.decode()
    assert '<mark class="masked masked-mobile"' in page and "138****5678</mark>" in page
    assert '<mark class="masked masked-term"' in page
    # The same article as the public page: the notice's title and annex heading.
    assert "整改完成情况一览表" in page

    mask_url = reverse("publication:mask", args=[notice.pk])
    client.post(mask_url, {"action": "add_term", "text": "过马路"})
    client.post(mask_url, {"action": "lift", "text": "张三"})
    notice.refresh_from_db()
    assert notice.terms == ["某某单位", "过马路"] and notice.keep == ["张三"]
    page = client.get(url).content.decode()
    assert (
        "孩子****危险"
        in page.replace('<mark class="masked masked-term" title="', "").replace("</mark>", "")
        or "****</mark>危险" in page
    )
    assert "村民张三反映" in page

    refused = client.post(mask_url, {"action": "add_term", "text": ""})
    assert refused.status_code == 400


def test_sections_can_be_reordered_and_deleted(client, cast, ledger):
    notice = compose(client, cast)
    first, second = notice.sections.all()
    client.post(
        reverse("publication:section-move", args=[notice.pk, second.pk]), {"direction": "up"}
    )
    assert list(notice.sections.values_list("pk", flat=True)) == [second.pk, first.pk]
    client.post(reverse("publication:section-delete", args=[notice.pk, first.pk]))
    assert list(notice.sections.values_list("pk", flat=True)) == [second.pk]


def test_the_second_seed_can_be_said(client, cast, ledger):
    """The second seed's per-area form: a heading, a paragraph with figures, terms as ****."""
    notice = compose(client, cast, terms_text="海南\n琼海", title="琼海市2022年度社会评价结果公布")
    add_section(
        client,
        notice,
        heading="一、作风建设",
        body="大力开展干部作风建设，出台《琼海市关于深化干部作风建设的行动方案》，"
        "全年共查找作风问题{{ total }}个，完成整改{{ closed }}个。",
        round=cast.round.pk,
    )
    publish(client, notice)
    page, pdf, _x = files_of(client, notice)
    expected = "出台《****市关于深化干部作风建设的行动方案》，全年共查找作风问题3个，完成整改2个。"
    assert expected in page
    assert expected in pdf_text(pdf).replace("\n", "")


# --- The publishing guards ----------------------------------------------------------------------


def said(response) -> str:
    """The message the last request left (the pages before it leave theirs too)."""
    return [str(m) for m in response.context["messages"]][-1]


def test_an_empty_notice_is_not_published(client, cast, ledger):
    client.force_login(cast.alice)
    notice = Notice.objects.create(title="空公示", issuer="考评办", created_by=cast.alice)
    response = client.post(reverse("publication:publish", args=[notice.pk]), follow=True)
    assert said(response) == "发布前请至少添加一个段落或一个附件批次。"
    notice.refresh_from_db()
    assert (notice.state, notice.job) == ("draft", None)
    assert not Job.objects.exists()
    assert not Publication.objects.exists()


def test_a_notice_being_published_is_not_queued_again(client, cast, ledger):
    notice = compose(client, cast)
    Notice.objects.filter(pk=notice.pk).update(state=Notice.State.PUBLISHING)
    response = client.post(reverse("publication:publish", args=[notice.pk]), follow=True)
    assert said(response) == "该公示正在发布或已经发布。"
    notice.refresh_from_db()
    assert (notice.state, notice.job) == ("publishing", None)
    assert not Job.objects.exists()
    assert not Publication.objects.exists()


def test_a_notice_is_published_once(client, cast, ledger):
    notice = publish(client, compose(client, cast))
    assert notice.state == "published", notice.error
    publication = Publication.objects.get(notice=notice)
    jobs_before = list(Job.objects.values_list("pk", flat=True))
    response = client.post(reverse("publication:publish", args=[notice.pk]), follow=True)
    assert said(response) == "该公示正在发布或已经发布。"
    assert list(Publication.objects.filter(notice=notice)) == [publication]
    assert Publication.objects.get(notice=notice).published_at == publication.published_at
    assert list(Job.objects.values_list("pk", flat=True)) == jobs_before
    notice.refresh_from_db()
    assert notice.state == "published"
    assert sorted(default_storage.listdir(f"notices/{notice.pk}")[1]) == sorted(
        name.rsplit("/", 1)[1] for name in (publication.pdf.name, publication.xlsx.name)
    )


@pytest.mark.parametrize("state", ["draft", "failed", "published"])
def test_the_task_publishes_only_a_notice_waiting_to_be_published(client, cast, ledger, state):
    """A task that runs late (the notice was freed, edited or published meanwhile) stores
    nothing and changes nothing."""
    notice = compose(client, cast)
    if state == "published":
        notice = publish(client, notice)
    Notice.objects.filter(pk=notice.pk).update(state=state, error="上次的原因")
    before = set(default_storage.listdir("notices")[0]) if state == "published" else set()
    with pytest.raises(tasks.PublishError) as refused:
        tasks.publish(Notice.objects.get(pk=notice.pk), cast.alice)
    with override("zh-hans"):
        assert str(refused.value) == "该公示已不在待发布状态。"
    notice.refresh_from_db()
    assert (notice.state, notice.error) == (state, "上次的原因")
    assert Publication.objects.filter(notice=notice).count() == (state == "published")
    if state == "published":
        assert set(default_storage.listdir("notices")[0]) == before
        assert len(default_storage.listdir(f"notices/{notice.pk}")[1]) == 2
    else:
        assert not default_storage.exists(f"notices/{notice.pk}") or (
            default_storage.listdir(f"notices/{notice.pk}") == ([], [])
        )


# --- Deleting a notice --------------------------------------------------------------------------


def test_a_draft_notice_is_deleted_with_its_sections(client, cast, ledger):
    notice = compose(client, cast)
    response = client.post(reverse("publication:delete", args=[notice.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("publication:manage")
    assert said(response) == "草稿已删除。"
    assert not Notice.objects.filter(pk=notice.pk).exists()
    assert not Section.objects.filter(notice_id=notice.pk).exists()


@pytest.mark.parametrize("state", ["publishing", "published"])
def test_a_notice_published_or_being_published_is_not_deleted(client, cast, ledger, state):
    notice = compose(client, cast)
    if state == "published":
        notice = publish(client, notice)
    else:
        Notice.objects.filter(pk=notice.pk).update(state=state)
    response = client.post(reverse("publication:delete", args=[notice.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("publication:edit", args=[notice.pk])
    assert said(response) == "该公示已发布或正在发布，不能修改。如需更正，请生成新版本。"
    assert Notice.objects.get(pk=notice.pk).state == state
    assert notice.sections.count() == 2
    if state == "published":
        with pytest.raises(FrozenError) as refused, override("zh-hans"):
            Notice.objects.get(pk=notice.pk).delete()
        with override("zh-hans"):
            assert refused.value.messages == ["已发布的公示不能删除。"]
        client.logout()
        assert client.get(reverse("publication:public", args=[notice.pk])).status_code == 200


def test_a_deleted_correction_can_be_made_again(client, cast, ledger):
    old = publish(client, compose(client, cast))
    client.force_login(cast.alice)
    client.post(reverse("publication:new-version", args=[old.pk]))
    draft = Notice.objects.get(replaces=old)
    client.post(reverse("publication:delete", args=[draft.pk]))
    assert not Notice.objects.filter(replaces=old).exists()
    client.post(reverse("publication:new-version", args=[old.pk]))
    assert Notice.objects.get(replaces=old).state == "draft"


# --- Masking: lifting and masking again ---------------------------------------------------------


def text_of(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def previewed(client, notice) -> tuple[str, str]:
    """The preview's text of the notice as the public will read it, and its masking panel."""
    page = client.get(reverse("publication:preview", args=[notice.pk])).content.decode()
    paper, panel = page.split('<aside class="card mask-panel"', 1)
    return text_of(paper.split('<div class="notice-paper preview-paper">', 1)[1]), panel


def test_a_lifted_mask_put_back_masks_the_preview_and_the_publication(client, cast, ledger):
    notice = compose(client, cast)
    mask = reverse("publication:mask", args=[notice.pk])

    def offers(panel: str, action: str) -> bool:
        pattern = (
            rf'name="action" value="{action}">\s*<input type="hidden" name="text" value="张三">'
        )
        return re.search(pattern, panel) is not None

    paper, panel = previewed(client, notice)
    assert "村民张**反映" in paper and "张三" not in paper
    assert offers(panel, "lift")

    response = client.post(mask, {"action": "lift", "text": "张三"}, follow=True)
    assert said(response) == "“张三”将原样公开。"
    assert Notice.objects.get(pk=notice.pk).keep == ["张三"]
    paper, panel = previewed(client, notice)
    assert "村民张三反映" in paper
    assert offers(panel, "unlift") and not offers(panel, "lift")

    response = client.post(mask, {"action": "unlift", "text": "张三"}, follow=True)
    assert said(response) == "“张三”已恢复脱敏。"
    assert Notice.objects.get(pk=notice.pk).keep == []
    paper, panel = previewed(client, notice)
    assert "村民张**反映" in paper and "张三" not in paper
    assert offers(panel, "lift") and not offers(panel, "unlift")

    notice = publish(client, notice)
    assert notice.state == "published", notice.error
    html, pdf, xlsx = files_of(client, notice)
    cells = "\n".join(str(v) for row in xlsx_rows(xlsx) for v in row if v is not None)
    for output in (text_of(html), pdf_text(pdf).replace("\n", ""), cells):
        assert "村民张**反映" in output
        assert "张三" not in output
    assert "张三" not in json.dumps(notice.publication.snapshot, ensure_ascii=False)


def test_a_removed_term_is_shown_again_and_a_published_notice_keeps_its_masks(client, cast, ledger):
    notice = compose(client, cast)
    mask = reverse("publication:mask", args=[notice.pk])
    assert "****的秤不准" in previewed(client, notice)[0]
    response = client.post(mask, {"action": "remove_term", "text": "某某单位"}, follow=True)
    assert said(response) == "“某某单位”不再是屏蔽词。"
    assert Notice.objects.get(pk=notice.pk).terms == []
    assert "某某单位的秤不准" in previewed(client, notice)[0]
    client.post(mask, {"action": "add_term", "text": "某某单位"})
    notice = publish(client, notice)
    assert notice.state == "published", notice.error
    # Published, its masking is frozen: a lift is refused and changes nothing.
    response = client.post(mask, {"action": "lift", "text": "某某单位"}, follow=True)
    assert said(response) == "该公示已发布或正在发布，不能修改。如需更正，请生成新版本。"
    notice.refresh_from_db()
    assert (notice.terms, notice.keep) == (["某某单位"], [])
    html, _pdf, _xlsx = files_of(client, notice)
    assert "****的秤不准" in text_of(html) and "某某单位" not in html
