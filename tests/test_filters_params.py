"""The shared filter vocabulary and its one parser (flixrec.filters): fast, no demo catalogue."""

from __future__ import annotations

import pytest

from flixrec.filters import DEFAULT_K, FILTER_NAMES, FILTER_PARAMS, filter_params, parse_filter_params
from flixrec.models import Filters

FACETS = {"year": (1916.0, 2025.0), "runtime": (0.0, 338.0), "votes": (0.0, 14000.0), "rating": (0.0, 10.0),
          "genres": ["Action", "Comedy", "Drama", "Science Fiction"], "languages": ["en", "ja", "fr"]}


def parse(**params: str | list[str]):
    return parse_filter_params({k: [v] if isinstance(v, str) else v for k, v in params.items()}, FACETS)


def test_the_vocabulary_is_declared_once_with_labels_and_help():
    assert FILTER_NAMES == ("year", "runtime", "votes", "rating", "genre", "no_genre", "lang", "spoken", "no_cert",
                            "type", "k", "favour")
    assert all(p.label and p.help for p in FILTER_PARAMS)


def test_nothing_given_means_no_filter_and_the_default_k():
    parsed = parse_filter_params({}, FACETS)
    assert parsed.filters.is_empty() and parsed.k == DEFAULT_K and parsed.problems == []


def test_every_filter_parses():
    parsed = parse(year="1990-2010", runtime=["90", "150"], votes="250", rating="6.5", genre=["Action", "Drama"],
                   no_genre="Comedy", lang=["ja"], type="movie", k="15")
    assert parsed.problems == []
    assert parsed.k == 15
    assert parsed.filters == Filters(year_min=1990, year_max=2010, runtime_min=90, runtime_max=150, min_votes=250,
                                     min_rating=6.5, genres_include={"Action", "Drama"}, genres_exclude={"Comedy"},
                                     languages={"ja"}, media_types={"movie"})


def test_a_range_at_the_catalogue_extent_is_no_constraint_on_that_side():
    parsed = parse(year="1900-2000", runtime=["0", "400"])
    assert parsed.filters == Filters(year_max=2000) and parsed.problems == []
    assert parse(year="2010-1990").filters == Filters(year_min=1990, year_max=2010)  # sides swapped
    assert parse(year="2000-").filters == Filters(year_min=2000)  # one side open


def test_genres_match_case_insensitively_and_unknown_values_are_dropped_and_reported():
    parsed = parse(genre=["science fiction", "ACTION", "Westerns"], lang=["zz", "ja"], no_genre=["drama "])
    assert parsed.filters.genres_include == {"Science Fiction", "Action"}
    assert parsed.filters.genres_exclude == {"Drama"} and parsed.filters.languages == {"ja"}
    assert len(parsed.problems) == 2
    assert any("genre=Westerns" in p for p in parsed.problems) and any("lang=zz" in p for p in parsed.problems)


@pytest.mark.parametrize(("name", "value"), [
    ("year", "soon"), ("year", "9-x"), ("year", "1-2-3"), ("runtime", "-"), ("votes", "-3"), ("votes", "many"),
    ("rating", "inf"), ("rating", "nan"), ("rating", "-1"), ("rating", "11"), ("type", "podcast"),
    ("votes", "9" * 400), ("year", "9" * 400 + "-2000"), ("rating", "1e999"), ("k", "NaN"),
])
def test_broken_values_are_dropped_with_a_message_never_an_exception(name, value):
    parsed = parse(**{name: value})
    assert parsed.filters.is_empty() and parsed.k == DEFAULT_K
    assert len(parsed.problems) == 1 and parsed.problems[0].startswith(f"{name}=")


def test_k_out_of_range_is_clamped_and_reported():
    assert parse(k="9999").k == 50 and parse(k="1").k == 5
    assert parse(k="9999").problems and not parse(k="30").problems


def test_filter_params_is_the_inverse_of_the_parser():
    filters = Filters(year_min=1990, year_max=2010, runtime_max=120, min_votes=250, min_rating=6.5,
                      genres_include={"Action"}, genres_exclude={"Comedy", "Drama"}, languages={"ja"},
                      media_types={"show"})
    params = filter_params(filters, 30)
    assert params["year"] == "1990-2010" and params["runtime"] == "-120" and params["k"] == "30"
    raw = {k: v if isinstance(v, list) else [v] for k, v in params.items()}
    parsed = parse_filter_params(raw, FACETS)
    assert parsed.filters == filters and parsed.k == 30 and parsed.problems == []
    assert filter_params(Filters()) == {}


def test_without_facets_choices_are_taken_as_given():
    parsed = parse_filter_params({"genre": ["Anything"], "year": ["1800-3000"]}, None)
    assert parsed.filters == Filters(genres_include={"Anything"}, year_min=1800, year_max=3000)


def test_kept_holds_the_accepted_values_in_canonical_form_and_order():
    parsed = parse(year="1800-2000", genre=["drama", "action"], rating="6.50", votes="250", type="Movie", k="30")
    assert parsed.kept == {"year": ["1916", "2000"], "genre": ["Drama", "Action"], "rating": ["6.5"],
                           "votes": ["250"], "type": ["movie"], "k": ["30"]}
    assert parse(rating="inf").kept == {}


def test_languages_and_types_may_be_given_by_code_or_by_label():
    parsed = parse(lang=["Japanese", "en"], type="Shows")
    assert parsed.filters == Filters(languages={"ja", "en"}, media_types={"show"}) and parsed.problems == []
    assert parse(type="all").filters.is_empty() and not parse(type="All").problems


def test_spoken_languages_and_certifications_to_leave_out_parse_and_round_trip():
    facets = {**FACETS, "spoken_languages": ["de", "en", "fr", "ja"], "certifications": ["PG", "R", "TV-MA"]}
    parsed = parse_filter_params({"spoken": ["German", "ja"], "no_cert": ["r", "tv-ma", "X"]}, facets)
    assert parsed.filters == Filters(spoken_languages={"de", "ja"}, certifications_exclude={"R", "TV-MA"})
    assert parsed.problems == ["no_cert=X is not in the catalogue; ignored"]
    assert parsed.kept == {"spoken": ["de", "ja"], "no_cert": ["R", "TV-MA"]}
    params = filter_params(parsed.filters)
    assert params == {"spoken": ["de", "ja"], "no_cert": ["R", "TV-MA"]}
    assert parse_filter_params(params, facets).filters == parsed.filters


def test_favour_names_people_to_weigh_more_and_drops_anything_else():
    from flixrec.models import RankingWeights

    parsed = parse_filter_params({"favour": ["Director", "cast", "composer"]})
    assert parsed.favour == {"director", "cast"} and parsed.kept["favour"] == ["director", "cast"]
    assert any(p.startswith("favour=composer") for p in parsed.problems)
    weights = parsed.weights(RankingWeights())
    assert weights.directors == weights.cast == 0.5 and weights.keywords == RankingWeights().keywords
    assert parse_filter_params({}).weights(RankingWeights()) == RankingWeights()
