"""The real demo loaders on the real demo data (cached download), plus malformed and null rows."""

from __future__ import annotations

import csv
import io
import logging
import zipfile

import pytest

from flixrec.catalog import Catalog
from flixrec.index import VectorIndex
from ingest.__main__ import main as ingest_main
from ingest.build import embed_catalogue, load_demo
from ingest.demo import NPM_MISSING, TMDB_CREDITS, TMDB_MOVIES, TMDB_WHEEL, parse_anime, parse_tmdb
from ingest.errors import IndexDimensionMismatch, IngestError

from conftest import SHARED_DOWNLOADS, make_settings

# Reads the downloaded demo packages (the fast tier skips it).
pytestmark = pytest.mark.demo


def test_tmdb_demo_has_every_movie_with_people_and_float_ratings(demo_reports):
    report = demo_reports["tmdb5000"]
    assert len(report.titles) == 4803 and report.skipped == []
    by_id = {t.title_id: t for t in report.titles}
    avatar = by_id["tmdb-movie-19995"]
    assert avatar.title == "Avatar" and avatar.year == 2009 and avatar.runtime == 162
    assert isinstance(avatar.rating, float) and avatar.rating == 7.2
    assert "James Cameron" in avatar.directors and avatar.cast[0] == "Sam Worthington"
    assert avatar.writers == ["James Cameron"] and ("James Horner", "Original Music Composer") in avatar.crew
    assert {"Action", "Science Fiction"} <= set(avatar.genres) and "space war" in avatar.keywords
    # the rows FlixRec crashed on: empty or zero runtime is unknown, not 0
    assert by_id["tmdb-movie-370980"].runtime is None
    assert by_id["tmdb-movie-53953"].runtime is None


def test_anime_demo_is_multilingual_with_shows_and_films(demo_reports):
    report = demo_reports["bgmd"]
    assert len(report.titles) == 8658 and report.skipped == []
    kinds = {t.media_type for t in report.titles}
    assert kinds == {"movie", "show"}
    titan = next(t for t in report.titles if t.title == "Attack on Titan")
    assert titan.original_title == "進撃の巨人" and "进击的巨人" in titan.aliases
    assert titan.language == "ja" and "Animation" in titan.genres
    assert titan.rating is None and titan.votes is None and titan.runtime is None
    # a record with no English alias is shown by its Latin original name, not its Chinese one (kept as an alias)
    by_id = {t.title_id: t for t in report.titles}
    assert by_id["bgm-839"].title == "PERFECT BLUE" and "蓝色恐惧" in by_id["bgm-839"].aliases
    assert by_id["bgm-975"].title == "ONE PIECE" and "航海王" in by_id["bgm-975"].aliases


def _tmdb_text() -> tuple[str, str]:
    with zipfile.ZipFile(SHARED_DOWNLOADS / TMDB_WHEEL) as archive:
        return archive.read(TMDB_MOVIES).decode(), archive.read(TMDB_CREDITS).decode()


def test_malformed_and_null_rows_are_skipped_with_a_reason_and_nothing_else_lost():
    movies, credits = _tmdb_text()
    rows = list(csv.DictReader(io.StringIO(movies)))[:50]
    rows[3]["genres"] = "[{not json"  # malformed
    rows[7]["id"] = ""  # no id
    rows[9]["runtime"] = ""  # null runtime: kept
    rows[11]["release_date"] = ""  # null date: kept
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    report = parse_tmdb(out.getvalue(), credits)
    assert len(report.titles) == 48 and len(report.skipped) == 2
    assert all("movies.csv line" in reason for reason in report.skipped)
    by_id = {t.tmdb_id: t for t in report.titles}
    assert by_id[int(rows[9]["id"])].runtime is None
    assert by_id[int(rows[11]["id"])].year is None


def test_malformed_anime_entries_are_skipped():
    payload = {"bangumis": [{"id": 1, "name": "ok", "alias": [], "summary": "", "type": "tv", "air_date": ""},
                            {"name": "no id"}, "not even a dict", {"id": 2, "name": "", "alias": []}]}
    report = parse_anime(payload)
    assert [t.title_id for t in report.titles] == ["bgm-1"] and len(report.skipped) == 3


def test_ingest_demo_cli_twice_changes_nothing_the_second_time(tmp_path, monkeypatch, capsys, caplog):
    settings = make_settings(tmp_path)
    monkeypatch.setenv("FLIXREC_HOME", str(tmp_path))
    monkeypatch.setenv("FLIXREC_DOWNLOADS", str(SHARED_DOWNLOADS))
    assert ingest_main(["-q", "demo"]) == 0
    first = capsys.readouterr().out
    assert "tmdb5000: 4803 new" in first and "bgmd: 8658 new" in first
    catalog = Catalog.open(settings.database_url)
    before = {t.title_id: t.record_hash for t in catalog.iter_titles()}
    with caplog.at_level(logging.WARNING):
        assert ingest_main(["-q", "demo"]) == 0
    second = capsys.readouterr().out
    assert "tmdb5000: 0 new, 0 updated, 4803 unchanged" in second
    assert "bgmd: 0 new, 0 updated, 8658 unchanged" in second
    assert {t.title_id: t.record_hash for t in catalog.iter_titles()} == before


# ---- the build workflows the CLI and the app's button share ------------------------------------------------


def _small_tmdb_wheel(downloads, broken_rows: int = 1):
    """A TMDB wheel with the first 30 movies of the real one, `broken_rows` of them malformed."""
    movies, credits = _tmdb_text()
    rows = list(csv.DictReader(io.StringIO(movies)))[:30]
    for row in rows[:broken_rows]:
        row["genres"] = "[{not json"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    downloads.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(downloads / TMDB_WHEEL, "w") as archive:
        archive.writestr(TMDB_MOVIES, out.getvalue())
        archive.writestr(TMDB_CREDITS, credits)


