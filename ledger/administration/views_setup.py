"""Bulk set-up from a workbook: upload → preview → confirm → one download of the passwords.

The shape of the intake imports (ledger/intake/views_files.py): the upload is read and
checked at once and shown as a preview, nothing written; the file waits in the default
storage under a random name that only this session knows, and confirm reads it again and
writes every accepted row in one transaction, or none.

The one-time passwords of the accounts made are written to one sheet, kept in the default
storage under another random name this session alone knows, and sent once: the download
deletes it. They are shown on no page, sent in no redirect, logged nowhere. A sheet nobody
collected is deleted a day later, at the next upload of anyone's.
"""

from __future__ import annotations

import datetime
import secrets
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_POST

from ledger import audit, storage
from ledger.access import administrator_required
from ledger.intake.forms_files import ConfirmForm, UploadForm
from ledger.intake.reading import IntakeError
from ledger.models import User

from . import setup

UPLOADS_KEY = "setup_uploads"
RESULT_KEY = "setup_result"
UPLOADS_DIR = "administration/setup/uploads"
SHEETS_DIR = "administration/setup/passwords"
STALE_AFTER = datetime.timedelta(days=1)
PREVIEW_ROWS = 200
# Part of the code, not a stored file: read from the checkout whatever MEDIA_STORAGE says.
SAMPLE = Path(settings.BASE_DIR) / "fixtures" / "setup-sample.xlsx"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class SetupUploadForm(UploadForm):
    file = forms.FileField(
        label=gettext_lazy("Workbook"),
        help_text=gettext_lazy(".xlsx, .xls (Excel or WPS) or .ods, one sheet per table"),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.xls,.ods,.et"}),
    )


# --- Upload and preview ----------------------------------------------------------------------


def _waiting_sheet(request: HttpRequest) -> dict | None:
    """This session's last result, while its sheet of passwords is still to be collected."""
    result = request.session.get(RESULT_KEY)
    if result and result.get("sheet") and default_storage.exists(result["sheet"]):
        return result
    return None


def _render_upload(request: HttpRequest, form: forms.Form, status: int = 200) -> HttpResponse:
    return render(
        request,
        "administration/setup_upload.html",
        {
            "form": form,
            "fields": setup.FIELDS,
            "roles": setup.ROLE_WORDS,
            "waiting": _waiting_sheet(request),
        },
        status=status,
    )


def _sweep_stale() -> None:
    """Delete uploads and sheets of passwords left for over a day, whoever left them: a
    preview nobody confirmed, a sheet nobody downloaded. A session that ended took the
    only name of its files with it, so they are found in the storage, not the session."""
    day_ago = timezone.now() - STALE_AFTER
    for folder in (UPLOADS_DIR, SHEETS_DIR):
        for path in storage.older_than(folder, day_ago):
            default_storage.delete(path)


