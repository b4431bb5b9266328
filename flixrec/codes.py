"""The projection's rows as int8 codes: the projected scan stages read a quarter of the float32 bytes.

Each projected column gets one scale (its largest magnitude maps to 127), so a code times its column's
scale is the projected value to within half a step. On the 300k bench the ranks the stages use did not
move (docs/performance.md, "Int8 codes"). The head block is kept twice: in blocks of BLOCK rows, column
pair after column pair, for the full scan's integer multiply-add (flixrec.code_kernels), and row after
row for the plans that gather the passing rows; the tail block row after row, for the few rows stage 2
gathers. Only shortlist membership depends on the codes: the shortlist is always re-scored exactly with
the float32 vectors, so the float32 blocks need not be in memory to answer queries.
"""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
from numba import njit

from flixrec.code_kernels import BLOCK, pack_query, scan_blocks
from flixrec.rescore import dot_rows, in_halves

SCAN_SPLIT_ROWS = 100_000
"""Smaller scans run on the calling thread alone (a hand-off costs more than it saves)."""


@dataclasses.dataclass(frozen=True)
class ProjectedCodes:
    """int8 codes of a Projection's head and tail blocks, with one float32 scale per column."""

    head_blocks: np.ndarray  # (ceil(n / BLOCK), ceil(h / 2), BLOCK, 2) int8; rows and the column past n, h are zeros
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
        pairs = -(-h // 2)
        blocks = np.zeros((-(-n // BLOCK), pairs, BLOCK, 2), dtype=np.int8)
        head_codes = np.empty(head.shape, dtype=np.int8)
        tail_codes = np.empty(tail.shape, dtype=np.int8)
        step = 4096 * BLOCK
        for start in range(0, n, step):
            part = _quantize(np.asarray(head[start : start + step]), head_scale)
            count = len(part)
            head_codes[start : start + count] = part
            padded = np.zeros((-(-count // BLOCK) * BLOCK, 2 * pairs), dtype=np.int8)
            padded[:count, :h] = part
            first = start // BLOCK
            blocks[first : first + len(padded) // BLOCK] = padded.reshape(-1, BLOCK, pairs, 2).transpose(0, 2, 1, 3)
            tail_codes[start : start + count] = _quantize(np.asarray(tail[start : start + count]), tail_scale)
        return cls(blocks, head_codes, head_scale, tail_codes, tail_scale, n)

    def head_query(self, head_query: np.ndarray) -> tuple[np.ndarray, np.float32]:
        """The head part of a projected query folded with the column scales, as the scan takes it: int16
        values and the factor back to scores (`code_kernels.pack_query`)."""
        return pack_query(np.asarray(head_query, dtype=np.float64) * self.head_scale, self.head_blocks.shape[1])

    def head_scores(self, head_query: np.ndarray) -> np.ndarray:
        """Head scores of every row, the scan shared with the helper thread when large (`in_halves`)."""
        query = self.head_query(head_query)
        blocks = len(self.head_blocks)
        out = np.empty(blocks * BLOCK, dtype=np.float32)
        if self.rows >= SCAN_SPLIT_ROWS:
            half = blocks // 2
            in_halves(lambda: self.scan_head(query, out, 0, half), lambda: self.scan_head(query, out, half, blocks))
        else:
            self.scan_head(query, out, 0, blocks)
        return out[: self.rows]

    def scan_head(self, query: tuple[np.ndarray, np.float32], out: np.ndarray, first_block: int,
                  last_block: int) -> None:
        """Head scores of blocks [first_block, last_block) into out (padded length); `query` from head_query."""
        values, scale = query
        scan_blocks(self.head_blocks, values, scale, out, first_block, last_block)

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
