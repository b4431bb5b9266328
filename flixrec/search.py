"""Title search: exact case-insensitive match first (every title that shares the name), then rapidfuzz.

Names searched: titles, original titles and aliases (the anime catalogue's English/Chinese/Japanese names).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from rapidfuzz import fuzz, process, utils

from flixrec.catalog import Catalog
from flixrec.models import Match

MAX_QUERY_CHARS = 200
FUZZY_CUTOFF = 70.0
SUBSET_WEIGHT = 0.92
"""A name that contains every typed word ("avengers" in "Avengers: Age of Ultron") ranks just below a
near-identical spelling, so typos and partial names both find their title."""


def normalise_name(text: str) -> str:
    """Casefolded, accent-insensitive, punctuation-light form of a name for matching."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[\s\u3000]+", " ", text)
    return text.strip(" \t\n\"'“”‘’.,!?")


def fuzzy_key(text: str) -> str:
    """The form names are fuzzy-matched in: no punctuation, no leading article ("The Avengers" -> "avengers")."""
    key = utils.default_process(normalise_name(text))
    return re.sub(r"^(the|a|an) ", "", key)


class TitleSearch:
    """An in-memory name index over the catalogue (rebuilt when the catalogue changes)."""

    def __init__(self, catalog: Catalog, names: Iterable[tuple[str, str, str | None, list[str]]] | None = None):
        self.catalog = catalog
        self._names: list[str] = []
        self._fuzzy: list[str] = []
        self._owners: list[str] = []
        self._exact: dict[str, list[str]] = {}
        self._shown: dict[tuple[str, str], str] = {}
        self._primary: set[tuple[str, str]] = set()  # (title_id, key) where key is a title, not an alias
        for title_id, title, original, aliases in names if names is not None else catalog.iter_names():
            seen: set[str] = set()
            for position, name in enumerate((title, original, *aliases)):
                if not name:
                    continue
                key = normalise_name(name)
                if not key or key in seen:
                    continue
                seen.add(key)
                self._names.append(key)
                self._fuzzy.append(fuzzy_key(name))
                self._owners.append(title_id)
                self._exact.setdefault(key, []).append(title_id)
                self._shown[(title_id, key)] = name
                if position < 2:
                    self._primary.add((title_id, key))

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
            # a title's own name outranks an alias it shares with its sequels and spin-offs
            found[title_id] = (100.0 if (title_id, key) in self._primary else 99.0, "exact", key)
        wanted = fuzzy_key(key)
        if len(found) < limit and wanted:
            for scorer, weight in ((fuzz.ratio, 1.0), (fuzz.token_set_ratio, SUBSET_WEIGHT)):
                hits = process.extract(
                    wanted, self._fuzzy, scorer=scorer, limit=limit * 5, score_cutoff=FUZZY_CUTOFF / weight,
                    processor=None,
                )
                for _, raw, row in hits:
                    title_id, score = self._owners[row], round(raw * weight, 1)
                    if title_id not in found or (found[title_id][1] != "exact" and found[title_id][0] < score):
                        found[title_id] = (score, "fuzzy", self._names[row])
        titles = self.catalog.find_titles(found, with_people=False)
        matches = [
            Match(titles[tid], score, kind, self._shown.get((tid, name), name))
            for tid, (score, kind, name) in found.items()
            if tid in titles
        ]
        matches.sort(key=lambda m: (m.kind != "exact", -m.score, -(m.title.votes or 0), m.title.title_id))
        return matches[:limit]
