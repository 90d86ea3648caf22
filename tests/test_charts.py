"""The SVG charts (ledger/supervision/charts.py): well-formed, escaped, accessible, the
numbers drawn, bars to scale, links only to the app's own kind of address."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from ledger.supervision import charts
from ledger.supervision.charts import Bar, Column, Part, Stack

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    """The chart as XML: a stray ``<`` or ``&`` from a label would make this fail."""
    return ET.fromstring(str(markup))


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def widths(root: ET.Element, fill: str) -> list[float]:
    return [
        float(r.get("width").rstrip("%"))
        for r in root.iter(f"{SVG}rect")
        if r.get("fill") == fill and r.get("width", "").endswith("%")
    ]


def test_a_bar_chart_is_an_image_with_a_title_a_description_and_its_numbers():
    root = parse(
        charts.bar_chart(
            [Bar("市教育局", 12, "/items/?lead=1", "75.0%"), Bar("市卫生健康委", 3)],
            title="按牵头单位",
            description="各单位的事项数",
        )
    )
    # Its links are controls a screen reader reaches: a group, not an image.
    assert root.get("role") == "group"
    labelled = root.get("aria-labelledby").split()
    titles = {e.get("id"): e.text for e in root if e.tag in (f"{SVG}title", f"{SVG}desc")}
    assert [titles[i] for i in labelled] == ["按牵头单位", "各单位的事项数"]
    drawn = texts(root)
    assert "市教育局" in drawn and "市卫生健康委" in drawn
    assert "12 · 75.0%" in drawn and "3" in drawn
    assert "Noto Sans CJK SC" in root.get("font-family")


def test_bars_are_to_scale_of_the_largest():
    root = parse(charts.bar_chart([Bar("甲", 40), Bar("乙", 10), Bar("丙", 0)], title="t"))
    assert widths(root, charts.ACCENT) == [100.0, 25.0, 0.0]
    assert root.get("role") == "img"  # no link: an image


def test_every_text_and_address_is_escaped():
    evil = '<script>alert("x")</script> & 局'
    markup = charts.bar_chart(
        [Bar(evil, 1, '/items/?category=a&b="c"', second="<b>")], title=evil, description=evil
    )
    assert "<script>" not in markup and "<b>" not in markup
    root = parse(markup)
    assert root.find(f"{SVG}title").text == evil
    [link] = root.iter(f"{SVG}a")
    assert link.get("href") == '/items/?category=a&b="c"'


def test_only_the_apps_own_kind_of_address_is_linked():
    for href in ("javascript:alert(1)", "data:text/html,x", "//evil.example/", " /x"):
        root = parse(charts.bar_chart([Bar("甲", 1, href)], title="t"))
        assert list(root.iter(f"{SVG}a")) == [], href
    for href in ("/items/?x=1", "?round=2", "https://example.org/"):
        root = parse(charts.bar_chart([Bar("甲", 1, href)], title="t"))
        assert [a.get("href") for a in root.iter(f"{SVG}a")] == [href]


def test_a_long_label_is_shortened_and_whole_in_the_tooltip():
    long = "市住房和城乡建设局城市管理综合执法支队第三大队"
    root = parse(charts.bar_chart([Bar(long, 7, "/items/")], title="t"))
    drawn = texts(root)
    shown = next(t for t in drawn if t.startswith("市住房"))
    assert shown.endswith("…") and len(shown) < len(long)
    assert charts.text_width(shown) <= charts.LABEL_EMS * charts.SIZE
    tooltip = next(root.iter(f"{SVG}a")).find(f"{SVG}title").text
    assert long in tooltip and "7" in tooltip


def test_text_is_measured_wider_for_chinese_than_for_digits():
    assert charts.text_width("教育局") == 3 * charts.SIZE
    assert charts.text_width("123") < charts.text_width("教育局")
    assert charts.fit("教育局", 100) == "教育局"
    assert charts.fit("一二三四五六七八九十", 5 * charts.SIZE) == "一二三四…"


def test_a_stacked_chart_splits_each_bar_and_links_each_part():
    parts = [Part("closed", "已销号", charts.OK), Part("overdue", "逾期", charts.BAD)]
    stacks = [
        Stack("市教育局", {"closed": 30, "overdue": 10}, {"closed": "/c", "overdue": "/o"}, "/all"),
        Stack("市交通运输局", {"closed": 5, "overdue": 0}, {"closed": "/c2"}, "/all2"),
    ]
    root = parse(charts.stacked_chart(stacks, parts, title="t"))
    assert widths(root, charts.OK) == [75.0, 12.5]
    assert widths(root, charts.BAD) == [25.0]  # a part of 0 draws nothing
    hrefs = [a.get("href") for a in root.iter(f"{SVG}a")]
    assert hrefs == ["/all", "/c", "/o", "/all2", "/c2"]
    drawn = texts(root)
    assert "已销号" in drawn and "逾期" in drawn  # the legend
    assert "40" in drawn and "5" in drawn  # each row's total beside its bar
    assert "30" in drawn and "10" in drawn  # parts wide enough carry their number


def test_a_column_chart_draws_every_value_when_few_and_the_telling_ones_when_many():
    few = [Column(f"6/{d}", n, f"/w{d}") for d, n in ((3, 2), (10, 0), (17, 5))]
    root = parse(charts.column_chart(few, title="每周销号"))
    drawn = texts(root)
    assert "2" in drawn and "5" in drawn and "0" not in drawn
    assert len(list(root.iter(f"{SVG}a"))) == 3
    many = [Column(str(i), i % 7, f"/w{i}") for i in range(52)]
    many[20] = Column("20", 40, "/w20")
    root = parse(charts.column_chart(many, title="每周销号"))
    values = [t for t in root.iter(f"{SVG}text") if t.get("font-size") and t.text.isdigit()]
    above = [t.text for t in values if t.get("fill") is None]
    assert above == ["40", str(51 % 7)]  # the tallest and the last
    labels = [t.text for t in values if t.get("fill") == charts.MUTED]
    assert 6 <= len(labels) <= 9  # about eight along the bottom


def test_heights_are_to_scale_of_the_tallest():
    root = parse(charts.column_chart([Column("a", 10), Column("b", 5)], title="t"))
    heights = [
        float(r.get("height")) for r in root.iter(f"{SVG}rect") if r.get("fill") == charts.ACCENT
    ]
    assert heights == [charts.PLOT, charts.PLOT / 2]


def test_nothing_to_draw_draws_nothing():
    assert charts.bar_chart([], title="t") == ""
    assert charts.stacked_chart([], [], title="t") == ""
    assert charts.column_chart([], title="t") == ""


def test_no_style_attribute_or_element_the_csp_would_refuse():
    markup = str(
        charts.stacked_chart([Stack("甲", {"a": 1})], [Part("a", "甲", charts.OK)], title="t")
        + charts.bar_chart([Bar("甲", 1)], title="t")
        + charts.column_chart([Column("甲", 1)], title="t")
    )
    assert not re.search(r"\sstyle=|<style", markup)


def test_two_charts_on_a_page_have_their_own_ids():
    a = parse(charts.bar_chart([Bar("甲", 1)], title="按类别"))
    b = parse(charts.bar_chart([Bar("甲", 1)], title="按单位"))
    assert a.get("aria-labelledby") != b.get("aria-labelledby")
