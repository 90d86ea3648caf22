"""The compose pages: supervisors write, preview and publish notices.

Out of reach is 404 (docs/workflow.md): officials and leaders are told these pages do not exist;
anyone not signed in is sent to sign in. A published notice is read-only: its correction
is a new version.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.db.models import Max, Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from ledger import audit
from ledger.access import supervisor_required

from . import figures, snapshot, tasks
from .forms import MaskForm, NoticeForm, SectionForm
from .models import Notice, Section
from .render import for_template

# While a notice is being published its page reloads itself this often (no script).
REFRESH_SECONDS = 2


def _notice(pk: int) -> Notice:
    return get_object_or_404(Notice.objects.select_related("replaces", "job", "created_by"), pk=pk)


def _audit(request: HttpRequest, notice: Notice, summary, kind=audit.Kind.NOTICE, **detail) -> None:
    """A line of the audit trail about ``notice`` (``summary`` names it as %(notice)s)."""
    audit.record(
        kind,
        summary,
        {"notice": f"{notice.title}（v{notice.version}）"},
        request=request,
        target=f"{notice.title} v{notice.version}"[:200],
        detail={"notice": notice.pk, **detail},
    )


def _refuse_frozen(request: HttpRequest, notice: Notice) -> HttpResponse | None:
    if notice.editable:
        return None
    messages.error(
        request,
        _(
            "This notice is published or being published and cannot be changed. "
            "To correct it, make a new version."
        ),
    )
    return redirect(notice)


@login_required
@supervisor_required
def notice_list(request: HttpRequest) -> HttpResponse:
    notices = (
        Notice.objects.select_related("replaces", "created_by")
        .prefetch_related(
            Prefetch(
                "corrections",
                queryset=Notice.objects.only("pk", "replaces_id", "version", "state"),
            )
        )
        .order_by("-updated_at", "-pk")
    )
    return render(request, "publication/list.html", {"notices": notices})


@login_required
@supervisor_required
def notice_create(request: HttpRequest) -> HttpResponse:
    form = NoticeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        notice = form.save(commit=False)
        notice.created_by = request.user
        notice.save()
        form.save_m2m()
        _audit(request, notice, gettext_lazy("Created the notice %(notice)s"))
        messages.success(request, _("Notice created. Now add its sections."))
        return redirect(notice)
    return render(request, "publication/notice_form.html", {"form": form})


@login_required
@supervisor_required
def notice_edit(request: HttpRequest, pk: int) -> HttpResponse:
    notice = _notice(pk)
    form = NoticeForm(request.POST or None, instance=notice)
    if request.method == "POST":
        if refused := _refuse_frozen(request, notice):
            return refused
        if form.is_valid():
            changed = audit.form_changes(form)
            notice = form.save(commit=False)
            notice.updated_at = timezone.now()
            notice.save()
            form.save_m2m()
            if changed:
                _audit(
                    request, notice, gettext_lazy("Edited the notice %(notice)s"), changes=changed
                )
            messages.success(request, _("Saved."))
            return redirect(notice)
    sections = list(notice.sections.select_related("round", "category", "department"))
    context = {
        "notice": notice,
        "form": form,
        "sections": sections,
        "section_form": SectionForm(),
        "figures": figures.FIGURES,
        "job": notice.job if notice.state == Notice.State.PUBLISHING else None,
        "refresh": REFRESH_SECONDS if notice.state == Notice.State.PUBLISHING else None,
        "correction": notice.corrections.first(),
    }
    status = 400 if form.errors else 200
    return render(request, "publication/notice_edit.html", context, status=status)


@login_required
@supervisor_required
def section_add(request: HttpRequest, pk: int) -> HttpResponse:
    notice = _notice(pk)
    if refused := _refuse_frozen(request, notice):
        return refused
    form = SectionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        section = form.save(commit=False)
        section.notice = notice
        section.order = (notice.sections.aggregate(m=Max("order"))["m"] or 0) + 1
        section.save()
        Notice.objects.filter(pk=notice.pk).update(updated_at=timezone.now())
        _audit(
            request,
            notice,
            gettext_lazy("Added a section to the notice %(notice)s"),
            section=section.pk,
            heading=section.heading,
            body=section.body,
        )
        messages.success(request, _("Section added."))
        return redirect(f"{notice.get_absolute_url()}#section-{section.pk}")
    return render(
        request,
        "publication/section_form.html",
        {"notice": notice, "form": form, "figures": figures.FIGURES},
        status=400 if form.errors else 200,
    )


@login_required
@supervisor_required
def section_edit(request: HttpRequest, pk: int, section_pk: int) -> HttpResponse:
    notice = _notice(pk)
    section = get_object_or_404(Section, pk=section_pk, notice=notice)
    if request.method == "POST" and (refused := _refuse_frozen(request, notice)):
        return refused
    form = SectionForm(request.POST or None, instance=section)
    if request.method == "POST" and form.is_valid():
        changed = audit.form_changes(form)
        form.save()
        Notice.objects.filter(pk=notice.pk).update(updated_at=timezone.now())
        if changed:
            _audit(
                request,
                notice,
                gettext_lazy("Edited a section of the notice %(notice)s"),
                section=section.pk,
                changes=changed,
            )
        messages.success(request, _("Section saved."))
        return redirect(f"{notice.get_absolute_url()}#section-{section.pk}")
    return render(
        request,
        "publication/section_form.html",
        {"notice": notice, "form": form, "section": section, "figures": figures.FIGURES},
        status=400 if form.errors else 200,
    )


@login_required
@supervisor_required
@require_POST
def section_delete(request: HttpRequest, pk: int, section_pk: int) -> HttpResponse:
    notice = _notice(pk)
    if refused := _refuse_frozen(request, notice):
        return refused
    section = get_object_or_404(Section, pk=section_pk, notice=notice)
    _audit(
        request,
        notice,
        gettext_lazy("Deleted a section of the notice %(notice)s"),
        section=section.pk,
        heading=section.heading,
        body=section.body,
    )
    section.delete()
    messages.success(request, _("Section deleted."))
    return redirect(notice)


@login_required
@supervisor_required
@require_POST
def section_move(request: HttpRequest, pk: int, section_pk: int) -> HttpResponse:
    notice = _notice(pk)
    if refused := _refuse_frozen(request, notice):
        return refused
    sections = list(notice.sections.all())
    index = next((i for i, s in enumerate(sections) if s.pk == section_pk), None)
    if index is None:
        return redirect(notice)
    other = index - 1 if request.POST.get("direction") == "up" else index + 1
    if 0 <= other < len(sections):
        sections[index], sections[other] = sections[other], sections[index]
        with transaction.atomic():
            for order, section in enumerate(sections, start=1):
                if section.order != order:
                    section.order = order
                    section.save(update_fields=["order"])
        _audit(
            request,
            notice,
            gettext_lazy("Reordered the sections of the notice %(notice)s"),
            order=[section.pk for section in sections],
        )
    return redirect(f"{notice.get_absolute_url()}#section-{section_pk}")


def _preview_context(notice: Notice) -> dict:
    snap = snapshot.build(notice, preview=True)
    spans = [s for s in snap["spans"] if s["kind"] != "possible_name"]
    # The possible names wait for the supervisor: first in the panel, with the words
    # around them. Undecided, they are masked, here as at publication.
    possible = [s for s in snap["spans"] if s["kind"] == "possible_name"]
    return {"notice": notice, "n": for_preview(snap), "spans": spans, "possible": possible}


def for_preview(snap: dict) -> dict:
    # Preview HTML is built from escaped, masked pieces and our own tags, then passed
    # through the same allow-list as published HTML (render.for_template).
    return for_template(snap)


@login_required
@supervisor_required
def notice_preview(request: HttpRequest, pk: int) -> HttpResponse:
    notice = _notice(pk)
    try:
        context = _preview_context(notice)
    except figures.UnknownPlaceholder as error:
        messages.error(request, _("Unknown placeholder: %(names)s.") % {"names": error})
        return redirect(notice)
    context["mask_form"] = MaskForm()
    return render(request, "publication/preview.html", context)


# Each change of what the notice masks is a line of the audit trail with the text it
# concerns: lifting a mask publishes what it hid (a citizen's name or number).
MASK_SUMMARIES = {
    "add_term": gettext_lazy("Masked a term everywhere in the notice %(notice)s"),
    "remove_term": gettext_lazy("Stopped masking a term in the notice %(notice)s"),
    "lift": gettext_lazy("Lifted a mask in the notice %(notice)s"),
    "unlift": gettext_lazy("Masked a lifted text again in the notice %(notice)s"),
    # A possible name (docs/masking.md): who decided, and on which text.
    "confirm_name": gettext_lazy("Confirmed a possible name as a name in the notice %(notice)s"),
    "dismiss_name": gettext_lazy(
        "Dismissed a possible name in the notice %(notice)s: shown as it is"
    ),
    "reopen_name": gettext_lazy("Took back a decision on a possible name in the notice %(notice)s"),
}


@login_required
@supervisor_required
@require_POST
def notice_mask(request: HttpRequest, pk: int) -> HttpResponse:
    notice = _notice(pk)
    if refused := _refuse_frozen(request, notice):
        return refused
    form = MaskForm(request.POST)
    if not form.is_valid():
        context = _preview_context(notice)
        context["mask_form"] = form
        return render(request, "publication/preview.html", context, status=400)
    action, text = form.cleaned_data["action"], form.cleaned_data["text"]
    terms, keep = list(notice.terms), list(notice.keep)
    confirmed, dismissed = list(notice.confirmed_names), list(notice.dismissed_names)
    if action == "add_term" and text not in terms:
        terms.append(text)
        keep = [k for k in keep if k != text]
        messages.success(
            request, _("“%(text)s” is now masked everywhere in this notice.") % {"text": text}
        )
    elif action == "remove_term":
        terms = [t for t in terms if t != text]
        messages.success(request, _("“%(text)s” is no longer a masked term.") % {"text": text})
    elif action == "lift" and text not in keep:
        keep.append(text)
        messages.success(request, _("“%(text)s” will be shown as it is.") % {"text": text})
    elif action == "unlift":
        keep = [k for k in keep if k != text]
        messages.success(request, _("“%(text)s” is masked again.") % {"text": text})
    elif action in ("confirm_name", "dismiss_name", "reopen_name"):
        confirmed = [n for n in confirmed if n != text]
        dismissed = [n for n in dismissed if n != text]
        if action == "confirm_name":
            confirmed.append(text)
            keep = [k for k in keep if k != text]
            messages.success(
                request,
                _("“%(text)s” is a name: masked everywhere in this notice.") % {"text": text},
            )
        elif action == "dismiss_name":
            dismissed.append(text)
            messages.success(
                request,
                _("“%(text)s” is not a name: shown as it is where it was a possible name.")
                % {"text": text},
            )
        else:
            messages.success(
                request,
                _("“%(text)s” is a possible name again: masked unless you decide.")
                % {"text": text},
            )
    before = (notice.terms, notice.keep, notice.confirmed_names, notice.dismissed_names)
    if (terms, keep, confirmed, dismissed) != tuple(list(v) for v in before):
        _audit(
            request,
            notice,
            MASK_SUMMARIES[action],
            kind=audit.Kind.MASKING,
            action=action,
            text=text,
        )
    notice.terms, notice.keep = terms, keep
    notice.confirmed_names, notice.dismissed_names = confirmed, dismissed
    notice.updated_at = timezone.now()
    notice.save(update_fields=["terms", "keep", "confirmed_names", "dismissed_names", "updated_at"])
    return redirect("publication:preview", notice.pk)


@login_required
@supervisor_required
@require_POST
def notice_publish(request: HttpRequest, pk: int) -> HttpResponse:
    notice = _notice(pk)
    if not notice.sections.exists() and not notice.annex_rounds.exists():
        messages.error(request, _("Add a section or an annex round before publishing."))
        return redirect(notice)
    try:
        tasks.start_publishing(notice, request.user)
    except tasks.PublishError as error:
        messages.error(request, str(error))
    return redirect(notice)


@login_required
@supervisor_required
@require_POST
def notice_new_version(request: HttpRequest, pk: int) -> HttpResponse:
    old = _notice(pk)
    if old.state != Notice.State.PUBLISHED:
        messages.error(request, _("Only a published notice can be corrected by a new version."))
        return redirect(old)
    existing = old.corrections.first()
    if existing:
        messages.info(request, _("This notice already has a new version."))
        return redirect(existing)
    try:
        with transaction.atomic():
            new = Notice.objects.create(
                title=old.title,
                issuer=old.issuer,
                date=timezone.localdate(),
                document_number=old.document_number,
                terms=list(old.terms),
                keep=list(old.keep),
                confirmed_names=list(old.confirmed_names),
                dismissed_names=list(old.dismissed_names),
                version=old.version + 1,
                replaces=old,
                created_by=request.user,
            )
            new.annex_rounds.set(old.annex_rounds.all())
            Section.objects.bulk_create(
                Section(
                    notice=new,
                    order=s.order,
                    heading=s.heading,
                    body=s.body,
                    round_id=s.round_id,
                    category_id=s.category_id,
                    department_id=s.department_id,
                )
                for s in old.sections.all()
            )
    except IntegrityError:
        return redirect(old.corrections.first() or old)
    _audit(
        request,
        new,
        gettext_lazy("Created the notice %(notice)s as a correction of a published one"),
        replaces=old.pk,
    )
    messages.success(
        request,
        _(
            "Version %(v)s created as a draft. Correct it and publish it: the published "
            "version %(old)s will then say it was replaced."
        )
        % {"v": new.version, "old": old.version},
    )
    return redirect(new)


@login_required
@supervisor_required
@require_POST
def notice_delete(request: HttpRequest, pk: int) -> HttpResponse:
    notice = _notice(pk)
    if refused := _refuse_frozen(request, notice):
        return refused
    _audit(request, notice, gettext_lazy("Deleted the draft notice %(notice)s"))
    notice.delete()
    messages.success(request, _("Draft deleted."))
    return redirect("publication:manage")
