"""The source records behind the catalogue's titles: one row per record ingest gave (a TMDB movie, an anime
entry, a Trakt record) with the title it belongs to, and the keys it matches on (flixrec.works).

The Catalog (flixrec.catalog) writes records here and derives each `titles` row from the merge of its
records; these functions are its SQL over the two tables, each run inside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from flixrec import works
from flixrec.catalog_schema import insert_rows, update_rows
from flixrec.models import Title

metadata = sa.MetaData()

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

CHUNK = 2000  # ids per IN list: one query for a crawl page's records or keys (SQLite allows 32,766)
_S, _K = title_sources_table.c, title_keys_table.c


def rows_among(conn: Connection, query: Any, column: sa.Column, values: Iterable[Any]) -> Iterator[Any]:
    """The rows of `query` whose `column` is among `values`, one query per CHUNK values.

    The values travel as one parameter: on SQLite a JSON array read by json_each, elsewhere an expanding
    parameter. Binding each value apart cost more than the lookup itself on a crawl page's thousand keys.
    """
    values = list(values)
    if conn.dialect.name == "sqlite":
        listed = sa.select(sa.literal_column("value")).select_from(sa.func.json_each(sa.bindparam("among", type_=sa.Text)))
        statement = query.where(column.in_(listed))
        chunks = (orjson.dumps(values[start : start + CHUNK]).decode() for start in range(0, len(values), CHUNK))
    else:
        statement = query.where(column.in_(sa.bindparam("among", expanding=True)))
        chunks = (values[start : start + CHUNK] for start in range(0, len(values), CHUNK))
    for chunk in chunks:
        yield from conn.execute(statement, {"among": chunk})


def select_values(conn: Connection, wanted: sa.Column, column: sa.Column, values: Iterable[str]) -> set[str]:
    """The `wanted` values of the rows whose `column` is among `values` (queried in chunks)."""
    return {value for value, in rows_among(conn, sa.select(wanted), column, sorted(values))}


def stored(conn: Connection, record_ids: list[str]) -> dict[str, tuple[str, str]]:
    """record id -> (record hash, id of the title it belongs to) of these records that are stored."""
    query = sa.select(_S.record_id, _S.record_hash, _S.title_id)
    return {record_id: (record_hash, title_id)
            for record_id, record_hash, title_id in rows_among(conn, query, _S.record_id, record_ids)}


def current_ids(conn: Connection, record_ids: list[str]) -> dict[str, str]:
    """record id -> id of the title it belongs to, for these records that are stored."""
    return dict(rows_among(conn, sa.select(_S.record_id, _S.title_id), _S.record_id, record_ids))


def _row(title: Title, now: dt.datetime) -> dict[str, Any]:
    """A new row: the record, in a title of its own until it is grouped."""
    return {"record_id": title.title_id, "title_id": title.title_id, "source": title.source,
            "record": orjson.Fragment(works.record_json(title)), "record_hash": title.record_hash, "updated_at": now}


def write_records(conn: Connection, new: list[Title], changed: list[Title], keys_of: Mapping[str, set[str]],
                  now: dt.datetime) -> dict[str, set[str]]:
    """Insert new records and replace changed ones, with their keys (`keys_of`: record id -> match keys);
    returns the keys each changed record had before."""
    changed_ids = [t.title_id for t in changed]
    before: dict[str, set[str]] = {record_id: set() for record_id in changed_ids}
    for key, record_id in rows_among(conn, sa.select(_K.key, _K.record_id), _K.record_id, changed_ids):
        before[record_id].add(key)
    for start in range(0, len(changed_ids), CHUNK):
        conn.execute(title_keys_table.delete().where(_K.record_id.in_(changed_ids[start : start + CHUNK])))
    insert_rows(conn, title_sources_table, [_row(t, now) for t in new])
    names = ("source", "record", "record_hash", "updated_at")  # its title stays until it is regrouped
    update_rows(conn, title_sources_table, "record_id",
                [{name: row[name] for name in (*names, "record_id")} for row in (_row(t, now) for t in changed)])
    insert_rows(conn, title_keys_table, [{"key": key, "record_id": t.title_id}
                                         for t in (*new, *changed) for key in keys_of[t.title_id]])
    return before


def keys_across_sources(conn: Connection, keys: Iterable[str]) -> set[str]:
    """The keys among these that records of more than one source hold (the only keys that link records).

    Most keys have one holder (a crawl's new ids and names): only keys with several are joined to their sources.
    """
    several = sa.select(_K.key).group_by(_K.key).having(sa.func.count() > 1)
    shared = [key for key, in rows_among(conn, several, _K.key, sorted(keys))]
    across = (sa.select(_K.key).join(title_sources_table, _S.record_id == _K.record_id).group_by(_K.key)
              .having(sa.func.count(sa.distinct(_S.source)) > 1))
    return {key for key, in rows_among(conn, across, _K.key, shared)}


def alone(conn: Connection, keys_of: Mapping[str, set[str]], title_of: Mapping[str, str]) -> set[str]:
    """The records among those just written (`keys_of`: record id -> its keys before and after; `title_of`: its
    title before) that `reach` would find alone: no key another source's record holds, in a title of their own
    that no other record belongs to. Such a record is its own title, as merging would make it."""
    own = [record_id for record_id in keys_of if title_of[record_id] == record_id]
    others = sa.select(_S.title_id).where(_S.record_id != _S.title_id)
    crowded = {title_id for title_id, in rows_among(conn, others, _S.title_id, own)}
    linked = keys_across_sources(conn, {key for record_id in own for key in keys_of[record_id]})
    return {record_id for record_id in own if record_id not in crowded and not keys_of[record_id] & linked}


def records_across_sources(conn: Connection, keys: Iterable[str]) -> set[str]:
    """The records holding any of these keys that another source's record also holds.

    Records of one source never merge (flixrec.works), so a key only one source has links nothing: a
    catalogue that reuses a name or an id within one source stays cheap to regroup.
    """
    keys = sorted(keys)
    out: set[str] = set()
    for start in range(0, len(keys), CHUNK):
        query = (sa.select(_K.key, _K.record_id, _S.source).join(title_sources_table, _S.record_id == _K.record_id)
                 .where(_K.key.in_(keys[start : start + CHUNK])))
        holders: dict[str, list[tuple[str, str]]] = {}
        for key, record_id, source in conn.execute(query):
            holders.setdefault(key, []).append((record_id, source))
        for rows in holders.values():
            if len({source for _, source in rows}) > 1:
                out.update(record_id for record_id, _ in rows)
    return out


def reach(conn: Connection, record_ids: Iterable[str], keys: Iterable[str]) -> dict[str, str]:
    """record id -> current title id of every record these records or keys reach, through keys two sources
    share and through shared titles: a set closed under both, so grouping it alone gives what grouping
    everything would."""
    members: dict[str, str] = {}
    todo_ids, todo_keys = set(record_ids), set(keys)
    seen_keys: set[str] = set()
    seen_titles: set[str] = set()
    while todo_ids or todo_keys:
        todo_keys -= seen_keys
        seen_keys |= todo_keys
        fresh = (todo_ids | records_across_sources(conn, todo_keys)) - members.keys()
        found = current_ids(conn, sorted(fresh))
        members.update(found)
        titles = set(found.values()) - seen_titles
        seen_titles |= titles
        todo_ids = select_values(conn, _S.record_id, _S.title_id, titles) - members.keys()
        todo_keys = select_values(conn, _K.key, _K.record_id, found)
    return members


def read_records(conn: Connection, record_ids: Iterable[str]) -> dict[str, Title]:
    """record id -> the record as ingest gave it, for these records that are stored."""
    query = sa.select(_S.record_id, _S.record)
    return {record_id: works.record_from_json(record)
            for record_id, record in rows_among(conn, query, _S.record_id, sorted(set(record_ids)))}


def page_of_records(conn: Connection, after: str, source: str | None, limit: int) -> list[Title]:
    """The next `limit` records (of one source) after record id `after`, in record id order."""
    query = sa.select(_S.record).where(_S.record_id > after).order_by(_S.record_id).limit(limit)
    if source is not None:
        query = query.where(_S.source == source)
    return [works.record_from_json(record) for record in conn.execute(query).scalars()]


def assign(conn: Connection, title_of: dict[str, str], before: dict[str, str]) -> None:
    """Record each record's title (record id -> title id) where it differs from `before`."""
    moved = [{"b_record_id": rid, "title_id": tid} for rid, tid in title_of.items() if before.get(rid) != tid]
    if moved:
        conn.execute(title_sources_table.update().where(_S.record_id == sa.bindparam("b_record_id"))
                     .values(title_id=sa.bindparam("title_id")), moved)


def delete_records_of(conn: Connection, title_ids: list[str]) -> set[str]:
    """Delete every record of these titles; returns the keys they had (their neighbours may regroup)."""
    records = sorted(select_values(conn, _S.record_id, _S.title_id, title_ids))
    keys = select_values(conn, _K.key, _K.record_id, records)
    for start in range(0, len(records), CHUNK):
        chunk = records[start : start + CHUNK]
        conn.execute(title_keys_table.delete().where(_K.record_id.in_(chunk)))
        conn.execute(title_sources_table.delete().where(_S.record_id.in_(chunk)))
    return keys


def is_empty(conn: Connection) -> bool:
    """Whether no record is stored (a catalogue written before merging, or a new one)."""
    return conn.execute(sa.select(_S.record_id).limit(1)).first() is None


def shared_keys(conn: Connection) -> set[str]:
    """Every key records of more than one source have: where records may merge."""
    query = (sa.select(_K.key).join(title_sources_table, _S.record_id == _K.record_id).group_by(_K.key)
             .having(sa.func.count(sa.distinct(_S.source)) > 1))
    return set(conn.execute(query).scalars())
