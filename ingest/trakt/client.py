"""The Trakt HTTP client: one requests Session, timeouts always on, pacing, bounded retries, pagination.

    TraktClient.get(path, params)        -> Response          (JSON + headers; errors from ingest.errors)
    TraktClient.paginate(path, params)   -> Iterator[Page]    (paging state apart from the HTTP call)
    TraktClient.people / translations    -> one title's credits / translated titles and overviews
    TraktClient.send(method, path, body) -> (status, JSON)    (OAuth and list writes: paced, never retried)
    TraktClient.authorize(access_token)                       (a signed-in user's calls; the token redacted)

Retries are layered: urllib3's `Retry` on the HTTPAdapter retries timeouts, connection errors, 5xx
(Cloudflare's 520-524 HTML pages included) and 429s that carry `Retry-After` (honouring it, up to
`retry_after_max`); a 429 without `Retry-After` (Trakt's HTML error page, say) comes back to
`TraktClient.get`, which backs off exponentially with full jitter. Every attempt, retries included, passes
through the `Pacer`. The API key travels only in a request header: it is redacted from every message this
module builds, never part of a URL or a repr, and dropped when a redirect leaves the API's host.

Pagination does not trust `X-Pagination-Page-Count` alone (Trakt's lags behind the rows it serves, and some
endpoints send no pagination headers): a listing goes on while a page is full, while the page count says
so, or while `X-Pagination-Item-Count` says rows lie beyond this page (see `TraktClient.paginate`).

This is the ONE place requests/urllib3 exceptions become ingest errors, which is why the writes of a
signed-in user live here too and the module runs a little over 400 lines.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ingest.errors import TraktAuthError, TraktError, TraktPageError, TraktRateLimited

log = logging.getLogger("ingest.trakt")

DEFAULT_BASE_URL = "https://api.trakt.tv"
USER_AGENT = "flixrec-ingest/1.0 (+https://github.com/flixrec; python-requests)"
MAX_LIMIT = 250  # Trakt clamps a larger `limit` to this
RETRY_STATUSES = frozenset({500, 502, 503, 504, 520, 521, 522, 523, 524})  # 52x: Cloudflare's HTML error pages
MAX_EMPTY_RUN = 3  # empty pages in a row that end a listing whatever its headers claim
PACING_PERIOD = 300.0  # Trakt counts GET requests per 5 minutes
MEDIA_PATHS = {"movie": "movies", "show": "shows"}


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

    def __init__(self, *args: Any, pacer: Pacer | None = None,
                 sleeper: Callable[[float], None] = time.sleep, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.pacer = pacer
        self.sleeper = sleeper

    def new(self, **kw: Any) -> PacedRetry:
        """A copy with updated counters that keeps the pacer and the sleep function."""
        retry = super().new(**kw)
        retry.pacer, retry.sleeper = self.pacer, self.sleeper
        return retry

    def sleep_for_retry(self, response: Any) -> bool:
        """Wait as long as Retry-After asks (capped at retry_after_max), saying so."""
        retry_after = self.get_retry_after(response)
        if not retry_after:
            return False
        log.warning("Trakt answered HTTP %s and asked to wait %g s; waiting", response.status, retry_after)
        self.sleeper(retry_after)
        return True

    def _sleep_backoff(self) -> None:
        backoff = self.get_backoff_time()
        if backoff > 0:
            self.sleeper(backoff)

    def sleep(self, response: Any = None) -> None:
        """Honour Retry-After or back off, then wait for the pacer."""
        if response is not None and response.status:
            log.info("Trakt answered HTTP %s; retrying", response.status)
        super().sleep(response)
        if self.pacer is not None:
            self.pacer.wait()


class KeySafeSession(requests.Session):
    """A Session that drops the Trakt API key when a redirect leaves the host it was sent to.

    requests strips `Authorization` on such redirects but keeps custom headers such as `trakt-api-key`.
    """

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        """requests' own clean-up, plus the key when the redirect changes host, port or scheme."""
        super().rebuild_auth(prepared_request, response)
        if self.should_strip_auth(response.request.url, prepared_request.url):
            prepared_request.headers.pop("trakt-api-key", None)


