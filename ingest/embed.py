"""Build or refresh the vector index from the catalogue: incremental, batched, resumable.

Only titles whose content hash differs from the stored one are embedded; titles whose other fields
changed get new metadata without re-embedding; titles gone from the catalogue are removed. Vectors are
written batch by batch, so a build killed half-way resumes where it stopped. The build stamp is
written last: readers reload only complete builds. A build publishes a new snapshot and stamp when it
wrote anything, when the ledger says an earlier build stopped before publishing (`dirty`), or when the
published snapshot is missing or damaged; `repair_index` rebuilds what cannot be read.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from flixrec.catalog import Catalog
from flixrec.embedding import EMBEDDING_FIELDS, Embedder, embed_titles
from flixrec.errors import IndexUnavailable
from flixrec.index import (
    Hashes,
    METADATA_FIELDS,
    IndexLocation,
    SnapshotBuilder,
    VectorIndex,
    index_problems,
    metadata_hash,
    remove_other_snapshots,
    snapshot_dir,
    snapshot_problem,
    title_metadata,
)
from flixrec.models import Title

Progress = Callable[[int], None]
log = logging.getLogger(__name__)
WRITE_BATCH = 5000
"""Embedded titles written to Chroma per call (a build killed by SIGKILL re-embeds at most this many)."""
KILL_AT_ENV = "FLIXREC_TEST_KILL_AT"
"""Test hook: a build SIGKILLs itself at the phase this names (tests/test_kill_points.py drives each one)."""
KILL_POINTS = ("mid-embed", "after-write", "before-snapshot", "before-publish", "after-publish")
"""The phases of a build, in order: a batch embedded (worker processes alive) | its first Chroma and
ledger write done | every write done | the new snapshot written, its stamp not yet | stamp published."""


def _kill_point(phase: str) -> None:
    """SIGKILL this process when the test hook names this phase (what a power cut or OOM kill does)."""
    if os.environ.get(KILL_AT_ENV) == phase:
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))


@dataclasses.dataclass
class IndexBuildSummary:
    """What a build did."""

    embedded: int = 0
    metadata_updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    seconds_embedding: float = 0.0

    @property
    def titles_per_second(self) -> float:
        """Embedding throughput of this build."""
        return self.embedded / self.seconds_embedding if self.seconds_embedding else 0.0


@dataclasses.dataclass
class EmbedPlan:
    """What a build has to do, decided by comparing hashes (cheap: no model needed; only titles whose
    record changed are read)."""

    to_embed: list[str]
    to_update: list[str]
    to_delete: list[str]
    unchanged: int
    new: set[str] | None = None
    """The ids of `to_embed` not stored yet (written with Chroma's cheaper `add`); None: upsert them all."""
    hashes: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
    """The catalogue's (content hash, record hash) of the titles to embed and update, for the ledger."""
    relabel: dict[str, Hashes] = dataclasses.field(default_factory=dict)
    """Titles whose record changed but not what the index holds (e.g. new people): ledger rows only."""


def plan_build(catalog: Catalog, index: VectorIndex) -> EmbedPlan:
    """Compare the catalogue's hashes with the index ledger's to decide what to embed, update and delete.

    A title is embedded when its content hash differs from the stored one (or its row is pending after
    a killed build). When only its record hash differs, its row is read and its metadata hash decides:
    new metadata is written to Chroma, the same (new people, another id) only updates the ledger.
    Unchanged titles are not read, so planning 300k titles takes seconds.
    """
    catalog.refresh_content_hashes()
    stored = index.stored_hashes()
    catalogue = catalog.hash_pairs()
    to_embed: list[str] = []
    recheck: list[str] = []
    unchanged = 0
    for title_id in sorted(catalogue):
        content, record, _ = stored.get(title_id, ("", "", ""))
        if not content or content != catalogue[title_id][0]:
            to_embed.append(title_id)
        elif record == catalogue[title_id][1]:
            unchanged += 1
        else:
            recheck.append(title_id)
    to_update: list[str] = []
    relabel: dict[str, Hashes] = {}
    for start in range(0, len(recheck), 5000):
        chunk = recheck[start : start + 5000]
        for title_id, title in catalog.find_titles(chunk, with_people=False).items():
            metadata = metadata_hash(title_metadata(title))
            if metadata == stored[title_id][2]:
                relabel[title_id] = (*catalogue[title_id], metadata)
            else:
                to_update.append(title_id)
    to_update.sort()
    new = {title_id for title_id in to_embed if title_id not in stored}
    to_delete = sorted(tid for tid in stored if tid not in catalogue)
    hashes = {title_id: catalogue[title_id] for title_id in (*to_embed, *to_update)}
    return EmbedPlan(to_embed, to_update, to_delete, unchanged + len(relabel), new, hashes, relabel)


def build_index(
    catalog: Catalog,
    index: VectorIndex,
    embedder: Embedder,
    batch_size: int = 2048,
    progress: Progress | None = None,
    plan: EmbedPlan | None = None,
) -> IndexBuildSummary:
    """Bring the index in line with the catalogue; `progress` is called with titles embedded per step."""
    plan = plan or plan_build(catalog, index)
    summary = IndexBuildSummary(unchanged=plan.unchanged)
    snapshot = SnapshotBuilder(index)  # before this build's first write: it asks whether the last one finished
    if plan.relabel:
        index.relabel(plan.relabel)
    pending: list[tuple[list[str], np.ndarray, list[dict]]] = []

    def write_pending() -> None:
        # Chroma adds faster in batches of its maximum size than in embedding-sized ones
        if pending:
            ids = [i for p in pending for i in p[0]]
            vectors = np.concatenate([p[1] for p in pending])
            metadatas = [m for p in pending for m in p[2]]
            fresh = np.array([plan.new is not None and i in plan.new for i in ids], dtype=bool)
            for write, rows in ((index.add, np.flatnonzero(fresh)), (index.upsert, np.flatnonzero(~fresh))):
                if len(rows):
                    write([ids[r] for r in rows], vectors[rows], [metadatas[r] for r in rows],
                          [plan.hashes[ids[r]] for r in rows])
            snapshot.upserted(ids, vectors, metadatas)
            summary.embedded += len(ids)
            pending.clear()
            _kill_point("after-write")

    try:
        for start in range(0, len(plan.to_embed), batch_size):
            titles = _titles(catalog, plan.to_embed[start : start + batch_size])
            began = time.perf_counter()
            vectors = embed_titles(titles, embedder)
            summary.seconds_embedding += time.perf_counter() - began
            pending.append(([t.title_id for t in titles], vectors, [title_metadata(t) for t in titles]))
            _kill_point("mid-embed")
            if sum(len(p[0]) for p in pending) >= WRITE_BATCH:
                write_pending()
            if progress:
                progress(len(titles))
    except BaseException:
        write_pending()  # keep what was embedded (Ctrl-C, an error): the resumed build does not redo it
        raise
    write_pending()
    for start in range(0, len(plan.to_update), 5000):
        titles = _titles(catalog, plan.to_update[start : start + 5000])
        ids, metadatas = [t.title_id for t in titles], [title_metadata(t) for t in titles]
        index.update_metadata(ids, metadatas, [plan.hashes[i] for i in ids])
        snapshot.metadata_updated(ids, metadatas)
        summary.metadata_updated += len(titles)
    if plan.to_delete:
        index.delete(plan.to_delete)
        snapshot.deleted(plan.to_delete)
        summary.deleted = len(plan.to_delete)
    _kill_point("before-snapshot")
    if summary.embedded or summary.metadata_updated or summary.deleted or needs_publishing(index):
        # the app memory-maps this snapshot of the build; it is complete before the stamp names it
        new_stamp = uuid.uuid4().hex
        try:
            snapshot.write(new_stamp)
        except OSError as exc:  # readers fall back to reading Chroma
            log.warning("could not write the index snapshot: %s", exc)
        _kill_point("before-publish")
        index.mark_built(new_stamp)
        _kill_point("after-publish")
    stamp = index.stamp()
    if stamp:  # older builds' snapshots, and those of a build killed before or just after publishing
        remove_other_snapshots(index, stamp)
    return summary


def needs_publishing(index: VectorIndex) -> bool:
    """Whether the published build is behind or unusable with no new writes: never published, an earlier
    build stopped before publishing (the ledger's `dirty`), or its snapshot is missing or damaged (a server
    index: damaged, when this host has a copy)."""
    stamp = index.stamp()
    if stamp is None or index.interrupted():
        return True
    if index.remote and not snapshot_dir(index, stamp).exists():
        return False  # a host without a copy of a server index's build: replicas read it from Chroma
    return snapshot_problem(index, stamp, verify=True) is not None


BUILD_FIELDS = tuple(dict.fromkeys(EMBEDDING_FIELDS + METADATA_FIELDS))
"""What a build reads of each title: the fields of its vector and of its stored metadata (about half the columns)."""


def _titles(catalog: Catalog, title_ids: list[str]) -> list[Title]:
    found = catalog.find_titles(title_ids, with_people=False, fields=BUILD_FIELDS)
    return [found[tid] for tid in title_ids if tid in found]


@dataclasses.dataclass
class RepairReport:
    """What `repair_index` did: the damaged files or folders it moved aside, the build, what is left wrong."""

    moved_aside: list[Path]
    summary: IndexBuildSummary
    problems: list[str]


def repair_index(catalog: Catalog, index_dir: Path | IndexLocation, model_name: str, embedder: Embedder,
                 batch_size: int = 2048, progress: Progress | None = None) -> RepairReport:
    """Make the model's index whole again from the catalogue (what `python -m ingest repair` runs).

    What cannot be read is moved aside with a `.damaged-<time>` suffix, never deleted: an unreadable
    Chroma directory (the collection is rebuilt, every title embedded again), an unreadable ledger (the
    stored vectors are re-embedded, as their hashes are lost), a damaged snapshot (rewritten). Then one
    build brings the index in line with the catalogue and publishes a new snapshot and stamp. A server
    index (`IndexLocation` with a Chroma server) has no local Chroma files or ledger file to move: a
    server or database that cannot be read is reported as it is.
    """
    moved: list[Path] = []
    location = index_dir if isinstance(index_dir, IndexLocation) else IndexLocation.local(Path(index_dir))
    index_dir = location.index_dir
    if location.remote:
        index = VectorIndex.open(location, model_name, dimension=embedder.dimension, create=True)
    else:
        index = _open_or_move_aside(index_dir, model_name, embedder.dimension, moved)
    try:
        index.interrupted()
        index.stored_hashes()
    except IndexUnavailable as exc:
        if location.remote:
            raise
        log.warning("the index ledger is unreadable, moving it aside: %s", exc)
        index.ledger.close()
        moved.append(_move_aside(index.ledger.path))
        index = VectorIndex.open(index_dir, model_name, dimension=embedder.dimension, create=True)
        index.ledger.mark_dirty()  # the published snapshot no longer matches any ledger: publish again
    stamp = index.stamp()
    if stamp and snapshot_problem(index, stamp, verify=True):
        moved.append(_move_aside(snapshot_dir(index, stamp)))
    if index.dimension and index.dimension != embedder.dimension:
        raise IndexUnavailable(
            f"the index for {model_name!r} holds {index.dimension}-dim vectors but the model gives "
            f"{embedder.dimension}; move {index_dir} away and run: python -m ingest embed"
        )
    summary = build_index(catalog, index, embedder, batch_size=batch_size, progress=progress)
    return RepairReport(moved, summary, index_problems(index))


def _open_or_move_aside(index_dir: Path, model_name: str, dimension: int, moved: list[Path]) -> VectorIndex:
    """The model's collection (created when missing); an unreadable Chroma directory is moved aside first."""
    try:
        index = VectorIndex.open(index_dir, model_name, dimension=dimension, create=True)
        index.count()
        return index
    except IndexUnavailable as exc:
        log.warning("the Chroma directory is unreadable, moving it aside: %s", exc)
    moved.append(_move_aside(index_dir))
    return VectorIndex.open(index_dir, model_name, dimension=dimension, create=True)


def _move_aside(path: Path) -> Path:
    """Rename a damaged file or folder to `<name>.damaged-<UTC time>` beside it; returns the new path."""
    target = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}")
    if target.exists():
        target = target.with_name(f"{target.name}-{uuid.uuid4().hex[:6]}")
    path.rename(target)
    log.warning("moved %s aside to %s", path, target)
    return target
