"""Charts drawn on the server as SVG: no JavaScript, and nothing the CSP forbids (no style
attribute, no ``<style>``: colours and fonts are presentation attributes), so the same
markup serves a page and a PDF (WeasyPrint).

    bar_chart(bars, title=…)              one bar a row: ``Bar(label, value, href, second)``
    stacked_chart(stacks, parts, title=…) one bar a row split in ``parts``: ``Stack(label,
                                          values, hrefs, href)``, ``Part(key, label, colour)``
    column_chart(columns, title=…)        one column each, left to right (weeks):
                                          ``Column(label, value, href, title)``

Each returns safe markup (``SafeString``), or "" when there is nothing to draw. A row's
label is on the left, its numbers on the right and the bar beneath, scaled to the largest
row: widths are percentages of the chart's own width and text keeps its size, so a chart
fills a wide card or a phone alike. Labels are fitted by a rough measure (a CJK character
one em, a Latin letter or digit about half) and shortened with "…", the whole label then
in the row's tooltip. Every text and address is escaped here, and an address that is not
a path or http(s) is dropped. Each chart has a ``<title>`` and a ``<desc>`` and is
``role="img"``, or ``role="group"`` when it holds links (an image's content is no place for
controls: a screen reader reaches each link, named by its tooltip); the page gives the same
figures as a table or list as well.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import unicodedata
from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

FONT = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Hiragino Sans GB", '
    '"Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif'
)
SIZE = 13  # px, the labels and numbers
SMALL = 11  # px, numbers inside or above a bar
# The longest label drawn whole, in ems: with the numbers beside it, a row still fits a
# phone's card (about 320 px).
LABEL_EMS = 15.0
INK, MUTED, TRACK = "#1f2329", "#646a73", "#eef0f2"
ACCENT, OK, WARN, BAD = "#1456b8", "#1a7f37", "#b7791f", "#c62828"

ROW = 40  # px a row of a bar chart: the label line, then the bar
BAR = 10  # px the bar's thickness
PLOT = 150  # px the columns' plot height
# Show every column's value above it up to this many columns; beyond, only the tallest's
# and the last's (the table beside the chart has them all).
VALUES_UP_TO = 26


@dataclasses.dataclass(frozen=True)
class Bar:
    label: str
    value: int | float
    href: str | None = None
    second: str = ""  # drawn after the value, e.g. a rate


@dataclasses.dataclass(frozen=True)
class Part:
    key: str
    label: str
    colour: str


@dataclasses.dataclass(frozen=True)
class Stack:
    label: str
    values: dict[str, int]  # part key → value
    hrefs: dict[str, str] = dataclasses.field(default_factory=dict)  # part key → address
    href: str | None = None  # the label's and total's address


@dataclasses.dataclass(frozen=True)
class Column:
    label: str  # drawn under the column (a few characters)
    value: int
    href: str | None = None
    title: str = ""  # the tooltip, e.g. the week's dates; the label when empty


def text_width(text: str, size: float = SIZE) -> float:
    """The rough width of ``text`` in px: a wide (CJK, full-width) character one em, a
    narrow punctuation mark a third, anything else a little over half."""
    ems = 0.0
    for char in text:
        if unicodedata.east_asian_width(char) in ("W", "F"):
            ems += 1.0
        elif char in "il.,:;'|!·()[] ":
            ems += 0.32
        elif char.isupper() or char in "mwMW%":
            ems += 0.72
        else:
            ems += 0.58
    return ems * size


def fit(text: str, width: float, size: float = SIZE) -> str:
    """``text`` shortened with "…" to about ``width`` px."""
    if text_width(text, size) <= width:
        return text
    ellipsis = text_width("…", size)
    out = ""
    for char in text:
        if text_width(out + char, size) + ellipsis > width:
            break
        out += char
    return out + "…"


def number(value: int | float) -> str:
    """1,234 for a whole number; one decimal otherwise."""
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def _href(href: str | None) -> str | None:
    """The address, escaped for an attribute, or None: only a path, a query or an http(s)
    address is linked (never ``javascript:`` or ``data:``)."""
    if not href:
        return None
    if href.startswith(("/", "?", "#", "https://", "http://")) and not href.startswith("//"):
        return escape(href)
    return None


def _link(href: str | None, inner: str, tooltip: str) -> str:
    tip = f"<title>{escape(tooltip)}</title>" if tooltip else ""
    safe = _href(href)
    if safe is None:
        return f"<g>{tip}{inner}</g>"
    return f'<a href="{safe}">{tip}{inner}</a>'


def _ident(kind: str, title: str, n: int) -> str:
    digest = hashlib.sha1(f"{kind}\x00{title}\x00{n}".encode()).hexdigest()[:8]
    return f"chart-{kind}-{digest}"


def _svg(kind: str, title: str, description: str, height: float, body: list[str], n: int) -> str:
    ident = _ident(kind, title, n)
    role = "group" if any(part.startswith("<a ") for part in body) else "img"
    return mark_safe(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" width="100%" '
        f'height="{height:g}" role="{role}" aria-labelledby="{ident}-t {ident}-d" '
        f'font-family="{escape(FONT)}" font-size="{SIZE}" fill="{INK}">'
        f'<title id="{ident}-t">{escape(title)}</title>'
        f'<desc id="{ident}-d">{escape(description)}</desc>' + "".join(body) + "</svg>"
    )


def _pct(value: float) -> str:
    return f"{max(0.0, min(100.0, value)):.3f}%"


def _numbers(value: int | float, second: str) -> str:
    """The figures drawn on the right of a row: the value in bold, ``second`` muted."""
    out = f'<tspan font-weight="600">{escape(number(value))}</tspan>'
    if second:
        out += f'<tspan fill="{MUTED}"> · {escape(second)}</tspan>'
    return out


def _label_room(right: str) -> float:
    """The label's width in px, given the numbers on its right."""
    return min(LABEL_EMS * SIZE, max(8 * SIZE, 320 - text_width(right) - SIZE))


