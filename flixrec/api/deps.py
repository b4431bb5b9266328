"""The API's dependencies: the shared service, the optional key, ETags tied to the build, ids, filters and pages.

The dependencies are coroutines: each runs on the event loop in microseconds (a sync one would cost a
hand-off to the thread pool and back, per request, for each). Only the endpoints, which call the core,
run in the thread pool.

Filter query parameters are declared from flixrec.filters.FILTER_PARAMS (one vocabulary: the same names
as the app's URLs and the CLI's options) and parsed by its `parse_filter_params`; a value the parser
drops is a 422 naming the parameter, never a silently wider search.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import inspect
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request, Response, Security
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool

from flixrec.api.problems import ApiProblem, ProblemItem, invalid_parameters
from flixrec.api.schemas import MAX_AVOID, MAX_ID_CHARS, printable
from flixrec.filters import DEFAULT_K, FILTER_NAMES, FILTER_PARAMS, ParsedFilters, parse_filter_params
from flixrec.service import FlixRec

API_VERSION = "1"
CACHE_SECONDS = 60
"""How long a client may reuse a GET response before revalidating it (its ETag changes with every build)."""
MAX_OFFSET = 200
DEFAULT_VALUED = frozenset({f"k={DEFAULT_K}", "offset=0"})
"""Parameters that ask for what their absence asks for (every endpoint with a `k` defaults it to DEFAULT_K)."""
VIEW_PARAMS = ("hide",)
"""Parameters of the app's URLs besides the filters that the API reads too: hidden (excluded) title ids."""


async def get_service(request: Request) -> FlixRec:
    """The one FlixRec of this process (built by create_app; thread-safe reads, reloads after a new build)."""
    return request.app.state.service


Service = Annotated[FlixRec, Depends(get_service)]

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="the key the server was given in FLIXREC_API_KEY")


async def require_api_key(request: Request, given: Annotated[str | None, Security(api_key_header)] = None) -> None:
    """When the server has a key, the request must carry it in X-API-Key (compared in constant time, never logged)."""
    expected = request.app.state.settings.api_key
    if expected and not (given and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))):
        raise ApiProblem(401, "unauthorized", "Unauthorized", "this server needs its API key in the X-API-Key header",
                         [ProblemItem(parameter="X-API-Key", location="header", message="missing or wrong")])


class NotModified(Exception):
    """The client's cached response is still current (If-None-Match matched): answer 304 with no body."""

    def __init__(self, headers: dict[str, str]):
        super().__init__("not modified")
        self.headers = headers


async def cache_headers(request: Request, response: Response, service: Service) -> str:
    """ETag and Cache-Control of a GET tied to the served build; NotModified when the client's copy is current.

    The ETag hashes the API version, the build stamp, the path and the normalised query: a response is a
    function of those (flixrec.api.cache keeps responses under the same key).
    It is weak (W/) because gzip gives the same content other bytes.
    """
    stamp = service.settled_stamp() or await run_in_threadpool(service.build_stamp)  # loading a build: in a thread
    key = f"{API_VERSION}|{stamp}|{request.url.path}|{normalised_query(request.url.query)}"
    etag = f'W/"{hashlib.blake2b(key.encode("utf-8", "replace"), digest_size=12).hexdigest()}"'
    private = "private" if request.app.state.settings.api_key else "public"
    headers = {"ETag": etag, "Cache-Control": f"{private}, max-age={CACHE_SECONDS}"}
    wanted = {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}
    if etag in wanted or etag.removeprefix("W/") in wanted or "*" in wanted:
        raise NotModified(headers)
    response.headers.update(headers)
    return stamp


Cached = Depends(cache_headers)


def normalised_query(query: str) -> str:
    """The query string with its parameters sorted by name (values of one name keep their order: a range's two
    `year` values are min then max) and a lone `k` or `offset` at its default left out, so the same request
    spelt another way (`?k=20`, or no k at all) has the same ETag and cache entry."""
    if not query:
        return query
    pairs = query.split("&")
    names = [pair.split("=", 1)[0] for pair in pairs]
    kept = [pair for pair, name in zip(pairs, names) if not (pair in DEFAULT_VALUED and names.count(name) == 1)]
    return "&".join(sorted(kept, key=lambda pair: pair.split("=", 1)[0]))


async def title_id_path(title_id: Annotated[str, Path(max_length=MAX_ID_CHARS, description="a title's id",
                                                  examples=["tmdb-movie-157336"])]) -> str:
    """A title id from the path, checked to be text an id can be."""
    try:
        return printable(title_id)
    except ValueError as exc:
        raise invalid_parameters([ProblemItem(parameter="title_id", location="path", message=str(exc))]) from None


