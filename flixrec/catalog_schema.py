"""The catalogue's tables (titles, people, credits, sync state), how a Title maps to a row and back, and
the bulk writes (`insert_rows`, `update_rows`) an upsert uses.

flixrec.catalog reads and writes them; the Alembic migrations (flixrec.migrations) keep databases in step.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

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

TITLE_FIELDS = [f.name for f in dataclasses.fields(Title) if f.name != "people"]
TUPLE_FIELDS = ("aliases", "genres", "keywords")  # stored as JSON lists, never null
CODE_LIST_FIELDS = ("subgenres", "languages", "available_translations")  # "en,fr" or null


def title_to_row(title: Title, now: dt.datetime) -> dict[str, Any]:
    """A Title as a `titles` row (people apart: they are credits)."""
    row = dict(title.__dict__)  # its fields in order, and the cached record_hash when computed (a column too)
    del row["people"]
    for name in TUPLE_FIELDS:
        row[name] = list(row[name])
    if row["overviews"] is not None:
        row["overviews"] = [list(pair) for pair in row["overviews"]]
    for name in CODE_LIST_FIELDS:
        row[name] = None if row[name] is None else ",".join(row[name])
    row["content_hash"] = title.content_hash
    row["record_hash"] = title.record_hash
    row["updated_at"] = now
    return row


def code_list(stored: str | None) -> tuple[str, ...] | None:
    """A comma-separated column ("en,es") as a tuple; None stays None."""
    return None if stored is None else tuple(filter(None, stored.split(",")))


def row_to_title(row: Mapping[str, Any], people: Iterable[Person]) -> Title:
    """The Title a `titles` row (and its people) stands for."""
    data = dict(row)  # a plain dict: a result row's mapping answers .get() several times slower
    values = {name: data.get(name) for name in TITLE_FIELDS}
    for name in TUPLE_FIELDS:
        values[name] = tuple(values[name] or ())
    for name in CODE_LIST_FIELDS:
        values[name] = code_list(values[name])
    if values["overviews"] is not None:
        values["overviews"] = tuple((str(lang), str(text)) for lang, text in values["overviews"])
    return Title(**values, people=tuple(people))


# ---- bulk writes ------------------------------------------------------------------------------------


def _json_text(value: Any) -> str:
    """A JSON column's value as the text SQLAlchemy's JSON type would store (None is JSON null), via orjson; an
    orjson.Fragment is JSON already serialised."""
    return orjson.dumps(value).decode()


@functools.lru_cache(maxsize=64)
def _converters(dialect: Dialect, table: sa.Table, names: tuple[str, ...],
                all_types: bool) -> tuple[Callable[[Any], Any] | None, ...]:
    """Per column: what turns a value into what the driver takes (None: pass it as it is).

    JSON columns become text (orjson); with `all_types` every other type's own bind processor applies too,
    a repeated value (the upsert's timestamp) converted once.
    """
    out: list[Callable[[Any], Any] | None] = []
    for name in names:
        column_type = table.c[name].type
        if isinstance(column_type, sa.JSON):
            out.append(_json_text)
        elif all_types and (processor := column_type.dialect_impl(dialect).bind_processor(dialect)) is not None:
            out.append(functools.lru_cache(maxsize=4)(processor) if isinstance(column_type, sa.DateTime) else processor)
        else:
            out.append(None)
    return tuple(out)


def _driver_values(converters: Sequence[Callable[[Any], Any] | None], names: tuple[str, ...],
                   rows: Sequence[Mapping[str, Any]]) -> list[Sequence[Any]]:
    """Each row's values in `names` order, converted where a converter is given."""
    get = operator.itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
    converted = [(position, convert) for position, convert in enumerate(converters) if convert is not None]
    if not converted:
        return [get(row) for row in rows]
    out = []
    for row in rows:
        values = list(get(row))
        for position, convert in converted:
            values[position] = convert(values[position])
        out.append(tuple(values))
    return out


def _plain_statement(statement: Any, table: sa.Table, names: Iterable[str]) -> Any:
    """The statement with a bound parameter per column, JSON ones as text (their values arrive serialised)."""
    return statement.values({name: sa.bindparam(name, type_=sa.Text() if isinstance(table.c[name].type, sa.JSON)
                                                else table.c[name].type) for name in names})


def insert_rows(conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT these rows (same keys each) in one executemany, stored exactly as `conn.execute(table.insert(), rows)`
    stores them.

    SQLAlchemy's per-row parameter processing (and the standard json module for JSON columns) was most of an
    upsert's cost; on SQLite the rows go to the driver directly, values converted once per column type. Other
    databases keep SQLAlchemy's statement (psycopg2 batches it into multi-row VALUES), JSON serialised by orjson.
    """
    if not rows:
        return
    names = tuple(rows[0])
    sqlite = conn.dialect.name == "sqlite"
    convert = _converters(conn.dialect, table, names, sqlite)
    if sqlite:
        quote = conn.dialect.identifier_preparer.quote
        sql = (f"INSERT INTO {quote(table.name)} ({', '.join(map(quote, names))}) "
               f"VALUES ({', '.join('?' * len(names))})")
        conn.exec_driver_sql(sql, _driver_values(convert, names, rows))
        return
    params = [dict(zip(names, values)) for values in _driver_values(convert, names, rows)]
    conn.execute(_plain_statement(table.insert(), table, names), params)


def update_rows(conn: Connection, table: sa.Table, key: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """UPDATE the rows whose `key` column equals each row's `key` value with its other values (like `insert_rows`)."""
    if not rows:
        return
    names = tuple(name for name in rows[0] if name != key)
    sqlite = conn.dialect.name == "sqlite"
    convert = _converters(conn.dialect, table, (*names, key), sqlite)
    values = _driver_values(convert, (*names, key), rows)
    if sqlite:
        quote = conn.dialect.identifier_preparer.quote
        sql = (f"UPDATE {quote(table.name)} SET {', '.join(f'{quote(name)} = ?' for name in names)} "
               f"WHERE {quote(key)} = ?")
        conn.exec_driver_sql(sql, values)
        return
    statement = _plain_statement(table.update().where(table.c[key] == sa.bindparam(f"b_{key}")), table, names)
    conn.execute(statement, [dict(zip((*names, f"b_{key}"), v)) for v in values])
