"""Issue 16's fuzz suite over the core service: generated ids, texts (lone surrogates, huge), numbers,
Filters and k against `FlixRec` on the small home (real SQLite, Chroma snapshot and USE model).

The property: every call returns a result or raises a FlixrecError whose message is one short line;
never another exception, never a result that breaks its filters, never the seed among its own results.
`make test` runs the quick profile; `pytest tests/test_fuzz_core.py --hypothesis-profile=deep` runs
10,000 examples (profiles in tests/conftest.py).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import pandas as pd
from hypothesis import event, given
from hypothesis import strategies as st

from flixrec.errors import FlixrecError
from flixrec.models import MEDIA_TYPES, Filters, Recommendation
from flixrec.service import FlixRec
from flixrec.validation import MAX_K

from small_catalogue import SMALL_TITLES

IDS = tuple(t.title_id for t in SMALL_TITLES)
GENRES = tuple(sorted({g for t in SMALL_TITLES for g in t.genres}))
LANGUAGES = tuple(sorted({t.language for t in SMALL_TITLES if t.language}))
OUTCOMES: Counter[str] = Counter()
"""What the generated calls ended in (printed by the deep run; see test_outcomes_are_reported)."""

SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
ANY_CHAR = st.characters(exclude_categories=())  # every code point, lone surrogates included
TEXTS = st.one_of(
    st.text(max_size=40),
    st.text(ANY_CHAR, max_size=40),
    st.lists(SURROGATES, min_size=1, max_size=4).map("".join),
    st.builds(lambda c, n: c * n, ANY_CHAR, st.integers(1_000, 12_000)),  # 10 kB strings
    st.sampled_from(["space", "a lighthouse keeper", "人类在高墙内生活", "'; DROP TABLE titles; --", "%_%", ""]),
)
REAL_IDS = st.sampled_from(IDS)
IDS_OR_JUNK = st.one_of(REAL_IDS, REAL_IDS, REAL_IDS, REAL_IDS, TEXTS, REAL_IDS.map(lambda i: i + "\udcff"))
"""Mostly real ids (calls that get past validation), else junk (branches are drawn about evenly)."""
NUMBERS = st.one_of(
    st.integers(-5, 600),
    st.integers(),
    st.sampled_from([2**63, 2**63 - 1, -(2**63), 10**400, -(10**400)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
K = st.one_of(st.integers(1, 60), st.integers(1, 60), st.integers(1, MAX_K), NUMBERS | st.none() | st.text(max_size=3))


def _filters(numbers: st.SearchStrategy[Any] | None, words: st.SearchStrategy[str] | None) -> st.SearchStrategy[Filters]:
    """Filters over the small catalogue's values, with `numbers` / `words` mixed into the bounds and sets."""

    def bound(low: int, high: int) -> st.SearchStrategy[Any]:
        return st.none() | st.integers(low, high) | (numbers if numbers is not None else st.none())

    def some(values: tuple[str, ...], size: int) -> st.SearchStrategy[frozenset]:
        return st.frozensets(st.sampled_from(values) | (words if words is not None else st.nothing()), max_size=size)

    return st.builds(
        Filters,
        year_min=bound(1950, 2020), year_max=bound(1950, 2020), runtime_min=bound(60, 180),
        runtime_max=bound(60, 180), min_votes=bound(0, 12_000),
        min_rating=st.none() | st.floats(0, 10) | (numbers if numbers is not None else st.none()),
        genres_include=some(GENRES, 3), genres_exclude=some(GENRES, 3), languages=some(LANGUAGES, 2),
        media_types=some(MEDIA_TYPES, 2), exclude_ids=st.frozensets(IDS_OR_JUNK, max_size=4),
    )


FILTERS = st.one_of(st.none(), _filters(None, None), _filters(None, TEXTS), _filters(NUMBERS, TEXTS))

CALLS = st.one_of(
    st.tuples(st.just("similar_titles"), IDS_OR_JUNK, K, FILTERS, st.booleans()),
    st.tuples(st.just("similar_to_text"), TEXTS, K, FILTERS),
    st.tuples(st.just("franchise_titles"), IDS_OR_JUNK, K),
    st.tuples(st.just("search_titles"), TEXTS, K),
    st.tuples(st.just("get_title"), IDS_OR_JUNK),
    st.tuples(st.just("score_distribution"), IDS_OR_JUNK),
    st.tuples(st.just("similar_view"), IDS_OR_JUNK, K, FILTERS),
    st.tuples(st.just("explore_catalogue"), FILTERS),
)


