"""The vector index: a persistent Chroma collection (cosine space) per model, and an in-memory snapshot.

Chroma stores the vectors and their filterable metadata, keyed by title id. Queries do not go through
Chroma's `where` (slow and approximate under filters at scale): `IndexSnapshot` holds the vectors as
one matrix and the metadata as numpy columns, masks by the filters first and then ranks exactly, so
`k` results come back whenever `k` titles pass. Ingest writes the collection and then a build stamp;
readers compare the stamp to know when to reload.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from flixrec.embedding import collection_name
from flixrec.engine import PROJECT_FROM_ROWS, Projection, VectorSearch
from flixrec.errors import IndexNotBuilt
from flixrec.models import MEDIA_TYPES, Filters, Title

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
log = logging.getLogger(__name__)

NUMERIC_FIELDS = ("year", "runtime", "votes", "rating")

HNSW_CONFIGURATION: dict[str, Any] = {"space": "cosine", "ef_construction": 40, "max_neighbors": 16, "ef_search": 200}
"""Chroma HNSW settings of a new collection (an existing collection keeps the ones it was created with).

The app ranks with its own snapshot, so Chroma's graph only serves direct Chroma queries. Building it
was about half of Chroma's CPU time per vector (100k 512-d bench vectors, no metadata: 89 CPU-s at
Chroma's default ef_construction 100, 48 at 40). The lower build effort is paid back at query time with a
wider search: recall@20 of an unfiltered Chroma query against exact numpy (200 queries at 100k) is
0.978 with ef_construction 40 / ef_search 200 and 0.979 with the defaults (100 / 100), for about 1 ms more
per query (p50 2.0 -> 3.1 ms); filtered queries (10% pass) kept recall 0.99. `max_neighbors` stays at 16:
12 lost recall (0.951 against 0.968 at ef_construction 50) and saved no time. `space`, `ef_construction`
and `max_neighbors` are fixed at creation; `ef_search` changed later did not reach an open client.
Chroma 1.5's other keys do not help a bulk build: a `sync_threshold` above the write batch was no faster
(11000) or 7% slower (22000, 44000 at 100k vectors: the write-ahead log is only purged once the graph is
saved, so each write re-reads the unsaved part), and `batch_size` / `num_threads` are not read by the local
(Rust) HNSW writer. A WAL journal on Chroma's SQLite file did not help either.
"""


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
    return meta


Hashes = tuple[str, str, str]
"""What the ledger keeps per stored title: (content hash, record hash, metadata hash)."""
_HASH_KEYS = ("content_hash", "record_hash")  # where builds before the ledger kept them, in Chroma's metadata


def metadata_hash(metadata: dict[str, Any]) -> str:
    """A hash of the filterable metadata stored for a title (tells whether Chroma's copy is current)."""
    blob = json.dumps({k: v for k, v in metadata.items() if k not in _HASH_KEYS}, sort_keys=True, ensure_ascii=False)
    return hashlib.blake2b(blob.encode(), digest_size=16).hexdigest()


class IndexLedger:
    """What the collection was built from, per title: the catalogue's content and record hashes, and a
    hash of the metadata Chroma holds (a changed record whose metadata is the same, e.g. new people,
    needs no Chroma write).

    A small SQLite file beside Chroma's, not Chroma metadata: every metadata key is a row in Chroma's
    metadata tables (with their indexes), about 50 µs per key and title when adding; the two hash keys
    were 4 of the 34 s Chroma took to add 50k bench titles, and nothing filters on them. The ledger
    is written around each Chroma write: its rows are first marked pending (empty content hash: "may
    or may not be stored"), then given their hashes once Chroma has them, so a build killed anywhere
    re-embeds exactly the rows it may have left half-written. `dirty` is set from the first write of a
    build until its stamp is published: a build that finds it set knows the last snapshot is behind Chroma.
    The ledger belongs to one collection (its Chroma id): a re-created collection starts a new ledger.
    """

    def __init__(self, path: Path, collection_id: str):
        self.path = Path(path)
        self.collection_id = collection_id
        self._writer: sqlite3.Connection | None = None

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection | None]:
        """A connection to read this collection's ledger; None when there is none (no file, another owner)."""
        if self._writer is not None:
            yield self._writer
            return
        if not self.path.exists():
            yield None
            return
        conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            yield conn if self._owned(conn) else None
        finally:
            conn.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """The write connection inside one transaction (committed on exit, rolled back on an error)."""
        conn = self._write()
        with conn:
            conn.execute("BEGIN")
            yield conn

    def _write(self) -> sqlite3.Connection:
        if self._writer is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("CREATE TABLE IF NOT EXISTS vectors (title_id TEXT PRIMARY KEY, content_hash TEXT NOT NULL, "
                         "record_hash TEXT NOT NULL, metadata_hash TEXT NOT NULL) WITHOUT ROWID")
            conn.execute("CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            conn.execute("DROP TABLE IF EXISTS titles")  # the first layout, without metadata hashes
            if not self._owned(conn):
                with conn:
                    conn.execute("BEGIN")
                    conn.execute("DELETE FROM vectors")
                    conn.execute("DELETE FROM state")
                    conn.execute("INSERT INTO state VALUES ('collection_id', ?)", (self.collection_id,))
            self._writer = conn
        return self._writer

    def _owned(self, conn: sqlite3.Connection) -> bool:
        try:
            owner = conn.execute("SELECT value FROM state WHERE key = 'collection_id'").fetchone()
        except sqlite3.OperationalError:  # created but never written
            return False
        return owner is not None and owner[0] == self.collection_id

    def hashes(self) -> dict[str, Hashes]:
        """title_id -> (content, record, metadata hash); a pending row has an empty content hash."""
        with self._reading() as conn:
            if conn is None:
                return {}
            try:
                rows = conn.execute("SELECT title_id, content_hash, record_hash, metadata_hash FROM vectors")
                return {row[0]: (row[1], row[2], row[3]) for row in rows}
            except sqlite3.OperationalError:  # no rows written yet (or an older layout): Chroma's metadata fills in
                return {}

    def dirty(self) -> bool:
        """Whether a build wrote to the collection and did not publish a stamp (it was interrupted)."""
        with self._reading() as conn:
            return conn is not None and conn.execute("SELECT 1 FROM state WHERE key = 'dirty'").fetchone() is not None

    def pending(self, ids: Sequence[str], keep_record: bool = False) -> None:
        """Mark ids as possibly half-written (before Chroma writes or deletes them); sets `dirty`."""
        with self._transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO state VALUES ('dirty', '1')")
            if keep_record:
                conn.executemany("UPDATE vectors SET content_hash = '' WHERE title_id = ?", ((i,) for i in ids))
            else:
                conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, '', '', '')", ((i,) for i in ids))

    def changing(self) -> None:
        """Set `dirty` before a write that needs no pending rows (metadata updates)."""
        self.pending([])

    def record(self, ids: Sequence[str], hashes: Sequence[Hashes]) -> None:
        """Store the hashes of rows Chroma now holds."""
        with self._transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)",
                             ((i, *triple) for i, triple in zip(ids, hashes)))

    def forget(self, ids: Sequence[str]) -> None:
        """Drop the rows of ids Chroma no longer holds."""
        with self._transaction() as conn:
            conn.executemany("DELETE FROM vectors WHERE title_id = ?", ((i,) for i in ids))

    def published(self) -> None:
        """A build's stamp is out: clear `dirty`."""
        self._write().execute("DELETE FROM state WHERE key = 'dirty'")

    def close(self) -> None:
        """Close the write connection (reads open and close their own)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _client(index_dir: Path) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb.PersistentClient(
        path=str(index_dir), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    )


class VectorIndex:
    """One model's Chroma collection of title vectors. Build it in one (ingest) process; others read."""

    def __init__(self, index_dir: Path, model_name: str, collection: Any, client: Any):
        self.index_dir = Path(index_dir)
        self.model_name = model_name
        self.collection = collection
        self._client = client
        self.ledger = IndexLedger(self.index_dir / f"{collection.name}.ledger.sqlite3", str(collection.id))

    @classmethod
    def open(cls, index_dir: Path, model_name: str, dimension: int | None = None, create: bool = False) -> VectorIndex:
        """Open the model's collection; with `create`, make it (cosine space) when missing, else IndexNotBuilt."""
        index_dir = Path(index_dir)
        name = collection_name(model_name)
        if not create and not (index_dir / "chroma.sqlite3").exists():
            raise IndexNotBuilt(
                f"no vector index at {index_dir}; build it with: python -m ingest embed "
                "(the demo catalogue and its index: make run, or python -m ingest build-demo)"
            )
        client = _client(index_dir)
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
            except Exception as exc:  # chromadb raises NotFoundError (or ValueError in older releases)
                raise IndexNotBuilt(
                    f"the vector index has no collection for model {model_name!r}; "
                    f"build it with: FLIXREC_MODEL={model_name} python -m ingest embed"
                ) from exc
        return cls(index_dir, model_name, collection, client)

    @property
    def stamp_path(self) -> Path:
        """The file whose content changes whenever a build of this collection completes."""
        return self.index_dir / f"{self.collection.name}.stamp"

    def stamp(self) -> str | None:
        """The current build stamp, or None when no build has completed."""
        try:
            return self.stamp_path.read_text().strip() or None
        except FileNotFoundError:
            return None

    def mark_built(self, stamp: str | None = None) -> str:
        """Record that a build completed (readers reload on a new stamp); `stamp` when its snapshot is already written."""
        stamp = stamp or uuid.uuid4().hex
        tmp = self.stamp_path.with_suffix(".tmp")
        tmp.write_text(stamp)
        tmp.replace(self.stamp_path)
        self.ledger.published()
        return stamp

    def interrupted(self) -> bool:
        """Whether the last build wrote to the collection and stopped before publishing its stamp."""
        return self.ledger.dirty()

    @property
    def dimension(self) -> int | None:
        """The vector dimension recorded at creation."""
        value = (self.collection.metadata or {}).get("dimension")
        return int(value) if value else None

    def count(self) -> int:
        """Number of vectors."""
        return int(self.collection.count())

    def _batch_size(self) -> int:
        return int(self._client.get_max_batch_size())

    def add(self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict[str, Any]],
            hashes: Sequence[tuple[str, str]]) -> None:
        """Insert vectors of ids that are not stored yet (an id already stored is left as it is).

        `hashes`: each title's catalogue (content hash, record hash), kept in the ledger.
        About 5% less time than `upsert` per vector on a fresh collection (50k bench vectors, 3 runs each).
        """
        self._write(self.collection.add, ids, vectors, metadatas, hashes)

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict[str, Any]],
               hashes: Sequence[tuple[str, str]]) -> None:
        """Insert or replace vectors and metadata, in batches Chroma accepts."""
        self._write(self.collection.upsert, ids, vectors, metadatas, hashes)

    def _write(self, method: Any, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict[str, Any]],
               hashes: Sequence[tuple[str, str]]) -> None:
        # Chroma's largest batch is the fastest (50k vectors, back to back: 50 s in calls of 5461, 55 s of 2500, 60 s of 1000)
        self.ledger.pending(ids)
        step = self._batch_size()
        for start in range(0, len(ids), step):
            end = start + step
            method(ids=list(ids[start:end]), embeddings=np.asarray(vectors[start:end], dtype=np.float32),
                   metadatas=list(metadatas[start:end]))
        self._record(ids, metadatas, hashes)

    def _record(self, ids: Sequence[str], metadatas: Sequence[dict[str, Any]], hashes: Sequence[tuple[str, str]]) -> None:
        """The ledger rows of what Chroma now holds for these ids."""
        self.ledger.record(ids, [(*pair, metadata_hash(meta)) for pair, meta in zip(hashes, metadatas)])

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[dict[str, Any]],
                        hashes: Sequence[tuple[str, str]]) -> None:
        """Replace the metadata of existing vectors (no re-embedding); `hashes` as for `add`."""
        self.ledger.changing()
        step = self._batch_size()
        for start in range(0, len(ids), step):
            self.collection.update(ids=list(ids[start : start + step]), metadatas=list(metadatas[start : start + step]))
        self._record(ids, metadatas, hashes)  # a build killed before this line updates them again

    def relabel(self, hashes: dict[str, Hashes]) -> None:
        """Ledger only: titles whose stored vector and metadata are current but whose record changed."""
        ids = list(hashes)
        self.ledger.record(ids, [hashes[i] for i in ids])

    def delete(self, ids: Iterable[str]) -> None:
        """Remove these vectors."""
        ids = list(ids)
        self.ledger.pending(ids, keep_record=True)
        step = self._batch_size()
        for start in range(0, len(ids), step):
            self.collection.delete(ids=ids[start : start + step])
        self.ledger.forget(ids)

    def iter_records(self, include_vectors: bool = True, batch_size: int = 5000) -> Iterator[tuple[list[str], np.ndarray | None, list[dict[str, Any]]]]:
        """(ids, vectors or None, metadatas) of every stored vector, page by page."""
        include = ["metadatas", "embeddings"] if include_vectors else ["metadatas"]
        offset = 0
        while True:
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
        hashes = self.ledger.hashes()
        if len(hashes) < self.count():
            for ids, _, metas in self.iter_records(include_vectors=False):
                for title_id, meta in zip(ids, metas):
                    if title_id not in hashes:
                        meta = meta or {}
                        hashes[title_id] = (meta.get("content_hash", ""), "", metadata_hash(meta))
        return hashes


