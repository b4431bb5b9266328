"""A person's profile: the titles they rated, watched, listed or picked, matched to the catalogue.

Sources give rows (`ProfileRow`): IMDb's ratings export, Letterboxd's export (ratings.csv, watched.csv,
watchlist.csv, or the zip), Trakt's history/ratings/watchlist (ingest/trakt/sync.py), titles picked by
hand. `ProfileMatcher` matches rows to catalogue titles by Trakt, IMDb or TMDB id, then by name and
year (exact, then rapidfuzz), and keeps every row it could not match with the reason. Pure parsing and
matching: nothing here reads the network or writes anything.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from rapidfuzz import fuzz, process

from flixrec.errors import InvalidRequest, TitleNotFound
from flixrec.personal import Seed, check_rating, choose_seeds, split_by_rating
from flixrec.search import fuzzy_key
from flixrec.validation import check_title_id

KINDS = ("rating", "watched", "watchlist", "picked")
MAX_FILE_BYTES = 20_000_000
MAX_SEEDS_GIVEN = 5000
FUZZY_CUTOFF = 90
IMDB_HEADER = ("Const", "Your Rating", "Date Rated", "Title", "URL", "Title Type", "IMDb Rating", "Runtime (mins)",
               "Year", "Genres", "Num Votes", "Release Date", "Directors")
LETTERBOXD_HEADER = ("Date", "Name", "Year", "Letterboxd URI")
IMDB_SHOW_TYPES = frozenset({"tv series", "tv mini series", "tvseries", "tvminiseries"})
IMDB_MOVIE_TYPES = frozenset({"movie", "tv movie", "tv special", "video", "short", "tvmovie", "tvspecial", "tvshort",
                              "tv short"})
_IMDB_ID = re.compile(r"^tt\d{5,10}$")


@dataclasses.dataclass(frozen=True)
class ProfileRow:
    """One row as its source gave it: what kind of entry, the ids and name it names, a rating 1-10, when."""

    kind: str  # one of KINDS
    source: str  # "imdb", "letterboxd", "trakt", "picked"
    name: str | None = None
    year: int | None = None
    media_type: str | None = None
    imdb_id: str | None = None
    tmdb_id: int | None = None
    trakt_id: int | None = None
    title_id: str | None = None  # picked by hand: already a catalogue id
    rating: float | None = None
    when: str | None = None
    where: str = ""  # "ratings.csv line 12"

    def label(self) -> str:
        """'Name (year)' or the best id there is."""
        name = self.name or self.imdb_id or self.title_id or (f"trakt {self.trakt_id}" if self.trakt_id else "a row")
        return f"{name} ({self.year})" if self.year else name


@dataclasses.dataclass(frozen=True)
class Unmatched:
    """A row no catalogue title was found for, and why."""

    row: ProfileRow
    reason: str


@dataclasses.dataclass(frozen=True)
class ProfileEntry:
    """A matched row: the catalogue title, what kind of entry, its rating and when."""

    title_id: str
    kind: str
    rating: float | None = None
    when: str | None = None


@dataclasses.dataclass(frozen=True)
class Profile:
    """What a person rated, watched, listed and picked, as catalogue titles, plus the rows left unmatched."""

    source: str
    entries: tuple[ProfileEntry, ...] = ()
    unmatched: tuple[Unmatched, ...] = ()
    avoid: tuple[str, ...] = ()  # "less like these"

    def counts(self) -> dict[str, int]:
        """Matched entries per kind (rating, watched, watchlist, picked) and the unmatched rows."""
        out = {kind: 0 for kind in KINDS}
        for entry in self.entries:
            out[entry.kind] += 1
        out["unmatched"] = len(self.unmatched)
        return out

    def seeds(self) -> list[Seed]:
        """Every rated, watched or picked title as a seed (one per title: its rating, its latest time)."""
        by_id: dict[str, Seed] = {}
        for entry in self.entries:
            if entry.kind == "watchlist":
                continue
            old = by_id.get(entry.title_id)
            rating = entry.rating if entry.rating is not None else (old.rating if old else None)
            when = max(filter(None, (entry.when, old.when if old else None)), default=None)
            by_id[entry.title_id] = Seed(entry.title_id, rating, when)
        return list(by_id.values())

    def watched_ids(self) -> frozenset[str]:
        """Titles to leave out of the list: everything rated, watched, on the watchlist or picked."""
        return frozenset(e.title_id for e in self.entries)

    def recommend_body(self, max_seeds: int, max_watched: int) -> dict[str, Any]:
        """{seeds, ratings, watched} for a multi-seed request: the best-rated and latest seeds, every title seen."""
        seeds = choose_seeds(self.seeds(), max_seeds)
        return {"seeds": [s.title_id for s in seeds],
                "ratings": {s.title_id: s.rating for s in seeds if s.rating is not None},
                "watched": sorted(self.watched_ids())[:max_watched]}

    def merged(self, other: Profile) -> Profile:
        """This profile and another (a second file, titles picked by hand) as one."""
        sources = " + ".join(dict.fromkeys(filter(None, (*self.source.split(" + "), *other.source.split(" + ")))))
        return Profile(sources, self.entries + other.entries, self.unmatched + other.unmatched,
                       tuple(dict.fromkeys(self.avoid + other.avoid)))


def personal_request(profile_or_seeds: Any, avoid: Iterable[Any] = (),
                     watched: Iterable[Any] = ()) -> tuple[list[Seed], list[str], set[str]]:
    """(liked seeds, 'less like these' ids, ids to leave out) from a Profile or from Seeds, ids, (id, rating)
    pairs or {"title_id", "rating"} dicts; ratings of 4 or less count as 'less like these'. InvalidRequest on bad input."""
    avoid_ids = [_id(a) for a in avoid]
    watched_ids = {_id(w) for w in watched}
    if isinstance(profile_or_seeds, Profile):
        seeds = profile_or_seeds.seeds()
        avoid_ids += list(profile_or_seeds.avoid)
        watched_ids |= profile_or_seeds.watched_ids()
    else:
        if isinstance(profile_or_seeds, str | bytes) or not isinstance(profile_or_seeds, Iterable):
            raise InvalidRequest("seeds must be a list of title ids, (id, rating) pairs or a Profile")
        seeds = [_seed(s) for s in profile_or_seeds]
    if len(seeds) > MAX_SEEDS_GIVEN:
        raise InvalidRequest(f"at most {MAX_SEEDS_GIVEN} liked titles, not {len(seeds)}")
    if not seeds:
        raise InvalidRequest("no liked titles: give at least one title id (or import a profile)")
    liked, disliked = split_by_rating(seeds)
    return liked, avoid_ids + disliked, watched_ids | {s.title_id for s in seeds}


def _id(value: Any) -> str:
    try:
        return check_title_id(value)
    except TitleNotFound:
        return str(value)[:200]  # never in the index: harmless to leave out


def _seed(value: Any) -> Seed:
    if isinstance(value, Seed):
        return Seed(_id(value.title_id), check_rating(value.rating, value.title_id), value.when)
    if isinstance(value, str):
        return Seed(_id(value))
    if isinstance(value, Mapping):
        title_id = _id(value.get("title_id"))
        return Seed(title_id, check_rating(value.get("rating"), title_id), value.get("when"))
    if isinstance(value, tuple | list) and len(value) == 2:
        title_id = _id(value[0])
        return Seed(title_id, check_rating(value[1], title_id))
    raise InvalidRequest(f"a liked title must be an id, an (id, rating) pair or a mapping, not {type(value).__name__}")


# ---- files -----------------------------------------------------------------------------------------


def read_export_files(files: Mapping[str, bytes | str]) -> list[ProfileRow]:
    """Rows of IMDb and Letterboxd export files (name -> content; a Letterboxd .zip is opened); InvalidRequest
    for a file that is neither."""
    rows: list[ProfileRow] = []
    for name, content in files.items():
        data = content.encode() if isinstance(content, str) else bytes(content)
        if len(data) > MAX_FILE_BYTES:
            raise InvalidRequest(f"{name} is larger than {MAX_FILE_BYTES // 1_000_000} MB; is it really an export?")
        if name.lower().endswith(".zip"):
            rows += read_export_files(_zip_members(name, data))
            continue
        rows += parse_export(name, data)
    return rows


def _zip_members(name: str, data: bytes) -> dict[str, bytes]:
    """The CSV files of a Letterboxd export zip that FlixRec reads (ratings, watched, watchlist)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            wanted = [m for m in archive.namelist() if m.rsplit("/", 1)[-1] in ("ratings.csv", "watched.csv", "watchlist.csv")
                      and not m.startswith(("deleted/", "orphaned/"))]
            return {m: archive.read(m) for m in wanted}
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidRequest(f"{name} is not a readable zip file ({type(exc).__name__})") from exc


