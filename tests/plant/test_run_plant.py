"""run_plant keeps the plant running: a process that dies comes back, the web server stays up, and
only a process that keeps dying stops the plant. With DATABASE_URL set it is no demo."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection

from plant.management.commands.run_plant import (
    ProcessSpec,
    RestartPolicy,
    Supervisor,
    process_specs,
)

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(log: Path, pattern: str, process: subprocess.Popen, *, after: int = 0, timeout: float = 90) -> re.Match:
    """The first match of ``pattern`` in the log past offset ``after``; fails if the process ends first."""
    deadline = time.monotonic() + timeout
    while True:
        match = re.compile(pattern, re.MULTILINE).search(log.read_text(errors="replace"), after)
        if match:
            return match
        assert process.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-5000:]
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _database_url() -> str:
    database = connection.settings_dict
    return f"postgresql://{database['USER'] or 'postgres'}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/{database['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_comes_back_and_the_web_server_stays_up(tmp_path):
    port = _free_port()
    log = tmp_path / "plant.log"
    environment = {key: value for key, value in os.environ.items() if key not in {"REDIS_URL", "CELERY_BROKER_URL", "MES_DEMO"}}
    # A real database (DATABASE_URL set, so no demo); the queue is the embedded broker under MES_VAR_DIR.
    environment.update(DATABASE_URL=_database_url(), MES_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="mes.settings")
    plant = subprocess.Popen(
        [sys.executable, "manage.py", "run_plant", "--port", str(port)],
        cwd=settings.BASE_DIR, env=environment, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        web_pid = int(_wait_for(log, r"started web \(pid (\d+)\)", plant).group(1))
        first = _wait_for(log, r"started worker \(pid (\d+)\)", plant)
        worker_pid = int(first.group(1))
        ready = _wait_for(log, r"^worker +\| .*ready\.$", plant)

        os.killpg(worker_pid, signal.SIGKILL)  # the worker and its pool processes

        _wait_for(log, r"worker exited with signal SIGKILL; starting it again in 1 s", plant, after=ready.end())
        again = _wait_for(log, r"started worker \(pid (\d+)\)", plant, after=first.end())
        _wait_for(log, r"^worker +\| .*ready\.$", plant, after=ready.end())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as answer:
            health = answer.status
        output = log.read_text(errors="replace")
        assert int(again.group(1)) != worker_pid and _alive(int(again.group(1)))
        assert health == 200
        assert _alive(web_pid) and output.count("started web (pid") == 1
        assert plant.poll() is None
    finally:
        if plant.poll() is None:
            plant.send_signal(signal.SIGTERM)
        code = plant.wait(timeout=60)
    output = log.read_text(errors="replace")

    assert code == 0, output[-5000:]
    assert re.search(r"^plant +\| stopped\n\Z", output, re.MULTILINE)
    # With DATABASE_URL set it is no demo: no simulated ERP or machines, no demo logins.
    started = re.findall(r"started ([\w-]+) \(pid", output)
    assert sorted(set(started)) == ["beat", "collector", "web", "worker"]
    assert started.count("worker") == 2 and started.count("web") == 1
    assert get_user_model().objects.count() == 0
    assert "createsuperuser" in output


def test_a_process_that_keeps_dying_stops_the_plant_and_only_it_was_restarted(tmp_path):
    python = sys.executable
    marker = tmp_path / "steady-started"
    specs = [
        ProcessSpec("steady", [python, "-c", f"import pathlib, time; pathlib.Path({str(marker)!r}).touch(); time.sleep(600)"]),
        ProcessSpec("crasher", [python, "-c", "import sys; print('boom', flush=True); sys.exit(3)"]),
    ]
    out = io.StringIO()
    supervisor = Supervisor(specs, out, RestartPolicy(first_delay=0.05, max_delay=0.2, limit=5, window=60))
    try:
        supervisor.start()
        steady = supervisor.processes["steady"]
        failure = supervisor.watch()
        steady_running = steady.poll() is None and supervisor.processes["steady"] is steady
    finally:
        supervisor.stop()
    lines = out.getvalue().splitlines()

    assert failure == "crasher exited 5 times within 60 s (last with status 3)"
    assert steady_running and steady.returncode == -signal.SIGTERM
    assert [line for line in lines if line.startswith("crasher | ")] == ["crasher | boom"] * 5
    assert [line.split(" | ", 1)[1] for line in lines if "starting it again" in line] == [
        f"crasher exited with status 3; starting it again in {delay} s ({count} exit(s) within 60 s)"
        for count, delay in [(1, "0.05"), (2, "0.1"), (3, "0.2"), (4, "0.2")]
    ]
    assert sum("started steady" in line for line in lines) == 1


def test_the_demo_adds_the_simulators_and_a_real_plant_has_none():
    demo = [spec.name for spec in process_specs(port=8000, demo=True)]
    real = [spec.name for spec in process_specs(port=8000, demo=False)]

    assert demo == ["erp-sim", "erp-sim-kingdee", "erp-sim-u8", "webhook-sink", "devices", "collector", "worker", "beat", "web"]
    assert real == ["collector", "worker", "beat", "web"]
