"""python -m flixrec {search,similar,text,serve}: query the built catalogue and index from a terminal, or serve the REST API."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence

from flixrec.config import SECRETS_FILE, Settings
from flixrec.errors import FlixrecError
from flixrec.filters import FILTER_PARAMS, ParsedFilters, parse_filter_params
from flixrec.models import Filters, Recommendation, Title
from flixrec.service import FlixRec


class FilterError(FlixrecError):
    """A filter option has a value the catalogue cannot use."""


def _filter_params(args: argparse.Namespace) -> dict[str, list[str]]:
    """The filter options as raw parameters of the shared vocabulary (flixrec.filters)."""
    params: dict[str, list[str]] = {}
    for name in ("year", "runtime"):
        low, high = getattr(args, f"{name}_min"), getattr(args, f"{name}_max")
        given = getattr(args, name)
        if given is not None:
            params[name] = [given]
        elif low is not None or high is not None:  # the older --year-min/--year-max spelling
            params[name] = [f"{'' if low is None else low}-{'' if high is None else high}"]
    for name in ("votes", "rating", "type"):
        if getattr(args, name) is not None:
            params[name] = [str(getattr(args, name))]
    for param in FILTER_PARAMS:
        if param.repeated and getattr(args, param.name, None):
            params[param.name] = list(getattr(args, param.name))
    params["k"] = [str(args.k)]
    return params


def _parsed(app: FlixRec, args: argparse.Namespace) -> ParsedFilters:
    """The filters and ranking the options mean; a value the parser drops is an error (a typo must not widen the search)."""
    params = _filter_params(args)
    parsed = parse_filter_params(params, app.facets() if len(params) > 1 else None)
    problems = [p for p in parsed.problems if not p.startswith("k=")]
    if problems:
        raise FilterError("; ".join(problems))
    return parsed


def _filters(app: FlixRec, args: argparse.Namespace) -> Filters:
    """The Filters the options mean (see _parsed)."""
    return _parsed(app, args).filters


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
        print(f"{rec.rank:>3}. {rec.score:.0%} {rec.label:<12} {_describe(rec.title)}")
        for reason in rec.reasons[:3]:
            print(f"       {reason.text}")


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
    """Titles similar to a title given by name or id (asks which one when several share the top match)."""
    title_id = args.title if args.id else None
    if title_id is None:
        resolution = app.resolve_title(args.title)
        if resolution.nothing:
            print(f"no title matches {args.title!r}")
            return 1
        if resolution.choices:
            print(f"{len(resolution.choices)} titles are called {args.title!r}; pick one by id with --id:")
            for m in resolution.choices:
                print(f"  {_describe(m.title)}")
            return 1
        if resolution.title is None:
            resolution = dataclasses.replace(resolution, title=resolution.did_you_mean[0].title)
            print(f"(did you mean {resolution.title.label()}?)")
        title_id = resolution.title.title_id
    seed = app.get_title(title_id)
    print(f"similar to {_describe(seed)}")
    parsed = _parsed(app, args)
    _print_recommendations(app.similar_titles(title_id, k=args.k, filters=parsed.filters,
                                              weights=parsed.weights(app.settings.ranking)))
    franchise = app.franchise_titles(title_id, k=5)
    if franchise and not args.no_franchise:
        print("same franchise or name (kept apart):")
        _print_recommendations(franchise)
    return 0


def cmd_text(app: FlixRec, args: argparse.Namespace) -> int:
    """Titles closest to a free-text description, in any language the model reads."""
    _print_recommendations(app.similar_to_text(args.text, k=args.k, filters=_filters(app, args)))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the REST API (flixrec.api) with uvicorn until interrupted."""
    from flixrec.api.server import serve  # the web stack is imported only to serve

    serve(host=args.host, port=args.port, workers=args.workers)
    return 0


def _positive_int(text: str) -> int:
    """A whole number of at least 1 (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def _host(text: str) -> str:
    """An address or host name to listen on (argparse type): one a resolver can be asked about."""
    try:
        text.encode("idna")  # what socket.bind does with a name: fails on undecodable bytes or 64+ letter labels
    except UnicodeError:
        text = ""
    if not text:
        raise argparse.ArgumentTypeError("not an address or host name to listen on (e.g. 127.0.0.1, or 0.0.0.0 "
                                         "for every interface)")
    return text


def _port(text: str) -> int:
    """A TCP port, 0 (any free one) to 65535 (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port from 0 to 65535")
    return value


def _add_filter_options(parser: argparse.ArgumentParser) -> None:
    """One option per filter of the shared vocabulary (--year, --no-genre, ...), help from FILTER_PARAMS."""
    for param in FILTER_PARAMS:
        if param.name == "k":
            continue
        option = "--" + param.name.replace("_", "-")
        if param.repeated:
            parser.add_argument(option, dest=param.name, action="append", help=param.help)
        elif param.name == "type":
            parser.add_argument(option, dest=param.name, choices=["movie", "show"], help=param.help)
        else:
            parser.add_argument(option, dest=param.name, help=param.help)
    parser.add_argument("--language", dest="lang", action="append", help=argparse.SUPPRESS)  # older spelling
    parser.add_argument("--not-genre", dest="no_genre", action="append", help=argparse.SUPPRESS)
    parser.add_argument("--min-votes", dest="votes", help=argparse.SUPPRESS)
    parser.add_argument("--min-rating", dest="rating", help=argparse.SUPPRESS)
    for name in ("year", "runtime"):
        for side in ("min", "max"):
            parser.add_argument(f"--{name}-{side}", type=int, help=f"the older spelling of --{name} (one side)")


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
        _add_filter_options(p)
        p.set_defaults(handler=handler)
    serve = sub.add_parser("serve", help=cmd_serve.__doc__)
    serve.add_argument("--host", type=_host, default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    serve.add_argument("--port", type=_port, default=8000, help="port to listen on (default 8000)")
    serve.add_argument("--workers", type=_positive_int, default=1,
                       help="worker processes (they share the memory-mapped index; default 1)")
    serve.set_defaults(handler=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: `error: ...` and exit code 2 for anything a user can fix."""
    args = build_parser().parse_args(argv)
    try:
        if args.handler is cmd_serve:
            return cmd_serve(args)
        return args.handler(FlixRec(Settings.from_env(secrets_file=SECRETS_FILE)), args)
    except FlixrecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
