"""The build ledger: what each stored vector was built from, in a small SQLite file beside Chroma's.

Raises sqlite3 errors as they come; `flixrec.index.collection` translates them for the rest of the core.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

Hashes = tuple[str, str, str]
"""What the ledger keeps per stored title: (content hash, record hash, metadata hash)."""
LEGACY_HASH_KEYS = ("content_hash", "record_hash")
"""Where builds before the ledger kept the hashes: in Chroma's metadata."""


def metadata_hash(metadata: dict[str, Any]) -> str:
    """A hash of the filterable metadata stored for a title (tells whether Chroma's copy is current)."""
    blob = json.dumps({k: v for k, v in metadata.items() if k not in LEGACY_HASH_KEYS}, sort_keys=True,
                      ensure_ascii=False)
    return hashlib.blake2b(blob.encode(), digest_size=16).hexdigest()


class IndexLedger:
    """What the collection was built from, per title: the catalogue's content and record hashes, and a
    hash of the metadata Chroma holds (a changed record whose metadata is the same, e.g. new people,
    needs no Chroma write).

    A file of its own, not Chroma metadata: every metadata key costs Chroma an indexed row per title and
    nothing filters on these (figures in docs/performance.md). The ledger is written around each Chroma
    write: its rows are first marked pending (empty content hash: "may or may not be stored"), then
    given their hashes once Chroma has them, so a build killed anywhere re-embeds exactly the rows it
    may have left half-written. `dirty` is set from the first write of a build until its stamp is
    published: a build that finds it set knows the last snapshot is behind Chroma.
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
        conn = self._write_connection()
        with conn:
            conn.execute("BEGIN")
            yield conn

    def _write_connection(self) -> sqlite3.Connection:
        """The one write connection, opened (and the file created or claimed for this collection) on first use."""
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
        """Whether the file belongs to this collection (not to an earlier one of the same name)."""
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

    def mark_pending(self, ids: Sequence[str], keep_record: bool = False) -> None:
        """Mark ids as possibly half-written (before Chroma writes or deletes them); sets `dirty`."""
        with self._transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO state VALUES ('dirty', '1')")
            if keep_record:
                conn.executemany("UPDATE vectors SET content_hash = '' WHERE title_id = ?", ((i,) for i in ids))
            else:
                conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, '', '', '')", ((i,) for i in ids))

    def mark_dirty(self) -> None:
        """Set `dirty` before a write that needs no pending rows (metadata updates)."""
        self.mark_pending([])

    def record(self, ids: Sequence[str], hashes: Sequence[Hashes]) -> None:
        """Store the hashes of rows Chroma now holds."""
        with self._transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)",
                             ((i, *triple) for i, triple in zip(ids, hashes)))

    def forget(self, ids: Sequence[str]) -> None:
        """Drop the rows of ids Chroma no longer holds."""
        with self._transaction() as conn:
            conn.executemany("DELETE FROM vectors WHERE title_id = ?", ((i,) for i in ids))

    def mark_published(self) -> None:
        """A build's stamp is out: clear `dirty`."""
        self._write_connection().execute("DELETE FROM state WHERE key = 'dirty'")

    def close(self) -> None:
        """Close the write connection (reads open and close their own)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
