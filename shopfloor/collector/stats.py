"""How well the collector keeps up: reads, failed reads and read lag, cheap enough to keep always on.

Read lag is the time from when a read was due (its place in the machine's poll rhythm) to when
its values were in hand: a collector that keeps up shows a few milliseconds, one that is short of
CPU or database shows it here first. Each read adds one to a counter and one to a bucket of a
fixed histogram (buckets 10 % wide, 0.5 ms … 2 min), so the cost per read is constant and the
memory is fixed however long it runs.

``ReadStats.snapshot()`` gives cumulative figures (a JSON-able dict); the difference of two
snapshots (``stats_between``) gives a period's reads/s and lag percentiles. The collector logs
such a line every ``COLLECTOR_STATS_SECONDS`` and, with ``run_collector --stats-file PATH``,
keeps the latest snapshot in that file for monitoring (rewritten atomically).
"""

from __future__ import annotations

import json
import math
import os
import resource
import time
from pathlib import Path
from typing import Any

LAG_FIRST_BOUND_S = 0.0005
LAG_FACTOR = 1.1
LAG_BUCKETS = 130  # the last bound is about 2 min; slower reads land in one overflow bucket
_LOG_FACTOR = math.log(LAG_FACTOR)
LAG_BOUNDS_S = tuple(LAG_FIRST_BOUND_S * LAG_FACTOR**index for index in range(LAG_BUCKETS))


def _bucket(lag: float) -> int:
    if lag <= LAG_FIRST_BOUND_S:
        return 0
    return min(LAG_BUCKETS, math.ceil(math.log(lag / LAG_FIRST_BOUND_S) / _LOG_FACTOR))


class ReadStats:
    def __init__(self) -> None:
        self.reads = 0
        self.failures = 0
        self.lag_max_s = 0.0
        self.lag_buckets = [0] * (LAG_BUCKETS + 1)

    def read(self, lag_s: float) -> None:
        """A read whose values were in hand ``lag_s`` seconds after it was due."""
        self.reads += 1
        self.lag_buckets[_bucket(lag_s)] += 1
        if lag_s > self.lag_max_s:
            self.lag_max_s = lag_s

    def failure(self) -> None:
        self.failures += 1

    def snapshot(self, **extra: Any) -> dict[str, Any]:
        """Cumulative figures since start, with the monotonic clock and this process's CPU seconds."""
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "monotonic": time.monotonic(),
            "time": time.time(),
            "pid": os.getpid(),
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "reads": self.reads,
            "failures": self.failures,
            "lag_max_s": self.lag_max_s,
            "lag_bucket_bounds": {"first_s": LAG_FIRST_BOUND_S, "factor": LAG_FACTOR, "buckets": LAG_BUCKETS},
            "lag_buckets": list(self.lag_buckets),
            **extra,
        }


def lag_percentile(buckets: list[int], share: float) -> float:
    """The upper bound of the bucket holding the nearest-rank ``share`` percentile (inf when past the last)."""
    total = sum(buckets)
    if not total:
        return float("nan")
    rank = max(1, math.ceil(round(share * total, 6)))
    seen = 0
    for index, count in enumerate(buckets):
        seen += count
        if seen >= rank:
            return LAG_BOUNDS_S[index] if index < LAG_BUCKETS else float("inf")
    return float("inf")


def stats_between(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """A period's figures from two snapshots: seconds, reads, failures, reads/s, cores, lag p50/p90/p99."""
    seconds = max(after["monotonic"] - before["monotonic"], 1e-9)
    buckets = [late - early for early, late in zip(before["lag_buckets"], after["lag_buckets"], strict=True)]
    reads = after["reads"] - before["reads"]
    cpu = after["cpu_seconds"] - before["cpu_seconds"]
    return {
        "seconds": seconds,
        "reads": reads,
        "failures": after["failures"] - before["failures"],
        "reads_per_s": reads / seconds,
        "cpu_seconds": cpu,
        "cores": cpu / seconds,
        "lag_p50_s": lag_percentile(buckets, 0.50),
        "lag_p90_s": lag_percentile(buckets, 0.90),
        "lag_p99_s": lag_percentile(buckets, 0.99),
    }


def stats_line(period: dict[str, Any], machines: int) -> str:
    def ms(value: float) -> str:
        return f"{value * 1000:.0f} ms" if math.isfinite(value) else "n/a"

    return (
        f"{machines} machines: {period['reads_per_s']:.0f} reads/s, {period['failures']} failed reads "
        f"in {period['seconds']:.0f} s; read lag p50 {ms(period['lag_p50_s'])}, p90 {ms(period['lag_p90_s'])}, "
        f"p99 {ms(period['lag_p99_s'])}; {period['cores']:.2f} cores"
    )


def stats_file_write(path: Path, snapshot: dict[str, Any]) -> None:
    """Replace ``path`` with the snapshot as JSON, atomically (a reader never sees half a file)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(snapshot))
    os.replace(temporary, path)
