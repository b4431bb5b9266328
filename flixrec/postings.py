"""Compact inverted indexes: key -> the titles that have it, without a Python set per key.

A catalogue of 300k titles has millions of distinct name fragments; a set per key costs ~200 bytes
before it holds anything. `Postings` keeps the keys as sorted 64-bit hashes and the titles as one array
of row numbers sliced by offsets: a few bytes per entry. The hash is Python's own (salted per process,
so postings live in the process that built them, or its forks, and are never persisted); two keys
sharing a 64-bit hash is astronomically unlikely (about 1e-7 at 2 million keys).
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

import numpy as np


class PostingsBuilder:
    """Collects (key, row) pairs; `build` turns them into Postings."""

    def __init__(self) -> None:
        self._hashes = array("q")
        self._rows = array("i")

    def add(self, key: str, row: int) -> None:
        self._hashes.append(hash(key))
        self._rows.append(row)

    def build(self, ids: Sequence[str]) -> Postings:
        return Postings(np.frombuffer(self._hashes, dtype=np.int64), np.frombuffer(self._rows, dtype=np.int32), ids)


class Postings:
    """key -> ids of the titles that have it (each once, in row order); read-only once built."""

    def __init__(self, hashes: np.ndarray, rows: np.ndarray, ids: Sequence[str]):
        order = np.lexsort((rows, hashes))
        hashes, rows = hashes[order], rows[order]
        distinct = np.ones(len(hashes), dtype=bool)  # drop repeated (key, row) pairs
        distinct[1:] = (hashes[1:] != hashes[:-1]) | (rows[1:] != rows[:-1])
        hashes, rows = hashes[distinct], rows[distinct]
        starts = np.flatnonzero(np.r_[True, hashes[1:] != hashes[:-1]]) if len(hashes) else np.zeros(0, dtype=np.int64)
        self._keys = np.ascontiguousarray(hashes[starts])
        self._offsets = np.append(starts, len(rows)).astype(np.int64)
        self._rows = np.ascontiguousarray(rows)
        self._ids = ids

    def __len__(self) -> int:
        """The number of distinct keys."""
        return len(self._keys)

    def get(self, key: str, default: Sequence[str] = ()) -> Sequence[str]:
        """Ids of the titles with this key (`default` when none): a drop-in for a dict of sets' `get`."""
        wanted = hash(key)
        at = self._keys.searchsorted(wanted)
        if at == len(self._keys) or self._keys[at] != wanted:
            return default
        return [self._ids[r] for r in self._rows[self._offsets[at] : self._offsets[at + 1]].tolist()]
