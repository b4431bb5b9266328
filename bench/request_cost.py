"""What a first-time similar-titles request costs, step by step, in process: one JSON line.

Opens a built home read-only (the demo home by default, or --home, e.g. a `bench/similar.py --keep`
home), warms it up, then asks `FlixRec.similar_to_seed(k=20)` for --seeds titles drawn uniformly (each
once, after --warm others), timing each step of the core on its own. The line: CPU milliseconds per
request (process time over the timed requests), and per step its mean wall milliseconds per request and
calls per request; the franchise check's median, p95 and max per call (a request's second call is
answered by its cache). Steps overlap (a step's time
includes the steps it calls), so they do not add up to the total.

Compare code versions by running this script from each checkout on the same home, alternating.

Usage: python bench/request_cost.py [--home PATH] [--seeds 270] [--warm 30] [--seed 1]
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from flixrec.catalog import Catalog  # noqa: E402
from flixrec.config import Settings  # noqa: E402
from flixrec.index.snapshot import IndexSnapshot  # noqa: E402
from flixrec.ranking import TitleFeatures  # noqa: E402
from flixrec.recommend import Recommender  # noqa: E402
from flixrec.service import FlixRec  # noqa: E402

STEPS = {
    IndexSnapshot: ("mask", "nearest"),
    TitleFeatures: ("franchise_of", "neighbourhood", "shared_candidates", "blended", "first_films_first", "reasons"),
    Catalog: ("find_titles",),
    Recommender: ("_recommendations",),
}


def timed_steps(spent: collections.Counter, calls: collections.Counter, franchise: list[float]) -> None:
    """Wrap each step so its wall time and calls are counted (the franchise check's per call too)."""
    for cls, names in STEPS.items():
        for name in names:
            step = getattr(cls, name)
            label = f"{cls.__name__}.{name}"

            @functools.wraps(step)
            def wrapper(*args, _step=step, _label=label, **kwargs):
                began = time.perf_counter()
                try:
                    return _step(*args, **kwargs)
                finally:
                    took = time.perf_counter() - began
                    spent[_label] += took
                    calls[_label] += 1
                    if _label == "TitleFeatures.franchise_of":
                        franchise.append(took)

            setattr(cls, name, wrapper)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="a built home (default: FLIXREC_HOME or the demo home)")
    parser.add_argument("--seeds", type=int, default=270)
    parser.add_argument("--warm", type=int, default=30, help="requests before the timed ones")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    settings = Settings.from_mapping({"FLIXREC_HOME": str(args.home)}) if args.home else Settings.from_env()
    service = FlixRec(settings)
    began = time.perf_counter()
    service.warm_up()
    ready_s = time.perf_counter() - began
    ids = sorted(service._current_recommender().snapshot.ids)
    picked = random.Random(args.seed).sample(ids, min(len(ids), args.seeds + args.warm))
    for title_id in picked[: args.warm]:
        service.similar_to_seed(title_id, k=20)
    spent, calls, franchise = collections.Counter(), collections.Counter(), []
    timed_steps(spent, calls, franchise)
    timed = picked[args.warm:]
    cpu = time.process_time()
    for title_id in timed:
        service.similar_to_seed(title_id, k=20)
    cpu_ms = (time.process_time() - cpu) / len(timed) * 1e3
    checks = np.array(franchise) * 1e3 if franchise else np.zeros(1)
    line = {
        "suite": "request_cost", "home": "demo" if args.home is None else str(args.home), "titles": len(ids),
        "requests": len(timed), "ready_s": round(ready_s, 1), "cpu_ms_per_request": round(cpu_ms, 2),
        "steps_ms_per_request": {label: round(spent[label] / len(timed) * 1e3, 2) for label, _ in spent.most_common()},
        "calls_per_request": {label: round(calls[label] / len(timed), 1) for label in spent},
        "franchise_check_ms": {"p50": round(float(np.median(checks)), 2), "p95": round(float(np.percentile(checks, 95)), 2),
                               "max": round(float(checks.max()), 1)},
        "load_before": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
