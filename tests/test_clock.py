"""MES_TEST_CLOCK: the suite runs at a chosen plant time, every test starting at it (tests/conftest.py)."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import _clock_start

SHANGHAI = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("03:00", datetime.datetime(2026, 12, 7, 3, tzinfo=SHANGHAI)),
        ("23:59", datetime.datetime(2026, 12, 7, 23, 59, tzinfo=SHANGHAI)),
        ("2026-11-17T05:59", datetime.datetime(2026, 11, 17, 5, 59, tzinfo=SHANGHAI)),
        ("2026-11-17T05:59+00:00", datetime.datetime(2026, 11, 17, 5, 59, tzinfo=datetime.UTC)),
    ],
)
def test_a_time_alone_is_today_and_no_offset_is_plant_time(text, expected):
    assert _clock_start(text, SHANGHAI, datetime.date(2026, 12, 7)) == expected


def test_a_bad_clock_stops_the_run():
    with pytest.raises(pytest.UsageError, match="MES_TEST_CLOCK must be a plant time such as 03:00"):
        _clock_start("3 am", SHANGHAI, datetime.date(2026, 12, 7))


@pytest.mark.subprocess
@pytest.mark.slow
def test_every_test_starts_at_the_clock_and_the_clock_ticks(tmp_path):
    out = tmp_path / "clock.txt"
    env = {**os.environ, "MES_TEST_CLOCK": "2026-11-17T03:00", "MES_CLOCK_PROBE_OUT": str(out)}

    child = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/clock_probe.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )

    assert child.returncode == 0, child.stdout + child.stderr
    seen = {name: datetime.datetime.fromisoformat(moment) for name, moment in (line.split() for line in out.read_text().splitlines())}
    start = datetime.datetime(2026, 11, 17, 3, tzinfo=SHANGHAI)
    assert start <= seen["first"] < seen["first-later"] and seen["first-later"] - seen["first"] >= datetime.timedelta(seconds=1.5)
    assert start <= seen["second"] < seen["first-later"]  # back at 03:00, not where the first test left the clock
    assert (seen["process"].date(), seen["process"].hour) == (start.date(), 3)  # a process the test started too
