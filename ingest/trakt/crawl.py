"""Checkpointed Trakt crawls: what to enumerate (plans) and the page-by-page crawl that resumes anywhere.

    search_plan / popular_plan / updates_plan                 the three ways to enumerate movies and shows
    run_crawl(client, catalog, plan)    -> CrawlSummary       (each page's titles + checkpoint in one transaction)

A crawl is "complete" only when every listing ended on a last page (see `Page.is_last`), no page is left
failing and every listing gave at least as many rows as Trakt's X-Pagination-Item-Count; the checkpoint
keeps each listing's tally (`listings`: rows seen vs item count) for `trakt status`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from flixrec.catalog import Catalog, UpsertCounts
from flixrec.models import Title
from ingest.errors import TraktError, TraktPageError
from ingest.trakt.client import MAX_LIMIT, MEDIA_PATHS, Page, TraktClient
from ingest.trakt.mapping import to_title, unwrap
from ingest.trakt.translations import keep_translations

log = logging.getLogger("ingest.trakt")

UPDATES_MAX_DAYS = 30
EXTENDED = "full,images"  # every field, and image URLs (posters for the cards; never downloaded)


@dataclasses.dataclass(frozen=True)
class Segment:
    """One paginated listing of a crawl (e.g. the search for one year range)."""

    path: str
    params: dict[str, Any]
    label: str


@dataclasses.dataclass(frozen=True)
class CrawlPlan:
    """What a crawl enumerates and where its checkpoint lives."""

    name: str
    media: str
    key: str
    segments: list[Segment]
    extra_state: dict[str, Any] = dataclasses.field(default_factory=dict)  # kept in the checkpoint


@dataclasses.dataclass
class CrawlSummary:
    """What a crawl did (this run)."""

    name: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    pages: int = 0
    titles: int = 0
    failed_pages: list[list[int]] = dataclasses.field(default_factory=list)
    short: list[str] = dataclasses.field(default_factory=list)  # listings that gave fewer rows than counted
    done: bool = False
    already_done: bool = False
    parse_upsert_seconds: float = 0.0
    parse_upsert_cpu_seconds: float = 0.0  # the same, in this thread's CPU time (what neighbours do not change)

    def line(self) -> str:
        """A one-line human summary."""
        if self.done and self.short:
            state = f"ended short: {'; '.join(self.short)} (--restart crawls it again)"
        elif self.done:
            state = "complete"
        else:
            state = "stopped (run the same command to resume)"
        return (f"{self.name}: {self.new} new, {self.updated} updated, {self.unchanged} unchanged, "
                f"{self.skipped} skipped, {self.pages} pages, {len(self.failed_pages)} failed pages; {state}")


def _fingerprint(value: Any) -> str:
    return hashlib.blake2b(json.dumps(value, sort_keys=True).encode(), digest_size=6).hexdigest()


def year_ranges(first: int, last: int, step: int) -> list[str]:
    """'1900-1904', '1905-1909', ... covering first..last ('1999' when a range is one year)."""
    if step <= 0:
        raise ValueError(f"the year step must be a positive number of years, not {step}")
    if first > last:
        raise ValueError(f"the first year {first} is after the last {last}")
    out = []
    for start in range(first, last + 1, step):
        end = min(last, start + step - 1)
        out.append(str(start) if start == end else f"{start}-{end}")
    return out


def search_plan(media: str, years: tuple[int, int] | None = None, step: int = 1, languages: str | None = None,
                query: str = "") -> CrawlPlan:
    """The seed's enumerator, done right: /search/{media} with an empty query, one segment per year range.

    Without `years`, one listing with no year filter (the only way search reaches titles without a year).
    """
    base = {"query": query, "extended": EXTENDED}
    if languages:
        base["languages"] = languages
    if years is None:
        segments = [Segment(f"/search/{media}", base, "all years")]
        name = f"{media} search"
    else:
        segments = [Segment(f"/search/{media}", {**base, "years": r}, f"years {r}")
                    for r in year_ranges(years[0], years[1], step)]
        name = f"{media} search {years[0]}-{years[1]}"
    key = f"trakt:search:{media}:{_fingerprint([base, years, step])}"
    return CrawlPlan(name, media, key, segments)


def popular_plan(media: str, filters: Mapping[str, str] | None = None) -> CrawlPlan:
    """/movies|shows/popular with Trakt's filters (years, genres, languages, countries, ...)."""
    params = {"extended": EXTENDED, **{k: v for k, v in (filters or {}).items() if v}}
    key = f"trakt:popular:{media}:{_fingerprint(params)}"
    return CrawlPlan(f"{media} popular", media, key, [Segment(f"/{MEDIA_PATHS[media]}/popular", params, "popular")])


