"""The service end to end on the small hand-written catalogue (fast tier): search, similar, filters, franchise,
null fields and free text in several languages, with the real default model, SQLite and Chroma."""

from __future__ import annotations

import pytest

from flixrec.errors import TitleNotFound
from flixrec.models import Filters
from flixrec.service import FlixRec

from small_catalogue import SMALL_TITLES

BY_NAME = {t.title: t.title_id for t in SMALL_TITLES}


def test_the_small_home_holds_every_title_in_catalogue_and_index(small_app: FlixRec):
    status = small_app.status()
    assert status.in_agreement
    assert len(small_app.catalogue_frame()) == len(SMALL_TITLES)


def test_typo_finds_the_title(small_app: FlixRec):
    best = small_app.search_titles("Intersteller")[0]
    assert best.title.title == "Interstellar" and best.kind == "fuzzy"


def test_shared_names_come_back_as_separate_exact_matches(small_app: FlixRec):
    for name, years in (("Batman", {1966, 1989}), ("the host", {2006, 2013})):
        assert {m.title.year for m in small_app.search_titles(name) if m.kind == "exact"} == years


def test_an_alias_finds_the_original_title(small_app: FlixRec):
    assert small_app.search_titles("Spirited Away")[0].title.title_id == BY_NAME["千と千尋の神隠し"]


@pytest.mark.parametrize("query", ["", "   ", "x" * 500, "🎬🍿", "'; DROP TABLE titles; --", "%_%"])
def test_empty_and_hostile_queries_never_crash(small_app: FlixRec, query: str):
    assert isinstance(small_app.search_titles(query), list)


def test_similar_titles_contract(small_app: FlixRec):
    seed = BY_NAME["Interstellar"]
    results = small_app.similar_titles(seed, k=10)
    assert len(results) == 10 and seed not in {r.title.title_id for r in results}
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)
    assert [r.rank for r in results] == list(range(1, 11))
    assert small_app.similar_titles(seed, k=10) == results


def test_filters_apply_before_ranking_and_unknown_values_do_not_pass(small_app: FlixRec):
    filters = Filters(year_min=2000, runtime_max=150, media_types={"movie"}, genres_exclude={"Comedy"})
    results = small_app.similar_titles(BY_NAME["Interstellar"], k=50, filters=filters, separate_franchise=False)
    passing = {t.title_id for t in SMALL_TITLES if t.media_type == "movie" and t.year is not None
               and t.year >= 2000 and t.runtime is not None and t.runtime <= 150 and "Comedy" not in t.genres}
    assert {r.title.title_id for r in results} == passing - {BY_NAME["Interstellar"]}


def test_franchise_entries_are_kept_apart_from_similar(small_app: FlixRec):
    seed = BY_NAME["Toy Story"]
    franchise = {r.title.title for r in small_app.franchise_titles(seed)}
    assert {"Toy Story 2", "Toy Story 3"} <= franchise
    assert not franchise & {r.title.title for r in small_app.similar_titles(seed, k=10)}


def test_free_text_in_other_languages_finds_the_title(small_app: FlixRec):
    for text, expected in (("a clownfish father searches the sea for his lost son", "Finding Nemo"),
                           ("Un ladrón que roba secretos entrando en los sueños de sus víctimas", "Inception"),
                           ("人类在高墙内生活，被巨人威胁", "進撃の巨人")):
        top = [r.title.title for r in small_app.similar_to_text(text, k=3)]
        assert expected in top, (text, top)


def test_titles_with_null_fields_are_searchable_and_ranked(small_app: FlixRec):
    seed = BY_NAME["Untitled Project"]
    assert small_app.get_title(seed).year is None
    assert len(small_app.similar_titles(seed, k=5)) == 5


def test_unknown_title_is_a_domain_error(small_app: FlixRec):
    with pytest.raises(TitleNotFound):
        small_app.similar_titles("no-such-title")