def _check_ranked(results: list[Recommendation], k: Any, seed: str | None, filters: Filters | None,
                  by_release: bool = False, name_keys: Callable[[str], tuple[str, ...]] | None = None) -> None:
    """A ranked list: at most k, ranks 1.., scores in [0, 1] non-increasing, filters kept, seed absent.

    A franchise row is in order of release instead. A similar-titles row (`name_keys` given) may list,
    after the rest, another franchise's entries beyond its first two, each in score order: a second run
    of scores whose titles share a base name with a title listed before them.
    """
    assert isinstance(k, int) and 1 <= k <= MAX_K, f"a result for an invalid k={k!r}"
    assert len(results) <= k
    assert [r.rank for r in results] == list(range(1, len(results) + 1))
    scores = [r.score for r in results]
    assert all(0.0 <= s <= 1.0 and not math.isnan(s) for s in scores)
    if by_release:
        years = [(r.title.year is None, r.title.year or 0) for r in results]
        assert years == sorted(years)
    else:
        drop = next((i for i in range(1, len(scores)) if scores[i] > scores[i - 1]), len(scores))
        assert scores[:drop] == sorted(scores[:drop], reverse=True) and scores[drop:] == sorted(scores[drop:], reverse=True)
        if drop < len(scores):
            assert name_keys is not None, "a ranked list out of score order"
            shown = {key for r in results[:drop] for key in name_keys(r.title.title_id)}
            assert all(shown & set(name_keys(r.title.title_id)) for r in results[drop:]), "held back without a franchise"
    if filters is not None:
        broken = [r.title.title_id for r in results if not filters.accepts(r.title)]
        assert not broken, f"results break their filters: {broken}"
    if seed is not None:
        assert seed not in {r.title.title_id for r in results}, "the seed is among its own results"


def _check(app: FlixRec, call: tuple) -> None:
    """Run one generated call and check its result against the property."""
    name, *args = call
    result = getattr(app, name)(*args)
    if name in ("similar_titles", "similar_view"):
        seed, k, filters = args[0], args[1], args[2]
        ranked = result.similar if name == "similar_view" else result
        _check_ranked(ranked, k, seed, filters, name_keys=app._current_recommender().features.franchises.name_keys)
        if name == "similar_view":
            _check_ranked(result.franchise, 10, seed, None, by_release=True)
            assert not {r.title.title_id for r in result.franchise} & (filters.exclude_ids if filters else set())
    elif name == "similar_to_text":
        _check_ranked(result, args[1], None, args[2])
    elif name == "franchise_titles":
        _check_ranked(result, args[1], args[0], None, by_release=True)
    elif name == "search_titles":
        assert isinstance(args[1], int) and 1 <= args[1] <= MAX_K and len(result) <= args[1]
    elif name == "get_title":
        assert result.title_id == args[0]
    elif name == "score_distribution":
        assert len(result) == len(IDS) - 1
    elif name == "explore_catalogue":
        assert isinstance(result, pd.DataFrame)
        filters = args[0]
        expected = {t.title_id for t in SMALL_TITLES if filters is None or filters.accepts(t)}
        assert set(result["title_id"]) == expected


@given(call=CALLS)
def test_every_core_call_returns_a_result_or_a_one_line_flixrec_error(small_app: FlixRec, call: tuple):
    try:
        _check(small_app, call)
    except FlixrecError as exc:
        message = str(exc)
        assert message and "\n" not in message and len(message) <= 400, repr(message)
        OUTCOMES[type(exc).__name__] += 1
        event(type(exc).__name__)
    else:
        OUTCOMES["result"] += 1
        event("result")


def test_outcomes_are_reported(capsys):
    """Prints how the fuzzed calls ended (run after the fuzz test in the same session)."""
    with capsys.disabled():
        print(f"\nfuzz outcomes: {dict(OUTCOMES)} (total {sum(OUTCOMES.values())})")
