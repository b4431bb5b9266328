"""python -m flixrec {search,similar,text}: query the built catalogue and index from a terminal."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from flixrec.config import SECRETS_FILE, Settings
from flixrec.errors import FlixrecError
from flixrec.models import Filters, Recommendation, Title
from flixrec.service import FlixRec


def _filters(args: argparse.Namespace) -> Filters:
    return Filters(
        year_min=args.year_min, year_max=args.year_max, runtime_min=args.runtime_min, runtime_max=args.runtime_max,
        min_votes=args.min_votes, min_rating=args.min_rating, genres_include=args.genre or (),
        genres_exclude=args.not_genre or (), languages=args.language or (), media_types=args.type or (),
    )


def _describe(title: Title) -> str:
    bits = [title.media_type, str(title.year or "?")]
    if title.runtime:
        bits.append(f"{title.runtime} min")
    if title.rating is not None:
        bits.append(f"★ {title.rating:.1f} ({title.votes or 0} votes)")
    return f"{title.title}  [{', '.join(bits)}]  {title.title_id}"


def _print_recommendations(recs: list[Recommendation]) -> None:
    if not recs:
        print("no title passes these filters")
    for rec in recs:
        print(f"{rec.rank:>3}. {rec.score:.3f}  {_describe(rec.title)}")


def cmd_search(app: FlixRec, args: argparse.Namespace) -> int:
    """Titles matching a name (exact first, then typo-tolerant)."""
    matches = app.search_titles(args.query, limit=args.k)
    if not matches:
        print(f"no title matches {args.query!r}")
        return 1
    for m in matches:
        print(f"{m.kind:>5} {m.score:5.1f}  {_describe(m.title)}")
    return 0


def cmd_similar(app: FlixRec, args: argparse.Namespace) -> int:
    """Titles similar to a title given by name or id (asks which one when the name is shared)."""
    title_id = args.title if args.id else None
    if title_id is None:
        matches = app.search_titles(args.title, limit=10)
        exact = [m for m in matches if m.kind == "exact"]
        if not matches:
            print(f"no title matches {args.title!r}")
            return 1
        if len(exact) > 1:
            print(f"{len(exact)} titles are called {args.title!r}; pick one by id with --id:")
            for m in exact:
                print(f"  {_describe(m.title)}")
            return 1
        chosen = (exact or matches)[0]
        if chosen.kind == "fuzzy":
            print(f"(did you mean {chosen.title.label()}?)")
        title_id = chosen.title.title_id
    seed = app.get_title(title_id)
    print(f"similar to {_describe(seed)}")
    _print_recommendations(app.similar_titles(title_id, k=args.k, filters=_filters(args)))
    franchise = app.franchise_titles(title_id, k=5)
    if franchise and not args.no_franchise:
        print("same franchise or name (kept apart):")
        _print_recommendations(franchise)
    return 0


def cmd_text(app: FlixRec, args: argparse.Namespace) -> int:
    """Titles closest to a free-text description, in any language the model reads."""
    _print_recommendations(app.similar_to_text(args.text, k=args.k, filters=_filters(args)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The query CLI's parser."""
    parser = argparse.ArgumentParser(prog="python -m flixrec", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    search = sub.add_parser("search", help=cmd_search.__doc__)
    search.add_argument("query")
    search.add_argument("-k", type=int, default=10)
    search.set_defaults(handler=cmd_search)
    for name, handler, arg in (("similar", cmd_similar, "title"), ("text", cmd_text, "text")):
        p = sub.add_parser(name, help=handler.__doc__)
        p.add_argument(arg)
        p.add_argument("-k", type=int, default=20)
        if name == "similar":
            p.add_argument("--id", action="store_true", help="the argument is a title id, not a name")
            p.add_argument("--no-franchise", action="store_true", help="do not list the franchise entries")
        p.add_argument("--year-min", type=int)
        p.add_argument("--year-max", type=int)
        p.add_argument("--runtime-min", type=int)
        p.add_argument("--runtime-max", type=int)
        p.add_argument("--min-votes", type=int)
        p.add_argument("--min-rating", type=float)
        p.add_argument("--genre", action="append", help="keep titles with any of these genres (repeatable)")
        p.add_argument("--not-genre", action="append", help="drop titles with any of these genres (repeatable)")
        p.add_argument("--language", action="append", help="original language code, e.g. en, ja (repeatable)")
        p.add_argument("--type", action="append", choices=["movie", "show"])
        p.set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: `error: ...` and exit code 2 for anything a user can fix."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(FlixRec(Settings.from_env(secrets_file=SECRETS_FILE)), args)
    except FlixrecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
