"""The projection's rows as int8 codes: the projected scan stages read a quarter of the float32 bytes.

Each projected column gets one scale (its largest magnitude maps to 127), so a code times its column's
scale is the projected value to within half a step. On the 300k bench the ranks the stages use did not
move (docs/performance.md, "Int8 codes"). The head block is kept twice: in tiles of TILE rows, column
after column, so the full scan runs down contiguous columns (vectorised across rows), and row after row
for the plans that gather the passing rows; the tail block row after row, for the few rows stage 2
gathers. Only shortlist membership depends on the codes: the shortlist is always re-scored exactly with
the float32 vectors, so the float32 blocks need not be in memory to answer queries.
"""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
from numba import njit

from flixrec.rescore import dot_rows, in_halves

TILE = 1024
"""Rows per tile of the head codes (one tile's scores fit in the first-level cache)."""
SCAN_SPLIT_ROWS = 100_000
"""Smaller scans run on the calling thread alone (a hand-off costs more than it saves)."""


@dataclasses.dataclass(frozen=True)
class ProjectedCodes:
    """int8 codes of a Projection's head and tail blocks, with one float32 scale per column."""

    head_tiles: np.ndarray  # (ceil(n / TILE), h, TILE) int8; rows past n are zeros
    head: np.ndarray  # (n, h) int8, the same codes row after row
    head_scale: np.ndarray  # (h,) float32
    tail: np.ndarray  # (n, t) int8
    tail_scale: np.ndarray  # (t,) float32
    rows: int

    @classmethod
    def of(cls, head: np.ndarray, tail: np.ndarray) -> ProjectedCodes:
        """Quantize a projection's blocks (in row blocks: a memory-mapped block is not read in one go)."""
        n, h = head.shape
        head_scale, tail_scale = _scales(head), _scales(tail)
        tiles = np.zeros((-(-n // TILE), h, TILE), dtype=np.int8)
        head_codes = np.empty(head.shape, dtype=np.int8)
        tail_codes = np.empty(tail.shape, dtype=np.int8)
        for start in range(0, n, 64 * TILE):
            part = _quantize(np.asarray(head[start : start + 64 * TILE]), head_scale)
            count = len(part)
            head_codes[start : start + count] = part
            padded = np.zeros((-(-count // TILE) * TILE, h), dtype=np.int8)
            padded[:count] = part
            first = start // TILE
            tiles[first : first + len(padded) // TILE] = padded.reshape(-1, TILE, h).transpose(0, 2, 1)
            tail_codes[start : start + count] = _quantize(np.asarray(tail[start : start + count]), tail_scale)
        return cls(tiles, head_codes, head_scale, tail_codes, tail_scale, n)

    def head_query(self, head_query: np.ndarray) -> np.ndarray:
        """The head part of a projected query, folded with the column scales (the kernels' input)."""
        return np.ascontiguousarray(head_query * self.head_scale, dtype=np.float32)

    def head_scores(self, head_query: np.ndarray) -> np.ndarray:
        """Head scores of every row, the scan shared with the helper thread when large (`in_halves`)."""
        query = self.head_query(head_query)
        tiles = len(self.head_tiles)
        out = np.empty(tiles * TILE, dtype=np.float32)
        if self.rows >= SCAN_SPLIT_ROWS:
            half = tiles // 2
            in_halves(lambda: self.scan_head(query, out, 0, half), lambda: self.scan_head(query, out, half, tiles))
        else:
            self.scan_head(query, out, 0, tiles)
        return out[: self.rows]

    def scan_head(self, query: np.ndarray, out: np.ndarray, first_tile: int, last_tile: int) -> None:
        """Head scores of tiles [first_tile, last_tile) into out (padded length); `query` from head_query."""
        _scan_tiles(self.head_tiles, query, out, first_tile, last_tile)

    def head_scores_of(self, rows: np.ndarray, head_query: np.ndarray) -> np.ndarray:
        """Head scores of these rows (float32, in their order): the plans that gather the passing rows."""
        return _scores_of(self.head, self.head_scale, rows, head_query)

    def tail_scores(self, rows: np.ndarray, tail_query: np.ndarray) -> np.ndarray:
        """Tail scores of these rows (float32, in their order)."""
        return _scores_of(self.tail, self.tail_scale, rows, tail_query)

    def dequantized(self) -> tuple[np.ndarray, np.ndarray]:
        """(head, tail) as the stages see them, float32 (for calibration: the ranks the queries will get)."""
        return self.head * self.head_scale, self.tail * self.tail_scale


def rows_at_least(values: np.ndarray, threshold: float, keep: np.ndarray | None) -> np.ndarray:
    """Ascending rows whose stage score reaches `threshold`, among `keep` when given: the stages' selection
    in one pass (a comparison, a mask and `np.flatnonzero` read the scores three times), shared with the
    helper thread when the scores are many (`in_halves`)."""
    keep, threshold = (keep if keep is not None else _ALL), np.float32(threshold)
    filtered = keep is not _ALL
    if len(values) < SCAN_SPLIT_ROWS:
        return _rows_at_least_part(values, threshold, keep, filtered, 0, len(values))
    half = len(values) // 2
    return np.concatenate(in_halves(lambda: _rows_at_least_part(values, threshold, keep, filtered, 0, half),
                                    lambda: _rows_at_least_part(values, threshold, keep, filtered, half, len(values))))


def _rows_at_least_part(values, threshold, keep, filtered, start, stop) -> np.ndarray:
    """`rows_at_least` of rows [start, stop), into this thread's scratch (fresh pages cost more than the pass)."""
    scratch = getattr(_scratch, "rows", None)
    if scratch is None or len(scratch) < stop - start + 1:
        scratch = _scratch.rows = np.empty(stop - start + 1, dtype=np.int64)
    count = _rows_at_least(values[start:stop], threshold, keep[start:stop] if filtered else keep, filtered, scratch)
    return scratch[:count] + start


def strided_sample(values: np.ndarray, step: int, keep: np.ndarray | None) -> np.ndarray:
    """Every `step`-th value, among `keep` when given (`values[::step][keep[::step]]` in one pass)."""
    return _strided_sample(values, step, keep if keep is not None else _ALL, keep is not None)


_ALL = np.ones(1, dtype=bool)
_scratch = threading.local()


def _scores_of(codes: np.ndarray, scale: np.ndarray, rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    return dot_rows(codes, rows, query * scale)  # the query folded with the column scales


def _scales(block: np.ndarray) -> np.ndarray:
    """Per-column scale mapping the column's largest magnitude to 127 (1 for an all-zero column)."""
    top = np.zeros(block.shape[1], dtype=np.float32)
    for start in range(0, len(block), 65_536):
        np.maximum(top, np.abs(np.asarray(block[start : start + 65_536])).max(axis=0, initial=0.0), out=top)
    return np.where(top > 0, top / 127.0, 1.0).astype(np.float32)


def _quantize(block: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(block / scale), -127, 127).astype(np.int8)


@njit(cache=True, fastmath=True, nogil=True)  # nogil: the engine splits one scan across threads
def _scan_tiles(tiles, query, out, first, last):
    width, size = tiles.shape[1], tiles.shape[2]
    total = np.empty(size, dtype=np.float32)
    for tile in range(first, last):
        total[:] = 0.0
        for column in range(width):
            weight = query[column]
            for i in range(size):
                total[i] += np.float32(tiles[tile, column, i]) * weight
        out[tile * size : (tile + 1) * size] = total


@njit(cache=True, nogil=True)
def _rows_at_least(values, threshold, keep, filtered, out):
    count = 0
    for i in range(values.shape[0]):
        out[count] = i  # written always, kept when it passes: no branch to mispredict
        count += (values[i] >= threshold) & (not filtered or keep[i])
    return count


@njit(cache=True, nogil=True)
def _strided_sample(values, step, keep, filtered):
    out = np.empty((values.shape[0] + step - 1) // step, dtype=values.dtype)
    count = 0
    for i in range(0, values.shape[0], step):
        if not filtered or keep[i]:
            out[count] = values[i]
            count += 1
    return out[:count]
