"""Title search: exact case-insensitive match first (every title that shares the name), then forgiving matches.

Names searched: titles, original titles and aliases (the anime catalogue's English/Chinese/Japanese names).
A fuzzy name scores by the whole name (typos: "interstelar") and word by word (each typed word against the
name's closest word, typo- and prefix-tolerant: "harry poter", "the dark knigth", "interstel"), so a name
that holds every typed word outranks a similar-looking name that holds none; popular titles come first
among near-equal scores.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable

from rapidfuzz import fuzz, process, utils

from flixrec.catalog import Catalog
from flixrec.models import Match

MAX_QUERY_CHARS = 200
FUZZY_CUTOFF = 70.0
WORD_CUTOFF = 72.0
"""A typed word counts as found in a name when its best word there scores this much (one typo in 6 letters)."""
PREFIX_SCORE = 95.0
"""A typed word that starts a name's word ("interstel" -> "interstellar"): what you get while typing."""
EXTRA_WORDS_WEIGHT = 0.15
"""How much a name's words that were not typed lower its score ("Dark Knight" prefers the film of that name)."""
POPULARITY_BONUS = 0.6
"""Points per decade of votes added when ranking (13,000 votes: +2.5), so near-equal names list the known film first."""
MAX_CANDIDATES = 4000


def normalise_name(text: str) -> str:
    """Casefolded, accent-insensitive, punctuation-light form of a name for matching."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[\s\u3000]+", " ", text)
    return text.strip(" \t\n\"'“”‘’.,!?")


def fuzzy_key(text: str) -> str:
    """The form names are fuzzy-matched in: no punctuation, no leading article ("The Avengers" -> "avengers")."""
    key = utils.default_process(normalise_name(text))
    return re.sub(r"^(the|a|an) ", "", key)


def word_similarity(typed: str, word: str) -> float:
    """How well one typed word matches one word of a name (0-100): equal, a prefix, or a close spelling."""
    if typed == word:
        return 100.0
    if len(typed) >= 3 and word.startswith(typed):
        return PREFIX_SCORE
    if len(typed) < 4:
        return 0.0
    return fuzz.ratio(typed, word)


def word_score(typed: list[str], words: list[str]) -> float:
    """Word-level match of a name (0-100): the typed words' best matches, weighted by length, times coverage."""
    if not typed or not words:
        return 0.0
    total, used = 0.0, set()
    for token in typed:
        best, best_at = 0.0, -1
        for at, word in enumerate(words):
            similarity = word_similarity(token, word)
            if similarity > best:
                best, best_at = similarity, at
        if best >= WORD_CUTOFF:
            total += best * len(token)
            used.add(best_at)
    found = total / sum(len(t) for t in typed)
    return found * (1 - EXTRA_WORDS_WEIGHT + EXTRA_WORDS_WEIGHT * len(used) / len(words))


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
        self._postings: dict[str, list[int]] = {}  # word -> rows of the names holding it
        for title_id, title, original, aliases in names if names is not None else catalog.iter_names():
            seen: set[str] = set()
            for position, name in enumerate((title, original, *aliases)):
                if not name:
                    continue
                key = normalise_name(name)
                if not key or key in seen:
                    continue
                seen.add(key)
                row = len(self._names)
                self._names.append(key)
                self._fuzzy.append(fuzzy_key(name))
                self._owners.append(title_id)
                self._exact.setdefault(key, []).append(title_id)
                self._shown[(title_id, key)] = name
                if position < 2:
                    self._primary.add((title_id, key))
                for word in set(self._fuzzy[row].split()):
                    self._postings.setdefault(word, []).append(row)
        self._words = list(self._postings)

    def __len__(self) -> int:
        return len(self._names)

    def _word_candidates(self, typed: list[str]) -> dict[int, int]:
        """Rows of names holding a word close to a typed word, with how many typed words they hold."""
        hits: dict[int, int] = {}
        for token in dict.fromkeys(typed):
            words = {token} if token in self._postings else set()
            if len(token) >= 3:
                words.update(w for w in self._words if w.startswith(token))
            if len(token) >= 4:
                close = process.extract(token, self._words, scorer=fuzz.ratio, score_cutoff=WORD_CUTOFF,
                                        limit=50, processor=None)
                words.update(w for w, _, _ in close)
            for word in words:
                for row in self._postings.get(word, ()):
                    hits[row] = hits.get(row, 0) + 1
        if len(hits) > MAX_CANDIDATES:  # a very common word: keep the names holding the most typed words
            hits = dict(sorted(hits.items(), key=lambda item: -item[1])[:MAX_CANDIDATES])
        return hits

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
        if wanted:
            scores: dict[int, float] = {}
            for _, raw, row in process.extract(wanted, self._fuzzy, scorer=fuzz.ratio, limit=limit * 5,
                                               score_cutoff=FUZZY_CUTOFF, processor=None):
                scores[row] = raw
            typed = wanted.split()
            for row in self._word_candidates(typed):
                scores[row] = max(scores.get(row, 0.0), word_score(typed, self._fuzzy[row].split()))
            for row, raw in scores.items():
                title_id, score = self._owners[row], round(raw, 1)
                if score < FUZZY_CUTOFF:
                    continue
                if title_id not in found or (found[title_id][1] != "exact" and found[title_id][0] < score):
                    found[title_id] = (score, "fuzzy", self._names[row])
        if len(found) > limit * 5:  # details only for the best: the popularity order needs the votes
            found = dict(sorted(found.items(), key=lambda item: (item[1][1] != "exact", -item[1][0]))[: limit * 5])
        titles = self.catalog.find_titles(found, with_people=False)
        matches = [
            Match(titles[tid], score, kind, self._shown.get((tid, name), name))
            for tid, (score, kind, name) in found.items()
            if tid in titles
        ]
        matches.sort(key=lambda m: (m.kind != "exact", -(m.score + popularity(m.title.votes)), m.title.title_id))
        return matches[:limit]


def popularity(votes: int | None) -> float:
    """The ranking bonus of a title's vote count (see POPULARITY_BONUS); 0 when unknown."""
    return POPULARITY_BONUS * math.log10(1 + votes) if votes else 0.0
