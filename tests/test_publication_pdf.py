"""The PDF: WeasyPrint fetches nothing but our static files; the start-up check for HarfBuzz;
the document's layout (A4, landscape annex pages, page numbers, Chinese text)."""

from __future__ import annotations

import http.server
import io
import threading

import pytest
from django.core.management import call_command
from pypdf import PdfReader
from weasyprint import HTML

from ledger.publication import checks, render
from ledger.publication.fetcher import STATIC_BASE, StaticOnlyFetcher


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):
        type(self).hits.append(self.path)
        # A redirect to a file on this machine: must be neither followed nor even asked for.
        self.send_response(302)
        self.send_header("Location", "file:///etc/passwd")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Counter.hits = []
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def test_the_fetcher_refuses_every_url_but_our_static_files(server):
    html = f"""<html><head>
      <link rel="stylesheet" href="{server}/evil.css">
      <link rel="stylesheet" href="static/css/public.css">
      <style>@import url("{server}/import.css");
        body {{ background: url("file:///etc/passwd") }}</style>
      </head><body>
      <img src="{server}/track.png"><img src="file:///etc/passwd">
      <img src="https://static.rectify.invalid/static/../../../../etc/passwd">
      <img src="data:image/png;base64,iVBORw0KGgo=">
      <p>正文</p></body></html>"""
    fetcher = StaticOnlyFetcher()
    HTML(string=html, base_url=STATIC_BASE, url_fetcher=fetcher).write_pdf()
    assert _Counter.hits == []
    assert fetcher.served == [STATIC_BASE + "static/css/public.css"]
    refused = " ".join(fetcher.refused)
    for url in (f"{server}/evil.css", f"{server}/track.png", "file:///etc/passwd", "data:"):
        assert url in refused, url


def test_stylesheets_given_to_weasyprint_go_through_the_fetcher_too(server):
    fetcher = StaticOnlyFetcher()
    from weasyprint import CSS

    with pytest.raises(Exception):  # noqa: B017 - WeasyPrint re-raises the refusal
        CSS(url=f"{server}/sheet.css", url_fetcher=fetcher)
    assert _Counter.hits == []


def test_hostile_text_in_a_snapshot_is_never_fetched(server):
    snapshot = {
        "id": 1,
        "title": f'<img src="{server}/t.png">标题',
        "issuer": "办公室",
        "date": "2020-12-31",
        "date_display": "2020年12月31日",
        "document_number": "",
        "version": 1,
        "replaces": None,
        "sections": [{"heading": "一、", "html": f'<p>正文<img src="{server}/s.png"></p>'}],
        "annexes": [
            {
                "round": "2019年度",
                "title": "2019年度整改完成情况一览表",
                "rows": [
                    {
                        "n": 1,
                        "suggestions": [f'<img src="{server}/a.png">file:///etc/passwd'],
                        "category": "经济",
                        "department": "市财政局",
                        "measures": "",
                        "outcome": "",
                        "state": "正在整改",
                    }
                ],
            }
        ],
    }
    fetcher = StaticOnlyFetcher()
    pdf = render.pdf_bytes(snapshot, fetcher)
    assert _Counter.hits == [] and fetcher.refused == []
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "<img" not in render.pdf_html(snapshot).split("<body>", 1)[1].replace("&lt;img", "")
    assert "标题" in text and "正文" in text


def test_the_pdf_is_a4_with_landscape_annex_pages_and_numbered_pages():
    rows = [
        {
            "n": i,
            "suggestions": ["建议增加公交线路，方便群众出行。" * 3],
            "category": "交通建设",
            "department": "市交通运输局",
            "measures": "优化线路。" * 10,
            "outcome": "已开通。",
            "state": "已完成整改",
        }
        for i in range(1, 41)
    ]
    snapshot = {
        "id": 1,
        "title": "整改情况公示",
        "issuer": "考评办",
        "date": "2020-12-31",
        "date_display": "2020年12月31日",
        "document_number": "桂绩办发〔2020〕6号",
        "version": 1,
        "replaces": None,
        "sections": [{"heading": "一、基本情况", "html": "<p>正文。</p>"}],
        "annexes": [{"round": "2019年度", "title": "2019年度整改完成情况一览表", "rows": rows}],
    }
    reader = PdfReader(io.BytesIO(render.pdf_bytes(snapshot)))
    first = reader.pages[0].mediabox
    assert (round(float(first.width)), round(float(first.height))) == (595, 842)  # A4 portrait
    annex = reader.pages[1].mediabox
    assert (round(float(annex.width)), round(float(annex.height))) == (842, 595)  # landscape
    assert len(reader.pages) >= 3
    texts = [page.extract_text() for page in reader.pages]
    assert "— 1 —" in texts[0] and "— 3 —" in texts[2]
    # The header row repeats on every annex page.
    assert all("意见建议" in t and "整改状态" in t for t in texts[1:])
    # The CJK font is embedded (the text extracts as Chinese, not as boxes).
    fonts = {
        str(f["/BaseFont"])
        for page in reader.pages
        for f in (page["/Resources"]["/Font"].get_object().values())
        for f in [f.get_object()]
    }
    assert any("Noto-Serif-CJK-SC" in name for name in fonts), fonts
    assert "桂绩办发〔2020〕6号" in texts[0]


def test_the_start_up_check_names_the_package_when_harfbuzz_subset_is_missing(monkeypatch):
    assert [w for w in checks.check_pdf_rendering() if w.id == "publication.W001"] == []
    import weasyprint.text.ffi as ffi

    monkeypatch.setattr(ffi, "harfbuzz_subset", None)
    warnings = checks.check_pdf_rendering()
    assert [w.id for w in warnings if w.id == "publication.W001"] == ["publication.W001"]
    assert "libharfbuzz-subset0" in warnings[0].hint


def test_manage_py_check_runs_the_pdf_check(monkeypatch, capsys):
    import weasyprint.text.ffi as ffi

    monkeypatch.setattr(ffi, "harfbuzz_subset", None)
    call_command("check")
    assert "libharfbuzz-subset0" in capsys.readouterr().err
