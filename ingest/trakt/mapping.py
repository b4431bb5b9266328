"""Trakt JSON to FlixRec models: listing items to Titles, `/people` answers to Persons.

Every field may be null, missing or mistyped; the value parsers of `ingest.values` turn what does not fit
into None. Trakt's quirks handled here: `rating: 0` with `votes: 0` means "not rated yet" (None, not 0);
image URLs come without a scheme ("walter-r2.trakt.tv/images/...") and are kept, never downloaded;
a show's `/people` lists directors per episode (with `episode_count`) and its creators under
`crew["created by"]`; a cast entry may carry only `characters` (a list); `/translations` gives one entry per
country a language is translated for (es: Spain and Mexico), any of its fields null.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flixrec.models import MAX_CREW_PER_JOB, MAX_WRITERS, Person, Title, crew_job
from ingest.values import number, text, whole_number

CREW_DEPARTMENTS = ("sound", "camera", "editing", "art", "production")
"""Trakt's crew groups that hold CREW_JOBS (composer, cinematographer, editor, production designer, producers)."""
MAX_EPISODE_DIRECTORS = 5


def unwrap(item: Any, media: str) -> dict[str, Any] | None:
    """The movie/show object of a listing item: bare (popular) or wrapped ({type, score, movie}, {updated_at, show})."""
    if not isinstance(item, dict):
        return None
    inner = item.get(media)
    if isinstance(inner, dict):
        return inner
    return item if "ids" in item else None


def texts(value: Any) -> tuple[str, ...] | None:
    """A list of strings as a tuple of its non-empty, distinct texts; None when the value is not a list."""
    if not isinstance(value, list):
        return None
    out: list[str] = []
    for item in value:
        item = text(item)
        if item and item not in out:
            out.append(item)
    return tuple(out)


def codes(value: Any) -> tuple[str, ...] | None:
    """A list of codes or slugs ("en", "time-travel"); None when empty or not a list. The catalogue stores
    them comma-separated, so a value holding a comma is dropped."""
    found = texts(value)
    return tuple(c for c in found if "," not in c) or None if found else None


def flag(value: Any) -> bool | None:
    """A JSON boolean; None for anything else."""
    return value if isinstance(value, bool) else None


def image_url(images: Any, kind: str) -> str | None:
    """The first URL of one image kind from Trakt's `images` ({"poster": ["walter-r2.trakt.tv/..."]}), with https."""
    urls = images.get(kind) if isinstance(images, dict) else None
    first = text(urls[0]) if isinstance(urls, list) and urls else None
    if first is None:
        return None
    return first if first.startswith(("https://", "http://")) else "https://" + first.lstrip("/")


def airs(value: Any) -> str | None:
    """A show's weekly slot from Trakt's {"day", "time", "timezone"}: "Sunday 21:00 America/New_York"."""
    if not isinstance(value, dict):
        return None
    parts = [text(value.get(key)) for key in ("day", "time", "timezone")]
    return " ".join(p for p in parts if p) or None


def _plex_guid(value: Any) -> str | None:
    """ids.plex: {"guid": ..., "slug": ...} (or a bare string)."""
    return text(value.get("guid")) if isinstance(value, dict) else text(value)


def to_title(record: Mapping[str, Any], media: str, people: tuple[Person, ...] = ()) -> Title | None:
    """A Title from a Trakt movie/show object (extended=full,images, any field null or missing); None without a
    trakt id or a title."""
    get = record.get
    ids = get("ids")
    if not isinstance(ids, dict):
        ids = {}
    trakt_id = whole_number(ids.get("trakt"))
    name = text(get("title")) or text(get("original_title"))
    if trakt_id is None or name is None:
        return None
    show = media == "show"
    genres = get("genres")
    rating, votes = number(get("rating")), whole_number(get("votes"))
    if not votes and not rating:  # Trakt's "nobody rated it yet"
        rating, votes = None, None
    subgenres = codes(get("subgenres"))
    language = text(get("language"))
    languages = codes(get("languages"))
    if languages is not None and language and language not in languages:
        languages = (language, *languages)
    return Title(
        title_id=f"trakt-{media}-{trakt_id}",
        media_type=media,
        title=name,
        source="trakt",
        original_title=text(get("original_title")),
        overview=text(get("overview")),
        tagline=text(get("tagline")),
        genres=tuple(str(g) for g in genres if g) if isinstance(genres, list) else (),
        keywords=subgenres or (),
        year=whole_number(get("year")),
        released=text(get("first_aired") if show else get("released")),
        runtime=whole_number(get("runtime")),
        country=text(get("country")),
        language=language,
        rating=rating,
        votes=votes,
        comment_count=whole_number(get("comment_count")),
        trakt_id=trakt_id,
        tmdb_id=whole_number(ids.get("tmdb")),
        imdb_id=text(ids.get("imdb")),
        slug=text(ids.get("slug")),
        network=text(get("network")) if show else None,
        status=text(get("status")),
        aired_episodes=whole_number(get("aired_episodes")) if show else None,
        certification=text(get("certification")),
        subgenres=subgenres,
        languages=languages,
        available_translations=codes(get("available_translations")),
        trailer=text(get("trailer")),
        homepage=text(get("homepage")),
        poster_url=image_url(get("images"), "poster"),
        tvdb_id=whole_number(ids.get("tvdb")),
        plex_guid=_plex_guid(ids.get("plex")),
        source_updated_at=text(get("updated_at")),
        airs=airs(get("airs")) if show else None,
        after_credits=None if show else flag(get("after_credits")),
        during_credits=None if show else flag(get("during_credits")),
        people=people,
    )


