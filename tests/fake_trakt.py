"""A real local fake of the Trakt API v2: a ThreadingHTTPServer on 127.0.0.1:0 serving generated records.

It speaks Trakt's shapes, written from the real API's published schemas and client libraries' recorded
answers (trakt.py, TraktKit): movies and shows with extended=full (certification, subgenres, languages,
trailer, homepage, available_translations, ids.tvdb/plex, updated_at, airs, after/during_credits; some
records lack keys altogether, unrated ones say `rating: 0, votes: 0`), `images` only with
extended=images (scheme-less URLs), search results as {type, score, movie}, updates as {updated_at, movie},
people as {cast (character + characters), crew: {directing, writing, "created by", ...}} where a show's
crew carries `episode_count` and its directing group lists episode directors (or only a script supervisor),
translations as a list of {title, overview, tagline, language, country} (one per country, fields nullable).

And Trakt's behaviour: X-Pagination-* headers, `limit` clamped at 250 with the real defaults (search 50,
popular/updates 100), 401 for a wrong key, and what the real API does when it misbehaves, switched on per
test: a page count that lags (`page_count_lag`), short or empty pages mid-listing (`short_pages`,
`empty_pages`), no pagination headers on some endpoints (`headerless`), and scripted faults (429 with and
without Retry-After, HTML 429 pages, 429 with Retry-After: 300, 500/502/503, Cloudflare's HTML 520/521/522,
a redirect to another host, a slow answer, malformed JSON). Every request is logged with its arrival time
(and whether it carried the API key) so tests can check the pacing and the key's travels.

Records are generated from their id on demand, so a 334k-title catalogue costs no memory:
`python tests/fake_trakt.py --movies 334000` serves one until killed (the benchmark runs it that way).
"""

from __future__ import annotations

import bisect
import collections
import datetime as dt
import json
import sys
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import fake_trakt_records as records
from fake_trakt_account import FakeAccount

MAX_LIMIT = 250
DEFAULT_LIMITS = {"search": 50, "popular": 100, "updates": 100}  # X-Pagination-Limit when no limit is sent
FAULTS = ("429", "429-no-retry-after", "429-html", "429-html-300", "500", "502", "503", "520", "521", "522",
          "slow", "malformed", "401", "403", "redirect")
HTML_429 = (b"<!DOCTYPE html><html><head><title>429 Too Many Requests</title></head>"
            b"<body><h1>Too Many Requests</h1><p>Slow down.</p></body></html>")
CLOUDFLARE_HTML = ("<!DOCTYPE html><html><head><title>api.trakt.tv | {status}: {reason}</title></head><body>"
                   "<div class=\"cf-error-details\"><h1>{reason}</h1><span>Error code {status}</span>"
                   "<p>Cloudflare Ray ID: 8e2f1c0a9b7d3e41</p></div></body></html>")
CLOUDFLARE_REASONS = {520: "Web server is returning an unknown error", 521: "Web server is down",
                      522: "Connection timed out"}


