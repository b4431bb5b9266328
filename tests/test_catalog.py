"""The catalogue on a real SQLite file: idempotent upserts, people, checkpoints, nulls."""

from __future__ import annotations

import dataclasses
import sqlite3

import pytest
import sqlalchemy as sa

from flixrec.catalog import Catalog
from flixrec.errors import TitleNotFound
from flixrec.models import Person, Title


def movie(n: int, **changes) -> Title:
    base = Title(
        title_id=f"test-movie-{n}", media_type="movie", title=f"Movie {n}", source="test",
        overview=f"Overview {n}", genres=("Drama",), year=2000 + n, runtime=90, rating=7.25, votes=100 + n,
        people=(Person(f"p-{n}", f"Director {n}", "director"), Person("p-shared", "Shared Actor", "cast", 0, "Hero")),
    )
    return dataclasses.replace(base, **changes)


def test_upsert_is_idempotent_and_counts_what_changed(any_catalog: Catalog):
    catalog = any_catalog
    first = catalog.upsert_titles([movie(1), movie(2)])
    assert (first.new, first.updated, first.unchanged) == (2, 0, 0)
    again = catalog.upsert_titles([movie(1), movie(2)])
    assert (again.new, again.updated, again.unchanged) == (0, 0, 2)
    changed = catalog.upsert_titles([movie(1, votes=999), movie(2)])
    assert (changed.new, changed.updated, changed.unchanged) == (0, 1, 1)
    assert catalog.get_title("test-movie-1").votes == 999
    assert catalog.count() == 2


def test_rating_is_a_float_and_nulls_round_trip(any_catalog: Catalog):
    catalog = any_catalog
    catalog.upsert_titles([movie(1), movie(3, runtime=None, year=None, rating=None, votes=None, overview=None)])
    assert catalog.get_title("test-movie-1").rating == pytest.approx(7.25)
    blank = catalog.get_title("test-movie-3")
    assert (blank.runtime, blank.year, blank.rating, blank.votes, blank.overview) == (None, None, None, None, None)


def test_people_live_in_their_own_table_and_are_replaced_on_update(any_catalog: Catalog):
    catalog = any_catalog
    catalog.upsert_titles([movie(1), movie(2)])
    title = catalog.get_title("test-movie-1")
    assert title.directors == ["Director 1"] and title.cast == ["Shared Actor"]
    with catalog.engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from people")).scalar_one() == 3  # shared actor once
    catalog.upsert_titles([movie(1, people=(Person("p-new", "New Director", "director"),))])
    assert catalog.get_title("test-movie-1").directors == ["New Director"]
    assert catalog.get_title("test-movie-1").cast == []


def test_content_hash_changes_only_with_embedded_text():
    assert movie(1).content_hash == movie(1, votes=5).content_hash
    assert movie(1).record_hash != movie(1, votes=5).record_hash
    assert movie(1).content_hash != movie(1, overview="Other").content_hash


def test_checkpoint_commits_with_the_titles_or_not_at_all(any_catalog: Catalog):
    catalog = any_catalog
    catalog.upsert_titles([movie(1)], state={"crawl:a": {"page": 1}})
    assert catalog.get_state("crawl:a") == {"page": 1}
    with pytest.raises(TypeError):  # a non-JSON checkpoint aborts the whole transaction
        catalog.upsert_titles([movie(2)], state={"crawl:a": {"page": object()}})
    assert catalog.find_title("test-movie-2") is None
    assert catalog.get_state("crawl:a") == {"page": 1}
    assert catalog.states("crawl:") == {"crawl:a": {"page": 1}}


def test_unknown_id_raises_title_not_found(any_catalog: Catalog):
    catalog = any_catalog
    with pytest.raises(TitleNotFound, match="nope"):
        catalog.get_title("nope")
    assert catalog.find_title("nope") is None


def test_iter_titles_pages_through_everything_in_id_order(any_catalog: Catalog):
    catalog = any_catalog
    catalog.upsert_titles([movie(n) for n in range(25)])
    ids = [t.title_id for t in catalog.iter_titles(batch_size=7)]
    assert ids == sorted(f"test-movie-{n}" for n in range(25))


def test_delete_titles_removes_rows_and_credits(any_catalog: Catalog):
    catalog = any_catalog
    catalog.upsert_titles([movie(1), movie(2)])
    assert catalog.delete_titles(["test-movie-1", "missing"]) == 1
    assert catalog.count() == 1
    with catalog.engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from credits where title_id='test-movie-1'")).scalar_one() == 0


def test_file_catalogue_persists_across_connections(tmp_path):
    url = f"sqlite:///{tmp_path / 'nested' / 'cat.sqlite3'}"
    Catalog.open(url).upsert_titles([movie(1)])
    assert Catalog.open(url).get_title("test-movie-1").title == "Movie 1"


def test_an_older_catalogue_is_read_without_the_new_columns_and_upgraded_when_opened_to_write(tmp_path):
    path = tmp_path / "old.sqlite3"
    catalog = Catalog.open(f"sqlite:///{path}")
    title = Title("trakt-movie-1", "movie", "New", "trakt", certification="R", languages=("en", "es"),
                  subgenres=("heist",), poster_url="https://walter-r2.trakt.tv/p.jpg", after_credits=True,
                  people=(Person("trakt-person-1", "Writer", "writer", 0, None, "Novel"),))
    catalog.engine.dispose()
    with sqlite3.connect(path) as conn:  # the schema before issue 15
        conn.execute("DROP INDEX IF EXISTS ix_titles_certification")
        for column in ("certification", "subgenres", "languages", "available_translations", "trailer", "homepage",
                       "poster_url", "tvdb_id", "plex_guid", "source_updated_at", "airs", "after_credits",
                       "during_credits"):
            conn.execute(f"ALTER TABLE titles DROP COLUMN {column}")
        conn.execute("ALTER TABLE credits DROP COLUMN job")
        conn.execute("ALTER TABLE credits DROP COLUMN episode_count")
        conn.execute("INSERT INTO titles (title_id, media_type, title, source, aliases, genres, keywords, year, "
                     "content_hash, record_hash, updated_at) VALUES ('m1', 'movie', 'Old', 'demo', '[]', '[]', "
                     "'[]', 1999, 'c', 'r', '2026-01-01 00:00:00')")
    reader = Catalog.open(f"sqlite:///{path}", create=False)
    assert reader.get_title("m1").title == "Old" and reader.get_title("m1").certification is None
    assert reader.frame_rows(["title_id", "certification"]) == [{"title_id": "m1", "certification": None}]
    writer = Catalog.open(f"sqlite:///{path}")
    writer.upsert_titles([title])
    assert writer.get_title(title.title_id) == title
