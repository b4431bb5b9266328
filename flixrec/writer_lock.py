"""One writer at a time: a lock held in the catalogue database for as long as a build writes the index.

PostgreSQL: a session advisory lock (`pg_try_advisory_lock`), which the server releases when the holder's
connection ends, a killed process included; the holder is found in pg_stat_activity for the message.
SQLite (one host by nature): an OS file lock (flock) beside the database file, released by the kernel
when the holder dies, so a killed build never blocks the next one; the file names the holder.
Other databases get no lock (a warning says so).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from flixrec.database import one_line
from flixrec.errors import CatalogUnavailable, WriterBusy

log = logging.getLogger(__name__)
LOCK_NAMESPACE = 0x464C58
"""The first key of FlixRec's Postgres advisory locks ('FLX'); the second is a hash of the lock's name."""


def holder_description() -> str:
    """Who holds a lock: this process, its host and since when (no secrets)."""
    return f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}"


def _busy(name: str, holder: str) -> WriterBusy:
    return WriterBusy(f"another writer is building {name} ({holder}); one `python -m ingest embed` runs at a time: "
                      "wait for it to finish, then run the command again")


@contextlib.contextmanager
def writer_lock(engine: Engine, name: str) -> Iterator[None]:
    """Hold the database's writer lock called `name` inside the block; WriterBusy at once when another holds it."""
    backend = engine.url.get_backend_name()
    if backend == "postgresql":
        with _advisory_lock(engine, name):
            yield
    elif backend == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        with _file_lock(Path(str(engine.url.database)).expanduser(), name):
            yield
    else:
        log.warning("no writer lock on a %s database: make sure only one ingest writes at a time", backend)
        yield


def _second_key(name: str) -> int:
    """A stable non-negative 31-bit key of a lock name."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest(), "big") & 0x7FFFFFFF


@contextlib.contextmanager
def _advisory_lock(engine: Engine, name: str) -> Iterator[None]:
    """A Postgres session advisory lock on its own connection (released when the block ends or the process dies)."""
    key = _second_key(name)
    try:
        conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    except sa.exc.DBAPIError as exc:
        raise CatalogUnavailable(f"cannot take the writer lock {name!r}: {one_line(getattr(exc, 'orig', exc))}; "
                                 "check that the database server is running and FLIXREC_DATABASE_URL is right") from exc
    try:
        conn.execute(sa.text("SELECT set_config('application_name', :who, false)"),
                     {"who": f"flixrec writer {holder_description()}"[:63]})
        if not conn.execute(sa.text("SELECT pg_try_advisory_lock(:a, :b)"), {"a": LOCK_NAMESPACE, "b": key}).scalar():
            holder = conn.execute(sa.text(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :a AND l.objid = :b AND l.objsubid = 2"),
                {"a": LOCK_NAMESPACE, "b": key}).scalar()
            raise _busy(name, str(holder or "another session").removeprefix("flixrec writer "))
        try:
            yield
        finally:
            with contextlib.suppress(sa.exc.DBAPIError):
                conn.execute(sa.text("SELECT pg_advisory_unlock(:a, :b)"), {"a": LOCK_NAMESPACE, "b": key})
    finally:
        with contextlib.suppress(sa.exc.DBAPIError):
            conn.close()


@contextlib.contextmanager
def _file_lock(database: Path, name: str) -> Iterator[None]:
    """An flock on `<database>.writer-<key>.lock` (the kernel releases it when the holder exits or is killed)."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        log.warning("no writer lock on this platform: make sure only one ingest writes at a time")
        yield
        return
    path = database.with_name(f"{database.name}.writer-{_second_key(name):08x}.lock")
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole block
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise _busy(name, handle.read().strip() or "another process") from None
        handle.seek(0)
        handle.truncate()
        handle.write(holder_description())
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()
