"""Trakt ingest: a paced, retrying API client, page crawls checkpointed with their titles, and the mapping.

    TraktClient.paginate(path, params)  -> Iterator[Page]   (one requests Session, timeouts always on)
    run_crawl(client, catalog, plan)    -> CrawlSummary      (each page's titles + checkpoint in one transaction)
    search_plan / popular_plan / updates_plan                 the three ways to enumerate movies and shows
    crawl_people(client, catalog, media)                      cast and directors of the titles kept

Retries are layered: urllib3's `Retry` on the HTTPAdapter retries timeouts, connection errors, 5xx and
429s that carry `Retry-After` (honouring it); a 429 without `Retry-After` (Trakt's HTML error page, say)
comes back to `TraktClient.get`, which backs off exponentially with full jitter. Every attempt, retries
included, passes through the `Pacer`. The API key travels only in a request header: it is redacted from
every message this module builds and never part of a URL or a repr.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from flixrec.catalog import Catalog, UpsertCounts
from flixrec.errors import TraktAuthError, TraktError, TraktRateLimited
from flixrec.models import Person, Title

log = logging.getLogger("ingest.trakt")

DEFAULT_BASE_URL = "https://api.trakt.tv"
USER_AGENT = "flixrec-ingest/1.0 (+https://github.com/flixrec; python-requests)"
MAX_LIMIT = 250
PACING_PERIOD = 300.0  # Trakt counts GET requests per 5 minutes
UPDATES_MAX_DAYS = 30
MEDIA_PATHS = {"movie": "movies", "show": "shows"}


class TraktPageError(TraktError):
    """One page kept failing (malformed body or server error) after its retries; the crawl records it."""


# ---- pacing and retries ---------------------------------------------------------------------------


class Pacer:
    """Spaces request starts evenly so no window of `period` seconds ever holds more than `requests` of them.

    The interval is (period + margin) / requests: N+1 consecutive requests then span more than the period
    plus a margin that absorbs network jitter between our clock and the server's. No bursts, so the time
    a crawl will take is simply pages x interval.
    """

    def __init__(self, requests: int, period: float = PACING_PERIOD, margin: float | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        if requests <= 0 or period <= 0:
            raise ValueError("requests and period must be positive")
        self.requests = requests
        self.period = period
        self.margin = period * 0.01 if margin is None else margin
        self.interval = (period + self.margin) / requests
        self._clock, self._sleep = clock, sleep
        self._next = float("-inf")
        self._lock = threading.Lock()
        self.waited = 0.0

    def wait(self) -> float:
        """Block until the next request may start; returns the seconds slept."""
        with self._lock:
            delay = max(0.0, self._next - self._clock())
            if delay:
                self._sleep(delay)
                self.waited += delay
            self._next = self._clock() + self.interval
            return delay

    def __repr__(self) -> str:
        return f"Pacer({self.requests} per {self.period:g}s)"


class PacedRetry(Retry):
    """urllib3 Retry whose every retry attempt also waits for the pacer (Trakt counts retries too)."""

    def __init__(self, *args: Any, pacer: Pacer | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.pacer = pacer

    def new(self, **kw: Any) -> PacedRetry:
        """A copy with updated counters that keeps the pacer."""
        retry = super().new(**kw)
        retry.pacer = self.pacer
        return retry

    def sleep(self, response: Any = None) -> None:
        """Honour Retry-After or back off, then wait for the pacer."""
        if response is not None and response.status:
            log.info("Trakt answered HTTP %s; retrying", response.status)
        super().sleep(response)
        if self.pacer is not None:
            self.pacer.wait()


# ---- the client -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Page:
    """One page of a paginated listing, with the pagination Trakt reported (not what we asked for)."""

    number: int
    page_count: int
    limit: int
    item_count: int
    items: list[Any]
    failed: str | None = None  # why the page could not be read, when it could not

    @property
    def is_last(self) -> bool:
        """Whether no page follows this one."""
        return self.number >= self.page_count


@dataclasses.dataclass(frozen=True)
class Response:
    """A decoded JSON answer and its headers."""

    data: Any
    headers: Mapping[str, str]


class TraktClient:
    """Trakt API v2 over one requests Session: required headers, timeouts, pacing, bounded retries."""

    def __init__(
        self,
        client_id: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        pacer: Pacer | None = None,
        timeout: float = 30.0,
        retries: int = 4,
        rate_limit_retries: int = 6,
        backoff: float = 1.0,
        backoff_max: float = 120.0,
        retry_after_max: int = 600,
        session: requests.Session | None = None,
    ):
        if not client_id:
            raise TraktAuthError("no Trakt API key; set TRAKT_CLIENT_ID")
        self._client_id = client_id
        self.base_url = base_url.rstrip("/")
        self.pacer = pacer
        self.timeout = (min(10.0, timeout), timeout)
        self.retries = retries
        self.rate_limit_retries = rate_limit_retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.requests_sent = 0
        self.decode_seconds = 0.0  # time spent decoding JSON (the "parse" of the benchmark)
        self.session = session or requests.Session()
        self.session.headers.update({
            "trakt-api-key": client_id,
            "trakt-api-version": "2",
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        })
        retry = PacedRetry(
            # `total` must be set for urllib3 to retry a 429 that carries Retry-After (it does not force-list 429).
            total=3 * retries, connect=retries, read=retries, status=retries, other=0, redirect=2,
            allowed_methods=frozenset({"GET"}), status_forcelist=frozenset({500, 502, 503, 504}),
            backoff_factor=backoff, backoff_jitter=backoff, backoff_max=backoff_max,
            respect_retry_after_header=True, retry_after_max=retry_after_max, raise_on_status=False, pacer=pacer,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def __repr__(self) -> str:
        return f"TraktClient(base_url={self.base_url!r}, pacer={self.pacer!r})"

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()

    def __enter__(self) -> TraktClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def redact(self, text: str) -> str:
        """The text with the API key blanked out (for any message built from a third-party error)."""
        return text.replace(self._client_id, "***") if self._client_id else text

    def _send(self, path: str, params: Mapping[str, Any]) -> requests.Response:
        if self.pacer is not None:
            self.pacer.wait()
        self.requests_sent += 1
        try:
            return self.session.get(f"{self.base_url}{path}", params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            reason = self.redact(str(exc))
            raise TraktError(f"Trakt did not answer GET {path} after {self.retries} retries "
                             f"({type(exc).__name__}: {reason[:200]})") from None

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Response:
        """GET a JSON resource; raises TraktAuthError (401/403), TraktRateLimited, TraktPageError or TraktError."""
        params = dict(params or {})
        where = f"GET {path}" + (f" page {params['page']}" if "page" in params else "")
        limited = malformed = 0
        while True:
            response = self._send(path, params)
            status = response.status_code
            if status in (401, 403):
                raise TraktAuthError(
                    f"Trakt rejected the API key (HTTP {status}) on {where}: check TRAKT_CLIENT_ID is the Client ID "
                    "of an app at https://trakt.tv/oauth/applications"
                )
            if status == 429:
                limited += 1
                if limited > self.rate_limit_retries:
                    raise TraktRateLimited(
                        f"Trakt kept answering 429 (rate limited) on {where} after {self.rate_limit_retries} retries; "
                        "wait 5 minutes, lower TRAKT_REQUESTS_PER_5MIN and run the same command to resume"
                    )
                delay = self._rate_limit_delay(response, limited)
                log.warning("Trakt rate limit (429) on %s; waiting %.1f s (retry %d/%d)",
                            where, delay, limited, self.rate_limit_retries)
                time.sleep(delay)
                continue
            if status == 404:
                return Response(None, response.headers)
            if status >= 400:
                retried = f" after {self.retries} retries" if status >= 500 else ""
                raise TraktPageError(f"Trakt answered HTTP {status} on {where}{retried}")
            started = time.perf_counter()
            try:
                return Response(response.json(), response.headers)
            except ValueError:
                pass  # a truncated or HTML body: retried below
            finally:
                self.decode_seconds += time.perf_counter() - started
            malformed += 1
            if malformed > self.retries:
                raise TraktPageError(f"Trakt sent malformed JSON on {where} {malformed} times")
            delay = self._backoff_delay(malformed)
            log.warning("malformed JSON on %s; retrying in %.1f s (%d/%d)", where, delay, malformed, self.retries)
            time.sleep(delay)

    def _backoff_delay(self, attempt: int) -> float:
        # Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)].
        return random.uniform(0, min(self.backoff_max, self.backoff * 2 ** attempt))

    def _rate_limit_delay(self, response: requests.Response, attempt: int) -> float:
        retry_after = response.headers.get("Retry-After", "").strip()
        if retry_after.isdigit():
            return float(min(int(retry_after), 600))
        # No usable Retry-After (e.g. an HTML error page): at least the base backoff, growing, jittered.
        return self.backoff + self._backoff_delay(attempt)

    def get_page(self, path: str, params: Mapping[str, Any], page: int, limit: int = MAX_LIMIT) -> Page:
        """One page of a listing; pagination read from the X-Pagination-* headers."""
        response = self.get(path, {**params, "page": page, "limit": limit})
        items = response.data if isinstance(response.data, list) else []
        headers = response.headers
        return Page(
            number=_int_header(headers, "X-Pagination-Page", page),
            page_count=_int_header(headers, "X-Pagination-Page-Count", page if len(items) < limit else page + 1),
            limit=_int_header(headers, "X-Pagination-Limit", limit),
            item_count=_int_header(headers, "X-Pagination-Item-Count", -1),
            items=items,
        )

    def paginate(self, path: str, params: Mapping[str, Any] | None = None, *, start_page: int = 1,
                 limit: int = MAX_LIMIT) -> Iterator[Page]:
        """Yield pages from `start_page` to the last one the server reports; always sends page and limit.

        A page that stays malformed or failing after its retries is yielded as `Page(failed=reason)` so the
        caller can record it and move on.
        """
        page_number, page_count = start_page, None
        while page_count is None or page_number <= page_count:
            try:
                page = self.get_page(path, params or {}, page_number, limit)
            except TraktPageError as exc:
                # Unknown page count (first page of this run): assume more pages follow; an empty page ends it.
                yield Page(page_number, page_count or page_number + 1, limit, -1, [], failed=str(exc))
                page_number += 1
                continue
            page_count = page.page_count
            yield page
            if not page.items:
                return
            page_number = page.number + 1

    def people(self, media: str, trakt_id: int) -> dict[str, Any] | None:
        """The `{cast, crew}` of one title, or None when Trakt does not know it."""
        return self.get(f"/{MEDIA_PATHS[media]}/{trakt_id}/people").data


def _int_header(headers: Mapping[str, str], name: str, default: int) -> int:
    try:
        return int(headers[name])
    except (KeyError, TypeError, ValueError):
        return default


# ---- mapping Trakt JSON to Titles ------------------------------------------------------------------


def _text(value: Any) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _int(value: Any) -> int | None:
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return None if value is None or isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        return None


def unwrap(item: Any, media: str) -> dict[str, Any] | None:
    """The movie/show object of a listing item: bare (popular) or wrapped ({type, score, movie}, {updated_at, show})."""
    if not isinstance(item, dict):
        return None
    inner = item.get(media)
    if isinstance(inner, dict):
        return inner
    return item if "ids" in item else None


def to_title(record: Mapping[str, Any], media: str, people: tuple[Person, ...] = ()) -> Title | None:
    """A Title from a Trakt movie/show object (extended=full, any field null); None without a trakt id or a title."""
    ids = record.get("ids") if isinstance(record.get("ids"), dict) else {}
    trakt_id = _int(ids.get("trakt"))
    name = _text(record.get("title")) or _text(record.get("original_title"))
    if trakt_id is None or name is None:
        return None
    genres = record.get("genres") if isinstance(record.get("genres"), list) else []
    released = record.get("released") if media == "movie" else record.get("first_aired")
    return Title(
        title_id=f"trakt-{media}-{trakt_id}",
        media_type=media,
        title=name,
        source="trakt",
        original_title=_text(record.get("original_title")),
        overview=_text(record.get("overview")),
        tagline=_text(record.get("tagline")),
        genres=tuple(str(g) for g in genres if g),
        year=_int(record.get("year")),
        released=_text(released),
        runtime=_int(record.get("runtime")),
        country=_text(record.get("country")),
        language=_text(record.get("language")),
        rating=_float(record.get("rating")),
        votes=_int(record.get("votes")),
        comment_count=_int(record.get("comment_count")),
        trakt_id=trakt_id,
        tmdb_id=_int(ids.get("tmdb")),
        imdb_id=_text(ids.get("imdb")),
        slug=_text(ids.get("slug")),
        network=_text(record.get("network")) if media == "show" else None,
        status=_text(record.get("status")),
        aired_episodes=_int(record.get("aired_episodes")) if media == "show" else None,
        people=people,
    )


def to_people(data: Mapping[str, Any] | None, max_cast: int = 20) -> tuple[Person, ...]:
    """Cast (billing order, up to `max_cast`) and directors from a Trakt `/people` answer."""
    if not isinstance(data, dict):
        return ()
    out: list[Person] = []
    seen: set[tuple[str, str]] = set()

    def add(entry: Any, role: str, character: str | None) -> None:
        person = entry.get("person") if isinstance(entry, dict) else None
        pid = _int((person or {}).get("ids", {}).get("trakt")) if isinstance(person, dict) else None
        name = _text(person.get("name")) if isinstance(person, dict) else None
        key = (f"trakt-person-{pid}", role)
        if pid is None or name is None or key in seen:
            return
        seen.add(key)
        out.append(Person(key[0], name, role, sum(1 for p in out if p.role == role), character))

    for entry in (data.get("cast") or [])[:max_cast]:
        character = _text(entry.get("character")) if isinstance(entry, dict) else None
        add(entry, "cast", character)
    crew = data.get("crew") if isinstance(data.get("crew"), dict) else {}
    for entry in crew.get("directing") or []:
        jobs = (entry.get("jobs") or [entry.get("job")]) if isinstance(entry, dict) else []
        if "Director" in jobs:
            add(entry, "director", None)
    return tuple(out)


# ---- crawls -----------------------------------------------------------------------------------------


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
    done: bool = False
    already_done: bool = False
    parse_upsert_seconds: float = 0.0

    def line(self) -> str:
        """A one-line human summary."""
        state = "complete" if self.done else "stopped (run the same command to resume)"
        return (f"{self.name}: {self.new} new, {self.updated} updated, {self.unchanged} unchanged, "
                f"{self.skipped} skipped, {self.pages} pages, {len(self.failed_pages)} failed pages; {state}")


def _fingerprint(value: Any) -> str:
    return hashlib.blake2b(json.dumps(value, sort_keys=True).encode(), digest_size=6).hexdigest()


def year_ranges(first: int, last: int, step: int) -> list[str]:
    """'1900-1904', '1905-1909', ... covering first..last ('1999' when a range is one year)."""
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
    base = {"query": query, "extended": "full"}
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
    params = {"extended": "full", **{k: v for k, v in (filters or {}).items() if v}}
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
    segment = Segment(f"/{MEDIA_PATHS[media]}/updates/{start_date}", {"extended": "full"}, f"since {start_date}")
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
    state: dict[str, Any] = {"segment": 0, "page": 1, "done": False, "failed": [], **(saved or {})}
    if not saved or "started_at" not in state:
        state["started_at"] = dt.datetime.now(dt.UTC).isoformat()
    if plan.extra_state.get("start_date"):
        # Incremental: a new window starts from page 1; an interrupted one resumes.
        if state.get("start_date") != plan.extra_state["start_date"] or state["done"]:
            state.update(segment=0, page=1, done=False, failed=[])
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
        started = time.perf_counter()
        kept = []
        for item in page.items:
            record = unwrap(item, plan.media)
            title = to_title(record, plan.media) if record is not None else None
            if title is None:
                summary.skipped += 1
            else:
                kept.append(title)
        summary.titles += len(kept)
        commit(_keep_known_people(catalog, kept), new_state)
        summary.parse_upsert_seconds += time.perf_counter() - started

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
            if page.is_last or (not page.items and page.failed is None):
                nxt = {"segment": seg_index + 1, "page": 1, "done": seg_index + 1 >= len(plan.segments)}
            else:
                nxt = {"segment": seg_index, "page": page.number + 1, "done": False}
            if page.failed:
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
        ingest_page(page, {**state, "failed": remaining})
        if progress is not None:
            progress(page, summary, segment)
    summary.failed_pages = [list(f) for f in state["failed"]]
    summary.done = bool(state["done"])
    return summary


def _keep_known_people(catalog: Catalog, titles: list[Title]) -> list[Title]:
    """Listings carry no people: keep the cast and directors already stored for titles we know."""
    if not titles:
        return titles
    known = catalog.find_titles([t.title_id for t in titles], with_people=True)
    out = []
    for title in titles:
        stored = known.get(title.title_id)
        out.append(dataclasses.replace(title, people=stored.people) if stored is not None and stored.people else title)
    return out


def _classify(catalog: Catalog, titles: list[Title]) -> UpsertCounts:
    """What an upsert of these titles would do, without writing (for --dry-run)."""
    known = catalog.find_titles([t.title_id for t in titles], with_people=True)
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
    """Fetch cast and directors for the catalogue's Trakt titles without people, in title_id order, checkpointed."""
    key = people_key(media)
    after = "" if restart else (catalog.get_state(key) or {}).get("after", "")
    summary = PeopleSummary(f"{media} people")
    batch: list[Title] = []
    last_id = after

    def flush() -> None:
        if not dry_run:
            catalog.upsert_titles(batch, state={key: {"after": last_id}})
        batch.clear()

    for title in catalog.iter_titles(with_people=True):
        if title.title_id <= after or title.source != "trakt" or title.media_type != media or title.trakt_id is None:
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
    return sum(1 for t in catalog.iter_titles(with_people=True)
               if t.source == "trakt" and t.media_type == media and not t.people)


def parse_since(text: str) -> dt.datetime:
    """'2026-11-20', '2026-11-20T13' or a full ISO time, as aware UTC."""
    text = text.strip().rstrip("Z")
    if len(text) == 13 and "T" in text:
        text += ":00"
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise TraktError(f"{text!r} is not a UTC time like 2026-11-20T13 or 2026-11-20") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
