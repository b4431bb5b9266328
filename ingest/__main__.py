"""python -m ingest {demo,embed,check,repair,build-demo,migrate,answers,trakt}: build and refresh the catalogue and the index.

Errors a user can act on print `error: ...` and exit with code 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from flixrec.catalog import Catalog
from flixrec.config import SECRETS_FILE, Settings
from flixrec.errors import FlixrecError
from flixrec.service import FlixRec
from ingest.arguments import batch_size, worker_count
from ingest.build import build_demo, embed_catalogue, load_demo, repair_catalogue_index

log = logging.getLogger("ingest")


class StageBars:
    """A `progress(stage, done, total)` callback drawing one tqdm bar per stage (closed when the next starts)."""

    def __init__(self, disable: bool):
        self.disable = disable
        self.stage: str | None = None
        self.bar: tqdm | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.close()
            self.stage, self.bar = stage, tqdm(total=total, desc=stage, unit="title", disable=self.disable)
        assert self.bar is not None
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        """Close the current bar, if any."""
        if self.bar is not None:
            self.bar.close()
        self.stage = self.bar = None

    def __enter__(self) -> StageBars:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    """Load the offline demo catalogue into the database (idempotent)."""
    with StageBars(args.quiet) as bars:
        summary = load_demo(settings, bars, log.warning, include_anime=not args.no_anime)
    print("\n".join(summary.lines()))
    return 0


def cmd_embed(settings: Settings, args: argparse.Namespace) -> int:
    """Embed new and changed titles into the model's Chroma collection."""
    with StageBars(args.quiet) as bars:
        summary = embed_catalogue(settings, bars, log.warning, batch_size=args.batch_size, workers=args.workers)
    print(summary.line())
    return 0


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    """Report catalogue and index counts and whether they agree (exit 1 when they do not)."""
    status = FlixRec(settings).status()
    print(f"catalogue: {status.catalog_titles} titles ({status.catalog_movies} movies, {status.catalog_shows} shows)")
    print(f"index:     {status.index_vectors} vectors in {status.collection} (model {status.model}, dim {status.dimension})")
    if status.in_agreement:
        print("agree:     yes")
        return 0
    print("agree:     no")
    for line in status.problems():
        print(f"  - {line}")
    return 1


def cmd_repair(settings: Settings, args: argparse.Namespace) -> int:
    """Make the index whole again from the catalogue: damaged files are moved aside, then one build."""
    with StageBars(args.quiet) as bars:
        report = repair_catalogue_index(settings, bars, batch_size=args.batch_size, workers=args.workers)
    for path in report.moved_aside:
        print(f"moved aside: {path}")
    print(report.embed.line())
    for line in report.problems:
        print(f"still wrong: {line}")
    return 1 if report.problems else 0


def cmd_build_demo(settings: Settings, args: argparse.Namespace) -> int:
    """demo + embed, skipped quickly when both are already done (what `make run` calls)."""
    with StageBars(args.quiet) as bars:
        summary = build_demo(settings, bars, log.warning, include_anime=not args.no_anime,
                             batch_size=args.batch_size, workers=args.workers)
    print("\n".join(summary.lines()))
    return 0


def cmd_answers(settings: Settings, args: argparse.Namespace) -> int:
    """Compute every title's default similar-titles page ahead, for the REST API to send (resumes; minutes per 10k titles)."""
    from flixrec.api.answers import fill_answers  # here: only this command needs the API

    with StageBars(args.quiet) as bars:
        summary = fill_answers(settings, workers=args.workers, progress=lambda done, total: bars("answers", done, total))
    print(summary.line())
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    """Upgrade the catalogue database's schema to this version's (Alembic; keeps every row, no rebuild)."""
    catalog = Catalog.open(settings.database_url, create=False)
    before, after = catalog.migrate_schema()
    print(f"schema:    revision {after} (was {before or 'unversioned'}) in {catalog.describe()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser (every command documented in README)."""
    parser = argparse.ArgumentParser(prog="python -m ingest", description=__doc__.splitlines()[0])
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help=cmd_demo.__doc__)
    demo.add_argument("--no-anime", action="store_true", help="only the TMDB-5000 movies")
    embed = sub.add_parser("embed", help=cmd_embed.__doc__)
    embed.add_argument("--batch-size", type=batch_size, default=2048, help="titles embedded per step (a progress update)")
    embed.add_argument("--workers", type=worker_count, default=os.cpu_count() or 1,
                       help="embedding processes for the USE model (default: one per core)")
    sub.add_parser("check", help=cmd_check.__doc__)
    repair = sub.add_parser("repair", help=cmd_repair.__doc__)
    repair.add_argument("--batch-size", type=batch_size, default=2048, help="titles embedded per step (a progress update)")
    repair.add_argument("--workers", type=worker_count, default=os.cpu_count() or 1,
                        help="embedding processes for the USE model (default: one per core)")
    sub.add_parser("migrate", help=cmd_migrate.__doc__)
    answers = sub.add_parser("answers", help=cmd_answers.__doc__)
    answers.add_argument("--workers", type=worker_count, default=os.cpu_count() or 1,
                         help="processes computing answers (default: one per core)")
    build = sub.add_parser("build-demo", help=cmd_build_demo.__doc__)
    build.add_argument("--no-anime", action="store_true", help="only the TMDB-5000 movies")
    build.add_argument("--batch-size", type=batch_size, default=2048, help="titles embedded per step (a progress update)")
    build.add_argument("--workers", type=worker_count, default=os.cpu_count() or 1,
                       help="embedding processes for the USE model (default: one per core)")
    try:
        from ingest.trakt.cli import add_trakt_parser
    except ImportError:
        pass
    else:
        add_trakt_parser(sub)
    return parser


COMMANDS = {"demo": cmd_demo, "embed": cmd_embed, "check": cmd_check, "repair": cmd_repair, "build-demo": cmd_build_demo,
            "migrate": cmd_migrate, "answers": cmd_answers}


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
