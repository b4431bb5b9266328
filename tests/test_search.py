"""Title search forgives: word-level typos, partial names while typing, the popular title first on ties."""

from __future__ import annotations

import pytest

from flixrec.search import PREFIX_SCORE, popularity, word_score, word_similarity

DARK_KNIGHT, DARK_KNIGHT_RISES, SHARK_NIGHT = "tmdb-movie-155", "tmdb-movie-49026", "tmdb-movie-65055"


def test_word_similarity_equal_prefix_typo_and_short_words():
    assert word_similarity("potter", "potter") == 100.0
    assert word_similarity("interstel", "interstellar") == PREFIX_SCORE
    assert 80 < word_similarity("poter", "potter") < 100
    assert word_similarity("ab", "ac") == 0.0  # two letters: only equal or a prefix counts


def test_a_name_holding_every_typed_word_beats_a_lookalike():
    typed = ["harry", "poter"]
    assert word_score(typed, "harry potter and the chamber of secrets".split()) > 80
    assert word_score(typed, ["harper"]) < 50
    assert word_score(["dark", "knight"], ["dark", "knight"]) > word_score(["dark", "knight"], ["dark", "knight", "rises"])


def test_popularity_only_breaks_near_ties():
    assert popularity(None) == popularity(0) == 0.0
    assert 2 < popularity(13_000) < 3


@pytest.mark.slow
def test_harry_poter_offers_the_harry_potter_films_first(demo_app):
    matches = demo_app.search_titles("harry poter", limit=10)
    potter = [m for m in matches if m.title.title.startswith("Harry Potter")]
    assert len(potter) >= 6
    assert all(m.title.title.startswith("Harry Potter") for m in matches[: len(potter)])


@pytest.mark.slow
def test_the_dark_knigth_ranks_the_dark_knight_films_above_shark_night(demo_app):
    ids = [m.title.title_id for m in demo_app.search_titles("the dark knigth", limit=10)]
    assert ids[0] == DARK_KNIGHT
    assert ids.index(DARK_KNIGHT_RISES) < ids.index(SHARK_NIGHT)


@pytest.mark.slow
@pytest.mark.parametrize("typed, expected", [("interstel", "Interstellar"), ("Intersteller", "Interstellar"),
                                              ("avengers age", "Avengers: Age of Ultron"),
                                              ("spirted away", "Spirited Away")])
def test_partial_and_misspelt_names_find_their_title(demo_app, typed, expected):
    assert demo_app.search_titles(typed, limit=5)[0].title.title == expected


@pytest.mark.slow
def test_an_alias_finds_the_anime(demo_app):
    matches = demo_app.search_titles("your name", limit=5)
    assert matches[0].title.original_title == "君の名は。"


@pytest.mark.slow
def test_exact_names_stay_first_and_the_popular_one_leads_near_ties(demo_app):
    matches = demo_app.search_titles("batman", limit=10)
    assert [m.kind for m in matches[:2]] == ["exact", "exact"]
    fuzzy = [m for m in matches if m.kind == "fuzzy" and m.score == matches[2].score]
    assert [m.title.votes or 0 for m in fuzzy] == sorted((m.title.votes or 0 for m in fuzzy), reverse=True)
