"""Backup and restore of a whole installation: the database and every stored file.

``create`` writes one ``.tar.gz``: the database as its vendor's own copy (SQLite's online
backup of the file, PostgreSQL's ``pg_dump --format=custom``), then every media file under
``media/``, then ``manifest.json`` last, so an archive that holds a manifest is complete.
``restore`` puts it back into an empty database and an empty media folder, after checking
every file against the manifest. docs/backup.md says why it is built this way.

The files are those of the default storage. On a local disk (MEDIA_ROOT) they are walked,
read and moved as files on purpose: a symbolic link is passed over, and a restored file is
moved into place from a folder beside MEDIA_ROOT rather than copied. In object storage
(``MEDIA_STORAGE=s3``) the same archive is made and restored through the storage API:
listed, read and written by name.
"""

from __future__ import annotations

import dataclasses
import datetime
import gzip
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import django
from django.apps import apps
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connections, models, transaction
from django.db.backends.postgresql.client import DatabaseClient
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from ledger import storage

FORMAT = "rectify-backup"
VERSION = 1
MANIFEST = "manifest.json"
MEDIA = "media"
DATABASE_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
CHUNK = 1024 * 1024
# What the summaries name, in this order: table, one row, many rows.
SUMMARY = [
    ("ledger_round", "round", "rounds"),
    ("ledger_item", "item", "items"),
    ("ledger_suggestion", "suggestion", "suggestions"),
    ("ledger_event", "event", "events"),
    ("ledger_progress", "progress report", "progress reports"),
    ("ledger_evidence", "evidence file", "evidence files"),
    ("ledger_notice", "notice", "notices"),
    ("ledger_publication", "publication", "publications"),
    ("ledger_user", "user", "users"),
]


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _vendor(connection) -> str:
    if connection.vendor not in DATABASE_FILES:
        raise BackupError(f"Backups support SQLite and PostgreSQL, not {connection.vendor}.")
    return connection.vendor


def media_root() -> Path:
    return Path(settings.MEDIA_ROOT)


def media_place() -> str:
    """Where the files are, for a message."""
    if storage.is_local():
        return f"MEDIA_ROOT ({media_root()})"
    bucket = getattr(default_storage, "bucket_name", None)
    return f"the bucket {bucket}" if bucket else "the file storage"


def stored_names() -> Iterator[str]:
    """Every stored file's name (its path relative to MEDIA_ROOT on disk), sorted."""
    if storage.is_local():
        for relative, _path in media_files(media_root()):
            yield relative
    else:
        yield from storage.walk()


