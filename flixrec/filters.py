"""The filter vocabulary, declared once, and its one parser: URL parameters, CLI options and API queries share it.

A filter has ONE name everywhere (URL parameter, widget key, CLI option, API query): year and runtime
(ranges), votes, rating, genre, no_genre, lang, spoken, no_cert, type, k (how many similar titles), and favour
(director, cast: people the ranking weighs more). Raw values are
strings (as a URL carries them); `parse_filter_params` validates them against the catalogue's facets
and reports every value it drops, so an edge can tell the user instead of keeping an invisible filter.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from flixrec.models import MEDIA_TYPES, Filters, RankingWeights

DEFAULT_K, MIN_K, MAX_K = 20, 5, 50
MAX_VALUE_CHARS = 40  # longer numbers are nonsense (and int() of 400 nines would be slow to compare)


@dataclasses.dataclass(frozen=True)
class FilterParam:
    """One filter's name (URL parameter, widget key, CLI option), label and help."""

    name: str
    label: str
    help: str
    repeated: bool = False  # several values (repeated parameter) rather than one


FILTER_PARAMS: tuple[FilterParam, ...] = (
    FilterParam("year", "Year", "a range of release years: year=1990-2010 (or year=1990&year=2010)"),
    FilterParam("runtime", "Runtime (minutes)", "a range of runtimes in minutes: runtime=90-150"),
    FilterParam("votes", "Minimum votes", "at least this many votes: votes=250"),
    FilterParam("rating", "Minimum rating", "at least this rating, 0 to 10: rating=6.5"),
    FilterParam("genre", "Genres (any of)", "keep titles with any of these genres (repeatable): genre=Drama", True),
    FilterParam("no_genre", "Without genres", "drop titles with any of these genres (repeatable): no_genre=Horror", True),
    FilterParam("lang", "Original language", "original language codes (repeatable): lang=ja", True),
    FilterParam("spoken", "Spoken languages (any of)",
                "keep titles spoken in any of these languages, the original one included (repeatable): spoken=de", True),
    FilterParam("no_cert", "Without certifications",
                "drop titles rated any of these; unrated titles stay (repeatable): no_cert=R&no_cert=TV-MA", True),
    FilterParam("type", "Type", "movie or show: type=movie"),
    FilterParam("k", "Similar titles to show", f"how many similar titles, {MIN_K} to {MAX_K}: k=20"),
    FilterParam("favour", "Favour the same", "rank titles sharing the seed's director or cast higher "
                "(repeatable): favour=director&favour=cast", True),
)
FAVOURABLE = {"director": "Director", "cast": "Cast"}
"""What `favour` can name, and its labels (a URL may carry either)."""
FILTER_NAMES = tuple(p.name for p in FILTER_PARAMS)
MEDIA_LABELS = {"all": "All", "movie": "Movies", "show": "Shows"}
"""The type filter's choices and their labels (a URL may carry either: type=movie or type=Movies)."""
LANGUAGE_NAMES = {
    "en": "English", "ja": "Japanese", "zh": "Chinese", "cn": "Cantonese", "ko": "Korean", "fr": "French",
    "de": "German", "es": "Spanish", "it": "Italian", "pt": "Portuguese", "ru": "Russian", "hi": "Hindi",
    "sv": "Swedish", "da": "Danish", "nl": "Dutch", "no": "Norwegian", "nb": "Norwegian Bokmål", "pl": "Polish",
    "cs": "Czech", "el": "Greek", "he": "Hebrew", "ar": "Arabic", "fa": "Persian", "tr": "Turkish", "th": "Thai",
    "vi": "Vietnamese", "id": "Indonesian", "hu": "Hungarian", "ro": "Romanian", "is": "Icelandic",
    "ta": "Tamil", "te": "Telugu", "af": "Afrikaans", "ky": "Kyrgyz", "ps": "Pashto", "sl": "Slovenian",
    "xx": "No language",
}
"""Names of the catalogue's original-language codes (a URL may carry either: lang=ja or lang=Japanese)."""


def language_name(code: str | None) -> str:
    """A language code as a name ('ja' -> 'Japanese'); the code itself when unknown."""
    return LANGUAGE_NAMES.get(code or "", code or "unknown")


