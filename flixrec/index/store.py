"""Snapshot files of a completed index build: what the app memory-maps instead of reading Chroma.

They load in well under a second where reading the vectors back from Chroma takes minutes at scale
(docs/performance.md). Ingest writes them at the end of a build (`SnapshotBuilder`), in a directory
named after the build stamp, *before* it writes the stamp file; readers (`load_snapshot`) only open the
directory of the stamp they read, so they never see a half-written or stale snapshot. Chroma stays the
persistent store: when the files are missing (an index built by an older version, or deleted),
readers fall back to Chroma and the next build writes them.

Layout: <index_dir>/snapshots/<collection>-<stamp>/
  matrix.npy (n, d) float32 unit rows | when large: basis.npy (d, p), head.npy / tail.npy (n, p/2)
  float32 projected rows, projection.json (calibrated shortlist and prefilter sizes, the measured scan) | when calibrated:
  ivf_*.npy and ivf.json (the clustered first stage, flixrec.ivf; optional), graph_*.npy and graph.json
  (the neighbour graph, flixrec.graph; optional) | ids.npy (n,)
  unicode | tie_rank.npy (n,) int64 | columns.npz (year, runtime, votes, rating, media_type, language,
  genre_matrix, certification, spoken_matrix) | meta.json (format, stamp, model, n, d, languages, genres,
  certifications, spoken_languages, and each file's size and blake2b checksum), written last: a
  directory without meta.json is incomplete and ignored. Snapshots written before certifications and
  spoken languages were kept load without them.

Opening a snapshot validates it (every file's size against meta.json, every array's shape against n and
d; `verify=True` also the checksums, which `check` and `embed` use): a damaged one is never served, the
reader falls back to Chroma with a warning, `snapshot_problem` names the damage, and the next build
writes a good one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import uuid
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from flixrec.codes import ProjectedCodes
from flixrec.engine import PROJECT_FROM_ROWS, Projection
from flixrec.index.collection import VectorIndex
from flixrec.graph import WIDTH, NeighbourGraph
from flixrec.ivf import Clusters
from flixrec.index.snapshot import IndexSnapshot, Records
from flixrec.models import MEDIA_TYPES, NUMERIC_FIELDS

log = logging.getLogger(__name__)
FORMAT = 2  # 2: two-stage projection (head.npy, tail.npy, projection.json)


def snapshot_root(index: VectorIndex) -> Path:
    """The directory holding the snapshot directories of every build."""
    return index.location.snapshot_root


def snapshot_dir(index: VectorIndex, stamp: str) -> Path:
    """The snapshot directory of one build of the index's collection."""
    return snapshot_root(index) / f"{index.collection.name}-{stamp}"


