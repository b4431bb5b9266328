"""The API's request and response models (Pydantic), and their conversion from the core's value objects.

Field names are snake_case and match the core's (`title_id`, `media_type`, `score`, `rank`); a title's
summary is the same object in every list, its details add people, ids and links.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from flixrec.filters import FAVOURABLE, FILTER_PARAMS, MAX_K, language_name
from flixrec.models import MEDIA_TYPES, Match, Recommendation, Title

ItemT = TypeVar("ItemT")
MAX_SEEDS = 50
MAX_AVOID = 200
MAX_WATCHED = 5000
MAX_TEXT_CHARS = 2000
MAX_ID_CHARS = 200

INTERSTELLAR = {
    "title_id": "tmdb-movie-157336", "media_type": "movie", "title": "Interstellar", "original_title": "Interstellar",
    "year": 2014, "runtime": 169, "genres": ["Adventure", "Drama", "Science Fiction"], "language": "en",
    "language_name": "English", "rating": 8.1, "votes": 10867, "label": "Interstellar (2014)",
    "overview": "Interstellar chronicles the adventures of a group of explorers who make use of a newly "
                "discovered wormhole to surpass the limitations on human space travel.",
}


def printable(value: str) -> str:
    """The value, when it is encodable text without NUL (a lone surrogate or NUL byte is no id or text)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


TitleIdValue = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS), AfterValidator(printable)]
TextValue = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(printable)]


class TitleSummary(BaseModel):
    """A title as lists show it."""

    model_config = ConfigDict(json_schema_extra={"examples": [INTERSTELLAR]})

    title_id: str
    media_type: str
    title: str
    original_title: str | None = None
    year: int | None = None
    runtime: int | None = None
    genres: list[str] = []
    language: str | None = None
    language_name: str | None = None
    rating: float | None = None
    votes: int | None = None
    label: str
    overview: str | None = None


class PersonOut(BaseModel):
    """Someone credited on a title."""

    person_id: str
    name: str
    role: str = Field(description="cast, director, creator, writer, episode director or crew")
    position: int = Field(description="credit order among the title's credits of this role")
    character: str | None = None
    job: str | None = Field(default=None, description="the credit as the source words it: Screenplay, Editor, ...")


class ExternalIds(BaseModel):
    """A title's ids at Trakt, TMDB and IMDb."""

    trakt: int | None = None
    tmdb: int | None = None
    imdb: str | None = None
    slug: str | None = None


class TitleDetail(TitleSummary):
    """A title with everything the catalogue knows: people, ids and links."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        **INTERSTELLAR, "aliases": [], "tagline": "Mankind was born on Earth. It was never meant to die here.",
        "keywords": ["space travel", "wormhole"], "released": "2014-11-05", "country": "CA",
        "ids": {"trakt": None, "tmdb": 157336, "imdb": None, "slug": None},
        "links": {"TMDB": "https://www.themoviedb.org/movie/157336"},
        "people": [{"person_id": "tmdb-person-525", "name": "Christopher Nolan", "role": "director", "position": 0,
                    "character": None}],
        "directors": ["Christopher Nolan"], "cast": [], "source": "tmdb5000",
    }]})

    aliases: list[str] = []
    tagline: str | None = None
    keywords: list[str] = []
    released: str | None = None
    country: str | None = None
    network: str | None = None
    status: str | None = None
    aired_episodes: int | None = None
    source: str
    ids: ExternalIds
    links: dict[str, str] = Field(description="pages about the title at Trakt, IMDb and TMDB, by site name")
    people: list[PersonOut] = []
    directors: list[str] = []
    cast: list[str] = Field(default=[], description="cast names in billing order")


class ReasonOut(BaseModel):
    """Why a title was recommended (one short reason)."""

    kind: str = Field(description="keywords, director, cast, crew, genres, story, franchise or text")
    text: str


class RecommendationOut(BaseModel):
    """One ranked title: its 1-based rank, its similarity score in [0, 1] and why."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "rank": 1, "score": 0.605163, "label": None, "reasons": [],
        "title": {**INTERSTELLAR, "title_id": "tmdb-movie-13363", "title": "The Man from Earth",
                  "original_title": "The Man from Earth", "year": 2007, "runtime": 87,
                  "genres": ["Science Fiction", "Drama"], "rating": 7.7, "votes": 687,
                  "label": "The Man from Earth (2007)", "overview": "An impromptu goodbye party for Professor John "
                  "Oldman becomes a mysterious interrogation after the retiring scholar reveals he never ages."},
    }]})

    rank: int
    score: float = Field(ge=0.0, le=1.0)
    title: TitleSummary
    label: str | None = Field(default=None, description="a short label for the result, when the ranking gives one")
    reasons: list[ReasonOut] = []