@never_cache
@administrator_required
def setup_upload(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _render_upload(request, SetupUploadForm())
    form = SetupUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_upload(request, form, status=400)
    _sweep_stale()
    upload = form.cleaned_data["file"]
    data = upload.read()
    try:
        plan = setup.plan_setup(data, upload.name)
    except IntakeError as error:
        form.add_error("file", str(error))
        return _render_upload(request, form, status=400)
    uploads = request.session.setdefault(UPLOADS_KEY, {})
    # A new workbook replaces this session's earlier one.
    for entry in uploads.values():
        default_storage.delete(entry["path"])
    uploads.clear()
    token = secrets.token_urlsafe(24)
    path = default_storage.save(f"{UPLOADS_DIR}/{token}.upload", ContentFile(data))
    uploads[token] = {"path": path, "name": upload.name[:200]}
    request.session.modified = True
    for section in plan.sections:
        section.first = section.create[:PREVIEW_ROWS]
        section.more = max(len(section.create) - PREVIEW_ROWS, 0)
    return render(
        request,
        "administration/setup_preview.html",
        {
            "plan": plan,
            "file_name": upload.name,
            "confirm": ConfirmForm(initial={"upload": token}),
            "waiting": _waiting_sheet(request),
        },
    )


# --- Confirm, result, download ---------------------------------------------------------------


@sensitive_variables("result")
@administrator_required
@require_POST
def setup_confirm(request: HttpRequest) -> HttpResponse:
    form = ConfirmForm(request.POST)
    uploads = request.session.get(UPLOADS_KEY, {})
    entry = uploads.pop(form.data.get("upload", ""), None) if form.is_valid() else None
    if entry is None:
        messages.error(request, _("That upload is no longer waiting. Upload the file again."))
        return redirect("manage:setup")
    request.session.modified = True
    path = entry["path"]
    try:
        if "cancel" in request.POST:
            messages.info(request, _("Import cancelled; nothing was written."))
            return redirect("manage:setup")
        try:
            with default_storage.open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            # Swept after a day (cleanup_uploads, or the next upload's _sweep_stale).
            messages.error(request, _("That upload is no longer waiting. Upload the file again."))
            return redirect("manage:setup")
        try:
            plan = setup.plan_setup(data, entry["name"])
            result = setup.write_setup(plan)
        except IntakeError as error:
            messages.error(request, str(error))
            return redirect("manage:setup")
    finally:
        default_storage.delete(path)
    # The previous result's sheet, if still uncollected, goes: the session remembers one.
    if previous := _waiting_sheet(request):
        default_storage.delete(previous["sheet"])
    sheet = None
    if result.accounts:
        token = secrets.token_urlsafe(24)
        sheet = default_storage.save(
            f"{SHEETS_DIR}/{token}.xlsx", ContentFile(setup.passwords_workbook(result.accounts))
        )
    audit.record(
        audit.Kind.ACCOUNT,
        gettext_lazy(
            "Imported the set-up workbook %(file)s: %(departments)s departments, %(leaders)s "
            "leaders, %(accounts)s accounts"
        ),
        {
            "file": entry["name"],
            "departments": result.departments,
            "leaders": result.leaders,
            "accounts": len(result.accounts),
        },
        request=request,
        detail={
            "accounts": [
                {"id": user.pk, "username": user.username, "role": user.role}
                for user, _password in result.accounts
            ]
        },
    )
    request.session[RESULT_KEY] = {
        "sheet": sheet,
        "accounts": [user.pk for user, _password in result.accounts],
        "departments": result.departments,
        "leaders": result.leaders,
    }
    messages.success(
        request,
        _("Set-up written: %(departments)s, %(leaders)s, %(accounts)s.")
        % {
            "departments": ngettext("%(n)s department", "%(n)s departments", result.departments)
            % {"n": result.departments},
            "leaders": ngettext("%(n)s leader", "%(n)s leaders", result.leaders)
            % {"n": result.leaders},
            "accounts": ngettext("%(n)s account", "%(n)s accounts", len(result.accounts))
            % {"n": len(result.accounts)},
        },
    )
    return redirect("manage:setup-done")


@administrator_required
def setup_done(request: HttpRequest) -> HttpResponse:
    result = request.session.get(RESULT_KEY)
    if not result:
        return redirect("manage:setup")
    waiting = _waiting_sheet(request)
    order = {pk: place for place, pk in enumerate(result["accounts"])}
    accounts = User.objects.filter(pk__in=order).select_related("department", "leader")
    return render(
        request,
        "administration/setup_done.html",
        {
            "result": result,
            "accounts": sorted(accounts, key=lambda user: order[user.pk]),
            "waiting": waiting is not None,
            "swept": result.get("swept") or (result["sheet"] and waiting is None),
        },
    )


@administrator_required
@require_POST
def setup_download(request: HttpRequest) -> HttpResponse:
    """The sheet of one-time passwords, once: it is deleted as it is sent."""
    result = request.session.get(RESULT_KEY) or {}
    path = result.get("sheet")
    data = None
    if path:
        # Forgotten first, so that a second click finds nothing even if this one fails.
        result["sheet"] = None
        request.session.modified = True
        try:
            with default_storage.open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            result["swept"] = True
            messages.error(
                request,
                _(
                    "The sheet of one-time passwords was not downloaded within a day and has "
                    "been deleted. To give someone a new password, reset the password of "
                    "their account."
                ),
            )
            return redirect("manage:setup-done")
        default_storage.delete(path)
    if data is None:
        messages.error(
            request,
            _(
                "The sheet of one-time passwords has already been downloaded, and it is not "
                "kept. To give someone a new password, reset the password of their account."
            ),
        )
        return redirect("manage:setup-done" if result else "manage:setup")
    audit.record(
        audit.Kind.ACCOUNT,
        gettext_lazy("Downloaded the sheet of one-time passwords of %(accounts)s accounts"),
        {"accounts": len(result.get("accounts", []))},
        request=request,
        detail={"accounts": result.get("accounts", [])},
    )
    name = f"{_('One-time passwords')}-{timezone.localdate():%Y%m%d}.xlsx"
    response = HttpResponse(data, content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, name)
    response["Cache-Control"] = "no-store"
    return response


@administrator_required
def setup_sample(request: HttpRequest) -> FileResponse:
    """The sample workbook, to fill in."""
    return FileResponse(SAMPLE.open("rb"), as_attachment=True, filename=SAMPLE.name)
