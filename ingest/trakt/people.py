"""The people crawl: cast and directors of the catalogue's Trakt titles, one request per title, checkpointed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

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
        return (f"{self.name}: {self.titles} titles fetched, {self.with_people} with cast or directors, "
                f"{self.missing} unknown to Trakt; {state}")


def people_key(media: str) -> str:
    """Checkpoint key of the people crawl of one media type."""
    return f"trakt:people:{media}"


def crawl_people(client: TraktClient, catalog: Catalog, media: str, *, batch_size: int = 25,
                 max_titles: int | None = None, restart: bool = False, dry_run: bool = False,
                 progress: Callable[[int], None] | None = None, max_cast: int = 20) -> PeopleSummary:
    """Fetch cast and directors for the catalogue's Trakt records without people, in record id order, checkpointed."""
    key = people_key(media)
    after = "" if restart else (catalog.get_state(key) or {}).get("after", "")
    summary = PeopleSummary(f"{media} people")
    batch: list[Title] = []
    last_id = after

    def flush() -> None:
        if not dry_run:
            catalog.upsert_titles(batch, state={key: {"after": last_id}})
        batch.clear()

    for title in catalog.iter_records(source="trakt"):  # the Trakt records, not the titles they merged into
        if title.title_id <= after or title.media_type != media or title.trakt_id is None:
            continue
        if title.people:
            continue
        if max_titles is not None and summary.titles >= max_titles:
            flush()
            return summary
        data = client.people(media, title.trakt_id)
        summary.titles += 1
        people = to_people(data, max_cast=max_cast)
        if data is None:
            summary.missing += 1
        if people:
            summary.with_people += 1
        batch.append(dataclasses.replace(title, people=people))
        last_id = title.title_id
        if progress is not None:
            progress(1)
        if len(batch) >= batch_size:
            flush()
    flush()
    summary.done = True
    return summary


def count_pending_people(catalog: Catalog, media: str) -> int:
    """How many Trakt titles of this media type have no people yet (for the progress bar)."""
    return sum(1 for t in catalog.iter_records(source="trakt") if t.media_type == media and not t.people)
