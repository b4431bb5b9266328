"""A per-build cache of whole GET responses: a bounded LRU of their final bytes, in front of the routes.

A GET under /v1 is a pure function of the served build, its path and its (normalised) query string (its
ETag says so already), so the bytes a route answered with (gzipped when the client takes gzip) are kept
under (build stamp, path, query, gzip) and sent again without running the route. The cache is emptied
when ingest publishes a new build. It holds only 200 responses that carry an ETag and may be stored
(never /v1/status, never an error). On a miss, a default similar-titles page computed ahead is sent from
its file (flixrec.api.answers). Each answer says `X-FlixRec-Cache: hit`, `stored` or `miss`, so a
benchmark can count them (its figures for a hit are the cache's cost, not the core's).

It sits inside CORS (whose headers depend on the request's Origin) and outside gzip; with an API key
configured it serves a hit only to a request carrying the key (a request without it goes on to the
router, which answers 401).
"""

from __future__ import annotations

import collections
import hmac
from collections.abc import Callable
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flixrec.api.answers import StoredAnswers
from flixrec.api.deps import normalised_query

CACHE_HEADER = "x-flixrec-cache"
CACHED_PREFIX = "/v1/"
NEVER_CACHED = frozenset({"/v1/status"})
MAX_ENTRY_SHARE = 16
"""A response larger than this share of the cache is not kept (it would evict too many others)."""


class ResponseCache:
    """Responses (status, headers, body) by key, least recently used evicted beyond `max_bytes`; for one build."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.stamp: str | None = None
        self.hits = self.misses = self.size = 0
        self._entries: collections.OrderedDict[tuple[str, ...], tuple[list[tuple[bytes, bytes]], bytes]] = (
            collections.OrderedDict())

    def get(self, stamp: str, key: tuple[str, ...]) -> tuple[list[tuple[bytes, bytes]], bytes] | None:
        """The stored response for this key of this build, or None (a new build empties the cache)."""
        if stamp != self.stamp:
            self.clear(stamp)
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return found

    def put(self, stamp: str, key: tuple[str, ...], headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        """Keep a response of this build (unless it is too large), evicting the least recently used ones."""
        cost = len(body) + sum(len(k) + len(v) for k, v in headers) + 200
        if stamp != self.stamp or cost * MAX_ENTRY_SHARE > self.max_bytes or key in self._entries:
            return
        self._entries[key] = (headers, body)
        self.size += cost
        while self.size > self.max_bytes:
            _, (old_headers, old_body) = self._entries.popitem(last=False)
            self.size -= len(old_body) + sum(len(k) + len(v) for k, v in old_headers) + 200

    def clear(self, stamp: str | None) -> None:
        """Forget every response; the next ones belong to `stamp`."""
        self._entries.clear()
        self.stamp, self.size = stamp, 0

    def stats(self) -> dict[str, Any]:
        """Entries, bytes, hits and misses so far (for the server log and benchmarks)."""
        return {"entries": len(self._entries), "bytes": self.size, "hits": self.hits, "misses": self.misses}


class ResponseCacheMiddleware:
    """ASGI middleware answering GETs of the same build from a ResponseCache (repeats), then from the answers
    computed ahead (flixrec.api.answers) when there are any."""

    def __init__(self, app: ASGIApp, cache: ResponseCache | None, settled_stamp: Callable[[], str | None],
                 api_key: str | None = None, answers: StoredAnswers | None = None):
        self.app = app
        self.cache = cache
        self.answers = answers
        self.settled_stamp = settled_stamp
        self.api_key = api_key.encode("utf-8") if api_key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = self._key(scope)
        stamp = self.settled_stamp() if key is not None else None
        if key is None or stamp is None:
            await self.app(scope, receive, send)
            return
        found = self.cache.get(stamp, key) if self.cache is not None else None
        source = b"hit"
        if found is None and self.answers is not None:
            found, source = self.answers.get(stamp, key[0], key[1], gzip_ok=key[2] == "gzip"), b"stored"
        if found is not None:
            headers, body = found
            await send({"type": "http.response.start", "status": 200, "headers": [*headers, (CACHE_HEADER.encode(), source)]})
            await send({"type": "http.response.body", "body": body})
            return
        if self.cache is None:
            await self.app(scope, receive, send)
            return
        await self._answer_and_keep(scope, receive, send, stamp, key)

    def _key(self, scope: Scope) -> tuple[str, ...] | None:
        """(path, normalised query, gzip or not) of a cacheable request; None when it must reach the routes."""
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        path = scope["path"]
        if not path.startswith(CACHED_PREFIX) or path in NEVER_CACHED:
            return None
        headers = dict(reversed(scope["headers"]))  # the first of repeated headers, as Starlette reads them
        if b"if-none-match" in headers:
            return None  # the route answers 304 or a fresh body with its ETag
        if self.api_key is not None:  # the same comparison as flixrec.api.deps.require_api_key
            given = headers.get(b"x-api-key", b"").decode("latin-1").encode("utf-8")
            if not (given and hmac.compare_digest(given, self.api_key)):
                return None
        gzip = b"gzip" in headers.get(b"accept-encoding", b"")
        query = normalised_query(scope.get("query_string", b"").decode("latin-1"))
        return (path, query, "gzip" if gzip else "")

    async def _answer_and_keep(self, scope: Scope, receive: Receive, send: Send, stamp: str, key: tuple[str, ...]) -> None:
        """Run the routes; keep a complete 200 with an ETag when the build did not change meanwhile."""
        status, headers = 0, []  # copied before sending: outer middleware (CORS) adds request-specific headers in place
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status, headers = message["status"], list(message["headers"])
                MutableHeaders(scope=message).append(CACHE_HEADER, "miss")
            elif message["type"] == "http.response.body" and status:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False) and _storable(status, headers) and self.settled_stamp() == stamp:
                    self.cache.put(stamp, key, headers, b"".join(chunks))
            await send(message)

        await self.app(scope, receive, capture)


def _storable(status: int, headers: list[tuple[bytes, bytes]]) -> bool:
    """A 200 with an ETag whose Cache-Control allows storing it."""
    if status != 200:
        return False
    found = dict(headers)
    return b"etag" in found and b"no-store" not in found.get(b"cache-control", b"")
