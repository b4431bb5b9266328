"""What the shared machine was doing during a benchmark: the figures to read a run's latencies against.

The development machine is a 2-core virtual machine on a shared host. Its memory reads swing about 3x
with other tenants' load (docs/performance.md), and the engine's wide-filter scans and gathers run at
that speed, so two runs of the same code differ by as much. Each bench line therefore carries, besides
the load average (this machine's own processes), how fast one thread read memory when the line's queries
started and ended, and the share of CPU time the host took back (steal).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

READ_MIB = 32
"""A block about the size of the 300k head codes (19 MB) the wide-filter scan reads, and beyond L2."""


def memory_read_gbps(mib: int = READ_MIB, reads: int = 15) -> float:
    """GB/s of one thread summing a `mib` MiB array, the median of `reads` reads."""
    block = np.ones(mib * 2**20 // 8, dtype=np.int64)
    block.sum()  # pages touched before timing
    times = []
    for _ in range(reads):
        start = time.perf_counter()
        block.sum()
        times.append(time.perf_counter() - start)
    return round(block.nbytes / float(np.median(times)) / 1e9, 2)


def _cpu_counters() -> list[int] | None:
    """/proc/stat's first line: user, nice, system, idle, iowait, irq, softirq, steal, ... (None off Linux)."""
    try:
        return [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None


class HostWatch:
    """Taken when a bench's measured part starts; `figures()` when it ends."""

    def __init__(self) -> None:
        self.load_at_start = [round(x, 2) for x in os.getloadavg()]
        self.read_at_start = memory_read_gbps()
        self.counters = _cpu_counters()

    def figures(self) -> dict:
        """Load averages, memory read speed at both ends, and the host's steal as a share of the CPU time."""
        out: dict = {"load_average_at_start": self.load_at_start,
                     "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
                     "memory_read_gbps": [self.read_at_start, memory_read_gbps()]}
        now = _cpu_counters()
        if self.counters and now and len(now) > 7:
            spent = [b - a for a, b in zip(self.counters, now)]
            out["cpu_steal_pct"] = round(100 * spent[7] / max(1, sum(spent)), 1)
        return out
