"""The real demo loaders on the real demo data (cached download), plus malformed and null rows."""

from __future__ import annotations

import csv
import io
import logging
import zipfile

import pytest

from flixrec.catalog import Catalog
from ingest.__main__ import main as ingest_main
from ingest.demo import TMDB_CREDITS, TMDB_MOVIES, TMDB_WHEEL, parse_anime, parse_tmdb

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
