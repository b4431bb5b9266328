"""argparse `type=` functions shared by the ingest commands: a bad value is one `error:` line, exit 2, nothing run."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TypeVar

Number = TypeVar("Number", int, float)


def _bounded(kind: Callable[[str], Number], allow_zero: bool, noun: str,
             maximum: float = math.inf) -> Callable[[str], Number]:
    """An argparse type: `kind(text)` when it is finite and positive (or zero, when allowed), at most `maximum`."""

    def parse(text: str) -> Number:
        try:
            value = kind(text) if len(text) <= 40 else None  # 400 digits are a typo, not a number
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not {noun}")
        if value > maximum:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is more than {maximum:g}")
        return value

    parse.__name__ = noun.replace(" ", "_")
    return parse


positive_int = _bounded(int, False, "a positive whole number")
worker_count = _bounded(int, False, "a positive whole number of processes", maximum=64)
batch_size = _bounded(int, False, "a positive whole number of titles", maximum=100_000)
non_negative_int = _bounded(int, True, "a whole number of 0 or more")
positive_float = _bounded(float, False, "a positive number")
non_negative_float = _bounded(float, True, "a number of 0 or more")
