"""Trakt JSON to FlixRec models: listing items to Titles, `/people` answers to Persons.

Every field may be null or mistyped; the value parsers of `ingest.values` turn what does not fit into None.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flixrec.models import Person, Title
from ingest.values import number, text, whole_number


def unwrap(item: Any, media: str) -> dict[str, Any] | None:
    """The movie/show object of a listing item: bare (popular) or wrapped ({type, score, movie}, {updated_at, show})."""
    if not isinstance(item, dict):
        return None
    inner = item.get(media)
    if isinstance(inner, dict):
        return inner
    return item if "ids" in item else None


def to_title(record: Mapping[str, Any], media: str, people: tuple[Person, ...] = ()) -> Title | None:
    """A Title from a Trakt movie/show object (extended=full, any field null); None without a trakt id or a title."""
    ids = record.get("ids") if isinstance(record.get("ids"), dict) else {}
    trakt_id = whole_number(ids.get("trakt"))
    name = text(record.get("title")) or text(record.get("original_title"))
    if trakt_id is None or name is None:
        return None
    genres = record.get("genres") if isinstance(record.get("genres"), list) else []
    released = record.get("released") if media == "movie" else record.get("first_aired")
    return Title(
        title_id=f"trakt-{media}-{trakt_id}",
        media_type=media,
        title=name,
        source="trakt",
        original_title=text(record.get("original_title")),
        overview=text(record.get("overview")),
        tagline=text(record.get("tagline")),
        genres=tuple(str(g) for g in genres if g),
        year=whole_number(record.get("year")),
        released=text(released),
        runtime=whole_number(record.get("runtime")),
        country=text(record.get("country")),
        language=text(record.get("language")),
        rating=number(record.get("rating")),
        votes=whole_number(record.get("votes")),
        comment_count=whole_number(record.get("comment_count")),
        trakt_id=trakt_id,
        tmdb_id=whole_number(ids.get("tmdb")),
        imdb_id=text(ids.get("imdb")),
        slug=text(ids.get("slug")),
        network=text(record.get("network")) if media == "show" else None,
        status=text(record.get("status")),
        aired_episodes=whole_number(record.get("aired_episodes")) if media == "show" else None,
        people=people,
    )


def to_people(data: Mapping[str, Any] | None, max_cast: int = 20) -> tuple[Person, ...]:
    """Cast (billing order, up to `max_cast`) and directors from a Trakt `/people` answer."""
    if not isinstance(data, dict):
        return ()
    out: list[Person] = []
    seen: set[tuple[str, str]] = set()

    def add(entry: Any, role: str, character: str | None) -> None:
        person = entry.get("person") if isinstance(entry, dict) else None
        pid = whole_number((person or {}).get("ids", {}).get("trakt")) if isinstance(person, dict) else None
        name = text(person.get("name")) if isinstance(person, dict) else None
        key = (f"trakt-person-{pid}", role)
        if pid is None or name is None or key in seen:
            return
        seen.add(key)
        out.append(Person(key[0], name, role, sum(1 for p in out if p.role == role), character))

    for entry in (data.get("cast") or [])[:max_cast]:
        character = text(entry.get("character")) if isinstance(entry, dict) else None
        add(entry, "cast", character)
    crew = data.get("crew") if isinstance(data.get("crew"), dict) else {}
    for entry in crew.get("directing") or []:
        jobs = (entry.get("jobs") or [entry.get("job")]) if isinstance(entry, dict) else []
        if "Director" in jobs:
            add(entry, "director", None)
    return tuple(out)