@dataclasses.dataclass
class IndexSnapshot:
    """All vectors of an index as one matrix, with metadata columns for fast exact filtered search."""

    ids: np.ndarray  # (n,) object: title ids
    matrix: np.ndarray  # (n, d) float32, unit rows
    numeric: dict[str, np.ndarray]  # year/runtime/votes/rating, float64, NaN when unknown
    media_type: np.ndarray  # (n,) int8 index into MEDIA_TYPES, -1 unknown
    language: np.ndarray  # (n,) int32 index into languages, -1 unknown
    languages: list[str]
    genre_matrix: np.ndarray  # (n, g) bool
    genres: list[str]
    stamp: str | None = None
    tie_rank: np.ndarray | None = None  # (n,) int64: rank of each id in id order (computed when None)
    projection: Projection | None = None  # fitted when None and the index is large (see flixrec.engine)
    search_mode: str = "auto"  # "auto" (planner), "exact" or "projected" (benchmarks and contract tests)

    def __post_init__(self) -> None:
        self._position = {title_id: i for i, title_id in enumerate(self.ids)}
        if self.tie_rank is None:
            # tie-break rank: equal scores come back in title-id order, so results are stable
            self.tie_rank = np.empty(len(self.ids), dtype=np.int64)
            self.tie_rank[np.argsort(self.ids.astype(str), kind="stable")] = np.arange(len(self.ids))
        self._tie_rank = self.tie_rank
        if self.projection is None and (len(self.ids) >= PROJECT_FROM_ROWS or self.search_mode == "projected"):
            self.projection = Projection.fit(self.matrix)
        self.search = VectorSearch(self.matrix, self.tie_rank, self.projection, mode=self.search_mode)

    @classmethod
    def from_records(cls, records: Iterable[tuple[Sequence[str], np.ndarray, Sequence[dict[str, Any]]]], stamp: str | None = None) -> IndexSnapshot:
        """Build from (ids, vectors, metadatas) pages."""
        all_ids: list[str] = []
        blocks: list[np.ndarray] = []
        metas: list[dict[str, Any]] = []
        for ids, vectors, page_metas in records:
            all_ids.extend(ids)
            blocks.append(np.asarray(vectors, dtype=np.float32))
            metas.extend(m or {} for m in page_metas)
        n = len(all_ids)
        matrix = np.concatenate(blocks) if blocks else np.zeros((0, 1), dtype=np.float32)
        numeric = {
            name: np.array([m.get(name, np.nan) for m in metas], dtype=np.float64) if n else np.zeros(0)
            for name in NUMERIC_FIELDS
        }
        media_code = {m: i for i, m in enumerate(MEDIA_TYPES)}
        languages = sorted({m["language"] for m in metas if m.get("language")})
        lang_code = {lang: i for i, lang in enumerate(languages)}
        genres = sorted({g for m in metas for g in m.get("genres", ())})
        genre_code = {g: i for i, g in enumerate(genres)}
        genre_matrix = np.zeros((n, len(genres)), dtype=bool)
        for row, m in enumerate(metas):
            for g in m.get("genres", ()):
                genre_matrix[row, genre_code[g]] = True
        return cls(
            ids=np.array(all_ids, dtype=object),
            matrix=matrix,
            numeric=numeric,
            media_type=np.array([media_code.get(m.get("media_type"), -1) for m in metas], dtype=np.int8),
            language=np.array([lang_code.get(m.get("language"), -1) for m in metas], dtype=np.int32),
            languages=languages,
            genre_matrix=genre_matrix,
            genres=genres,
            stamp=stamp,
        )

    @classmethod
    def load(cls, index: VectorIndex) -> IndexSnapshot:
        """The index's latest complete build: its snapshot files (memory-mapped) when ingest wrote them, else Chroma."""
        from flixrec.snapshot import read_snapshot

        stamp = index.stamp()
        snapshot = read_snapshot(index, stamp) if stamp else None
        if snapshot is not None:
            return snapshot
        return cls.load_from_chroma(index, stamp)

    @classmethod
    def load_from_chroma(cls, index: VectorIndex, stamp: str | None = None) -> IndexSnapshot:
        """Read every vector and its metadata from the Chroma collection (slow at scale: ~1 min at 300k)."""
        return cls.from_records(index.iter_records(include_vectors=True), stamp=stamp)

    def __len__(self) -> int:
        return len(self.ids)

    def position(self, title_id: str) -> int | None:
        """Row of a title in the matrix, or None when it is not indexed."""
        return self._position.get(title_id)

    def vector(self, title_id: str) -> np.ndarray | None:
        """A title's vector, or None when it is not indexed."""
        row = self.position(title_id)
        return None if row is None else self.matrix[row]

    def mask(self, filters: Filters | None) -> np.ndarray:
        """Boolean rows that pass the filters (same semantics as `Filters.accepts`)."""
        keep = np.ones(len(self.ids), dtype=bool)
        if filters is None or filters.is_empty():
            return keep
        bounds = (
            ("year", filters.year_min, np.greater_equal), ("year", filters.year_max, np.less_equal),
            ("runtime", filters.runtime_min, np.greater_equal), ("runtime", filters.runtime_max, np.less_equal),
            ("votes", filters.min_votes, np.greater_equal), ("rating", filters.min_rating, np.greater_equal),
        )
        with np.errstate(invalid="ignore"):  # NaN (unknown) compares False: it fails an active bound
            for name, bound, op in bounds:
                if bound is not None:
                    keep &= op(self.numeric[name], bound)
        if filters.genres_include:
            cols = [i for i, g in enumerate(self.genres) if g in filters.genres_include]
            keep &= self.genre_matrix[:, cols].any(axis=1) if cols else False
        if filters.genres_exclude:
            cols = [i for i, g in enumerate(self.genres) if g in filters.genres_exclude]
            if cols:
                keep &= ~self.genre_matrix[:, cols].any(axis=1)
        if filters.languages:
            codes = [i for i, lang in enumerate(self.languages) if lang in filters.languages]
            keep &= np.isin(self.language, codes)
        if filters.media_types:
            codes = [i for i, m in enumerate(MEDIA_TYPES) if m in filters.media_types]
            keep &= np.isin(self.media_type, codes)
        for title_id in filters.exclude_ids:
            row = self.position(title_id)
            if row is not None:
                keep[row] = False
        return keep

    def nearest(self, vector: np.ndarray, k: int, keep: np.ndarray | None = None, *,
                item: bool = False) -> list[tuple[str, float]]:
        """The k rows most similar to `vector` among `keep`: (title_id, score in [0, 1]), best first.

        Exact scores and order; min(k, rows kept) results. The plan (exact or projected shortlist) is
        chosen per query by how many rows pass, see `flixrec.engine`. `item`: `vector` is a stored
        title's (similar titles), not free text.
        """
        rows, scores = self.search.top_k(vector, k, keep, item=item)
        return [(self.ids[row], float(min(1.0, max(0.0, score)))) for row, score in zip(rows, scores)]

    def scores_against(self, vector: np.ndarray) -> np.ndarray:
        """Cosine similarity of every indexed title to `vector`, clipped to [0, 1] (for distributions)."""
        return np.clip(self.matrix @ np.asarray(vector, dtype=np.float32), 0.0, 1.0)
