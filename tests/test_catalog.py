"""The catalogue on a real SQLite file: idempotent upserts, people, checkpoints, nulls."""

from __future__ import annotations

import datetime as dt

import dataclasses
import sqlite3

import hypothesis
import pytest
import sqlalchemy as sa
from hypothesis import strategies as st

from flixrec.catalog import (
    Catalog,
    title_to_row,
    credits_table,
    people_table,
    sync_state_table,
    titles_table,
    utcnow,
)
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
    written = catalog.states("crawl:", column="updated_at")["crawl:a"]  # when the run last committed
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert isinstance(written, dt.datetime) and abs(written.replace(tzinfo=None) - now) < dt.timedelta(minutes=5)


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


# ---- one title per work ----------------------------------------------------------------------------------


def _work_records():
    from test_works import anime, tmdb_film, trakt

    film = tmdb_film(129, "Spirited Away", 2001, original_title="千と千尋の神隠し")
    entry = anime(311, "Spirited Away", 2001, 129, original_title="千と千尋の神隠し", aliases=("千与千寻",))
    other = anime(144637, "Sonic Boom", 2014, 62211, media_type="show")
    colliding = dataclasses.replace(film, title_id="tmdb-movie-62211", title="Monsters University",
                                    original_title=None, tmdb_id=62211, year=2013)
    return film, entry, other, colliding, trakt(199, "Spirited Away", 2001, tmdb_id=129, overview=None)


def _snapshot(catalog: Catalog) -> dict[str, Title]:
    return {t.title_id: t for t in catalog.iter_titles(with_people=True)}


def test_a_work_from_two_sources_is_one_title_found_by_either_id_and_name(any_catalog: Catalog):
    catalog = any_catalog
    film, entry, other, colliding, _ = _work_records()
    counts = catalog.upsert_titles([entry, other, colliding, film])
    assert (counts.new, counts.updated, counts.unchanged) == (4, 0, 0)  # per source record
    assert catalog.count() == 3 and set(_snapshot(catalog)) == {"tmdb-movie-129", "bgm-144637", "tmdb-movie-62211"}
    merged = catalog.get_title("bgm-311")  # the anime's own id still resolves
    assert merged == catalog.get_title("tmdb-movie-129") and merged.title_id == "tmdb-movie-129"
    assert catalog.find_titles(["bgm-311"])["bgm-311"].title_id == "tmdb-movie-129"
    assert catalog.current_title_id("bgm-311") == "tmdb-movie-129" == catalog.current_title_id("tmdb-movie-129")
    assert merged.overviews == (("en", film.overview), ("zh", entry.overview)) and merged.overview == film.overview
    assert {"千と千尋の神隠し", "千与千寻"} <= {merged.original_title, *merged.aliases}
    assert merged.directors == ["Hayao Miyazaki"] and merged.links()["TMDB"].endswith("/movie/129")
    names = {title_id: (title, original, aliases) for title_id, title, original, aliases in catalog.iter_names()}
    assert "bgm-311" not in names and "千与千寻" in names["tmdb-movie-129"][2]
    assert catalog.find_records(["bgm-311"])["bgm-311"] == entry  # each source's record is kept as given


def test_merging_is_idempotent_order_independent_and_the_same_on_re_ingest(any_catalog: Catalog, tmp_path):
    catalog = any_catalog
    records = list(_work_records())
    catalog.upsert_titles(records)
    first = _snapshot(catalog)
    again = catalog.upsert_titles(records)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 5) and _snapshot(catalog) == first
    for order in (records[::-1], records[1::2] + records[::2]):
        other = Catalog.open(f"sqlite:///{tmp_path / f'order-{len(order)}-{order[0].title_id}.sqlite3'}")
        for record in order:  # one record per transaction: every intermediate state regrouped
            other.upsert_titles([record])
        assert _snapshot(other) == first
        other.engine.dispose()
    assert first["trakt-movie-199"].overview == records[0].overview  # Trakt has none: the next source's


def test_an_update_of_one_source_replaces_its_contribution(any_catalog: Catalog):
    catalog = any_catalog
    film, entry, *_ = _work_records()
    catalog.upsert_titles([film, entry])
    renamed = dataclasses.replace(entry, aliases=("千与千寻 (新)",), overview="新的简介。")
    counts = catalog.upsert_titles([renamed])
    assert (counts.new, counts.updated, counts.unchanged) == (0, 1, 0)
    merged = catalog.get_title("tmdb-movie-129")
    assert "千与千寻" not in merged.aliases and "千与千寻 (新)" in merged.aliases
    assert [text for _, text in merged.overviews] == [film.overview, "新的简介。"]
    moved = dataclasses.replace(entry, tmdb_id=None, year=1999, title="Another film", original_title=None, aliases=())
    catalog.upsert_titles([moved])  # the anime no longer claims the film: two titles again
    assert catalog.count() == 2 and catalog.get_title("bgm-311").title == "Another film"
    assert catalog.get_title("tmdb-movie-129").aliases == ()


