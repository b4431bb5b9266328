"""The domain's value objects: Title, Filters, Match, Recommendation."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import operator
import re
from collections.abc import Callable, Iterable
from typing import Any

MEDIA_TYPES = ("movie", "show")
EMBEDDING_RECIPE = 2
"""Bumped whenever what a title vector is made of changes (flixrec.embedding), so every title is embedded again."""
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_HAN = re.compile(r"[\u3400-\u9fff]")
NUMERIC_FIELDS = ("year", "runtime", "votes", "rating")
"""The numeric Title fields that filters bound (and the index keeps as columns)."""


@dataclasses.dataclass(frozen=True)
class Person:
    """Someone credited on a title: cast (in billing order), a director, a show's creator, a writer, or
    one of the other key crew (CREW_JOBS: producer, composer, cinematographer, editor, production designer).

    `role` is one of PERSON_ROLES; `job` the credit as the source words it ("Screenplay", "Creator");
    `episode_count` how many episodes of a show the credit covers (None for movies or when unknown).
    """

    person_id: str
    name: str
    role: str
    position: int = 0
    character: str | None = None
    job: str | None = None
    episode_count: int | None = None


PERSON_ROLES = ("cast", "director", "creator", "writer", "episode director", "crew")
"""A show's directors are per episode ("episode director"); its creators play the part a movie's directors do.
"crew" credits are the other key jobs behind the camera (CREW_JOBS); `job` says which."""
CREW_JOBS = ("Original Music Composer", "Music", "Director of Photography", "Editor", "Production Design",
             "Producer", "Executive Producer")
"""The jobs kept as "crew" credits, as TMDB and Trakt word them: the team that shapes how a film looks and
sounds, whose other films often feel alike (the same composer, cinematographer or producer). A person
holding several on one title keeps the first in this order (a credit is one role per person)."""
MUSIC_JOBS = ("Original Music Composer", "Music")
"""The CREW_JOBS of those who wrote the music ("Music by …")."""
MAX_CREW_PER_JOB = 4
"""Crew credits kept per job and title, in credit order (a blockbuster lists a dozen executive producers)."""
MAX_WRITERS = 10
"""Writer credits kept per title, in credit order (a show's staff runs long)."""


def crew_job(jobs: Iterable[str]) -> str | None:
    """The CREW_JOBS job a credit is kept under (the first in CREW_JOBS' order), or None."""
    held = set(jobs)
    return next((job for job in CREW_JOBS if job in held), None)


@dataclasses.dataclass(frozen=True)
class Title:
    """A movie or a show, as the catalogue stores it. Every field but the id, type and title may be None."""

    title_id: str
    media_type: str
    title: str
    source: str
    original_title: str | None = None
    aliases: tuple[str, ...] = ()
    overview: str | None = None
    tagline: str | None = None
    genres: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    year: int | None = None
    released: str | None = None
    runtime: int | None = None
    country: str | None = None
    language: str | None = None
    rating: float | None = None
    votes: int | None = None
    comment_count: int | None = None
    trakt_id: int | None = None
    tmdb_id: int | None = None
    imdb_id: str | None = None
    slug: str | None = None
    network: str | None = None
    status: str | None = None
    aired_episodes: int | None = None
    certification: str | None = None  # "PG-13", "R", "TV-MA" (the source's country's rating)
    subgenres: tuple[str, ...] | None = None
    languages: tuple[str, ...] | None = None  # every spoken language, the original one first when known
    available_translations: tuple[str, ...] | None = None  # language codes the source has translations in
    trailer: str | None = None
    homepage: str | None = None
    poster_url: str | None = None  # an image URL only: ingest never downloads images
    tvdb_id: int | None = None
    plex_guid: str | None = None
    source_updated_at: str | None = None  # when the source last changed the record (freshness)
    airs: str | None = None  # shows: the weekly slot, "Sunday 21:00 America/New_York"
    after_credits: bool | None = None  # movies: a scene after / during the credits
    during_credits: bool | None = None
    overviews: tuple[tuple[str, str], ...] | None = None
    """Every overview the sources gave, as (language, text), the primary (`overview`) first; None when a
    source gave only `overview` (see `overview_versions`)."""
    people: tuple[Person, ...] = ()

    @property
    def content_hash(self) -> str:
        """Hash of what the embedding is made of; the index re-embeds a title only when it changes."""
        parts: list[Any] = [EMBEDDING_RECIPE, self.title, self.overview, self.tagline, list(self.genres), list(self.keywords)]
        versions = self.overview_versions()
        if len(versions) > 1:  # a merged work is embedded in every language it has
            parts.append([list(v) for v in versions])
        return _hash(parts)

    @functools.cached_property
    def record_hash(self) -> str:
        """Hash of every stored field; an upsert writes a row only when it changes.

        Built field by field (dataclasses.asdict deep-copies, which made it the cost of a Trakt crawl), and
        once per Title: an upsert compares it, stores it with the record and again with the merged title.
        """
        # Keys inserted in sorted order: the same JSON as sort_keys=True, without paying for the sort.
        fields: dict[str, Any] = {}
        for name in _HASH_ORDER:
            if name == "people":
                fields["people"] = [_person_fields(p) for p in self.people]
                continue
            value = getattr(self, name)
            if value is not None or name not in _LATER_TITLE_FIELDS:  # later fields only when set: older
                fields[name] = value                                   # records keep their hash
        return _hash(fields, presorted=True)

    @property
    def directors(self) -> list[str]:
        """Directors' names."""
        return [p.name for p in self.people if p.role == "director"]

    @property
    def creators(self) -> list[str]:
        """Creators' names (shows)."""
        return [p.name for p in self.people if p.role == "creator"]

    @property
    def writers(self) -> list[str]:
        """Writers' names, in credit order."""
        return [p.name for p in sorted(self.people, key=lambda p: p.position) if p.role == "writer"]

    @property
    def crew(self) -> list[tuple[str, str]]:
        """(name, job) of the key crew ("crew" credits), in credit order."""
        return [(p.name, p.job or "crew") for p in sorted(self.people, key=lambda p: p.position) if p.role == "crew"]

    @property
    def composers(self) -> list[str]:
        """Names of those who wrote the music, in credit order."""
        return [name for name, job in self.crew if job in MUSIC_JOBS]

    @property
    def spoken_languages(self) -> frozenset[str]:
        """Every language the title is known in: `languages` and the original `language`."""
        return frozenset(self.languages or ()) | ({self.language} if self.language else frozenset())

    @property
    def cast(self) -> list[str]:
        """Cast names in billing order."""
        return [p.name for p in sorted(self.people, key=lambda p: p.position) if p.role == "cast"]

    @property
    def tmdb_kind(self) -> str:
        """The TMDB namespace of `tmdb_id` ("movie" or "tv"): TMDB numbers movies and TV shows separately."""
        return "movie" if self.media_type == "movie" else "tv"

    def overview_versions(self) -> tuple[tuple[str, str], ...]:
        """Every overview as (language, text), the primary first: `overviews`, else the one `overview`."""
        if self.overviews:
            return self.overviews
        return ((language_of(self.overview), self.overview),) if self.overview else ()

    def links(self) -> dict[str, str]:
        """Links out to Trakt, IMDb and TMDB for whichever ids are known."""
        out: dict[str, str] = {}
        kind = "movies" if self.media_type == "movie" else "shows"
        if self.slug or self.trakt_id:
            out["Trakt"] = f"https://trakt.tv/{kind}/{self.slug or self.trakt_id}"
        if self.imdb_id:
            out["IMDb"] = f"https://www.imdb.com/title/{self.imdb_id}/"
        if self.tmdb_id:
            out["TMDB"] = f"https://www.themoviedb.org/{self.tmdb_kind}/{self.tmdb_id}"
        return out

    def label(self) -> str:
        """'Title (year)' for lists and messages."""
        return f"{self.title} ({self.year})" if self.year else self.title


_TITLE_FIELDS = [f.name for f in dataclasses.fields(Title) if f.name != "people"]
_LATER_TITLE_FIELDS = frozenset(_TITLE_FIELDS[_TITLE_FIELDS.index("certification"):])
_PERSON_FIELDS = [f.name for f in dataclasses.fields(Person)]
_LATER_PERSON_FIELDS = ("job", "episode_count")
_HASH_ORDER = sorted([*_TITLE_FIELDS, "people"])
_PERSON_HASH_ORDER = sorted(_PERSON_FIELDS)


def language_of(text: str | None) -> str:
    """A text's language guessed from its script: "ja" (a fair share of kana), "ko", "zh" (Han), else "en".

    Chinese summaries quote Japanese names in kana, so a few kana do not make a text Japanese.
    """
    if not text:
        return "en"
    kana, han, hangul = (len(pattern.findall(text)) for pattern in (_KANA, _HAN, _HANGUL))
    if hangul > kana + han:
        return "ko"
    if kana and kana >= 0.15 * (kana + han):
        return "ja"
    return "zh" if han else "en"


def _person_fields(person: Person) -> dict[str, Any]:
    """A person's hashed fields, keys in sorted order: the later ones only when set (older records keep their hash)."""
    return {name: getattr(person, name) for name in _PERSON_HASH_ORDER
            if name not in _LATER_PERSON_FIELDS or getattr(person, name) is not None}


def _hash(value: Any, presorted: bool = False) -> str:
    blob = json.dumps(value, sort_keys=not presorted, ensure_ascii=False, default=str)
    return hashlib.blake2b(blob.encode(), digest_size=16).hexdigest()


@dataclasses.dataclass(frozen=True)
class Filters:
    """Constraints on recommended titles. None (or empty) means no constraint.

    A title whose field is unknown (null) does not pass an active constraint on that field: we cannot
    say it satisfies it. The one exception is an exclusion: a title without a certification is not
    excluded by `certifications_exclude` (it is not known to be R), as a title without genres is not
    excluded by `genres_exclude`. The anime catalogue has no votes, rating or runtime, so a minimum-votes filter
    hides it; leave those filters at None to keep it.
    """

    year_min: int | None = None
    year_max: int | None = None
    runtime_min: int | None = None
    runtime_max: int | None = None
    min_votes: int | None = None
    min_rating: float | None = None
    genres_include: frozenset[str] = frozenset()  # any of these
    genres_exclude: frozenset[str] = frozenset()  # none of these
    languages: frozenset[str] = frozenset()  # original language: any of these
    media_types: frozenset[str] = frozenset()  # any of these
    exclude_ids: frozenset[str] = frozenset()  # titles the user hid
    spoken_languages: frozenset[str] = frozenset()  # any of these among Title.spoken_languages
    certifications_exclude: frozenset[str] = frozenset()  # none of these ("R", "TV-MA"); unrated titles pass

    def __post_init__(self) -> None:
        for name in ("genres_include", "genres_exclude", "languages", "media_types", "exclude_ids",
                     "spoken_languages", "certifications_exclude"):
            value = getattr(self, name)
            if not isinstance(value, frozenset):
                object.__setattr__(self, name, frozenset(value or ()))

    def is_empty(self) -> bool:
        """True when no constraint is set."""
        return self == Filters()

    def bounds(self) -> list[tuple[str, Callable[[Any, Any], Any], float]]:
        """The active numeric constraints as (field, operator.ge or operator.le, bound).

        The one table of range rules: `accepts`, the index's `IndexSnapshot.mask` and the Explore
        page's `filter_frame` all apply it (to a value, a numpy column, a pandas column).
        """
        rules = (
            ("year", operator.ge, self.year_min), ("year", operator.le, self.year_max),
            ("runtime", operator.ge, self.runtime_min), ("runtime", operator.le, self.runtime_max),
            ("votes", operator.ge, self.min_votes), ("rating", operator.ge, self.min_rating),
        )
        return [(name, op, bound) for name, op, bound in rules if bound is not None]

    def accepts(self, title: Title) -> bool:
        """Whether a title passes every constraint (the reference semantics the index must match)."""
        if title.title_id in self.exclude_ids:
            return False
        for name, op, bound in self.bounds():
            value = getattr(title, name)
            if value is None or not op(value, bound):
                return False
        if self.genres_include and self.genres_include.isdisjoint(title.genres):
            return False
        if self.genres_exclude and not self.genres_exclude.isdisjoint(title.genres):
            return False
        if self.languages and title.language not in self.languages:
            return False
        if self.spoken_languages and self.spoken_languages.isdisjoint(title.spoken_languages):
            return False
        if self.certifications_exclude and title.certification in self.certifications_exclude:
            return False
        return not (self.media_types and title.media_type not in self.media_types)


@dataclasses.dataclass(frozen=True)
class Match:
    """A title found by search_titles: how well its name matched (0-100) and how (exact or fuzzy)."""

    title: Title
    score: float
    kind: str  # "exact" | "fuzzy"
    matched_name: str


FAVOURED_PEOPLE = 0.5
"""The weight of shared directors or cast when a person asks to favour them (the defaults are 0 and 0.1)."""


@dataclasses.dataclass(frozen=True)
class RankingWeights:
    """How much each signal counts in the blended similarity (0 turns one off)."""

    text: float = 1.0
    keywords: float = 0.5
    directors: float = 0.0
    """Directors alone: 0 by default because `crew` counts them already; "favour same director" raises it."""
    cast: float = 0.1
    crew: float = 0.3
    """Everyone credited behind the camera (directors, creators, writers, CREW_JOBS); see docs/ranking.md."""
    genres: float = 0.1
    era: float = 0.1
    popularity: float = 0.05
    agreement: float = 0.2
    """Neighbourhood agreement (flixrec.ranking); chosen on the development sets, see docs/ranking.md."""
    prominence: float = 0.15
    """How widely seen the candidate is (flixrec.ranking); chosen on the development sets, see docs/ranking.md."""

    def favouring(self, directors: bool = False, cast: bool = False) -> RankingWeights:
        """These weights with shared directors and/or cast weighed at least FAVOURED_PEOPLE ("favour same director")."""
        return dataclasses.replace(
            self, directors=max(self.directors, FAVOURED_PEOPLE) if directors else self.directors,
            cast=max(self.cast, FAVOURED_PEOPLE) if cast else self.cast,
        )

    @classmethod
    def text_only(cls) -> RankingWeights:
        """The plain cosine of the title vectors (every other signal off)."""
        return cls(**{field.name: 0.0 for field in dataclasses.fields(cls)} | {"text": 1.0})

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int | float) or not math.isfinite(value) or not 0 <= value <= 10:
                raise ValueError(f"ranking weight {field.name} must be a number from 0 to 10, not {value!r}")


@dataclasses.dataclass(frozen=True)
class Reason:
    """One reason a title is recommended: its kind and a sentence for people."""

    kind: str  # "keywords" | "director" | "cast" | "crew" | "genres" | "story" | "franchise" | "text"
    text: str


@dataclasses.dataclass(frozen=True)
class Recommendation:
    """One recommended title: its rank (1-based), a score in [0, 1] (1 = as close as the seed to itself),
    a label for the score, and the reasons it was chosen."""

    title: Title
    score: float
    rank: int
    reasons: tuple[Reason, ...] = ()
    label: str = ""
