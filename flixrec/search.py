"""Title search: exact case-insensitive match first (every title that shares the name), then rapidfuzz.

Names searched: titles, original titles and aliases (the anime catalogue's English/Chinese/Japanese names).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from rapidfuzz import fuzz, process

from flixrec.catalog import Catalog
from flixrec.models import Match

MAX_QUERY_CHARS = 200
FUZZY_CUTOFF = 70.0


def normalise_name(text: str) -> str:
    """Casefolded, accent-insensitive, punctuation-light form of a name for matching."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[\s\u3000]+", " ", text)
    return text.strip(" \t\n\"'“”‘’.,!?")


class TitleSearch:
    """An in-memory name index over the catalogue (rebuilt when the catalogue changes)."""

    def __init__(self, catalog: Catalog, names: Iterable[tuple[str, str, str | None, list[str]]] | None = None):
        self.catalog = catalog
        self._names: list[str] = []
        self._owners: list[str] = []
        self._exact: dict[str, list[str]] = {}
        self._shown: dict[tuple[str, str], str] = {}
        for title_id, title, original, aliases in names if names is not None else catalog.iter_names():
            seen: set[str] = set()
            for name in (title, original, *aliases):
                if not name:
                    continue
                key = normalise_name(name)
                if not key or key in seen:
                    continue
                seen.add(key)
                self._names.append(key)
                self._owners.append(title_id)
                self._exact.setdefault(key, []).append(title_id)
                self._shown[(title_id, key)] = name

    def __len__(self) -> int:
        return len(self._names)

    def search_titles(self, query: str, limit: int = 10) -> list[Match]:
        """Ranked matches for a typed name: every exact match (most voted first), then fuzzy ones.

        An empty or blank query gives no matches; very long input is cut to 200 characters.
        """
        key = normalise_name((query or "")[:MAX_QUERY_CHARS])
        if not key or limit <= 0:
            return []
        found: dict[str, tuple[float, str, str]] = {}  # title_id -> (score, kind, matched key)
        for title_id in self._exact.get(key, ()):
            found[title_id] = (100.0, "exact", key)
        if len(found) < limit:
            hits = process.extract(
                key, self._names, scorer=fuzz.WRatio, limit=limit * 5, score_cutoff=FUZZY_CUTOFF,
                processor=None,
            )
            for name, score, row in hits:
                title_id = self._owners[row]
                if title_id not in found or found[title_id][0] < score and found[title_id][1] != "exact":
                    found[title_id] = (float(score), "fuzzy", name)
        titles = self.catalog.find_titles(found, with_people=False)
        matches = [
            Match(titles[tid], score, kind, self._shown.get((tid, name), name))
            for tid, (score, kind, name) in found.items()
            if tid in titles
        ]
        matches.sort(key=lambda m: (m.kind != "exact", -m.score, -(m.title.votes or 0), m.title.title_id))
        return matches[:limit]
