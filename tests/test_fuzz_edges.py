"""Issue 16's fuzz suite at the edges' parsers: the URL/query-parameter parser and both CLIs' argument parsers.

The property: generated parameters and arguments (huge numbers, NaN, negative values, unicode, lone
surrogates, 10 kB strings) give a result or a clear one-line message, never another exception; and what
the URL parser keeps always means a valid filter. The quick profile runs in `make test`;
`--hypothesis-profile=deep` runs 10,000 examples each.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flixrec.__main__ import build_parser as flixrec_parser
from flixrec.filters import FILTER_NAMES, MAX_K, MIN_K, parse_filter_params
from flixrec.validation import MAX_BOUND
from ingest.__main__ import build_parser as ingest_parser

ANY_CHAR = st.characters(exclude_categories=())  # every code point, lone surrogates included
NUMBERISH = st.one_of(
    st.integers(-10**30, 10**30).map(str), st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.builds(lambda n: "9" * n, st.integers(1, 500)), st.sampled_from(["", " ", "-", "1-", "-2000", "1990-2010",
                                                                       "2010-1990", "0x10", "1e400", "nan", "∞"]),
)
VALUES = st.one_of(NUMBERISH, st.text(ANY_CHAR, max_size=30),
                   st.builds(lambda c, n: c * n, ANY_CHAR, st.integers(1_000, 10_000)))
PARAMS = st.dictionaries(st.one_of(st.sampled_from(FILTER_NAMES), st.text(max_size=8)),
                         st.lists(VALUES, max_size=4), max_size=8)
FACETS = {"year": (1916.0, 2026.0), "runtime": (14.0, 338.0), "votes": (0.0, 14000.0), "rating": (0.0, 10.0),
          "genres": ["Action", "Drama", "Science Fiction"], "languages": ["en", "ja"], "spoken_languages": ["de", "en"],
          "certifications": ["PG-13", "R"]}


@given(params=PARAMS, with_facets=st.booleans())
def test_the_url_parser_never_raises_and_keeps_only_valid_filters(params, with_facets):
    parsed = parse_filter_params(params, FACETS if with_facets else None)
    f = parsed.filters
    assert MIN_K <= parsed.k <= MAX_K
    for low, high in ((f.year_min, f.year_max), (f.runtime_min, f.runtime_max)):
        for bound in (low, high):
            assert bound is None or (isinstance(bound, int) and abs(bound) <= MAX_BOUND)
    assert f.min_votes is None or (isinstance(f.min_votes, int) and 0 <= f.min_votes <= MAX_BOUND)
    assert f.min_rating is None or (math.isfinite(f.min_rating) and 0 <= f.min_rating <= 10)
    if with_facets:
        assert set(f.genres_include) | set(f.genres_exclude) <= set(FACETS["genres"])
        assert set(f.languages) <= set(FACETS["languages"])
    assert all(isinstance(p, str) and "\n" not in p and len(p) < 400 for p in parsed.problems)


ARGS = st.lists(st.one_of(st.sampled_from(["-k", "--year", "--votes", "--rating", "--genre", "--lang", "--type",
                                           "--favour", "--id", "--workers", "--batch-size", "--step", "--limit",
                                           "--timeout", "--years", "--since"]), VALUES), max_size=6)


@pytest.mark.parametrize("command", [["similar", "Interstellar"], ["text", "a heist"], ["search", "x"]])
@given(extra=ARGS)
def test_the_query_cli_parser_never_raises_anything_but_a_usage_error(command, extra):
    try:
        flixrec_parser().parse_args([*command, *extra])
    except SystemExit as exc:  # argparse's one `error:` line, exit code 2
        assert exc.code == 2


@pytest.mark.parametrize("command", [["embed"], ["repair"], ["build-demo"], ["trakt", "search"], ["trakt", "people"]])
@given(extra=ARGS)
def test_the_ingest_cli_parser_never_raises_anything_but_a_usage_error(command, extra):
    try:
        args = ingest_parser().parse_args([*command, *extra])
    except SystemExit as exc:
        assert exc.code == 2
        return
    for name in ("workers", "batch_size"):
        value = getattr(args, name, None)
        assert value is None or 1 <= value <= 100_000  # bounded: never a process or batch count from a typo
