"""`python -m ingest trakt {search,popular,updates,people,translations,status}`: crawl Trakt into the catalogue.

Every crawl is paced (TRAKT_REQUESTS_PER_5MIN, below Trakt's 500 per 5 minutes), checkpointed with each
page, and resumable: run the same command again after Ctrl-C, a kill or a crash and it picks up where it
stopped. The API key comes from TRAKT_CLIENT_ID (environment) or .streamlit/secrets.toml.
Arguments are checked by argparse types: a bad value is one `error:` line and exit 2 before anything runs.
A crawl says "complete" only when every listing gave all the rows Trakt counts; otherwise it says which
listing ended short and exits 1. `status` shows each listing's rows seen against Trakt's item count.
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from tqdm import tqdm

from flixrec.catalog import Catalog
from flixrec.config import SECRETS_FILE, Settings
from flixrec.errors import FlixrecError
from ingest.arguments import non_negative_float, non_negative_int, positive_float, positive_int
from ingest.trakt.client import MAX_LIMIT, PACING_PERIOD, Pacer, TraktClient
from ingest.trakt.crawl import CrawlPlan, CrawlSummary, parse_since, popular_plan, run_crawl, search_plan, updates_plan
from ingest.trakt.people import count_pending_people, crawl_people
from ingest.trakt.translations import count_pending_translations, crawl_translations


def _media(args: argparse.Namespace) -> list[str]:
    return ["movie", "show"] if args.type == "both" else [args.type]


def year_span(text: str) -> tuple[int, int] | None:
    """--years: 'all' (None: no year filter), a year '1999' or a range '1990-1999' (argparse type)."""
    if text in ("", "all"):
        return None
    first, _, last = text.partition("-")
    try:
        years = (int(first), int(last or first))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a year or a range like 1990-1999 (or 'all')") from None
    if years[0] > years[1]:
        raise argparse.ArgumentTypeError(f"{text!r}: the first year is after the last")
    return years


def page_size(text: str) -> int:
    """--limit: 1 to 250 rows per page (argparse type); Trakt serves no more than 250 whatever is asked."""
    value = positive_int(text)
    if value > MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"{text!r} is above {MAX_LIMIT}, the most rows Trakt serves per page")
    return value


def language_codes(text: str) -> list[str]:
    """--languages of `translations`: comma-separated two-letter codes like de,es,ja (argparse type)."""
    codes = [code.strip().lower() for code in text.split(",") if code.strip()]
    if not codes or not all(len(code) == 2 and code.isascii() and code.isalpha() for code in codes):
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of two-letter language codes "
                                         "like de,es,ja")
    return sorted(set(codes))


def utc_time(text: str) -> dt.datetime:
    """--since: a UTC time like 2026-11-20T13 (argparse type)."""
    try:
        return parse_since(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def make_client(settings: Settings, args: argparse.Namespace) -> TraktClient:
    """A TraktClient from the settings and the command line (key checked before any request)."""
    client_id = settings.require_trakt_key()
    rate = settings.trakt_requests_per_5min if args.rate is None else args.rate
    pacer = Pacer(rate, PACING_PERIOD) if rate > 0 else None
    return TraktClient(client_id, settings.trakt_base_url, pacer=pacer, timeout=args.timeout, backoff=args.backoff)


def _format_seconds(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def _crawl(settings: Settings, args: argparse.Namespace, plans: list[CrawlPlan]) -> int:
    catalog = Catalog.open(settings.database_url)
    totals = CrawlSummary("total")
    complete = True
    with make_client(settings, args) as client:
        for plan in plans:
            with tqdm(desc=plan.name, unit="page", disable=args.quiet, dynamic_ncols=True) as bar:

                def progress(page: Any, summary: CrawlSummary, segment: Any, bar: tqdm = bar) -> None:
                    remaining = max(0, page.page_count - page.number, 0 if page.is_last else 1)
                    bar.total = summary.pages + remaining
                    bar.update(1)
                    postfix = {"titles": summary.titles, "new": summary.new, "at": segment.label}
                    if client.pacer is not None:
                        postfix["pace_eta"] = _format_seconds(remaining * client.pacer.interval)
                    bar.set_postfix(postfix, refresh=False)

                summary = run_crawl(client, catalog, plan, limit=args.limit, dry_run=args.dry_run,
                                    max_pages=args.max_pages, restart=args.restart, progress=progress)
            prefix = "dry run, nothing written: " if args.dry_run else ""
            if summary.already_done and summary.short:
                print(f"{plan.name}: already crawled, but it ended short: {'; '.join(summary.short)}; "
                      "--restart crawls it again")
            elif summary.already_done:
                print(f"{plan.name}: already complete; --restart crawls it again")
            else:
                print(prefix + summary.line())
            for name in ("new", "updated", "unchanged", "skipped", "pages", "titles"):
                setattr(totals, name, getattr(totals, name) + getattr(summary, name))
            totals.failed_pages += summary.failed_pages
            totals.short += summary.short
            complete = complete and summary.done
        if len(plans) > 1:
            totals.done = complete
            print(totals.line())
        print(f"{client.requests_sent} requests to Trakt")
    if totals.failed_pages:
        print(f"{len(totals.failed_pages)} pages still fail; they are retried when you run the same command again")
        return 1
    if totals.short:
        print(f"{len(totals.short)} listings gave fewer rows than Trakt counts (see above); "
              "--restart crawls them again")
        return 1
    return 0


def cmd_search(settings: Settings, args: argparse.Namespace) -> int:
    """Enumerate movies/shows with /search over year ranges (empty query, extended=full)."""
    plans = [search_plan(m, args.years, args.step, args.languages, args.query) for m in _media(args)]
    return _crawl(settings, args, plans)


def cmd_popular(settings: Settings, args: argparse.Namespace) -> int:
    """Enumerate movies/shows with /movies|shows/popular and Trakt's filters."""
    filters = {"years": args.years, "genres": args.genres, "languages": args.languages, "countries": args.countries}
    return _crawl(settings, args, [popular_plan(m, filters) for m in _media(args)])


