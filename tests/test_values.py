"""The value parsers every ingest loader shares: one rule, a value that does not fit becomes None."""

from __future__ import annotations

import pytest

from ingest.values import number, text, whole_number


@pytest.mark.parametrize(("value", "expected"), [
    ("162", 162), (" 162 ", 162), ("162.0", 162), (162, 162), (162.0, 162), ("-3", -3),
    ("3.7", None), (3.7, None), ("", None), (None, None), (True, None), (False, None), ("nan", None),
    (float("nan"), None), ("inf", None), ("12 min", None), ([1], None), ({"a": 1}, None),
    ("12345678901234567890", 12345678901234567890),
])
def test_whole_number_takes_whole_numbers_only(value, expected):
    assert whole_number(value) == expected
    assert whole_number(value) is None or type(whole_number(value)) is int


@pytest.mark.parametrize(("value", "expected"), [
    ("7.2", 7.2), (7, 7.0), (" 6.5 ", 6.5), ("", None), (None, None), (True, None), ("nan", None),
    (float("inf"), None), ("7,2", None), ([7.2], None),
])
def test_number_takes_finite_numbers_only(value, expected):
    assert number(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("  Heat ", "Heat"), ("", None), ("   ", None), (None, None), (1917, "1917"), (2.5, "2.5"),
    (True, None), (float("nan"), None), (["Heat"], None), ({"title": "Heat"}, None),
])
def test_text_is_stripped_text_or_none(value, expected):
    assert text(value) == expected


def test_the_demo_and_trakt_mappings_read_the_same_value_the_same_way():
    from ingest.demo import parse_anime
    from ingest.trakt.mapping import to_title

    anime = parse_anime({"bangumis": [{"id": 1, "name": "A", "tmdb": {"id": "3.7"}}, {"id": 2, "name": "B", "tmdb": {"id": "37.0"}}]})
    assert [t.tmdb_id for t in anime.titles] == [None, 37]
    trakt = [to_title({"ids": {"trakt": 1, "tmdb": tmdb}, "title": "T"}, "movie") for tmdb in ("3.7", "37.0")]
    assert [t.tmdb_id for t in trakt] == [None, 37]
