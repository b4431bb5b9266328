"""The in-memory snapshot of an index build: one matrix of vectors and numpy metadata columns.

Queries do not go through Chroma's `where` (slow and approximate under filters at scale):
`IndexSnapshot` masks by the filters first and then ranks exactly (flixrec.engine), so `k` results
come back whenever `k` titles pass. Reading and writing its files, and the fallback to Chroma, are
in flixrec.index.store.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from flixrec.engine import PROJECT_FROM_ROWS, Projection, VectorSearch
from flixrec.graph import GRAPH_FROM_ROWS, NeighbourGraph
from flixrec.ivf import CLUSTER_FROM_ROWS, Clusters
from flixrec.models import MEDIA_TYPES, NUMERIC_FIELDS, Filters

MASKS_KEPT = 16
"""Filter masks a snapshot keeps (n bytes each: 300 KB at 300k titles)."""

Records = Iterable[tuple[Sequence[str], np.ndarray, Sequence[dict[str, Any]]]]
"""Pages of (ids, vectors, metadatas), as Chroma returns them and as a snapshot is built from."""


@dataclasses.dataclass
class IndexSnapshot:
    """All vectors of an index as one matrix, with metadata columns for fast exact filtered search."""

    ids: np.ndarray  # (n,) object: title ids
    matrix: np.ndarray  # (n, d) float32, unit rows
    numeric: dict[str, np.ndarray]  # year/runtime/votes/rating, float64, NaN when unknown
    media_type: np.ndarray  # (n,) int8 index into MEDIA_TYPES, -1 unknown
    language: np.ndarray  # (n,) int32 index into languages, -1 unknown
    languages: list[str]
    genre_matrix: np.ndarray  # (n, g) bool
    genres: list[str]
    stamp: str | None = None
    tie_rank: np.ndarray | None = None  # (n,) int64: rank of each id in id order (computed when None)
    projection: Projection | None = None  # fitted when None and the index is large (see flixrec.engine)
    search_mode: str = "auto"  # "auto" (planner), "exact" or "projected" (benchmarks and contract tests)
    certification: np.ndarray | None = None  # (n,) int32 index into certifications, -1 unknown
    certifications: list[str] = dataclasses.field(default_factory=list)
    spoken_matrix: np.ndarray | None = None  # (n, s) bool: Title.spoken_languages (`languages` + `language`)
    spoken_languages: list[str] | None = None
    clusters: Clusters | None = None  # the clustered first stage (flixrec.ivf), see fit_clusters
    graph: NeighbourGraph | None = None  # the neighbour graph (flixrec.graph), see fit_clusters

    def __post_init__(self) -> None:
        n = len(self.ids)
        if self.certification is None:  # a snapshot written before certifications were kept
            self.certification = np.full(n, -1, dtype=np.int32)
        if self.spoken_matrix is None or self.spoken_languages is None:  # ... or spoken languages: the original one
            self.spoken_languages = list(self.languages)
            self.spoken_matrix = np.zeros((n, len(self.languages)), dtype=bool)
            known = np.flatnonzero(np.asarray(self.language) >= 0)
            self.spoken_matrix[known, np.asarray(self.language)[known]] = True
        self._position = {title_id: i for i, title_id in enumerate(self.ids)}
        if self.tie_rank is None:
            # tie-break rank: equal scores come back in title-id order, so results are stable
            self.tie_rank = np.empty(len(self.ids), dtype=np.int64)
            self.tie_rank[np.argsort(self.ids.astype(str), kind="stable")] = np.arange(len(self.ids))
        if self.projection is None and (len(self.ids) >= PROJECT_FROM_ROWS or self.search_mode == "projected"):
            self.projection = Projection.fit(self.matrix)
        self.search = VectorSearch(self.matrix, self.tie_rank, self.projection, mode=self.search_mode,
                                   clusters=self.clusters, graph=self.graph)
        self._kept_mask = functools.lru_cache(maxsize=MASKS_KEPT)(self._mask)

    def fit_clusters(self) -> None:
        """Fit the first stages beyond the scan when the index is large and the projection calibrated:
        k-means clusters, the neighbour graph built from them (flixrec.graph), and the clustered stage
        (flixrec.ivf), each calibrated.

        Done when a build's snapshot is written (store.write_snapshot: minutes at 1M), never when a
        snapshot is read back from Chroma or from files written before them (the scan plans).
        """
        large = len(self.ids) >= min(CLUSTER_FROM_ROWS, GRAPH_FROM_ROWS)
        fitted = self.clusters is not None or self.graph is not None
        if not fitted and large and self.projection is not None and self.projection.shortlist:
            clusters = Clusters.fit(self.matrix, self.projection, calibrate=False)
            if len(self.ids) >= GRAPH_FROM_ROWS:
                self.graph = NeighbourGraph.fit(self.matrix, self.projection, clusters.centroids)
            if len(self.ids) >= CLUSTER_FROM_ROWS:
                self.clusters = clusters.calibrated(self.matrix, self.projection)
            self.search = VectorSearch(self.matrix, self.tie_rank, self.projection, mode=self.search_mode,
                                       clusters=self.clusters, graph=self.graph)

    @classmethod
    def from_records(cls, records: Records, stamp: str | None = None) -> IndexSnapshot:
        """Build from (ids, vectors, metadatas) pages."""
        all_ids: list[str] = []
        blocks: list[np.ndarray] = []
        metas: list[dict[str, Any]] = []
        for ids, vectors, page_metas in records:
            all_ids.extend(ids)
            blocks.append(np.asarray(vectors, dtype=np.float32))
            metas.extend(m or {} for m in page_metas)
        n = len(all_ids)
        matrix = np.concatenate(blocks) if blocks else np.zeros((0, 1), dtype=np.float32)
        numeric = {
            name: np.array([m.get(name, np.nan) for m in metas], dtype=np.float64) if n else np.zeros(0)
            for name in NUMERIC_FIELDS
        }
        media_code = {m: i for i, m in enumerate(MEDIA_TYPES)}
        languages = sorted({m["language"] for m in metas if m.get("language")})
        lang_code = {lang: i for i, lang in enumerate(languages)}
        genres = sorted({g for m in metas for g in m.get("genres", ())})
        genre_code = {g: i for i, g in enumerate(genres)}
        genre_matrix = np.zeros((n, len(genres)), dtype=bool)
        for row, m in enumerate(metas):
            for g in m.get("genres", ()):
                genre_matrix[row, genre_code[g]] = True
        certifications = sorted({m["certification"] for m in metas if m.get("certification")})
        cert_code = {c: i for i, c in enumerate(certifications)}
        spoken_rows = [set(m.get("languages", ())) | ({m["language"]} if m.get("language") else set()) for m in metas]
        spoken_languages = sorted(set().union(*spoken_rows)) if spoken_rows else []
        spoken_code = {lang: i for i, lang in enumerate(spoken_languages)}
        spoken_matrix = np.zeros((n, len(spoken_languages)), dtype=bool)
        for row, langs in enumerate(spoken_rows):
            for lang in langs:
                spoken_matrix[row, spoken_code[lang]] = True
        return cls(
            ids=np.array(all_ids, dtype=object),
            matrix=matrix,
            numeric=numeric,
            media_type=np.array([media_code.get(m.get("media_type"), -1) for m in metas], dtype=np.int8),
            language=np.array([lang_code.get(m.get("language"), -1) for m in metas], dtype=np.int32),
            languages=languages,
            genre_matrix=genre_matrix,
            genres=genres,
            stamp=stamp,
            certification=np.array([cert_code.get(m.get("certification"), -1) for m in metas], dtype=np.int32),
            certifications=certifications,
            spoken_matrix=spoken_matrix,
            spoken_languages=spoken_languages,
        )

    def __len__(self) -> int:
        return len(self.ids)

    def position(self, title_id: str) -> int | None:
        """Row of a title in the matrix, or None when it is not indexed."""
        return self._position.get(title_id)

    def vector(self, title_id: str) -> np.ndarray | None:
        """A title's vector, or None when it is not indexed."""
        row = self.position(title_id)
        return None if row is None else self.matrix[row]

    def mask(self, filters: Filters | None) -> np.ndarray:
        """Boolean rows that pass the filters (same semantics as `Filters.accepts`, tests/test_filters.py), a
        fresh array the caller may change. The last MASKS_KEPT filters' masks are kept: a visitor or an API
        client pages and browses with the same filters, and at 300k titles a mask costs 0.4-1 ms to compute."""
        if filters is None or filters.is_empty():
            return np.ones(len(self.ids), dtype=bool)
        return self._kept_mask(filters).copy()

    def _mask(self, filters: Filters) -> np.ndarray:
        """`mask`, computed (read-only: it is kept and shared)."""
        keep = np.ones(len(self.ids), dtype=bool)
        with np.errstate(invalid="ignore"):  # NaN (unknown) compares False: it fails an active bound
            for name, op, bound in filters.bounds():
                keep &= op(self.numeric[name], bound)
        if filters.genres_include:
            cols = [i for i, g in enumerate(self.genres) if g in filters.genres_include]
            keep &= self.genre_matrix[:, cols].any(axis=1) if cols else False
        if filters.genres_exclude:
            cols = [i for i, g in enumerate(self.genres) if g in filters.genres_exclude]
            if cols:
                keep &= ~self.genre_matrix[:, cols].any(axis=1)
        if filters.languages:
            codes = [i for i, lang in enumerate(self.languages) if lang in filters.languages]
            keep &= np.isin(self.language, codes)
        if filters.media_types:
            codes = [i for i, m in enumerate(MEDIA_TYPES) if m in filters.media_types]
            keep &= np.isin(self.media_type, codes)
        if filters.spoken_languages:
            cols = [i for i, lang in enumerate(self.spoken_languages or ()) if lang in filters.spoken_languages]
            keep &= self.spoken_matrix[:, cols].any(axis=1) if cols else False
        if filters.certifications_exclude:
            codes = [i for i, c in enumerate(self.certifications) if c in filters.certifications_exclude]
            if codes:
                keep &= ~np.isin(self.certification, codes)
        for title_id in filters.exclude_ids:
            row = self.position(title_id)
            if row is not None:
                keep[row] = False
        keep.flags.writeable = False
        return keep

    def nearest(self, vector: np.ndarray, k: int, keep: np.ndarray | None = None, *,
                item: bool = False, row: int | None = None) -> list[tuple[str, float]]:
        """The k rows most similar to `vector` among `keep`: (title_id, score in [0, 1]), best first.

        Exact scores and order; min(k, rows kept) results. The plan (exact or projected shortlist) is
        chosen per query by how many rows pass, see `flixrec.engine`. `item`: `vector` is a stored
        title's (similar titles), not free text; `row`: that title's row, when known.
        """
        rows, scores = self.search.top_k(vector, k, keep, item=item, row=row)
        return [(self.ids[found], float(min(1.0, max(0.0, score)))) for found, score in zip(rows, scores)]

    def scores_against(self, vector: np.ndarray) -> np.ndarray:
        """Cosine similarity of every indexed title to `vector`, clipped to [0, 1] (for distributions)."""
        return np.clip(self.matrix @ np.asarray(vector, dtype=np.float32), 0.0, 1.0)