def cmd_updates(settings: Settings, args: argparse.Namespace) -> int:
    """Refresh what changed on Trakt since the last sync (/updates, at most 30 days back)."""
    catalog = Catalog.open(settings.database_url)
    return _crawl(settings, args, [updates_plan(catalog, m, args.since) for m in _media(args)])


def cmd_people(settings: Settings, args: argparse.Namespace) -> int:
    """Fetch cast and directors (one request per title) for Trakt titles that have none yet."""
    catalog = Catalog.open(settings.database_url)
    with make_client(settings, args) as client:
        for media in _media(args):
            pending = count_pending_people(catalog, media)
            if args.max_titles is not None:
                pending = min(pending, args.max_titles)
            with tqdm(total=pending, desc=f"{media} people", unit="title", disable=args.quiet) as bar:
                summary = crawl_people(client, catalog, media, max_titles=args.max_titles, restart=args.restart,
                                       dry_run=args.dry_run, progress=bar.update, batch_size=args.batch_size)
            print(("dry run, nothing written: " if args.dry_run else "") + summary.line())
        print(f"{client.requests_sent} requests to Trakt")
    return 0


def cmd_translations(settings: Settings, args: argparse.Namespace) -> int:
    """Fetch translated titles (kept as aliases) and overviews for Trakt titles available in these languages."""
    catalog = Catalog.open(settings.database_url)
    with make_client(settings, args) as client:
        for media in _media(args):
            pending = count_pending_translations(catalog, media, args.languages)
            if args.max_titles is not None:
                pending = min(pending, args.max_titles)
            with tqdm(total=pending, desc=f"{media} translations", unit="title", disable=args.quiet) as bar:
                summary = crawl_translations(client, catalog, media, args.languages, max_titles=args.max_titles,
                                             restart=args.restart, dry_run=args.dry_run, progress=bar.update,
                                             batch_size=args.batch_size)
            print(("dry run, nothing written: " if args.dry_run else "") + summary.line())
        print(f"{client.requests_sent} requests to Trakt")
    return 0


