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
from ingest.trakt.people import crawl_people

KEY = "fake-client-id"
MODEL = "all-MiniLM-L6-v2"


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
