"""Where the app keeps its files, and the few questions asked of more than one file.

Evidence, imports waiting for confirmation, published PDFs and Excel annexes and job files
are all in Django's default storage: a folder under MEDIA_ROOT, or a bucket of object
storage (``MEDIA_STORAGE=s3``, rectify/settings.py). Everything reads and writes them by
name through the storage API, so the same code runs on either; what only makes sense on a
local disk (the health check's free space, the backup's moves) asks ``is_local`` first.
"""

from __future__ import annotations

import datetime
import posixpath
from collections.abc import Iterator

from django.core.files.storage import FileSystemStorage, Storage, default_storage


def is_local(storage: Storage = default_storage) -> bool:
    """Whether the files are in a folder on this machine (MEDIA_ROOT), not object storage."""
    return isinstance(storage, FileSystemStorage)


def modified_time(name: str, storage: Storage = default_storage) -> datetime.datetime | None:
    """When the file was last written, or None when it is gone."""
    try:
        return storage.get_modified_time(name)
    except FileNotFoundError:
        return None
    except Exception:
        # Object storage answers for a name deleted meanwhile with an error of its own (S3:
        # a 404 from botocore), not FileNotFoundError.
        if storage.exists(name):
            raise
        return None


def older_than(
    folder: str, cutoff: datetime.datetime, storage: Storage = default_storage
) -> list[str]:
    """The names of the files directly in ``folder`` last written before ``cutoff``, sorted;
    a file deleted while this looks is passed over. Lists through the storage, since object
    storage has no folder to walk."""
    try:
        names = storage.listdir(folder)[1]
    except FileNotFoundError:  # on disk, before the first file
        return []
    stale = []
    for name in sorted(names):
        path = f"{folder}/{name}"
        written = modified_time(path, storage)
        if written is not None and written < cutoff:
            stale.append(path)
    return stale


def walk(folder: str = "", storage: Storage = default_storage) -> Iterator[str]:
    """Every file's name under ``folder``, files before subfolders, each group sorted."""
    try:
        directories, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in sorted(files):
        yield posixpath.join(folder, name)
    for directory in sorted(directories):
        yield from walk(posixpath.join(folder, directory), storage)
