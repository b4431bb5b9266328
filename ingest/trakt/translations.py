"""The translations step: translated titles (kept as aliases) and overviews (kept as overview versions) of the
catalogue's Trakt titles, for the languages asked, checkpointed per batch.

    crawl_translations(client, catalog, media, languages) -> TranslationsSummary

Opt-in (`python -m ingest trakt translations --languages de,es,ja`): only titles whose `available_translations`
include a wanted language are asked, and only for the wanted languages they still lack. A title lacking one
language is asked for that one (`/movies/{id}/translations/de`), a title lacking several once for all its
translations (`/movies/{id}/translations`). What a title lacks is read from its record (a translated overview is
kept with its language), so titles added after a finished run are asked by the next; the checkpoint only remembers
the (title, language) pairs Trakt gave no overview for, so they are not asked again (`--restart` asks again).

Trakt's listings carry no aliases or overview versions: a Trakt record's aliases are its translated titles and its
overviews after the primary one its translated overviews. `keep_translations` carries them over when a listing
crawl brings the record again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping

from flixrec.catalog import Catalog
from flixrec.models import Title, language_of
from ingest.trakt.client import TraktClient
from ingest.trakt.mapping import to_translations


@dataclasses.dataclass
class TranslationsSummary:
    """What a translations run did."""

    name: str
    titles: int = 0
    translated: int = 0
    missing: int = 0
    done: bool = False

    def line(self) -> str:
        """A one-line human summary."""
        state = "complete" if self.done else "stopped (run the same command to resume)"
        return (f"{self.name}: {self.titles} titles asked, {self.translated} with a new translated title or "
                f"overview, {self.missing} unknown to Trakt; {state}")


def translations_key(media: str) -> str:
    """Checkpoint key of the translations step of one media type."""
    return f"trakt:translations:{media}"


def translated_overviews(record: Title) -> dict[str, str]:
    """language -> translated overview of a Trakt record (its overview versions but the primary one)."""
    return {language: text for language, text in record.overviews or () if text != record.overview}


def with_translations(record: Title, names: Iterable[str], overviews: Mapping[str, str]) -> Title:
    """The record with these translated titles among its aliases and these overviews (language -> text) among its
    overview versions (after the primary one, by language; a language's newer text replaces the older)."""
    shown = {record.title, record.original_title}
    aliases = tuple(dict.fromkeys(name for name in (*record.aliases, *names) if name not in shown))
    versions = {**translated_overviews(record),
                **{language: text for language, text in overviews.items() if text != record.overview}}
    primary = ((language_of(record.overview), record.overview),) if record.overview else ()
    merged = (*primary, *sorted(versions.items())) if versions else None
    return dataclasses.replace(record, aliases=aliases, overviews=merged)


def keep_translations(title: Title, stored: Title) -> Title:
    """A record from a listing (no translations) with the translations its stored version holds."""
    overviews = translated_overviews(stored)
    if not stored.aliases and not overviews:
        return title
    return with_translations(title, stored.aliases, overviews)


def pending_languages(record: Title, wanted: Iterable[str], asked: Mapping[str, Iterable[str]]) -> list[str]:
    """The wanted languages Trakt has a translation of this record in that it was not asked for yet."""
    available = set(record.available_translations or ())
    done = set(translated_overviews(record)) | set(asked.get(str(record.trakt_id), ()))
    return sorted(language for language in wanted if language in available and language not in done)


def _needing(catalog: Catalog, media: str, wanted: list[str],
             asked: Mapping[str, Iterable[str]]) -> Iterator[tuple[Title, list[str]]]:
    """The catalogue's Trakt records of this media type with the wanted languages each still needs."""
    for record in catalog.iter_records(source="trakt"):
        if record.media_type == media and record.trakt_id is not None:
            languages = pending_languages(record, wanted, asked)
            if languages:
                yield record, languages


def crawl_translations(client: TraktClient, catalog: Catalog, media: str, languages: Iterable[str], *,
                       batch_size: int = 25, max_titles: int | None = None, restart: bool = False,
                       dry_run: bool = False, progress: Callable[[int], None] | None = None) -> TranslationsSummary:
    """Fetch the wanted translations of the catalogue's Trakt titles that lack them, in record id order; each batch
    of titles commits with the checkpoint."""
    if batch_size <= 0:
        raise ValueError(f"batch_size must be a positive number of titles, not {batch_size}")
    if max_titles is not None and max_titles <= 0:
        raise ValueError(f"max_titles must be positive, not {max_titles}")
    wanted = sorted(set(languages))
    if not wanted:
        raise ValueError("no language asked for")
    key = translations_key(media)
    saved = {} if restart else (catalog.get_state(key) or {})
    asked: dict[str, set[str]] = {trakt_id: set(codes) for trakt_id, codes in (saved.get("without_overview") or {}).items()}
    summary = TranslationsSummary(f"{media} translations ({','.join(wanted)})")
    batch: list[Title] = []
    unsaved = 0

    def flush(done: bool) -> None:
        nonlocal unsaved
        if not dry_run:
            state = {"languages": wanted, "done": done,
                     "without_overview": {trakt_id: sorted(codes) for trakt_id, codes in sorted(asked.items())}}
            catalog.upsert_titles(batch, state={key: state})
        batch.clear()
        unsaved = 0

    for record, needed in _needing(catalog, media, wanted, {k: set(v) for k, v in asked.items()}):
        if max_titles is not None and summary.titles >= max_titles:
            flush(done=False)
            return summary
        data = client.translations(media, record.trakt_id, needed[0] if len(needed) == 1 else None)
        summary.titles += 1
        unsaved += 1
        if data is None:
            summary.missing += 1
        found = to_translations(data, needed)
        overviews = {language: overview for language, (_, overview) in found.items() if overview}
        updated = with_translations(record, (name for names, _ in found.values() for name in names), overviews)
        for language in needed:
            if language not in translated_overviews(updated):
                asked.setdefault(str(record.trakt_id), set()).add(language)
        if updated != record:
            summary.translated += 1
            batch.append(updated)
        if progress is not None:
            progress(1)
        if unsaved >= batch_size:
            flush(done=False)
    flush(done=True)
    summary.done = True
    return summary


def count_pending_translations(catalog: Catalog, media: str, languages: Iterable[str]) -> int:
    """How many Trakt titles of this media type still need a wanted translation (for the progress bar)."""
    asked = (catalog.get_state(translations_key(media)) or {}).get("without_overview") or {}
    return sum(1 for _ in _needing(catalog, media, sorted(set(languages)), asked))