class MatchOut(BaseModel):
    """A title found by its name: how well the name matched (0-100) and how (exact or fuzzy)."""

    score: float
    kind: str = Field(description="exact or fuzzy")
    matched_name: str
    title: TitleSummary


class Page(BaseModel, Generic[ItemT]):
    """One page of a list: the items, where it starts, how many were asked for, and where the next page starts."""

    items: list[ItemT]
    offset: int
    limit: int
    next_offset: int | None = Field(description="the offset of the next page; null when this is the last one")


class SearchPage(Page[MatchOut]):
    """Titles matching a name: exact matches first (most voted first), then typo-tolerant ones."""

    query: str


class RankedPage(Page[RecommendationOut]):
    """Ranked titles, with the filters that were applied (canonical values, as the app's URLs write them)."""

    filters: dict[str, list[str]] = {}


class SimilarPage(RankedPage):
    """Titles similar to a seed under filters (its franchise entries are at /franchise)."""

    seed: TitleSummary


class FranchisePage(Page[RecommendationOut]):
    """A seed's sequels, prequels and same-name titles, kept apart from the similar ones."""

    seed: TitleSummary


class RecommendRequest(BaseModel):
    """Several seed titles, titles to steer away from, the same filters as the query strings, and a page."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "seeds": ["tmdb-movie-157336", "tmdb-movie-27205"], "avoid": ["tmdb-movie-49047"],
        "filters": {"year": "2000-", "genre": ["Science Fiction"], "type": "movie"}, "k": 10, "offset": 0,
    }]})

    seeds: list[TitleIdValue] = Field(min_length=1, max_length=MAX_SEEDS, description="title ids the results should resemble")
    ratings: dict[TitleIdValue, float] = Field(
        default={}, max_length=MAX_SEEDS, description="the person's rating (1-10) of some seeds: higher counts more; "
        "4 or less means 'less like this'")
    avoid: list[TitleIdValue] = Field(default=[], max_length=MAX_AVOID, description="title ids the results should not resemble")
    watched: list[TitleIdValue] = Field(default=[], max_length=MAX_WATCHED,
                                        description="title ids to leave out (seen already); seeds are always left out")
    filters: dict[str, str | list[str]] = Field(
        default={}, description="filter parameters by name, as in the query strings: "
        + ", ".join(p.name for p in FILTER_PARAMS if p.name != "k") + " (and hide)")
    k: int = Field(default=20, ge=1, le=MAX_K, description="how many titles per page")
    offset: int = Field(default=0, ge=0, description="how many ranked titles to skip")


class PersonalPage(RankedPage):
    """Ranked titles for several seeds: each taste takes turns, every item says which seeds it came from."""

    because: dict[str, list[str]] = Field(default={}, description="item title id -> the seed ids it came from, strongest first")
    seeds_used: list[str] = Field(default=[], description="the seeds the list was made from (the highest rated first)")
    seeds_left_out: int = Field(default=0, description="seeds beyond the most a list is made from (25)")


class ProfileEntryOut(BaseModel):
    """A row of an export matched to a catalogue title."""

    title_id: str
    kind: str = Field(description="rating, watched or watchlist")
    rating: float | None = Field(default=None, description="1-10 (Letterboxd's stars times two)")
    when: str | None = None


class UnmatchedOut(BaseModel):
    """A row no catalogue title was found for, and why."""

    where: str = Field(description="file and line, e.g. ratings.csv line 12")
    name: str | None = None
    year: int | None = None
    imdb_id: str | None = None
    reason: str


class ProfileOut(BaseModel):
    """An imported profile: counts, matched entries, unmatched rows, and a body ready for POST /v1/recommend."""

    source: str
    counts: dict[str, int]
    entries: list[ProfileEntryOut]
    unmatched: list[UnmatchedOut]
    recommend: dict[str, Any] = Field(description="seeds, ratings and watched to POST to /v1/recommend as they are")


class RangeOut(BaseModel):
    """The smallest and largest value in the catalogue."""

    min: float
    max: float


class LanguageOut(BaseModel):
    """An original-language code and its name."""

    code: str
    name: str


class FilterParamOut(BaseModel):
    """One filter parameter of the shared vocabulary."""

    name: str
    label: str
    help: str
    repeated: bool


class FacetsOut(BaseModel):
    """Filter ranges and choices of the served build, and the filter parameters they go into."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "year": {"min": 1916, "max": 2026}, "runtime": {"min": 14, "max": 338}, "votes": {"min": 0, "max": 13752},
        "rating": {"min": 0, "max": 10}, "genres": ["Action", "Adventure", "Animation", "Drama"],
        "languages": [{"code": "en", "name": "English"}, {"code": "ja", "name": "Japanese"}],
        "spoken_languages": [], "certifications": [], "media_types": ["movie", "show"], "favour": ["director", "cast"],
        "params": [{"name": "year", "label": "Year", "repeated": False,
                    "help": "a range of release years: year=1990-2010 (or year=1990&year=2010)"}],
    }]})

    year: RangeOut
    runtime: RangeOut
    votes: RangeOut
    rating: RangeOut
    genres: list[str]
    languages: list[LanguageOut]
    spoken_languages: list[LanguageOut] = Field(default=[], description="the spoken filter's choices (none when unknown)")
    certifications: list[str] = Field(default=[], description="the no_cert filter's choices (none when unknown)")
    media_types: list[str]
    favour: list[str] = Field(default=[], description="what the favour parameter can name")
    params: list[FilterParamOut]