def parse_export(name: str, data: bytes) -> list[ProfileRow]:
    """Rows of one CSV export, its format told by its header: IMDb ratings (or watchlist) or Letterboxd."""
    text = data.decode("utf-8-sig", errors="replace")
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(h.strip() for h in reader.fieldnames or ())
    reader.fieldnames = list(header)
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    if "Const" in header and "Title" in header:
        return list(_imdb_rows(base, reader, rated="Your Rating" in header))
    if set(LETTERBOXD_HEADER[1:3]) <= set(header) and ("Letterboxd URI" in header or "Date" in header):
        kind = "rating" if "Rating" in header else "watchlist" if "watchlist" in base.lower() else "watched"
        return list(_letterboxd_rows(base, reader, kind))
    shown = ",".join(header[:6]) or "nothing"
    raise InvalidRequest(f"{base} is neither an IMDb ratings export (header Const,Your Rating,...) nor a Letterboxd "
                         f"export (header Date,Name,Year,Letterboxd URI); its header is {shown}")


def _imdb_rows(name: str, reader: csv.DictReader, rated: bool) -> Iterator[ProfileRow]:
    for line, row in enumerate(reader, start=2):
        kind_text = (row.get("Title Type") or "").strip().lower()
        media = "show" if kind_text in IMDB_SHOW_TYPES else "movie" if kind_text in IMDB_MOVIE_TYPES else None
        imdb_id = (row.get("Const") or "").strip()
        yield ProfileRow(
            kind="rating" if rated else "watchlist", source="imdb", name=(row.get("Title") or "").strip() or None,
            year=_int(row.get("Year")), media_type=media if media else (kind_text or None),
            imdb_id=imdb_id if _IMDB_ID.match(imdb_id) else None,
            rating=_rating(row.get("Your Rating"), 1.0) if rated else None,
            when=(row.get("Date Rated") or row.get("Created") or "").strip() or None, where=f"{name} line {line}",
        )


