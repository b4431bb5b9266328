"""What a build's snapshot costs beyond Chroma, step by step, and what the head scan costs (not a timed test).

Over a built home (FLIXREC_HOME; the 300k bench home kept with `bench/similar.py --keep --workdir DIR`), reads
the published snapshot's vectors and fits again what a build fits (`store.write_snapshot`): the projection
with its calibration, the k-means centroids, the neighbour graph's links and its calibration, each timed.
Then times the head scan of every row with each scan kernel this CPU has (`code_kernels.SCANS`: the
512-bit and 256-bit multiply-add, the plain loop), one thread, the kernels alternated `--repeats` times.
Prints ONE JSON line.

Usage: python bench/snapshot_fit.py [--repeats 3] [--threads 1|2]   (OPENBLAS_NUM_THREADS=1 as the Makefile)
`--threads 1` fits as a one-core machine would (`rescore.SCAN_THREADS`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flixrec import code_kernels, graph, rescore  # noqa: E402
from flixrec.code_kernels import BLOCK  # noqa: E402
from flixrec.config import Settings  # noqa: E402
from flixrec.engine import Projection  # noqa: E402
from flixrec.graph import NeighbourGraph  # noqa: E402
from flixrec.graph_calibration import calibrate_graph  # noqa: E402
from flixrec.ivf import Clusters  # noqa: E402
from flixrec.service import FlixRec  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, choices=(1, 2), default=rescore.SCAN_THREADS)
    args = parser.parse_args()
    for module in (rescore, graph):
        module.SCAN_THREADS = min(args.threads, rescore.SCAN_THREADS)
    matrix = np.ascontiguousarray(FlixRec(Settings.from_env())._current_recommender().snapshot.matrix)
    line: dict = {"suite": "snapshot_fit", "n": len(matrix), "dim": int(matrix.shape[1]),
                  "threads": rescore.SCAN_THREADS, "vector_bits": code_kernels.vector_bits()}
    began = time.perf_counter()
    projection = Projection.fit(matrix)
    line["projection_s"] = round(time.perf_counter() - began, 1)
    began = time.perf_counter()
    clusters = Clusters.fit(matrix, projection, calibrate=False)
    line["kmeans_s"] = round(time.perf_counter() - began, 1)
    began = time.perf_counter()
    fitted = NeighbourGraph.fit(matrix, projection, clusters.centroids, calibrate=False)
    line["graph_links_s"] = round(time.perf_counter() - began, 1)
    began = time.perf_counter()
    line["graph_settings"] = calibrate_graph(matrix, projection, fitted)
    line["graph_calibration_s"] = round(time.perf_counter() - began, 1)
    print(f"fits: {line}", file=sys.stderr)

    codes = projection.codes
    assert codes is not None
    query = codes.head_query(np.random.default_rng(3).standard_normal(codes.head.shape[1]))
    out = np.empty(len(codes.head_blocks) * BLOCK, dtype=np.float32)
    times: dict[int, list[float]] = {bits: [] for bits in code_kernels.SCANS if bits <= code_kernels.vector_bits()}
    for _ in range(args.repeats):
        for bits in times:
            scan = code_kernels.SCANS[bits]
            scan(codes.head_blocks, *query, out, 0, len(codes.head_blocks))  # compiled and warm
            runs = []
            for _ in range(20):
                began = time.perf_counter()
                scan(codes.head_blocks, *query, out, 0, len(codes.head_blocks))
                runs.append(time.perf_counter() - began)
            times[bits].append(round(statistics.median(runs) * 1e3, 3))
    line["head_scan_ms"] = {("plain" if bits == 0 else f"{bits}-bit"): values for bits, values in times.items()}
    print(json.dumps(line))


if __name__ == "__main__":
    main()