@dataclasses.dataclass(frozen=True)
class ParsedFilters:
    """The Filters and list length that raw parameters mean, and one message per value that was dropped."""

    filters: Filters
    k: int = DEFAULT_K
    problems: list[str] = dataclasses.field(default_factory=list)
    kept: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # the accepted values, canonical, in order
    favour: frozenset[str] = frozenset()  # "director", "cast": people to weigh more in the ranking

    def weights(self, base: RankingWeights) -> RankingWeights:
        """The ranking weights these parameters ask for: `base` with the favoured people weighed more."""
        return base.favouring(directors="director" in self.favour, cast="cast" in self.favour)


def _number(raw: str, kind: type) -> Any:
    """A finite, non-negative int/float from text; None when it is not one."""
    text = raw.strip()
    if not text or len(text) > MAX_VALUE_CHARS:
        return None
    try:
        value = kind(text)
    except (ValueError, OverflowError):
        return None
    if kind is float and not math.isfinite(value):
        return None
    return value if value >= 0 else None


def _range_values(values: Sequence[str]) -> list[str] | None:
    """A range's two sides from 'low-high' (either side may be empty) or from two repeated values."""
    if len(values) == 1:
        match = re.fullmatch(r"\s*([^-]*?)\s*-\s*([^-]*?)\s*", values[0])
        return [match.group(1), match.group(2)] if match else None
    return list(values) if len(values) == 2 else None


def _parse_range(name: str, values: Sequence[str], extent: Any, problems: list[str]) -> tuple[int | None, int | None]:
    """A (low, high) pair, each side None when open; clamped into the catalogue's extent when one is given."""
    sides = _range_values(values)
    shown = "&".join(values)
    if sides is None or not any(s.strip() for s in sides):
        problems.append(f"{name}={shown} is not a range like {name}=1990-2010; ignored")
        return None, None
    numbers = [None if not s.strip() else _number(s, int) for s in sides]
    if any(n is None and s.strip() for n, s in zip(numbers, sides)):
        problems.append(f"{name}={shown} is not a range of whole numbers; ignored")
        return None, None
    low, high = numbers
    if low is not None and high is not None and low > high:
        low, high = high, low
    if extent:
        floor, ceiling = int(extent[0]), int(extent[1])
        low = floor if low is None else min(max(low, floor), ceiling)
        high = ceiling if high is None else max(min(high, ceiling), floor)
    return low, high


def _open_ends(pair: tuple[int | None, int | None], extent: Any) -> tuple[int | None, int | None]:
    """A side at the catalogue's extent is no constraint on that side (None)."""
    low, high = pair
    if extent:
        low = None if low is not None and low <= int(extent[0]) else low
        high = None if high is not None and high >= int(extent[1]) else high
    return low, high


def _match_choices(name: str, values: Sequence[str], choices: Sequence[str] | None, problems: list[str],
                   labels: Mapping[str, str] | None = None) -> list[str]:
    """Values matched case-insensitively to the catalogue's choices (or their labels); unknown ones are reported."""
    by_folded = {(labels or {}).get(c, c).casefold(): c for c in choices or ()}
    by_folded.update({c.casefold(): c for c in choices or ()})
    kept: list[str] = []
    for value in values:
        text = " ".join(value.split())
        if not text:
            continue
        found = by_folded.get(text.casefold()) if choices is not None else text
        if found is None:
            problems.append(f"{name}={text[:60]} is not in the catalogue; ignored")
        elif found not in kept:
            kept.append(found)
    return kept


