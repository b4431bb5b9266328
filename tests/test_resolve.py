"""FlixRec.resolve_title: the one rule every edge (dashboard, CLI, API) uses to turn a typed name into a title."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

BATMAN_1989, BATMAN_1966 = "tmdb-movie-268", "tmdb-movie-2661"


def test_one_title_with_the_top_exact_score_is_chosen_straight_away(demo_app):
    resolution = demo_app.resolve_title("interstellar")
    assert resolution.title is not None and resolution.title.label() == "Interstellar (2014)"
    assert not resolution.choices and not resolution.did_you_mean and not resolution.nothing


def test_several_titles_with_the_same_name_are_choices(demo_app):
    resolution = demo_app.resolve_title("Batman")
    assert resolution.title is None and {m.title.title_id for m in resolution.choices} == {BATMAN_1989, BATMAN_1966}
    assert all(m.kind == "exact" for m in resolution.choices)


def test_a_typo_gives_did_you_mean(demo_app):
    resolution = demo_app.resolve_title("Intersteller")
    assert resolution.title is None and not resolution.choices
    assert resolution.did_you_mean[0].title.title == "Interstellar"


def test_no_match_is_nothing(demo_app):
    assert demo_app.resolve_title("").nothing and demo_app.resolve_title("qqqqzzzzxxxx").nothing


def test_a_titles_own_name_outranks_an_alias(demo_app):
    matches = [m for m in demo_app.search_titles("Attack on Titan", limit=12) if m.kind == "exact"]
    resolution = demo_app.resolve_title("Attack on Titan")
    top = [m for m in matches if m.score == matches[0].score]
    if len(top) == 1:
        assert resolution.title == top[0].title
    else:
        assert resolution.choices
