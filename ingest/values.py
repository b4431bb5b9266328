"""Lenient parsers for the loosely typed fields of third-party records (CSV cells, JSON values).

One rule for every loader (the demo CSV and JSON, the Trakt API): a value that does not fit the field
becomes None, never a guess and never an exception.

    whole_number("162") == whole_number("162.0") == whole_number(162.0) == 162
    whole_number("3.7") is None        a fraction is not a count of minutes, votes or ids: no truncation
    whole_number(True) is None         booleans are not numbers here
    number("7.2") == 7.2;  number("nan") is None;  number("inf") is None
    text("  Heat ") == "Heat";  text("") is None;  text(1917) == "1917";  text([..]) is None
"""

from __future__ import annotations

import math
from typing import Any


def number(value: Any) -> float | None:
    """A finite float from a number or numeric string; None for anything else (bool, NaN, inf, text)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        parsed = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        return None
    return parsed if math.isfinite(parsed) else None


def whole_number(value: Any) -> int | None:
    """An int from a whole number ("162", "162.0", 162.0); None for fractions, bools, NaN and non-numbers."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())  # exact for integers of any size
        except ValueError:
            pass
    parsed = number(value)
    if parsed is None or not parsed.is_integer():
        return None
    return int(parsed)


def text(value: Any) -> str | None:
    """Stripped text from a string or a number; None for empty text, None, bools and containers."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(value)
    return None
