"""The collector's way to the database: service calls on a few threads, off the event loop.

Django's ORM is synchronous and its connections belong to threads, so every service call runs
on a ``ThreadPoolExecutor`` of ``COLLECTOR_DB_THREADS`` threads: at most that many connections,
each kept open between calls (``CONN_MAX_AGE``) and replaced when it breaks or grows old, as
Django does around a request. ``close()`` lets each thread close its own connection, then ends them.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from django.db import close_old_connections, connections

T = TypeVar("T")


class Database:
    def __init__(self, threads: int) -> None:
        self._threads = threads
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="collector-db")
        # The executor starts a thread per submit while none is idle: a job per thread that waits for
        # the others starts all of them now, so close() knows how many connections there are to close.
        started = threading.Barrier(threads)
        for _ in range(threads):
            self._executor.submit(started.wait)

    async def call(self, function: Callable[..., T], /, **kwargs: Any) -> T:
        """``await database.call(reading_record, equipment_id=…, …)``: the service's answer or its exception.

        A caller that is cancelled stops waiting; the call itself still runs to its commit or rollback.
        """
        loop = asyncio.get_running_loop()
        return await asyncio.shield(loop.run_in_executor(self._executor, functools.partial(_run, function, kwargs)))

    def close(self) -> None:
        """Finish the queued calls, close every thread's connection, end the threads. Blocks."""
        # One closing job per thread: each waits at the barrier until every thread holds one, so no
        # thread can take two and leave another's connection open.
        closed = threading.Barrier(self._threads)
        for _ in range(self._threads):
            self._executor.submit(_close_connections, closed)
        self._executor.shutdown(wait=True)


def _run(function: Callable[..., T], kwargs: dict[str, Any]) -> T:
    close_old_connections()
    try:
        return function(**kwargs)
    finally:
        close_old_connections()


def _close_connections(closed: threading.Barrier) -> None:
    connections.close_all()
    closed.wait()
