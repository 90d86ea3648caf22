"""The small markup a supervisor types a section in, turned into safe HTML.

- a blank line separates paragraphs; a single line break stays a line break;
- a block whose lines all start with "- " is a list;
- a block whose lines all start with "|" is a table ("| a | b |"); when its second line is
  "|---|---|" the first line is the header row;
- ``**bold**`` anywhere.

Every piece of text is escaped (or masked, which escapes) before it is wrapped in our own
tags, and the result goes through ``nh3`` with a strict allow-list as well: whatever a user
types (``<script>``, ``<img onerror>``, ``javascript:`` links, ``<style>``) comes out as
text, never as markup.
"""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Callable

import nh3
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

ALLOWED_TAGS = {
    "p",
    "br",
    "ul",
    "li",
    "strong",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "mark",
}
ALLOWED_ATTRIBUTES = {"mark": {"class", "title"}, "th": {"scope"}}
_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$")
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def sanitize(html: str) -> SafeString:
    """The allow-list every section's HTML passes through, at composing and at rendering."""
    return mark_safe(
        nh3.clean(
            html,
            tags=ALLOWED_TAGS,
            attributes=ALLOWED_ATTRIBUTES,
            clean_content_tags={"script", "style"},
            url_schemes=set(),
            link_rel=None,
        )
    )


def plain(text: str) -> str:
    """The supervisor's text with any HTML tag taken out (``<script>`` and ``<style>`` with
    their content): the markup is not HTML, and a pasted tag is neither obeyed nor shown."""
    if "<" not in (text or ""):
        return text or ""
    cleaned = nh3.clean(text, tags=set(), clean_content_tags={"script", "style"})
    return htmllib.unescape(cleaned)


def _inline(text: str, piece: Callable[[str], str]) -> str:
    """Bold spans, every text piece passed through ``piece`` (escape or mask)."""
    out: list[str] = []
    pos = 0
    for m in _BOLD.finditer(text):
        out.append(piece(text[pos : m.start()]))
        out.append(f"<strong>{piece(m.group(1))}</strong>")
        pos = m.end()
    out.append(piece(text[pos:]))
    return "".join(out)


def _cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|"):
        line = line[:-1]
    return [cell.strip() for cell in line.split("|")]


def to_html(text: str, piece: Callable[[str], str] = escape) -> SafeString:
    """The section body as sanitised HTML. ``piece`` turns a text run into HTML: escape by
    default, or a masking function (masked text escaped, spans highlighted in previews)."""
    text = plain((text or "").replace("\r\n", "\n"))
    blocks = re.split(r"\n\s*\n", text.strip())
    html: list[str] = []
    for block in blocks:
        lines = [line.rstrip() for line in block.split("\n") if line.strip()]
        if not lines:
            continue
        if all(line.lstrip().startswith("- ") for line in lines):
            items = "".join(
                f"<li>{_inline(line.lstrip()[2:].strip(), piece)}</li>" for line in lines
            )
            html.append(f"<ul>{items}</ul>")
        elif all(line.lstrip().startswith("|") for line in lines):
            rows = list(lines)
            head: list[str] | None = None
            if len(rows) >= 2 and _RULE.match(rows[1].strip()):
                head = _cells(rows[0])
                rows = rows[2:]
            parts = ["<table>"]
            if head is not None:
                cells = "".join(f'<th scope="col">{_inline(c, piece)}</th>' for c in head)
                parts.append(f"<thead><tr>{cells}</tr></thead>")
            parts.append("<tbody>")
            for row in rows:
                cells = "".join(f"<td>{_inline(c, piece)}</td>" for c in _cells(row))
                parts.append(f"<tr>{cells}</tr>")
            parts.append("</tbody></table>")
            html.append("".join(parts))
        else:
            inner = "<br>".join(_inline(line.strip(), piece) for line in lines)
            html.append(f"<p>{inner}</p>")
    return sanitize("".join(html))
