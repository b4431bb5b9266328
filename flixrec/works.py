"""One title per work: the pure rules that group source records (a TMDB movie, an anime entry, a Trakt
record of the same film) into one work and merge them into one Title. The catalogue applies them.

Two records of different sources are the same work when they share an id (TMDB within its kind — movie
ids and TV ids are separate numberings —, IMDb, or Trakt within its media type) or, sharing none, a
normalised name with the same year and media type. They never are when they come from the same source
(one anime series files each season apart under one TMDB TV id), differ in media type, carry different
ids of one kind, or have years more than a year apart (a shared id then is an upstream mapping error).
Grouping is greedy over the strongest matches first with a total order on ties, so it is a function of
the set of records alone: the same whatever the order of ingest.

The merged title takes its id, type and title from its best source (SOURCE_PRIORITY), every other field
from the first source that has it, and keeps every source's names as aliases, every overview (by
language), every keyword and the union of the ids.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from flixrec.models import Person, Title

SOURCE_PRIORITY = ("trakt", "tmdb5000", "bgmd")
"""Whose values win when sources disagree; other sources come after these, by name."""
MAX_YEAR_GAP = 1
NAME_KEY_CHARS = 200

_PUNCTUATION = re.compile(r"[\W_]+")
_UNION_FIELDS = {"title_id", "aliases", "keywords", "overview", "overviews", "people"}
_FIELDS = [f.name for f in dataclasses.fields(Title)]
_CACHED = [name for name, value in vars(Title).items() if isinstance(value, functools.cached_property)]


def record_order(title: Title) -> tuple[int, str, str]:
    """Sort key of a source record: best source first, then by id (a total order)."""
    rank = SOURCE_PRIORITY.index(title.source) if title.source in SOURCE_PRIORITY else len(SOURCE_PRIORITY)
    return rank, title.source, title.title_id


def name_key(name: str | None) -> str:
    """A name as compared across sources: NFKC, case-folded, without punctuation or spaces."""
    if not name:
        return ""
    return _PUNCTUATION.sub("", unicodedata.normalize("NFKC", name).casefold())[:NAME_KEY_CHARS]


def _names(title: Title) -> list[str]:
    return [n for n in (title.title, title.original_title, *title.aliases) if n]


def id_keys(title: Title) -> set[str]:
    """The record's external ids, each namespaced so only ids of one kind compare."""
    keys = set()
    if title.tmdb_id is not None:
        keys.add(f"tmdb:{title.tmdb_kind}:{title.tmdb_id}")
    if title.imdb_id:
        keys.add(f"imdb:{title.imdb_id.lower()}")
    if title.trakt_id is not None:
        keys.add(f"trakt:{title.media_type}:{title.trakt_id}")
    return keys


def name_keys(title: Title) -> set[str]:
    """(media type, year, normalised name) of each of its names; none without a year."""
    if title.year is None:
        return set()
    return {f"name:{title.media_type}:{title.year}:{key}" for key in map(name_key, _names(title)) if len(key) >= 2}


def match_keys(title: Title) -> set[str]:
    """Every key a record can be matched on: records sharing none are never the same work."""
    return id_keys(title) | name_keys(title)


def compatible(a: Title, b: Title) -> bool:
    """Whether two records may be one work (they still need a shared key to be)."""
    if a.source == b.source or a.media_type != b.media_type:
        return False
    for name in ("tmdb_id", "imdb_id", "trakt_id"):
        left, right = getattr(a, name), getattr(b, name)
        if left is not None and right is not None and left != right:
            return False
    return a.year is None or b.year is None or abs(a.year - b.year) <= MAX_YEAR_GAP


def _strength(a: Title, b: Title, keys: dict[str, set[str]]) -> tuple[int, int, int] | None:
    """How surely a and b are one work (higher is surer), or None when they are not."""
    if not compatible(a, b):
        return None
    shared = keys[a.title_id] & keys[b.title_id]
    ids = sum(1 for k in shared if not k.startswith("name:"))
    names = len(shared) - ids
    if not ids and not names:
        return None
    return ids, min(names, 1), int(a.year == b.year)


def group_records(records: Iterable[Title]) -> list[list[Title]]:
    """The records grouped into works (each group best source first), groups ordered by their first record.

    Greedy: candidate pairs are joined strongest first (shared ids, then a shared name, then the same
    year; ties by record order) unless the joined group would hold two records of one source or an
    incompatible pair. Every record is in exactly one group.
    """
    ordered = sorted({r.title_id: r for r in records}.values(), key=record_order)
    keys = {r.title_id: match_keys(r) for r in ordered}
    by_key: dict[str, list[int]] = {}
    for position, record in enumerate(ordered):
        for key in keys[record.title_id]:
            by_key.setdefault(key, []).append(position)
    pairs: set[tuple[int, int]] = set()
    for positions in by_key.values():
        if len(positions) > 1:
            pairs.update((i, j) for n, i in enumerate(positions) for j in positions[n + 1 :]
                         if ordered[i].source != ordered[j].source)
    candidates = []
    for i, j in pairs:
        strength = _strength(ordered[i], ordered[j], keys)
        if strength is not None:
            candidates.append((tuple(-s for s in strength), min(i, j), max(i, j)))
    candidates.sort()
    group_of = list(range(len(ordered)))
    members: dict[int, list[int]] = {i: [i] for i in range(len(ordered))}
    for _, i, j in candidates:
        left, right = group_of[i], group_of[j]
        if left == right:
            continue
        joined = members[left] + members[right]
        if len({ordered[m].source for m in joined}) < len(joined):
            continue
        if not all(compatible(ordered[m], ordered[n]) for m in members[left] for n in members[right]):
            continue
        keep, gone = min(left, right), max(left, right)
        members[keep] = sorted(joined)
        for m in members.pop(gone):
            group_of[m] = keep
    return [[ordered[m] for m in group] for _, group in sorted(members.items())]