def test_regrouping_follows_only_keys_two_sources_share(any_catalog: Catalog):
    """Many records of one source under one name and year (they never merge) cost a new one nothing to join."""
    from flixrec import title_sources
    from test_works import anime, tmdb_film

    catalog = any_catalog
    namesakes = [tmdb_film(1000 + i, "Hamlet", 2000) for i in range(40)]
    catalog.upsert_titles(namesakes)
    assert catalog.count() == 40  # one source: namesakes stay apart
    with catalog._connect() as conn:
        assert title_sources.reach(conn, ["tmdb-movie-1000"], ["name:movie:2000:hamlet"]) == {
            "tmdb-movie-1000": "tmdb-movie-1000"}
    catalog.upsert_titles([anime(77, "Hamlet", 2000, 1003)])  # another source: it joins the one it names
    assert catalog.count() == 40 and catalog.current_title_id("bgm-77") == "tmdb-movie-1003"


def test_a_trakt_record_merges_into_the_demo_title_and_takes_the_lead(any_catalog: Catalog):
    catalog = any_catalog
    film, entry, *_, from_trakt = _work_records()
    catalog.upsert_titles([film, entry])
    assert catalog.upsert_titles([from_trakt]).new == 1
    assert catalog.count() == 1
    merged = catalog.get_title("trakt-movie-199")
    assert catalog.get_title("tmdb-movie-129") == merged == catalog.get_title("bgm-311")  # old ids keep working
    assert (merged.trakt_id, merged.tmdb_id, merged.imdb_id, merged.source) == (199, 129, "tt0000199", "trakt")
    assert merged.votes == from_trakt.votes and merged.people == film.people
    assert set(merged.links()) == {"Trakt", "IMDb", "TMDB"}
    assert catalog.delete_titles(["bgm-311"]) == 1 and catalog.count() == 0  # the whole work goes
    assert catalog.find_title("tmdb-movie-129") is None and catalog.find_records(["bgm-311"]) == {}


def test_a_catalogue_written_before_merging_is_adopted_and_merged(tmp_path):
    film, entry, other, *_ = _work_records()
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = sa.create_engine(url)
    old = sa.MetaData()
    columns = [sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
               for c in titles_table.columns if c.name != "overviews"]
    sa.Table("titles", old, *columns)
    for table in (people_table, credits_table, sync_state_table):
        table.to_metadata(old)
    old.create_all(engine)
    with engine.begin() as conn:
        rows = [title_to_row(t, utcnow()) for t in (film, entry, other)]
        conn.execute(old.tables["titles"].insert(), [{k: v for k, v in r.items() if k != "overviews"} for r in rows])
        Catalog._write_people(conn, [film, entry, other])
    engine.dispose()
    reader = Catalog.open(url, create=False)  # the app reads an old catalogue as it is
    assert reader.count() == 3 and reader.get_title("bgm-311").title_id == "bgm-311"
    catalog = Catalog.open(url)
    assert catalog.count() == 2 and catalog.get_title("bgm-311").title_id == "tmdb-movie-129"
    assert catalog.upsert_titles([film, entry, other]).unchanged == 3


def test_incremental_merging_equals_merging_everything_at_once(tmp_path):
    import random

    from flixrec.works import merge_groups

    def record(rnd: random.Random, source: str, n: int) -> Title:
        return Title(f"{source}-{n}", rnd.choice(["movie", "show"]), rnd.choice(["Alpha", "Beta", "Gamma"]), source,
                     year=rnd.choice([None, 2000, 2001, 2003]), tmdb_id=rnd.choice([None, 1, 2, 3]),
                     imdb_id=rnd.choice([None, "tt1", "tt2"]) if source == "trakt" else None,
                     overview=f"{source} {n}")

    for seed in range(4):
        rnd = random.Random(seed)
        records = [record(rnd, source, n) for source in ("trakt", "tmdb5000", "bgmd") for n in range(12)]
        updates = [dataclasses.replace(r, tmdb_id=rnd.choice([None, 1, 2]), year=2001) for r in rnd.sample(records, 8)]
        final = {r.title_id: r for r in [*records, *updates]}
        expected = {title.title_id: title for title, _ in merge_groups(final.values())}
        catalog = Catalog.open(f"sqlite:///{tmp_path / f'random-{seed}.sqlite3'}")
        stream = rnd.sample(records, len(records)) + updates
        for start in range(0, len(stream), 5):
            catalog.upsert_titles(stream[start : start + 5])
        assert _snapshot(catalog) == expected
        assert all(catalog.get_title(rid).title_id in expected for rid in final)
        assert catalog.upsert_titles(final.values()).unchanged == len(final)
        catalog.engine.dispose()


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