def bar_chart(
    bars: Sequence[Bar], *, title: str, description: str = "", colour: str = ACCENT
) -> SafeString:
    """Horizontal bars, one a row, each scaled to the largest value."""
    if not bars:
        return mark_safe("")
    top = max((b.value for b in bars), default=0) or 1
    body = []
    for i, bar in enumerate(bars):
        y = i * ROW
        right = number(bar.value) + (f" · {bar.second}" if bar.second else "")
        label = fit(bar.label, _label_room(right))
        inner = (
            f'<rect x="0" y="{y}" width="100%" height="{ROW}" fill="#fff" fill-opacity="0"/>'
            f'<text x="0" y="{y + 15}">{escape(label)}</text>'
            f'<text x="100%" y="{y + 15}" text-anchor="end">'
            f"{_numbers(bar.value, bar.second)}</text>"
            f'<rect x="0" y="{y + 22}" width="100%" height="{BAR}" rx="2" fill="{TRACK}"/>'
            f'<rect x="0" y="{y + 22}" width="{_pct(bar.value / top * 100)}" height="{BAR}" '
            f'rx="2" fill="{escape(colour)}"/>'
        )
        body.append(_link(bar.href, inner, f"{bar.label}: {right}"))
    return _svg("bar", title, description, len(bars) * ROW, body, len(bars))


