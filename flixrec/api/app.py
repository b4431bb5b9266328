"""create_app: the FastAPI application over one FlixRec service (middleware, error handlers, routers)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI, Request, Response, Security
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware

from flixrec.api.answers import StoredAnswers
from flixrec.api.cache import ResponseCache, ResponseCacheMiddleware
from flixrec.api.deps import API_VERSION, NotModified, require_api_key
from flixrec.api.problems import add_problem_handlers
from flixrec.api.routes import health, v1
from flixrec.config import SECRETS_FILE, Settings
from flixrec.errors import FlixrecError
from flixrec.service import FlixRec

log = logging.getLogger("flixrec.api")
GZIP_FROM_BYTES = 1000
GZIP_LEVEL = 6
"""zlib's default: a similar-titles page compresses to within a few percent of level 9 at half the CPU."""
ROUTE_THREADS = 2
"""Requests a worker runs at once in its thread pool (anyio's default: 40); the others wait their turn in
arrival order. The core's work is CPU-bound and takes turns on the GIL, so more threads only interleave
requests and delay the slowest (docs/performance.md, "The REST API"); two, so one slow request (free text,
many seeds) does not hold up the rest."""
RESPONSE_CACHE_MIB = 64
"""Bytes of responses each worker keeps for repeated GETs of the served build (flixrec.api.cache); 0: none."""

DESCRIPTION = """Similar movies and shows over the FlixRec catalogue: the same service the dashboard uses.

* Filters take the app's URL parameters: `year=1990-2010`, `runtime=90-150`, `votes=250`, `rating=6.5`,
  `genre=Drama` (repeatable), `no_genre=Horror`, `lang=ja`, `spoken=de`, `no_cert=R`, `type=movie`,
  `hide=<title id>`, and `favour=director` / `favour=cast` for the ranking; `k` is how many titles per page
  and `offset` pages on.
* Errors are `application/problem+json` (RFC 9457): `type`, `title`, `status`, `detail`, and `parameter` /
  `errors` naming what to fix. 404 for an unknown title, 422 for a bad value, 503 when the index is not
  built yet (with the `command` that builds it).
* GET responses carry an `ETag` that changes with every index build; send it back in `If-None-Match` for a
  304. When the server has a key (FLIXREC_API_KEY), send it in `X-API-Key`.
"""


def create_app(settings: Settings | None = None, service: FlixRec | None = None,
               response_cache_mib: float = RESPONSE_CACHE_MIB, stored_answers: bool = True) -> FastAPI:
    """The API over `service` (default: a FlixRec over `settings`, default: the environment and secrets file),
    answering repeated GETs of the same build from a per-worker cache of `response_cache_mib` (0: no cache),
    and default similar-titles pages from the answers computed ahead when `stored_answers` and there are any.

    With no arguments (how uvicorn's workers build it) it reads the environment, so every worker serves
    the same home; each loads the memory-mapped snapshot, which the operating system shares.
    """
    if settings is None:
        settings = service.settings if service is not None else Settings.from_env(secrets_file=SECRETS_FILE)
    service = service or FlixRec(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = ROUTE_THREADS  # this worker's event loop
        try:
            service.warm_up()  # so no request is the slow one
        except FlixrecError as exc:
            log.warning("not ready yet: %s", type(exc).__name__)
        yield

    app = FastAPI(title="FlixRec API", version=API_VERSION, description=DESCRIPTION, lifespan=lifespan,
                  openapi_tags=[{"name": "titles", "description": "find titles and read their details"},
                                {"name": "recommendations", "description": "similar titles, franchise, free text, several seeds"},
                                {"name": "catalogue", "description": "filter facets and the index's status"},
                                {"name": "health", "description": "liveness and readiness probes"}])
    app.state.settings, app.state.service = settings, service
    add_problem_handlers(app)

    @app.exception_handler(NotModified)
    async def not_modified(request: Request, exc: NotModified) -> Response:
        return Response(status_code=304, headers=exc.headers)

    app.add_middleware(GZipMiddleware, minimum_size=GZIP_FROM_BYTES, compresslevel=GZIP_LEVEL)
    app.state.response_cache = ResponseCache(int(response_cache_mib * 2**20)) if response_cache_mib > 0 else None
    app.state.stored_answers = StoredAnswers(settings) if stored_answers else None
    if app.state.response_cache is not None or app.state.stored_answers is not None:
        app.add_middleware(ResponseCacheMiddleware, cache=app.state.response_cache, answers=app.state.stored_answers,
                           settled_stamp=service.settled_stamp, api_key=settings.api_key)
    if settings.api_cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.api_cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["X-API-Key", "Content-Type", "If-None-Match"], expose_headers=["ETag"])
    app.include_router(health)
    app.include_router(v1, dependencies=[Security(require_api_key)] if settings.api_key else [])
    return app