# ---- the lone-record fast path -------------------------------------------------------------------------------


def _mixed_record(source: str, n: int, shape: tuple) -> Title:
    """A record of `source` whose ids, name and year come from `shape` (few values: records collide often)."""
    media, name, year, tmdb_id, imdb, with_people = shape
    return Title(f"{source}-{n}", media, name, source, year=year, tmdb_id=tmdb_id,
                 imdb_id=imdb if source == "trakt" else None, overview=f"{source} {n} {name}",
                 people=(Person(f"p-{source}-{n}", "Someone", "director"),) if with_people else ())


def _state(catalog: Catalog) -> tuple[dict[str, Title], dict[str, str], dict[str, Title]]:
    """Everything an upsert decides: the titles (with people), each record's title and the records."""
    from flixrec.title_sources import title_sources_table as sources

    with catalog.engine.connect() as conn:
        owners = dict(conn.execute(sa.select(sources.c.record_id, sources.c.title_id)).tuples().all())
    return _snapshot(catalog), owners, {r.title_id: r for r in catalog.iter_records()}


def _both_ways(tmp_path, batches: list[list[Title]]) -> None:
    """Upsert the batches into a catalogue with the lone-record fast path and one without: after every batch both
    hold the same."""
    fast, slow = (Catalog.open(f"sqlite:///{tmp_path / f'{name}.sqlite3'}") for name in ("fast", "slow"))
    slow.skip_lone_records = False
    for batch in batches:
        assert fast.upsert_titles(batch) == slow.upsert_titles(batch)
        assert _state(fast) == _state(slow)
    fast.engine.dispose()
    slow.engine.dispose()


def test_lone_records_are_written_as_regrouping_would_write_them(tmp_path, monkeypatch):
    """Table cases: a lone record, one a later source joins, one a change makes lone again, one that lost its
    rival, a record merged away that changes; each gives what the slow path (regroup everything reached) gives."""
    from flixrec import title_sources
    from test_works import anime, tmdb_film, trakt

    lone = trakt(1, "Only Here", 1999)
    film = tmdb_film(7, "Shared", 2005)
    joined = trakt(2, "Shared", 2005, tmdb_id=7)
    batches = [
        [lone, film],
        [joined, anime(9, "Elsewhere", 2010, None)],
        [dataclasses.replace(joined, tmdb_id=None, title="Parted", year=2007, imdb_id=None)],  # leaves the work
        [dataclasses.replace(lone, votes=1)],
        [dataclasses.replace(film, title="Parted", year=2007), dataclasses.replace(lone, tmdb_id=7, year=2005)],
    ]
    taken = []
    original = title_sources.alone
    monkeypatch.setattr(title_sources, "alone", lambda *a: taken.append(original(*a)) or taken[-1])
    _both_ways(tmp_path, batches)
    assert "trakt-movie-1" in taken[0] and "tmdb-movie-7" in taken[0]  # the fast path was taken...
    assert "trakt-movie-2" not in taken[1]  # ...and not for a record sharing an id with another source


@hypothesis.given(st.lists(st.lists(st.tuples(
    st.sampled_from(["trakt", "tmdb5000", "bgmd"]), st.integers(0, 5),
    st.tuples(st.sampled_from(["movie", "show"]), st.sampled_from(["Alpha", "Beta", "Gamma Solo"]),
              st.sampled_from([None, 2000, 2001, 2003]), st.sampled_from([None, 1, 2]),
              st.sampled_from([None, "tt1", "tt2"]), st.booleans())), min_size=1, max_size=6), min_size=1, max_size=5))
@hypothesis.settings(max_examples=25, deadline=None)
def test_the_lone_record_fast_path_gives_what_regrouping_gives(batches):
    """Mixed-source batches (new records, updates, ids and names colliding or not): same titles, same owners."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        _both_ways(Path(tmp), [[_mixed_record(source, n, shape) for source, n, shape in batch] for batch in batches])


def test_json_columns_read_fast_json_and_what_python_wrote():
    """orjson reads the columns; NaN/Infinity literals (the standard library's writing) still read."""
    import math

    from flixrec.database import read_json

    assert read_json('{"genres": ["Drama"], "n": 1.5}') == {"genres": ["Drama"], "n": 1.5}
    assert read_json(b'["a"]') == ["a"]
    value = read_json('[NaN, Infinity, "x"]')
    assert math.isnan(value[0]) and value[1] == math.inf and value[2] == "x"
