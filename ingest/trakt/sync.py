"""A person's Trakt profile: /sync/history, /sync/ratings and /sync/watchlist, paged, as profile rows.

The client must be signed in (`ingest.trakt.auth.signed_in_client`). Episodes in the history count as
their show watched (FlixRec recommends whole shows); ratings of seasons and episodes are left out.
The rows go to `FlixRec.profile_from_rows`, which matches them to the catalogue by Trakt, TMDB or
IMDb id, then by name and year.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from flixrec.profiles import ProfileRow
from ingest.errors import TraktError
from ingest.trakt.client import MAX_LIMIT, TraktClient

SYNC_LISTINGS = {"history": "/sync/history", "ratings": "/sync/ratings", "watchlist": "/sync/watchlist"}
KIND_OF = {"history": "watched", "ratings": "rating", "watchlist": "watchlist"}
TIME_FIELD = {"history": "watched_at", "ratings": "rated_at", "watchlist": "listed_at"}


@dataclasses.dataclass
class SyncSummary:
    """What was read: rows per listing and pages."""

    rows: dict[str, int] = dataclasses.field(default_factory=dict)
    pages: int = 0

    def line(self) -> str:
        """'history 120 rows, ratings 40 rows, watchlist 12 rows (5 pages)'."""
        return ", ".join(f"{name} {count} rows" for name, count in self.rows.items()) + f" ({self.pages} pages)"


def iter_listing(client: TraktClient, listing: str, max_pages: int | None = None,
                 summary: SyncSummary | None = None) -> Iterator[dict[str, Any]]:
    """The raw items of one sync listing, page after page (X-Pagination-*); a page that keeps failing stops it."""
    for page in client.paginate(SYNC_LISTINGS[listing], limit=MAX_LIMIT):
        if page.failed:
            raise TraktError(f"Trakt kept failing on {SYNC_LISTINGS[listing]} page {page.number}: {page.failed}",
                             path=SYNC_LISTINGS[listing], page=page.number)
        if summary is not None:
            summary.pages += 1
        yield from (item for item in page.items if isinstance(item, dict))
        if max_pages is not None and page.number >= max_pages:
            return


def profile_row(listing: str, item: dict[str, Any]) -> ProfileRow | None:
    """The profile row of one sync item (an episode becomes its show; season/episode ratings: None)."""
    kind = item.get("type")
    if kind == "episode" and listing == "history":
        kind = "show"
    if kind not in ("movie", "show"):
        return None
    body = item.get(kind) or {}
    ids = body.get("ids") or {}
    rating = item.get("rating") if listing == "ratings" else None
    return ProfileRow(
        kind=KIND_OF[listing], source="trakt", name=body.get("title"), year=_int(body.get("year")), media_type=kind,
        imdb_id=ids.get("imdb") or None, tmdb_id=_int(ids.get("tmdb")), trakt_id=_int(ids.get("trakt")),
        rating=float(rating) if isinstance(rating, int | float) and 1 <= rating <= 10 else None,
        when=item.get(TIME_FIELD[listing]), where=f"Trakt {listing}",
    )


def read_profile_rows(client: TraktClient, listings: tuple[str, ...] = ("history", "ratings", "watchlist"),
                      max_pages: int | None = None) -> tuple[list[ProfileRow], SyncSummary]:
    """Every row of the signed-in user's history, ratings and watchlist (one row per title and listing)."""
    summary = SyncSummary()
    rows: list[ProfileRow] = []
    for listing in listings:
        seen: dict[tuple[str, int | str | None], ProfileRow] = {}
        for item in iter_listing(client, listing, max_pages, summary):
            row = profile_row(listing, item)
            if row is None:
                continue
            key = (row.media_type or "", row.trakt_id or row.imdb_id or row.name)
            kept = seen.get(key)
            if kept is None or (row.when or "") > (kept.when or ""):
                seen[key] = row  # the latest watch of a title (history lists every play)
        rows += seen.values()
        summary.rows[listing] = len(seen)
    return rows, summary


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
