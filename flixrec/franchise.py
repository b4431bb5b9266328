"""Franchise detection: which titles are entries of the same franchise as a given title.

Every signal the catalogue has is used, and combined so that one generic coincidence (a common word,
a keyword such as "alien", a character called "Jack") never makes two titles a franchise.

Strong signals, each enough on its own:
- the same base name once sequel numbers, "Part II" and subtitles are stripped ("Toy Story 2",
  "Alien³", "Scream 4"; one or two Latin letters, "Re:Zero" / "Re:Creators", only as a weak signal),
  or a base name of two or more words that starts the other's name;
- the same actor in the same role in both (the exact character, or shared rare name words:
  "Ripley" / "Ellen Ripley"), for two such actors, or one with a rare name;
- a character of two or more words that the same few actors play across titles ("James Bond");
- the same external series id within one source (the seasons of one show).

Weak signals, enough only in pairs or with close overviews (cosine of the title vectors):
a one-word base name the other extends ("Batman" / "Batman Forever"), a shared leading word pair
("Indiana Jones and ..."), a base name of two or more words inside the other's name ("Rise of the Planet
of the Apes"), and a keyword naming the other's base name ("jurassic park" on Jurassic World). A base
name that is a topic rather than a franchise ("wall street", "time machine": a keyword of more titles
without it in their names than with it) links only titles of that same base name, never one that holds
it inside a longer name: The Wolf of Wall Street is not of Wall Street's franchise, nor Hot Tub Time
Machine of The Time Machine's.
"""

from __future__ import annotations

import collections
import dataclasses
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from flixrec.franchise_names import (
    ROLE_WORDS, STOP_WORDS, character_names, franchise_key, leading_pair, name_words, normalise_name,
)
from flixrec.franchise_links import Besides, KnownLinks, everyone
from flixrec.models import Title
from flixrec.postings import PostingsBuilder

Similarity = Callable[[str, Sequence[str]], Sequence[float | None]]
"""(title id, other ids) -> each other's text similarity to the title, None where unknown."""
KeyLinks = tuple[tuple[str, ...], tuple[tuple[str, str], ...]]
"""What a base name links: (titles linked by name, (title, kind) weak signals)."""

RARE_NAME_TITLES = 12
"""A character-name word shared by at most this many titles' casts is rare enough to identify a role."""
GENERIC_ACTOR_SHARE = 0.6
"""A character most of whose titles cast a different actor is a generic role (Bartender, Santa Claus)."""
WEAK_TEXT_SIMILARITY = 0.5
"""One weak name signal counts when the two titles' vectors are at least this close."""
MAX_NAME_WORDS = 8
SHORT_NAME = 2
"""A Latin base name this short ("re", "k") links its namesakes only as a weak signal."""
KEY_LINKS = 1_000_000
"""Links of base names kept between calls (`_links_of_key`; tens of MB at most)."""
BESIDES_FROM = 64
"""A title with this many links or more reads its namesakes' links besides its own (`Besides`): each is
otherwise as long as the family; below it, each namesake's whole links are kept for later calls."""
TOPIC_TITLES = 2
"""A base name given as a keyword to at least this many titles not named by it can be a topic (see _is_topic)."""


@dataclasses.dataclass(frozen=True)
class FranchiseRecord:
    """What franchise detection reads of a title."""

    title_id: str
    names: tuple[str, ...]  # title, original title, aliases
    keywords: tuple[str, ...] = ()
    characters: tuple[tuple[str, str], ...] = ()  # (person_id, credited character)
    series_key: tuple[str, str, int] | None = None  # (source, kind, external id) of a show's series


