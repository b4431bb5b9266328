"""Benchmark the Trakt ingest machinery against the local fake at a simulated 334k-title catalogue.

Runs the fake Trakt in its own process (so its JSON generation does not share our GIL), crawls a slice of
the catalogue with pacing off into a fresh SQLite catalogue, and prints one JSON line:
  machinery_titles_per_s   titles / (JSON decode + mapping + upsert + checkpoint commit) seconds
  machinery_cpu_titles_per_s  the same over CPU seconds of the crawling thread: what the machinery costs
                           whatever else runs on the machine (wall seconds stretch when cores are shared)
  end_to_end_titles_per_s  titles / wall seconds including loopback HTTP to the fake
  projected_*              wall time of a real crawl at Trakt's 500 requests / 5 min with 250 per page
The slice (default 30,000 titles, --titles) is measured and the totals projected; say --titles 334000 to
crawl the whole simulated catalogue.

    python bench/trakt_crawl.py [--titles 30000] [--catalogue 334000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flixrec.catalog import Catalog  # noqa: E402
from ingest.trakt.client import MAX_LIMIT, PACING_PERIOD, Pacer, TraktClient  # noqa: E402
from ingest.trakt.crawl import run_crawl, search_plan  # noqa: E402

TRAKT_LIMIT = 500  # GET requests per 5 minutes (Trakt, 2026)
KEY = "bench-client-id"


def projected_seconds(titles: int, requests_per_5min: float, seconds_per_page: float, margin: float = 0.0) -> float:
    """Wall time of a crawl of `titles` at a pace, when each page also costs `seconds_per_page` of our own work."""
    pages = math.ceil(titles / MAX_LIMIT)
    interval = (PACING_PERIOD + margin) / requests_per_5min
    return pages * max(interval, seconds_per_page)


def main() -> int:
    """Run the benchmark and print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--titles", type=int, default=30_000, help="titles to crawl (the measured slice)")
    parser.add_argument("--catalogue", type=int, default=334_000, help="size of the simulated Trakt catalogue")
    args = parser.parse_args()

    fake = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fake_trakt.py"), "--movies", str(args.catalogue),
                             "--key", KEY], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url = fake.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as tmp, TraktClient(KEY, url, pacer=None, timeout=60) as client:
            catalog = Catalog.open(f"sqlite:///{tmp}/bench.sqlite3")
            plan = search_plan("movie", None)
            pages = math.ceil(args.titles / MAX_LIMIT)
            started = time.perf_counter()
            summary = run_crawl(client, catalog, plan, max_pages=pages)
            wall = time.perf_counter() - started
            stored = catalog.count()
            # A second pass over the same pages: nothing changed upstream, so every title is compared and skipped.
            catalog.set_state(plan.key, {"segment": 0, "page": 1, "done": False, "failed": [], "started_at": "x"})
            decode_before, decode_cpu_before = client.decode_seconds, client.decode_cpu_seconds
            again = run_crawl(client, catalog, plan, max_pages=pages)
            machinery = summary.parse_upsert_seconds + decode_before
            machinery_cpu = summary.parse_upsert_cpu_seconds + decode_cpu_before
            recrawl_machinery = again.parse_upsert_seconds + (client.decode_seconds - decode_before)
            catalog.engine.dispose()
    finally:
        fake.stdin.close()
        fake.wait(timeout=30)

    rate = summary.titles / machinery
    per_page = MAX_LIMIT / rate
    default_pacer = Pacer(450)  # the default TRAKT_REQUESTS_PER_5MIN, with its 1% margin
    result = {
        "benchmark": "trakt_crawl",
        "simulated_catalogue_titles": args.catalogue,
        "measured_slice_titles": summary.titles,
        "measured_pages": summary.pages,
        "stored_titles": stored,
        "slice_note": f"crawled the first {summary.titles} of {args.catalogue} titles (pacing off) and projected",
        "machinery_titles_per_s": round(rate),
        "machinery_cpu_titles_per_s": round(summary.titles / machinery_cpu),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "machinery_recrawl_unchanged_titles_per_s": round(again.titles / recrawl_machinery),
        "end_to_end_titles_per_s": round(summary.titles / wall),
        "machinery_ms_per_250_page": round(per_page * 1000, 1),
        "projected_wall_min_334k_at_500_per_5min": round(projected_seconds(334_000, TRAKT_LIMIT, per_page) / 60, 1),
        "projected_wall_min_1m_at_500_per_5min": round(projected_seconds(1_000_000, TRAKT_LIMIT, per_page) / 60, 1),
        "projected_wall_min_334k_at_default_450_pacing": round(
            math.ceil(334_000 / MAX_LIMIT) * max(default_pacer.interval, per_page) / 60, 1),
        "projected_wall_min_1m_at_default_450_pacing": round(
            math.ceil(1_000_000 / MAX_LIMIT) * max(default_pacer.interval, per_page) / 60, 1),
        "machinery_is_bottleneck": per_page > PACING_PERIOD / TRAKT_LIMIT,
        "target_titles_per_s": 5000,
        "meets_target": rate >= 5000,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
