"""The neighbour graph's compiled loops (numba): building the links and the best-first search.

Kept apart from flixrec.graph so that module reads as the algorithm; each function here is one tight
loop numba compiles on first use (cached on disk, so later processes load it in milliseconds).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, fastmath=True, inline="always")
def _dot(matrix, row, query):
    total = np.float32(0.0)
    vector = matrix[row]
    for i in range(vector.shape[0]):
        total += vector[i] * query[i]
    return total


@njit(cache=True, inline="always")
def _push(keys, values, size, key, value):
    """Push onto a binary min-heap of (keys, values) holding `size` entries; returns the new size."""
    i = size
    keys[i] = key
    values[i] = value
    while i > 0:
        parent = (i - 1) >> 1
        if keys[parent] <= keys[i]:
            break
        keys[parent], keys[i] = keys[i], keys[parent]
        values[parent], values[i] = values[i], values[parent]
        i = parent
    return size + 1


@njit(cache=True, inline="always")
def _pop(keys, values, size):
    """Drop the smallest entry of a binary min-heap; returns the new size."""
    size -= 1
    keys[0] = keys[size]
    values[0] = values[size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and keys[child + 1] < keys[child]:
            child += 1
        if keys[i] <= keys[child]:
            break
        keys[child], keys[i] = keys[i], keys[child]
        values[child], values[i] = values[i], values[child]
        i = child
    return size


@njit(cache=True, inline="always")
def _grown(array, used):
    """A copy of `array` with twice the room, its first `used` entries kept."""
    bigger = np.empty(2 * array.shape[0], dtype=array.dtype)
    bigger[:used] = array[:used]
    return bigger


@njit(cache=True, fastmath=True, nogil=True)  # nogil: other threads (the API's, the app's) run meanwhile
def search(matrix, links, query, entries, ef, keep, filtered, visited, epoch):
    """Best-first search from `entries`: up to `ef` passing rows of highest inner product (unsorted).

    Every row reached may be expanded (so a filter does not cut the graph), but only rows that pass
    (`keep[row]` when `filtered`) enter the results; the search stops when the best unexpanded row
    scores below the worst of `ef` results. `visited[row] == epoch` marks rows already scored.
    Returns (rows, scores, rows scored).
    """
    width = links.shape[1]
    room = 4 * ef + entries.shape[0] + 64
    open_keys = np.empty(room, dtype=np.float32)  # min-heap of -score: best unexpanded first
    open_rows = np.empty(room, dtype=np.int32)
    opened = 0
    best_keys = np.empty(ef + 1, dtype=np.float32)  # min-heap of score: worst result first
    best_rows = np.empty(ef + 1, dtype=np.int32)
    found = 0
    scored = 0
    for entry in entries:
        if visited[entry] == epoch:
            continue
        visited[entry] = epoch
        score = _dot(matrix, entry, query)
        scored += 1
        opened = _push(open_keys, open_rows, opened, -score, entry)
        if not filtered or keep[entry]:
            found = _push(best_keys, best_rows, found, score, entry)
            if found > ef:
                found = _pop(best_keys, best_rows, found)
    while opened > 0:
        score = -open_keys[0]
        row = open_rows[0]
        if found >= ef and score < best_keys[0]:
            break
        opened = _pop(open_keys, open_rows, opened)
        for j in range(width):
            other = links[row, j]
            if other < 0:
                break
            if visited[other] == epoch:
                continue
            visited[other] = epoch
            value = _dot(matrix, other, query)
            scored += 1
            if found < ef or value > best_keys[0]:
                if opened == open_keys.shape[0]:  # full: twice the room (a row is never dropped)
                    open_keys = _grown(open_keys, opened)
                    open_rows = _grown(open_rows, opened)
                opened = _push(open_keys, open_rows, opened, -value, other)
                if not filtered or keep[other]:
                    found = _push(best_keys, best_rows, found, value, other)
                    if found > ef:
                        found = _pop(best_keys, best_rows, found)
    return best_rows[:found].copy(), best_keys[:found].copy(), scored


@njit(cache=True, inline="always")
def _best_columns(scores, i, count, skip_own, out):
    """Row i's `count` best columns into out[i], best first (-1 pads)."""
    best = np.full(count, -np.inf, dtype=np.float32)
    where = np.full(count, -1, dtype=np.int32)
    for c in range(scores.shape[1]):
        value = scores[i, c]
        if value > best[count - 1] and not (skip_own and c == i):
            p = count - 1
            while p > 0 and best[p - 1] < value:
                best[p] = best[p - 1]
                where[p] = where[p - 1]
                p -= 1
            best[p] = value
            where[p] = c
    out[i] = where


