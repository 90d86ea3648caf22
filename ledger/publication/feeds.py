"""The Atom feed of published notices, newest first."""

from __future__ import annotations

import datetime

from django.contrib.syndication.views import Feed
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import gettext_lazy as _

from .models import Notice

FEED_SIZE = 30


class NoticeFeed(Feed):
    feed_type = Atom1Feed
    title = _("Public notices")
    subtitle = _("How the suggestions of citizens were rectified.")

    def link(self) -> str:
        return reverse("publication:index")

    def items(self):
        return (
            Notice.objects.filter(state=Notice.State.PUBLISHED)
            .select_related("publication")
            .order_by("-publication__published_at", "-pk")[:FEED_SIZE]
        )

    def item_title(self, item: Notice) -> str:
        return item.title

    def item_description(self, item: Notice) -> str:
        parts = [item.issuer, f"{item.date.year}年{item.date.month}月{item.date.day}日"]
        if item.document_number:
            parts.append(item.document_number)
        return " · ".join(parts)

    def item_link(self, item: Notice) -> str:
        return item.public_url()

    def item_pubdate(self, item: Notice) -> datetime.datetime:
        return item.publication.published_at

    def item_updateddate(self, item: Notice) -> datetime.datetime:
        return item.publication.published_at
