"""argparse `type=` functions shared by the ingest commands: a bad value is one `error:` line, exit 2, nothing run."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TypeVar

Number = TypeVar("Number", int, float)


def _bounded(kind: Callable[[str], Number], allow_zero: bool, noun: str) -> Callable[[str], Number]:
    """An argparse type: `kind(text)` when it is finite and positive (or zero, when allowed)."""

    def parse(text: str) -> Number:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}")
        return value

    parse.__name__ = noun.replace(" ", "_")
    return parse


positive_int = _bounded(int, False, "a positive whole number")
non_negative_int = _bounded(int, True, "a whole number of 0 or more")
positive_float = _bounded(float, False, "a positive number")
non_negative_float = _bounded(float, True, "a number of 0 or more")
