"""The demo and embedding workflows as library calls: `python -m ingest demo|embed|build-demo` and the app's
"Build the demo catalogue" button both run these, so the two never drift apart.

    load_demo(settings, progress, note)        -> DemoSummary    fetch + parse the demo data, upsert it
    embed_catalogue(settings, progress, note)  -> EmbedSummary   embed new/changed titles into the model's index
    build_demo(settings, progress, note)       -> BuildSummary   both, skipped quickly when already done
    repair_catalogue_index(settings, progress) -> RepairSummary  move damaged index files aside, build again

`progress(stage, done, total)` hears each stage's advance (stage labels: "demo tmdb5000", "demo bgmd",
"embed <model>"; called with done=0 when a stage starts); `note(message)` hears what a user should know
(malformed rows skipped, npm missing so the anime part is skipped). Failures raise FlixrecError subclasses.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from collections.abc import Callable

from flixrec.catalog import Catalog, UpsertCounts
from flixrec.config import Settings
from flixrec.embedding import collection_name, load_embedder
from flixrec.index import IndexLocation, VectorIndex
from flixrec.writer_lock import writer_lock
from ingest.embed import IndexBuildSummary, build_index, plan_build, repair_index
from ingest.errors import IndexDimensionMismatch, IngestError

Progress = Callable[[str, int, int], None]
Note = Callable[[str], None]
log = logging.getLogger("ingest")
UPSERT_CHUNK = 1000
"""Titles upserted per transaction (a progress step)."""


@dataclasses.dataclass(frozen=True)
class SourceSummary:
    """What loading one demo source did."""

    source: str
    new: int
    updated: int
    unchanged: int
    skipped: int

    def line(self) -> str:
        """A one-line human summary."""
        return f"{self.source}: {self.new} new, {self.updated} updated, {self.unchanged} unchanged, {self.skipped} skipped"


@dataclasses.dataclass(frozen=True)
class DemoSummary:
    """What `load_demo` did: one summary per source loaded, and the catalogue's size after it."""

    sources: list[SourceSummary]
    catalogue_titles: int

    @property
    def new(self) -> int:
        """Titles added across sources."""
        return sum(s.new for s in self.sources)

    @property
    def updated(self) -> int:
        """Titles changed across sources."""
        return sum(s.updated for s in self.sources)

    def lines(self) -> list[str]:
        """One human line per source."""
        return [s.line() for s in self.sources]


@dataclasses.dataclass(frozen=True)
class EmbedSummary:
    """What `embed_catalogue` did, and the index it left."""

    model: str
    collection: str
    vectors: int
    build: IndexBuildSummary

    def line(self) -> str:
        """A one-line human summary."""
        b = self.build
        return (f"{self.model}: {b.embedded} embedded ({b.titles_per_second:.1f} titles/s), "
                f"{b.metadata_updated} metadata updated, {b.deleted} deleted, {b.unchanged} unchanged; "
                f"{self.vectors} vectors in {self.collection}")


@dataclasses.dataclass(frozen=True)
class BuildSummary:
    """What `build_demo` did."""

    demo: DemoSummary
    embed: EmbedSummary

    def lines(self) -> list[str]:
        """The demo lines, then the embed line."""
        return [*self.demo.lines(), self.embed.line()]


def _quiet_progress(stage: str, done: int, total: int) -> None:
    """The default progress: nothing."""


def load_demo(settings: Settings, progress: Progress | None = None, note: Note | None = None, *,
              include_anime: bool = True) -> DemoSummary:
    """Load the offline demo catalogue into the database (idempotent: a second run changes nothing)."""
    from ingest.demo import iter_demo_reports

    progress = progress or _quiet_progress
    note = note or log.warning
    catalog = Catalog.open(settings.database_url)
    total = UpsertCounts()
    sources = []
    for report in iter_demo_reports(settings.downloads_dir, include_anime=include_anime, note=note):
        for reason in report.skipped:
            note(f"{report.source}: skipped a malformed row: {reason}")
        stage, counts = f"demo {report.source}", UpsertCounts()
        progress(stage, 0, len(report.titles))
        for start in range(0, len(report.titles), UPSERT_CHUNK):
            counts += catalog.upsert_titles(report.titles[start : start + UPSERT_CHUNK])
            progress(stage, min(len(report.titles), start + UPSERT_CHUNK), len(report.titles))
        sources.append(SourceSummary(report.source, counts.new, counts.updated, counts.unchanged, len(report.skipped)))
        total += counts
    catalog.set_state("demo:last_ingest", {"at": time.time(), "new": total.new, "updated": total.updated})
    return DemoSummary(sources, catalog.count())


