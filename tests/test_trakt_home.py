"""A home crawled from the fake Trakt, end to end: crawl, people, index build, and the service's filters on
the kept fields (certification, spoken languages) through Chroma's metadata, the snapshot files and the
Explore table."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_settings
from fake_trakt import FakeTrakt

from flixrec.catalog import Catalog
from flixrec.index import VectorIndex
from flixrec.index.store import snapshot_from_chroma
from flixrec.models import Filters
from flixrec.service import FlixRec
from ingest.embed import build_index
from ingest.trakt.client import TraktClient
from ingest.trakt.crawl import run_crawl, search_plan
from ingest.trakt.mapping import to_title
from ingest.trakt.people import crawl_people

pytestmark = pytest.mark.slow  # a crawl, an embed and a service over them: ~30 s

KEY = "fake-client-id"
MODEL = "all-MiniLM-L6-v2"


@pytest.fixture
def fake_small():
    """59 movies and 12 shows."""
    with FakeTrakt(movies=59, shows=12, client_id=KEY) as fake:
        yield fake


@pytest.fixture(scope="module")
def trakt_app(tmp_path_factory, minilm_embedder) -> FlixRec:
    """FlixRec over 120 movies and 40 shows crawled from the fake Trakt, people included."""
    home = tmp_path_factory.mktemp("trakt-home")
    settings = make_settings(home, MODEL)
    catalog = Catalog.open(settings.database_url)
    with FakeTrakt(movies=120, shows=40, client_id=KEY) as fake, TraktClient(KEY, fake.url, timeout=2) as client:
        for media in ("movie", "show"):
            assert run_crawl(client, catalog, search_plan(media, None)).done
            assert crawl_people(client, catalog, media).done
    index = VectorIndex.open(settings.index_dir, MODEL, dimension=minilm_embedder.dimension, create=True)
    build_index(catalog, index, minilm_embedder)
    return FlixRec(settings, embedder=minilm_embedder)


def test_no_r_or_tv_ma_holds_in_similar_titles_and_the_explore_table(trakt_app):
    facets = trakt_app.facets()
    assert {"R", "TV-MA", "PG"} <= set(facets["certifications"])
    family = Filters(certifications_exclude={"R", "TV-MA"})
    similar = trakt_app.similar_titles("trakt-movie-1", k=30, filters=family)
    assert len(similar) == 30 and all(r.title.certification not in {"R", "TV-MA"} for r in similar)
    assert any(r.title.certification is None for r in similar)  # unrated titles stay
    table = trakt_app.explore_catalogue(family)
    assert len(table) and not set(table["certification"].dropna()) & {"R", "TV-MA"}


def test_spoken_languages_include_the_original_one_and_the_others(trakt_app):
    assert set(trakt_app.facets()["spoken_languages"]) >= set(trakt_app.facets()["languages"])
    spanish = Filters(spoken_languages={"es"})
    found = trakt_app.similar_titles("trakt-movie-1", k=50, filters=spanish)
    assert found and all("es" in r.title.spoken_languages for r in found)
    assert any(r.title.language != "es" for r in found)  # spoken, not original: languages=[en, es]


def test_the_snapshot_read_back_from_chroma_filters_the_same(trakt_app):
    snapshot = trakt_app._current_recommender().snapshot
    from_chroma = snapshot_from_chroma(trakt_app.index)
    for filters in (Filters(certifications_exclude={"R"}), Filters(spoken_languages={"en", "ja"})):
        assert set(snapshot.ids[snapshot.mask(filters)]) == set(from_chroma.ids[from_chroma.mask(filters)])
        assert np.any(~snapshot.mask(filters))


def test_a_crawled_show_shows_its_creators_and_a_poster(trakt_app):
    show = trakt_app.get_title("trakt-show-10")
    assert len(show.creators) == 2 and not show.directors and show.writers
    assert show.poster_url.startswith("https://walter-r2.trakt.tv/images/shows/")


# ---- the fields kept, mapped and stored ----------------------------------------------------------------


# ---- the fields kept --------------------------------------------------------------------------------------


def test_the_fields_people_want_are_kept(fake_small):
    movie = to_title(fake_small.record("movie", 3), "movie")
    record = fake_small.record("movie", 3)
    assert record["subgenres"] and record["certification"]  # the fake's movie 3 has both
    assert movie.certification == record["certification"] and movie.subgenres == tuple(record["subgenres"])
    assert movie.keywords == tuple(record["subgenres"])  # subgenres double as keywords
    assert movie.languages == tuple(record["languages"]) and movie.language == record["language"]
    assert movie.available_translations == tuple(record["available_translations"])
    assert (movie.trailer, movie.homepage) == (record["trailer"], record["homepage"])
    assert movie.poster_url == "https://" + record["images"]["poster"][0]
    assert movie.poster_url.startswith("https://walter-r2.trakt.tv/images/movies/")
    assert movie.plex_guid == record["ids"]["plex"]["guid"] and movie.source_updated_at == record["updated_at"]
    assert (movie.after_credits, movie.during_credits) == (record["after_credits"], record["during_credits"])
    assert movie.tvdb_id is None and movie.airs is None
    show = to_title(fake_small.record("show", 2), "show")
    assert show.tvdb_id == 70002 and show.airs == "Sunday 21:00 America/New_York"
    assert show.after_credits is None
    older = to_title(fake_small.record("movie", 11), "movie")  # a record lacking the newer keys altogether
    assert older.languages is None and older.poster_url is None and older.plex_guid is None
    assert older.after_credits is None and older.subgenres is None and older.keywords == ()


def test_kept_fields_round_trip_through_the_catalogue_and_images_need_extended_images(fake_small, catalog):
    with TraktClient(KEY, fake_small.url, timeout=2) as client:
        run_crawl(client, catalog, search_plan("movie", None))
    assert all("images" in q["extended"].split(",") for q in fake_small.queries)
    expected = {f"trakt-movie-{i}": to_title(fake_small.record("movie", i), "movie") for i in fake_small.ids("movie")}
    assert {t.title_id: t for t in catalog.iter_titles()} == expected
    assert catalog.get_title("trakt-movie-3").poster_url.startswith("https://walter-r2.trakt.tv/")
