"""FlixRec: the one object the edges (CLI, Streamlit pages, REST API) talk to. Read-only over the index.

Its public methods are the core's boundary: k (1..MAX_K), ids, text and filters are checked once here
(flixrec.validation), so a bad argument is an InvalidRequest or TitleNotFound, never a crash below.
It opens the catalogue and the index lazily, loads the embedding model only when free text needs it,
and loads each new build ingest completes (build stamp: snapshot, ranking features, name search) in the
background while it keeps serving the previous one (RELOAD_WAIT_S). A replica of a server index
(FLIXREC_CHROMA_URL) reads the stamp from the catalogue database at most once a second.
The API's server forks its workers after loading one (release_connections, after_fork). Over 400 lines:
it is the core's whole boundary, one method per thing an edge asks for.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from flixrec.catalog import Catalog
from flixrec.config import Settings
from flixrec.embedding import Embedder, collection_name, load_embedder
from flixrec.errors import FlixrecError, IndexNotBuilt, InvalidRequest, TitleNotFound
from flixrec.explore import CATALOGUE_COLUMNS, SimilarityMap, SimilarView, catalogue_frame, filter_frame, project_2d
from flixrec.index import IndexLocation, VectorIndex, index_problems, load_snapshot
from flixrec.models import Filters, Match, RankingWeights, Recommendation, Title
from flixrec.personal import PersonalRecommendations, recommend_for_seeds
from flixrec.profiles import MATCH_COLUMNS, Profile, ProfileMatcher, ProfileRow, personal_request, read_export_files
from flixrec.recommend import Recommender
from flixrec.search import TitleSearch
from flixrec.validation import check_filters, check_k, check_title_id, clean_text


@dataclasses.dataclass(frozen=True)
class Status:
    """What the Data & index page shows: counts, model, freshness, and whether the two agree."""

    catalog_titles: int
    catalog_movies: int
    catalog_shows: int
    index_vectors: int
    model: str
    collection: str
    dimension: int | None
    catalog_updated: Any
    sync_state: dict[str, Any]
    missing_from_index: int
    stale_in_index: int
    index_problems: tuple[str, ...] = ()
    """What is wrong with the published build (interrupted, damaged snapshot, disagreeing ledger), one line each."""
    sync_updated: dict[str, Any] = dataclasses.field(default_factory=dict)
    """When each checkpoint in sync_state was last written."""

    @property
    def in_agreement(self) -> bool:
        """The catalogue has titles, every one is indexed with its current text, nothing else is, and the
        published snapshot readers are served holds exactly that."""
        return (self.catalog_titles > 0 and self.catalog_titles == self.index_vectors and self.missing_from_index == 0
                and self.stale_in_index == 0 and not self.index_problems)

    def problems(self) -> list[str]:
        """Why catalogue and index disagree, one line each with the command that fixes it ([] when they agree)."""
        lines: list[str] = []
        if self.catalog_titles == 0:
            lines.append("the catalogue is empty; load titles: python -m ingest demo (or trakt), then python -m ingest embed")
        if self.missing_from_index or self.stale_in_index or self.catalog_titles != self.index_vectors:
            lines.append(f"{self.missing_from_index} titles to embed, {self.stale_in_index} stale vectors; "
                         "run: python -m ingest embed")
        return lines + list(self.index_problems)


@dataclasses.dataclass(frozen=True)
class Resolution:
    """What a typed name resolves to: exactly one of a title, several equal choices, fuzzy suggestions, or nothing."""

    title: Title | None = None
    choices: tuple[Match, ...] = ()  # several titles share the top exact score: the user picks
    did_you_mean: tuple[Match, ...] = ()  # no exact match, only typo-tolerant ones

    @property
    def nothing(self) -> bool:
        """True when no title matches at all."""
        return self.title is None and not self.choices and not self.did_you_mean


log = logging.getLogger(__name__)
STAMP_POLL_S = 1.0
"""How often a replica of a server index asks the catalogue database for the published stamp."""
RELOAD_WAIT_S = 5.0
"""How long after a new build's load began requests wait for it; later ones are answered from the build served
until then (at 300k titles its ranking features take over a minute: docs/performance.md)."""
RELOAD_RETRY_S = 30.0
"""How long a build that failed to load is left before it is tried again (meanwhile the previous one answers)."""
FRANCHISE_SHOWN = 50
"""The most franchise entries a page lists (James Bond has 24)."""


class FlixRec:
    """Search and recommendations over the built catalogue and index (thread-safe reads)."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None):
        self.settings = settings
        self._embedder = embedder
        self._lock = threading.RLock()
        self._catalog: Catalog | None = None
        self._index: VectorIndex | None = None
        self._recommender: Recommender | None = None
        self._search: TitleSearch | None = None
        self._stamp_seen: tuple[float, str | None] | None = None
        self._loading: tuple[str, float, threading.Event] | None = None  # a new build's load: stamp, began, ended
        self._built: dict[str, tuple[str | None, Any]] = {}  # name -> (build stamp, value): see _per_build

    # ---- lazily opened parts --------------------------------------------------------------------

    @property
    def catalog(self) -> Catalog:
        """The catalogue; IndexNotBuilt when there is none yet."""
        with self._lock:
            if self._catalog is None:
                catalog = Catalog.open(self.settings.database_url, create=False)
                if not catalog.exists() or catalog.count() == 0:
                    raise IndexNotBuilt(
                        "the catalogue is empty; build the demo catalogue and its index with: "
                        "python -m ingest demo && python -m ingest embed  (or just: make run)"
                    )
                self._catalog = catalog
            return self._catalog

    @property
    def index(self) -> VectorIndex:
        """The vector index of the configured model; IndexNotBuilt when missing."""
        with self._lock:
            if self._index is None:
                self._index = VectorIndex.open(IndexLocation.from_settings(self.settings), self.settings.model)
            return self._index

    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded on first use."""
        with self._lock:
            if self._embedder is None:
                self._embedder = load_embedder(self.settings.model)
            return self._embedder

    def _current_recommender(self) -> Recommender:
        """The recommender over the latest completed build. A newly published build is loaded in the background
        and served once ready: a request waits for it until RELOAD_WAIT_S after its load began, and is answered
        from the build served until then after that (a large catalogue's ranking features take a minute)."""
        with self._lock:
            index = self.index
            stamp = self._published_stamp(index)
            if stamp is None:
                raise IndexNotBuilt("the vector index has not finished building; run: python -m ingest embed")
            current = self._recommender
            if current is None:  # nothing to serve meanwhile
                self._install(load_snapshot(index))
                assert self._recommender is not None
                return self._recommender
            if current.snapshot.stamp == stamp:
                return current
            began, loaded = self._load_in_background(index, stamp)
        loaded.wait(max(0.0, began + RELOAD_WAIT_S - time.monotonic()))
        with self._lock:
            assert self._recommender is not None
            return self._recommender

    def _published_stamp(self, index: VectorIndex) -> str | None:
        """The published build stamp (a server index's: asked at most every STAMP_POLL_S seconds)."""
        if not index.remote:
            return index.stamp()
        now = time.monotonic()
        if self._stamp_seen is None or now - self._stamp_seen[0] >= STAMP_POLL_S:
            self._stamp_seen = (now, index.stamp())
        return self._stamp_seen[1]

    def _install(self, snapshot: Any) -> None:
        """Serve this snapshot from now on (name search is rebuilt on next use)."""
        self._recommender = Recommender(self.catalog, snapshot, self.encode_query, self.settings.ranking)
        self._search = None

    def _load_in_background(self, index: VectorIndex, stamp: str) -> tuple[float, threading.Event]:
        """Load a new build in a thread (its snapshot, ranking features and name search) and switch to it when
        ready, once per stamp; returns when the load began and the event set when it ended."""
        if self._loading is not None and self._loading[0] == stamp:
            _, began, ended = self._loading
            if not ended.is_set() or time.monotonic() - began < RELOAD_RETRY_S:
                return began, ended
        began, ended = time.monotonic(), threading.Event()
        self._loading = (stamp, began, ended)

        def load() -> None:
            loaded: tuple[Recommender, TitleSearch] | None = None
            try:
                recommender = Recommender(self.catalog, load_snapshot(index), self.encode_query, self.settings.ranking)
                recommender.features  # noqa: B018  (the slow part, done before any request needs it)
                loaded = recommender, TitleSearch(self.catalog)
            except FlixrecError as exc:  # tried again after RELOAD_RETRY_S; meanwhile the previous build is served
                log.warning("could not load build %s: %s", stamp, exc)
            finally:
                with self._lock:
                    current = self._recommender
                    if loaded is not None:
                        if current is None or current.snapshot.stamp != loaded[0].snapshot.stamp:
                            self._recommender, self._search = loaded
                        self._loading = None  # a failed load stays noted until RELOAD_RETRY_S
                ended.set()

        threading.Thread(target=load, name=f"flixrec-load-{stamp[:8]}", daemon=True).start()
        return began, ended

    def ready(self) -> str:
        """Load the catalogue and the published build now (a replica's start-up); returns the build's stamp."""
        return str(self._current_recommender().snapshot.stamp)

    def encode_query(self, text: str) -> np.ndarray:
        """One text's vector with the index's model."""
        return self.embedder.encode([text])[0]

    # ---- the API ---------------------------------------------------------------------------------

    def search_titles(self, query: str, limit: int = 10) -> list[Match]:
        """Titles matching a typed name: exact matches first, then typo-tolerant ones (limit: 1..MAX_K)."""
        query, limit = clean_text(query, "query"), check_k(limit, "limit")
        self._current_recommender()
        with self._lock:
            if self._search is None:
                self._search = TitleSearch(self.catalog)
            search = self._search
        return search.search_titles(query, limit)

    def resolve_title(self, query: str, limit: int = 12) -> Resolution:
        """One rule for every edge: the one title with the top exact score, else the tied choices, else fuzzy ones.

        A title's own name outranks an alias it shares with its sequels (search scores 100 vs 99), so
        "Batman" offers the two films called Batman while an alias-only tie never hides the real owner.
        """
        matches = self.search_titles(query, limit=limit)
        exact = [m for m in matches if m.kind == "exact"]
        if exact:
            best = [m for m in exact if m.score == exact[0].score]
            if len(best) == 1:
                return Resolution(title=best[0].title)
            return Resolution(choices=tuple(exact))
        return Resolution(did_you_mean=tuple(matches))

    def get_title(self, title_id: str, with_people: bool = True) -> Title:
        """A title (with its people unless `with_people` is False: lists show none); TitleNotFound for an unknown
        id (the id of a record merged into another title finds that title, so old links keep working)."""
        title_id = check_title_id(title_id)
        if with_people:
            return self.catalog.get_title(title_id)
        found = self.catalog.find_titles([title_id], with_people=False).get(title_id)
        if found is None:
            raise TitleNotFound(title_id)
        return found

    def similar_titles(self, title_id: str, k: int = 20, filters: Filters | None = None, separate_franchise: bool = True,
                       weights: RankingWeights | None = None) -> list[Recommendation]:
        """The k titles most similar to a title under filters, each with its reasons (see Recommender.similar_titles)."""
        title_id, k, filters = check_title_id(title_id), check_k(k), check_filters(filters)
        recommender = self._current_recommender()
        if recommender.snapshot.position(title_id) is None:  # an old id of a merged record finds its title
            title_id = self.catalog.current_title_id(title_id)
        return recommender.similar_titles(title_id, k, filters, bool(separate_franchise), weights)

    def similar_to_seed(self, title_id: str, k: int = 20, filters: Filters | None = None,
                        weights: RankingWeights | None = None) -> tuple[Title, list[Recommendation]]:
        """The seed's summary (no people) and its similar titles, as `similar_titles`: an indexed seed is read
        with its results (one catalogue read), any other first (that resolves a merged-away record's id)."""
        title_id = check_title_id(title_id)
        recommender = self._current_recommender()
        indexed = recommender.snapshot.position(title_id) is not None
        seed = None if indexed else self.get_title(title_id, with_people=False)
        k, filters = check_k(k), check_filters(filters)
        read, found = recommender.similar_with_seed(seed.title_id if seed else title_id, k, filters, True, weights)
        return seed or read or self.get_title(title_id, with_people=False), found

    def recommend_for_profile(self, profile_or_seeds: Any, k: int = 20, filters: Filters | None = None,
                      avoid: Iterable[str] = (), watched: Iterable[str] = (),
                      weights: RankingWeights | None = None) -> PersonalRecommendations:
        """Titles for a person from several liked titles (a Profile, Seeds, ids or (id, rating) pairs), each with
        "because you liked ..."; seeds, watched and "less like these" titles never come back (flixrec.personal)."""
        k, filters = check_k(k), check_filters(filters)
        seeds, avoid_ids, watched_ids = personal_request(profile_or_seeds, avoid, watched)
        recommender = self._current_recommender()

        def current(title_id: str) -> str:  # an old id of a merged record finds its title (one query only then)
            indexed = recommender.snapshot.position(title_id) is not None
            return title_id if indexed else self.catalog.current_title_id(title_id)

        seeds = [dataclasses.replace(s, title_id=current(s.title_id)) for s in seeds]
        return recommend_for_seeds(recommender, seeds, k, filters, [current(a) for a in avoid_ids],
                             {current(w) for w in watched_ids} | set(watched_ids), weights)

    def profile_matcher(self) -> ProfileMatcher:
        """Matches profile rows (files, Trakt, picks) to this catalogue; rebuilt after a new build."""
        return self._per_build("profile_matcher", lambda: ProfileMatcher(self.catalog.frame_rows(MATCH_COLUMNS)))

    def import_profile(self, files: dict[str, bytes | str]) -> Profile:
        """A profile from IMDb / Letterboxd export files (name -> content), with the rows it could not match and why."""
        if not files:
            raise InvalidRequest("no file to import: give an IMDb ratings export or Letterboxd's ratings/watched/watchlist CSV")
        rows = read_export_files(files)
        sources = " + ".join(sorted({r.source for r in rows})) or "file"
        return self.profile_matcher().match(rows, sources)

    def profile_from_rows(self, rows: list[ProfileRow], source: str) -> Profile:
        """A profile from rows a source gave (Trakt's history and ratings, titles picked by hand)."""
        return self.profile_matcher().match(rows, source)

    def franchise_titles(self, title_id: str, k: int = 10) -> list[Recommendation]:
        """Sequels and same-name titles of a title, kept apart from the similar ones."""
        recommender = self._current_recommender()
        return recommender.franchise_titles(self.catalog.current_title_id(check_title_id(title_id)), check_k(k))

    def similar_to_text(self, text: str, k: int = 20, filters: Filters | None = None) -> list[Recommendation]:
        """Titles closest to a free-text description."""
        text, k, filters = clean_text(text), check_k(k), check_filters(filters)
        return self._current_recommender().similar_to_text(text, k, filters)

    def recommend_for(self, seeds: list[str], avoid: list[str] | tuple[str, ...] = (), filters: Filters | None = None,
                      k: int = 20, weights: RankingWeights | None = None) -> list[Recommendation]:
        """The k titles closest to several seed titles together, steered away from `avoid` (see Recommender.recommend_for)."""
        recommender = self._current_recommender()
        current = self.catalog.current_title_id
        return recommender.recommend_for([current(t) for t in seeds], [current(t) for t in avoid], k, filters, weights)

    def release_connections(self) -> None:
        """Close pooled database connections (before forking workers: each opens its own, none shares a socket)."""
        with self._lock:
            if self._catalog is not None:
                self._catalog.engine.dispose()
            ledger_engine = getattr(getattr(self._index, "ledger", None), "engine", None)
            if ledger_engine is not None:
                ledger_engine.dispose()

    def after_fork(self) -> None:
        """In a forked worker: a fresh lock, and Chroma clients opened from now on are this process's own (the
        inherited ones' threads stayed in the parent). The loaded snapshot and features are kept: shared pages."""
        self._lock = threading.RLock()
        self._loading = None
        chromadb = sys.modules.get("chromadb.api.shared_system_client")
        if chromadb is not None:
            chromadb.SharedSystemClient.clear_system_cache()

    def warm_up(self) -> None:
        """Load the index, its ranking features and the name search now, so no request pays for them."""
        recommender = self._current_recommender()
        recommender.features  # noqa: B018  (read once per build, on first use)
        self.search_titles("a", limit=1)

    def settled_stamp(self) -> str | None:
        """The served build's stamp when it is also the latest published one; None before the first load or while a
        newer build waits to be loaded. Never loads anything: cheap enough to key a response cache by on every
        request (a file read; a server index's database at most every STAMP_POLL_S)."""
        recommender = self._recommender
        if recommender is None or self._index is None:
            return None
        try:
            published = self._published_stamp(self._index)
        except FlixrecError:
            return None
        return published if published == recommender.snapshot.stamp else None

    def build_stamp(self) -> str:
        """The stamp of the build being served (loads, or reloads after a new build); IndexNotBuilt when there is none."""
        return str(self._current_recommender().snapshot.stamp)

    def indexed_ids(self) -> list[str]:
        """The ids of every title in the build being served, sorted (loads it like build_stamp)."""
        return sorted(str(title_id) for title_id in self._current_recommender().snapshot.ids)

    def score_distribution(self, title_id: str, weights: RankingWeights | None = None) -> np.ndarray:
        """Every other title's similarity to this one (with `weights`, or the settings' ranking weights)."""
        recommender = self._current_recommender()
        return recommender.score_distribution(self.catalog.current_title_id(check_title_id(title_id)), weights)

    def vectors_of(self, title_ids: list[str]) -> np.ndarray:
        """The stored vectors of these indexed titles (for neighbourhood maps)."""
        snapshot = self._current_recommender().snapshot
        rows = [snapshot.position(t) if isinstance(t, str) else None for t in title_ids]
        return snapshot.matrix[[r for r in rows if r is not None]]

    def facets(self) -> dict[str, Any]:
        """Ranges and choices for filter widgets: year/runtime/votes bounds, genres, languages, spoken
        languages and certifications (both empty for a catalogue without them, e.g. the demo); once per build."""
        return dict(self._per_build("facets", self._facets_of_build))

    def _facets_of_build(self) -> dict[str, Any]:
        snapshot = self._current_recommender().snapshot

        def bounds(name: str) -> tuple[float, float]:
            values = snapshot.numeric[name]
            values = values[~np.isnan(values)]
            return (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)

        return {
            "year": bounds("year"), "runtime": bounds("runtime"), "votes": bounds("votes"), "rating": bounds("rating"),
            "genres": list(snapshot.genres), "languages": list(snapshot.languages),
            "spoken_languages": list(snapshot.spoken_languages or ()), "certifications": list(snapshot.certifications),
        }

    def status(self) -> Status:
        """Counts and agreement of catalogue and index (never reads a key)."""
        catalog = Catalog.open(self.settings.database_url, create=False)
        has_catalog = catalog.exists()
        hashes = catalog.hashes() if has_catalog else {}
        try:
            index = VectorIndex.open(IndexLocation.from_settings(self.settings), self.settings.model)
            stored = index.stored_hashes()
            dimension = index.dimension
            problems = tuple(index_problems(index))
        except IndexNotBuilt as exc:
            stored, dimension, problems = {}, None, (str(exc),)
        return Status(
            catalog_titles=len(hashes),
            catalog_movies=catalog.count("movie") if has_catalog else 0,
            catalog_shows=catalog.count("show") if has_catalog else 0,
            index_vectors=len(stored),
            model=self.settings.model,
            collection=collection_name(self.settings.model),
            dimension=dimension,
            catalog_updated=catalog.last_updated() if has_catalog else None,
            sync_state=catalog.states() if has_catalog else {},
            sync_updated=catalog.states(column="updated_at") if has_catalog else {},
            missing_from_index=sum(1 for tid, h in hashes.items() if tid not in stored or stored[tid][0] != h),
            stale_in_index=sum(1 for tid in stored if tid not in hashes),
            index_problems=problems,
        )

    # ---- views for the dashboard (read-only; pure helpers in flixrec.explore) ----------------------

    def similar_view(self, title_id: str, k: int = 20, filters: Filters | None = None,
                     weights: RankingWeights | None = None) -> SimilarView:
        """A seed with its k similar titles under filters and its franchise entries (hidden ids left out)."""
        k, filters = check_k(k), check_filters(filters)
        seed = self.get_title(title_id)
        similar = self.similar_titles(title_id, k, filters, separate_franchise=True, weights=weights)
        hidden = filters.exclude_ids if filters else frozenset()
        franchise = [r for r in self.franchise_titles(title_id, FRANCHISE_SHOWN) if r.title.title_id not in hidden]
        return SimilarView(seed, similar, franchise)

    def similarity_map(self, title_id: str, k: int = 20, filters: Filters | None = None,
                       weights: RankingWeights | None = None) -> SimilarityMap:
        """The top-k under filters, a 2-D PCA map of seed + top-k + franchise, and the catalogue's scores."""
        view = self.similar_view(title_id, k, filters, weights)
        entries = [(view.seed, "seed", 0, 1.0)]
        entries += [(r.title, "similar", r.rank, r.score) for r in view.similar]
        entries += [(r.title, "franchise", r.rank, r.score) for r in view.franchise]
        snapshot = self._current_recommender().snapshot
        entries = [e for e in entries if snapshot.position(e[0].title_id) is not None]
        coords = project_2d(self.vectors_of([e[0].title_id for e in entries]))
        points = pd.DataFrame(
            {
                "title_id": [t.title_id for t, *_ in entries],
                "label": [t.label() for t, *_ in entries],
                "role": [role for _, role, _, _ in entries],
                "rank": [rank for _, _, rank, _ in entries],
                "score": [round(float(score), 3) for *_, score in entries],
                "x": coords[:, 0] if len(entries) else [],
                "y": coords[:, 1] if len(entries) else [],
                "year": [t.year for t, *_ in entries],
                "media_type": [t.media_type for t, *_ in entries],
                "genres": [", ".join(t.genres) for t, *_ in entries],
            }
        )
        return SimilarityMap(view.seed, view.similar, points, self.score_distribution(title_id, weights))

    def catalogue_frame(self) -> pd.DataFrame:
        """Every title as a table row (see flixrec.explore.CATALOGUE_COLUMNS), reloaded after a new build."""
        return self._per_build("catalogue_frame", lambda: catalogue_frame(self.catalog.frame_rows(CATALOGUE_COLUMNS)))

    def _per_build(self, name: str, make: Callable[[], Any]) -> Any:
        """`make()`'s value, made once per build of the index (made again after a new build is served)."""
        stamp = self._current_recommender().snapshot.stamp
        with self._lock:
            cached = self._built.get(name)
            if cached is None or cached[0] != stamp:
                cached = self._built[name] = (stamp, make())
        return cached[1]

    def explore_catalogue(self, filters: Filters | None = None) -> pd.DataFrame:
        """The catalogue's titles that pass the filters, most voted first."""
        return filter_frame(self.catalogue_frame(), check_filters(filters))
