"""Answers computed ahead: every indexed title's default similar-titles page, stored once for every worker.

A similar-titles page costs the core 10-25 ms of CPU at 300k titles, so two cores answer about a hundred
first-time requests a second; 50 clients that never pause need about a thousand for a p99 under 50 ms
(docs/performance.md, "Answers computed ahead"). `python -m ingest answers` asks this API, in process,
for the default page of every title in the served build (GET /v1/titles/{id}/similar: k=20, no filters,
no offset) and keeps each response, gzipped as the server sends it, in one SQLite file per build beside
the snapshots. The response cache (flixrec.api.cache) answers such a request from that file when its
in-memory LRU misses, with the bytes, headers and ETag the routes would send (`X-FlixRec-Cache:
stored`); every other request reaches the routes as before.

A file serves only the build and the version that wrote it: its name carries the build stamp and a
fingerprint of what shapes an answer (the API version, the flixrec sources, the ranking weights, whether
a key is required). Filling resumes where it stopped (each process commits every COMMIT_EVERY titles),
stops when a newer build is published, and publishes the finished file with one rename. A file that
cannot be read is ignored (logged once) and the routes answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import gc
import gzip
import hashlib
import json
import logging
import multiprocessing
import os
import signal
import sqlite3
import time
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import flixrec
from flixrec.api.deps import API_VERSION
from flixrec.config import Settings
from flixrec.errors import FlixrecError
from flixrec.index.location import IndexLocation
from flixrec.service import FlixRec

log = logging.getLogger("flixrec.api")
FOLDER = "answers"
COMMIT_EVERY = 256
"""Titles a filling process computes between commits (what a crash can lose) and between checks for a newer build."""
RECHECK_S = 5.0
"""How often a server without a finished file for its build looks again."""
STORED_QUERY = ""
"""The normalised query of the stored pages: the default one (k=20, no filters, offset 0)."""
_TABLES = (
    "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, headers TEXT NOT NULL, body BLOB NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS skipped (key TEXT PRIMARY KEY, status INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
Headers = list[tuple[bytes, bytes]]


class AnswersNotFinished(FlixrecError):
    """Filling stopped before every title had its answer (a newer build, a failed process); run it again."""


def similar_page_path(title_id: str) -> str:
    """The path of a title's similar-titles page, as the router sees it (decoded)."""
    return f"/v1/titles/{title_id}/similar"


def answer_key(path: str, query: str) -> str:
    """The stored key of a request: its path and normalised query (flixrec.api.deps.normalised_query)."""
    return f"{path}?{query}"


def answers_folder(settings: Settings) -> Path:
    """Where the answer files live: beside the build snapshots (shared by replicas that share those)."""
    return IndexLocation.from_settings(settings).snapshot_root / FOLDER


@functools.lru_cache(maxsize=1)
def _sources_digest() -> bytes:
    package = Path(flixrec.__file__).resolve().parent
    digest = hashlib.blake2b(digest_size=16)
    for source in sorted(package.rglob("*.py")):
        digest.update(source.relative_to(package).as_posix().encode("utf-8"))
        digest.update(source.read_bytes())
    return digest.digest()


def fingerprint(settings: Settings) -> str:
    """What, besides the build, shapes a stored answer: the API version, the flixrec sources (ranking and response
    code), the ranking weights, and whether a key is required (Cache-Control says private then)."""
    digest = hashlib.blake2b(_sources_digest(), digest_size=8)
    digest.update(f"{API_VERSION}|{settings.ranking!r}|{'keyed' if settings.api_key else 'open'}".encode("utf-8"))
    return digest.hexdigest()


def answers_file(settings: Settings, stamp: str) -> Path:
    """The finished answer file of this build and this version."""
    return answers_folder(settings) / f"{stamp}-{fingerprint(settings)}.sqlite3"