# ---- the client -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Page:
    """One page of a paginated listing, with the pagination Trakt reported (not what we asked for)."""

    number: int
    page_count: int  # -1: Trakt sent no X-Pagination-Page-Count
    limit: int  # the page size Trakt used (its header, else the requested limit clamped at 250)
    item_count: int  # -1: Trakt sent no X-Pagination-Item-Count
    items: list[Any]
    failed: str | None = None  # why the page could not be read, when it could not
    has_more: bool | None = None  # set by `paginate`: whether a page may follow (None: judged from this page)

    @property
    def is_full(self) -> bool:
        """Whether the page holds as many rows as its size: a full page is never taken for the last one."""
        return len(self.items) >= self.limit > 0

    @property
    def rows_beyond(self) -> bool:
        """Whether the item count places rows after this page's slot (unknown item count: False)."""
        return self.item_count > self.number * self.limit

    @property
    def is_last(self) -> bool:
        """Whether no page follows this one: not below the page count, no rows counted beyond it, and not
        full unless both counts are there to say it ends here (a full page without them may have a next)."""
        if self.has_more is not None:
            return not self.has_more
        counted = self.page_count >= 0 and self.item_count >= 0
        return not (self.number < self.page_count or self.rows_beyond or (self.is_full and not counted))

    @property
    def is_hole(self) -> bool:
        """An empty page where the headers promise rows (Trakt sometimes serves one mid-listing)."""
        return not self.items and self.failed is None and (self.number < self.page_count or self.rows_beyond)


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
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not client_id:
            raise TraktAuthError("no Trakt API key; set TRAKT_CLIENT_ID")
        if not (timeout > 0 and math.isfinite(timeout)):
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        if retries < 0 or rate_limit_retries < 0:
            raise ValueError("retries must be 0 or more")
        self._client_id = client_id
        self._secrets: list[str] = []  # OAuth tokens and the client secret, blanked out like the key
        self.base_url = base_url.rstrip("/")
        self.pacer = pacer
        self.timeout = (min(10.0, timeout), timeout)
        self.retries = retries
        self.rate_limit_retries = rate_limit_retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.retry_after_max = retry_after_max
        self.requests_sent = 0
        self.decode_seconds = 0.0  # time spent decoding JSON (bench/trakt_crawl.py reports it)
        self.decode_cpu_seconds = 0.0  # the same in CPU time of the decoding thread
        self._sleep = sleep
        self.session = session or KeySafeSession()
        self.session.headers.update({
            "trakt-api-key": client_id,
            "trakt-api-version": "2",
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        })
        retry = PacedRetry(
            # `total` must be set for urllib3 to retry a 429 that carries Retry-After (it does not force-list 429).
            total=3 * retries, connect=retries, read=retries, status=retries, other=0, redirect=2,
            allowed_methods=frozenset({"GET"}), status_forcelist=RETRY_STATUSES,
            backoff_factor=backoff, backoff_jitter=backoff, backoff_max=backoff_max,
            respect_retry_after_header=True, retry_after_max=retry_after_max, raise_on_status=False, pacer=pacer,
            sleeper=sleep,
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
        """The text with the API key, tokens and secrets blanked out (for any message built from a third-party error)."""
        for secret in (self._client_id, *self._secrets):
            if secret:
                text = text.replace(secret, "***")
        return text

    def add_secret(self, value: str) -> None:
        """Redact this value (a token, the client secret) from every message like the API key."""
        if value and value not in self._secrets:
            self._secrets.append(value)

    def authorize(self, access_token: str | None) -> None:
        """Send this OAuth access token with every request (None: stop sending one). It travels only in the
        Authorization header, which requests drops when a redirect leaves the host."""
        if access_token:
            self.add_secret(access_token)
            self.session.headers["Authorization"] = f"Bearer {access_token}"
        else:
            self.session.headers.pop("Authorization", None)

    def send(self, method: str, path: str, body: Any = None, *, pacer: Pacer | None = None) -> tuple[int, Any]:
        """One paced POST/PUT/DELETE (never retried: it may not be idempotent); (status, decoded JSON or None).

        `pacer` overrides the client's (Trakt allows one write a second). Network failures become TraktError;
        the caller reads the status (Trakt's OAuth and list endpoints answer with meaningful 4xx codes).
        """
        pacer = pacer or self.pacer
        if pacer is not None:
            pacer.wait()
        self.requests_sent += 1
        try:
            response = self.session.request(method, f"{self.base_url}{path}", json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise TraktError(f"Trakt did not answer {method} {path} ({type(exc).__name__}: "
                             f"{self.redact(str(exc))[:200]})", path=path, url=self.redact(f"{self.base_url}{path}")) from None
        try:
            data = response.json() if response.content else None
        except ValueError:
            data = None
        return response.status_code, data

    def _context(self, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """The context attributes of an error about this request (the URL redacted, without the query)."""
        return {"path": path, "page": params.get("page"), "url": self.redact(f"{self.base_url}{path}")}

    def _send(self, path: str, params: Mapping[str, Any]) -> requests.Response:
        """One paced GET; requests/urllib3 failures (after urllib3's retries) become TraktError here."""
        if self.pacer is not None:
            self.pacer.wait()
        self.requests_sent += 1
        try:
            return self.session.get(f"{self.base_url}{path}", params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            reason = self.redact(str(exc))
            # `from None`: the original may echo request details; the redacted reason is all a user needs.
            raise TraktError(f"Trakt did not answer GET {path} after {self.retries} retries "
                             f"({type(exc).__name__}: {reason[:200]})", **self._context(path, params)) from None

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Response:
        """GET a JSON resource; raises TraktAuthError (401/403), TraktRateLimited, TraktPageError or TraktError."""
        params = dict(params or {})
        where = f"GET {path}" + (f" page {params['page']}" if "page" in params else "")
        context = self._context(path, params)
        limited = malformed = 0
        while True:
            response = self._send(path, params)
            status = response.status_code
            if status in (401, 403):
                raise TraktAuthError(
                    f"Trakt rejected the API key (HTTP {status}) on {where}: check TRAKT_CLIENT_ID is the Client ID "
                    "of an app at https://trakt.tv/oauth/applications", status=status, **context
                )
            if status == 429:
                limited += 1
                if limited > self.rate_limit_retries:
                    raise TraktRateLimited(
                        f"Trakt kept answering 429 (rate limited) on {where} after {self.rate_limit_retries} retries; "
                        "wait 5 minutes, lower TRAKT_REQUESTS_PER_5MIN and run the same command to resume",
                        status=status, **context,
                    )
                delay = self._rate_limit_delay(response, limited)
                log.warning("Trakt rate limit (429) on %s; waiting %.1f s (retry %d/%d)",
                            where, delay, limited, self.rate_limit_retries)
                self._sleep(delay)
                continue
            if status == 404:
                return Response(None, response.headers)
            if status >= 400:
                retried = _retried(response)
                retried = f" after {retried} {'retry' if retried == 1 else 'retries'}" if retried else ""
                raise TraktPageError(f"Trakt answered HTTP {status} on {where}{retried}", status=status, **context)
            started, started_cpu = time.perf_counter(), time.thread_time()
            try:
                return Response(orjson.loads(response.content), response.headers)
            except ValueError:
                pass  # a truncated or HTML body: retried below
            finally:
                self.decode_seconds += time.perf_counter() - started
                self.decode_cpu_seconds += time.thread_time() - started_cpu
            malformed += 1
            if malformed > self.retries:
                raise TraktPageError(f"Trakt sent malformed JSON on {where} {malformed} times", status=status, **context)
            delay = self._backoff_delay(malformed)
            log.warning("malformed JSON on %s; retrying in %.1f s (%d/%d)", where, delay, malformed, self.retries)
            self._sleep(delay)

    def _backoff_delay(self, attempt: int) -> float:
        # Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)].
        return random.uniform(0, min(self.backoff_max, self.backoff * 2 ** attempt))

    def _rate_limit_delay(self, response: requests.Response, attempt: int) -> float:
        retry_after = response.headers.get("Retry-After", "").strip()
        if retry_after.isdigit():
            return float(min(int(retry_after), self.retry_after_max))
        # No usable Retry-After (e.g. an HTML error page): at least the base backoff, growing, jittered.
        return self.backoff + self._backoff_delay(attempt)

    def get_page(self, path: str, params: Mapping[str, Any], page: int, limit: int = MAX_LIMIT) -> Page:
        """One page of a listing; pagination read from the X-Pagination-* headers (-1 where one is missing)."""
        response = self.get(path, {**params, "page": page, "limit": limit})
        items = response.data if isinstance(response.data, list) else []
        headers = response.headers
        return Page(
            number=page,
            page_count=_int_header(headers, "X-Pagination-Page-Count", -1),
            limit=_int_header(headers, "X-Pagination-Limit", min(limit, MAX_LIMIT)),
            item_count=_int_header(headers, "X-Pagination-Item-Count", -1),
            items=items,
        )

    def paginate(self, path: str, params: Mapping[str, Any] | None = None, *, start_page: int = 1,
                 limit: int = MAX_LIMIT) -> Iterator[Page]:
        """Yield pages from `start_page` until one is the last; always sends page and limit.

        A page is the last only when it is not full, not below the reported page count and no rows are
        counted beyond it (`Page.is_last`): a lagging page count, missing headers or an empty page in the
        middle do not end a listing early. `MAX_EMPTY_RUN` empty pages in a row end it whatever the headers
        say. A page that stays malformed or failing after its retries is yielded as `Page(failed=reason)`
        so the caller can record it and move on.
        """
        if limit <= 0 or start_page <= 0:
            raise ValueError("limit and start_page must be positive")
        page_number, empty_run = start_page, 0
        while True:
            try:
                page = self.get_page(path, params or {}, page_number, limit)
            except TraktPageError as exc:
                yield Page(page_number, -1, min(limit, MAX_LIMIT), -1, [], failed=str(exc), has_more=True)
                page_number += 1
                continue
            empty_run = 0 if page.items else empty_run + 1
            more = not page.is_last and empty_run < MAX_EMPTY_RUN
            yield dataclasses.replace(page, has_more=more)
            if not more:
                return
            page_number += 1

    def people(self, media: str, trakt_id: int) -> dict[str, Any] | None:
        """The `{cast, crew}` of one title, or None when Trakt does not know it."""
        return self.get(f"/{MEDIA_PATHS[media]}/{trakt_id}/people").data

    def translations(self, media: str, trakt_id: int, language: str | None = None) -> list[Any] | None:
        """The translations of one title (`[{title, overview, tagline, language, country}]`), of one language or
        all; None when Trakt does not know the title."""
        path = f"/{MEDIA_PATHS[media]}/{trakt_id}/translations" + (f"/{language}" if language else "")
        data = self.get(path).data
        return None if data is None else data if isinstance(data, list) else []


def _retried(response: requests.Response) -> int:
    """How many times urllib3 retried before this response (0 when it could not tell)."""
    retries = getattr(getattr(response, "raw", None), "retries", None)
    return len(getattr(retries, "history", ()) or ())


def _int_header(headers: Mapping[str, str], name: str, default: int) -> int:
    try:
        return int(headers[name])
    except (KeyError, TypeError, ValueError):
        return default
