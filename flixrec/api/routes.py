"""The API's endpoints: each takes validated parameters, makes one FlixRec call and returns a response model.

/v1/... answers from the served build (GETs carry its ETag); /healthz and /readyz are for load balancers
and never need the key.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, File, Query, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from flixrec.api import schemas
from flixrec.api.deps import MAX_OFFSET, Cached, FilterQuery, PageRequest, Service, TitleId, body_filters
from flixrec.api.problems import ProblemItem, invalid_parameters, problem_responses
from flixrec.errors import IndexNotBuilt
from flixrec.filters import DEFAULT_K, MAX_K
from flixrec.search import MAX_QUERY_CHARS

v1 = APIRouter(prefix="/v1")
health = APIRouter(tags=["health"])

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="how many items to skip (pagination)")]
K = Annotated[int, Query(ge=1, le=MAX_K, description=f"how many titles per page (the app's k), 1 to {MAX_K}")]
MAX_IMPORT_FILES = 5
IMPORT_READ_BYTES = 20_000_001
"""Read at most this much of an upload: the core refuses files over 20 MB (flixrec.profiles.MAX_FILE_BYTES)."""
GET_ERRORS = problem_responses(304, 401, 422, 503)
TITLE_ERRORS = problem_responses(304, 401, 404, 422, 503)


@v1.get("/titles/search", tags=["titles"], response_model=schemas.SearchPage, responses=GET_ERRORS,
        summary="Find titles by name")
def search_titles(
    service: Service,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="a name, typos allowed",
                            examples=["Intersteller"])],
    limit: Annotated[int, Query(ge=1, le=50, description="how many matches per page")] = 10,
    offset: Offset = 0,
    _stamp: str = Cached,
) -> schemas.SearchPage:
    """Exact matches first (every title sharing the name, most voted first), then typo-tolerant ones: the app's rule."""
    page = PageRequest(offset, limit)
    items, next_offset = page.cut(service.search_titles(q, limit=page.fetch))
    return schemas.SearchPage(query=q, items=[schemas.match(m) for m in items], offset=offset, limit=limit,
                              next_offset=next_offset)


@v1.get("/titles/{title_id}", tags=["titles"], response_model=schemas.TitleDetail, responses=TITLE_ERRORS,
        summary="A title with its people, ids and links")
def get_title(service: Service, title_id: TitleId, _stamp: str = Cached) -> schemas.TitleDetail:
    """Everything the catalogue knows about a title."""
    return schemas.title_detail(service.get_title(title_id))


@v1.get("/titles/{title_id}/similar", tags=["recommendations"], response_model=schemas.SimilarPage,
        responses=TITLE_ERRORS, summary="Titles similar to a title, under filters")
def similar_titles(service: Service, title_id: TitleId, filters: FilterQuery, k: K = DEFAULT_K, offset: Offset = 0,
                   _stamp: str = Cached) -> schemas.SimilarPage:
    """Ranked by similarity (score in [0, 1]); never the title itself; its franchise entries are at /franchise.

    Filters use the app's URL parameters: year=1990-2010, runtime=90-150, votes=250, rating=6.5,
    genre=Drama (repeatable), no_genre=Horror, lang=ja, spoken=de, no_cert=R, type=movie, hide=<title id>;
    favour=director / favour=cast rank titles sharing the seed's people higher.
    """
    page = PageRequest(offset, k)
    weights = filters.weights(service.settings.ranking)
    seed, found = service.similar_to_seed(title_id, k=page.fetch, filters=filters.filters, weights=weights)
    items, next_offset = page.cut(found)
    return schemas.SimilarPage(seed=schemas.title_summary(seed), items=[schemas.recommendation(r) for r in items],
                               offset=offset, limit=k, next_offset=next_offset, filters=filters.kept)


@v1.get("/titles/{title_id}/franchise", tags=["recommendations"], response_model=schemas.FranchisePage,
        responses=TITLE_ERRORS, summary="A title's franchise: sequels, prequels and same-name titles")
def franchise_titles(
    service: Service, title_id: TitleId,
    limit: Annotated[int, Query(ge=1, le=MAX_K, description="how many entries per page")] = 10,
    offset: Offset = 0, _stamp: str = Cached,
) -> schemas.FranchisePage:
    """The entries the similar list keeps apart, most similar first."""
    seed = service.get_title(title_id, with_people=False)
    page = PageRequest(offset, limit)
    items, next_offset = page.cut(service.franchise_titles(title_id, k=page.fetch))
    return schemas.FranchisePage(seed=schemas.title_summary(seed), items=[schemas.recommendation(r) for r in items],
                                 offset=offset, limit=limit, next_offset=next_offset)


@v1.get("/recommend", tags=["recommendations"], response_model=schemas.RankedPage, responses=GET_ERRORS,
        summary="Titles matching a free-text description")
def recommend_text(
    service: Service,
    text: Annotated[schemas.TextValue, Query(description="a description in any language the model reads",
                                     examples=["A heist that happens inside people's dreams"])],
    filters: FilterQuery, k: K = DEFAULT_K, offset: Offset = 0, _stamp: str = Cached,
) -> schemas.RankedPage:
    """The titles whose text is closest to the description, under the same filters as /similar."""
    page = PageRequest(offset, k)
    items, next_offset = page.cut(service.similar_to_text(text, k=page.fetch, filters=filters.filters))
    return schemas.RankedPage(items=[schemas.recommendation(r) for r in items], offset=offset, limit=k,
                              next_offset=next_offset, filters=filters.kept)


