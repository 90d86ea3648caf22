"""The ledger's filters (django-filter). The list page and every export apply the same
``ItemFilter`` through ``ledger.selectors.ledger_items``, so an export holds what the screen
showed.

Choice filters take plain ids or values and are rendered by the template from short
``values_list`` rows, not by django-filter's ModelChoiceFilter widgets: those render every
related row through the form machinery, which was most of a page's time with a few hundred
departments.
"""

from __future__ import annotations

import unicodedata

import django_filters
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import Item, Suggestion

# Below this length a keyword cannot use the trigram index (pg_trgm needs three characters
# to make a trigram), so two-character searches scan; see docs/ledger.md.
TRIGRAM_MIN = 3


class ItemFilter(django_filters.FilterSet):
    round = django_filters.NumberFilter(field_name="round_id", label=_("Round"))
    category = django_filters.CharFilter(field_name="category__name", label=_("Category"))
    lead = django_filters.NumberFilter(field_name="lead_department_id", label=_("Lead department"))
    co = django_filters.NumberFilter(method="filter_co", label=_("Co-responsible department"))
    leader = django_filters.NumberFilter(field_name="leader_id", label=_("Responsible leader"))
    state = django_filters.ChoiceFilter(choices=Item.State.choices, label=_("State"))
    overdue = django_filters.BooleanFilter(method="filter_overdue", label=_("Overdue"))
    escalated = django_filters.BooleanFilter(method="filter_escalated", label=_("Escalated"))
    due_from = django_filters.DateFilter(
        field_name="deadline", lookup_expr="gte", label=_("Deadline from")
    )
    due_to = django_filters.DateFilter(
        field_name="deadline", lookup_expr="lte", label=_("Deadline to")
    )
    q = django_filters.CharFilter(method="filter_keyword", label=_("Keyword"))

    class Meta:
        model = Item
        fields: list[str] = []

    def filter_co(self, queryset, name, value):
        shares = Item.co_departments.through.objects.filter(department_id=value)
        return queryset.filter(pk__in=shares.values("item_id"))

    def filter_overdue(self, queryset, name, value):
        overdue = Q(state__in=Item.OPEN_STATES, deadline__lt=timezone.localdate())
        return queryset.filter(overdue) if value else queryset.exclude(overdue)

    def filter_escalated(self, queryset, name, value):
        return queryset.filter(escalated_at__isnull=not value)

    def filter_keyword(self, queryset, name, value):
        """The item's number or problem, or the text of any suggestion merged into it."""
        # Full-width letters and digits typed with a Chinese IME match their half-width form.
        words = unicodedata.normalize("NFKC", value).split()
        for word in words[:5]:
            merged = Suggestion.objects.filter(text__icontains=word).values("item_id")
            queryset = queryset.filter(
                Q(number__iexact=word) | Q(title__icontains=word) | Q(pk__in=merged)
            )
        return queryset
