"""The catalogue of titles: the Catalog that reads and upserts them (tables and row mapping: flixrec.catalog_schema).

SQLite (a file, WAL mode so the app can read while ingest writes) by default; any SQLAlchemy URL,
Postgres included, by setting. Upserts are idempotent: a row is written only when its record hash
changes, and a checkpoint (sync state) can be written in the same transaction as a page of titles.

Ingest upserts source records (a TMDB movie, an anime entry, a Trakt record); records of one work merge
into one title (rules in flixrec.works, records kept in flixrec.title_sources). A `titles` row is the
merge of its records, so an update of one source replaces its contribution, and every record id ever
issued still finds its title. One job, the store of titles (reading, merging upserts, deletes, checkpoints),
keeps this file past 400 lines.

Opening the database (URL checks, engines) is flixrec.database; failures while using it become
CatalogUnavailable in one place, `Catalog._translated`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from flixrec import title_sources as records
from flixrec import works
from flixrec.database import create_engine, one_line
from flixrec.errors import CatalogUnavailable, TitleNotFound
from flixrec import migrations
from flixrec.catalog_schema import (  # noqa: F401  (the tables, re-exported for callers and tests)
    CODE_LIST_FIELDS,
    TITLE_FIELDS,
    TUPLE_FIELDS,
    code_list,
    credits_table,
    insert_rows,
    metadata,
    people_table,
    row_to_title,
    sync_state_table,
    title_to_row,
    titles_table,
    update_rows,
)
from flixrec.models import EMBEDDING_RECIPE, Person, Title
from flixrec.redact import redact_url

_CHUNK = 500
RECIPE_STATE = "index:embedding_recipe"


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


class Catalog:
    """The titles, their people and the ingest checkpoints, in one SQL database."""

    skip_lone_records = True
    """Write a record that shares no key with another source's record straight as its title (what grouping would
    give, see `title_sources.alone`) instead of regrouping it; tests turn it off to compare both."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._has_sources = False

    def describe(self) -> str:
        """Where the catalogue lives, safe to show: a SQLite file's path or the URL without credentials."""
        url = self.engine.url
        if url.get_backend_name() == "sqlite":
            return f"the catalogue file {Path(url.database or ':memory:').expanduser()}"
        return f"the catalogue database {redact_url(url.render_as_string(hide_password=False))}"

    @contextlib.contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        """Database failures inside as CatalogUnavailable naming the catalogue and the fix (the one place)."""
        try:
            yield
        except sa.exc.IntegrityError:
            raise  # a bug in an upsert, not the database's state
        except (sa.exc.DBAPIError, sqlite3.Error) as exc:
            reason = one_line(getattr(exc, "orig", None) or exc)
            raise CatalogUnavailable(f"{self.describe()} failed while {action}: {reason}; {self._fix(reason)}") from exc

    def _fix(self, reason: str) -> str:
        """What to do about a database failure."""
        if self.engine.url.get_backend_name() != "sqlite":
            return "check that the server is running and reachable and that FLIXREC_DATABASE_URL is right"
        if "not a database" in reason or "malformed" in reason or "no such" in reason:
            return ("the file is damaged: move it away, load the titles again (python -m ingest demo, or trakt), "
                    "then run python -m ingest embed")
        return "check the path and its permissions (FLIXREC_DATABASE_URL or FLIXREC_HOME)"

    @contextlib.contextmanager
    def _connect(self, action: str = "reading") -> Iterator[Connection]:
        """A connection whose database failures become CatalogUnavailable."""
        with self._translated(action), self.engine.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def _begin(self, action: str = "writing") -> Iterator[Connection]:
        """A transaction whose database failures become CatalogUnavailable."""
        with self._translated(action), self.engine.begin() as conn:
            yield conn

    @classmethod
    def open(cls, database_url: str, create: bool = True) -> Catalog:
        """Open the catalogue at a SQLAlchemy URL, creating the tables when `create` is set."""
        catalog = cls(create_engine(database_url))
        if create:
            catalog.create_tables()
        return catalog

    def create_tables(self) -> None:
        """Bring the schema to the newest revision (flixrec.migrations: missing tables, the nullable columns an
        older version lacks), and give a catalogue from before merging its records (idempotent); a new
        one's content hashes follow the current embedding recipe."""
        with self._translated("creating its tables"):
            new = not self.exists()
            migrations.migrate(self.engine)
            if new:
                self.set_state(RECIPE_STATE, EMBEDDING_RECIPE)
            inspector = sa.inspect(self.engine)
            with self.engine.begin() as conn:
                for table in (titles_table, credits_table):  # a nullable column lost since (restored from a backup)
                    present = {c["name"] for c in inspector.get_columns(table.name)}
                    for column in table.columns:
                        if column.name not in present and column.nullable:
                            kind = column.type.compile(dialect=self.engine.dialect)
                            conn.execute(sa.text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))
                self._forget_columns()
                if records.is_empty(conn) and conn.execute(sa.select(titles_table.c.title_id).limit(1)).first():
                    self._adopt_titles(conn, utcnow())
            self._forget_columns()

    def migrate_schema(self) -> tuple[str | None, str]:
        """Upgrade the schema to the newest revision (what `python -m ingest migrate` runs); (before, after)."""
        with self._translated("migrating its schema"):
            before, after = migrations.migrate(self.engine)
        self.create_tables()  # a catalogue from before merging records gets them (idempotent)
        return before, after

    _present: dict[str, list[sa.Column]] | None = None
    _by_id: dict[tuple[str, ...] | None, sa.Select] | None = None

    def _forget_columns(self) -> None:
        """After a schema change: the columns present, and the statements built from them, are read again."""
        self._present = self._by_id = None

    def _title_columns(self, fields: Sequence[str] | None) -> list[sa.Column]:
        """The titles table's columns to read: these fields and the id, or all."""
        columns = self._columns(titles_table)
        return columns if fields is None else [c for c in columns if c.name == "title_id" or c.name in fields]

    def _titles_by_id(self, fields: Sequence[str] | None) -> sa.Select:
        """SELECT these fields (all when None) of the titles whose id is in the expanding parameter `ids`; built
        once per field set, as every similar-titles call reads its results through it."""
        key = None if fields is None else tuple(fields)
        if self._by_id is None:
            self._by_id = {}
        statement = self._by_id.get(key)
        if statement is None:
            statement = self._by_id[key] = sa.select(*self._title_columns(fields)).where(
                titles_table.c.title_id.in_(sa.bindparam("ids", expanding=True)))
        return statement

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
        with self._translated("opening it"):
            return sa.inspect(self.engine).has_table("titles")

    # ---- reading -------------------------------------------------------------------------------

    def count(self, media_type: str | None = None) -> int:
        """Number of titles, optionally of one media type."""
        query = sa.select(sa.func.count()).select_from(titles_table)
        if media_type:
            query = query.where(titles_table.c.media_type == media_type)
        with self._connect() as conn:
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

    def find_titles(self, title_ids: Iterable[str], with_people: bool = True,
                    fields: Sequence[str] | None = None) -> dict[str, Title]:
        """The titles among these ids that exist, keyed by the id asked for.

        The id of a record merged into another title finds that title (whose `title_id` is the other).
        `fields`: read only these columns, as `iter_titles` does.
        """
        ids = list(dict.fromkeys(title_ids))
        out: dict[str, Title] = {}
        with self._connect() as conn:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                out.update(self._read_titles(conn, chunk, with_people, fields))
                moved = self._current_ids(conn, [i for i in chunk if i not in out])
                targets = self._read_titles(conn, sorted(set(moved.values())), with_people, fields) if moved else {}
                out.update({old: targets[new] for old, new in moved.items() if new in targets})
        return out

    def current_title_id(self, title_id: str) -> str:
        """The id a title is stored under now: the id itself, or the title a merged-away record belongs to."""
        with self.engine.connect() as conn:
            return self._current_ids(conn, [title_id]).get(title_id, title_id)

    def _read_titles(self, conn: Connection, title_ids: list[str], with_people: bool,
                     fields: Sequence[str] | None = None) -> dict[str, Title]:
        rows = conn.execute(self._titles_by_id(fields), {"ids": title_ids}).mappings()
        people = self._people_of(conn, title_ids) if with_people and title_ids else {}
        return {row["title_id"]: row_to_title(row, people.get(row["title_id"], ())) for row in rows}

    def _current_ids(self, conn: Connection, record_ids: list[str]) -> dict[str, str]:
        """record id -> title id of these records (none in a catalogue from before merging)."""
        return records.current_ids(conn, record_ids) if record_ids and self._sources_exist() else {}

    def _sources_exist(self) -> bool:
        self._has_sources = self._has_sources or sa.inspect(self.engine).has_table("title_sources")
        return self._has_sources

    def find_people(self, title_ids: Iterable[str]) -> dict[str, tuple[Person, ...]]:
        """The credits of the titles among these ids that have any (cheaper than find_titles with people)."""
        ids = list(dict.fromkeys(title_ids))
        out: dict[str, tuple[Person, ...]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), _CHUNK):
                out.update((k, tuple(v)) for k, v in self._people_of(conn, ids[start : start + _CHUNK]).items())
        return out

    def iter_titles(self, batch_size: int = 2000, with_people: bool = False,
                    fields: Sequence[str] | None = None) -> Iterator[Title]:
        """Every title, ordered by id, read in batches (keyset pagination, so memory stays flat).

        `fields`: read only these columns (and the id); the others are left empty (None, or () for lists).
        For readers of a few fields of every title: at 300k titles it reads in about half the time.
        """
        columns = self._title_columns(fields)
        last = ""
        while True:
            with self._connect() as conn:
                rows = list(
                    conn.execute(
                        sa.select(*columns)
                        .where(titles_table.c.title_id > last)
                        .order_by(titles_table.c.title_id)
                        .limit(batch_size)
                    ).mappings()
                )
                people = self._people_of(conn, [r["title_id"] for r in rows]) if with_people and rows else {}
            if not rows:
                return
            for row in rows:
                yield row_to_title(row, people.get(row["title_id"], ()))
            last = rows[-1]["title_id"]

    def iter_names(self) -> Iterator[tuple[str, str, str | None, list[str]]]:
        """(title_id, title, original_title, aliases) of every title, for name search."""
        c = titles_table.c
        with self._connect() as conn:
            for row in conn.execute(sa.select(c.title_id, c.title, c.original_title, c.aliases)):
                yield row.title_id, row.title, row.original_title, list(row.aliases or [])

    def find_records(self, record_ids: Iterable[str]) -> dict[str, Title]:
        """The source records among these ids, as ingest gave them (not merged), keyed by record id."""
        with self.engine.connect() as conn:
            return records.read_records(conn, record_ids)

    def iter_records(self, source: str | None = None, batch_size: int = 2000) -> Iterator[Title]:
        """Every source record (of one source), ordered by record id, read in batches."""
        last = ""
        while True:
            with self.engine.connect() as conn:
                page = records.page_of_records(conn, last, source, batch_size)
            if not page:
                return
            yield from page
            last = page[-1].title_id

    def hashes(self) -> dict[str, str]:
        """title_id -> content hash of every title (what decides re-embedding)."""
        return {title_id: content for title_id, (content, _) in self.hash_pairs().items()}

    def hash_pairs(self) -> dict[str, tuple[str, str]]:
        """title_id -> (content hash, record hash) of every title: what an index build is planned from."""
        c = titles_table.c
        with self._connect() as conn:
            return {row[0]: (row[1], row[2]) for row in conn.execute(sa.select(c.title_id, c.content_hash, c.record_hash))}

    def frame_rows(self, columns: Iterable[str]) -> list[dict[str, Any]]:
        """Chosen columns of every title as dicts (for tables and charts)."""
        names = list(columns)
        present = {c.name for c in self._columns(titles_table)}
        cols = [titles_table.c[name] for name in names if name in present]
        missing = dict.fromkeys(name for name in names if name not in present)  # an older database: None
        codes = [name for name in names if name in CODE_LIST_FIELDS and name in present]
        with self._connect() as conn:
            rows = [{**missing, **r} for r in conn.execute(sa.select(*cols)).mappings()]
        for row in rows:
            for name in codes:
                row[name] = code_list(row[name])
        return rows

    def last_updated(self) -> dt.datetime | None:
        """When any title was last inserted or changed."""
        with self._connect() as conn:
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
        """Upsert source records, in one transaction with any `state` checkpoints; counts are per record.

        Each record joins the title of its work (flixrec.works) or starts one; a changed record replaces
        its own contribution. Idempotent: a record whose hash is unchanged is not written, so a re-run
        changes nothing. The same id twice in one call keeps the last.
        """
        batch = list({t.title_id: t for t in titles}.values())
        counts = UpsertCounts()
        now = utcnow()
        with self._begin() as conn:
            for start in range(0, len(batch), _CHUNK):
                counts += self._upsert_chunk(conn, batch[start : start + _CHUNK], now)
            if state:
                self._set_state(conn, state, now)
        return counts

    def _upsert_chunk(self, conn: Connection, chunk: list[Title], now: dt.datetime) -> UpsertCounts:
        stored = records.stored(conn, [t.title_id for t in chunk])
        new = [t for t in chunk if t.title_id not in stored]
        changed = [t for t in chunk if t.title_id in stored and stored[t.title_id][0] != t.record_hash]
        if new or changed:
            written = {t.title_id: t for t in (*new, *changed)}
            keys_of = {record_id: works.match_keys(t) for record_id, t in written.items()}
            for record_id, keys in records.write_records(conn, new, changed, keys_of, now).items():
                keys_of[record_id] = keys_of[record_id] | keys
            title_of = {t.title_id: stored[t.title_id][1] if t.title_id in stored else t.title_id for t in written.values()}
            alone = records.alone(conn, keys_of, title_of) if self.skip_lone_records else set()
            self._write_titles(conn, [written[record_id] for record_id in written if record_id in alone], now)
            rest = {record_id: t for record_id, t in written.items() if record_id not in alone}
            if rest:
                self._regroup(conn, rest, {key for record_id in rest for key in keys_of[record_id]}, now)
        return UpsertCounts(new=len(new), updated=len(changed), unchanged=len(chunk) - len(new) - len(changed))

    def _regroup(self, conn: Connection, written: Mapping[str, Title], keys: set[str], now: dt.datetime) -> None:
        """Group again every record the `written` records or these keys reach, and rewrite the titles that changed."""
        before = records.reach(conn, written, keys)
        others = records.read_records(conn, before.keys() - written.keys())
        merged = works.merge_groups([*written.values(), *others.values()])
        records.assign(conn, {r.title_id: title.title_id for title, group in merged for r in group}, before)
        gone = sorted(set(before.values()) - {title.title_id for title, _ in merged})
        for start in range(0, len(gone), _CHUNK):
            chunk = gone[start : start + _CHUNK]
            conn.execute(credits_table.delete().where(credits_table.c.title_id.in_(chunk)))
            conn.execute(titles_table.delete().where(titles_table.c.title_id.in_(chunk)))
        titles = [title for title, _ in merged]
        for start in range(0, len(titles), _CHUNK):
            self._write_titles(conn, titles[start : start + _CHUNK], now)

    def _write_titles(self, conn: Connection, chunk: list[Title], now: dt.datetime) -> None:
        """Insert or update these merged titles' rows (and credits) where their record hash changed."""
        if not chunk:
            return
        c = titles_table.c
        ids = [t.title_id for t in chunk]
        existing = dict(records.rows_among(conn, sa.select(c.title_id, c.record_hash), c.title_id, ids))
        new = [t for t in chunk if t.title_id not in existing]
        changed = [t for t in chunk if t.title_id in existing and existing[t.title_id] != t.record_hash]
        insert_rows(conn, titles_table, [title_to_row(t, now) for t in new])
        if changed:
            update_rows(conn, titles_table, "title_id", [title_to_row(t, now) for t in changed])
            conn.execute(credits_table.delete().where(credits_table.c.title_id.in_([t.title_id for t in changed])))
        self._write_people(conn, [*new, *changed])

    def _adopt_titles(self, conn: Connection, now: dt.datetime) -> None:
        """Make each title of a catalogue written before merging its own source record, then merge them."""
        c = titles_table.c
        last = ""
        while rows := list(conn.execute(sa.select(titles_table).where(c.title_id > last).order_by(c.title_id)
                                        .limit(2000)).mappings()):
            people = self._people_of(conn, [r["title_id"] for r in rows])
            titles = [row_to_title(r, people.get(r["title_id"], ())) for r in rows]
            records.write_records(conn, titles, [], {t.title_id: works.match_keys(t) for t in titles}, now)
            conn.execute(titles_table.update().where(c.title_id == sa.bindparam("b_title_id"))
                         .values(record_hash=sa.bindparam("record_hash")),
                         [{"b_title_id": t.title_id, "record_hash": t.record_hash} for t in titles])
            last = rows[-1]["title_id"]
        self._has_sources = True
        self._regroup(conn, {}, records.shared_keys(conn), now)

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
        known = records.select_values(conn, people_table.c.person_id, people_table.c.person_id, ids)
        insert_rows(conn, people_table, [{"person_id": pid, "name": people[pid]} for pid in ids if pid not in known])
        insert_rows(conn, credits_table, list(credits.values()))

    def delete_titles(self, title_ids: Iterable[str]) -> int:
        """Remove these titles with every record merged into them (and their credits); returns how many existed."""
        removed = 0
        with self._begin() as conn:
            asked = list(dict.fromkeys(title_ids))
            ids = sorted(set(asked) | set(self._current_ids(conn, asked).values()))
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                conn.execute(credits_table.delete().where(credits_table.c.title_id.in_(chunk)))
                removed += conn.execute(titles_table.delete().where(titles_table.c.title_id.in_(chunk))).rowcount
            if self._sources_exist():
                keys = records.delete_records_of(conn, ids)
                self._regroup(conn, {}, keys, utcnow())  # records that lost a rival may join another work
        return removed

    # ---- checkpoints -----------------------------------------------------------------------------

    def refresh_content_hashes(self) -> int:
        """Recompute every stored content hash once after the embedding recipe changed; returns rows updated.

        The hash is stored at upsert, so without this an upgrade that embeds titles differently
        (models.EMBEDDING_RECIPE) would leave every index "up to date" with vectors of the old recipe.
        """
        if self.get_state(RECIPE_STATE) == EMBEDDING_RECIPE:
            return 0
        c = titles_table.c
        changed = 0
        for start_titles in _chunks(self.iter_titles(with_people=False), _CHUNK):
            with self.engine.begin() as conn:
                for title in start_titles:
                    result = conn.execute(sa.update(titles_table).where(c.title_id == title.title_id,
                                                                       c.content_hash != title.content_hash)
                                          .values(content_hash=title.content_hash))
                    changed += result.rowcount
        self.set_state(RECIPE_STATE, EMBEDDING_RECIPE)
        return changed

    def get_state(self, key: str, default: Any = None) -> Any:
        """A stored checkpoint value (JSON), or `default`."""
        with self._connect() as conn:
            value = conn.execute(sa.select(sync_state_table.c.value).where(sync_state_table.c.key == key)).scalar_one_or_none()
        return default if value is None else value

    def set_state(self, key: str, value: Any) -> None:
        """Store a checkpoint value (JSON) on its own."""
        with self._begin() as conn:
            self._set_state(conn, {key: value}, utcnow())

    def states(self, prefix: str = "", column: str = "value") -> dict[str, Any]:
        """Every checkpoint whose key starts with `prefix`: its value, or with column="updated_at" when it
        was last written (a run's last commit)."""
        t = sync_state_table
        with self._connect() as conn:
            rows = conn.execute(sa.select(t.c.key, t.c[column]).where(t.c.key.startswith(prefix))).tuples().all()
        return dict(rows)

    @staticmethod
    def _set_state(conn: Connection, state: Mapping[str, Any], now: dt.datetime) -> None:
        t = sync_state_table
        for key, value in state.items():
            json.dumps(value)  # fail before writing anything that is not JSON
            if conn.execute(t.update().where(t.c.key == key).values(value=value, updated_at=now)).rowcount == 0:
                conn.execute(t.insert().values(key=key, value=value, updated_at=now))


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