def _letterboxd_rows(name: str, reader: csv.DictReader, kind: str) -> Iterator[ProfileRow]:
    for line, row in enumerate(reader, start=2):
        yield ProfileRow(
            kind=kind, source="letterboxd", name=(row.get("Name") or "").strip() or None, year=_int(row.get("Year")),
            media_type="movie", rating=_rating(row.get("Rating"), 2.0) if kind == "rating" else None,
            when=(row.get("Watched Date") or row.get("Date") or "").strip() or None, where=f"{name} line {line}",
        )


def _int(text: Any) -> int | None:
    try:
        return int(str(text).strip()[:4])
    except (TypeError, ValueError):
        return None


def _rating(text: Any, scale: float) -> float | None:
    """A rating on 1-10 (Letterboxd's 0.5-5 stars times 2); None when missing or out of range."""
    try:
        value = float(str(text).strip()) * scale
    except (TypeError, ValueError):
        return None
    return min(10.0, max(1.0, value)) if 0 < value <= 10 else None


# ---- matching --------------------------------------------------------------------------------------


class ProfileMatcher:
    """Matches profile rows to catalogue titles: Trakt, IMDb or TMDB id first, then name and year."""

    def __init__(self, rows: Iterable[Mapping[str, Any]]):
        self.by_trakt: dict[tuple[str, int], str] = {}
        self.by_imdb: dict[str, str] = {}
        self.by_tmdb: dict[tuple[str, int], str] = {}
        self.by_name: dict[str, list[tuple[str, int | None, str]]] = {}  # key -> (title_id, year, media)
        self.by_year: dict[int | None, list[tuple[str, str, str]]] = {}  # year -> (key, title_id, media)
        self.known: set[str] = set()
        for row in rows:
            title_id, media, year = row["title_id"], row.get("media_type") or "movie", _int(row.get("year"))
            self.known.add(title_id)
            if row.get("trakt_id") is not None:
                self.by_trakt.setdefault((media, int(row["trakt_id"])), title_id)
            if row.get("imdb_id"):
                self.by_imdb.setdefault(row["imdb_id"], title_id)
            if row.get("tmdb_id") is not None:
                self.by_tmdb.setdefault((media, int(row["tmdb_id"])), title_id)
            for name in dict.fromkeys(filter(None, (row.get("title"), row.get("original_title")))):
                key = name_key(name)
                if key:
                    self.by_name.setdefault(key, []).append((title_id, year, media))
                    self.by_year.setdefault(year, []).append((key, title_id, media))

    def match(self, rows: Sequence[ProfileRow], source: str) -> Profile:
        """The profile these rows make: matched entries and the unmatched rows with reasons."""
        entries, unmatched = [], []
        for row in rows:
            found = self.match_row(row)
            if isinstance(found, Unmatched):
                unmatched.append(found)
            else:
                entries.append(ProfileEntry(found, row.kind, row.rating, row.when))
        return Profile(source, tuple(entries), tuple(unmatched))

    def match_row(self, row: ProfileRow) -> str | Unmatched:
        """The catalogue id of one row, or why there is none."""
        if row.media_type not in (None, "movie", "show"):
            what = "an episode: rate or pick the show instead" if "episode" in row.media_type else \
                f"a {row.media_type}, not a movie or show"
            return Unmatched(row, f"{what}")
        if row.title_id:
            return row.title_id if row.title_id in self.known else Unmatched(row, "no title with this id in the catalogue")
        media = row.media_type
        for kind in ((media,) if media else ("movie", "show")):
            if row.trakt_id is not None and (kind, row.trakt_id) in self.by_trakt:
                return self.by_trakt[(kind, row.trakt_id)]
            if row.tmdb_id is not None and (kind, row.tmdb_id) in self.by_tmdb:
                return self.by_tmdb[(kind, row.tmdb_id)]
        if row.imdb_id and row.imdb_id in self.by_imdb:
            return self.by_imdb[row.imdb_id]
        if not row.name:
            return Unmatched(row, "no title with its ids in the catalogue, and the row has no name to match")
        by_id = f"no title with IMDb id {row.imdb_id} in the catalogue; " if row.imdb_id else ""
        return self._by_name(row, by_id)

    def _by_name(self, row: ProfileRow, by_id: str) -> str | Unmatched:
        key = name_key(row.name or "")
        exact = [c for c in self.by_name.get(key, ()) if _year_fits(c[1], row.year)]
        exact = _prefer(exact, row.media_type, lambda c: c[2], lambda c: c[1] == row.year)
        if len(exact) == 1:
            return exact[0][0]
        if len(exact) > 1:
            ids = ", ".join(c[0] for c in exact[:3])
            return Unmatched(row, f"{by_id}{len(exact)} catalogue titles are called {row.label()!r} ({ids}); pick one by hand")
        if row.year is None:
            return Unmatched(row, f"{by_id}no catalogue title is called {row.name!r} and the row has no year to match by")
        pool = [c for y in (row.year - 1, row.year, row.year + 1) for c in self.by_year.get(y, ())]
        pool = [c for c in pool if not row.media_type or c[2] == row.media_type] or pool
        hits = process.extract(key, [c[0] for c in pool], scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=3)
        if hits:
            best = [h for h in hits if h[1] == hits[0][1]]
            ids = list(dict.fromkeys(pool[h[2]][1] for h in best))
            if len(ids) == 1:
                return ids[0]
            return Unmatched(row, f"{by_id}{len(ids)} catalogue titles are as close to {row.label()!r}; pick one by hand")
        return Unmatched(row, f"{by_id}no catalogue title from {row.year - 1}-{row.year + 1} is called like {row.name!r}")


def name_key(name: str) -> str:
    """The search's fuzzy key without accents ("Amélie" and "Amelie" are one name in exports)."""
    decomposed = unicodedata.normalize("NFKD", fuzzy_key(name))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _year_fits(year: int | None, wanted: int | None) -> bool:
    return wanted is None or (year is not None and abs(year - wanted) <= 1)


def _prefer(items: list, media: str | None, media_of, exact_year) -> list:
    """Narrow ties: the wanted media type, then the exact year, when that leaves something."""
    if media:
        items = [c for c in items if media_of(c) == media] or items
    return [c for c in items if exact_year(c)] or items


MATCH_COLUMNS = ("title_id", "title", "original_title", "year", "media_type", "imdb_id", "tmdb_id", "trakt_id")
"""The catalogue columns a ProfileMatcher is built from (Catalog.frame_rows)."""
