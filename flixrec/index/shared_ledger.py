"""The build ledger and published stamp of a server index, in the catalogue database (any host sees them).

The same contract as `flixrec.index.ledger.IndexLedger` (pending rows, `dirty`, the collection that owns
the rows), in two SQL tables keyed by collection name; the published stamp is a state row, so a
replica learns of a new build by reading one row, and `publish` writes the stamp and clears `dirty` in
one transaction. Raises SQLAlchemy errors as they come; `flixrec.index.collection` translates them.
The tables are created by the catalogue's migrations (flixrec/migrations, revision 0002), run on first write.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from flixrec.index.ledger import Hashes
from flixrec.migrations import migrate

metadata = sa.MetaData()

index_vectors_table = sa.Table(
    "index_vectors",
    metadata,
    sa.Column("collection", sa.String(128), primary_key=True),
    sa.Column("title_id", sa.String(64), primary_key=True),
    sa.Column("content_hash", sa.String(32), nullable=False),
    sa.Column("record_hash", sa.String(32), nullable=False),
    sa.Column("metadata_hash", sa.String(32), nullable=False),
)

index_state_table = sa.Table(
    "index_state",
    metadata,
    sa.Column("collection", sa.String(128), primary_key=True),
    sa.Column("key", sa.String(32), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

CHUNK = 1000
_V, _S = index_vectors_table.c, index_state_table.c


def _chunks(items: Sequence[str], size: int = CHUNK) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


class SqlLedger:
    """What a server collection was built from, per title, and its published stamp, in SQL tables."""

    def __init__(self, engine: Engine, collection_name: str, collection_id: str):
        self.engine = engine
        self.collection_name = collection_name
        self.collection_id = collection_id
        self.path = None  # nothing on disk to move aside (see ingest.embed.repair_index)
        self._claimed = False

    def _owned(self, conn: Connection) -> bool:
        """Whether the rows belong to this collection (not to an earlier one of the same name)."""
        if not sa.inspect(conn).has_table(index_state_table.name):
            return False
        owner = conn.execute(sa.select(_S.value).where(_S.collection == self.collection_name,
                                                       _S.key == "collection_id")).scalar()
        return owner == self.collection_id

    def _begin(self) -> sa.engine.base.Transaction:
        """A transaction on a connection, the tables created and claimed for this collection on first use."""
        if not self._claimed:
            migrate(self.engine)
            with self.engine.begin() as conn:
                if not self._owned(conn):
                    where = _S.collection == self.collection_name
                    conn.execute(sa.delete(index_vectors_table).where(_V.collection == self.collection_name))
                    conn.execute(sa.delete(index_state_table).where(where))
                    conn.execute(sa.insert(index_state_table).values(collection=self.collection_name,
                                                                     key="collection_id", value=self.collection_id))
            self._claimed = True
        return self.engine.begin()

    def _read(self, query: sa.Select) -> list[sa.Row]:
        """Rows of a query on this collection's ledger; [] when there is none (no tables, another owner)."""
        with self.engine.connect() as conn:
            if not self._owned(conn):
                return []
            return list(conn.execute(query))

    def hashes(self) -> dict[str, Hashes]:
        """title_id -> (content, record, metadata hash); a pending row has an empty content hash."""
        rows = self._read(sa.select(_V.title_id, _V.content_hash, _V.record_hash, _V.metadata_hash)
                          .where(_V.collection == self.collection_name))
        return {row[0]: (row[1], row[2], row[3]) for row in rows}

    def _state(self, key: str) -> str | None:
        rows = self._read(sa.select(_S.value).where(_S.collection == self.collection_name, _S.key == key))
        return rows[0][0] if rows else None

    def dirty(self) -> bool:
        """Whether a build wrote to the collection and did not publish a stamp (it was interrupted)."""
        return self._state("dirty") is not None

    def stamp(self) -> str | None:
        """The published build stamp, or None when no build of this collection has been published."""
        return self._state("stamp")

    def _set_state(self, conn: Connection, key: str, value: str) -> None:
        conn.execute(sa.delete(index_state_table).where(_S.collection == self.collection_name, _S.key == key))
        conn.execute(sa.insert(index_state_table).values(collection=self.collection_name, key=key, value=value))

    def _replace(self, conn: Connection, rows: list[dict[str, str]]) -> None:
        """Insert or replace vector rows (delete, then insert: portable across SQLite and Postgres)."""
        for chunk in _chunks([row["title_id"] for row in rows]):
            conn.execute(sa.delete(index_vectors_table).where(_V.collection == self.collection_name,
                                                              _V.title_id.in_(chunk)))
        if rows:
            conn.execute(sa.insert(index_vectors_table), rows)

    def mark_pending(self, ids: Sequence[str], keep_record: bool = False) -> None:
        """Mark ids as possibly half-written (before Chroma writes or deletes them); sets `dirty`."""
        with self._begin() as conn:
            self._set_state(conn, "dirty", "1")
            if keep_record:
                for chunk in _chunks(ids):
                    conn.execute(sa.update(index_vectors_table).where(
                        _V.collection == self.collection_name, _V.title_id.in_(chunk)).values(content_hash=""))
            else:
                self._replace(conn, [{"collection": self.collection_name, "title_id": i, "content_hash": "",
                                      "record_hash": "", "metadata_hash": ""} for i in ids])

    def mark_dirty(self) -> None:
        """Set `dirty` before a write that needs no pending rows (metadata updates)."""
        self.mark_pending([])

    def record(self, ids: Sequence[str], hashes: Sequence[Hashes]) -> None:
        """Store the hashes of rows Chroma now holds."""
        with self._begin() as conn:
            self._replace(conn, [{"collection": self.collection_name, "title_id": i, "content_hash": c,
                                  "record_hash": r, "metadata_hash": m} for i, (c, r, m) in zip(ids, hashes)])

    def forget(self, ids: Sequence[str]) -> None:
        """Drop the rows of ids Chroma no longer holds."""
        with self._begin() as conn:
            for chunk in _chunks(ids):
                conn.execute(sa.delete(index_vectors_table).where(_V.collection == self.collection_name,
                                                                  _V.title_id.in_(chunk)))

    def publish(self, stamp: str) -> None:
        """Publish a build: its stamp in, `dirty` out, in one transaction (readers switch on the new stamp)."""
        with self._begin() as conn:
            self._set_state(conn, "stamp", stamp)
            conn.execute(sa.delete(index_state_table).where(_S.collection == self.collection_name, _S.key == "dirty"))

    def mark_published(self) -> None:
        """`dirty` cleared (the stamp is written by `publish`)."""
        with self._begin() as conn:
            conn.execute(sa.delete(index_state_table).where(_S.collection == self.collection_name, _S.key == "dirty"))

    def close(self) -> None:
        """Nothing to close (the engine's pool is shared with its owner)."""