class StoredAnswers:
    """The read side: the served build's finished answer file, opened read-only (once per process, lazily)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._stamp: str | None = None
        self._db: sqlite3.Connection | None = None
        self._pid = 0
        self._file: tuple[Path, int, int] = (Path(), 0, 0)
        self._looked = 0.0
        self._unreadable: set[tuple[Path, int, int]] = set()
        """Files found damaged or unfinished, by path, inode and modification time: a new fill's file is tried."""

    def get(self, stamp: str, path: str, query: str, gzip_ok: bool) -> tuple[Headers, bytes] | None:
        """The stored response (headers, body) for this request of this build, gzipped only when the client takes it;
        None when there is none."""
        if query != STORED_QUERY or not path.endswith("/similar"):
            return None
        db = self._connection(stamp)
        if db is None:
            return None
        try:
            row = db.execute("SELECT headers, body FROM answers WHERE key = ?", (answer_key(path, query),)).fetchone()
        except UnicodeEncodeError:  # a path no stored page has (a lone surrogate): the routes answer it
            return None
        except sqlite3.DatabaseError as exc:
            self._give_up(exc)
            return None
        if row is None:
            return None
        try:
            headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in json.loads(row[0])]
            body = row[1]
            if not gzip_ok and (b"content-encoding", b"gzip") in headers:
                body = gzip.decompress(body)
                headers = [(name, value) for name, value in headers if name not in (b"content-encoding", b"content-length")]
                headers.append((b"content-length", str(len(body)).encode("ascii")))
        except (ValueError, TypeError, OSError, EOFError, zlib.error) as exc:  # a damaged entry
            self._give_up(exc)
            return None
        return headers, body

    def _connection(self, stamp: str) -> sqlite3.Connection | None:
        """The open file of this build; None when there is none (looked for again every RECHECK_S)."""
        if self._pid != os.getpid():  # a forked worker opens its own
            self._pid, self._db, self._stamp = os.getpid(), None, None
        if stamp == self._stamp and (self._db is not None or time.monotonic() - self._looked < RECHECK_S):
            return self._db
        if self._db is not None:
            self._db.close()
        self._stamp, self._db, self._looked = stamp, None, time.monotonic()
        path = answers_file(self.settings, stamp)
        try:
            found = path.stat()
        except OSError:
            return None
        self._file = (path, found.st_ino, found.st_mtime_ns)
        if self._file in self._unreadable:
            return None
        try:
            db = sqlite3.connect(f"{path.as_uri()}?mode=ro&immutable=1", uri=True, check_same_thread=False)
            meta = dict(db.execute("SELECT name, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            self._unreadable.add(self._file)
            log.warning("not using the stored answers of build %s: the file cannot be read (%s); "
                        "run: python -m ingest answers", stamp, exc)
            return None
        if meta.get("complete") != "1" or meta.get("stamp") != stamp:
            db.close()
            self._unreadable.add(self._file)
            log.warning("not using the stored answers of build %s: the file is unfinished; run: python -m ingest answers",
                        stamp)
            return None
        log.info("answering %s default similar-titles pages of build %s from stored answers", meta.get("answers"), stamp)
        self._db = db
        return db

    def _give_up(self, exc: Exception) -> None:
        log.warning("not using the stored answers of build %s any more: %s; run: python -m ingest answers",
                    self._stamp, exc)
        self._unreadable.add(self._file)
        if self._db is not None:
            self._db.close()
        self._db = None


@dataclasses.dataclass(frozen=True)
class FillSummary:
    """What `ingest answers` did."""

    stamp: str
    titles: int
    answers: int
    skipped: int
    computed: int
    seconds: float
    file_bytes: int

    def line(self) -> str:
        """One line for the CLI."""
        note = f", {self.skipped} titles without a page" if self.skipped else ""
        return (f"answers:   {self.answers} of {self.titles} titles of build {self.stamp} stored ({self.computed} computed "
                f"in {self.seconds:.0f} s{note}; {self.file_bytes / 2**20:.0f} MiB)")


def fill_answers(settings: Settings, workers: int = 1, progress: Callable[[int, int], None] | None = None,
                 service: FlixRec | None = None) -> FillSummary:
    """Compute and store the default similar-titles page of every title of the served build, in `workers`
    processes; resumes a fill that stopped, and returns at once when the file is already finished."""
    began = time.monotonic()
    service = service or FlixRec(settings)
    service.warm_up()
    stamp = service.build_stamp()
    ids = service.indexed_ids()
    final = answers_file(settings, stamp)
    folder = final.parent
    folder.mkdir(parents=True, exist_ok=True)
    if final.is_file():
        summary = _summary_of(final, stamp, len(ids), computed=0, seconds=time.monotonic() - began)
        if summary is not None:
            _remove_others(folder, final)
            return summary
        final.unlink()
    part_prefix = f".{final.stem}.part-"
    done = _keys_in(sorted(folder.glob(f"{part_prefix}*.sqlite3")))
    todo = [title_id for title_id in ids if answer_key(similar_page_path(title_id), STORED_QUERY) not in done]
    counter = multiprocessing.Value("q", len(ids) - len(todo))
    workers = max(1, min(workers, len(todo)))
    slices = [todo[i::workers] for i in range(workers)]
    parts = [folder / f"{part_prefix}{uuid.uuid4().hex[:12]}.sqlite3" for _ in slices]
    if workers == 1:
        _fill_part(settings, service, stamp, slices[0], parts[0], counter, lambda: _report(progress, counter, len(ids)))
    else:
        _fill_in_processes(settings, service, stamp, slices, parts, counter, lambda: _report(progress, counter, len(ids)))
    _report(progress, counter, len(ids))
    return _publish(folder, final, part_prefix, stamp, len(ids), len(todo), began)


def _report(progress: Callable[[int, int], None] | None, counter, total: int) -> None:
    if progress is not None:
        progress(counter.value, total)


def _fill_in_processes(settings: Settings, service: FlixRec, stamp: str, slices: list[list[str]], parts: list[Path],
                       counter, report: Callable[[], None]) -> None:
    """Fork one process per slice over the loaded service (its snapshot and features shared copy-on-write)."""
    service.release_connections()
    gc.collect()
    gc.freeze()
    children: dict[int, int] = {}
    for ids, part in zip(slices, parts):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent stops the children
                service.after_fork()
                _fill_part(settings, service, stamp, ids, part, counter, lambda: None)
            except AnswersNotFinished:
                code = 3
            except BaseException:  # noqa: BLE001  (a child must never return into the parent's code)
                log.exception("computing answers failed")
                code = 1
            finally:
                os._exit(code)
        children[pid] = 0
    failed = []
    try:
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                report()
                time.sleep(0.5)
                continue
            children.pop(pid, None)
            if status:
                failed.append(os.waitstatus_to_exitcode(status))
    finally:
        for pid in children:  # interrupted: stop the others (their committed work is kept)
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
    if 3 in failed:
        raise AnswersNotFinished("a newer build was published while computing answers; run: python -m ingest answers")
    if failed:
        raise AnswersNotFinished("a process computing answers failed (its error is logged above); "
                                 "run: python -m ingest answers (it resumes)")


def _fill_part(settings: Settings, service: FlixRec, stamp: str, ids: list[str], part: Path, counter,
               report: Callable[[], None]) -> None:
    """Ask the API for each title's page and keep the answers in `part`, committing every COMMIT_EVERY titles."""
    from flixrec.api.app import create_app  # here: app imports this module

    app = create_app(settings, service, response_cache_mib=0, stored_answers=False)
    headers = [(b"host", b"answers.local"), (b"accept-encoding", b"gzip")]
    if settings.api_key:
        headers.append((b"x-api-key", settings.api_key.encode("utf-8")))
    db = sqlite3.connect(part)
    for table in _TABLES:
        db.execute(table)

    async def fill() -> None:
        committed = 0
        for n, title_id in enumerate(ids, 1):
            path = similar_page_path(title_id)
            status, answer_headers, body = await _get(app, path, headers)
            key = answer_key(path, STORED_QUERY)
            if status == 200:
                shown = json.dumps([[name.decode("latin-1"), value.decode("latin-1")] for name, value in answer_headers])
                db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?)", (key, shown, body))
            else:
                db.execute("INSERT OR REPLACE INTO skipped VALUES (?, ?)", (key, status))
            if n % COMMIT_EVERY == 0 or n == len(ids):
                db.commit()
                with counter.get_lock():
                    counter.value += n - committed
                committed = n
                report()
                if service.settled_stamp() != stamp:
                    raise AnswersNotFinished("a newer build was published while computing answers; "
                                             "run: python -m ingest answers")

    try:
        asyncio.run(fill())
    finally:
        db.close()


async def _get(app, path: str, headers: Headers) -> tuple[int, Headers, bytes]:
    """One GET through the whole ASGI app (middleware included), in process: status, headers, body as sent."""
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": quote(path).encode("ascii"), "root_path": "",
             "query_string": b"", "headers": headers, "client": ("127.0.0.1", 0), "server": ("answers.local", 80)}
    start: dict = {}
    chunks: list[bytes] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return start["status"], list(start.get("headers", [])), b"".join(chunks)


