"""The catalogue of titles: SQLAlchemy tables and the Catalog that reads and upserts them.

SQLite (a file, WAL mode so the app can read while ingest writes) by default; any SQLAlchemy URL,
Postgres included, by setting. Upserts are idempotent: a row is written only when its record hash
changes, and a checkpoint (sync state) can be written in the same transaction as a page of titles.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from flixrec.errors import ConfigError, TitleNotFound
from flixrec.models import Person, Title

metadata = sa.MetaData()

titles_table = sa.Table(
    "titles",
    metadata,
    sa.Column("title_id", sa.String(64), primary_key=True),
    sa.Column("media_type", sa.String(8), nullable=False, index=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("original_title", sa.Text),
    sa.Column("aliases", sa.JSON, nullable=False, default=list),
    sa.Column("overview", sa.Text),
    sa.Column("tagline", sa.Text),
    sa.Column("genres", sa.JSON, nullable=False, default=list),
    sa.Column("keywords", sa.JSON, nullable=False, default=list),
    sa.Column("year", sa.Integer, index=True),
    sa.Column("released", sa.String(32)),
    sa.Column("runtime", sa.Integer),
    sa.Column("country", sa.String(8)),
    sa.Column("language", sa.String(8)),
    sa.Column("rating", sa.Float),
    sa.Column("votes", sa.Integer),
    sa.Column("comment_count", sa.Integer),
    sa.Column("trakt_id", sa.Integer),
    sa.Column("tmdb_id", sa.Integer),
    sa.Column("imdb_id", sa.String(16)),
    sa.Column("slug", sa.Text),
    sa.Column("network", sa.Text),
    sa.Column("status", sa.String(32)),
    sa.Column("aired_episodes", sa.Integer),
    # Added with the Trakt fields; all nullable, added to older databases by `Catalog.create_tables`.
    sa.Column("certification", sa.String(16), index=True),
    sa.Column("subgenres", sa.Text),  # these three: comma-separated codes/slugs (cheaper to write than JSON)
    sa.Column("languages", sa.Text),
    sa.Column("available_translations", sa.Text),
    sa.Column("trailer", sa.Text),
    sa.Column("homepage", sa.Text),
    sa.Column("poster_url", sa.Text),
    sa.Column("tvdb_id", sa.Integer),
    sa.Column("plex_guid", sa.String(64)),
    sa.Column("source_updated_at", sa.String(32)),
    sa.Column("airs", sa.String(96)),
    sa.Column("after_credits", sa.Boolean),
    sa.Column("during_credits", sa.Boolean),
    sa.Column("content_hash", sa.String(32), nullable=False),
    sa.Column("record_hash", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

people_table = sa.Table(
    "people",
    metadata,
    sa.Column("person_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
)

credits_table = sa.Table(
    "credits",
    metadata,
    sa.Column("title_id", sa.String(64), sa.ForeignKey("titles.title_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("person_id", sa.String(64), sa.ForeignKey("people.person_id"), primary_key=True),
    sa.Column("role", sa.String(16), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False, default=0),
    sa.Column("character", sa.Text),
    sa.Column("job", sa.Text),
    sa.Column("episode_count", sa.Integer),
)
sa.Index("credits_person", credits_table.c.person_id)

sync_state_table = sa.Table(
    "sync_state",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("value", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

_TITLE_FIELDS = [f.name for f in dataclasses.fields(Title) if f.name != "people"]
_TUPLE_FIELDS = ("aliases", "genres", "keywords")  # stored as JSON lists, never null
_CODE_LIST_FIELDS = ("subgenres", "languages", "available_translations")  # "en,fr" or null
_CHUNK = 500


@dataclasses.dataclass
class UpsertCounts:
    """What an upsert did: rows inserted, updated, and left alone because nothing changed."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def __iadd__(self, other: UpsertCounts) -> UpsertCounts:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        return self


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.timezone.utc)


def create_engine(database_url: str) -> Engine:
    """An engine for the catalogue; SQLite files get their folder, WAL mode and a busy timeout."""
    try:
        url = sa.engine.make_url(database_url)
    except sa.exc.ArgumentError as exc:
        raise ConfigError(f"FLIXREC_DATABASE_URL is not a valid SQLAlchemy URL: {exc}") from exc
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    try:
        return sa.create_engine(url, pool_pre_ping=True)
    except ImportError as exc:
        raise ConfigError(f"the database driver for {url.drivername!r} is not installed: {exc}") from exc