def sha256_stored(name: str) -> str:
    digest = hashlib.sha256()
    with default_storage.open(name, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def media_files(root: Path) -> Iterator[tuple[str, Path]]:
    """Every regular file under ``root`` as (relative POSIX path, path), sorted."""
    if not root.is_dir():
        return
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = Path(directory) / name
            yield path.relative_to(root).as_posix(), path


def ledger_rows(using: str = "default") -> dict[str, int]:
    """Rows in each of the ledger app's tables that has any (all of them: the base manager,
    since the default one of Item leaves withdrawn items out)."""
    connection = connections[using]
    tables = set(connection.introspection.table_names())
    counts = {}
    for model in apps.get_app_config("ledger").get_models(include_auto_created=True):
        if model._meta.db_table in tables:
            n = model._base_manager.using(using).count()
            if n:
                counts[model._meta.db_table] = n
    return counts


def _describe(counts: dict[str, int]) -> str:
    parts = [
        f"{counts[table]} {one if counts[table] == 1 else many}"
        for table, one, many in SUMMARY
        if counts.get(table)
    ]
    named = {table for table, _one, _many in SUMMARY}
    others = sum(n for table, n in counts.items() if table not in named)
    if others:
        parts.append(f"{others} other {'row' if others == 1 else 'rows'}")
    return ", ".join(parts) or "no rows"


def count_text(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def size_text(size: int) -> str:
    """Bytes for a reader, in English like the rest of the commands' output."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


# --- Migration state -------------------------------------------------------------------------


def _last_per_app(applied: set[tuple[str, str]]) -> dict[str, str]:
    """The last applied migration of each app, by the code's migration graph (a later one's
    plan holds every earlier one's), by name for one the code does not know."""
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    last: dict[str, tuple[int, str]] = {}
    for app, name in applied:
        rank = len(graph.forwards_plan((app, name))) if (app, name) in graph.nodes else 0
        if app not in last or (rank, name) > last[app]:
            last[app] = (rank, name)
    return {app: name for app, (_rank, name) in sorted(last.items())}


def _unknown_and_pending(migrations: dict[str, str]) -> tuple[list[str], list[str]]:
    """The backup's migrations this code does not have (the backup is of a newer version),
    and the apps whose code has migrations after the backup's (``migrate`` after restore)."""
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    unknown = [f"{app}.{name}" for app, name in migrations.items() if (app, name) not in graph]
    pending = [f"{app}.{name}" for app, name in graph.leaf_nodes() if migrations.get(app) != name]
    return unknown, sorted(pending)


# --- Reading a database snapshot -------------------------------------------------------------


def _snapshot_facts(cursor, tables: list[str], quote) -> dict[str, Any]:
    """Row counts, migration state and the file names the rows hold, read from the same
    snapshot as the dump so that the manifest describes exactly what was dumped."""
    counts = {}
    for table in tables:
        cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")
        counts[table] = cursor.fetchone()[0]
    applied: set[tuple[str, str]] = set()
    if "django_migrations" in counts:
        cursor.execute("SELECT app, name FROM django_migrations")
        applied = {(app, name) for app, name in cursor.fetchall()}
    named_files: set[str] = set()
    for model in apps.get_models():
        table = model._meta.db_table
        for field in model._meta.concrete_fields:
            if isinstance(field, models.FileField) and table in counts:
                column = quote(field.column)
                cursor.execute(
                    f"SELECT {column} FROM {quote(table)} WHERE {column} IS NOT NULL "
                    f"AND {column} <> ''"
                )
                named_files.update(name for (name,) in cursor.fetchall())
    return {"rows": counts, "migrations": _last_per_app(applied), "named_files": named_files}


def _dump_sqlite(connection, target: Path) -> dict[str, Any]:
    """SQLite's online backup: a consistent copy of the live database, WAL included, while
    the application keeps writing."""
    connection.ensure_connection()
    with sqlite3.connect(target) as copy:
        connection.connection.backup(copy)
    copy.close()
    with sqlite3.connect(target) as copy:
        cursor = copy.cursor()
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
        tables = [name for (name,) in cursor.fetchall()]
        facts = _snapshot_facts(cursor, tables, connection.ops.quote_name)
    copy.close()
    return facts


def _program(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(
            f"{name} was not found. Install Debian's postgresql-client (its major version "
            "the same as the server's, or newer)."
        )
    return found


def _pg_command(connection, program: str, *args: str) -> tuple[list[str], dict[str, str]]:
    """A pg_dump or pg_restore command line for this connection, and its environment."""
    s = connection.settings_dict
    _psql, env = DatabaseClient.settings_to_cmd_args_env(s, [])
    command = [_program(program)]
    if s.get("USER"):
        command += ["--username", s["USER"]]
    if s.get("HOST"):
        command += ["--host", s["HOST"]]
    if s.get("PORT"):
        command += ["--port", str(s["PORT"])]
    if s.get("NAME"):
        command += ["--dbname", s["NAME"]]
    command += ["--no-password", *args]
    return command, {**os.environ, **(env or {})}


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(
            f"{Path(command[0]).name} failed (exit {done.returncode}):\n{done.stderr.strip()}"
        )


def _dump_postgresql(connection, target: Path) -> dict[str, Any]:
    """pg_dump of the snapshot this connection exports, and the manifest's facts read in
    that same snapshot: the dump and its description cannot disagree."""
    if connection.in_atomic_block:
        raise BackupError("Run the backup outside a transaction: it starts its own snapshot.")
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        command, env = _pg_command(
            connection, "pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--file={target}"
        )
        _run(command, env)
        tables = sorted(connection.introspection.table_names(cursor))
        return _snapshot_facts(cursor, tables, connection.ops.quote_name)


# --- Backup ----------------------------------------------------------------------------------


class _Hashing:
    """A file read through for tarfile, hashed on the way."""

    def __init__(self, f):
        self.f = f
        self.digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.digest.update(data)
        return data


def _add(tar: tarfile.TarFile, name: str, path: Path) -> dict[str, Any]:
    """Add one file, reading it once; returns its size and SHA-256 as archived."""
    with open(path, "rb") as f:
        stat = os.fstat(f.fileno())
        info = tarfile.TarInfo(name)
        info.size = stat.st_size
        info.mtime = int(stat.st_mtime)
        info.mode = 0o600
        reader = _Hashing(f)
        tar.addfile(info, reader)
    return {"size": info.size, "sha256": reader.digest.hexdigest()}


def _add_stored(tar: tarfile.TarFile, name: str, relative: str) -> dict[str, Any]:
    """Add one file of object storage, read through the storage API."""
    with default_storage.open(relative, "rb") as f:
        info = tarfile.TarInfo(name)
        info.size = f.size
        written = storage.modified_time(relative)
        info.mtime = int(written.timestamp()) if written else int(time.time())
        info.mode = 0o600
        reader = _Hashing(f)
        tar.addfile(info, reader)
    return {"size": info.size, "sha256": reader.digest.hexdigest()}


def _add_media(tar: tarfile.TarFile) -> tuple[list[dict[str, Any]], list[str]]:
    """Every stored file: the manifest's entries, and what was passed over."""
    media: list[dict[str, Any]] = []
    skipped: list[str] = []
    if not storage.is_local():
        for relative in storage.walk():
            try:
                entry = _add_stored(tar, f"{MEDIA}/{relative}", relative)
            except FileNotFoundError:
                skipped.append(relative)  # deleted while the backup ran
                continue
            media.append({"path": relative, **entry})
        return media, skipped
    for relative, file in media_files(media_root()):
        if file.is_symlink() or not file.is_file():
            skipped.append(relative)
            continue
        try:
            entry = _add(tar, f"{MEDIA}/{relative}", file)
        except FileNotFoundError:
            # Deleted while the backup ran (a confirmed import's upload): not needed.
            skipped.append(relative)
            continue
        media.append({"path": relative, **entry})
    return media, skipped


@dataclasses.dataclass
class BackupResult:
    path: Path
    manifest: dict[str, Any]
    skipped: list[str]  # under MEDIA_ROOT but not regular files, or gone while being read
    missing: list[str]  # named by a row, not stored


def create(output: Path, using: str = "default") -> BackupResult:
    connection = connections[using]
    vendor = _vendor(connection)
    if storage.is_local() and output.resolve().is_relative_to(media_root().resolve()):
        raise BackupError(f"{output} is inside MEDIA_ROOT: a backup would hold the last one.")
    output.mkdir(parents=True, exist_ok=True)
    created_at = timezone.now()
    stem = f"rectify-{timezone.localtime(created_at):%Y%m%d-%H%M%S}"
    path = output / f"{stem}.tar.gz"
    n = 1
    while path.exists():
        n += 1
        path = output / f"{stem}-{n}.tar.gz"
    with tempfile.TemporaryDirectory(prefix=".backup-", dir=output) as tmp:
        database = Path(tmp) / DATABASE_FILES[vendor]
        # The database first: a file is stored before its row commits, so every file a
        # dumped row names is already there when the files are read after it.
        dump = _dump_sqlite if vendor == "sqlite" else _dump_postgresql
        facts = dump(connection, database)
        partial = Path(tmp) / "archive.tar.gz"
        # The archive holds password hashes and citizens' words: readable by its owner only.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz", compresslevel=6) as tar:
                db_entry = _add(tar, DATABASE_FILES[vendor], database)
                media, skipped = _add_media(tar)
                missing = sorted(facts["named_files"] - {entry["path"] for entry in media})
                manifest = {
                    "format": FORMAT,
                    "version": VERSION,
                    "created_at": created_at.isoformat(),
                    "django": django.get_version(),
                    "database": {
                        "vendor": vendor,
                        "file": DATABASE_FILES[vendor],
                        **db_entry,
                        "rows": facts["rows"],
                    },
                    "migrations": facts["migrations"],
                    "media": media,
                    "missing_media": missing,
                }
                data = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size = len(data)
                info.mtime = int(created_at.timestamp())
                info.mode = 0o600
                tar.addfile(info, io.BytesIO(data))
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, path)
    return BackupResult(path, manifest, skipped, missing)


# --- Restore ---------------------------------------------------------------------------------


@dataclasses.dataclass
class RestoreResult:
    manifest: dict[str, Any]
    rows: dict[str, int]
    files: int
    size: int
    pending: list[str]  # migrations to run after
    left: list[str]  # files already stored that the backup does not have (--force)


def _safe_member(name: str) -> str | None:
    """The member's path under media/ (or its own name for the manifest and database), or
    None for a name that could land outside the staging folder."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or "\\" in name:
        return None
    return path.as_posix()


def _extract(archive: Path, staging: Path) -> dict[str, dict[str, Any]]:
    """Every member into ``staging``, hashed as it is written: name → size, sha256."""
    found: dict[str, dict[str, Any]] = {}
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for member in tar:
                name = _safe_member(member.name)
                if member.isdir():
                    continue
                if name is None or not member.isfile():
                    raise BackupError(
                        f"{archive} holds {member.name!r}, which a Rectify backup never holds."
                    )
                target = staging / name
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                digest = hashlib.sha256()
                size = 0
                with open(target, "xb") as out:
                    while chunk := source.read(CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                found[name] = {"size": size, "sha256": digest.hexdigest()}
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, FileExistsError) as error:
        raise BackupError(f"{archive} is damaged or incomplete ({error}).") from None
    return found


def _read_manifest(archive: Path, staging: Path, found: dict) -> dict[str, Any]:
    if MANIFEST not in found:
        raise BackupError(
            f"{archive} has no {MANIFEST}: it is not a Rectify backup, or it was cut short."
        )
    try:
        manifest = json.loads((staging / MANIFEST).read_text("utf-8"))
    except ValueError as error:
        raise BackupError(f"{archive}'s {MANIFEST} cannot be read ({error}).") from None
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise BackupError(
            f"{archive} is not a Rectify backup of version {VERSION} "
            f"(format {manifest.get('format')!r}, version {manifest.get('version')!r})."
        )
    return manifest


def _check_against_manifest(archive: Path, manifest: dict, found: dict) -> None:
    database = manifest["database"]
    expected = {database["file"]: database} | {
        f"{MEDIA}/{entry['path']}": entry for entry in manifest["media"]
    }
    wrong = []
    for name, entry in expected.items():
        got = found.get(name)
        if got is None:
            wrong.append(f"{name}: missing from the archive")
        elif (got["size"], got["sha256"]) != (entry["size"], entry["sha256"]):
            wrong.append(f"{name}: its SHA-256 is not the manifest's")
    extra = sorted(set(found) - set(expected) - {MANIFEST})
    wrong += [f"{name}: not in the manifest" for name in extra]
    if wrong:
        shown = "\n  ".join(wrong[:20]) + ("\n  …" if len(wrong) > 20 else "")
        raise BackupError(
            f"{archive} does not match its manifest; nothing was restored.\n  {shown}"
        )


def _restore_sqlite(connection, database: Path) -> None:
    """SQLite's backup API, from the archived file into the live database: every page
    replaced in one step, under the database's own lock, WAL and all (copying the file over
    the live one would leave its -wal file to be replayed onto the wrong database)."""
    connection.ensure_connection()
    if connection.connection.in_transaction:
        raise BackupError("The database connection is inside a transaction; run restore alone.")
    with sqlite3.connect(database) as source:
        source.backup(connection.connection)
    source.close()
    connection.close()


def _restore_postgresql(connection, database: Path, manifest: dict) -> None:
    """pg_restore in one transaction: the dump's tables, dropped first if they exist, are
    created, filled, then given their indexes, triggers and sequence values."""
    archived = set(manifest["database"]["rows"])
    extra = sorted(set(connection.introspection.table_names()) - archived)
    if extra:
        # --clean drops only what the dump holds; a table it does not would stay and make
        # the next migrate fail.
        raise BackupError(
            "The database has tables the backup does not ("
            + ", ".join(extra[:10])
            + "): it was migrated by a newer version. Restore into a database just created "
            "(createdb), then run migrate."
        )
    connection.close()
    command, env = _pg_command(
        connection,
        "pg_restore",
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        str(database),
    )
    _run(command, env)


def _table_counts(connection, tables) -> dict[str, int]:
    counts = {}
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


def _put_stored(source: Path, name: str, *, replace: bool) -> None:
    """Write one checked file into object storage under its own name. A storage never
    overwrites (it picks another name), so with --force the file there goes first."""
    if replace:
        default_storage.delete(name)
    with open(source, "rb") as f:
        saved = default_storage.save(name, File(f, name=name))
    if saved != name:
        raise BackupError(
            f"{name} could not be restored under its own name (stored as {saved}): another "
            "process wrote it meanwhile. Stop the web processes and the worker, then restore "
            "again with --force."
        )


def refusal(using: str = "default") -> str:
    """Why restoring here without --force would overwrite something, or ""."""
    reasons = []
    rows = ledger_rows(using)
    if rows:
        reasons.append(f"The database already holds ledger rows ({_describe(rows)}).")
    files = sum(1 for _ in stored_names())
    if files:
        place = media_place()
        reasons.append(f"{place[0].upper()}{place[1:]} already holds {files} files.")
    return " ".join(reasons)


def restore(archive: Path, using: str = "default", force: bool = False) -> RestoreResult:
    connection = connections[using]
    vendor = _vendor(connection)
    if not archive.is_file():
        raise BackupError(f"{archive} is not a file.")
    if not force and (why := refusal(using)):
        raise BackupError(
            f"{why} Nothing was restored. Restore into an empty database and an empty media "
            "folder, or pass --force to replace what is there."
        )
    local = storage.is_local()
    root = media_root()
    if local:
        root.mkdir(parents=True, exist_ok=True)
    # Staged beside MEDIA_ROOT, so that each checked file is moved into place, not copied;
    # for object storage, in the temporary folder (TMPDIR).
    staging_parent = root.parent if local else None
    with tempfile.TemporaryDirectory(prefix=".rectify-restore-", dir=staging_parent) as tmp:
        staging = Path(tmp)
        found = _extract(archive, staging)
        manifest = _read_manifest(archive, staging, found)
        _check_against_manifest(archive, manifest, found)
        if manifest["database"]["vendor"] != vendor:
            raise BackupError(
                f"{archive} is a backup of a {manifest['database']['vendor']} database; this "
                f"installation uses {vendor}. Restoring across vendors is not supported "
                "(docs/backup.md)."
            )
        unknown, pending = _unknown_and_pending(manifest["migrations"])
        if unknown:
            raise BackupError(
                f"{archive} was made by a newer version of Rectify (migrations this code does "
                f"not have: {', '.join(unknown)}). Update the code first; nothing was restored."
            )
        database = staging / manifest["database"]["file"]
        if vendor == "sqlite":
            _restore_sqlite(connection, database)
        else:
            _restore_postgresql(connection, database, manifest)
        archived = {entry["path"] for entry in manifest["media"]}
        left = [relative for relative in stored_names() if relative not in archived]
        if apps.is_installed("django.contrib.contenttypes"):
            from django.contrib.contenttypes.models import ContentType

            # This process may have cached the ids of the rows just replaced.
            ContentType.objects.clear_cache()
        for entry in manifest["media"]:
            if local:
                target = root / entry["path"]
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / MEDIA / entry["path"], target)
            else:
                _put_stored(staging / MEDIA / entry["path"], entry["path"], replace=force)
    # Read back from where they now are: what the application will serve.
    differ = [
        entry["path"]
        for entry in manifest["media"]
        if (sha256_of(root / entry["path"]) if local else sha256_stored(entry["path"]))
        != entry["sha256"]
    ]
    if differ:
        raise BackupError("Restored files differ from the manifest: " + ", ".join(differ[:20]))
    rows = _table_counts(connection, manifest["database"]["rows"])
    if rows != manifest["database"]["rows"]:
        wrong = [t for t in rows if rows[t] != manifest["database"]["rows"][t]]
        raise BackupError("Restored tables differ from the manifest's counts: " + ", ".join(wrong))
    return RestoreResult(
        manifest=manifest,
        rows=rows,
        files=len(manifest["media"]),
        size=sum(entry["size"] for entry in manifest["media"]),
        pending=pending,
        left=left,
    )


def describe_rows(rows: dict[str, int]) -> str:
    return _describe({table: n for table, n in rows.items() if n})


def created_local(manifest: dict) -> str:
    created = datetime.datetime.fromisoformat(manifest["created_at"])
    return f"{timezone.localtime(created):%Y-%m-%d %H:%M:%S %Z}"