class StatusOut(BaseModel):
    """Counts of catalogue and index, the model, the served build and whether catalogue and index agree."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "catalog_titles": 13461, "catalog_movies": 4803, "catalog_shows": 8658, "index_vectors": 13461,
        "model": "use-multilingual", "collection": "titles-use-multilingual", "dimension": 512,
        "build": "225b10224d81478d95894da1401be4c4", "catalog_updated": "2026-11-30T10:14:02", "in_agreement": True,
        "missing_from_index": 0, "stale_in_index": 0,
    }]})

    catalog_titles: int
    catalog_movies: int
    catalog_shows: int
    index_vectors: int
    model: str
    collection: str
    dimension: int | None
    build: str | None = Field(description="the stamp of the served build (changes whenever ingest publishes one)")
    catalog_updated: str | None
    in_agreement: bool
    missing_from_index: int
    stale_in_index: int


class HealthOut(BaseModel):
    """Liveness or readiness."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ready", "build": "225b10224d81478d95894da1401be4c4"}]})

    status: str
    build: str | None = None


def title_summary(title: Title) -> TitleSummary:
    """The summary of a title."""
    return TitleSummary(
        title_id=title.title_id, media_type=title.media_type, title=title.title, original_title=title.original_title,
        year=title.year, runtime=title.runtime, genres=list(title.genres), language=title.language,
        language_name=language_name(title.language) if title.language else None, rating=title.rating,
        votes=title.votes, label=title.label(), overview=title.overview,
    )


def title_detail(title: Title) -> TitleDetail:
    """A title with its people, ids and links."""
    return TitleDetail(
        **title_summary(title).model_dump(), aliases=list(title.aliases), tagline=title.tagline,
        keywords=list(title.keywords), released=title.released, country=title.country, network=title.network,
        status=title.status, aired_episodes=title.aired_episodes, source=title.source,
        ids=ExternalIds(trakt=title.trakt_id, tmdb=title.tmdb_id, imdb=title.imdb_id, slug=title.slug),
        links=title.links(),
        people=[PersonOut(person_id=p.person_id, name=p.name, role=p.role, position=p.position, character=p.character,
                          job=p.job) for p in title.people],
        directors=title.directors, cast=title.cast,
    )


def recommendation(rec: Recommendation) -> RecommendationOut:
    """A ranked title, with its reasons and label when the ranking gives them."""
    reasons = [ReasonOut(kind=str(getattr(r, "kind", "")), text=str(getattr(r, "text", r)))
               for r in getattr(rec, "reasons", ()) or ()]
    label = getattr(rec, "label", None)
    return RecommendationOut(rank=rec.rank, score=rec.score, title=title_summary(rec.title),
                             label=str(label) if label else None, reasons=reasons)


def match(found: Match) -> MatchOut:
    """A title found by name."""
    return MatchOut(score=found.score, kind=found.kind, matched_name=found.matched_name, title=title_summary(found.title))


def facets_out(facets: dict[str, Any]) -> FacetsOut:
    """The service's facets as the API shows them."""
    ranges = {name: RangeOut(min=facets[name][0], max=facets[name][1]) for name in ("year", "runtime", "votes", "rating")}
    return FacetsOut(
        **ranges, genres=list(facets["genres"]),
        languages=[LanguageOut(code=code, name=language_name(code)) for code in facets["languages"]],
        spoken_languages=[LanguageOut(code=code, name=language_name(code)) for code in facets.get("spoken_languages", ())],
        certifications=list(facets.get("certifications", ())), media_types=list(MEDIA_TYPES), favour=list(FAVOURABLE),
        params=[FilterParamOut(name=p.name, label=p.label, help=p.help, repeated=p.repeated) for p in FILTER_PARAMS],
    )