def listing_lines(state: dict[str, Any]) -> list[str]:
    """Per listing of a crawl checkpoint: rows seen vs Trakt's item count, and whether it is complete."""
    lines = []
    for key, entry in sorted((state.get("listings") or {}).items(), key=lambda kv: int(kv[0])):
        items = entry.get("items", -1)
        counted = f"{entry['rows']} of {items} rows" if items >= 0 else f"{entry['rows']} rows (Trakt sent no count)"
        if not entry.get("ended"):
            verdict = "in progress"
        elif entry.get("short"):
            verdict = "ENDED SHORT"
        else:
            verdict = "complete"
        lines.append(f"    {entry.get('label', key)}: {counted}, {entry.get('pages', 0)} pages; {verdict}")
    return lines


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    """Show every Trakt checkpoint: per listing rows seen vs Trakt's item count, cursors, last sync."""
    catalog = Catalog.open(settings.database_url)
    states = catalog.states("trakt:")
    if not states:
        print("no Trakt crawl has run yet")
    for key, value in sorted(states.items()):
        if not isinstance(value, dict):
            print(f"{key}: {value}")
            continue
        shown = {k: v for k, v in value.items() if k not in ("listings", "without_people", "without_overview")}
        for name in ("without_people", "without_overview"):  # long lists of title ids: their count
            if name in value:
                shown[name] = len(value[name])
        print(f"{key}: {shown}")
        for line in listing_lines(value):
            print(line)
    print(f"catalogue: {catalog.count('movie')} movies, {catalog.count('show')} shows")
    return 0


def _account_client(settings: Settings, args: argparse.Namespace) -> TraktClient:
    """A client for the user's account (reads paced like every Trakt call)."""
    return make_client(settings, args)


def cmd_login(settings: Settings, args: argparse.Namespace) -> int:
    """Sign in to Trakt (OAuth device flow): shows a code to enter at trakt.tv/activate, then keeps the token."""
    from ingest.trakt.auth import TokenStore, poll_device_token, start_device_login

    with _account_client(settings, args) as client:
        code = start_device_login(client)
        print(f"Open {code.verification_url} and enter the code {code.user_code} "
              f"(it expires in {int(code.expires_in // 60)} minutes). Waiting…", flush=True)
        token = poll_device_token(client, code, settings.trakt_client_secret, on_wait=print)
    store = TokenStore(settings.home)
    store.save(token)
    print(f"Signed in to Trakt; the sign-in is kept in {store.path} (readable by you only)")
    return 0


def cmd_logout(settings: Settings, args: argparse.Namespace) -> int:
    """Forget the Trakt sign-in of this FlixRec home."""
    from ingest.trakt.auth import TokenStore

    print("Signed out of Trakt" if TokenStore(settings.home).clear() else "Not signed in to Trakt")
    return 0


