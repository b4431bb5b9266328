"""python -m ingest {demo,embed,check,build-demo,trakt}: build and refresh the catalogue and the index.

Errors a user can act on print `error: ...` and exit with code 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from flixrec.catalog import Catalog, UpsertCounts
from flixrec.config import SECRETS_FILE, Settings
from flixrec.embedding import load_embedder
from flixrec.errors import FlixrecError
from flixrec.index import VectorIndex
from flixrec.service import FlixRec

log = logging.getLogger("ingest")


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    """Load the offline demo catalogue into the database (idempotent)."""
    from ingest.demo import iter_demo_reports

    catalog = Catalog.open(settings.database_url)
    total = UpsertCounts()
    for report in iter_demo_reports(settings.downloads_dir, include_anime=not args.no_anime):
        for reason in report.skipped:
            log.warning("%s: skipped a malformed row: %s", report.source, reason)
        counts = UpsertCounts()
        with tqdm(total=len(report.titles), desc=f"demo {report.source}", unit="title", disable=args.quiet) as bar:
            for start in range(0, len(report.titles), 1000):
                chunk = report.titles[start : start + 1000]
                counts += catalog.upsert_titles(chunk)
                bar.update(len(chunk))
        print(f"{report.source}: {counts.new} new, {counts.updated} updated, {counts.unchanged} unchanged, "
              f"{len(report.skipped)} skipped")
        total += counts
    catalog.set_state("demo:last_ingest", {"at": time.time(), "new": total.new, "updated": total.updated})
    return 0


def cmd_embed(settings: Settings, args: argparse.Namespace) -> int:
    """Embed new and changed titles into the model's Chroma collection."""
    from ingest.embed import build_index, plan_build

    catalog = Catalog.open(settings.database_url)
    if catalog.count() == 0:
        raise FlixrecError("the catalogue is empty; load titles first: python -m ingest demo (or trakt)")
    embedder = load_embedder(settings.model, workers=args.workers)
    index = VectorIndex.open(settings.index_dir, settings.model, dimension=embedder.dimension, create=True)
    if index.dimension and index.dimension != embedder.dimension:
        raise FlixrecError(
            f"the index for {settings.model!r} holds {index.dimension}-dim vectors but the model gives "
            f"{embedder.dimension}; delete {settings.index_dir} to rebuild it"
        )
    plan = plan_build(catalog, index)
    with tqdm(total=len(plan.to_embed), desc=f"embed {settings.model}", unit="title", disable=args.quiet) as bar:
        summary = build_index(catalog, index, embedder, batch_size=args.batch_size, progress=bar.update, plan=plan)
    print(
        f"{settings.model}: {summary.embedded} embedded ({summary.titles_per_second:.1f} titles/s), "
        f"{summary.metadata_updated} metadata updated, {summary.deleted} deleted, {summary.unchanged} unchanged; "
        f"{index.count()} vectors in {index.collection.name}"
    )
    return 0


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    """Report catalogue and index counts and whether they agree (exit 1 when they do not)."""
    status = FlixRec(settings).status()
    print(f"catalogue: {status.catalog_titles} titles ({status.catalog_movies} movies, {status.catalog_shows} shows)")
    print(f"index:     {status.index_vectors} vectors in {status.collection} (model {status.model}, dim {status.dimension})")
    if status.in_agreement:
        print("agree:     yes")
        return 0
    print(f"agree:     no - {status.missing_from_index} titles to embed, {status.stale_in_index} stale vectors; "
          "run: python -m ingest embed")
    return 1


def cmd_build_demo(settings: Settings, args: argparse.Namespace) -> int:
    """demo + embed, skipped quickly when both are already done (what `make run` calls)."""
    cmd_demo(settings, args)
    return cmd_embed(settings, args)


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser (every command documented in README)."""
    parser = argparse.ArgumentParser(prog="python -m ingest", description=__doc__.splitlines()[0])
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help=cmd_demo.__doc__)
    demo.add_argument("--no-anime", action="store_true", help="only the TMDB-5000 movies")
    embed = sub.add_parser("embed", help=cmd_embed.__doc__)
    embed.add_argument("--batch-size", type=int, default=2048, help="titles embedded per step (a progress update)")
    embed.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                       help="embedding processes for the USE model (default: one per core)")
    sub.add_parser("check", help=cmd_check.__doc__)
    build = sub.add_parser("build-demo", help=cmd_build_demo.__doc__)
    build.add_argument("--no-anime", action="store_true", help="only the TMDB-5000 movies")
    build.add_argument("--batch-size", type=int, default=2048, help="titles embedded per step (a progress update)")
    build.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                       help="embedding processes for the USE model (default: one per core)")
    try:
        from ingest.trakt_cli import add_trakt_parser
    except ImportError:
        pass
    else:
        add_trakt_parser(sub)
    return parser


COMMANDS = {"demo": cmd_demo, "embed": cmd_embed, "check": cmd_check, "build-demo": cmd_build_demo}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, run, and turn FlixrecError into `error: ...` with exit code 2."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env(secrets_file=Path(getattr(args, "secrets_file", None) or SECRETS_FILE))
        handler = getattr(args, "handler", None) or COMMANDS[args.command]
        return handler(settings, args)
    except FlixrecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: progress so far is saved; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
