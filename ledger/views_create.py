"""新增事项: a supervisor adds one item by hand to a round, as a draft awaiting assignment.

The item is numbered in the round's numbering, after its last item (``ledger.numbering``),
and its history opens with its creation (``workflow.record_creation``), as an imported or
consolidated item's does.

Its title is drafted masked, as consolidation drafts one (docs/masking.md): where the
problem typed holds personal details (a citizen's name, phone or ID number …), the title is
the masked text, and the words as typed are kept as the item's suggestion, numbered after
the round's last, shown on the item's page to those who may see the item.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from . import numbering, workflow
from .access import supervisor_required
from .forms import counted_deadline
from .forms_create import ITEM_FIELDS, PROPOSAL_FIELDS, NewItemForm
from .inputs import parse_id
from .intake.consolidation import title_for
from .models import Item, Round, Suggestion, User
from .publication.masking import mask

# Another supervisor taking the same number at the same moment: try the next one.
ATTEMPTS = 3


def create_item(data: dict, *, by: User) -> Item:
    """Write the draft ``data`` describes (``NewItemForm.cleaned_data``) and its creation
    event, in one transaction."""
    for _attempt in range(ATTEMPTS - 1):
        try:
            return _insert(data, by)
        except IntegrityError:
            continue
    return _insert(data, by)


def _insert(data: dict, by: User) -> Item:
    round = data["round"]
    words = mask(data["title"])
    with transaction.atomic():
        # The round's row serialises numbering, as consolidation does.
        Round.objects.select_for_update().filter(pk=round.pk).first()
        (number,) = numbering.free_numbers(round, 1)
        now = timezone.now()
        item = Item.objects.create(
            round=round,
            number=number,
            title=title_for(words.text),
            category=data["category"],
            track=data["track"],
            measures=data["measures"],
            goal=data["goal"],
            responsible_person=data["responsible_person"],
            remarks=data["remarks"],
            leader=data["leader"],
            lead_department=data["lead_department"],
            deadline=data["deadline"],
            long_term=data["long_term"],
            state=Item.State.DRAFT,
            created_at=now,
            updated_at=now,
            updated_by=by,
        )
        if data["co_departments"]:
            item.co_departments.set(data["co_departments"])
        item.kept_words = None
        if words.spans:
            # The words as typed hold what the title masks: they stay, as received.
            seq = (Suggestion.objects.filter(round=round).aggregate(m=Max("seq"))["m"] or 0) + 1
            item.kept_words = Suggestion.objects.create(
                round=round,
                seq=seq,
                text=data["title"],
                category=data["category"],
                item=item,
                created_at=now,
            )
            item._creation = {"suggestions": [seq]}
        workflow.record_creation([item], by=by, how="manual", at=now)
        return item


@login_required
@supervisor_required
def item_new(request: HttpRequest) -> HttpResponse:
    initial = {}
    chosen = parse_id(request.GET.get("round", ""))
    if chosen is not None:
        initial["round"] = chosen
    else:
        # Most items added by hand belong to the round being worked on: the latest.
        initial["round"] = (
            Round.objects.order_by("-year", "-created_at").values_list("pk", flat=True).first()
        )
    form = NewItemForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        item = create_item(form.cleaned_data, by=request.user)
        added = _("Item %(number)s was added to the ledger, awaiting assignment.") % {
            "number": item.number
        }
        counted = counted_deadline(form.cleaned_data)
        messages.success(request, f"{added} {counted}" if counted else added)
        if item.kept_words is not None:
            messages.info(
                request,
                _(
                    "The problem held personal details: they are masked in the title, and "
                    "the words as typed are kept as the item's suggestion No. %(seq)s."
                )
                % {"seq": item.kept_words.seq},
            )
        return redirect("ledger:item", item.pk)
    return render(
        request,
        "ledger/item_new.html",
        {
            "form": form,
            "item_fields": [form[name] for name in ITEM_FIELDS],
            "proposal_fields": [form[name] for name in PROPOSAL_FIELDS],
        },
        status=400 if form.errors else 200,
    )
