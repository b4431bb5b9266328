"""The people crawl: cast, directors, creators, writers and key crew of the catalogue's Trakt titles, one
request per title, checkpointed.

Which titles still need people is read from the catalogue itself (titles without credits, or with credits
stored before a kind of credit was kept), so titles added after a finished people crawl are fetched by the
next one. The checkpoint only remembers the titles Trakt gave no people or no key crew for (by trakt id),
so they are not asked again on every run (`--restart` asks again).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

from flixrec.catalog import Catalog
from flixrec.models import Title
from ingest.trakt.client import TraktClient
from ingest.trakt.mapping import to_people


@dataclasses.dataclass
class PeopleSummary:
    """What a people crawl did."""

    name: str
    titles: int = 0
    with_people: int = 0
    missing: int = 0
    done: bool = False

    def line(self) -> str:
        """A one-line human summary."""
        state = "complete" if self.done else "stopped (run the same command to resume)"
        return (f"{self.name}: {self.titles} titles fetched, {self.with_people} with cast or crew, "
                f"{self.missing} unknown to Trakt; {state}")


def people_key(media: str) -> str:
    """Checkpoint key of the people crawl of one media type."""
    return f"trakt:people:{media}"


def needs_people(title: Title) -> bool:
    """No credits yet, a show's credits from before issue 15 (episode directors stored as its directors), or
    credits from before the key crew were kept (issue 12: no "crew" credit)."""
    if not title.people or not title.crew:
        return True
    return title.media_type == "show" and any(p.role == "director" for p in title.people)


def _without_people(catalog: Catalog, media: str, asked: set[int]) -> Iterator[Title]:
    """The catalogue's Trakt records of this media type that need people and Trakt was not asked about yet
    (the records, not the titles they merged into: a merged title may hold another source's people)."""
    for title in catalog.iter_records(source="trakt"):
        if (title.source == "trakt" and title.media_type == media and title.trakt_id is not None
                and needs_people(title) and title.trakt_id not in asked):
            yield title


def crawl_people(client: TraktClient, catalog: Catalog, media: str, *, batch_size: int = 25,
                 max_titles: int | None = None, restart: bool = False, dry_run: bool = False,
                 progress: Callable[[int], None] | None = None, max_cast: int = 20) -> PeopleSummary:
    """Fetch people for the catalogue's Trakt titles that have none, in title_id order, checkpointed per batch."""
    if batch_size <= 0:
        raise ValueError(f"batch_size must be a positive number of titles, not {batch_size}")
    if max_titles is not None and max_titles <= 0:
        raise ValueError(f"max_titles must be positive, not {max_titles}")
    key = people_key(media)
    state = {} if restart else (catalog.get_state(key) or {})
    asked = set(state.get("without_people") or ())
    summary = PeopleSummary(f"{media} people")
    batch: list[Title] = []

    def flush() -> None:
        if not dry_run:
            catalog.upsert_titles(batch, state={key: {"without_people": sorted(asked)}})
        batch.clear()

    for title in _without_people(catalog, media, set(asked)):
        if max_titles is not None and summary.titles >= max_titles:
            flush()
            return summary
        data = client.people(media, title.trakt_id)
        summary.titles += 1
        people = to_people(data, max_cast=max_cast, media=media)
        if data is None:
            summary.missing += 1
        if people:
            summary.with_people += 1
        credited = dataclasses.replace(title, people=people)
        if not credited.crew:  # nothing (more) to ask Trakt for next time
            asked.add(title.trakt_id)
        batch.append(credited)
        if progress is not None:
            progress(1)
        if len(batch) >= batch_size:
            flush()
    flush()
    summary.done = True
    return summary


def count_pending_people(catalog: Catalog, media: str) -> int:
    """How many Trakt titles of this media type still need people (for the progress bar)."""
    asked = set((catalog.get_state(people_key(media)) or {}).get("without_people") or ())
    return sum(1 for _ in _without_people(catalog, media, asked))