def test_load_demo_reports_progress_skipped_rows_and_a_missing_npm(tmp_path, monkeypatch):
    _small_tmdb_wheel(tmp_path / "downloads")
    monkeypatch.setenv("PATH", str(tmp_path / "no-npm-here"))
    settings = make_settings(tmp_path / "home", FLIXREC_DOWNLOADS=str(tmp_path / "downloads"))
    steps, notes = [], []
    summary = load_demo(settings, lambda *step: steps.append(step), notes.append)
    assert steps[0] == ("demo tmdb5000", 0, 29) and steps[-1] == ("demo tmdb5000", 29, 29)
    assert [s.line() for s in summary.sources] == ["tmdb5000: 29 new, 0 updated, 0 unchanged, 1 skipped"]
    assert summary.catalogue_titles == 29 and summary.new == 29
    assert notes[0].startswith("tmdb5000: skipped a malformed row: movies.csv line 2: JSONDecodeError")
    assert notes[1] == NPM_MISSING and "npm is not available here, so the anime part is skipped" in notes[1]
    assert load_demo(settings).lines() == ["tmdb5000: 0 new, 0 updated, 29 unchanged, 1 skipped"]


def test_embed_catalogue_embeds_only_what_changed_and_refuses_another_dimension(tmp_path, demo_reports, capsys,
                                                                                monkeypatch):
    settings = make_settings(tmp_path, "all-MiniLM-L6-v2")
    with pytest.raises(IngestError, match="the catalogue is empty"):
        embed_catalogue(settings)
    Catalog.open(settings.database_url).upsert_titles(demo_reports["tmdb5000"].titles[:12])
    steps = []
    first = embed_catalogue(settings, lambda *step: steps.append(step))
    assert steps[0] == ("embed all-MiniLM-L6-v2", 0, 12) and steps[-1] == ("embed all-MiniLM-L6-v2", 12, 12)
    assert (first.build.embedded, first.vectors, first.collection) == (12, 12, "titles-all-minilm-l6-v2")
    again = embed_catalogue(settings)
    assert (again.build.embedded, again.build.unchanged) == (0, 12)

    other = make_settings(tmp_path / "other", "all-MiniLM-L6-v2")
    Catalog.open(other.database_url).upsert_titles(demo_reports["tmdb5000"].titles[:2])
    VectorIndex.open(other.index_dir, other.model, dimension=7, create=True)
    with pytest.raises(IndexDimensionMismatch) as mismatch:
        embed_catalogue(other)
    assert (mismatch.value.index_dimension, mismatch.value.model_dimension) == (7, 384)
    assert "delete" in str(mismatch.value) and mismatch.value.path == other.index_dir
    monkeypatch.setenv("FLIXREC_HOME", str(other.home))
    monkeypatch.setenv("FLIXREC_MODEL", other.model)
    assert ingest_main(["-q", "embed", "--workers", "1"]) == 2
    assert "\nerror: the index for 'all-MiniLM-L6-v2' holds 7-dim vectors" in "\n" + capsys.readouterr().err


def test_ingest_build_demo_rejects_bad_numbers_before_doing_anything(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FLIXREC_HOME", str(tmp_path / "home"))
    with pytest.raises(SystemExit) as exited:
        ingest_main(["build-demo", "--batch-size", "0"])
    assert exited.value.code == 2 and "argument --batch-size: '0' is not a positive whole number" in capsys.readouterr().err
    assert not (tmp_path / "home").exists()


# ---- one title per work ------------------------------------------------------------------------------------


def test_anime_media_type_follows_tmdb_and_both_summaries_are_kept(demo_reports):
    anime = {t.title_id: t for t in demo_reports["bgmd"].titles}
    star_wars = anime["bgm-60402"]  # filed as "tv" by bangumi, a film by TMDB
    assert star_wars.media_type == "movie" and star_wars.links()["TMDB"] == "https://www.themoviedb.org/movie/11"
    sonic = anime["bgm-144637"]  # TMDB *tv* 62211, not the film 62211 (Monsters University)
    assert sonic.media_type == "show" and sonic.links()["TMDB"] == "https://www.themoviedb.org/tv/62211"
    assert sum(1 for t in anime.values() if t.overviews and len(t.overviews) == 2) > 1000


def test_the_demo_catalogue_holds_each_work_once(demo_reports, catalog):
    from flixrec.search import TitleSearch

    for source in ("bgmd", "tmdb5000"):  # the anime first: the order does not matter
        titles = demo_reports[source].titles
        for start in range(0, len(titles), 1000):
            catalog.upsert_titles(titles[start : start + 1000])
    assert catalog.count() == 4803 + 8658 - 16
    holders: dict[tuple[str, int], set[str]] = {}
    for title in catalog.iter_titles():
        if title.tmdb_id is not None:
            holders.setdefault((title.tmdb_kind, title.tmdb_id), set()).add(title.source)
    assert all(len(sources) == 1 for sources in holders.values())  # no TMDB id on titles of two sources
    spirited = [m for m in TitleSearch(catalog).search_titles("千と千尋の神隠し") if m.kind == "exact"]
    assert [m.title.title_id for m in spirited] == ["tmdb-movie-129"]
    title = catalog.get_title("bgm-311")
    assert title.title_id == "tmdb-movie-129" and title.directors == ["Hayao Miyazaki"]
    assert [lang for lang, _ in title.overviews][:2] == ["en", "zh"] and "千与千寻" in title.aliases
    assert catalog.get_title("bgm-60402").title_id == "tmdb-movie-11"
    assert catalog.get_title("bgm-144637").title_id == "bgm-144637"