class FranchiseIndex:
    """Inverted indexes over names, characters and keywords of the whole catalogue.

    Built to stay small at 300k titles: the name fragments (millions of them) are `Postings`, the other
    indexes lists, and what is kept per title tuples of shared (interned) strings, never an empty dict.
    The titles' links are found at query time (`related`).
    """

    def __init__(self, records: Iterable[FranchiseRecord]):
        self._ids: list[str] = []
        self._keys: dict[str, tuple[str, ...]] = {}
        self._primary_names: dict[str, tuple[str, ...]] = {}
        self._keywords: dict[str, tuple[str, ...]] = {}
        self._characters: dict[str, dict[str, frozenset[str]]] = {}
        self._actor_words: dict[str, dict[str, frozenset[str]]] = {}
        self._series: dict[str, tuple[str, str, int]] = {}
        self._strings: dict[str, str] = {}
        self._grams = PostingsBuilder()
        self.by_key: dict[str, list[str]] = collections.defaultdict(list)
        self.by_first_word: dict[str, list[str]] = collections.defaultdict(list)
        self.by_lead: dict[str, list[str]] = collections.defaultdict(list)
        self.by_character: dict[str, list[str]] = collections.defaultdict(list)
        self.by_keyword: dict[str, list[str]] = collections.defaultdict(list)
        self.by_actor: dict[str, list[tuple[str, frozenset[str]]]] = collections.defaultdict(list)
        self.by_series: dict[tuple[str, str, int], list[str]] = collections.defaultdict(list)
        actors_of: dict[str, set[str]] = collections.defaultdict(set)
        for record in records:
            self._add(record, actors_of)
        self.by_gram = self._grams.build(self._ids)
        del self._grams
        for index in (self.by_key, self.by_first_word, self.by_lead, self.by_character, self.by_keyword, self.by_actor,
                      self.by_series):
            index.default_factory = None  # a lookup never adds a key
        self._strings.clear()
        word_titles = collections.Counter(w for per in self._actor_words.values() for words in per.values() for w in words)
        self._rare_words = {w for w, count in word_titles.items() if count <= RARE_NAME_TITLES}
        self._generic = {
            c for c, titles in self.by_character.items()
            if len(titles) >= 3 and len(actors_of[c]) / len(titles) > GENERIC_ACTOR_SHARE
        }
        self._played_by_few = {
            c for c, titles in self.by_character.items()
            if c not in self._generic and len(c.split()) >= 2 and len(actors_of[c]) / len(titles) <= GENERIC_ACTOR_SHARE
        }
        self._topics = frozenset(key for key in self.by_keyword if " " in key and key in self.by_key and self._is_topic(key))
        self._key_links = KnownLinks(KEY_LINKS, size=lambda links: len(links[0]) + len(links[1]))

    def _is_topic(self, key: str) -> bool:
        """Whether a base name is a subject more than a franchise: a keyword of at least TOPIC_TITLES titles
        without it in their names, and of more such titles than of titles with it in their names."""
        tagged = self.by_keyword[key]
        outside = sum(not any(key in name for name in self._primary_names[t]) for t in tagged)
        return outside >= TOPIC_TITLES and outside > len(tagged) - outside

    @staticmethod
    def _file(index: dict[str, list[str]], key: str, title_id: str) -> None:
        """Add a title under a key once (a title's entries are added one after another)."""
        titles = index[key]
        if not titles or titles[-1] != title_id:
            titles.append(title_id)

    def _shared(self, text: str) -> str:
        """One string object for equal strings (keywords and names repeat across titles)."""
        return self._strings.setdefault(text, text)

    def _add(self, record: FranchiseRecord, actors_of: dict[str, set[str]]) -> None:
        tid, row = record.title_id, len(self._ids)
        self._ids.append(tid)
        names = tuple(n for n in record.names if n)
        keys = tuple(sorted({self._shared(franchise_key(n)) for n in names[:10]} - {""}))
        self._keys[tid] = keys
        self._primary_names[tid] = tuple(normalise_name(n) for n in names[:2])
        for key in keys:
            self._file(self.by_key, key, tid)
            parts = key.split()
            if len(parts) >= 2:
                self._file(self.by_first_word, parts[0], tid)
        for name in names[:2]:
            words = name_words(name)[:MAX_NAME_WORDS]
            for i in range(len(words)):
                for j in range(i + 2, len(words) + 1):
                    self._grams.add(" ".join(words[i:j]), row)
            lead = leading_pair(name)
            if lead:
                self._file(self.by_lead, lead, tid)
        keywords = tuple(sorted({self._shared(normalise_name(k)) for k in record.keywords}))
        self._keywords[tid] = keywords
        for keyword in keywords:
            self._file(self.by_keyword, keyword, tid)
        characters: dict[str, set[str]] = {}
        actor_words: dict[str, set[str]] = {}
        for person_id, credit in record.characters:
            for name in sorted(character_names(credit)):  # sorted: the same order of links in every process
                characters.setdefault(self._shared(name), set()).add(person_id)
                actors_of[name].add(person_id)
                words = {self._shared(w) for w in re.findall(r"\w+", name) if len(w) >= 3 and w not in ROLE_WORDS}
                if words:
                    actor_words.setdefault(person_id, set()).update(words)
        if characters:
            self._characters[tid] = {name: frozenset(actors) for name, actors in characters.items()}
            for name in characters:
                self._file(self.by_character, name, tid)
        if actor_words:
            self._actor_words[tid] = {person_id: frozenset(words) for person_id, words in actor_words.items()}
            for person_id, words in self._actor_words[tid].items():
                self.by_actor[person_id].append((tid, words))
        if record.series_key:
            self._series[tid] = record.series_key
            self._file(self.by_series, record.series_key, tid)

    def __contains__(self, title_id: str) -> bool:
        return title_id in self._keys

    def name_keys(self, title_id: str) -> tuple[str, ...]:
        """The title's base names ("die hard" for "Die Hard 2"); titles sharing one are linked by name."""
        return self._keys.get(title_id, ())

    def related(self, title_id: str, similarity: Similarity | None = None,
                besides: Besides | None = None) -> dict[str, str]:
        """The titles of `title_id`'s franchise: title_id -> the reason ('name', 'character', ...).

        `similarity(title_id, others)`: the text similarity of each of `others` to the title (None where
        unknown), which a title linked by a single weak signal needs to reach WEAK_TEXT_SIMILARITY.
        `besides`: titles the caller has already, left out of the answer (otherwise the same, in the same
        order) and out of the long name lists read on the way.
        """
        if title_id not in self._keys:
            return {}
        strong: dict[str, str] = {}
        weak: dict[str, set[str]] = collections.defaultdict(set)
        self._by_name(title_id, strong, weak, besides or everyone)
        self._by_character(title_id, strong)
        self._by_keyword(title_id, strong, weak)
        series = self._series.get(title_id)
        if series:
            for other in self.by_series[series]:
                strong.setdefault(other, "series")
        have = besides.have if besides is not None else {}
        found = {other: why for other, why in strong.items() if other not in have} if have else dict(strong)
        unsure = []
        for other, kinds in weak.items():
            if other in strong or other in have:
                continue
            if len(kinds) >= 2:
                found[other] = "name"
            elif similarity is not None and kinds != {"keyword"}:
                unsure.append(other)
        if unsure:  # one weak signal: the text must be close too (one batched comparison)
            for other, score in zip(unsure, similarity(title_id, unsure)):
                if score is not None and score >= WEAK_TEXT_SIMILARITY:
                    found[other] = "name"
        found.pop(title_id, None)
        return found

    def franchise(self, title_id: str, similarity: Similarity | None = None,
                  known: KnownLinks | None = None) -> dict[str, str]:
        """The title's franchise: its own links (`related`) and one hop further, by links of the same kind.

        Sequels often link only through the first film ("Beneath" and "Battle for the Planet of the Apes"
        both name "Planet of the Apes"), so a linked title's links count too, but only those of the kind
        that links it to the title, and by name only through the film both name: a crossover linked by its
        name ("Batman: The Dark Knight Returns") does not bring in the franchise its characters come from
        (Superman), nor "Doraemon: Nobita's Little Star Wars" the Doraemon films into Star Wars' row or Star
        Wars into theirs.

        `known`: titles' links found before with this `similarity`, kept for the next call: the entries of a
        large franchise each link most of the others, so the next entry asked reuses them.
        """
        def related(tid: str) -> dict[str, str]:
            find = lambda t: self.related(t, similarity)  # noqa: E731
            return find(tid) if known is None else known.get(tid, find)

        own = related(title_id)
        besides = Besides(own) if len(own) >= BESIDES_FROM else None
        found: dict[str, str] = {}
        namesakes_of: dict[tuple[str, ...], set[str]] = {}  # the entries of a large franchise share their base names
        for linked, reason in reversed(list(own.items())):  # updated last, the first linked title's reason wins
            if reason != "name":
                found.update((other, why) for other, why in related(linked).items() if why == reason)
            elif self._names(title_id, linked):
                # a namesake's links are mostly the title's own, or found already by name
                theirs = related(linked) if besides is None else self.related(linked, similarity, besides)
                added = [other for other, why in theirs.items()
                         if why == "name" and other not in own and found.get(other) != "name"]
                if not added:
                    continue
                keys = self._keys[linked]
                namesakes = namesakes_of.get(keys)
                if namesakes is None:
                    namesakes = namesakes_of[keys] = {other for key in keys if not _too_short(key)
                                                      for other in self.by_key[key]}
                found.update((other, "name") for other in added if other in namesakes or self._names(other, linked))
        found.update(own)  # the title's own links keep their reasons
        found.pop(title_id, None)
        return found

    def _names(self, tid: str, other: str) -> bool:
        """Whether a name of `tid` holds a base name of `other` ("Beneath the Planet of the Apes" / "Planet of the Apes")."""
        return any(key in name for key in self._keys.get(other, ()) for name in self._primary_names.get(tid, ()))

    def _by_name(self, tid: str, strong: dict[str, str], weak: dict[str, set[str]],
                 fresh: Callable[..., Sequence[Any]]) -> None:
        """Name links. Runs first, so every strong link here is a "name" one: a title already linked is
        skipped (its weak signals would not count) and whole lists join at once. `fresh`: the lists without
        the titles the caller has already."""
        for key in self._keys[tid]:
            named, signals = self._key_links.get(key, self._links_of_key)
            strong.update(dict.fromkeys(fresh(named), "name"))
            for other, kind in fresh(signals, pairs=True):
                if other not in strong:
                    weak[other].add(kind)
        for name in self._primary_names[tid]:
            words = name_words(name)[:MAX_NAME_WORDS]
            for i in range(len(words)):
                for j in range(i + 2, len(words) + 1):
                    gram = words[i:j]
                    key = " ".join(gram)
                    if key not in self.by_key or sum(w not in STOP_WORDS for w in gram) < 2 or key in self._topics:
                        continue
                    if i == 0 or (i == 1 and words[0] in ("the", "a", "an")):
                        strong.update(dict.fromkeys(fresh(self.by_key[key]), "name"))
                    else:
                        _add_weak(weak, strong, fresh(self.by_key[key]), "contains")
            lead = leading_pair(name)
            if lead:
                _add_weak(weak, strong, fresh(self.by_lead.get(lead, ())), "lead")

    def _links_of_key(self, key: str) -> KeyLinks:
        """The name links a base name gives whichever title holds it: the titles it links strongly, in order,
        and (title, kind) weak signals (those of titles it links strongly too are ignored by `_by_name`)."""
        if _too_short(key):  # "Re:Zero", "Re:Creators", "RE:Cyborg 009": only with a close text
            return (), tuple((other, "short") for other in self.by_key[key])
        strong = dict.fromkeys(self.by_key[key], "name")
        weak: list[tuple[str, str]] = []
        parts = key.split()
        if sum(w not in STOP_WORDS for w in parts) >= 2 and key not in self._topics:
            for other in self.by_gram.get(key, ()):
                if other in strong:
                    continue
                if any(k.startswith(key) for k in self._keys[other]):
                    strong[other] = "name"
                else:
                    weak.append((other, "contains"))
        elif len(parts) == 1 and len(key) >= 4:
            weak.extend((other, "extends") for other in self.by_first_word.get(key, ()))
        if len(key) >= 4:
            for plural in (key + "s", key[:-1] if key.endswith("s") else None):
                weak.extend((other, "plural") for other in self.by_key.get(plural or "", ()))
        if len(parts) >= 2 and len(parts[0]) >= 4:
            weak.extend((other, "extends") for other in self.by_key.get(parts[0], ()))
        return tuple(strong), tuple(weak)

    def _by_character(self, tid: str, strong: dict[str, str]) -> None:
        for name, actors in self._characters.get(tid, {}).items():
            for other in self.by_character[name]:
                if other == tid:
                    continue
                if actors & self._characters.get(other, {}).get(name, frozenset()) or name in self._played_by_few:
                    strong.setdefault(other, "character")
        links: collections.Counter[str] = collections.Counter()
        for person_id, words in self._actor_words.get(tid, {}).items():
            rare = words & self._rare_words
            for other, other_words in self.by_actor[person_id]:
                if other != tid and words & other_words:
                    links[other] += 2 if rare & other_words else 1
        for other, count in links.items():
            if count >= 2:
                strong.setdefault(other, "character")

    def _by_keyword(self, tid: str, strong: dict[str, str], weak: dict[str, set[str]]) -> None:
        def telling(word: str) -> bool:
            return len(word) >= 4 and (" " in word or len(self.by_keyword.get(word, ())) <= RARE_NAME_TITLES)

        mine = frozenset(self._keywords[tid])
        for key in self._keys[tid]:
            for other in self.by_keyword.get(key, ()):
                if self._much_in_common(mine, frozenset(self._keywords[other]), key):
                    strong.setdefault(other, "keyword")
                elif telling(key):
                    weak[other].add("keyword")
        for keyword in self._keywords[tid]:  # sorted: the same reasons in every process
            for other in self._extending(keyword):
                if self._much_in_common(mine, frozenset(self._keywords[other]), keyword):
                    strong.setdefault(other, "keyword")
                elif telling(keyword) and keyword in self._keys[other]:
                    weak[other].add("keyword")

    def _extending(self, word: str) -> list[str]:
        """Titles whose base name is `word` or starts with it ("batman" -> Batman Begins), in catalogue order."""
        if len(word) < 4:
            return []
        found = dict.fromkeys(self.by_key.get(word, ()))
        if " " not in word:
            found.update(dict.fromkeys(t for t in self.by_first_word.get(word, ())
                                       if any(k.split()[0] == word for k in self._keys[t])))
        return list(found)

    @staticmethod
    def _much_in_common(a: frozenset[str], b: frozenset[str], naming: str) -> bool:
        """Whether two keyword sets share much besides the keyword naming the franchise."""
        shared = (a & b) - {naming}
        return len(shared) >= 4 and len(shared) >= 0.3 * min(len(a), len(b))


