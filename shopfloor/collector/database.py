"""The collector's way to the database: service calls on a few threads, off the event loop.

Django's ORM is synchronous and its connections belong to threads, so every service call runs
on one of a fixed set of threads (``COLLECTOR_DB_THREADS``): at most that many connections,
each kept open between calls (``CONN_MAX_AGE``) and replaced when it breaks or grows old, as
Django does around a request. ``close()`` lets each thread close its own connection and end.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import close_old_connections, connections

T = TypeVar("T")

_Job = tuple[Callable[..., Any], dict[str, Any], asyncio.AbstractEventLoop, asyncio.Future]


class Database:
    def __init__(self, threads: int) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"collector-db-{number}", daemon=True) for number in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    async def call(self, function: Callable[..., T], /, **kwargs: Any) -> T:
        """``await database.call(reading_record, equipment_id=…, …)``: the service's answer or its exception.

        A caller that is cancelled stops waiting; the call itself still runs to its commit or rollback.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((function, kwargs, loop, future))
        return await future

    def close(self) -> None:
        """Finish the queued calls, close every thread's connection, end the threads. Blocks."""
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()

    def _work(self) -> None:
        try:
            while (job := self._jobs.get()) is not None:
                function, kwargs, loop, future = job
                close_old_connections()
                try:
                    result = function(**kwargs)
                except BaseException as error:  # noqa: BLE001 - handed to the awaiting caller, who decides
                    _answer(loop, future, None, error)
                else:
                    _answer(loop, future, result, None)
                finally:
                    close_old_connections()
        finally:
            connections.close_all()


def _answer(loop: asyncio.AbstractEventLoop, future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    try:
        loop.call_soon_threadsafe(_settle, future, result, error)
    except RuntimeError:
        pass  # the loop has closed: nobody is waiting any more


def _settle(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
