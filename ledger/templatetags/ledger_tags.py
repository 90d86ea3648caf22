from __future__ import annotations

from django import template
from django.http import QueryDict

from ..selectors import COUNT_CAP

register = template.Library()

# Parameters that name a position in the list: any change of filter or order drops them.
POSITION = ("after", "before", "last")


@register.simple_tag
def query(params: QueryDict, **changes) -> str:
    """``?…`` for the current query string with some parameters set, or removed (None).

    Changing anything but the position goes back to the first page.
    """
    out = params.copy()
    if set(changes) - set(POSITION):
        for name in POSITION:
            out.pop(name, None)
    for name, value in changes.items():
        if value is None or value == "":
            out.pop(name, None)
        else:
            out[name] = value
    encoded = out.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.filter
def capped(count: int) -> str:
    """A count from ``capped_counts``: exact up to the cap, "1,000+" beyond."""
    return f"{COUNT_CAP:,}+" if count > COUNT_CAP else str(count)
