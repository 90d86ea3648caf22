"""Evidence files on progress reports: what is accepted, all-or-nothing posting, downloads."""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
import zlib
from unittest import mock

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from ledger import evidence
from ledger.models import Evidence, Item, Progress

from .factory import in_days, make_user


@pytest.fixture(autouse=True)
def fresh_storage(settings):
    # A storage of its own for each test, so "nothing was stored" can be asserted.
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }


def stored_files(path: str = "") -> list[str]:
    directories, files = default_storage.listdir(path)
    found = [f"{path}/{name}".lstrip("/") for name in files]
    for directory in directories:
        found += stored_files(f"{path}/{directory}".lstrip("/"))
    return found


def png() -> bytes:
    """A real 1×1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def docx() -> bytes:
    return zipped(
        {
            "[Content_Types].xml": b"<Types/>",
            "_rels/.rels": b"<Relationships/>",
            "word/document.xml": b"<w:document/>",
        }
    )


def odt() -> bytes:
    return zipped({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"})


def upload(name: str, data: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def progress_url(item: Item) -> str:
    return reverse("ledger:item-action", args=[item.pk, "progress"])


def post(client, item: Item, files: list, text: str = "已完成校门口护栏安装", **extra):
    data = {
        "version": item.version,
        "reported_on": in_days(0).isoformat(),
        "percent": 60,
        "text": text,
        "evidence": files,
    } | extra
    return client.post(progress_url(item), data)


def assert_nothing_written(item: Item) -> None:
    before = (item.state, item.version, item.percent)
    item.refresh_from_db()
    assert (item.state, item.version, item.percent) == before
    assert not Progress.objects.filter(item=item).exists()
    assert not Evidence.objects.exists()
    assert stored_files() == []


def test_posting_progress_with_files_stores_them(client, cast, assigned):
    client.force_login(cast.bob)
    files = [
        # The browser's type is a lie here: the stored type is the one the bytes say.
        upload("现场照片.png", png(), "text/html"),
        upload("整改报告.pdf", PDF, "application/pdf"),
        upload("台账.docx", docx()),
        upload("说明.odt", odt()),
    ]
    response = post(client, assigned, files)
    assert response.status_code == 302
    assigned.refresh_from_db()
    assert (assigned.state, assigned.percent) == (Item.State.IN_PROGRESS, 60)
    progress = Progress.objects.get(item=assigned)
    rows = list(progress.evidence.order_by("pk"))
    assert [(e.name, e.content_type) for e in rows] == [
        ("现场照片.png", "image/png"),
        ("整改报告.pdf", "application/pdf"),
        ("台账.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("说明.odt", "application/vnd.oasis.opendocument.text"),
    ]
    assert rows[1].sha256 == hashlib.sha256(PDF).hexdigest()
    assert rows[1].size == len(PDF)
    # Stored under our name, from the hash: nothing of the uploader's name reaches storage.
    assert rows[1].file.name.endswith(f"{hashlib.sha256(PDF).hexdigest()[:32]}.pdf")
    assert "整改报告" not in rows[1].file.name
    assert len(stored_files()) == 4
    with default_storage.open(rows[1].file.name) as stored:
        assert stored.read() == PDF


def test_progress_without_files_still_works(client, cast, in_progress):
    client.force_login(cast.carol)  # a co-responsible department
    response = post(client, in_progress, [])
    assert response.status_code == 302
    (progress,) = Progress.objects.filter(item=in_progress)
    assert (progress.author, progress.department, progress.evidence.count()) == (
        cast.carol,
        cast.traffic,
        0,
    )
    assert not Evidence.objects.exists()
    item = Item.objects.get(pk=in_progress.pk)
    assert (item.percent, item.version) == (0, in_progress.version + 1)  # the lead's to set


def test_the_item_page_lists_the_files_and_the_form_is_multipart(client, cast, assigned):
    client.force_login(cast.bob)
    post(client, assigned, [upload("整改报告.pdf", PDF)])
    page = client.get(reverse("ledger:item", args=[assigned.pk])).content.decode()
    evidence_row = Evidence.objects.get()
    assert reverse("ledger:evidence", args=[evidence_row.pk]) in page
    assert "整改报告.pdf" in page
    assert 'enctype="multipart/form-data"' in page
    assert '<input type="file" name="evidence"' in page


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("整改报告.pdf", EXE, "文件内容与扩展名 .pdf 不符"),
        ("图.png", SVG, "文件内容与扩展名 .png 不符"),
        ("图.svg", SVG, "只接收图片"),
        ("安装程序.exe", EXE, "只接收图片"),
        ("页面.html", b"<html><script>alert(1)</script></html>", "只接收图片"),
        ("空白.pdf", b"", "文件为空"),
        ("压缩包.docx", zipped({"evil.exe": EXE}), "文件内容与扩展名 .docx 不符"),
        ("表格.xlsx", docx(), "文件内容与扩展名 .xlsx 不符"),
        ("坏的.docx", b"PK\x03\x04" + b"\x00" * 40, "文件内容与扩展名 .docx 不符"),
    ],
)
def test_a_bad_file_is_refused_by_the_field_and_nothing_is_written(
    client, cast, assigned, name, data, reason
):
    client.force_login(cast.bob)
    typed = "本次整改进展：已完成三所学校的护栏改造"
    response = post(client, assigned, [upload("照片.png", png()), upload(name, data)], text=typed)
    assert response.status_code == 400
    page = response.content.decode()
    assert f"文件“{name}”不予接收：{reason}" in page
    assert 'id="id_progress_evidence_error"' in page  # next to the field
    assert typed in page  # what was typed is kept
    assert_nothing_written(assigned)


@override_settings(EVIDENCE_MAX_BYTES=100)
def test_a_file_over_the_limit_is_refused(client, cast, assigned):
    client.force_login(cast.bob)
    response = post(client, assigned, [upload("整改报告.pdf", PDF + b" " * 200)])
    assert response.status_code == 400
    page = response.content.decode()
    assert "文件“整改报告.pdf”不予接收：文件大小为" in page
    assert "100" in page  # the limit is named
    assert_nothing_written(assigned)


def test_more_than_ten_files_are_refused(client, cast, assigned):
    client.force_login(cast.bob)
    files = [upload(f"照片{n}.png", png()) for n in range(11)]
    response = post(client, assigned, files)
    assert response.status_code == 400
    assert "每次最多上传 10 个文件，您选择了 11 个。" in response.content.decode()
    assert_nothing_written(assigned)


def test_the_message_is_in_english_when_english_is_chosen(client, cast, assigned):
    client.force_login(cast.bob)
    client.cookies["django_language"] = "en"
    response = post(client, assigned, [upload("report.pdf", EXE)])
    assert response.status_code == 400
    assert "“report.pdf” was refused: its content is not a .pdf file." in (
        response.content.decode()
    )


def test_files_are_not_stored_when_the_workflow_refuses(client, cast, assigned):
    client.force_login(cast.bob)
    response = post(
        client,
        assigned,
        [upload("整改报告.pdf", PDF)],
        reported_on=in_days(3).isoformat(),  # the future: refused by the workflow
    )
    assert response.status_code == 400
    assert_nothing_written(assigned)


def test_a_stale_page_stores_nothing(client, cast, assigned):
    client.force_login(cast.bob)
    response = post(client, assigned, [upload("整改报告.pdf", PDF)], version=assigned.version - 1)
    assert response.status_code == 409
    assert_nothing_written(assigned)


def test_a_failure_after_storing_deletes_the_stored_files(client, cast, assigned):
    client.force_login(cast.bob)
    real_save = Evidence.save
    calls = []

    def failing_save(self, *args, **kwargs):
        calls.append(self)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return real_save(self, *args, **kwargs)

    client.raise_request_exception = True
    with mock.patch.object(Evidence, "save", failing_save), pytest.raises(RuntimeError):
        post(client, assigned, [upload("一.pdf", PDF), upload("二.png", png())])
    assert len(calls) == 2
    assert_nothing_written(assigned)


def test_get_on_the_progress_url_is_405(client, cast, assigned):
    client.force_login(cast.bob)
    assert client.get(progress_url(assigned)).status_code == 405
    assert_nothing_written(assigned)


# Downloads


@pytest.fixture
def stored(cast, assigned) -> Evidence:
    checked = evidence.check_uploads([upload("整改 报告.pdf", PDF)])
    progress = evidence.post_progress(
        assigned, by=cast.bob, text="护栏已安装", percent=50, files=checked
    )
    return progress.evidence.get()


def download_url(row: Evidence) -> str:
    return reverse("ledger:evidence", args=[row.pk])


@pytest.mark.parametrize("who", ["alice", "bob", "carol", "lena"])
def test_those_who_see_the_item_download_its_files(client, cast, stored, who):
    client.force_login(getattr(cast, who))
    response = client.get(download_url(stored))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "filename*=utf-8''" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox"


def test_another_departments_official_gets_404(client, cast, stored):
    client.force_login(cast.dave)
    assert client.get(download_url(stored)).status_code == 404


def test_the_leader_of_another_item_gets_404(client, cast, stored):
    client.force_login(make_user("li", role="leader", leader=cast.other_leader))
    assert client.get(download_url(stored)).status_code == 404


def test_a_user_without_a_role_gets_404(client, cast, stored):
    client.force_login(cast.nobody)
    assert client.get(download_url(stored)).status_code == 404


def test_an_unknown_file_is_404(client, cast, stored):
    client.force_login(cast.alice)
    assert client.get(reverse("ledger:evidence", args=[stored.pk + 1000])).status_code == 404


def test_anonymous_is_sent_to_sign_in(client, stored):
    response = client.get(download_url(stored))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_post_on_a_download_is_405(client, cast, stored):
    client.force_login(cast.alice)
    assert client.post(download_url(stored)).status_code == 405


# The name kept for display


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("C:\\Users\\张三\\桌面\\整改报告.pdf", "整改报告.pdf"),
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("报告\u202efdp.exe.pdf", "报告fdp.exe.pdf"),  # no right-to-left override
        ("a\x00b\r\nc.png", "abc.png"),
        (".pdf", "evidence.pdf"),
        ("x" * 300 + ".docx", "x" * 195 + ".docx"),
    ],
)
def test_the_uploaders_name_is_cleaned_for_display(raw, shown):
    assert evidence.display_name(raw) == shown
