"""Run by tests/test_clock.py in a child pytest under MES_TEST_CLOCK (not collected by itself):
each test reports the plant time it started at, after the first let the clock tick on; the second
also asks a Django process it starts (as a collector would be started) for its time."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from tests.conftest import clock_environment

SHOW_TIME = "import django; django.setup(); from django.utils import timezone; print(timezone.localtime().isoformat())"


def _report(name: str) -> None:
    with Path(os.environ["MES_CLOCK_PROBE_OUT"]).open("a") as out:
        out.write(f"{name} {timezone.localtime().isoformat()}\n")


def test_first():
    _report("first")
    time.sleep(1.5)  # a real wait: the clock ticks on
    _report("first-later")


@pytest.mark.subprocess
def test_second():
    _report("second")
    started = subprocess.run(
        [sys.executable, "-c", SHOW_TIME], cwd=settings.BASE_DIR, env={**os.environ, "DJANGO_SETTINGS_MODULE": "mes.settings", **clock_environment()},
        capture_output=True, text=True, check=True, timeout=60,
    )
    with Path(os.environ["MES_CLOCK_PROBE_OUT"]).open("a") as out:
        out.write(f"process {started.stdout.strip()}\n")
