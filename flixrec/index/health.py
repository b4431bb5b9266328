"""Whether the published build tells the truth: the stamp's snapshot against the ledger and Chroma.

`check` (via `FlixRec.status`) and `embed` (whether to publish again) ask `index_problems`; an empty
list means the snapshot readers are served is sound and holds exactly what Chroma and the ledger hold.
A host of a server index without a copy of the published snapshot checks the ledger against Chroma.
"""

from __future__ import annotations

import numpy as np

from flixrec.index.collection import VectorIndex
from flixrec.index.store import read_snapshot, snapshot_dir, snapshot_problem

REPUBLISH = "run: python -m ingest embed"


def index_problems(index: VectorIndex) -> list[str]:
    """What is wrong with the published build, one line each (each ending in the command that fixes it)."""
    stamp = index.stamp()
    count = index.count()
    if stamp is None:
        return [f"no build has been published ({count} vectors stored); {REPUBLISH}"]
    problems: list[str] = []
    if index.interrupted():
        problems.append("the last build stopped before publishing: readers are served the build before it; "
                        + REPUBLISH)
    if index.remote and not snapshot_dir(index, stamp).exists():
        # this host holds no copy of the build (a replica reads it from Chroma on first use): ledger against Chroma
        stored = index.stored_hashes()
        pending = sum(1 for hashes in stored.values() if not hashes[0])
        if pending or len(stored) != count:
            problems.append(f"the index ledger holds {len(stored)} titles ({pending} half-written) but Chroma holds "
                            f"{count} vectors; {REPUBLISH}")
        return problems
    damage = snapshot_problem(index, stamp, verify=True)
    if damage is not None:
        return [*problems, f"{damage}; {REPUBLISH}"]
    snapshot = read_snapshot(index, stamp, search_mode="exact")
    if snapshot is None:  # deleted between the two reads: a newer build is publishing
        return [*problems, f"the snapshot of build {stamp} disappeared while checking; check again"]
    if len(snapshot) != count:
        problems.append(f"the published snapshot holds {len(snapshot)} vectors but Chroma holds {count}; {REPUBLISH}")
    ledger_ids = set(index.stored_hashes())
    snapshot_ids = set(np.asarray(snapshot.ids, dtype=object).tolist())
    if ledger_ids != snapshot_ids:
        only_ledger, only_snapshot = len(ledger_ids - snapshot_ids), len(snapshot_ids - ledger_ids)
        problems.append(f"the published snapshot and the index ledger disagree ({only_ledger} titles only in the "
                        f"ledger, {only_snapshot} only in the snapshot); {REPUBLISH}")
    return problems
