"""A round's categories (类别), on the round's intake page: add, rename, reorder, delete.

Each action is one POST that redirects back to the round's page; a refused one draws the
page again with what was typed and why. A category that an item or a suggestion is filed
under is never deleted (the foreign keys protect it too): it can be renamed instead.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Max, ProtectedError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ledger.access import supervisor_required
from ledger.models import Category, Item, Round, Suggestion

from .names import ORDER_STEP, key
from .views_files import render_round, round_categories

NAME_MAX = Category._meta.get_field("name").max_length


def _back(round: Round) -> HttpResponse:
    return redirect(reverse("intake:round", args=[round.pk]) + "#categories")


def _name_error(round: Round, name: str, *, other_than: Category | None = None) -> str:
    """Why ``name`` cannot be a category of the round, or "". Names are compared as imports
    compare them, so "教育 事业" is refused beside "教育事业"."""
    if not name:
        return _("Give the category a name.")
    if len(name) > NAME_MAX:
        return _("A category’s name is at most %(n)s characters.") % {"n": NAME_MAX}
    others = round.categories.all()
    if other_than is not None:
        others = others.exclude(pk=other_than.pk)
    for category in others:
        if key(category.name) == key(name):
            return _("This round already has a category named “%(name)s”.") % {
                "name": category.name
            }
    return ""


@login_required
@supervisor_required
@require_POST
def add(request: HttpRequest, pk: int) -> HttpResponse:
    round = get_object_or_404(Round, pk=pk)
    name = request.POST.get("name", "").strip()
    error = _name_error(round, name)
    if error:
        return render_round(request, round, new_category=(name, error), status=400)
    top = round.categories.aggregate(top=Max("order"))["top"] or 0
    Category.objects.create(round=round, name=name, order=top + ORDER_STEP)
    messages.success(request, _("Category “%(name)s” added.") % {"name": name})
    return _back(round)


@login_required
@supervisor_required
@require_POST
def rename(request: HttpRequest, pk: int, category_pk: int) -> HttpResponse:
    round = get_object_or_404(Round, pk=pk)
    category = get_object_or_404(Category, pk=category_pk, round=round)
    name = request.POST.get("name", "").strip()
    error = _name_error(round, name, other_than=category)
    if error:
        categories = round_categories(round)
        for row in categories:
            if row.pk == category.pk:
                row.typed, row.error = name, error
        return render_round(request, round, categories=categories, status=400)
    if name != category.name:
        old = category.name
        category.name = name
        category.save(update_fields=["name"])
        messages.success(
            request,
            _("Category “%(old)s” renamed to “%(name)s”.") % {"old": old, "name": name},
        )
    return _back(round)


@login_required
@supervisor_required
@require_POST
def move(request: HttpRequest, pk: int, category_pk: int) -> HttpResponse:
    """One place up or down; the round's categories are numbered again in steps."""
    round = get_object_or_404(Round, pk=pk)
    category = get_object_or_404(Category, pk=category_pk, round=round)
    step = {"up": -1, "down": 1}.get(request.POST.get("direction", ""))
    with transaction.atomic():
        ordered = list(round.categories.select_for_update().order_by("order", "name"))
        at = next(n for n, c in enumerate(ordered) if c.pk == category.pk)
        if step and 0 <= at + step < len(ordered):
            ordered[at], ordered[at + step] = ordered[at + step], ordered[at]
            for n, row in enumerate(ordered, 1):
                row.order = n * ORDER_STEP
            Category.objects.bulk_update(ordered, ["order"])
    return _back(round)


@login_required
@supervisor_required
@require_POST
def delete(request: HttpRequest, pk: int, category_pk: int) -> HttpResponse:
    round = get_object_or_404(Round, pk=pk)
    category = get_object_or_404(Category, pk=category_pk, round=round)
    # Withdrawn items too: they keep their category, which a delete would take from them.
    items = Item.all_objects.filter(category=category).count()
    suggestions = Suggestion.objects.filter(category=category).count()
    if not items and not suggestions:
        try:
            category.delete()
        except ProtectedError:
            # Filed under meanwhile: refused below with the counts as they are now.
            items = Item.all_objects.filter(category=category).count()
            suggestions = Suggestion.objects.filter(category=category).count()
        else:
            messages.success(request, _("Category “%(name)s” deleted.") % {"name": category.name})
            return _back(round)
    messages.error(
        request,
        _(
            "“%(name)s” cannot be deleted: it is in use (items: %(items)s, suggestions: "
            "%(suggestions)s). Rename it instead, or file those under another category first."
        )
        % {"name": category.name, "items": items, "suggestions": suggestions},
    )
    return _back(round)