@v1.post("/recommend", tags=["recommendations"], response_model=schemas.PersonalPage,
         responses=problem_responses(401, 404, 422, 503), summary="Titles for a person: several liked titles, rated")
def recommend_for(service: Service, request: Annotated[schemas.RecommendRequest, Body()]) -> schemas.PersonalPage:
    """Titles for someone who liked the seeds (rated 1-10 in `ratings` when known), never a seed, a watched or an
    avoided title. Each taste among the seeds gets its share of the list; every item's first reason says
    "Because you liked …" and `because` lists the seeds it came from. Ratings of 4 or less count as `avoid`.

    `filters` takes the query strings' names and values (a list for a repeated one), plus `hide`.
    """
    for title_id in dict.fromkeys(request.seeds):
        service.get_title(title_id, with_people=False)  # an unknown seed is a 404, as for /titles/{id}/similar
    parsed = body_filters(request.filters, service)
    page = PageRequest(request.offset, request.k)
    seeds = [(title_id, request.ratings.get(title_id)) for title_id in request.seeds]
    found = service.recommend_for_profile(seeds, k=page.fetch, filters=parsed.filters, avoid=request.avoid,
                                          watched=request.watched, weights=parsed.weights(service.settings.ranking))
    items, next_offset = page.cut(found.recommendations)
    return schemas.PersonalPage(
        items=[schemas.recommendation(r) for r in items], offset=request.offset, limit=request.k,
        next_offset=next_offset, filters=parsed.kept,
        because={r.title.title_id: list(found.because.get(r.title.title_id, ())) for r in items},
        seeds_used=list(found.seeds_used), seeds_left_out=found.seeds_left_out,
    )


@v1.post("/profile/import", tags=["recommendations"], response_model=schemas.ProfileOut,
         responses=problem_responses(401, 422, 503), summary="A profile from IMDb or Letterboxd export files")
async def import_profile(
    service: Service,
    files: Annotated[list[UploadFile], File(description="IMDb's ratings export (ratings.csv) and/or Letterboxd's "
                                                        "ratings.csv, watched.csv, watchlist.csv or its export zip")],
) -> schemas.ProfileOut:
    """Matches each row to the catalogue (IMDb id, then name and year); rows it cannot match come back with the
    reason. `recommend` is a body for POST /v1/recommend: the best-rated and latest seeds, ratings, watched."""
    if len(files) > MAX_IMPORT_FILES:
        raise invalid_parameters([ProblemItem(parameter="files", location="body",
                                              message=f"at most {MAX_IMPORT_FILES} files")])
    contents = {}
    for upload in files:
        data = await upload.read(IMPORT_READ_BYTES)
        contents[(upload.filename or "export.csv")[:200]] = data
    profile = await run_in_threadpool(service.import_profile, contents)
    return schemas.ProfileOut(
        source=profile.source, counts=profile.counts(),
        entries=[schemas.ProfileEntryOut(title_id=e.title_id, kind=e.kind, rating=e.rating, when=e.when)
                 for e in profile.entries],
        unmatched=[schemas.UnmatchedOut(where=u.row.where, name=u.row.name, year=u.row.year, imdb_id=u.row.imdb_id,
                                        reason=u.reason) for u in profile.unmatched],
        recommend=profile.recommend_body(schemas.MAX_SEEDS, schemas.MAX_WATCHED),
    )


@v1.get("/facets", tags=["catalogue"], response_model=schemas.FacetsOut, responses=GET_ERRORS,
        summary="Filter ranges and choices")
def facets(service: Service, _stamp: str = Cached) -> schemas.FacetsOut:
    """The served build's year, runtime, votes and rating ranges, genres, languages and the filter parameters."""
    return schemas.facets_out(service.facets())


@v1.get("/status", tags=["catalogue"], response_model=schemas.StatusOut, responses=problem_responses(401),
        summary="Counts, model, served build and agreement")
def status(service: Service, response: Response) -> schemas.StatusOut:
    """Catalogue and index counts and whether they agree (never a path, URL or key)."""
    response.headers["Cache-Control"] = "no-store"
    current = service.status()
    updated = current.catalog_updated
    try:
        build = service.build_stamp()
    except IndexNotBuilt:
        build = None
    return schemas.StatusOut(
        catalog_titles=current.catalog_titles, catalog_movies=current.catalog_movies,
        catalog_shows=current.catalog_shows, index_vectors=current.index_vectors, model=current.model,
        collection=current.collection, dimension=current.dimension, build=build,
        catalog_updated=(updated.isoformat() if hasattr(updated, "isoformat") else str(updated)) if updated else None,
        in_agreement=current.in_agreement, missing_from_index=current.missing_from_index,
        stale_in_index=current.stale_in_index,
    )


@health.get("/healthz", response_model=schemas.HealthOut, response_model_exclude_none=True, summary="Liveness")
def healthz(response: Response) -> schemas.HealthOut:
    """The process answers."""
    response.headers["Cache-Control"] = "no-store"
    return schemas.HealthOut(status="ok")


@health.get("/readyz", response_model=schemas.HealthOut, responses=problem_responses(503), summary="Readiness")
def readyz(service: Service, response: Response) -> schemas.HealthOut:
    """Ready when the index is loaded (loading it now if needed); 503 naming the build command when there is none."""
    response.headers["Cache-Control"] = "no-store"
    return schemas.HealthOut(status="ready", build=service.build_stamp())