def parse_filter_params(params: Mapping[str, Sequence[str]], facets: Mapping[str, Any] | None = None) -> ParsedFilters:
    """Filters and k from raw parameters (name -> list of strings); every dropped value is named in problems.

    `facets` (FlixRec.facets()) gives the catalogue's ranges, genres, languages, spoken languages and
    certifications; without it those are taken as given and ranges are not compared with the catalogue.
    """
    facets = facets or {}
    problems: list[str] = []

    def values(name: str) -> list[str]:
        raw = params.get(name) or []
        return [raw] if isinstance(raw, str) else [str(v) for v in raw]

    def last(name: str) -> str | None:
        found = values(name)
        return found[-1] if found else None

    kept: dict[str, list[str]] = {}
    ranges = {}
    for name in ("year", "runtime"):
        pair = _parse_range(name, values(name), facets.get(name), problems) if values(name) else (None, None)
        if pair != (None, None):
            kept[name] = ["" if v is None else str(v) for v in pair]
        ranges[name] = _open_ends(pair, facets.get(name))
    year, runtime = ranges["year"], ranges["runtime"]
    votes = None
    if (raw := last("votes")) is not None:
        votes = _number(raw, int)
        if votes is None:
            problems.append(f"votes={raw[:60]} is not a whole number of votes; ignored")
    rating = None
    if (raw := last("rating")) is not None:
        rating = _number(raw, float)
        if rating is None or rating > 10:
            problems.append(f"rating={raw[:60]} is not a rating from 0 to 10; ignored")
            rating = None
    genres = _match_choices("genre", values("genre"), facets.get("genres"), problems)
    no_genres = _match_choices("no_genre", values("no_genre"), facets.get("genres"), problems)
    languages = _match_choices("lang", values("lang"), facets.get("languages"), problems, LANGUAGE_NAMES)
    spoken = _match_choices("spoken", values("spoken"), facets.get("spoken_languages"), problems, LANGUAGE_NAMES)
    no_certs = _match_choices("no_cert", values("no_cert"), facets.get("certifications"), problems)
    media: tuple[str, ...] = ()
    if (raw := last("type")) is not None:
        found = _match_choices("type", [raw], ("all", *MEDIA_TYPES), [], MEDIA_LABELS)
        if not found:
            problems.append(f"type={raw[:60]} is neither movie nor show; ignored")
        elif found[0] != "all":
            media = (found[0],)
    k = DEFAULT_K
    if (raw := last("k")) is not None:
        number = _number(raw, int)
        if number is None:
            problems.append(f"k={raw[:60]} is not a whole number; showing {DEFAULT_K}")
        elif not MIN_K <= number <= MAX_K:
            k = min(MAX_K, max(MIN_K, number))
            problems.append(f"k={raw[:60]} is outside {MIN_K}-{MAX_K}; showing {k}")
        else:
            k = number
    for name, value in (("votes", votes), ("rating", rating), ("k", k if last("k") is not None else None)):
        if value is not None:
            kept[name] = [f"{value:g}" if isinstance(value, float) else str(value)]
    favour = _match_choices("favour", values("favour"), tuple(FAVOURABLE), problems, FAVOURABLE)
    for name, chosen in (("genre", genres), ("no_genre", no_genres), ("lang", languages), ("spoken", spoken),
                         ("no_cert", no_certs), ("type", list(media)), ("favour", favour)):
        if chosen:
            kept[name] = list(chosen)
    filters = Filters(
        year_min=year[0], year_max=year[1], runtime_min=runtime[0], runtime_max=runtime[1],
        min_votes=votes or None, min_rating=rating or None, genres_include=genres, genres_exclude=no_genres,
        languages=languages, media_types=media, spoken_languages=spoken, certifications_exclude=no_certs,
    )
    return ParsedFilters(filters, k, problems, kept, frozenset(favour))


def filter_params(filters: Filters, k: int = DEFAULT_K) -> dict[str, str | list[str]]:
    """The parameters that mean these filters and k (the inverse of parse_filter_params; defaults left out)."""
    params: dict[str, str | list[str]] = {}
    for name, low, high in (("year", filters.year_min, filters.year_max),
                            ("runtime", filters.runtime_min, filters.runtime_max)):
        if low is not None or high is not None:
            params[name] = f"{'' if low is None else low}-{'' if high is None else high}"
    if filters.min_votes:
        params["votes"] = str(filters.min_votes)
    if filters.min_rating:
        params["rating"] = f"{filters.min_rating:g}"
    for name, chosen in (("genre", filters.genres_include), ("no_genre", filters.genres_exclude),
                         ("lang", filters.languages), ("spoken", filters.spoken_languages),
                         ("no_cert", filters.certifications_exclude)):
        if chosen:
            params[name] = sorted(chosen)
    if len(filters.media_types) == 1:
        params["type"] = next(iter(filters.media_types))
    if k != DEFAULT_K:
        params["k"] = str(k)
    return params
