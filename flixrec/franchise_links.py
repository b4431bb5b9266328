"""What franchise detection keeps of links while it works (flixrec.franchise): links kept between calls,
and long lists of titles filtered once per call down to those a caller does not have yet."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


class Besides:
    """Lists of titles without those a caller has already (a franchise's own links), each list filtered once:
    the entries of a large family all read the same long name lists, mostly of titles the caller has."""

    def __init__(self, have: Collection[str]):
        self.have = have
        self._kept: dict[int, tuple[Sequence[Any], list[Any]]] = {}

    def __call__(self, titles: Sequence[Any], pairs: bool = False) -> Sequence[Any]:
        """`titles` without those the caller has (`pairs`: (title, kind) pairs, by their title)."""
        kept = self._kept.get(id(titles))
        if kept is None or kept[0] is not titles:  # the list is kept with its result, so its id stays its own
            kept = self._kept[id(titles)] = (titles, [t for t in titles if (t[0] if pairs else t) not in self.have])
        return kept[1]


def everyone(titles: Sequence[Any], pairs: bool = False) -> Sequence[Any]:
    """The lists as they are (no caller's titles to leave out)."""
    return titles


class KnownLinks:
    """Links kept between franchise calls, all dropped at once past `limit` links in total: titles' own links
    (`FranchiseIndex.related`, a few tens per title; a large franchise's entries hold hundreds each), or what a
    base name links (`FranchiseIndex._links_of_key`), whose size `size` counts.

    Shared by the threads of a process without a lock: two threads may both find a title's links (the same
    ones), and the count may drift by a call's links; neither changes an answer."""

    def __init__(self, limit: int, size: Callable[[Any], int] = len):
        self.limit = limit
        self._size_of = size
        self._links: dict[str, Any] = {}
        self._size = 0

    def get(self, key: str, find: Callable[[str], T]) -> T:
        """The links of `key` (a title id, a base name), found with `find` unless kept."""
        links = self._links.get(key)
        if links is None:
            links = find(key)
            size = self._size_of(links)
            if self._size + size > self.limit:
                self._links.clear()
                self._size = 0
            self._links[key] = links
            self._size += size
        return links
