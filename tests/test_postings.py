"""Postings: the compact key -> titles index behind franchise detection behaves like a dict of sets."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from flixrec.postings import PostingsBuilder



def build(pairs: list[tuple[str, int]], n: int):
    ids = [f"t{i}" for i in range(n)]
    builder = PostingsBuilder()
    for key, row in pairs:
        builder.add(key, row)
    return builder.build(ids), ids


def test_each_key_lists_its_titles_once_in_catalogue_order_and_a_missing_key_lists_none():
    postings, _ = build([("star wars", 2), ("star wars", 0), ("star wars", 2), ("alien", 1), ("", 1)], 3)
    assert postings.get("star wars") == ["t0", "t2"]
    assert postings.get("alien") == ["t1"]
    assert postings.get("") == ["t1"]
    assert postings.get("predator") == () and postings.get("predator", None) is None
    assert len(postings) == 3


def test_an_empty_index_answers_every_key_with_nothing():
    postings, _ = build([], 0)
    assert postings.get("anything") == () and len(postings) == 0


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=12), st.integers(0, 30)), max_size=200), st.lists(st.text(max_size=12), max_size=20))
def test_postings_answer_exactly_as_a_dict_of_sets(pairs, probes):
    postings, ids = build(pairs, 31)
    expected: dict[str, set[str]] = {}
    for key, row in pairs:
        expected.setdefault(key, set()).add(ids[row])
    for key in [k for k, _ in pairs] + probes:
        found = postings.get(key)
        assert set(found) == expected.get(key, set()) and len(found) == len(set(found))
        assert list(found) == sorted(found, key=ids.index)
