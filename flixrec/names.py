"""Which of a title's names and overviews to show in an interface language (English by default).

The anime catalogue keeps a title's romaji ("Kimi no Na wa."), English ("Your Name."), Chinese and Japanese
names; a reader of an English interface wants the English one, with the others still visible.
"""

from __future__ import annotations

import re

from flixrec.models import Title

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_LATIN = re.compile(r"[A-Za-z]")
_ROMAJI_WORD = re.compile(r"(?:(?:[kgsztdnhbpmrjfwy]|sh|ch|ts|[kgnhbpmr]y)?[aeiouāīūēō]|n)+")


def looks_romaji(name: str) -> bool:
    """Whether a Latin name reads as transliterated Japanese (every word built of Japanese syllables)."""
    words = re.findall(r"[a-zāīūēō]+", name.casefold())
    words = [re.sub(r"([kstpgdbc])\1", r"\1", w).replace("tch", "ch") for w in words]  # small tsu: "gakkou"
    return bool(words) and all(_ROMAJI_WORD.fullmatch(w) for w in words)


def _english(name: str | None) -> bool:
    return bool(name) and bool(_LATIN.search(name)) and not _CJK.search(name) and not looks_romaji(name)


def display_name(title: Title, language: str = "en") -> str:
    """The name to show: the title's own, or for a title named in another script or in romaji, an English alias."""
    return shown_name(title.title, title.aliases, title.source, language)


def shown_name(name: str, aliases: tuple[str, ...] | list[str], source: str, language: str = "en") -> str:
    """`display_name` from a title's fields (for tables that hold rows, not Titles)."""
    if language != "en" or _english(name) or source != "bgmd":
        return name
    return next((alias for alias in aliases or () if _english(alias)), name)


def overview_language(text: str) -> str:
    """A rough language tag of an overview: "ja" (kana), "zh" (Han without kana), "ko", else "en"."""
    if re.search(r"[\u3040-\u30ff]", text):
        return "ja"
    if re.search(r"[\uac00-\ud7af]", text):
        return "ko"
    if re.search(r"[\u3400-\u9fff]", text):
        return "zh"
    return "en"


def overviews(title: Title) -> list[tuple[str, str]]:
    """Every overview the title has as (language, text): `overviews` when the catalogue keeps several."""
    versions = getattr(title, "overviews", None)
    if versions:
        return [(lang or overview_language(text), text) for lang, text in versions if text]
    return [(overview_language(title.overview), title.overview)] if title.overview else []


def display_overview(title: Title, language: str = "en") -> tuple[str | None, list[tuple[str, str]]]:
    """The overview in the interface language when there is one (else the first), and the other versions."""
    versions = overviews(title)
    if not versions:
        return None, []
    chosen = next((v for v in versions if v[0] == language), versions[0])
    return chosen[1], [v for v in versions if v is not chosen]
