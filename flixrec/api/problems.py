"""Every error the API answers with, as an RFC 9457 problem (application/problem+json), translated in ONE place.

    FlixrecError (the core's tree)      TitleNotFound 404; an input error (also a ValueError, like
                                        InvalidRequest) 422; ConfigError 500; any other 503 (IndexNotBuilt
                                        names the command that builds the index)
    RequestValidationError (FastAPI)    422, naming each parameter and why
    ApiProblem (raised by the edge)     its own status: 401 (key), 422 (a filter value the parser dropped)
    HTTPException (Starlette)           its status: 404 unknown route, 405 method
    anything else                       500 (a bug; logged, never shown)

Server-side failures (5xx) never name a server file: the detail is fixed text, or the core's message with its
paths replaced; the log has the whole message.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from flixrec.errors import ConfigError, EmbedderUnavailable, FlixrecError, IndexNotBuilt, IndexUnavailable, TitleNotFound

log = logging.getLogger("flixrec.api")
PROBLEM_TYPE = "urn:flixrec:problem:"
BUILD_COMMAND = "python -m ingest build-demo"
"""What builds a home from nothing (a catalogue from Trakt: python -m ingest trakt ..., then python -m ingest embed)."""


class ProblemItem(BaseModel):
    """One invalid parameter: which, where (query, path, body, header) and why."""

    parameter: str
    location: str
    message: str


class Problem(BaseModel):
    """An error: RFC 9457 members (type, title, status, detail) and which parameters were wrong."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "type": "urn:flixrec:problem:invalid-parameter", "title": "Invalid parameter", "status": 422,
        "detail": "lang: lang=zz is not in the catalogue", "parameter": "lang",
        "errors": [{"parameter": "lang", "location": "query", "message": "lang=zz is not in the catalogue"}],
    }]})

    type: str = Field(description="a URN naming the kind of problem, e.g. urn:flixrec:problem:invalid-parameter")
    title: str
    status: int
    detail: str
    parameter: str | None = Field(default=None, description="the first invalid parameter, when a parameter is to blame")
    errors: list[ProblemItem] = []
    command: str | None = Field(default=None, description="what to run on the server to fix it (503 without an index)")


class ApiProblem(Exception):
    """A problem the edge itself decides on (bad filter value, missing key)."""

    def __init__(self, status: int, slug: str, title: str, detail: str, errors: list[ProblemItem] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.problem = _problem(status, slug, title, detail, errors or [])
        self.headers = headers


def invalid_parameters(errors: list[ProblemItem]) -> ApiProblem:
    """A 422 naming every invalid parameter."""
    detail = "; ".join(f"{e.parameter}: {e.message}" for e in errors)
    return ApiProblem(422, "invalid-parameter", "Invalid parameter", detail, errors)


def _problem(status: int, slug: str, title: str, detail: str, errors: list[ProblemItem] | None = None,
             command: str | None = None) -> Problem:
    errors = errors or []
    return Problem(type=PROBLEM_TYPE + slug, title=title, status=status, detail=detail,
                   parameter=errors[0].parameter if errors else None, errors=errors, command=command)


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON response of a problem (never cached)."""
    return JSONResponse(problem.model_dump(exclude_none=True), status_code=problem.status,
                        media_type="application/problem+json", headers={"Cache-Control": "no-store", **(headers or {})})


def _without_paths(message: str) -> str:
    """The message with any server file path replaced (clients need the command, not the layout of the disk)."""
    return re.sub(r"(?<![\w:/.])/[^\s;,()'\"]+", "<server path>", message)


def _build_command(message: str) -> str:
    """The ingest command an IndexNotBuilt message names (it always names one), else the demo build."""
    found = re.search(r"python -m ingest [^()\n;]*?(?=\s{2}|\s*\(|;|$)", message)
    return found.group(0).strip() if found else BUILD_COMMAND


def core_problem(exc: FlixrecError) -> Problem:
    """The problem a core error means, by one rule: the client's fault (an unknown id, an argument the core
    refuses: a FlixrecError that is also a ValueError, like InvalidRequest) is 4xx with the core's message;
    anything else is the server's (503, or 500 for its settings) with a fixed text or a path-free message."""
    if isinstance(exc, TitleNotFound):
        return _problem(404, "title-not-found", "Title not found", str(exc)[:300])
    if isinstance(exc, ValueError):
        parameter = getattr(exc, "parameter", None) or getattr(exc, "param", None)
        errors = [ProblemItem(parameter=str(parameter), location="query", message=str(exc)[:300])] if parameter else []
        return _problem(422, "invalid-request", "Invalid request", str(exc)[:500], errors)
    if isinstance(exc, IndexNotBuilt):
        return _problem(503, "index-not-built", "Index not built", _without_paths(str(exc))[:500],
                        command=_build_command(str(exc)))
    if isinstance(exc, ConfigError):
        return _problem(500, "server-misconfigured", "Server misconfigured", "the server's settings are invalid")
    fixed = {IndexUnavailable: "the vector index could not be read; the server's log names the file",
             EmbedderUnavailable: "free-text search needs the embedding model, which cannot be loaded on this server"}
    detail = next((text for kind, text in fixed.items() if isinstance(exc, kind)),
                  f"the server cannot answer now ({type(exc).__name__}); its log says why")
    slug = re.sub(r"(?<!^)(?=[A-Z])", "-", type(exc).__name__).lower()
    return _problem(503, slug, "Service unavailable", detail)


def _validation_items(exc: RequestValidationError) -> list[ProblemItem]:
    """One item per FastAPI/Pydantic validation error: the parameter's name, where it was, and why."""
    items = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ())]
        location = loc[0] if loc else "request"
        name = ".".join(loc[1:]) or location
        if location == "body" and name.isdigit():  # the body itself (not JSON, or not an object)
            name = "body"
        items.append(ProblemItem(parameter=name[:100], location=location, message=str(error.get("msg", "invalid"))[:300]))
    return items


def add_problem_handlers(app: FastAPI) -> None:
    """Install the one translation of every exception into a problem response."""

    @app.exception_handler(FlixrecError)
    async def flixrec_error(request: Request, exc: FlixrecError) -> JSONResponse:
        problem = core_problem(exc)
        if problem.status >= 500:
            log.warning("%s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
        return problem_response(problem)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(invalid_parameters(_validation_items(exc)).problem)

    @app.exception_handler(ApiProblem)
    async def api_problem(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem_response(exc.problem, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {400: "Bad request", 404: "Not found", 405: "Method not allowed"}
        title = titles.get(exc.status_code, "HTTP error")
        detail = "no such endpoint; see /docs" if exc.status_code == 404 else str(exc.detail)
        slug = re.sub(r"[^a-z]+", "-", title.lower()).strip("-")
        return problem_response(_problem(exc.status_code, slug, title, detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return problem_response(_problem(500, "internal-error", "Internal error", "the server failed; its log says why"))


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries documenting these problem statuses."""
    described = {304: "Not modified (If-None-Match matched the ETag of the served build)",
                 401: "Missing or wrong X-API-Key", 404: "Unknown title id",
                 422: "Invalid parameter (the body names which and why)",
                 503: "No index yet (the body names the command that builds it)"}
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        out[status] = {"description": described[status]} if status == 304 else {
            "model": Problem, "description": described[status], "content": {"application/problem+json": {}}}
    return out