@njit(cache=True, parallel=True)
def top_columns(scores, count, skip_own=False):
    """Per row, the columns of its `count` highest scores, best first (-1 pads); `skip_own`: a square block
    of rows against themselves, where row i's own column i does not count."""
    out = np.empty((scores.shape[0], count), dtype=np.int32)
    for i in prange(scores.shape[0]):
        _best_columns(scores, i, count, skip_own, out)
    return out


@njit(cache=True, nogil=True)
def top_columns_here(scores, count, skip_own=False):
    """`top_columns` on the calling thread alone (for callers that run several at once on their own threads)."""
    out = np.empty((scores.shape[0], count), dtype=np.int32)
    for i in range(scores.shape[0]):
        _best_columns(scores, i, count, skip_own, out)
    return out


@njit(cache=True, inline="always")
def _insert(near, near_scores, filled, row, candidate, score):
    """Put `candidate` into row's list of its best distinct candidates (sorted by score), if it belongs there."""
    keep = near.shape[1]
    f = filled[row]
    if f == keep and score <= near_scores[row, keep - 1]:
        return
    for t in range(f):
        if near[row, t] == candidate:
            return
    p = f if f < keep else keep - 1
    while p > 0 and near_scores[row, p - 1] < score:
        near_scores[row, p] = near_scores[row, p - 1]
        near[row, p] = near[row, p - 1]
        p -= 1
    near_scores[row, p] = score
    near[row, p] = candidate
    if f < keep:
        filled[row] = f + 1


@njit(cache=True, nogil=True)
def offer(members, gram, chosen, near, near_scores, filled):
    """Offer each member the members `chosen` for it (their scores in `gram`): each row's list
    `near[row]` keeps its best distinct candidates, sorted by score."""
    for a in range(chosen.shape[0]):
        for j in range(chosen.shape[1]):
            b = chosen[a, j]
            if b >= 0:
                _insert(near, near_scores, filled, members[a], members[b], gram[a, b])


@njit(cache=True, nogil=True)
def absorb(near, near_scores, filled, other, other_scores, other_filled):
    """Merge another set of lists (built from other clusters) into these: each row keeps its best of both."""
    for row in range(near.shape[0]):
        for t in range(other_filled[row]):
            _insert(near, near_scores, filled, row, other[row, t], other_scores[row, t])


@njit(cache=True)
def with_reverse_links(forward, width):
    """Links of `width` per row: a row's own (forward) links first, then rows linking to it, while room."""
    n, own = forward.shape
    out = np.full((n, width), -1, dtype=np.int32)
    count = np.zeros(n, dtype=np.int32)
    for row in range(n):
        for j in range(own):
            other = forward[row, j]
            if other < 0:
                break
            out[row, count[row]] = other
            count[row] += 1
    for row in range(n):
        for j in range(own):
            other = forward[row, j]
            if other < 0:
                break
            if count[other] >= width:
                continue
            known = False
            for t in range(count[other]):
                if out[other, t] == row:
                    known = True
                    break
            if not known:
                out[other, count[other]] = row
                count[other] += 1
    return out

