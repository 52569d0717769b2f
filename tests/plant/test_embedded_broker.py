"""The embedded broker (no REDIS_URL) under load: many producers, a real worker, nothing lost or doubled."""

from __future__ import annotations

import collections
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.plant.broker_soak import create_arrivals

ROOT = Path(__file__).resolve().parents[2]
PRODUCERS = 4
THREADS = 2  # per producer, as a web process has several threads
TASKS_PER_PRODUCER = 120

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]


def _environment(var_dir: Path, arrivals: Path) -> dict[str, str]:
    """The plant's embedded defaults: no REDIS_URL and no CELERY_BROKER_URL, var/ in a folder of its own."""
    environment = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    environment.update(
        DJANGO_SETTINGS_MODULE="mes.settings", MES_VAR_DIR=str(var_dir), SOAK_ARRIVALS=str(arrivals), PYTHONUNBUFFERED="1"
    )
    return environment


def _arrived(arrivals: Path) -> list[str]:
    with sqlite3.connect(arrivals, timeout=60) as database:
        keys = [key for (key,) in database.execute("SELECT key FROM arrival")]
    database.close()
    return keys


def _wait_for_line(log: Path, text: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        assert process.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-4000:]
        time.sleep(0.1)


def test_four_producers_and_a_worker_at_full_speed_deliver_every_task_once(tmp_path):
    var_dir, arrivals = tmp_path / "var", tmp_path / "arrivals.sqlite3"
    create_arrivals(str(arrivals))
    environment = _environment(var_dir, arrivals)
    log = tmp_path / "worker.log"
    # The worker as run_plant starts it: prefork, two processes, on queue erp.
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tests.plant.broker_soak", "worker", "--queues", "erp",
         "--concurrency", "2", "--loglevel", "INFO", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=environment, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        _wait_for_line(log, "ready.", worker)
        producers = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.plant.broker_soak", "tasks", str(producer), str(TASKS_PER_PRODUCER), str(THREADS)],
                cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )
            for producer in range(PRODUCERS)
        ]
        outputs = [producer.communicate(timeout=90)[0] for producer in producers]
        expected = {f"{producer}-{number}" for producer in range(PRODUCERS) for number in range(TASKS_PER_PRODUCER)}
        deadline = time.monotonic() + 60
        while len(_arrived(arrivals)) < len(expected) and worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # a duplicate would arrive right after the last task
        still_running = worker.poll() is None
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
    output = log.read_text(errors="replace")

    assert [producer.returncode for producer in producers] == [0] * PRODUCERS, outputs
    assert still_running, output[-4000:]
    counts = collections.Counter(_arrived(arrivals))
    assert set(counts) == expected, f"{len(expected - set(counts))} missing, {len(set(counts) - expected)} unexpected"
    assert {key: count for key, count in counts.items() if count != 1} == {}
    assert "Traceback" not in output and "Unrecoverable" not in output, output[-4000:]


def test_a_message_is_never_taken_half_written(tmp_path):
    """Four producers write as fast as they can while a consumer takes each message the moment it appears."""
    environment = _environment(tmp_path / "var", tmp_path / "unused.sqlite3")
    count = 400
    consumer = subprocess.Popen(
        [sys.executable, "-m", "tests.plant.broker_soak", "take", str(PRODUCERS * count)],
        cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    producers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.plant.broker_soak", "put", str(producer), str(count)],
            cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for producer in range(PRODUCERS)
    ]
    outputs = [producer.communicate(timeout=90)[0] for producer in producers]
    taken, errors = consumer.communicate(timeout=90)

    assert [producer.returncode for producer in producers] == [0] * PRODUCERS, outputs
    assert consumer.returncode == 0, errors[-3000:]
    counts = collections.Counter(taken.split())
    assert set(counts) == {f"{producer}-{number}" for producer in range(PRODUCERS) for number in range(count)}
    assert {key: seen for key, seen in counts.items() if seen != 1} == {}