TitleId = Annotated[str, Depends(title_id_path)]


@dataclasses.dataclass(frozen=True)
class PageRequest:
    """Where a page of a ranked list starts and how long it is."""

    offset: int
    limit: int

    @property
    def fetch(self) -> int:
        """How many ranked items to ask the core for: this page and one more, to know whether a next page exists."""
        return self.offset + self.limit + 1

    def cut(self, items: Sequence[Any]) -> tuple[list[Any], int | None]:
        """This page of the items, and the next page's offset (None when this is the last page)."""
        page = list(items[self.offset : self.offset + self.limit])
        return page, (self.offset + self.limit if len(items) > self.offset + self.limit else None)


def filter_problems(parsed: ParsedFilters, location: str) -> None:
    """A 422 naming every parameter whose value the shared parser dropped."""
    if parsed.problems:
        raise invalid_parameters([
            ProblemItem(parameter=problem.split("=", 1)[0], location=location, message=problem.removesuffix("; ignored"))
            for problem in parsed.problems
        ])


def parse_filters(raw: Mapping[str, Sequence[str]], service: FlixRec, hidden: Sequence[str], location: str) -> ParsedFilters:
    """Filters from raw parameters via the shared parser, with hidden ids excluded; 422 when a value is dropped."""
    given = {name: list(values) for name, values in raw.items() if values}
    parsed = parse_filter_params(given, service.facets() if given else None)
    filter_problems(parsed, location)
    for title_id in hidden:
        try:
            printable(title_id)
        except ValueError as exc:
            raise invalid_parameters([ProblemItem(parameter="hide", location=location, message=str(exc))]) from None
    kept = {**parsed.kept, **({"hide": list(hidden)} if hidden else {})}
    filters = dataclasses.replace(parsed.filters, exclude_ids=frozenset(hidden))
    return dataclasses.replace(parsed, filters=filters, kept=kept)


def _filter_query_dependency() -> Callable[..., Awaitable[ParsedFilters]]:
    """A dependency whose query parameters are the shared filter vocabulary (so OpenAPI documents each one)."""
    parameters = [
        inspect.Parameter("service", inspect.Parameter.KEYWORD_ONLY, annotation=Service),
    ]
    for param in FILTER_PARAMS:
        if param.name == "k":
            continue
        several = param.repeated or param.name in ("year", "runtime")  # a range may come as two values
        annotation = list[str] | None if several else str | None
        example = re.search(rf"\b{param.name}=([^\s&)]+)", param.help)  # the help's own example value
        query = Query(description=f"{param.label}: {param.help}", max_length=None if several else 100,
                      examples=[[example.group(1)] if several else example.group(1)] if example else None)
        parameters.append(inspect.Parameter(param.name, inspect.Parameter.KEYWORD_ONLY,
                                            annotation=Annotated[annotation, query], default=None))
    parameters.append(inspect.Parameter(
        "hide", inspect.Parameter.KEYWORD_ONLY, default=None,
        annotation=Annotated[list[str] | None, Query(description="title ids to leave out (repeatable): hide=tmdb-movie-27205",
                                                     max_length=MAX_AVOID)]))

    async def filter_query(service: FlixRec, **values: Any) -> ParsedFilters:
        hidden = values.pop("hide", None) or []
        raw = {name: [value] if isinstance(value, str) else value for name, value in values.items() if value}
        if raw and service.settled_stamp() is None:  # the facets of a build not loaded yet: load it in a thread
            await run_in_threadpool(service.build_stamp)
        return parse_filters(raw, service, hidden, "query")

    filter_query.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    filter_query.__doc__ = "The filters of the query string (shared vocabulary, flixrec.filters)."
    return filter_query


FilterQuery = Annotated[ParsedFilters, Depends(_filter_query_dependency())]


def body_filters(raw: Mapping[str, str | list[str]], service: FlixRec) -> ParsedFilters:
    """Filters from a JSON body's `filters` object (same names as the query strings); unknown names are a 422."""
    unknown = [name for name in raw if name not in FILTER_NAMES + VIEW_PARAMS or name == "k"]
    if unknown:
        raise invalid_parameters([
            ProblemItem(parameter=f"filters.{name[:60]}", location="body",
                        message=f"not a filter; use {', '.join(n for n in FILTER_NAMES if n != 'k')} or hide")
            for name in unknown
        ])
    values = {name: [value] if isinstance(value, str) else list(value) for name, value in raw.items()}
    hidden = values.pop("hide", [])
    return parse_filters(values, service, hidden, "body")