def _too_short(key: str) -> bool:
    """Whether a base name is too short to name a franchise alone: SHORT_NAME Latin characters or fewer
    (what is left of "Re:Zero" or "K: Return of Kings" before the colon)."""
    return len(key) <= SHORT_NAME and key.isascii()


def _add_weak(weak: dict[str, set[str]], strong: dict[str, str], others: Iterable[str], kind: str) -> None:
    """Note a weak signal for each of `others` not already strongly linked (there it would not count)."""
    for other in others:
        if other not in strong:
            weak[other].add(kind)


def franchise_record(title: Title) -> FranchiseRecord:
    """What franchise detection reads of a title."""
    series = (title.source, title.media_type, title.tmdb_id) if title.tmdb_id else None
    characters = tuple((p.person_id, p.character) for p in title.people if p.role == "cast" and p.character)
    return FranchiseRecord(
        title_id=title.title_id,
        names=tuple(n for n in (title.title, title.original_title, *title.aliases) if n),
        keywords=title.keywords,
        characters=characters,
        series_key=series,
    )


def same_franchise(a: Title, b: Title) -> bool:
    """Whether two titles look like entries of one franchise, judged on their own (names count alone)."""
    index = FranchiseIndex([franchise_record(a), franchise_record(b)])
    return b.title_id in index.related(a.title_id, similarity=lambda _, others: [1.0] * len(others))


def cosine_between(matrix: np.ndarray, position: Callable[[str], int | None]) -> Similarity:
    """A similarity function over the rows of a unit-row matrix, for `FranchiseIndex.related`."""

    def similarity(title_id: str, others: Sequence[str]) -> list[float | None]:
        row = position(title_id)
        rows = [position(other) for other in others]
        known = [i for i, r in enumerate(rows) if r is not None]
        out: list[float | None] = [None] * len(others)
        if row is None or not known:
            return out
        scores = matrix[[rows[i] for i in known]] @ matrix[row]
        for i, score in zip(known, scores.tolist()):
            out[i] = score
        return out

    return similarity
