"""Credentials out of anything shown or logged: the one place database URLs are redacted.

Every message that mentions a database URL goes through `redact_url` (a whole value) or
`redact_text` (free text, e.g. a driver's error that may quote the URL).
"""

from __future__ import annotations

import re

MASK = "***"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:(//)?")
_SECRET_PARAM = re.compile(r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|client[_-]?id)=([^&\s;]+)")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:(//)?[^\s'\"@]*@[^\s'\"]*")


def redact_url(url: str) -> str:
    """The URL with its user and password (everything before the last '@') and secret parameters masked.

    Works on malformed values too ('postgres:PW@host/db' -> 'postgres:***@host/db'); a value without
    '@' keeps its text except secret query parameters.
    """
    text = str(url)
    if "@" in text:
        scheme = _SCHEME.match(text)
        start = scheme.end() if scheme else 0
        text = text[:start] + MASK + text[text.rindex("@"):]
    return _SECRET_PARAM.sub(lambda m: f"{m.group(1)}={MASK}", text)


def redact_text(text: str) -> str:
    """Free text (an error message) with every URL-like credential part and secret parameter masked."""
    text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), str(text))
    return _SECRET_PARAM.sub(lambda m: f"{m.group(1)}={MASK}", text)
