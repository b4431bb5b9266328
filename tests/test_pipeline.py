"""The whole pipeline on real data: demo catalogue → real model → real Chroma → search and similar titles.

The same core tests run on both embedding backends: the default multilingual USE over the whole demo
catalogue, and the packaged all-MiniLM-L6-v2 over a TMDB subset (so the suite stays fast on 2 cores).
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from flixrec.errors import TitleNotFound
from flixrec.models import Filters
from flixrec.service import FlixRec

from conftest import build_home

# On the demo catalogue: `app` picks demo_app/minilm_app at run time, which conftest's tiering cannot see.
pytestmark = pytest.mark.demo

NAMED = {"Interstellar", "Batman", "The Host", "The Avengers", "Avengers: Age of Ultron", "Toy Story",
         "Toy Story 2", "Toy Story 3", "Titanic", "The Dark Knight", "Alien", "Aliens", "Inception"}


@pytest.fixture(scope="session")
def minilm_app(tmp_path_factory, demo_reports, minilm_embedder) -> FlixRec:
    """FlixRec over 900 TMDB movies (the named ones included) embedded with all-MiniLM-L6-v2."""
    movies = demo_reports["tmdb5000"].titles
    chosen = [t for t in movies if t.title in NAMED] + random.Random(7).sample(movies, 900)
    settings = build_home(tmp_path_factory.mktemp("minilm-home"), "all-MiniLM-L6-v2", minilm_embedder, chosen)
    return FlixRec(settings, embedder=minilm_embedder)


@pytest.fixture(params=["use-multilingual", "all-MiniLM-L6-v2"])
def app(request) -> FlixRec:
    return request.getfixturevalue("demo_app" if request.param == "use-multilingual" else "minilm_app")


def title_id_of(app: FlixRec, name: str, year: int | None = None) -> str:
    for match in app.search_titles(name, limit=10):
        if match.kind == "exact" and (year is None or match.title.year == year):
            return match.title.title_id
    raise AssertionError(f"{name} ({year}) not found")


def test_typo_finds_the_title(app: FlixRec):
    best = app.search_titles("Intersteller")[0]
    assert best.title.title == "Interstellar" and best.kind == "fuzzy"


def test_shared_names_come_back_as_separate_matches(app: FlixRec):
    for name, years in (("Batman", {1966, 1989}), ("the host", {2006, 2013})):
        exact = [m for m in app.search_titles(name) if m.kind == "exact"]
        assert {m.title.year for m in exact} == years
    # "The Avengers": TMDB-5000 as packaged holds only the 2012 film; the sequel is a fuzzy match
    avengers = app.search_titles("The Avengers")
    assert avengers[0].kind == "exact" and avengers[0].title.year == 2012
    assert any(m.title.title == "Avengers: Age of Ultron" for m in avengers[1:])


def test_empty_and_hostile_queries_return_nothing_or_fuzzy_without_crashing(app: FlixRec):
    assert app.search_titles("") == [] and app.search_titles("   ") == []
    for query in ("x" * 500, "🎬🍿", "'; DROP TABLE titles; --", "%_%"):
        assert isinstance(app.search_titles(query), list)


def test_similar_titles_contract(app: FlixRec):
    seed = title_id_of(app, "Interstellar")
    results = app.similar_titles(seed, k=20)
    assert len(results) == 20
    assert seed not in {r.title.title_id for r in results}
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)
    assert [r.rank for r in results] == list(range(1, 21))
    assert app.similar_titles(seed, k=20) == results  # stable ordering


def test_filters_are_respected_with_exactly_k_results(app: FlixRec):
    seed = title_id_of(app, "Interstellar")
    filters = Filters(year_min=1990, year_max=2010, runtime_min=90, runtime_max=150, min_votes=100,
                      min_rating=6.0, genres_exclude={"Comedy"}, languages={"en"}, media_types={"movie"})
    results = app.similar_titles(seed, k=10, filters=filters)
    assert len(results) == 10
    assert all(filters.accepts(r.title) for r in results)
    # a filter the seed itself fails still keeps the seed (FlixRec lost it)
    old = Filters(year_max=1980)
    assert all(r.title.year <= 1980 for r in app.similar_titles(seed, k=5, filters=old))


def test_fewer_than_k_pass_gives_all_that_pass(app: FlixRec):
    seed = title_id_of(app, "Interstellar")
    filters = Filters(year_min=2016, min_votes=5000)  # TMDB-5000 ends in early 2017: very few pass
    results = app.similar_titles(seed, k=20, filters=filters, separate_franchise=False)
    assert 0 < len(results) < 20 and all(filters.accepts(r.title) for r in results)


def test_hidden_titles_never_come_back(app: FlixRec):
    seed = title_id_of(app, "Interstellar")
    first = app.similar_titles(seed, k=5)
    hidden = {r.title.title_id for r in first[:2]}
    again = app.similar_titles(seed, k=5, filters=Filters(exclude_ids=hidden))
    assert len(again) == 5 and not hidden & {r.title.title_id for r in again}


def test_franchise_is_kept_apart_from_similar(app: FlixRec):
    seed = title_id_of(app, "Toy Story")
    franchise = {r.title.title for r in app.franchise_titles(seed)}
    assert {"Toy Story 2", "Toy Story 3"} <= franchise
    similar = {r.title.title for r in app.similar_titles(seed, k=20)}
    assert not similar & franchise
    together = {r.title.title for r in app.similar_titles(seed, k=20, separate_franchise=False)}
    assert "Toy Story 2" in together


def test_the_seed_comes_with_its_similar_titles_by_its_own_or_a_merged_away_id(demo_app: FlixRec):
    seed, found = demo_app.similar_to_seed("tmdb-movie-129", k=5)  # Spirited Away, indexed: read with its results
    assert seed == demo_app.get_title("tmdb-movie-129", with_people=False)
    assert [r.title.title_id for r in found] == [r.title.title_id for r in demo_app.similar_titles("tmdb-movie-129", k=5)]
    old_seed, old_found = demo_app.similar_to_seed("bgm-311", k=5)  # the anime record merged into it
    assert old_seed == seed and old_found == found
    everything_hidden = Filters(year_min=3000)
    assert demo_app.similar_to_seed("bgm-311", k=5, filters=everything_hidden) == (seed, [])
    with pytest.raises(TitleNotFound):
        demo_app.similar_to_seed("tmdb-movie-0")


def test_unknown_title_is_a_clear_domain_error(app: FlixRec):
    with pytest.raises(TitleNotFound, match="no title with id 'tmdb-movie-0'"):
        app.similar_titles("tmdb-movie-0")


def test_similar_titles_share_genres_far_more_than_chance(app: FlixRec):
    snapshot = app._current_recommender().snapshot
    movies = [i for i in snapshot.ids if i.startswith("tmdb-movie-")]
    seeds = random.Random(3).sample(movies, 40)
    genres = {t.title_id: set(t.genres) for t in app.catalog.find_titles(movies, with_people=False).values()}

    def jaccard(a: set[str], b: set[str]) -> float:
        return len(a & b) / len(a | b) if a | b else 0.0

    similar, chance = [], []
    rng = random.Random(5)
    for seed in seeds:
        for rec in app.similar_titles(seed, k=10, filters=Filters(media_types={"movie"}), separate_franchise=False):
            similar.append(jaccard(genres[seed], genres.get(rec.title.title_id, set())))
        for other in rng.sample(movies, 10):
            chance.append(jaccard(genres[seed], genres[other]))
    assert np.mean(similar) > 1.6 * np.mean(chance)


def test_score_distribution_covers_every_other_title(app: FlixRec):
    seed = title_id_of(app, "Interstellar")
    scores = app.score_distribution(seed)
    assert len(scores) == len(app._current_recommender().snapshot) - 1
    assert scores.max() == pytest.approx(app.similar_titles(seed, k=1, separate_franchise=False)[0].score, abs=1e-5)


# ---- multilingual (the default model only: all-MiniLM-L6-v2 is English-only) ----------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("巨人が人類を襲い、壁の中で暮らす少年が母を殺され、巨人を倒すために兵団に入る", "Attack on Titan"),
        ("巨人袭击人类，住在高墙内的少年目睹母亲被吃，发誓要消灭所有巨人", "Attack on Titan"),
        ("Eine 101-jährige Frau erzählt ihrer Enkelin, wie sie 1912 als junge Frau aus der Oberschicht an Bord "
         "der Titanic einen armen Künstler kennenlernte, bevor das Schiff auf seiner ersten Fahrt sank.", "Titanic"),
        ("Ein Dieb, der in das Unterbewusstsein seiner Opfer eindringt, um Firmengeheimnisse zu stehlen, soll "
         "einem Menschen eine fremde Idee einpflanzen.", "Inception"),
        ("Un grupo de exploradores usa un agujero de gusano recién descubierto para superar los límites de los "
         "viajes espaciales humanos.", "Interstellar"),
    ],
)
def test_a_description_in_another_language_finds_its_title(demo_app: FlixRec, query: str, expected: str):
    found = [r.title.title for r in demo_app.similar_to_text(query, k=5)]
    assert expected in found, found