def merge_records(records: Sequence[Title]) -> Title:
    """One Title from the records of one work; a single record is returned unchanged."""
    ordered = sorted(records, key=record_order)
    if len(ordered) == 1:
        return ordered[0]
    best = ordered[0]
    values: dict[str, Any] = {}
    for name in _FIELDS:
        if name in _UNION_FIELDS:
            continue
        values[name] = next((v for r in ordered if (v := getattr(r, name)) not in (None, "", ())), getattr(best, name))
    for name in ("media_type", "title", "source"):
        values[name] = getattr(best, name)
    shown = {values["title"], values["original_title"]}
    aliases = dict.fromkeys(n for r in ordered for n in _names(r) if n not in shown)
    overviews: dict[str, tuple[str, str]] = {}
    for record in ordered:
        for language, text in record.overview_versions():
            overviews.setdefault(text, (language, text))
    people: tuple[Person, ...] = next((r.people for r in ordered if r.people), ())
    return Title(
        **values,
        title_id=best.title_id,
        aliases=tuple(aliases),
        keywords=tuple(dict.fromkeys(k for r in ordered for k in r.keywords)),
        overview=next(iter(overviews.values()))[1] if overviews else None,
        overviews=tuple(overviews.values()) or None,
        people=people,
    )


def merge_groups(records: Iterable[Title]) -> list[tuple[Title, list[Title]]]:
    """(merged title, its records) for every work among these records (see `without_claimed_film_ids`)."""
    groups = group_records(records)
    return [(merge_records(kept), group) for kept, group in zip(without_claimed_film_ids(groups), groups)]


def without_claimed_film_ids(groups: list[list[Title]]) -> list[list[Title]]:
    """The groups with a film's TMDB id left only to the work whose record of the best source holds it.

    A film is one work, so a TMDB movie id on two works is a mapping error of the lesser source (bgmd files
    a 2007 prequel special under the id of the 2004 film it could not join); that record's merged title
    loses the id, so its TMDB link does not point at another film. TV ids stay shared: one series' seasons
    are filed apart under one id.
    """
    owners: dict[int, tuple[tuple[int, str, str], int]] = {}  # film id -> (its best holder's order, group)
    for position, group in enumerate(groups):
        for record in group:
            if record.media_type == "movie" and record.tmdb_id is not None:
                holder = (record_order(record), position)
                owners[record.tmdb_id] = min(owners.get(record.tmdb_id, holder), holder)
    out = []
    for position, group in enumerate(groups):
        kept = []
        for record in group:
            if record.media_type == "movie" and record.tmdb_id is not None:
                (rank, _, _), owner = owners[record.tmdb_id]
                if owner != position and rank < record_order(record)[0]:
                    record = dataclasses.replace(record, tmdb_id=None)
            kept.append(record)
        out.append(kept)
    return out


# ---- a record as stored (JSON) ---------------------------------------------------------------------


def record_to_json(title: Title) -> dict[str, Any]:
    """A source record as a JSON-ready dict (people included)."""
    out: dict[str, Any] = {name: getattr(title, name) for name in _FIELDS if name != "people"}
    for name in ("aliases", "genres", "keywords"):
        out[name] = list(out[name])
    if out["overviews"] is not None:
        out["overviews"] = [list(pair) for pair in out["overviews"]]
    out["people"] = [dataclasses.asdict(p) for p in title.people]
    return out


def record_json(title: Title) -> bytes:
    """The same JSON as `record_to_json`, serialised (orjson; its fields in order, tuples as arrays): what is stored."""
    fields = title.__dict__  # the fields in order, plus any cached property computed (Title.record_hash)
    if len(fields) != len(_FIELDS):
        fields = dict(fields)
        for name in _CACHED:
            fields.pop(name, None)
    return orjson.dumps(fields)


def record_from_json(data: dict[str, Any]) -> Title:
    """The Title a stored record was made from (fields unknown to this version are ignored)."""
    values = {name: data.get(name) for name in _FIELDS if name != "people"}
    for name in ("aliases", "genres", "keywords"):
        values[name] = tuple(values[name] or ())
    if values["overviews"] is not None:
        values["overviews"] = tuple((str(lang), str(text)) for lang, text in values["overviews"])
    people = tuple(Person(**p) for p in data.get("people") or ())
    return Title(**values, people=people)