def cmd_push_list(settings: Settings, args: argparse.Namespace) -> int:
    """Create or update a private Trakt list with your recommendations (movies and shows) from your Trakt
    history and ratings, or from IMDb / Letterboxd export files (--import)."""
    from pathlib import Path

    from flixrec.models import Filters
    from flixrec.service import FlixRec
    from ingest.trakt.auth import TokenStore, signed_in_client
    from ingest.trakt.lists import push_list
    from ingest.trakt.sync import read_profile_rows

    app = FlixRec(settings)
    with _account_client(settings, args) as client:
        signed_in_client(client, TokenStore(settings.home), settings.trakt_client_secret)
        if args.import_files:
            profile = app.import_profile({Path(f).name: Path(f).read_bytes() for f in args.import_files})
        else:
            rows, synced = read_profile_rows(client)
            print(f"read from Trakt: {synced.line()}")
            profile = app.profile_from_rows(rows, "trakt")
        counts = profile.counts()
        print("profile: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
        titles = []
        for media in (["movie", "show"] if args.type == "both" else [args.type]):
            try:
                found = app.recommend_for_profile(profile, args.k, Filters(media_types=frozenset({media})))
            except FlixrecError as exc:
                print(f"no {media} recommendations: {exc}")
                continue
            titles += [r.title for r in found.recommendations]
        description = (f"Recommended by FlixRec from {profile.source} ({counts['rating']} rated, "
                       f"{counts['watched']} watched); watched titles left out.")
        summary = push_list(client, args.name, titles, description)
    print(summary.line())
    return 0


def add_trakt_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `trakt` and its subcommands on the ingest CLI."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--type", choices=["movie", "show", "both"], default="both",
                        help="what to crawl (default both)")
    common.add_argument("--dry-run", action="store_true",
                        help="fetch and compare, write nothing (not even the checkpoint)")
    common.add_argument("--rate", type=non_negative_int, default=None,
                        help="requests per 5 minutes to pace at (default TRAKT_REQUESTS_PER_5MIN, 450); "
                             "0 turns pacing off")
    common.add_argument("--timeout", type=positive_float, default=30.0, help="seconds before a request times out (retried)")
    common.add_argument("--backoff", type=non_negative_float, default=1.0,
                        help="base seconds of the exponential, jittered backoff between retries (default 1)")
    common.add_argument("--restart", action="store_true", help="ignore the checkpoint and start from the first page")
    common.add_argument("--secrets-file", default=str(SECRETS_FILE),
                        help="TOML file read for settings the environment does not set, TRAKT_CLIENT_ID included")
    listing = argparse.ArgumentParser(add_help=False, parents=[common])
    listing.add_argument("--limit", type=page_size, default=MAX_LIMIT, help=f"items per page, 1-{MAX_LIMIT} (Trakt's most)")
    listing.add_argument("--max-pages", type=positive_int, default=None, help="stop after this many pages (resume later)")
    listing.add_argument("--languages", default=None, help="comma-separated language codes, e.g. en,fr")

    trakt = subparsers.add_parser("trakt", help="crawl movies, shows and people from the Trakt API (paced, resumable)",
                                  description=__doc__.splitlines()[0])
    sub = trakt.add_subparsers(dest="trakt_command", required=True)
    search = sub.add_parser("search", parents=[listing], help=cmd_search.__doc__)
    search.add_argument("--years", type=year_span, default=f"1900-{dt.date.today().year}",
                        help="year range, e.g. 1990-1999, or 'all' for no year filter (default 1900-this year)")
    search.add_argument("--step", type=positive_int, default=1, help="years per search segment (default 1)")
    search.add_argument("--query", default="", help="search text (default empty: everything)")
    search.set_defaults(handler=cmd_search)
    popular = sub.add_parser("popular", parents=[listing], help=cmd_popular.__doc__)
    popular.add_argument("--years", default=None, help="year or range filter, e.g. 2010-2020")
    popular.add_argument("--genres", default=None, help="comma-separated genre slugs, e.g. drama,comedy")
    popular.add_argument("--countries", default=None, help="comma-separated country codes, e.g. us,gb")
    popular.set_defaults(handler=cmd_popular)
    updates = sub.add_parser("updates", parents=[listing], help=cmd_updates.__doc__)
    updates.add_argument("--since", type=utc_time, default=None, help="UTC start, e.g. 2026-11-20T13 (default: the last sync)")
    updates.set_defaults(handler=cmd_updates)
    people = sub.add_parser("people", parents=[common], help=cmd_people.__doc__)
    people.add_argument("--max-titles", type=positive_int, default=None, help="stop after this many titles (resume later)")
    people.add_argument("--batch-size", type=positive_int, default=25,
                        help="titles written (with the checkpoint) per transaction (default 25)")
    people.set_defaults(handler=cmd_people)
    translations = sub.add_parser("translations", parents=[common], help=cmd_translations.__doc__)
    translations.add_argument("--languages", type=language_codes, required=True,
                              help="comma-separated two-letter language codes, e.g. de,es,ja")
    translations.add_argument("--max-titles", type=positive_int, default=None,
                              help="stop after this many titles (resume later)")
    translations.add_argument("--batch-size", type=positive_int, default=25,
                              help="titles written (with the checkpoint) per transaction (default 25)")
    translations.set_defaults(handler=cmd_translations)
    status = sub.add_parser("status", help=cmd_status.__doc__)
    status.set_defaults(handler=cmd_status)
    login = sub.add_parser("login", parents=[common], help=cmd_login.__doc__)
    login.set_defaults(handler=cmd_login)
    logout = sub.add_parser("logout", help=cmd_logout.__doc__)
    logout.set_defaults(handler=cmd_logout)
    push = sub.add_parser("push-list", parents=[common], help=cmd_push_list.__doc__.split("\n")[0])
    push.add_argument("--name", required=True, help="the Trakt list's name (created private when missing)")
    push.add_argument("--k", type=positive_int, default=50, help="titles per media type (default 50)")
    push.add_argument("--import", dest="import_files", nargs="+", default=None, metavar="CSV",
                      help="IMDb ratings or Letterboxd export files to build the profile from (default: your Trakt "
                           "history, ratings and watchlist)")
    push.set_defaults(handler=cmd_push_list)