class Catalog:
    """The titles, their people and the ingest checkpoints, in one SQL database."""

    def __init__(self, engine: Engine):
        self.engine = engine

    @classmethod
    def open(cls, database_url: str, create: bool = True) -> Catalog:
        """Open the catalogue at a SQLAlchemy URL, creating the tables when `create` is set."""
        catalog = cls(create_engine(database_url))
        if create:
            catalog.create_tables()
        return catalog

    def create_tables(self) -> None:
        """Create any missing table, and add the nullable columns a table of an older version lacks (idempotent)."""
        metadata.create_all(self.engine)
        inspector = sa.inspect(self.engine)
        with self.engine.begin() as conn:
            for table in (titles_table, credits_table):
                present = {c["name"] for c in inspector.get_columns(table.name)}
                for column in table.columns:
                    if column.name not in present and column.nullable:
                        kind = column.type.compile(dialect=self.engine.dialect)
                        conn.execute(sa.text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))
        self._present = None

    _present: dict[str, list[sa.Column]] | None = None

    def _columns(self, table: sa.Table) -> list[sa.Column]:
        """The columns of `table` this database has (one opened read-only may predate the newer ones)."""
        if self._present is None:
            inspector = sa.inspect(self.engine)
            self._present = {}
            for t in (titles_table, credits_table):
                names = {c["name"] for c in inspector.get_columns(t.name)} if inspector.has_table(t.name) else set()
                self._present[t.name] = [c for c in t.columns if c.name in names] if names else list(t.columns)
        return self._present[table.name]

    def exists(self) -> bool:
        """Whether the titles table exists (the catalogue has been built at least once)."""
        return sa.inspect(self.engine).has_table("titles")

    # ---- reading -------------------------------------------------------------------------------

    def count(self, media_type: str | None = None) -> int:
        """Number of titles, optionally of one media type."""
        query = sa.select(sa.func.count()).select_from(titles_table)
        if media_type:
            query = query.where(titles_table.c.media_type == media_type)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def get_title(self, title_id: str) -> Title:
        """The title with this id, with its people; raises TitleNotFound."""
        found = self.find_titles([title_id])
        if title_id not in found:
            raise TitleNotFound(title_id)
        return found[title_id]

    def find_title(self, title_id: str) -> Title | None:
        """The title with this id, or None."""
        return self.find_titles([title_id]).get(title_id)

    def find_titles(self, title_ids: Iterable[str], with_people: bool = True) -> dict[str, Title]:
        """The titles among these ids that exist, keyed by id."""
        ids = list(dict.fromkeys(title_ids))
        out: dict[str, Title] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                rows = conn.execute(sa.select(*self._columns(titles_table))
                                    .where(titles_table.c.title_id.in_(chunk))).mappings()
                people = self._people_of(conn, chunk) if with_people else {}
                for row in rows:
                    out[row["title_id"]] = _row_to_title(row, people.get(row["title_id"], ()))
        return out

    def find_people(self, title_ids: Iterable[str]) -> dict[str, tuple[Person, ...]]:
        """The credits of the titles among these ids that have any (cheaper than find_titles with people)."""
        ids = list(dict.fromkeys(title_ids))
        out: dict[str, tuple[Person, ...]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), _CHUNK):
                out.update((k, tuple(v)) for k, v in self._people_of(conn, ids[start : start + _CHUNK]).items())
        return out

    def iter_titles(self, batch_size: int = 2000, with_people: bool = False) -> Iterator[Title]:
        """Every title, ordered by id, read in batches (keyset pagination, so memory stays flat)."""
        last = ""
        while True:
            with self.engine.connect() as conn:
                rows = list(
                    conn.execute(
                        sa.select(*self._columns(titles_table))
                        .where(titles_table.c.title_id > last)
                        .order_by(titles_table.c.title_id)
                        .limit(batch_size)
                    ).mappings()
                )
                people = self._people_of(conn, [r["title_id"] for r in rows]) if with_people and rows else {}
            if not rows:
                return
            for row in rows:
                yield _row_to_title(row, people.get(row["title_id"], ()))
            last = rows[-1]["title_id"]

    def iter_names(self) -> Iterator[tuple[str, str, str | None, list[str]]]:
        """(title_id, title, original_title, aliases) of every title, for name search."""
        c = titles_table.c
        with self.engine.connect() as conn:
            for row in conn.execute(sa.select(c.title_id, c.title, c.original_title, c.aliases)):
                yield row.title_id, row.title, row.original_title, list(row.aliases or [])

    def hashes(self) -> dict[str, str]:
        """title_id -> content hash of every title (what decides re-embedding)."""
        return {title_id: content for title_id, (content, _) in self.hash_pairs().items()}

    def hash_pairs(self) -> dict[str, tuple[str, str]]:
        """title_id -> (content hash, record hash) of every title: what an index build is planned from."""
        c = titles_table.c
        with self.engine.connect() as conn:
            return {row[0]: (row[1], row[2]) for row in conn.execute(sa.select(c.title_id, c.content_hash, c.record_hash))}

    def frame_rows(self, columns: Iterable[str]) -> list[dict[str, Any]]:
        """Chosen columns of every title as dicts (for tables and charts)."""
        names = list(columns)
        present = {c.name for c in self._columns(titles_table)}
        cols = [titles_table.c[name] for name in names if name in present]
        missing = dict.fromkeys(name for name in names if name not in present)  # an older database: None
        codes = [name for name in names if name in _CODE_LIST_FIELDS and name in present]
        with self.engine.connect() as conn:
            rows = [{**missing, **r} for r in conn.execute(sa.select(*cols)).mappings()]
        for row in rows:
            for name in codes:
                row[name] = _code_list(row[name])
        return rows

    def last_updated(self) -> dt.datetime | None:
        """When any title was last inserted or changed."""
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(sa.func.max(titles_table.c.updated_at))).scalar_one()
        if isinstance(value, str):  # SQLite may hand back text for aggregates
            value = dt.datetime.fromisoformat(value)
        return value

    def _people_of(self, conn: Connection, title_ids: list[str]) -> dict[str, list[Person]]:
        out: dict[str, list[Person]] = {}
        query = (
            sa.select(*self._columns(credits_table), people_table.c.name)
            .join(people_table, people_table.c.person_id == credits_table.c.person_id)
            .where(credits_table.c.title_id.in_(title_ids))
            .order_by(credits_table.c.title_id, credits_table.c.role, credits_table.c.position)
        )
        for row in conn.execute(query).mappings():
            out.setdefault(row["title_id"], []).append(
                Person(row["person_id"], row["name"], row["role"], row["position"], row["character"],
                       row.get("job"), row.get("episode_count"))
            )
        return out

    # ---- writing -------------------------------------------------------------------------------

    def upsert_titles(self, titles: Iterable[Title], state: Mapping[str, Any] | None = None) -> UpsertCounts:
        """Insert new titles and update changed ones, in one transaction with any `state` checkpoints.

        Idempotent: a title whose record hash is unchanged is not written, so a re-run changes nothing.
        The same id twice in one call keeps the last.
        """
        batch = list({t.title_id: t for t in titles}.values())
        counts = UpsertCounts()
        now = utcnow()
        with self.engine.begin() as conn:
            for start in range(0, len(batch), _CHUNK):
                counts += self._upsert_chunk(conn, batch[start : start + _CHUNK], now)
            if state:
                self._set_state(conn, state, now)
        return counts

    def _upsert_chunk(self, conn: Connection, chunk: list[Title], now: dt.datetime) -> UpsertCounts:
        c = titles_table.c
        ids = [t.title_id for t in chunk]
        existing = dict(conn.execute(sa.select(c.title_id, c.record_hash).where(c.title_id.in_(ids))).tuples().all())
        rows = {t.title_id: _title_to_row(t, now) for t in chunk}
        new = [rows[t.title_id] for t in chunk if t.title_id not in existing]
        changed = [rows[t.title_id] for t in chunk if t.title_id in existing and existing[t.title_id] != rows[t.title_id]["record_hash"]]
        if new:
            conn.execute(titles_table.insert(), new)
        if changed:
            params = [{**row, "b_title_id": row["title_id"]} for row in changed]
            values = {name: sa.bindparam(name) for name in changed[0] if name != "title_id"}
            conn.execute(titles_table.update().where(c.title_id == sa.bindparam("b_title_id")).values(values), params)
            conn.execute(credits_table.delete().where(credits_table.c.title_id.in_([r["title_id"] for r in changed])))
        written = {r["title_id"] for r in new} | {r["title_id"] for r in changed}
        self._write_people(conn, [t for t in chunk if t.title_id in written])
        return UpsertCounts(new=len(new), updated=len(changed), unchanged=len(chunk) - len(new) - len(changed))

    @staticmethod
    def _write_people(conn: Connection, titles: list[Title]) -> None:
        people: dict[str, str] = {}
        credits: dict[tuple[str, str, str], dict[str, Any]] = {}
        for t in titles:
            for p in t.people:
                people[p.person_id] = p.name
                credits.setdefault(
                    (t.title_id, p.person_id, p.role),
                    {"title_id": t.title_id, "person_id": p.person_id, "role": p.role,
                     "position": p.position, "character": p.character, "job": p.job,
                     "episode_count": p.episode_count},
                )
        if not people:
            return
        ids = list(people)
        known: set[str] = set()
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            known.update(conn.execute(sa.select(people_table.c.person_id).where(people_table.c.person_id.in_(chunk))).scalars())
        fresh = [{"person_id": pid, "name": people[pid]} for pid in ids if pid not in known]
        if fresh:
            conn.execute(people_table.insert(), fresh)
        conn.execute(credits_table.insert(), list(credits.values()))

    def delete_titles(self, title_ids: Iterable[str]) -> int:
        """Remove these titles (and their credits); returns how many existed."""
        ids = list(title_ids)
        removed = 0
        with self.engine.begin() as conn:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                conn.execute(credits_table.delete().where(credits_table.c.title_id.in_(chunk)))
                removed += conn.execute(titles_table.delete().where(titles_table.c.title_id.in_(chunk))).rowcount
        return removed

    # ---- checkpoints -----------------------------------------------------------------------------

    def get_state(self, key: str, default: Any = None) -> Any:
        """A stored checkpoint value (JSON), or `default`."""
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(sync_state_table.c.value).where(sync_state_table.c.key == key)).scalar_one_or_none()
        return default if value is None else value

    def set_state(self, key: str, value: Any) -> None:
        """Store a checkpoint value (JSON) on its own."""
        with self.engine.begin() as conn:
            self._set_state(conn, {key: value}, utcnow())

    def states(self, prefix: str = "") -> dict[str, Any]:
        """Every checkpoint whose key starts with `prefix`."""
        t = sync_state_table
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.key, t.c.value).where(t.c.key.startswith(prefix))).tuples().all()
        return dict(rows)

    @staticmethod
    def _set_state(conn: Connection, state: Mapping[str, Any], now: dt.datetime) -> None:
        t = sync_state_table
        for key, value in state.items():
            json.dumps(value)  # fail before writing anything that is not JSON
            if conn.execute(t.update().where(t.c.key == key).values(value=value, updated_at=now)).rowcount == 0:
                conn.execute(t.insert().values(key=key, value=value, updated_at=now))


def _title_to_row(title: Title, now: dt.datetime) -> dict[str, Any]:
    row = {name: getattr(title, name) for name in _TITLE_FIELDS}
    for name in _TUPLE_FIELDS:
        row[name] = list(row[name])
    for name in _CODE_LIST_FIELDS:
        row[name] = None if row[name] is None else ",".join(row[name])
    row["content_hash"] = title.content_hash
    row["record_hash"] = title.record_hash
    row["updated_at"] = now
    return row


def _code_list(stored: str | None) -> tuple[str, ...] | None:
    """A comma-separated column ("en,es") as a tuple; None stays None."""
    return None if stored is None else tuple(filter(None, stored.split(",")))


def _row_to_title(row: Mapping[str, Any], people: Iterable[Person]) -> Title:
    values = {name: row.get(name) for name in _TITLE_FIELDS}
    for name in _TUPLE_FIELDS:
        values[name] = tuple(values[name] or ())
    for name in _CODE_LIST_FIELDS:
        values[name] = _code_list(values[name])
    return Title(**values, people=tuple(people))