def embed_catalogue(settings: Settings, progress: Progress | None = None, note: Note | None = None, *,
                    batch_size: int = 2048, workers: int = 1) -> EmbedSummary:
    """Embed new and changed titles into the model's Chroma collection (refuses an index of another dimension)."""
    progress = progress or _quiet_progress
    catalog = Catalog.open(settings.database_url)
    if catalog.count() == 0:
        raise IngestError("the catalogue is empty; load titles first: python -m ingest demo (or trakt)")
    with writer_lock(catalog.engine, f"the index {collection_name(settings.model)}"):
        return _embed_locked(settings, catalog, progress, batch_size=batch_size, workers=workers)


def _embed_locked(settings: Settings, catalog: Catalog, progress: Progress, *, batch_size: int,
                  workers: int) -> EmbedSummary:
    """`embed_catalogue` once it holds the writer lock."""
    embedder = load_embedder(settings.model, workers=workers)
    location = IndexLocation.from_settings(settings)
    index = VectorIndex.open(location, settings.model, dimension=embedder.dimension, create=True)
    if index.dimension and index.dimension != embedder.dimension:
        where = f"the collection {index.collection.name} on {location.describe()}" if location.remote else settings.index_dir
        raise IndexDimensionMismatch(
            f"the index for {settings.model!r} holds {index.dimension}-dim vectors but the model gives "
            f"{embedder.dimension}; delete {where} to rebuild it",
            model=settings.model, index_dimension=index.dimension, model_dimension=embedder.dimension,
            path=settings.index_dir,
        )
    plan = plan_build(catalog, index)
    stage, total, done = f"embed {settings.model}", len(plan.to_embed), 0
    progress(stage, 0, total)

    def advance(count: int) -> None:
        nonlocal done
        done += count
        progress(stage, done, total)

    build = build_index(catalog, index, embedder, batch_size=batch_size, progress=advance, plan=plan)
    return EmbedSummary(settings.model, index.collection.name, index.count(), build)


def build_demo(settings: Settings, progress: Progress | None = None, note: Note | None = None, *,
               include_anime: bool = True, batch_size: int = 2048, workers: int = 1) -> BuildSummary:
    """`load_demo` then `embed_catalogue`: quick when both are already done (what `make run` and the app call)."""
    demo = load_demo(settings, progress, note, include_anime=include_anime)
    return BuildSummary(demo, embed_catalogue(settings, progress, note, batch_size=batch_size, workers=workers))


@dataclasses.dataclass(frozen=True)
class RepairSummary:
    """What `repair_catalogue_index` did: what it moved aside, the build, and anything still wrong."""

    moved_aside: list[Path]
    embed: EmbedSummary
    problems: list[str]


def repair_catalogue_index(settings: Settings, progress: Progress | None = None, *, batch_size: int = 2048,
                           workers: int = 1) -> RepairSummary:
    """Make the model's index whole again from the catalogue (`python -m ingest repair`): see ingest.embed.repair_index."""
    progress = progress or _quiet_progress
    catalog = Catalog.open(settings.database_url)
    if catalog.count() == 0:
        raise IngestError("the catalogue is empty; load titles first: python -m ingest demo (or trakt)")
    embedder = load_embedder(settings.model, workers=workers)
    stage, done = f"repair {settings.model}", 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        progress(stage, done, max(done, catalog.count()))

    location = IndexLocation.from_settings(settings)
    with writer_lock(catalog.engine, f"the index {collection_name(settings.model)}"):
        report = repair_index(catalog, location, settings.model, embedder, batch_size=batch_size, progress=advance)
    index = VectorIndex.open(location, settings.model)
    embed = EmbedSummary(settings.model, index.collection.name, index.count(), report.summary)
    return RepairSummary(report.moved_aside, embed, report.problems)
