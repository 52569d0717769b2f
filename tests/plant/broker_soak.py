"""A tiny Celery app on the plant's own embedded broker settings, for the soak tests.

Its one task records its arrival in a SQLite file (``SOAK_ARRIVALS``). Run as a script:

``python -m tests.plant.broker_soak tasks PRODUCER COUNT THREADS``
    a producer like one web process of the plant: COUNT tasks from THREADS threads. Each thread sends
    in bursts at full speed and pauses between them, so the queue is at times deep and at times empty,
    with the worker picking a task up the moment it is written. Exits non-zero if any publish failed.
``python -m tests.plant.broker_soak put PRODUCER COUNT`` / ``… take EXPECTED``
    plain messages through the broker's transport: ``put`` sends one every 2 ms, ``take`` asks for the
    next one without pausing (but 1 ms when the queue is empty) and prints every key it got, one a line.
"""

from __future__ import annotations

import os
import random
import sqlite3
import sys
import threading
import time
from queue import Empty

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mes.settings")

app = Celery("soak")
# The very settings the plant's worker, beat, web and collector use (CELERY_* from mes/settings.py).
app.config_from_object("django.conf:settings", namespace="CELERY")


@app.task(name="soak.arrive", ignore_result=True)
def arrive(key: str) -> None:
    with sqlite3.connect(os.environ["SOAK_ARRIVALS"], timeout=60) as arrivals:
        arrivals.execute("INSERT INTO arrival (key, pid) VALUES (?, ?)", (key, os.getpid()))
    arrivals.close()


def create_arrivals(path: str) -> None:
    with sqlite3.connect(path) as arrivals:
        arrivals.execute("PRAGMA journal_mode=WAL")
        arrivals.execute("CREATE TABLE arrival (key TEXT NOT NULL, pid INTEGER NOT NULL)")
    arrivals.close()


def produce(producer: int, count: int, threads: int) -> int:
    failures: list[BaseException] = []

    def publish(thread: int) -> None:
        dice = random.Random(producer * 100 + thread)
        burst = 0
        try:
            for number in range(thread, count, threads):
                arrive.apply_async(args=[f"{producer}-{number}"])
                if burst:
                    burst -= 1
                elif dice.random() < 0.05:
                    burst = dice.randint(5, 30)
                else:
                    time.sleep(dice.random() * 0.3)
        except BaseException as error:  # reported below: the exit status is the test's evidence
            failures.append(error)

    publishers = [threading.Thread(target=publish, args=(thread,)) for thread in range(threads)]
    for publisher in publishers:
        publisher.start()
    for publisher in publishers:
        publisher.join()
    for failure in failures:
        print(f"producer {producer}: {failure!r}", file=sys.stderr)
    return 1 if failures else 0


def put(producer: int, count: int) -> int:
    with app.connection_for_write() as connection:
        queue = connection.SimpleQueue(SOAK_QUEUE)
        for number in range(count):
            queue.put({"key": f"{producer}-{number}", "padding": "x" * 200})
            time.sleep(0.002)  # a little slower than the consumer: it finds each message as it is written
    return 0


def take(expected: int) -> int:
    """Take until ``expected`` messages came, or nothing came for 10 s."""
    got = 0
    quiet_since = time.monotonic()
    with app.connection_for_read() as connection:
        queue = connection.SimpleQueue(SOAK_QUEUE)
        while got < expected and time.monotonic() - quiet_since < 10:
            try:
                message = queue.get_nowait()
            except Empty:
                time.sleep(0.001)
                continue
            print(message.payload["key"], flush=True)
            message.ack()
            got += 1
            quiet_since = time.monotonic()
    return 0


SOAK_QUEUE = "soak"

if __name__ == "__main__":
    command, *numbers = sys.argv[1:]
    arguments = [int(number) for number in numbers]
    sys.exit({"tasks": produce, "put": put, "take": take}[command](*arguments))
