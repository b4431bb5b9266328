"""The persistent Chroma collection (cosine space) of one model's title vectors, and its build stamp.

Chroma stores the vectors and their filterable metadata, keyed by title id; queries do not go through
it (see flixrec.index.snapshot). Ingest writes the collection and then a build stamp; readers compare
the stamp to know when to reload. The collection is in a local directory (ledger and stamp as files
beside it) or on a Chroma server (ledger and stamp in the catalogue database: flixrec.index.location).
This module is the one place where Chroma, HTTP, sqlite3 and SQLAlchemy (ledger) exceptions become core
errors, naming the file or server; chromadb is imported only when an index is opened.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from flixrec.embedding import collection_name
from flixrec.errors import IndexNotBuilt, IndexUnavailable
from flixrec.index.ledger import Hashes, IndexLedger, metadata_hash
from flixrec.index.location import IndexLocation
from flixrec.index.shared_ledger import SqlLedger
from flixrec.models import NUMERIC_FIELDS, Title
from flixrec.redact import redact_text

# Chroma reads this when it is imported; the only place FlixRec sets it (the Makefile exports it too).
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

HNSW_CONFIGURATION: dict[str, Any] = {"space": "cosine", "ef_construction": 40, "max_neighbors": 16, "ef_search": 200}
"""Chroma HNSW settings of a new collection (an existing one keeps its own): a cheaper graph build,
paid back by a wider search, since the app ranks with its snapshot (see docs/performance.md)."""


REPAIR_HINT = "if it is damaged, rebuild the index from the catalogue: python -m ingest repair"
"""What every index failure message ends with (ingest's `repair_index` behind that command)."""


METADATA_FIELDS = ("media_type", *NUMERIC_FIELDS, "language", "genres", "languages", "certification")
"""The Title fields `title_metadata` reads."""


def title_metadata(title: Title) -> dict[str, Any]:
    """The filterable metadata stored beside a title's vector (Chroma keeps no nulls: they are left out)."""
    meta: dict[str, Any] = {"media_type": title.media_type}
    for name in NUMERIC_FIELDS:
        value = getattr(title, name)
        if value is not None:
            meta[name] = float(value) if name == "rating" else int(value)
    if title.language:
        meta["language"] = title.language
    if title.genres:
        meta["genres"] = list(title.genres)
    if title.languages:
        meta["languages"] = list(title.languages)
    if title.certification:
        meta["certification"] = title.certification
    return meta


SERVER_HINT = "check that the Chroma server (chroma run) is running and reachable and that FLIXREC_CHROMA_URL is right"
"""What a failure to reach the Chroma server ends with."""


@contextlib.contextmanager
def _translated_errors(action: str, chroma_dir: Path, ledger_path: Path | None = None,
                       location: IndexLocation | None = None) -> Iterator[None]:
    """Chroma, HTTP and ledger (sqlite3, SQL) failures as IndexUnavailable, naming the file or server and
    what was being done."""
    import httpx
    import sqlalchemy as sa
    from chromadb.errors import ChromaError

    remote = location is not None and location.remote
    where = location.describe() if remote else str(chroma_dir / "chroma.sqlite3")
    try:
        yield
    except ChromaError as exc:
        hint = SERVER_HINT if remote and "connect" in str(exc).lower() else REPAIR_HINT
        raise IndexUnavailable(f"Chroma failed while {action} ({where}): {_one_line(exc)}; {hint}") from exc
    except httpx.HTTPError as exc:
        raise IndexUnavailable(f"Chroma failed while {action} ({where}): {redact_text(_one_line(exc))}; "
                               f"{SERVER_HINT}") from exc
    except sqlite3.Error as exc:
        raise IndexUnavailable(f"the index ledger failed while {action} ({ledger_path or chroma_dir}): "
                               f"{_one_line(exc)}; {REPAIR_HINT}") from exc
    except sa.exc.DBAPIError as exc:
        reason = redact_text(_one_line(getattr(exc, "orig", None) or exc))
        raise IndexUnavailable(f"the index ledger in the catalogue database failed while {action}: {reason}; "
                               "check that the database server is running and FLIXREC_DATABASE_URL is right") from exc


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line."""
    return " ".join(str(exc).split()) or type(exc).__name__


def chroma_client(index_dir: Path) -> Any:
    """A Chroma PersistentClient on this directory (telemetry off, no reset)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    try:
        with _translated_errors("opening the index", Path(index_dir)):
            try:
                return chromadb.PersistentClient(
                    path=str(index_dir), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False)
                )
            except (ValueError, AttributeError, RuntimeError) as exc:  # Chroma's own wrappers of a failed start
                raise IndexUnavailable(f"Chroma cannot open the index ({Path(index_dir) / 'chroma.sqlite3'}): "
                                       f"{_one_line(exc)}; {REPAIR_HINT}") from exc
    except IndexUnavailable:
        _forget_chroma_system(Path(index_dir))
        raise


_LEDGER_ENGINES: dict[str, Any] = {}


