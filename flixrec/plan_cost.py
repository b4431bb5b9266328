"""The engine's cost model: estimated milliseconds of each plan's stages, by which calibration chooses the
sizes and the planner chooses a plan (docs/performance.md, "Choosing the sizes by cost").

Constants measured at 300k on a quiet 2-core machine; past the CPU caches the scan of every row outgrows
them, so a large index measures that one at build time (`Projection.scan_ms`, flixrec.engine).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flixrec.codes import SCAN_SPLIT_ROWS
from flixrec.rescore import SCAN_THREADS

if TYPE_CHECKING:
    from flixrec.engine import Projection

FULL_SCAN_FROM = 5
"""A projected plan scans every row's head codes (masking the rest) once at least 1/FULL_SCAN_FROM of the
rows pass; below that it gathers the passing rows' codes."""


def gather_cost(megabytes: float) -> float:
    """Estimated ms to gather rows totalling `megabytes` (a random gather slows down sharply once it
    outgrows the CPU caches: docs/performance.md, "Choosing the sizes by cost")."""
    return 0.1 * megabytes * (1.0 + (megabytes / 4.0) ** 2)


def scan_cost(megabytes: float) -> float:
    """Estimated ms to scan `megabytes` of float32 rows in order (memory bandwidth of one core)."""
    return 0.06 * megabytes


def code_scan_cost(values: int) -> float:
    """Estimated ms to scan this many int8 codes: about half the time of float32 values, not a quarter (the
    tail's loop converts each code; the head's integer multiply-add is faster, and a large index measures it,
    `Projection.scan_ms`)."""
    return scan_cost(values * 2e-6)


def scans_every_row(passing: int, n: int) -> bool:
    """Whether a plan reads every row's head (and masks) rather than gathering the passing rows'."""
    return passing * FULL_SCAN_FROM >= n


def stage_cost(n: int, d: int, tail_dims: int, shortlist: int, prefilter: int) -> float:
    """Estimated ms of the stages after the head scan: the tail codes (gathered for the `prefilter`
    rows, or scanned for all when 0) and the exact re-score of the `shortlist` rows."""
    tail = gather_cost(prefilter * tail_dims * 1e-6) if prefilter else code_scan_cost(n * tail_dims)
    return tail + gather_cost(shortlist * d * 4e-6)


def scan_plan_cost(projection: Projection, n: int, d: int, passing: int, shortlist: int, prefilter: int) -> float:
    """Estimated ms of the projected plan for `passing` rows: the scan of every row's head codes (shared by
    two threads when large) or the gather of the passing rows' head codes, then `stage_cost`."""
    if scans_every_row(passing, n):
        read = n
        head_cost = projection.scan_ms or (
            code_scan_cost(n * projection.head.shape[1]) * (0.6 if SCAN_THREADS > 1 and n >= SCAN_SPLIT_ROWS else 1.0))
    else:
        read = passing
        head_cost = gather_cost(passing * projection.head.shape[1] * 1e-6)
    return head_cost + stage_cost(read, d, projection.tail.shape[1], shortlist, prefilter)
