"""A throwaway PostgreSQL cluster of one's own, for the tests and benches that need a
server they may stop, start and fill as they like (the worker's survival of its database,
the load bench). It is scripts/with-postgres as a Python object: initdb in a temporary
folder, a free port on 127.0.0.1, durability off, removed on ``close``. And, for a bench
given a server instead (--database-url), a scratch database of its own on that server.

Debian's ``postgresql`` package provides the server binaries; ``make test`` and ``make
bench`` install it when missing."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def server_binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    if not found:
        raise RuntimeError(
            "PostgreSQL server binaries not found under /usr/lib/postgresql: install Debian's "
            "'postgresql' package (make test and make bench do)."
        )
    return Path(found[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """``with Cluster() as pg: pg.create_database("x"); pg.url("x"); pg.stop(); pg.start()``"""

    def __init__(self, *, max_connections: int = 100) -> None:
        self.bin = server_binaries()
        self.dir = Path(tempfile.mkdtemp(prefix="rectify-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.max_connections = max_connections
        # The server refuses to run as root: run it as Debian's postgres user.
        self.as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_pg:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "rectify",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.as_pg, str(self.bin / tool), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            f"-c synchronous_commit=off -c full_page_writes=off "
            f"-c max_connections={self.max_connections}"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "server.log"),
            "-w",
            "-o",
            options,
            "start",
        )

    def stop(self) -> None:
        """Stop at once, as a crash or a restart would: every connection is cut."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def create_database(self, name: str, *, template: str = "") -> str:
        """Create database ``name`` (a copy of ``template`` when given); its URL."""
        subprocess.run(
            [
                str(self.bin / "createdb"),
                *(["-T", template] if template else []),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "rectify",
                name,
            ],
            check=True,
        )
        return self.url(name)

    def url(self, name: str) -> str:
        return f"postgres://rectify@127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def scratch_postgres(server_url: str, bench: str) -> tuple[str, str]:
    """A new database for ``bench`` on the server of ``server_url`` (the database the URL
    names is left alone): (its URL, its name)."""
    import psycopg

    name = f"rectify_{bench}_bench_{os.getpid()}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name, name


def drop_postgres(server_url: str, name: str) -> None:
    """Drop ``scratch_postgres``'s database, connections and all."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
