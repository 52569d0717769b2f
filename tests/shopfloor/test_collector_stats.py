"""The collector's read statistics: counts and lag percentiles from the histogram (no clocks involved)."""

from __future__ import annotations

import json
import math

import pytest

from shopfloor.collector.stats import (
    LAG_FACTOR,
    ReadStats,
    lag_percentile,
    stats_between,
    stats_file_write,
)


def _within_a_bucket(reported: float, actual: float) -> bool:
    return actual <= reported <= actual * LAG_FACTOR * 1.000001


def test_percentiles_of_a_period_come_from_the_difference_of_two_snapshots():
    stats = ReadStats()
    for _ in range(50):
        stats.read(5.0)  # before the period: must not show in it
    before = stats.snapshot()
    for index in range(1, 101):
        stats.read(index / 1000)  # 1 ms … 100 ms
    stats.failure()
    after = stats.snapshot()
    after["monotonic"] = before["monotonic"] + 10
    after["cpu_seconds"] = before["cpu_seconds"] + 2.5
    period = stats_between(before, after)
    assert period["reads"] == 100 and period["failures"] == 1
    assert period["reads_per_s"] == pytest.approx(10.0)
    assert period["cores"] == pytest.approx(0.25)
    assert _within_a_bucket(period["lag_p50_s"], 0.050)
    assert _within_a_bucket(period["lag_p90_s"], 0.090)
    assert _within_a_bucket(period["lag_p99_s"], 0.099)
    assert after["lag_max_s"] == 5.0


def test_no_reads_have_no_percentile_and_very_late_reads_are_unbounded():
    assert math.isnan(lag_percentile([0, 0, 0], 0.99))
    stats = ReadStats()
    stats.read(0.0)
    stats.read(1e6)
    assert lag_percentile(stats.lag_buckets, 0.5) > 0
    assert lag_percentile(stats.lag_buckets, 0.99) == math.inf


def test_the_stats_file_holds_the_latest_snapshot(tmp_path):
    path = tmp_path / "collector-stats.json"
    stats = ReadStats()
    stats_file_write(path, stats.snapshot(machines=0))
    stats.read(0.002)
    stats_file_write(path, stats.snapshot(machines=1))
    written = json.loads(path.read_text())
    assert written["reads"] == 1 and written["machines"] == 1
    assert [entry.name for entry in tmp_path.iterdir()] == ["collector-stats.json"]
