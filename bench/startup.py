"""What a process's first recommendation pays: the ranking features (not a timed test).

Over a built home (FLIXREC_HOME, default ~/.cache/flixrec; the 300k bench home with
`bench/similar.py --keep --workdir DIR`), builds `TitleFeatures` `--repeats` times each way, alternated in
one process: from the catalogue read as the service reads it (`ranking.FEATURE_FIELDS` only) and from every
column of every title. Prints ONE JSON line: titles, seconds per way (each run, and the median), and the
read alone per way (the titles listed, then the build).

Usage: python bench/startup.py [--repeats 2]   (OPENBLAS_NUM_THREADS=1 as the Makefile)
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flixrec.config import Settings  # noqa: E402
from flixrec.ranking import FEATURE_FIELDS, TitleFeatures  # noqa: E402
from flixrec.service import FlixRec  # noqa: E402

WAYS = {"feature_fields": FEATURE_FIELDS, "every_column": None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    service = FlixRec(Settings.from_env())
    recommender = service._current_recommender()
    catalog, snapshot = recommender.catalog, recommender.snapshot
    runs: dict[str, dict[str, list[float]]] = {way: {"read_s": [], "features_s": []} for way in WAYS}
    for repeat in range(args.repeats):
        for way, fields in WAYS.items():
            gc.collect()
            began = time.perf_counter()
            titles = list(catalog.iter_titles(with_people=True, fields=fields))
            read = time.perf_counter()
            TitleFeatures(snapshot, titles)
            done = time.perf_counter()
            runs[way]["read_s"].append(round(read - began, 2))
            runs[way]["features_s"].append(round(done - began, 2))
            print(f"{way} run {repeat + 1}: read {read - began:.1f} s, in all {done - began:.1f} s", file=sys.stderr)
            del titles
    print(json.dumps({
        "suite": "startup", "titles": len(snapshot),
        **{way: {**values, "read_median_s": statistics.median(values["read_s"]),
                 "features_median_s": statistics.median(values["features_s"])} for way, values in runs.items()},
    }))


if __name__ == "__main__":
    main()