def hour_floor(moment: dt.datetime) -> str:
    """Trakt's start_date format, to the hour (its cache granularity): 2026-11-20T13:00:00Z."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:00:00Z")


def updates_key(media: str) -> str:
    """Checkpoint key of the incremental sync of one media type."""
    return f"trakt:updates:{media}"


def updates_plan(catalog: Catalog, media: str, since: dt.datetime | None = None,
                 now: dt.datetime | None = None) -> CrawlPlan:
    """/movies|shows/updates/{start_date}: everything changed since the last sync (or `since`), at most 30 days back.

    The window starts an hour before the previous sync started, so a title that changed while that sync ran
    (and moved within Trakt's list under our pagination) is fetched again by this one.
    """
    now = now or dt.datetime.now(dt.UTC)
    key = updates_key(media)
    state = catalog.get_state(key) or {}
    oldest = now - dt.timedelta(days=UPDATES_MAX_DAYS) + dt.timedelta(hours=1)
    interrupted = state.get("start_date") and not state.get("done") and since is None
    if interrupted and parse_since(state["start_date"]) >= oldest:
        start_date, started_at = state["start_date"], state["started_at"]  # resume the interrupted sync
    else:
        if since is None:
            last = state.get("last_sync")
            if not last:
                raise TraktError(f"no previous Trakt sync of {media}s is recorded: run a full crawl first "
                                 "(python -m ingest trakt search) or pass --since YYYY-MM-DDTHH")
            since = dt.datetime.fromisoformat(last) - dt.timedelta(hours=1)  # overlap: updates are hour-granular
        if since < oldest:
            log.warning("Trakt keeps updates for %d days; syncing from %s (run a full crawl to catch older changes)",
                        UPDATES_MAX_DAYS, hour_floor(oldest))
            since = oldest
        start_date, started_at = hour_floor(since), now.isoformat()
    segment = Segment(f"/{MEDIA_PATHS[media]}/updates/{start_date}", {"extended": EXTENDED}, f"since {start_date}")
    return CrawlPlan(f"{media} updates since {start_date}", media, key, [segment],
                     extra_state={"start_date": start_date, "started_at": started_at})


def _sync_marker(plan: CrawlPlan, catalog: Catalog, started_at: str) -> dict[str, Any]:
    """The checkpoint a finished full crawl adds: the next incremental sync starts from when it started."""
    key = updates_key(plan.media)
    if plan.key == key:
        return {}
    state = catalog.get_state(key) or {}
    if state.get("last_sync", "") >= started_at:
        return {}
    return {key: {**state, "last_sync": started_at}}


ProgressFn = Callable[[Page, "CrawlSummary", Segment], None]


def _initial_state(catalog: Catalog, plan: CrawlPlan, restart: bool) -> dict[str, Any]:
    saved = None if restart else catalog.get_state(plan.key)
    state: dict[str, Any] = {"segment": 0, "page": 1, "done": False, "failed": [], "listings": {},
                             **(saved or {})}
    if not saved or "started_at" not in state:
        state["started_at"] = dt.datetime.now(dt.UTC).isoformat()
    if plan.extra_state.get("start_date"):
        # Incremental: a new window starts from page 1; an interrupted one resumes.
        if state.get("start_date") != plan.extra_state["start_date"] or state["done"]:
            state.update(segment=0, page=1, done=False, failed=[], listings={})
        state.update(plan.extra_state)
    return state


def run_crawl(client: TraktClient, catalog: Catalog, plan: CrawlPlan, *, limit: int = MAX_LIMIT,
              dry_run: bool = False, max_pages: int | None = None, restart: bool = False,
              progress: ProgressFn | None = None, max_consecutive_failures: int = 3) -> CrawlSummary:
    """Crawl every page of the plan from its checkpoint; each page's titles and the next cursor commit together.

    Killed at any moment, the next run resumes at the first page whose transaction did not commit: no page
    is lost and, as upserts are idempotent by id, none is duplicated. Pages that stay malformed are recorded
    in the checkpoint (`failed`) and retried at the end of this run and of the next one.
    """
    summary = CrawlSummary(plan.name)
    state = _initial_state(catalog, plan, restart)
    if state["done"] and not state["failed"]:
        summary.done = summary.already_done = True
        summary.short = short_listings(state)
        return summary

    def commit(titles: list[Title], new_state: dict[str, Any]) -> None:
        nonlocal state
        extra: dict[str, Any] = {}
        if new_state["done"] and not state["done"]:
            extra = _sync_marker(plan, catalog, new_state["started_at"])
            if plan.key == updates_key(plan.media):
                new_state = {**new_state, "last_sync": new_state["started_at"]}
        if dry_run:
            counts = _classify(catalog, titles)
        else:
            counts = catalog.upsert_titles(titles, state={plan.key: new_state, **extra})
        summary.new += counts.new
        summary.updated += counts.updated
        summary.unchanged += counts.unchanged
        state = new_state

    def ingest_page(page: Page, new_state: dict[str, Any]) -> None:
        started, started_cpu = time.perf_counter(), time.thread_time()
        kept = []
        for item in page.items:
            record = unwrap(item, plan.media)
            title = to_title(record, plan.media) if record is not None else None
            if title is None:
                summary.skipped += 1
            else:
                kept.append(title)
        summary.titles += len(kept)
        commit(_keep_fetched(catalog, kept), new_state)
        summary.parse_upsert_seconds += time.perf_counter() - started
        summary.parse_upsert_cpu_seconds += time.thread_time() - started_cpu

    fetched = consecutive_failures = 0
    while not state["done"]:
        seg_index = state["segment"]
        if seg_index >= len(plan.segments):
            commit([], {**state, "done": True})
            break
        segment = plan.segments[seg_index]
        for page in client.paginate(segment.path, segment.params, start_page=state["page"], limit=limit):
            fetched += 1
            summary.pages += 1
            listings = _tally(state["listings"], seg_index, segment, page)
            if page.is_last:
                nxt = {"segment": seg_index + 1, "page": 1, "done": seg_index + 1 >= len(plan.segments),
                       "listings": _close(listings, seg_index)}
            else:
                nxt = {"segment": seg_index, "page": page.number + 1, "done": False, "listings": listings}
            if page.is_hole:
                log.warning("%s: page %d of %s is empty though Trakt counts %s; recorded to retry later",
                            plan.name, page.number, segment.label,
                            f"{page.item_count} rows" if page.item_count >= 0 else f"{page.page_count} pages")
                commit([], {**state, **nxt, "failed": state["failed"] + [[seg_index, page.number]]})
            elif page.failed:
                consecutive_failures += 1
                log.warning("%s: %s; recorded to retry later", plan.name, client.redact(page.failed))
                commit([], {**state, **nxt, "failed": state["failed"] + [[seg_index, page.number]]})
                if consecutive_failures >= max_consecutive_failures:
                    raise TraktError(f"{plan.name}: {consecutive_failures} pages in a row failed; "
                                     "Trakt may be down, run the same command later to resume")
            else:
                consecutive_failures = 0
                ingest_page(page, {**state, **nxt})
            if progress is not None:
                progress(page, summary, segment)
            if max_pages is not None and fetched >= max_pages:
                summary.failed_pages = [list(f) for f in state["failed"]]
                return summary
            if state["segment"] != seg_index:
                break

    for seg_index, page_number in list(state["failed"]):
        remaining = [f for f in state["failed"] if f != [seg_index, page_number]]
        if seg_index >= len(plan.segments):
            commit([], {**state, "failed": remaining})
            continue
        segment = plan.segments[seg_index]
        try:
            page = client.get_page(segment.path, segment.params, page_number, limit)
        except TraktPageError as exc:
            log.warning("%s: page %d still fails: %s", plan.name, page_number, client.redact(str(exc)))
            continue
        summary.pages += 1
        if page.is_hole:
            log.warning("%s: page %d of %s is still empty; it is retried when you run the same command again",
                        plan.name, page_number, segment.label)
            continue
        listings = _tally(state["listings"], seg_index, segment, page, retried=True)
        ingest_page(page, {**state, "failed": remaining, "listings": listings})
        if progress is not None:
            progress(page, summary, segment)
    summary.failed_pages = [list(f) for f in state["failed"]]
    summary.done = bool(state["done"])
    summary.short = short_listings(state)
    return summary


def _tally(listings: dict[str, Any], seg_index: int, segment: Segment, page: Page, *,
           retried: bool = False) -> dict[str, Any]:
    """The listings' tallies with this page counted: rows seen, Trakt's item count, pages that held rows."""
    key = str(seg_index)
    entry = dict(listings.get(key) or {"label": segment.label, "rows": 0, "items": -1, "pages": 0})
    entry["rows"] += len(page.items)
    entry["pages"] += 1 if page.items else 0
    entry["items"] = max(entry["items"], page.item_count)
    if retried and entry.get("ended"):
        entry["short"] = 0 <= entry["items"] and entry["rows"] < entry["items"]
    return {**listings, key: entry}


def _close(listings: dict[str, Any], seg_index: int) -> dict[str, Any]:
    """The tallies with this listing ended: short when it gave fewer rows than Trakt counts."""
    entry = dict(listings[str(seg_index)])
    entry["ended"] = True
    entry["short"] = 0 <= entry["items"] and entry["rows"] < entry["items"]
    return {**listings, str(seg_index): entry}


def short_listings(state: Mapping[str, Any]) -> list[str]:
    """'years 1999: 50 of 59 rows' for every ended listing of a checkpoint that gave fewer rows than counted."""
    return [f"{entry['label']}: {entry['rows']} of {entry['items']} rows"
            for _, entry in sorted((state.get("listings") or {}).items(), key=lambda kv: int(kv[0]))
            if entry.get("short")]


def _keep_fetched(catalog: Catalog, titles: list[Title]) -> list[Title]:
    """Listings carry no people and no translations: keep the cast, crew and translations already stored with
    the records we know (fetched by `trakt people` and `trakt translations`)."""
    if not titles:
        return titles
    known = catalog.find_records(t.title_id for t in titles)
    out = []
    for title in titles:
        stored = known.get(title.title_id)
        if stored is not None:
            if stored.people:
                title = dataclasses.replace(title, people=stored.people)
            title = keep_translations(title, stored)
        out.append(title)
    return out


def _classify(catalog: Catalog, titles: list[Title]) -> UpsertCounts:
    """What an upsert of these titles would do, without writing (for --dry-run)."""
    known = catalog.find_records(t.title_id for t in titles)
    counts = UpsertCounts()
    for title in titles:
        stored = known.get(title.title_id)
        if stored is None:
            counts.new += 1
        elif stored.record_hash != title.record_hash:
            counts.updated += 1
        else:
            counts.unchanged += 1
    return counts


def parse_since(text: str) -> dt.datetime:
    """'2026-11-20', '2026-11-20T13' or a full ISO time, as aware UTC; ValueError (with the accepted forms) otherwise."""
    given, text = text, text.strip().rstrip("Z")
    if len(text) == 13 and "T" in text:
        text += ":00"
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{given!r} is not a UTC time like 2026-11-20T13 or 2026-11-20") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