def stacked_chart(
    stacks: Sequence[Stack], parts: Sequence[Part], *, title: str, description: str = ""
) -> SafeString:
    """Horizontal bars split in ``parts`` (in their order, left to right), one a row, each
    scaled to the largest total; a legend above. A part's value is drawn inside it when it
    is wide enough for it on a phone."""
    if not stacks:
        return mark_safe("")
    totals = [sum(s.values.get(p.key, 0) for p in parts) for s in stacks]
    top = max(totals) or 1
    body, x = [], 0.0
    for part in parts:  # the legend
        body.append(
            f'<rect x="{x:g}" y="3" width="10" height="10" rx="2" fill="{escape(part.colour)}"/>'
            f'<text x="{x + 14:g}" y="13" fill="{MUTED}">{escape(part.label)}</text>'
        )
        x += 14 + text_width(part.label) + SIZE
    legend = 24
    for i, (stack, total) in enumerate(zip(stacks, totals, strict=True)):
        y = legend + i * ROW
        right = number(total)
        label = fit(stack.label, _label_room(right))
        head = (
            f'<text x="0" y="{y + 15}">{escape(label)}</text>'
            f'<text x="100%" y="{y + 15}" text-anchor="end">{_numbers(total, "")}</text>'
        )
        body.append(_link(stack.href, head, f"{stack.label}: {right}"))
        body.append(f'<rect x="0" y="{y + 21}" width="100%" height="14" rx="2" fill="{TRACK}"/>')
        start = 0.0
        for part in parts:
            value = stack.values.get(part.key, 0)
            if not value:
                continue
            share = value / top * 100
            segment = (
                f'<rect x="{_pct(start)}" y="{y + 21}" width="{_pct(share)}" height="14" '
                f'fill="{escape(part.colour)}"/>'
            )
            # Wide enough for its digits on a 320 px chart: about 7 px a digit.
            if share * 3.2 >= 7 * len(number(value)) + 6:
                segment += (
                    f'<text x="{_pct(start + share / 2)}" y="{y + 32}" text-anchor="middle" '
                    f'font-size="{SMALL}" fill="#fff">{escape(number(value))}</text>'
                )
            tip = f"{stack.label} · {part.label}: {number(value)}"
            body.append(_link(stack.hrefs.get(part.key), segment, tip))
            start += share
    return _svg("stacked", title, description, legend + len(stacks) * ROW, body, len(stacks))


def column_chart(
    columns: Sequence[Column], *, title: str, description: str = "", colour: str = ACCENT
) -> SafeString:
    """Vertical columns left to right (a week each), scaled to the tallest, on a baseline;
    every column's value above it when there are few, otherwise the tallest's and the
    last's; about eight labels along the bottom."""
    if not columns:
        return mark_safe("")
    n = len(columns)
    top = max(c.value for c in columns) or 1
    head = 16  # px above the plot for the values
    every = max(1, math.ceil(n / 8))
    tallest = max(range(n), key=lambda i: (columns[i].value, i))
    body = [
        f'<line x1="0" y1="{head + PLOT}" x2="100%" y2="{head + PLOT}" stroke="{MUTED}" '
        f'stroke-width="1"/>'
    ]
    slot = 100 / n
    for i, column in enumerate(columns):
        height = column.value / top * PLOT
        x = i * slot + slot * 0.15
        inner = (
            f'<rect x="{_pct(i * slot)}" y="0" width="{_pct(slot)}" height="{head + PLOT}" '
            f'fill="#fff" fill-opacity="0"/>'
            f'<rect x="{_pct(x)}" y="{head + PLOT - height:.1f}" width="{_pct(slot * 0.7)}" '
            f'height="{height:.1f}" fill="{escape(colour)}"/>'
        )
        if column.value and (n <= VALUES_UP_TO or i in (tallest, n - 1)):
            inner += (
                f'<text x="{_pct(i * slot + slot / 2)}" y="{head + PLOT - height - 4:.1f}" '
                f'text-anchor="middle" font-size="{SMALL}">{escape(number(column.value))}</text>'
            )
        tip = f"{column.title or column.label}: {number(column.value)}"
        body.append(_link(column.href, inner, tip))
        if i % every == 0:
            anchor, at = "middle", i * slot + slot / 2
            if i == 0:
                anchor, at = "start", 0.0
            elif i == n - 1:
                anchor, at = "end", 100.0
            body.append(
                f'<text x="{_pct(at)}" y="{head + PLOT + 16}" text-anchor="{anchor}" '
                f'font-size="{SMALL}" fill="{MUTED}">{escape(column.label)}</text>'
            )
    return _svg("columns", title, description, head + PLOT + 22, body, n)
