"""Evidence files (佐证材料) on progress reports: which files are accepted, and storing them.

A file is accepted when its name has one of the extensions below AND its first bytes are
what that extension promises. The browser's content type is never trusted: an ``.exe``
renamed ``.pdf`` or an HTML page renamed ``.png`` is refused here, and the type a download
is served with is the one sniffed here. SVG is not accepted at all: it is a document that
can carry script, not a picture.

``check_uploads`` runs in the form, before anything is written; ``post_progress`` then
writes the progress report and its files together or not at all.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import logging
import unicodedata
import zipfile
import zlib
from collections.abc import Sequence

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from . import workflow
from .models import Evidence, Item, Progress, User

logger = logging.getLogger(__name__)

MAX_FILES = 10
NAME_MAX = 200  # Evidence.name's max_length

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the compound file of old Office and WPS


@dataclasses.dataclass(frozen=True)
class Format:
    content_type: str
    magic: str  # what _sniff must say about the first bytes
    members: tuple[str, ...] = ()  # ZIP: name prefixes that must all be present
    odf: str = ""  # ODF: the exact content of the "mimetype" member


_OOXML = "application/vnd.openxmlformats-officedocument."
_ODF = "application/vnd.oasis.opendocument."

FORMATS: dict[str, Format] = {
    "jpg": Format("image/jpeg", "jpeg"),
    "jpeg": Format("image/jpeg", "jpeg"),
    "png": Format("image/png", "png"),
    "gif": Format("image/gif", "gif"),
    "webp": Format("image/webp", "webp"),
    "pdf": Format("application/pdf", "pdf"),
    # An OLE2 file does not say cheaply whether it is a document or a sheet; the extension
    # picks the type, among formats that share the container.
    "doc": Format("application/msword", "ole2"),
    "xls": Format("application/vnd.ms-excel", "ole2"),
    "ppt": Format("application/vnd.ms-powerpoint", "ole2"),
    # Kingsoft WPS: the types its own desktop files declare (as on UOS and Kylin desktops).
    "wps": Format("application/wps-office.wps", "ole2"),
    "et": Format("application/wps-office.et", "ole2"),
    "dps": Format("application/wps-office.dps", "ole2"),
    "docx": Format(_OOXML + "wordprocessingml.document", "zip", ("[Content_Types].xml", "word/")),
    "xlsx": Format(_OOXML + "spreadsheetml.sheet", "zip", ("[Content_Types].xml", "xl/")),
    "pptx": Format(_OOXML + "presentationml.presentation", "zip", ("[Content_Types].xml", "ppt/")),
    "odt": Format(_ODF + "text", "zip", odf=_ODF + "text"),
    "ods": Format(_ODF + "spreadsheet", "zip", odf=_ODF + "spreadsheet"),
    "odp": Format(_ODF + "presentation", "zip", odf=_ODF + "presentation"),
}

# For the file picker only (the accept attribute); the server checks for itself.
ACCEPT = ",".join(f".{ext}" for ext in FORMATS)

WHAT_IS_ACCEPTED = _(
    "only images (JPG, PNG, GIF, WebP), PDF, Word, Excel, PowerPoint, WPS and OpenDocument "
    "files are accepted"
)


@dataclasses.dataclass(frozen=True)
class CheckedFile:
    """An upload that passed ``check_upload``: only these are ever stored."""

    upload: UploadedFile
    name: str  # for display and as the download's file name; never a storage path
    extension: str
    size: int
    content_type: str
    sha256: str


def display_name(raw: str) -> str:
    """The uploader's file name, made safe to show and to offer as a download name.

    Path parts go (a browser may send ``C:\\Users\\…\\报告.pdf``), and so do control and
    format characters: a right-to-left override (U+202E) in ``报告[RLO]fdp.exe`` would
    show it as 报告exe.pdf. Long names keep their extension.
    """
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Zl", "Zp"}
    )
    name = " ".join(name.split())
    stem, dot, ext = name.rpartition(".")
    if not dot:
        return name[:NAME_MAX]
    stem = stem.strip(" .") or "evidence"
    ext = ext[:10]
    return f"{stem[: NAME_MAX - len(ext) - 1]}.{ext}"


def _sniff(head: bytes) -> str:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(OLE2):
        return "ole2"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    return ""


def _zip_matches(upload: UploadedFile, fmt: Format) -> bool:
    """Whether a ZIP holds what the format's extension promises. Reads the directory only
    (and ODF's tiny mimetype member), never extracts: a zip bomb costs nothing here."""
    try:
        upload.seek(0)
        with zipfile.ZipFile(upload) as archive:
            names = archive.namelist()
            if not all(any(n.startswith(m) for n in names) for m in fmt.members):
                return False
            if fmt.odf:
                info = archive.getinfo("mimetype")
                if info.file_size > 200:
                    return False
                return archive.read(info).decode("ascii", "replace").strip() == fmt.odf
            return True
    except (
        zipfile.BadZipFile,
        KeyError,
        OSError,
        EOFError,
        RuntimeError,
        ValueError,
        NotImplementedError,
        zlib.error,
    ):
        # Corrupt, encrypted or oddly compressed: not a document we can vouch for.
        return False
    finally:
        upload.seek(0)


def _refused(name: str, reason, **params) -> ValidationError:
    return ValidationError(
        _("“%(name)s” was refused: %(reason)s."),
        code="evidence",
        params={"name": name, "reason": reason % params if params else reason},
    )


def check_upload(upload: UploadedFile) -> CheckedFile:
    """Accept one upload or raise a ValidationError that names the file and says why."""
    name = display_name(upload.name or "")
    size = upload.size or 0
    if size == 0:
        raise _refused(name, _("the file is empty"))
    if size > settings.EVIDENCE_MAX_BYTES:
        raise _refused(
            name,
            _("it is %(size)s, more than the %(limit)s allowed for one file"),
            size=filesizeformat(size),
            limit=filesizeformat(settings.EVIDENCE_MAX_BYTES),
        )
    _stem, dot, extension = name.rpartition(".")
    extension = extension.lower() if dot else ""
    fmt = FORMATS.get(extension)
    if fmt is None:
        raise _refused(name, WHAT_IS_ACCEPTED)
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    if _sniff(head) != fmt.magic or (fmt.magic == "zip" and not _zip_matches(upload, fmt)):
        raise _refused(name, _("its content is not a .%(extension)s file"), extension=extension)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return CheckedFile(upload, name, extension, size, fmt.content_type, digest.hexdigest())


def check_uploads(uploads: Sequence[UploadedFile]) -> list[CheckedFile]:
    """Check every upload; refuse them all with one message per bad file."""
    if len(uploads) > MAX_FILES:
        raise ValidationError(
            _("Attach at most %(max)d files at a time; %(count)d were chosen."),
            code="evidence_count",
            params={"max": MAX_FILES, "count": len(uploads)},
        )
    checked: list[CheckedFile] = []
    errors: list[ValidationError] = []
    for upload in uploads:
        try:
            checked.append(check_upload(upload))
        except ValidationError as error:
            errors.append(error)
    if errors:
        raise ValidationError(errors)
    return checked


@workflow._transition  # puts the item object back if the files fail after the workflow ran
def post_progress(
    item: Item,
    *,
    by: User,
    text: str,
    percent: int,
    reported_on: datetime.date | None = None,
    files: Sequence[CheckedFile] = (),
) -> Progress:
    """Post progress with its evidence files: all of it, or nothing.

    The files were checked before this is called (only ``check_upload`` makes a
    ``CheckedFile``), so a refused file never reaches the workflow. The progress row and the
    evidence rows commit together; a file stored before a later failure is deleted again,
    since the storage is not part of the database's transaction.
    """
    stored: list[str] = []
    try:
        with transaction.atomic():
            progress = workflow.post_progress(
                item, by=by, text=text, percent=percent, reported_on=reported_on
            )
            for checked in files:
                evidence = Evidence(
                    progress=progress,
                    name=checked.name,
                    size=checked.size,
                    content_type=checked.content_type,
                    sha256=checked.sha256,
                )
                # evidence_path names the stored file from sha256 and this extension only.
                evidence.file.save(f"upload.{checked.extension}", checked.upload, save=False)
                stored.append(evidence.file.name)
                evidence.save()
    except BaseException:
        storage = Evidence._meta.get_field("file").storage
        for name in stored:
            try:
                storage.delete(name)
            except Exception:
                logger.exception("Could not delete the orphaned evidence file %s", name)
        raise
    return progress