def _keys_in(parts: list[Path]) -> set[str]:
    """The keys already answered (or skipped) in earlier parts; a part that cannot be read is deleted."""
    keys: set[str] = set()
    for part in parts:
        try:
            with sqlite3.connect(part) as db:
                for table in ("answers", "skipped"):
                    keys.update(key for (key,) in db.execute(f"SELECT key FROM {table}"))  # noqa: S608 (fixed names)
        except sqlite3.DatabaseError as exc:
            log.warning("starting over the answers in %s: %s", part.name, exc)
            part.unlink(missing_ok=True)
    return keys


def _publish(folder: Path, final: Path, part_prefix: str, stamp: str, titles: int, computed: int, began: float) -> FillSummary:
    """Merge the parts into one file, check every title has its answer, and rename it into place."""
    merging = folder / f".{final.stem}.merging-{uuid.uuid4().hex[:12]}"
    parts = sorted(folder.glob(f"{part_prefix}*.sqlite3"))
    db = sqlite3.connect(merging)
    try:
        for table in _TABLES:
            db.execute(table)
        for part in parts:
            db.execute("ATTACH DATABASE ? AS part", (str(part),))
            db.execute("INSERT OR IGNORE INTO answers SELECT key, headers, body FROM part.answers")
            db.execute("INSERT OR IGNORE INTO skipped SELECT key, status FROM part.skipped")
            db.commit()
            db.execute("DETACH DATABASE part")
        answers = db.execute("SELECT count(*) FROM answers").fetchone()[0]
        skipped = db.execute("SELECT count(*) FROM skipped").fetchone()[0]
        if answers + skipped < titles:
            raise AnswersNotFinished(f"{answers + skipped} of {titles} titles have their answer; "
                                     "run: python -m ingest answers (it resumes)")
        meta = {"stamp": stamp, "fingerprint": final.stem.rsplit("-", 1)[1], "complete": "1", "answers": str(answers),
                "skipped": str(skipped), "titles": str(titles)}
        db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())
        db.commit()
    except BaseException:
        db.close()
        merging.unlink(missing_ok=True)
        raise
    db.close()
    os.replace(merging, final)
    if skipped:
        log.warning("%d titles answered with an error instead of a page; they are answered live", skipped)
    _remove_others(folder, final)
    summary = _summary_of(final, stamp, titles, computed, time.monotonic() - began)
    assert summary is not None
    return summary


def _summary_of(final: Path, stamp: str, titles: int, computed: int, seconds: float) -> FillSummary | None:
    """The summary of a finished file of this build; None when it is damaged or unfinished."""
    try:
        with sqlite3.connect(f"{final.as_uri()}?mode=ro", uri=True) as db:
            meta = dict(db.execute("SELECT name, value FROM meta").fetchall())
    except sqlite3.DatabaseError:
        return None
    if meta.get("complete") != "1" or meta.get("stamp") != stamp:
        return None
    return FillSummary(stamp, titles, int(meta["answers"]), int(meta["skipped"]), computed, seconds, final.stat().st_size)


def _remove_others(folder: Path, keep: Path) -> None:
    """Delete the answer files of other builds or versions, and leftovers of fills that did not finish for them."""
    own = f".{keep.stem}."
    for path in folder.iterdir():
        if path != keep and not path.name.startswith(own):
            path.unlink(missing_ok=True)
    for path in folder.glob(f"{own}*"):  # this build's parts and merges, now in `keep`
        path.unlink(missing_ok=True)