def has_snapshot(index: VectorIndex, stamp: str | None) -> bool:
    """Whether a complete snapshot of this build exists, in the current file format."""
    if not stamp:
        return False
    try:
        meta = json.loads((snapshot_dir(index, stamp) / "meta.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("format") == FORMAT and meta.get("stamp") == stamp


class SnapshotDamaged(Exception):
    """A snapshot's files disagree with its meta.json (internal: readers fall back, `snapshot_problem` reports)."""


def file_checksum(path: Path) -> str:
    """blake2b of a file's bytes, read in blocks."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_meta(directory: Path, stamp: str) -> dict[str, Any]:
    """meta.json of a snapshot directory; SnapshotDamaged when missing, unreadable or of another build/format."""
    try:
        meta = json.loads((directory / "meta.json").read_text())
    except FileNotFoundError as exc:
        raise SnapshotDamaged("meta.json is missing (the snapshot was never completed)") from exc
    except (OSError, ValueError) as exc:
        raise SnapshotDamaged(f"meta.json is unreadable ({type(exc).__name__})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("stamp") != stamp:
        raise SnapshotDamaged(f"meta.json is not format {FORMAT} of build {stamp}")
    return meta


def _check_files(directory: Path, meta: dict[str, Any], verify: bool) -> None:
    """Every file meta.json lists has its recorded size (and, with `verify`, checksum)."""
    for name, expected in (meta.get("files") or {}).items():
        path = directory / name
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise SnapshotDamaged(f"{name} is missing") from exc
        if size != expected["bytes"]:
            raise SnapshotDamaged(f"{name} holds {size} bytes, {expected['bytes']} expected (truncated or replaced)")
        if verify and file_checksum(path) != expected["blake2b"]:
            raise SnapshotDamaged(f"{name} does not match its checksum")


def _check_shapes(snapshot: IndexSnapshot, meta: dict[str, Any]) -> None:
    """Every array has the length (and width) meta.json records."""
    n, d = int(meta["n"]), int(meta["d"])
    shapes = {"matrix.npy": (snapshot.matrix.shape, (n, d)), "ids.npy": (snapshot.ids.shape, (n,)),
              "tie_rank.npy": (snapshot.tie_rank.shape, (n,)),
              "columns.npz genre_matrix": (snapshot.genre_matrix.shape, (n, len(snapshot.genres))),
              "columns.npz media_type": (snapshot.media_type.shape, (n,)),
              "columns.npz language": (snapshot.language.shape, (n,))}
    shapes.update({f"columns.npz {name}": (column.shape, (n,)) for name, column in snapshot.numeric.items()})
    projection = snapshot.projection
    if projection is not None:  # the compiled stages read these rows by number, unchecked
        shapes["head.npy rows"] = (projection.head.shape[:1], (n,))
        shapes["tail.npy rows"] = (projection.tail.shape[:1], (n,))
        shapes["basis.npy"] = (projection.basis.shape, (d, projection.head.shape[1] + projection.tail.shape[1]))
    for name, (actual, expected) in shapes.items():
        if tuple(actual) != expected:
            raise SnapshotDamaged(f"{name} has shape {tuple(actual)}, {expected} expected")
    if n and (int(snapshot.tie_rank.min()) < 0 or int(snapshot.tie_rank.max()) >= n):
        raise SnapshotDamaged("tie_rank.npy holds ranks outside the index")
    graph = snapshot.graph
    if graph is not None:  # the walk reads rows by these numbers unchecked (compiled): they must be in range
        if graph.links.shape != (n, WIDTH):
            raise SnapshotDamaged(f"graph_links.npy has shape {graph.links.shape}, {(n, WIDTH)} expected")
        for name, array in (("graph_links.npy", graph.links), ("graph_entries.npy", graph.entries)):
            if array.size and (int(array.min()) < -1 or int(array.max()) >= n):
                raise SnapshotDamaged(f"{name} holds rows outside the index")


def snapshot_problem(index: VectorIndex, stamp: str | None, verify: bool = True) -> str | None:
    """What is wrong with the snapshot of this build (missing, incomplete, truncated, checksum), or None when sound."""
    if not stamp:
        return "no build has been published"
    try:
        _open_snapshot(snapshot_dir(index, stamp), stamp, "exact", verify)
    except SnapshotDamaged as exc:
        return f"the snapshot {snapshot_dir(index, stamp)} is unusable: {exc}"
    return None


def write_snapshot(index: VectorIndex, stamp: str, snapshot: IndexSnapshot) -> Path:
    """Write the files of a build atomically (temp dir, then rename); returns the directory."""
    final = snapshot_dir(index, stamp)
    tmp = snapshot_root(index) / f".tmp-{uuid.uuid4().hex}"
    tmp.mkdir(parents=True)
    try:
        np.save(tmp / "matrix.npy", np.ascontiguousarray(snapshot.matrix, dtype=np.float32))
        projection = snapshot.projection
        if projection is None and len(snapshot) >= PROJECT_FROM_ROWS:
            projection = Projection.fit(snapshot.matrix)
        if projection is not None:
            np.save(tmp / "head.npy", projection.head)
            np.save(tmp / "tail.npy", projection.tail)
            np.save(tmp / "basis.npy", projection.basis)
            sizes = {"shortlist": projection.shortlist, "prefilter": projection.prefilter,
                     "item_shortlist": projection.item_shortlist, "item_prefilter": projection.item_prefilter,
                     "scan_ms": projection.scan_ms, "item_levels": [list(level) for level in projection.item_levels]}
            (tmp / "projection.json").write_text(json.dumps(sizes))
            snapshot.fit_clusters()
            if snapshot.clusters is not None and snapshot.clusters.enabled:
                snapshot.clusters.save(tmp)
            if snapshot.graph is not None and snapshot.graph.enabled:
                snapshot.graph.save(tmp)
        np.save(tmp / "ids.npy", snapshot.ids.astype(str))
        np.save(tmp / "tie_rank.npy", snapshot.tie_rank)
        np.savez(tmp / "columns.npz", media_type=snapshot.media_type, language=snapshot.language,
                 genre_matrix=snapshot.genre_matrix, certification=snapshot.certification,
                 spoken_matrix=snapshot.spoken_matrix, **snapshot.numeric)
        files = {path.name: {"bytes": path.stat().st_size, "blake2b": file_checksum(path)}
                 for path in sorted(tmp.iterdir())}
        meta = {"format": FORMAT, "stamp": stamp, "model": index.model_name, "n": len(snapshot),
                "d": int(snapshot.matrix.shape[1]) if snapshot.matrix.ndim == 2 else 0,
                "languages": list(snapshot.languages), "genres": list(snapshot.genres),
                "certifications": list(snapshot.certifications),
                "spoken_languages": list(snapshot.spoken_languages or ()), "files": files}
        _write_durably(tmp / "meta.json", json.dumps(meta))
        _sync_directory(tmp)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _write_durably(path: Path, text: str) -> None:
    """Write a file and fsync it (meta.json: once it exists, the files it lists are on disk)."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _sync_directory(directory: Path) -> None:
    """fsync a directory's files and entries (best effort: not every platform can open a directory)."""
    for path in directory.iterdir():
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_other_snapshots(index: VectorIndex, keep_stamp: str) -> None:
    """Delete the snapshots of older builds (open memory maps of a running app stay valid on POSIX)."""
    root = snapshot_root(index)
    if not root.exists():
        return
    prefix = f"{index.collection.name}-"
    for path in root.iterdir():
        stale = path.name.startswith(prefix) and path.name != f"{prefix}{keep_stamp}"
        if stale or (path.name.startswith(".tmp-") and path.is_dir()):
            shutil.rmtree(path, ignore_errors=True)


def read_snapshot(index: VectorIndex, stamp: str, search_mode: str = "auto", verify: bool = False) -> IndexSnapshot | None:
    """The memory-mapped snapshot of this build, or None when its files are missing, incomplete or damaged.

    Sizes and shapes are always validated; `verify` checks the files' checksums too (reads every byte).
    """
    directory = snapshot_dir(index, stamp)
    try:
        return _open_snapshot(directory, stamp, search_mode, verify)
    except SnapshotDamaged as exc:
        if (directory / "meta.json").exists():
            log.warning("snapshot %s is damaged (%s); reading Chroma instead; python -m ingest embed rewrites it",
                        directory, exc)
        else:  # deleted by a newer build, or never completed
            log.info("snapshot %s unusable (%s); reading Chroma instead", directory, exc)
        return None


def _open_snapshot(directory: Path, stamp: str, search_mode: str, verify: bool) -> IndexSnapshot:
    """Open and validate a snapshot directory; SnapshotDamaged names what is wrong."""
    meta = _read_meta(directory, stamp)
    _check_files(directory, meta, verify)
    try:
        matrix = np.load(directory / "matrix.npy", mmap_mode="r")
        projection = None
        if (directory / "projection.json").exists():
            # queries read the int8 codes, derived here from a passing read of the float32 blocks; those stay
            # memory-mapped (the clustered stage reads some rows), out of memory until read
            sizes = json.loads((directory / "projection.json").read_text())
            codes = ProjectedCodes.of(np.load(directory / "head.npy"), np.load(directory / "tail.npy"))
            projection = Projection(np.load(directory / "basis.npy"), np.load(directory / "head.npy", mmap_mode="r"),
                                    np.load(directory / "tail.npy", mmap_mode="r"), int(sizes["shortlist"]),
                                    int(sizes["prefilter"]), int(sizes.get("item_shortlist", 0)),
                                    int(sizes.get("item_prefilter", 0)), codes, float(sizes.get("scan_ms", 0.0)),
                                    tuple((float(level), int(shortlist), int(prefilter))  # none: written before them
                                          for level, shortlist, prefilter in sizes.get("item_levels", [])))
        clusters = Clusters.load(directory) if projection is not None else None  # None: written before them
        graph = NeighbourGraph.load(directory) if projection is not None else None
        with np.load(directory / "columns.npz") as archive:
            optional = [name for name in ("certification", "spoken_matrix") if name in archive.files]  # newer builds
            columns = {name: archive[name] for name in (*NUMERIC_FIELDS, "media_type", "language", "genre_matrix", *optional)}
        ids = np.load(directory / "ids.npy")
        tie_rank = np.load(directory / "tie_rank.npy")
        if ids.shape != tie_rank.shape or matrix.ndim != 2 or len(matrix) != len(ids):
            raise SnapshotDamaged(f"ids.npy, tie_rank.npy and matrix.npy disagree in length "
                                  f"({ids.shape}, {tie_rank.shape}, {matrix.shape})")
        snapshot = IndexSnapshot(
            ids=ids.astype(object),
            matrix=matrix,
            numeric={name: columns[name] for name in NUMERIC_FIELDS},
            media_type=columns["media_type"],
            language=columns["language"],
            languages=list(meta["languages"]),
            genre_matrix=columns["genre_matrix"],
            genres=list(meta["genres"]),
            certification=columns.get("certification"),
            certifications=list(meta.get("certifications", [])),
            spoken_matrix=columns.get("spoken_matrix"),
            spoken_languages=meta.get("spoken_languages") if "spoken_matrix" in columns else None,
            stamp=stamp,
            tie_rank=tie_rank,
            projection=projection,
            search_mode=search_mode,
            clusters=clusters,
            graph=graph,
        )
    except SnapshotDamaged:
        raise
    except (OSError, ValueError, KeyError, TypeError, IndexError, EOFError, zipfile.BadZipFile) as exc:
        raise SnapshotDamaged(f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}") from exc
    _check_shapes(snapshot, meta)
    return snapshot


def load_snapshot(index: VectorIndex) -> IndexSnapshot:
    """The index's latest complete build: its snapshot files (memory-mapped) when ingest wrote them, else Chroma.

    A replica of a server index reads Chroma once per build and keeps the snapshot in its own folder
    (FLIXREC_INDEX_DIR/snapshots), unless a build wrote to Chroma while it read (the read may mix two
    builds: it is served, not kept, and the next stamp replaces it).
    """
    stamp = index.stamp()
    snapshot = read_snapshot(index, stamp) if stamp else None
    if snapshot is not None:
        return snapshot
    quiet_before = stamp is not None and index.remote and not index.interrupted()
    snapshot = snapshot_from_chroma(index, stamp)
    if quiet_before and not index.interrupted() and index.stamp() == stamp:
        try:
            write_snapshot(index, stamp, snapshot)
        except OSError as exc:
            log.warning("could not keep the snapshot of build %s in %s: %s", stamp, snapshot_root(index), exc)
        else:
            if index.location.snapshot_dir is None:  # a shared folder also holds the snapshot a build is writing
                remove_other_snapshots(index, stamp)
            return read_snapshot(index, stamp) or snapshot
    return snapshot


def snapshot_from_chroma(index: VectorIndex, stamp: str | None = None) -> IndexSnapshot:
    """Read every vector and its metadata from the Chroma collection (slow at scale)."""
    return IndexSnapshot.from_records(index.iter_records(include_vectors=True), stamp=stamp)


def snapshot_records(snapshot: IndexSnapshot, skip: set[str], page: int = 20_000) -> Iterator[tuple[list[str], np.ndarray, list[dict[str, Any]]]]:
    """(ids, vectors, metadatas) pages of a snapshot's rows, except `skip` (to merge a build's changes)."""
    n = len(snapshot)
    for start in range(0, n, page):
        rows = [r for r in range(start, min(n, start + page)) if snapshot.ids[r] not in skip]
        if not rows:
            continue
        metas = []
        for r in rows:
            meta: dict[str, Any] = {}
            for name in NUMERIC_FIELDS:
                value = snapshot.numeric[name][r]
                if not np.isnan(value):
                    meta[name] = float(value)
            if snapshot.media_type[r] >= 0:
                meta["media_type"] = MEDIA_TYPES[snapshot.media_type[r]]
            if snapshot.language[r] >= 0:
                meta["language"] = snapshot.languages[snapshot.language[r]]
            genres = [snapshot.genres[g] for g in np.flatnonzero(snapshot.genre_matrix[r])]
            if genres:
                meta["genres"] = genres
            if snapshot.certification[r] >= 0:
                meta["certification"] = snapshot.certifications[snapshot.certification[r]]
            spoken = [snapshot.spoken_languages[s] for s in np.flatnonzero(snapshot.spoken_matrix[r])]
            if spoken and spoken != [meta.get("language")]:
                meta["languages"] = spoken
            metas.append(meta)
        yield [snapshot.ids[r] for r in rows], np.asarray(snapshot.matrix[rows], dtype=np.float32), metas


class SnapshotBuilder:
    """Collects what a build writes to Chroma, then writes the new build's snapshot without re-reading Chroma.

    The base is the previous build's snapshot when it exists and no build was interrupted since (its
    writes reached Chroma but no snapshot), else the collection itself (read once).
    """

    def __init__(self, index: VectorIndex):
        self.index = index
        self._ids: list[str] = []
        self._vectors: list[np.ndarray] = []
        self._metas: list[dict[str, Any]] = []
        self._metadata_updates: dict[str, dict[str, Any]] = {}
        self._deleted: set[str] = set()
        # a build that was interrupted wrote to Chroma without a snapshot: the last snapshot is behind
        self._previous_is_current = not index.interrupted()

    def upserted(self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict[str, Any]]) -> None:
        """Record vectors written to Chroma."""
        self._ids.extend(ids)
        self._vectors.append(np.asarray(vectors, dtype=np.float32))
        self._metas.extend(metadatas)

    def metadata_updated(self, ids: Sequence[str], metadatas: Sequence[dict[str, Any]]) -> None:
        """Record metadata replaced in Chroma."""
        self._metadata_updates.update(zip(ids, metadatas))

    def deleted(self, ids: Iterable[str]) -> None:
        """Record vectors removed from Chroma."""
        self._deleted.update(ids)

    def _base(self) -> Records:
        """The rows this build did not write: the previous snapshot's, else Chroma's (minus this build's)."""
        skip = set(self._ids) | self._deleted
        stamp = self.index.stamp()
        # a first build has none to start from
        previous = read_snapshot(self.index, stamp, verify=True) if stamp and self._previous_is_current else None
        if previous is not None:
            return snapshot_records(previous, skip)
        if self.index.count() == len(set(self._ids)):
            # every stored vector was written by this build (a first build): nothing to read back
            return []
        return (
            ([i for i in ids if i not in skip], vectors[[n for n, i in enumerate(ids) if i not in skip]],
             [m for i, m in zip(ids, metas) if i not in skip])
            for ids, vectors, metas in self.index.iter_records(include_vectors=True)
        )

    def _merged(self) -> Records:
        """The base with this build's metadata updates applied, then this build's vectors."""
        for ids, vectors, metas in self._base():
            if ids:
                yield ids, vectors, [self._metadata_updates.get(i, m) for i, m in zip(ids, metas)]
        if self._ids:
            yield self._ids, np.concatenate(self._vectors), self._metas

    def write(self, stamp: str) -> Path:
        """Write the snapshot of the build that is about to be stamped `stamp`."""
        snapshot = IndexSnapshot.from_records(self._merged(), stamp=stamp)
        return write_snapshot(self.index, stamp, snapshot)
