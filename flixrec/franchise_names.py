"""How franchise detection reads a name or a credit: normal forms, base names, words, character names.

A base name drops a leading article, a subtitle after ':' or ' - ', and sequel marks ("Toy Story 3",
"Rocky IV", "Kill Bill: Vol. 2", "进击的巨人 OAD"); flixrec.franchise compares titles by them.
"""

from __future__ import annotations

import re
import unicodedata

STOP_WORDS = frozenset({
    "the", "a", "an", "of", "and", "in", "on", "to", "for", "at", "by", "with", "from", "part", "vol",
    "chapter", "movie", "film", "le", "la", "les", "de", "der", "die", "das", "el", "los", "&",
})
NOT_A_CHARACTER = frozenset({
    "himself", "herself", "themselves", "narrator", "self", "voice", "additional voices", "various", "host",
    "cameo", "uncredited",
})
ROLE_WORDS = frozenset({
    "doctor", "agent", "captain", "detective", "sheriff", "officer", "young", "older", "voice", "mister", "lord",
    "lady", "king", "queen", "prince", "princess", "father", "mother", "sister", "brother", "uncle", "aunt",
    "himself", "herself", "major", "general", "colonel", "sergeant", "professor", "guard", "soldier", "nurse",
    "driver", "reporter", "woman", "girl", "police", "deputy", "judge", "senator", "president", "commander",
    "lieutenant", "private", "chief", "inspector", "mayor", "bartender", "waiter", "waitress", "student",
    "teacher", "friend", "narrator", "uncredited", "additional", "voices", "the",
})

_SEQUEL_SUFFIX = re.compile(
    r"(\s*(\(\d{4}\)|\d+\s*[季期部章]|\d+|第.+[季期部章])|\s*(?<![a-z])([ivx]+|part\.?\s*\w+|chapter\s+\w+|vol(ume)?\.?\s*\w+|"
    r"season\s+\w+|oad|ova|oav|sp|specials?|the movie|movie))+$"
)
"""Sequel numbers and marks at the end of a name; a word-like mark never ends a longer word ("Matrix", "Wasp")."""
_FILM_PREFIX = re.compile(r"^(剧场版|劇場版|映画|电影版|the movie)\s*")
_HONORIFIC = re.compile(r"^(dr|mr|mrs|ms|miss|sir|young|younger|older|old|teen|teenage|little|adult|captain|agent)\.?\s+")


_SPACES = re.compile(r"[\s\u3000]+")
_SUBTITLE = re.compile(r"\s*[:：]\s*|\s+-\s+")
_ARTICLE = re.compile(r"^(the|a|an)\s+")
_WORD = re.compile(r"\w+")
_LEAD_WORD = re.compile(r"\w+(?:['’`]\w+)*")


def normalise_name(text: str) -> str:
    """Casefolded, accent-insensitive, punctuation-light form of a name."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _SPACES.sub(" ", text)
    return text.strip(" \t\n\"'“”‘’.,!?")


def franchise_key(name: str) -> str:
    """The base of a name: no leading article, subtitle after ':' or ' - ', or sequel number."""
    key = _FILM_PREFIX.sub("", normalise_name(name))
    key = _SUBTITLE.split(key, maxsplit=1)[0]
    key = _ARTICLE.sub("", key)
    return _SEQUEL_SUFFIX.sub("", key).strip()


def name_words(text: str) -> list[str]:
    """The words of a name, normalised."""
    return _WORD.findall(normalise_name(text))


def leading_pair(name: str) -> str | None:
    """The first two words of a name of three or more (articles skipped), when neither is a stop word.

    A contraction or possessive is one word: "She's All That" leads with "she's all", and "She's the Man"
    has no leading pair ("she s" would join every "She's ...", "I'm ..." and "Devil's ..." title)."""
    return leading_word_pair(_LEAD_WORD.findall(normalise_name(name)))


def leading_word_pair(words: list[str]) -> str | None:
    """`leading_pair` of a name already split into normalised words (contractions kept whole)."""
    while words and words[0] in ("the", "a", "an"):
        words = words[1:]
    if len(words) >= 3 and words[0] not in STOP_WORDS and words[1] not in STOP_WORDS:
        return f"{words[0]} {words[1]}"
    return None


def character_names(credit: str | None) -> set[str]:
    """The character names in a credit ('Bruce Wayne / Batman (voice)' -> {'bruce wayne', 'batman'})."""
    names: set[str] = set()
    for part in re.split(r"\s*/\s*|\s*\|\s*|\s+and\s+", credit or ""):
        part = re.sub(r"\(.*?\)", "", part)
        part = _HONORIFIC.sub("", normalise_name(part)).strip(" -\"'")
        if len(part) >= 3 and part not in NOT_A_CHARACTER and not re.search(r"\d", part):
            names.add(part)
    return names