class FakeTrakt:
    """Generated Trakt catalogue behind a real HTTP server; use as a context manager."""

    def __init__(self, movies: int = 300, shows: int = 100, client_id: str = "fake-client-id", *,
                 null_every: int = 7, delay: float = 0.0, retry_after: str = "0", slow_seconds: float = 1.0,
                 overview_words: int = 40, host: str = "127.0.0.1"):
        self.counts = {"movie": movies, "show": shows}
        self.host = host
        self.page_count_lag = 0  # X-Pagination-Page-Count this many below the pages that hold rows
        self.short_pages: dict[tuple[str, int], int] = {}  # (path, page) -> rows left out of that page
        self.empty_pages: dict[tuple[str, int], int] = {}  # (path, page) -> times served empty (-1: always)
        self.headerless: set[str] = set()  # listing kinds ("updates", ...) answered without X-Pagination-*
        self.redirect_to: str | None = None  # base URL the "redirect" fault sends the client to
        self.keys_seen: list[bool] = []  # per request: whether it carried a trakt-api-key header
        self.client_id = client_id
        self.account = FakeAccount(client_id)  # OAuth, /sync and /users/me (tests/fake_trakt_account.py)
        self.null_every = null_every
        self.delay = delay
        self.retry_after = retry_after
        self.slow_seconds = slow_seconds
        self.overview_words = overview_words
        self.overrides: dict[tuple[str, int], dict[str, Any]] = {}
        self.faults: collections.deque[str] = collections.deque()
        self.page_faults: dict[tuple[str, int], list[str]] = {}
        self.requests: list[tuple[float, str, int, int]] = []  # (arrival, path, page, status)
        self.queries: list[dict[str, str]] = []  # the query parameters of each request, in order
        self._listings: dict[tuple, list[int]] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeTrakt:
        """Start serving on 127.0.0.1 at a free port, in a daemon thread."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go in separate writes: avoid delayed-ACK stalls

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                self.fake = fake
                fake._handle(self)

            do_POST = do_PUT = do_DELETE = do_GET  # noqa: N815 (the account's routes read the method)

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # clients that hung up on a slow answer are part of the test

        self._server = Server((self.host, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the server."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeTrakt:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL to point a client at."""
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # ---- the catalogue ------------------------------------------------------------------------------

    def record(self, media: str, trakt_id: int) -> dict[str, Any]:
        """The full (extended=full) record of one title, with any update applied."""
        base = self._generate(media, trakt_id)
        override = self.overrides.get((media, trakt_id))
        return {**base, **override} if override else base

    def ids(self, media: str) -> range:
        """Every trakt id of this media type."""
        return range(1, self.counts[media] + 1)

    def catalogue(self, media: str) -> list[dict[str, Any]]:
        """Every record of this media type."""
        return [self.record(media, i) for i in self.ids(media)]

    def update_title(self, media: str, trakt_id: int, **changes: Any) -> None:
        """Change a record upstream, as Trakt would (its updated_at becomes now)."""
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        with self._lock:
            previous = self.overrides.get((media, trakt_id), {})
            self.overrides[(media, trakt_id)] = {**previous, **changes, "updated_at": now}
            self._listings.clear()

    people_without_crew = False
    """Answer /people with cast, directing and writing only, as Trakt does for many small titles."""

    def people(self, media: str, trakt_id: int) -> dict[str, Any]:
        """Cast and crew of one title, as Trakt sends them (see fake_trakt_records.people)."""
        answer = records.people(media, trakt_id)
        if self.people_without_crew:
            kept = ("directing", "writing", "created by")
            answer = {**answer, "crew": {k: v for k, v in answer["crew"].items() if k in kept}}
        return answer

    def translations(self, media: str, trakt_id: int, language: str | None = None) -> list[dict[str, Any]]:
        """Translations of one title (all, or one language), as Trakt sends them (see fake_trakt_records.translations)."""
        return records.translations(media, trakt_id, language, self.record(media, trakt_id))

    def _generate(self, media: str, i: int) -> dict[str, Any]:
        return records.record(media, i, self.null_every, self.overview_words)

    # ---- faults and the request log ---------------------------------------------------------------

    def inject(self, *faults: str) -> None:
        """Answer the next requests with these faults, one each, in order (see FAULTS)."""
        unknown = set(faults) - set(FAULTS)
        assert not unknown, f"unknown faults {unknown}"
        self.faults.extend(faults)

    def break_page(self, path: str, page: int, *faults: str) -> None:
        """Answer each request for this page of this path with the next of these faults (then normally)."""
        self.page_faults[(path, page)] = list(faults)

    def max_in_window(self, seconds: float) -> int:
        """The most requests that arrived within any window of this many seconds."""
        times = sorted(t for t, *_ in self.requests)
        return max((bisect.bisect_right(times, t + seconds - 1e-9) - k for k, t in enumerate(times)), default=0)

    def pages_served(self, path: str) -> list[int]:
        """Page numbers answered with 200 for this path, in order."""
        return [page for _, p, page, status in self.requests if p == path and status == 200]

    # ---- HTTP -----------------------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        arrived = time.monotonic()
        url = urlsplit(request.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        page = _positive(query.get("page"), 1)
        with self._lock:  # logged on arrival (status 0 until answered), so a client never outruns the log
            index = len(self.requests)
            self.requests.append((arrived, url.path, page, 0))
            self.queries.append(query)
            self.keys_seen.append(request.headers.get("trakt-api-key") is not None)
        request.fake_log_index = index  # type: ignore[attr-defined]  # _send fills in the status before writing
        self._answer(request, url.path, query, page)

    def _log_status(self, index: int, status: int) -> None:
        with self._lock:
            arrived, path, page, _ = self.requests[index]
            self.requests[index] = (arrived, path, page, status)

    def _answer(self, request: BaseHTTPRequestHandler, path: str, query: dict[str, str], page: int) -> int:
        if self.delay:
            time.sleep(self.delay)
        if request.headers.get("trakt-api-key") != self.client_id:
            return _send(request, 401, b"", "text/plain")
        if request.headers.get("trakt-api-version") != "2":
            return _send(request, 400, b'{"error":"trakt-api-version must be 2"}')
        with self._lock:
            fault = self.faults.popleft() if self.faults else None
            scripted = self.page_faults.get((path, page))
            if fault is None and scripted:
                fault = scripted.pop(0)
        if fault:
            sent = self._fault(request, fault)
            if sent:
                return sent
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        status, data, headers = self.account.answer(request.command, path, query, json.loads(raw) if raw else None,
                                                    request.headers)
        if status:
            return _send(request, status, b"" if data is None else json.dumps(data).encode(), headers=headers)
        routed = self._route(path, query)
        if routed is None:
            return _send(request, 404, b'{"error":"not found"}')
        items, paginated = routed
        headers: dict[str, str] = {}
        if paginated:
            kind = items[0][0] if items else _kind(path)
            limit = min(_positive(query.get("limit"), DEFAULT_LIMITS.get(kind, 10)), MAX_LIMIT)
            total = len(items)
            page_count = max(1, (total + limit - 1) // limit - self.page_count_lag)
            ids = items[(page - 1) * limit : page * limit]
            with self._lock:
                left_out = self.short_pages.get((path, page), 0)
                empty = self.empty_pages.get((path, page), 0)
                if empty > 0:
                    self.empty_pages[(path, page)] = empty - 1
            ids = [] if empty else ids[: len(ids) - left_out] if left_out else ids
            if kind not in self.headerless:
                headers = {"X-Pagination-Page": str(page), "X-Pagination-Limit": str(limit),
                           "X-Pagination-Page-Count": str(page_count), "X-Pagination-Item-Count": str(total)}
            with_images = "images" in (query.get("extended") or "").split(",")
            items = [self._render(path, item, with_images) for item in ids]
        body = b"{" if fault == "malformed" else json.dumps(items).encode()
        return _send(request, 200, body, headers=headers)

    def _fault(self, request: BaseHTTPRequestHandler, fault: str) -> int:
        if fault == "429":
            return _send(request, 429, b'{"error":"rate limited"}', headers={"Retry-After": self.retry_after})
        if fault == "429-no-retry-after":
            return _send(request, 429, b'{"error":"rate limited"}')
        if fault == "429-html":
            return _send(request, 429, HTML_429, "text/html")
        if fault == "429-html-300":
            return _send(request, 429, HTML_429, "text/html", headers={"Retry-After": "300"})
        if fault in ("520", "521", "522"):
            status = int(fault)
            page = CLOUDFLARE_HTML.format(status=status, reason=CLOUDFLARE_REASONS[status]).encode()
            return _send(request, status, page, "text/html")
        if fault == "redirect":
            assert self.redirect_to, "set redirect_to before injecting a redirect"
            return _send(request, 302, b"", "text/plain",
                         headers={"Location": self.redirect_to + request.path})
        if fault in ("500", "502", "503"):
            return _send(request, int(fault), b"<html><body>Server error</body></html>", "text/html")
        if fault in ("401", "403"):
            return _send(request, int(fault), b"", "text/plain")
        if fault == "slow":
            time.sleep(self.slow_seconds)
        return 0  # "slow" and "malformed" go on to answer

    def _route(self, path: str, query: dict[str, str]) -> tuple[list[Any], bool] | None:
        parts = path.strip("/").split("/")
        kinds = {"movies": "movie", "shows": "show", "movie": "movie", "show": "show"}
        if len(parts) == 2 and parts[0] == "search" and parts[1] in ("movie", "show"):
            return self._listing("search", parts[1], query), True
        if len(parts) == 2 and parts[0] in ("movies", "shows") and parts[1] == "popular":
            return self._listing("popular", kinds[parts[0]], query), True
        if len(parts) == 3 and parts[0] in ("movies", "shows") and parts[1] == "updates":
            return self._listing("updates", kinds[parts[0]], {**query, "start_date": parts[2]}), True
        if len(parts) == 3 and parts[0] in ("movies", "shows") and parts[2] == "people" and parts[1].isdigit():
            trakt_id = int(parts[1])
            if trakt_id not in self.ids(kinds[parts[0]]):
                return None
            return self.people(kinds[parts[0]], trakt_id), False  # type: ignore[return-value]
        if 3 <= len(parts) <= 4 and parts[0] in ("movies", "shows") and parts[2] == "translations" and parts[1].isdigit():
            trakt_id = int(parts[1])
            if trakt_id not in self.ids(kinds[parts[0]]):
                return None
            return self.translations(kinds[parts[0]], trakt_id, parts[3] if len(parts) == 4 else None), False
        return None

    def _listing(self, kind: str, media: str, query: dict[str, str]) -> list[Any]:
        key = (kind, media, tuple(sorted((k, v) for k, v in query.items() if k not in ("page", "limit", "extended"))))
        with self._lock:
            cached = self._listings.get(key)
        if cached is None:
            cached = [(kind, media, i) for i in self._select(kind, media, query)]
            with self._lock:
                self._listings[key] = cached
        return cached

    def _select(self, kind: str, media: str, query: dict[str, str]) -> Iterable[int]:
        ids = self.ids(media)
        if kind == "updates":
            start = query["start_date"].replace(".000Z", "Z")
            changed = [(rec["updated_at"], i) for (m, i), _ in self.overrides.items() if m == media
                       for rec in [self.record(media, i)] if rec["updated_at"].replace(".000Z", "Z") >= start]
            return [i for _, i in sorted(changed)]
        years = query.get("years")
        languages = set(filter(None, (query.get("languages") or "").split(",")))
        if not years and not languages and kind == "search" and not self.overrides:
            return ids  # the whole catalogue, in id order (fast path for big fakes)
        first, _, last = (years or "").partition("-")
        selected = []
        for i in ids:
            rec = self.record(media, i)
            if years and (rec["year"] is None or not int(first) <= rec["year"] <= int(last or first)):
                continue
            if languages and rec["language"] not in languages:
                continue
            selected.append((-(rec["votes"] or -1), i) if kind == "popular" else (0, i))
        return [i for _, i in sorted(selected)]

    def _render(self, path: str, item: tuple[str, str, int], with_images: bool = True) -> dict[str, Any]:
        kind, media, i = item
        record = self.record(media, i)
        if not with_images:
            record = {k: v for k, v in record.items() if k != "images"}
        if kind == "search":
            return {"type": media, "score": 1000.0 - i / 1000, media: record}
        if kind == "updates":
            return {"updated_at": record["updated_at"], media: record}
        return record


def _kind(path: str) -> str:
    """The listing kind of a path: search, popular or updates."""
    parts = path.strip("/").split("/")
    return "search" if parts[0] == "search" else parts[1] if len(parts) > 1 else ""


def _positive(raw: str | None, default: int) -> int:
    try:
        value = int(raw) if raw not in (None, "") else default
    except ValueError:
        return default
    return value if value > 0 else default


def _send(request: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str = "application/json",
          headers: dict[str, str] | None = None) -> int:
    fake, index = getattr(request, "fake", None), getattr(request, "fake_log_index", None)
    if fake is not None and index is not None:
        fake._log_status(index, status)
    try:
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return status


def main(argv: list[str]) -> int:
    """Serve a fake until killed: python tests/fake_trakt.py [--movies N] [--shows N] [--key K]; prints the URL."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--movies", type=int, default=334_000)
    parser.add_argument("--shows", type=int, default=0)
    parser.add_argument("--key", default="fake-client-id")
    args = parser.parse_args(argv)
    fake = FakeTrakt(args.movies, args.shows, args.key, null_every=50).start()
    print(fake.url, flush=True)
    try:
        sys.stdin.read()  # serve until our parent closes stdin or kills us
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
