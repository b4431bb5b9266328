"""The core's boundary checks: every argument an edge passes to `FlixRec` is checked here, once.

A bad value becomes `InvalidRequest` with a one-line message naming it and its valid range; an id that
cannot exist (not text, lone surrogates, NUL, far too long) is simply not found. Free text is made
safe to encode (lone surrogates, e.g. from undecodable CLI arguments, become U+FFFD); other characters,
NUL included, are the model's to read as before.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

from flixrec.errors import InvalidRequest, TitleNotFound, shown_value
from flixrec.models import Filters

MAX_K = 500
"""The longest ranked list a call may ask for (similar titles, free text, franchise entries, search)."""
MAX_ID_CHARS = 200
"""No stored title id is longer (Trakt/TMDB-based ids are a few dozen characters)."""
MAX_BOUND = 10**15
"""A numeric filter bound beyond this magnitude is refused (years, minutes, votes and ratings are far smaller)."""
BOUND_FIELDS = ("year_min", "year_max", "runtime_min", "runtime_max", "min_votes", "min_rating")
SET_FIELDS = ("genres_include", "genres_exclude", "languages", "media_types", "exclude_ids")


def check_k(k: Any, name: str = "k") -> int:
    """k as an int in 1..MAX_K, else InvalidRequest (bools, floats, NaN and strings are refused)."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise InvalidRequest(f"{name} must be a whole number from 1 to {MAX_K}, not {shown_value(k, 40)}")
    value = int(k)
    if not 1 <= value <= MAX_K:
        shown = shown_value(value, 40) if abs(value) < 10**30 else "a number that long"
        raise InvalidRequest(f"{name} must be from 1 to {MAX_K}, not {shown}")
    return value


def check_title_id(title_id: Any) -> str:
    """A title id that could be stored; TitleNotFound for text no title can have, InvalidRequest for non-text."""
    if not isinstance(title_id, str):
        raise InvalidRequest(f"a title id must be text, not {type(title_id).__name__}")
    if not title_id or len(title_id) > MAX_ID_CHARS or "\x00" in title_id or not _encodable(title_id):
        raise TitleNotFound(title_id)
    return title_id


def clean_text(text: Any, name: str = "text") -> str:
    """Free text safe for the model and the name search: lone surrogates as U+FFFD (text never reaches SQL)."""
    if text is None:
        return ""
    if not isinstance(text, str):
        raise InvalidRequest(f"{name} must be text, not {type(text).__name__}")
    if not _encodable(text):
        text = "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return text


def check_filters(filters: Any) -> Filters | None:
    """Filters whose bounds are finite numbers within MAX_BOUND and whose sets hold text, else InvalidRequest."""
    if filters is None:
        return None
    if not isinstance(filters, Filters):
        raise InvalidRequest(f"filters must be a Filters, not {type(filters).__name__}")
    for field in BOUND_FIELDS:
        bound = getattr(filters, field)
        if bound is not None:
            _check_bound(field, bound)
    cleaned: dict[str, frozenset[str]] = {}
    for field in SET_FIELDS:
        items = getattr(filters, field)
        if any(not isinstance(item, str) for item in items):
            raise InvalidRequest(f"filter {field} must hold text only")
        if not all(_encodable(item) for item in items):
            # no genre, language or id holds a lone surrogate: U+FFFD in its place matches nothing either
            cleaned[field] = frozenset(clean_text(item) for item in items)
    return dataclasses.replace(filters, **cleaned) if cleaned else filters


def _check_bound(field: str, bound: Any) -> None:
    """One numeric bound: a real number (not a bool), finite, |bound| <= MAX_BOUND."""
    if isinstance(bound, bool) or not isinstance(bound, numbers.Real):
        raise InvalidRequest(f"filter {field} must be a number, not {shown_value(bound, 40)}")
    if isinstance(bound, numbers.Integral):
        ok = abs(int(bound)) <= MAX_BOUND
    else:
        ok = math.isfinite(float(bound)) and abs(float(bound)) <= MAX_BOUND
    if not ok:
        shown = shown_value(bound, 40) if not isinstance(bound, numbers.Integral) or abs(int(bound)) < 10**30 \
            else "a number that long"
        raise InvalidRequest(f"filter {field} must be a finite number of at most {MAX_BOUND:.0e} in size, not {shown}")


def _encodable(text: str) -> bool:
    """Whether text encodes as UTF-8 (no lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