def _ledger_engine(database_url: str) -> Any:
    """One engine (one connection pool) per catalogue URL for the ledgers of this process."""
    from flixrec.database import create_engine

    if database_url not in _LEDGER_ENGINES:
        _LEDGER_ENGINES[database_url] = create_engine(database_url)
    return _LEDGER_ENGINES[database_url]


def server_client(location: IndexLocation) -> Any:
    """A chromadb.HttpClient of the location's server; IndexUnavailable when it cannot be reached."""
    assert location.server is not None
    with _translated_errors("connecting", location.index_dir, location=location):
        try:
            return location.server.client()
        except ValueError as exc:  # chromadb's "Could not connect to a Chroma server"
            raise IndexUnavailable(f"cannot reach {location.describe()}: {_one_line(exc)}; {SERVER_HINT}") from exc


def _forget_chroma_system(index_dir: Path) -> None:
    """Drop Chroma's per-process cached system of a directory that failed to open, so a later open (after
    a repair) starts afresh instead of reusing the broken one (Chroma caches it before starting it)."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(str(index_dir), None)
    SharedSystemClient._identifier_to_refcount.pop(str(index_dir), None)


class VectorIndex:
    """One model's Chroma collection of title vectors. Build it in one (ingest) process; others read."""

    def __init__(self, index_dir: Path | IndexLocation, model_name: str, collection: Any, client: Any):
        self.location = index_dir if isinstance(index_dir, IndexLocation) else IndexLocation.local(Path(index_dir))
        self.index_dir = self.location.index_dir
        self.model_name = model_name
        self.collection = collection
        self._client = client
        self._max_batch_size: int | None = None
        self.ledger: IndexLedger | SqlLedger
        if self.location.remote:
            assert self.location.database_url, "a server index keeps its ledger in the catalogue database"
            self.ledger = SqlLedger(_ledger_engine(self.location.database_url), collection.name, str(collection.id))
        else:
            self.ledger = IndexLedger(self.index_dir / f"{collection.name}.ledger.sqlite3", str(collection.id))

    @property
    def remote(self) -> bool:
        """Whether the collection is on a Chroma server (ledger and stamp in the catalogue database)."""
        return self.location.remote

    @classmethod
    def open(cls, index_dir: Path | IndexLocation, model_name: str, dimension: int | None = None,
             create: bool = False) -> VectorIndex:
        """Open the model's collection; with `create`, make it (cosine space) when missing, else IndexNotBuilt.

        `index_dir`: a local Chroma directory, or an IndexLocation (`IndexLocation.from_settings`: a server).
        """
        from chromadb.errors import NotFoundError

        location = index_dir if isinstance(index_dir, IndexLocation) else IndexLocation.local(Path(index_dir))
        index_dir = location.index_dir
        name = collection_name(model_name)
        if not create and not location.remote and not (index_dir / "chroma.sqlite3").exists():
            raise IndexNotBuilt(
                f"no vector index at {index_dir}; build it with: python -m ingest embed "
                "(the demo catalogue and its index: make run, or python -m ingest build-demo)"
            )
        client = server_client(location) if location.remote else chroma_client(index_dir)
        with _translated_errors(f"opening collection {name!r}", index_dir, location=location):
            if create:
                collection = client.get_or_create_collection(
                    name,
                    configuration={"hnsw": dict(HNSW_CONFIGURATION)},
                    metadata={"model": model_name, "dimension": int(dimension or 0)},
                    embedding_function=None,
                )
            else:
                try:
                    collection = client.get_collection(name, embedding_function=None)
                except NotFoundError as exc:
                    raise IndexNotBuilt(
                        f"the vector index has no collection for model {model_name!r}; "
                        f"build it with: FLIXREC_MODEL={model_name} python -m ingest embed"
                    ) from exc
        return cls(location, model_name, collection, client)

    def _translating(self, action: str) -> contextlib.AbstractContextManager[None]:
        """Chroma and ledger failures inside as IndexUnavailable (see `_translated_errors`)."""
        return _translated_errors(action, self.index_dir, self.ledger.path, self.location)

    @property
    def stamp_path(self) -> Path:
        """The file whose content changes whenever a build of this collection completes."""
        return self.index_dir / f"{self.collection.name}.stamp"

    def stamp(self) -> str | None:
        """The current build stamp, or None when no build has completed (a server index: from the database)."""
        if isinstance(self.ledger, SqlLedger):
            with self._translating("reading the build stamp"):
                return self.ledger.stamp()
        try:
            return self.stamp_path.read_text().strip() or None
        except FileNotFoundError:
            return None

    def mark_built(self, stamp: str | None = None) -> str:
        """Record that a build completed (readers reload on a new stamp); `stamp` when its snapshot is already written."""
        stamp = stamp or uuid.uuid4().hex
        if isinstance(self.ledger, SqlLedger):
            with self._translating("publishing a build"):
                self.ledger.publish(stamp)
            return stamp
        tmp = self.stamp_path.with_suffix(".tmp")
        tmp.write_text(stamp)
        tmp.replace(self.stamp_path)
        with self._translating("publishing a build"):
            self.ledger.mark_published()
        return stamp

    def interrupted(self) -> bool:
        """Whether the last build wrote to the collection and stopped before publishing its stamp."""
        with self._translating("reading the ledger"):
            return self.ledger.dirty()

    @property
    def dimension(self) -> int | None:
        """The vector dimension recorded at creation."""
        value = (self.collection.metadata or {}).get("dimension")
        return int(value) if value else None

    def count(self) -> int:
        """Number of vectors."""
        with self._translating("counting vectors"):
            return int(self.collection.count())

    def _max_batch(self) -> int:
        """The largest write Chroma accepts in one call (also its fastest, see docs/performance.md); a server
        says its own limit (asked once)."""
        if self._max_batch_size is None:
            self._max_batch_size = int(self._client.get_max_batch_size())
        return self._max_batch_size

    def add(self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict[str, Any]],
            hashes: Sequence[tuple[str, str]]) -> None:
        """Insert vectors of ids that are not stored yet (an id already stored is left as it is).

        `hashes`: each title's catalogue (content hash, record hash), kept in the ledger. Cheaper than
        `upsert` on a fresh collection.
        """
        self._write_vectors(self.collection.add, ids, vectors, metadatas, hashes)

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict[str, Any]],
               hashes: Sequence[tuple[str, str]]) -> None:
        """Insert or replace vectors and metadata, in batches Chroma accepts."""
        self._write_vectors(self.collection.upsert, ids, vectors, metadatas, hashes)

    def _write_vectors(self, chroma_write: Any, ids: Sequence[str], vectors: np.ndarray,
                       metadatas: Sequence[dict[str, Any]], hashes: Sequence[tuple[str, str]]) -> None:
        """Ledger rows pending, Chroma's add or upsert in its largest batches, then the ledger's hashes."""
        with self._translating("writing vectors"):
            self.ledger.mark_pending(ids)
            step = self._max_batch()
            for start in range(0, len(ids), step):
                end = start + step
                chroma_write(ids=list(ids[start:end]), embeddings=np.asarray(vectors[start:end], dtype=np.float32),
                             metadatas=list(metadatas[start:end]))
            self._record_in_ledger(ids, metadatas, hashes)

    def _record_in_ledger(self, ids: Sequence[str], metadatas: Sequence[dict[str, Any]],
                          hashes: Sequence[tuple[str, str]]) -> None:
        """The ledger rows of what Chroma now holds for these ids."""
        self.ledger.record(ids, [(*pair, metadata_hash(meta)) for pair, meta in zip(hashes, metadatas)])

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[dict[str, Any]],
                        hashes: Sequence[tuple[str, str]]) -> None:
        """Replace the metadata of existing vectors (no re-embedding); `hashes` as for `add`."""
        with self._translating("updating metadata"):
            self.ledger.mark_dirty()
            step = self._max_batch()
            for start in range(0, len(ids), step):
                self.collection.update(ids=list(ids[start : start + step]),
                                       metadatas=list(metadatas[start : start + step]))
            self._record_in_ledger(ids, metadatas, hashes)  # a build killed before this line updates them again

    def relabel(self, hashes: dict[str, Hashes]) -> None:
        """Ledger only: titles whose stored vector and metadata are current but whose record changed."""
        ids = list(hashes)
        with self._translating("writing the ledger"):
            self.ledger.record(ids, [hashes[i] for i in ids])

    def delete(self, ids: Iterable[str]) -> None:
        """Remove these vectors."""
        ids = list(ids)
        with self._translating("deleting vectors"):
            self.ledger.mark_pending(ids, keep_record=True)
            step = self._max_batch()
            for start in range(0, len(ids), step):
                self.collection.delete(ids=ids[start : start + step])
            self.ledger.forget(ids)

    def iter_records(self, include_vectors: bool = True, batch_size: int = 5000) -> Iterator[tuple[list[str], np.ndarray | None, list[dict[str, Any]]]]:
        """(ids, vectors or None, metadatas) of every stored vector, page by page."""
        include = ["metadatas", "embeddings"] if include_vectors else ["metadatas"]
        offset = 0
        while True:
            with self._translating("reading vectors"):
                page = self.collection.get(include=include, limit=batch_size, offset=offset)
            ids = page["ids"]
            if not ids:
                return
            vectors = np.asarray(page["embeddings"], dtype=np.float32) if include_vectors else None
            yield ids, vectors, page["metadatas"]
            offset += len(ids)

    def stored_hashes(self) -> dict[str, Hashes]:
        """title_id -> (content hash, record hash, metadata hash) of what is stored, from the ledger.

        An empty content hash: a write that may not have landed. An index built before the ledger (or
        whose ledger is gone) has fewer ledger rows than vectors: the missing ones are read from
        Chroma's metadata (older builds kept the content hash there; the record hash is unknown).
        """
        with self._translating("reading the ledger"):
            hashes = self.ledger.hashes()
        if len(hashes) < self.count():
            for ids, _, metas in self.iter_records(include_vectors=False):
                for title_id, meta in zip(ids, metas):
                    if title_id not in hashes:
                        meta = meta or {}
                        hashes[title_id] = (meta.get("content_hash", ""), "", metadata_hash(meta))
        return hashes
