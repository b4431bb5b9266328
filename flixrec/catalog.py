"""The catalogue of titles: SQLAlchemy tables and the Catalog that reads and upserts them.

SQLite (a file, WAL mode so the app can read while ingest writes) by default; any SQLAlchemy URL,
Postgres included, by setting. Upserts are idempotent: a row is written only when its record hash
changes, and a checkpoint (sync state) can be written in the same transaction as a page of titles.

Ingest upserts source records (a TMDB movie, an anime entry, a Trakt record); records of one work merge
into one title (rules in flixrec.works). `title_sources` keeps every record with the title it belongs
to and `title_keys` the ids and names it matches on; a `titles` row is the merge of its records, so an
update of one source replaces its contribution and every record id ever issued still finds its title.
One cohesive job (the store and its merge bookkeeping) keeps this file past 400 lines.
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

from flixrec import works
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
    sa.Column("overviews", sa.JSON),
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
)
sa.Index("credits_person", credits_table.c.person_id)

title_sources_table = sa.Table(
    "title_sources",
    metadata,
    sa.Column("record_id", sa.String(64), primary_key=True),
    sa.Column("title_id", sa.String(64), nullable=False, index=True),
    sa.Column("source", sa.String(16), nullable=False, index=True),
    sa.Column("record", sa.JSON, nullable=False),
    sa.Column("record_hash", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

title_keys_table = sa.Table(
    "title_keys",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("record_id", sa.String(64), sa.ForeignKey("title_sources.record_id", ondelete="CASCADE"),
              primary_key=True),
)
sa.Index("title_keys_record", title_keys_table.c.record_id)

sync_state_table = sa.Table(
    "sync_state",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("value", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

_TITLE_FIELDS = [f.name for f in dataclasses.fields(Title) if f.name != "people"]
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
        self._columns: list[sa.Column] | None = None
        self._has_sources = False

    @classmethod
    def open(cls, database_url: str, create: bool = True) -> Catalog:
        """Open the catalogue at a SQLAlchemy URL, creating the tables when `create` is set."""
        catalog = cls(create_engine(database_url))
        if create:
            catalog.create_tables()
        return catalog

    def create_tables(self) -> None:
        """Create any missing table or column (idempotent); a catalogue from before merging gets its records."""
        metadata.create_all(self.engine)
        existing = {c["name"] for c in sa.inspect(self.engine).get_columns("titles")}
        with self.engine.begin() as conn:
            for column in titles_table.columns:
                if column.name not in existing:  # new nullable fields of a newer version
                    kind = column.type.compile(dialect=self.engine.dialect)
                    conn.execute(sa.text(f"ALTER TABLE titles ADD COLUMN {column.name} {kind}"))
            if (conn.execute(sa.select(title_sources_table.c.record_id).limit(1)).first() is None
                    and conn.execute(sa.select(titles_table.c.title_id).limit(1)).first() is not None):
                self._adopt_titles(conn, utcnow())
        self._columns = None

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
        """The titles among these ids that exist, keyed by the id asked for.

        The id of a record merged into another title finds that title (whose `title_id` is the other).
        """
        ids = list(dict.fromkeys(title_ids))
        out: dict[str, Title] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                out.update(self._read_titles(conn, chunk, with_people))
                moved = self._current_ids(conn, [i for i in chunk if i not in out])
                targets = self._read_titles(conn, sorted(set(moved.values())), with_people) if moved else {}
                out.update({old: targets[new] for old, new in moved.items() if new in targets})
        return out

    def current_title_id(self, title_id: str) -> str:
        """The id a title is stored under now: the id itself, or the title a merged-away record belongs to."""
        with self.engine.connect() as conn:
            return self._current_ids(conn, [title_id]).get(title_id, title_id)

    def _read_titles(self, conn: Connection, title_ids: list[str], with_people: bool) -> dict[str, Title]:
        rows = conn.execute(sa.select(*self._title_columns()).where(titles_table.c.title_id.in_(title_ids))).mappings()
        people = self._people_of(conn, title_ids) if with_people and title_ids else {}
        return {row["title_id"]: _row_to_title(row, people.get(row["title_id"], ())) for row in rows}

    def _current_ids(self, conn: Connection, record_ids: list[str]) -> dict[str, str]:
        """record id -> title id of these records (none in a catalogue from before merging)."""
        if not record_ids or not self._sources_exist():
            return {}
        c = title_sources_table.c
        return dict(conn.execute(sa.select(c.record_id, c.title_id).where(c.record_id.in_(record_ids))).tuples().all())

    def _sources_exist(self) -> bool:
        self._has_sources = self._has_sources or sa.inspect(self.engine).has_table("title_sources")
        return self._has_sources

    def _title_columns(self) -> list[sa.Column]:
        """The titles columns this database has (one written by an older version lacks the newer ones)."""
        if self._columns is None:
            existing = {c["name"] for c in sa.inspect(self.engine).get_columns("titles")}
            self._columns = [column for column in titles_table.columns if column.name in existing]
        return self._columns

    def iter_titles(self, batch_size: int = 2000, with_people: bool = False) -> Iterator[Title]:
        """Every title, ordered by id, read in batches (keyset pagination, so memory stays flat)."""
        last = ""
        while True:
            with self.engine.connect() as conn:
                rows = list(
                    conn.execute(
                        sa.select(*self._title_columns())
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

    def find_records(self, record_ids: Iterable[str]) -> dict[str, Title]:
        """The source records among these ids, as ingest gave them (not merged), keyed by record id."""
        ids = list(dict.fromkeys(record_ids))
        c = title_sources_table.c
        out: dict[str, Title] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), _CHUNK):
                query = sa.select(c.record_id, c.record).where(c.record_id.in_(ids[start : start + _CHUNK]))
                out.update((rid, works.record_from_json(record)) for rid, record in conn.execute(query))
        return out

    def iter_records(self, source: str | None = None, batch_size: int = 2000) -> Iterator[Title]:
        """Every source record (of one source), ordered by record id, read in batches."""
        c = title_sources_table.c
        last = ""
        while True:
            query = sa.select(c.record_id, c.record).where(c.record_id > last).order_by(c.record_id).limit(batch_size)
            if source is not None:
                query = query.where(c.source == source)
            with self.engine.connect() as conn:
                rows = conn.execute(query).tuples().all()
            if not rows:
                return
            yield from (works.record_from_json(record) for _, record in rows)
            last = rows[-1][0]

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
        cols = [titles_table.c[name] for name in columns]
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(*cols)).mappings()]

    def last_updated(self) -> dt.datetime | None:
        """When any title was last inserted or changed."""
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(sa.func.max(titles_table.c.updated_at))).scalar_one()
        if isinstance(value, str):  # SQLite may hand back text for aggregates
            value = dt.datetime.fromisoformat(value)
        return value

    @staticmethod
    def _people_of(conn: Connection, title_ids: list[str]) -> dict[str, list[Person]]:
        out: dict[str, list[Person]] = {}
        query = (
            sa.select(credits_table, people_table.c.name)
            .join(people_table, people_table.c.person_id == credits_table.c.person_id)
            .where(credits_table.c.title_id.in_(title_ids))
            .order_by(credits_table.c.title_id, credits_table.c.role, credits_table.c.position)
        )
        for row in conn.execute(query).mappings():
            out.setdefault(row["title_id"], []).append(
                Person(row["person_id"], row["name"], row["role"], row["position"], row["character"])
            )
        return out

    # ---- writing -------------------------------------------------------------------------------

    def upsert_titles(self, titles: Iterable[Title], state: Mapping[str, Any] | None = None) -> UpsertCounts:
        """Upsert source records, in one transaction with any `state` checkpoints; counts are per record.

        Each record joins the title of its work (flixrec.works) or starts one; a changed record replaces
        its own contribution. Idempotent: a record whose hash is unchanged is not written, so a re-run
        changes nothing. The same id twice in one call keeps the last.
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
        c = title_sources_table.c
        ids = [t.title_id for t in chunk]
        stored = dict(conn.execute(sa.select(c.record_id, c.record_hash).where(c.record_id.in_(ids))).tuples().all())
        new = [t for t in chunk if t.title_id not in stored]
        changed = [t for t in chunk if t.title_id in stored and stored[t.title_id] != t.record_hash]
        if new or changed:
            changed_ids = [t.title_id for t in changed]
            old_keys = _select(conn, title_keys_table.c.key, title_keys_table.c.record_id, changed_ids)
            for start in range(0, len(changed_ids), _CHUNK):
                conn.execute(title_keys_table.delete().where(title_keys_table.c.record_id.in_(changed_ids[start : start + _CHUNK])))
            if new:
                conn.execute(title_sources_table.insert(), [_source_row(t, now) for t in new])
            if changed:
                rows = [{**_source_row(t, now), "b_record_id": t.title_id} for t in changed]
                values = {name: sa.bindparam(name) for name in ("source", "record", "record_hash", "updated_at")}
                conn.execute(title_sources_table.update().where(c.record_id == sa.bindparam("b_record_id")).values(values),
                             rows)
            keys = [{"key": key, "record_id": t.title_id} for t in (*new, *changed) for key in works.match_keys(t)]
            if keys:
                conn.execute(title_keys_table.insert(), keys)
            self._regroup(conn, [t.title_id for t in (*new, *changed)], old_keys | {k["key"] for k in keys}, now)
        return UpsertCounts(new=len(new), updated=len(changed), unchanged=len(chunk) - len(new) - len(changed))

    def _regroup(self, conn: Connection, record_ids: Iterable[str], keys: set[str], now: dt.datetime) -> None:
        """Group again every record these records or keys reach (shared keys, same title), and rewrite their titles.

        The reach is closed under shared keys, so the groups equal those of merging the whole catalogue.
        """
        s, k = title_sources_table.c, title_keys_table.c
        members: dict[str, str] = {}
        todo_ids, todo_keys = set(record_ids), set(keys)
        seen_keys: set[str] = set()
        seen_titles: set[str] = set()
        while todo_ids or todo_keys:
            todo_keys -= seen_keys
            seen_keys |= todo_keys
            fresh = (todo_ids | _select(conn, k.record_id, k.key, todo_keys)) - members.keys()
            found = self._current_ids(conn, sorted(fresh))
            members.update(found)
            titles = set(found.values()) - seen_titles
            seen_titles |= titles
            todo_ids = _select(conn, s.record_id, s.title_id, titles) - members.keys()
            todo_keys = _select(conn, k.key, k.record_id, found)
        records: list[Title] = []
        ids = sorted(members)
        for start in range(0, len(ids), _CHUNK):
            query = sa.select(s.record).where(s.record_id.in_(ids[start : start + _CHUNK]))
            records.extend(works.record_from_json(record) for record in conn.execute(query).scalars())
        merged = works.merge_groups(records)
        moved = [{"b_record_id": r.title_id, "title_id": title.title_id}
                 for title, group in merged for r in group if members[r.title_id] != title.title_id]
        if moved:
            conn.execute(title_sources_table.update().where(s.record_id == sa.bindparam("b_record_id"))
                         .values(title_id=sa.bindparam("title_id")), moved)
        gone = sorted(set(members.values()) - {title.title_id for title, _ in merged})
        for start in range(0, len(gone), _CHUNK):
            chunk = gone[start : start + _CHUNK]
            conn.execute(credits_table.delete().where(credits_table.c.title_id.in_(chunk)))
            conn.execute(titles_table.delete().where(titles_table.c.title_id.in_(chunk)))
        titles_out = [title for title, _ in merged]
        for start in range(0, len(titles_out), _CHUNK):
            self._write_titles(conn, titles_out[start : start + _CHUNK], now)

    def _write_titles(self, conn: Connection, chunk: list[Title], now: dt.datetime) -> None:
        """Insert or update these merged titles' rows (and credits) where their record hash changed."""
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

    def _adopt_titles(self, conn: Connection, now: dt.datetime) -> None:
        """Make each title of a catalogue written before merging its own source record, then merge them."""
        c = titles_table.c
        last = ""
        while True:
            rows = list(conn.execute(sa.select(titles_table).where(c.title_id > last).order_by(c.title_id).limit(2000)).mappings())
            if not rows:
                break
            people = self._people_of(conn, [r["title_id"] for r in rows])
            titles = [_row_to_title(r, people.get(r["title_id"], ())) for r in rows]
            conn.execute(title_sources_table.insert(), [_source_row(t, now) for t in titles])
            keys = [{"key": key, "record_id": t.title_id} for t in titles for key in works.match_keys(t)]
            if keys:
                conn.execute(title_keys_table.insert(), keys)
            conn.execute(titles_table.update().where(c.title_id == sa.bindparam("b_title_id"))
                         .values(record_hash=sa.bindparam("record_hash")),
                         [{"b_title_id": t.title_id, "record_hash": t.record_hash} for t in titles])
            last = rows[-1]["title_id"]
        k = title_keys_table.c
        shared = conn.execute(sa.select(k.key).group_by(k.key).having(sa.func.count() > 1)).scalars().all()
        self._has_sources = True
        self._regroup(conn, [], set(shared), now)

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
                     "position": p.position, "character": p.character},
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
        """Remove these titles with every record merged into them (and their credits); returns how many existed."""
        s, k = title_sources_table.c, title_keys_table.c
        removed = 0
        with self.engine.begin() as conn:
            asked = list(dict.fromkeys(title_ids))
            ids = sorted(set(asked) | set(self._current_ids(conn, asked).values()))
            records = _select(conn, s.record_id, s.title_id, ids) if self._sources_exist() else set()
            keys = _select(conn, k.key, k.record_id, records)
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                conn.execute(credits_table.delete().where(credits_table.c.title_id.in_(chunk)))
                removed += conn.execute(titles_table.delete().where(titles_table.c.title_id.in_(chunk))).rowcount
            gone = sorted(records)
            for start in range(0, len(gone), _CHUNK):
                conn.execute(title_keys_table.delete().where(k.record_id.in_(gone[start : start + _CHUNK])))
                conn.execute(title_sources_table.delete().where(s.record_id.in_(gone[start : start + _CHUNK])))
            if keys:
                self._regroup(conn, [], keys, utcnow())  # records that lost a rival may join another work
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
    for name in ("aliases", "genres", "keywords"):
        row[name] = list(row[name])
    if row["overviews"] is not None:
        row["overviews"] = [list(pair) for pair in row["overviews"]]
    row["content_hash"] = title.content_hash
    row["record_hash"] = title.record_hash
    row["updated_at"] = now
    return row


def _row_to_title(row: Mapping[str, Any], people: Iterable[Person]) -> Title:
    values = {name: row.get(name) for name in _TITLE_FIELDS}
    for name in ("aliases", "genres", "keywords"):
        values[name] = tuple(values[name] or ())
    if values["overviews"] is not None:
        values["overviews"] = tuple((str(lang), str(text)) for lang, text in values["overviews"])
    return Title(**values, people=tuple(people))


def _source_row(title: Title, now: dt.datetime) -> dict[str, Any]:
    """A new title_sources row: the record, in a title of its own until it is grouped."""
    return {"record_id": title.title_id, "title_id": title.title_id, "source": title.source,
            "record": works.record_to_json(title), "record_hash": title.record_hash, "updated_at": now}


def _select(conn: Connection, wanted: sa.Column, column: sa.Column, values: Iterable[str]) -> set[str]:
    """The `wanted` values of the rows whose `column` is among `values` (queried in chunks)."""
    values = sorted(values)
    out: set[str] = set()
    for start in range(0, len(values), _CHUNK):
        out.update(conn.execute(sa.select(wanted).where(column.in_(values[start : start + _CHUNK]))).scalars())
    return out
