"""The consolidation page's ``marked`` filter: a suggestion's text with the words its group
shares highlighted, so that a supervisor sees at a glance why the texts were put together."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


def _fold(text: str) -> tuple[str, list[int]]:
    """The text as matching reads it (full-width forms folded, Latin lower-cased, only
    letters and digits kept), and for each of its characters the index of the character
    of ``text`` it came from."""
    folded: list[str] = []
    origin: list[int] = []
    for i, char in enumerate(text):
        for piece in unicodedata.normalize("NFKC", char).lower():
            if piece.isalnum():
                folded.append(piece)
                origin.append(i)
    return "".join(folded), origin


def spans(text: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    """The (start, end) slices of ``text`` to highlight, in order and never overlapping.

    Terms are matched folded, so "１２路" in a text finds the term "12路" and "交通 拥堵"
    finds "交通拥堵"; the longest terms are placed first, and a term is not placed where it
    would overlap one placed already. Touching slices become one."""
    folded, origin = _fold(text)
    wanted = [t for t in dict.fromkeys(_fold(t)[0] for t in terms) if t]
    taken = [False] * len(folded)
    found: list[tuple[int, int]] = []
    # Longest first, so "交通拥堵" is one mark rather than "交通" and "拥堵" leaving "通拥".
    for term in sorted(wanted, key=len, reverse=True):
        at = folded.find(term)
        while at != -1:
            end = at + len(term)
            if not any(taken[at:end]):
                taken[at:end] = [True] * len(term)
                found.append((origin[at], origin[end - 1] + 1))
                at = folded.find(term, end)
            else:
                at = folded.find(term, at + 1)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(found):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


@register.filter
def marked(text: str, terms: Iterable[str] | None) -> SafeString:
    """``text`` escaped, with each of ``terms`` in it wrapped in ``<mark>``.

    The slices are found in the raw text and every piece of it is escaped on its way out:
    the text is a citizen's and hostile, and a term ("lt", "amp") can then never match
    inside an escape, nor the text close a mark or open a tag."""
    text = str(text)
    out: list[str] = []
    pos = 0
    for start, end in spans(text, terms or ()):
        out += [escape(text[pos:start]), "<mark>", escape(text[start:end]), "</mark>"]
        pos = end
    out.append(escape(text[pos:]))
    return mark_safe("".join(out))
