"""What an event says beyond its kind: the lines the timeline shows under it.

The workflow keeps each event's particulars in ``Event.data`` as plain names and ISO dates,
as they were on the day (docs/corrections.md). This module turns them into lines a
reader understands: "牵头单位：市教育局 → 市市场监管局", "期限：2021-06-30 → 2021-09-30",
"由意见建议 #3、#7 归并而成". It reads nothing from the database.
"""

from __future__ import annotations

import dataclasses

from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from .models import Event, Item
from .workflow import LONG_TERM

Kind = Event.Kind
# Past this length a value is shown as a paragraph of its own, not inline beside an arrow.
INLINE = 40


@dataclasses.dataclass(frozen=True)
class Line:
    label: str
    value: str = ""  # what it is (an assignment's lead department, a file's name)
    before: str | None = None  # with ``after``: what it was, when it changed
    after: str | None = None
    url: str = ""  # where the value leads (another item)

    @property
    def changed(self) -> bool:
        return self.before is not None

    @property
    def long(self) -> bool:
        texts = (self.before or "", self.after or "")
        return any(len(t) > INLINE or "\n" in t for t in texts)


def label(field: str) -> str:
    return capfirst(Item._meta.get_field(field).verbose_name)


def value(field: str, text) -> str:
    """A recorded value as a reader reads it."""
    if text in (None, ""):
        return "—"
    if field == "deadline" and text == LONG_TERM:
        return pgettext("deadline", "Long-term")
    if field == "track" and text in Item.Track.values:
        return str(Item.Track(text).label)
    if isinstance(text, list):
        return "、".join(str(t) for t in text) or "—"
    return str(text)


def _seqs(seqs) -> str:
    return "、".join(f"#{n}" for n in seqs)


def _item_url(pk) -> str:
    return reverse("ledger:item", args=[pk]) if pk else ""


def lines(event: Event) -> list[Line]:
    data = event.data or {}
    kind = event.kind
    out: list[Line] = []
    if kind in (Kind.EDIT, Kind.REASSIGN):
        for change in data.get("changes", []):
            field = change["field"]
            out.append(
                Line(
                    label(field),
                    before=value(field, change["before"]),
                    after=value(field, change["after"]),
                )
            )
    elif kind == Kind.ASSIGN:
        for field in ("leader", "lead_department", "co_departments", "deadline"):
            if field in data and (data[field] or field != "co_departments"):
                out.append(Line(label(field), value(field, data[field])))
    elif kind == Kind.DECLINE and data.get("department"):
        out.append(Line(label("lead_department"), data["department"]))
    elif kind == Kind.EXTENSION_REQUEST and data.get("new_deadline"):
        out.append(Line(_("Deadline asked for"), data["new_deadline"]))
    elif kind == Kind.EXTENSION_GRANT and data.get("new_deadline"):
        out.append(
            Line(
                label("deadline"),
                before=value("deadline", data.get("old_deadline")),
                after=data["new_deadline"],
            )
        )
        asked = data.get("asked_deadline")
        if asked and asked != data["new_deadline"]:
            out.append(Line(_("Asked for"), asked))
    elif kind == Kind.EXTENSION_REFUSE and data.get("new_deadline"):
        out.append(Line(_("Deadline asked for"), data["new_deadline"]))
    elif kind == Kind.CREATE:
        out += _creation(data)
    elif kind == Kind.WITHDRAW:
        into = data.get("merged_into")
        if into:
            out.append(Line(_("Merged into"), into["number"], url=_item_url(into["id"])))
        if data.get("suggestions"):
            out.append(Line(_("Suggestions moved"), _seqs(data["suggestions"])))
        if data.get("released"):
            out.append(Line(_("Suggestions released for consolidation"), _seqs(data["released"])))
    elif kind == Kind.MERGE:
        merged = data.get("merged") or {}
        if merged:
            out.append(
                Line(
                    _("Merged from"),
                    f"{merged['number']} {merged.get('title', '')}".strip(),
                    url=_item_url(merged["id"]),
                )
            )
        if data.get("suggestions"):
            out.append(Line(_("Suggestions moved"), _seqs(data["suggestions"])))
        if data.get("progress"):
            out.append(Line(_("Progress reports moved"), str(data["progress"])))
    elif kind in (Kind.REMIND, Kind.URGE, Kind.ESCALATE, Kind.CIRCULATE):
        out += _ladder(data)
    elif kind == Kind.RATE:
        out += _rating(data)
    elif kind == Kind.REOPEN:
        if data.get("new_deadline"):
            out.append(
                Line(
                    label("deadline"),
                    before=value("deadline", data.get("old_deadline")),
                    after=data["new_deadline"],
                )
            )
        if data.get("satisfaction") in Item.Satisfaction.values:
            out.append(Line(_("Rating"), str(Item.Satisfaction(data["satisfaction"]).label)))
    if data.get("working_days") and kind in (
        Kind.ASSIGN,
        Kind.REASSIGN,
        Kind.EXTENSION_GRANT,
        Kind.REOPEN,
    ):
        out.append(Line(_("Deadline counted as"), _working_days(data)))
    return out


def _working_days(data: dict) -> str:
    """A deadline set as a number of working days, and the day it was counted from."""
    n = data["working_days"]
    return ngettext("%(n)s working day from %(day)s", "%(n)s working days from %(day)s", n) % {
        "n": n,
        "day": data.get("counted_from", ""),
    }


def _ladder(data: dict) -> list[Line]:
    """A step of the escalation ladder: how late the item was, the new deadline of a
    挂牌督办, and the number of the notice it went out in."""
    out = []
    if data.get("new_deadline"):
        out.append(
            Line(
                label("deadline"),
                before=value("deadline", data.get("deadline")),
                after=data["new_deadline"],
            )
        )
    n = data.get("working_days")
    if isinstance(n, int) and n > 0:
        out.append(
            Line(
                _("Past the deadline"),
                ngettext("%(n)s working day", "%(n)s working days", n) % {"n": n},
            )
        )
    elif isinstance(n, int):
        out.append(
            Line(
                _("Left before the deadline"),
                ngettext("%(n)s working day", "%(n)s working days", -n) % {"n": -n},
            )
        )
    notice = data.get("notice")
    if isinstance(notice, dict) and notice.get("number"):
        out.append(Line(_("Document no."), str(notice["number"])))
    return out


def _rating(data: dict) -> list[Line]:
    """A phone review's rating (专项评议), its comment and the sheet it came in."""
    out = []
    if data.get("rating") in Item.Satisfaction.values:
        out.append(Line(_("Rating"), str(Item.Satisfaction(data["rating"]).label)))
    if data.get("comment"):
        out.append(Line(_("Review comment"), data["comment"]))
    if data.get("file"):
        out.append(Line(_("Imported from"), data["file"]))
    return out


def _creation(data: dict) -> list[Line]:
    how = data.get("how")
    out = []
    if how == "ledger":
        out.append(Line(_("Imported from the ledger file"), data.get("file", "")))
        if data.get("row"):
            out.append(Line(_("Row"), str(data["row"])))
        if data.get("reference"):
            out.append(Line(label("reference"), data["reference"]))
    elif how == "consolidation":
        out.append(Line(_("Consolidated from suggestions"), _seqs(data.get("suggestions", []))))
    elif how == "manual":
        out.append(Line(_("Created by hand"), ""))
    return out