def _jobs(entry: Mapping[str, Any]) -> list[str]:
    """A crew entry's jobs: `jobs` (a list), else the older `job`."""
    jobs = texts(entry.get("jobs"))
    if jobs:
        return list(jobs)
    job = text(entry.get("job"))
    return [job] if job else []


def _character(entry: Mapping[str, Any]) -> str | None:
    """A cast entry's character: `character`, else its `characters` joined ("Anna / Elsa")."""
    return text(entry.get("character")) or (" / ".join(texts(entry.get("characters")) or ()) or None)


def to_people(data: Mapping[str, Any] | None, max_cast: int = 20, media: str = "movie") -> tuple[Person, ...]:
    """Cast (billing order, up to `max_cast`), directors, creators, writers and key crew from a Trakt `/people` answer.

    A movie's directors are the directing group's "Director" jobs. A show's directing group lists who
    directed episodes (each with `episode_count`): they become "episode director" credits (the most
    episodes first, up to MAX_EPISODE_DIRECTORS), and the show's creators (`crew["created by"]`) its
    "creator" credits. Writers keep their job ("Screenplay", "Novel", "Staff Writer"). Key crew (CREW_JOBS, up
    to MAX_CREW_PER_JOB per job) become "crew" credits; a person holding several keeps their first (one
    credit per role).
    """
    if not isinstance(data, dict):
        return ()
    out: list[Person] = []
    seen: set[tuple[str, str]] = set()
    counts: dict[str, int] = {}

    def add(entry: Any, role: str, character: str | None = None, job: str | None = None) -> None:
        person = entry.get("person") if isinstance(entry, dict) else None
        ids = person.get("ids") if isinstance(person, dict) and isinstance(person.get("ids"), dict) else {}
        pid = whole_number(ids.get("trakt"))
        name = text(person.get("name")) if isinstance(person, dict) else None
        key = (f"trakt-person-{pid}", role)
        if pid is None or name is None or key in seen:
            return
        seen.add(key)
        episodes = whole_number(entry.get("episode_count")) if media == "show" else None
        out.append(Person(key[0], name, role, counts.get(role, 0), character, job, episodes))
        counts[role] = counts.get(role, 0) + 1

    cast = data.get("cast") if isinstance(data.get("cast"), list) else []
    for entry in cast[:max_cast]:
        if isinstance(entry, dict):
            add(entry, "cast", character=_character(entry))
    crew = data.get("crew") if isinstance(data.get("crew"), dict) else {}

    def group(name: str) -> list[dict[str, Any]]:
        entries = crew.get(name)
        return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []

    def by_episodes(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(entries, key=lambda e: -(whole_number(e.get("episode_count")) or 0))  # stable: credit order

    if media == "show":
        for entry in group("created by"):
            add(entry, "creator", job=(_jobs(entry) or ["Creator"])[0])
        directors = [e for e in group("directing") if "Director" in _jobs(e)]
        for entry in by_episodes(directors)[:MAX_EPISODE_DIRECTORS]:
            add(entry, "episode director", job="Director")
    else:
        for entry in group("directing"):
            if "Director" in _jobs(entry):
                add(entry, "director", job="Director")
    writers = by_episodes(group("writing")) if media == "show" else group("writing")
    for entry in writers:
        if counts.get("writer", 0) >= MAX_WRITERS:
            break
        add(entry, "writer", job=", ".join(_jobs(entry)) or None)
    per_job: dict[str, int] = {}
    for department in CREW_DEPARTMENTS:
        entries = by_episodes(group(department)) if media == "show" else group(department)
        for entry in entries:
            job = crew_job(_jobs(entry))
            if job is not None and per_job.get(job, 0) < MAX_CREW_PER_JOB:
                before = len(out)
                add(entry, "crew", job=job)
                per_job[job] = per_job.get(job, 0) + (len(out) > before)
    return tuple(out)


def to_translations(data: Any, languages: Iterable[str]) -> dict[str, tuple[tuple[str, ...], str | None]]:
    """language -> (translated titles, the first translated overview) from a `/translations` answer, for these
    languages only; a language with neither is left out. Taglines are not kept (a title has one)."""
    wanted = set(languages)
    titles: dict[str, list[str]] = {}
    overviews: dict[str, str] = {}
    for entry in data if isinstance(data, list) else ():
        language = text(entry.get("language")) if isinstance(entry, dict) else None
        if language not in wanted:
            continue
        name, overview = text(entry.get("title")), text(entry.get("overview"))
        names = titles.setdefault(language, [])
        if name and name not in names:
            names.append(name)
        if overview:
            overviews.setdefault(language, overview)
    return {language: (tuple(names), overviews.get(language)) for language, names in titles.items()
            if names or language in overviews}
