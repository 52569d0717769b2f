"""Asking for a new schedule after a commit that changes the work ahead (a release, confirmations,
a calendar change): by the task's *name*, so the domain loads no planning code, and cheaply.

The confirmation is the hot path, so a request pays at most a clock reading: each process asks
at most once per ``RESCHEDULE_DELAY_SECONDS``, and the task it queues runs that long later, so it
sees the commits the process skipped meanwhile. Across processes one request waits in the queue
at a time (a flag in the shared cache, which the task clears as it starts). A commit that slips
between the task's read and its flag is caught by the next one or by the beat's periodic run.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from celery import current_app
from django.core.cache import cache
from django.db import transaction
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

RESCHEDULE_TASK = "planning.reschedule"
RESCHEDULE_QUEUED_FLAG = "planning:reschedule-queued"
RESCHEDULE_DELAY_SECONDS = 2.0

_lock = threading.Lock()
_last = {"asked": float("-inf")}


def reschedule_after_commit() -> None:
    """Queue a rescheduling once the current transaction commits (nothing if it rolls back)."""
    now = time.monotonic()
    with _lock:
        if now - _last["asked"] < RESCHEDULE_DELAY_SECONDS:
            return
        _last["asked"] = now
    transaction.on_commit(reschedule_enqueue)


def reschedule_enqueue() -> None:
    """Queue the task unless one already waits. A shared cache or a broker that is down (Redis, for
    both, in a scaled-out plant) costs one warning, never the request that committed."""
    try:
        if not cache.add(RESCHEDULE_QUEUED_FLAG, 1, timeout=int(RESCHEDULE_DELAY_SECONDS * 30)):
            return
    except Exception as error:  # the cache backend's own errors (redis.ConnectionError, …)
        logger.warning("Could not reach the shared cache to queue a rescheduling (%s); the periodic run will reschedule.", error)
        return
    try:
        current_app.send_task(RESCHEDULE_TASK, countdown=RESCHEDULE_DELAY_SECONDS, retry=False)
    except OperationalError as error:
        logger.warning("Could not queue a rescheduling (%s); the periodic run will reschedule.", error)
        try:
            cache.delete(RESCHEDULE_QUEUED_FLAG)
        except Exception:  # the flag expires by itself
            logger.warning("Could not clear the rescheduling flag; it expires by itself.")


def reschedule_flag_clear() -> None:
    """Called by the task as it starts: a commit from now on queues another."""
    cache.delete(RESCHEDULE_QUEUED_FLAG)


def reschedule_throttle_reset() -> None:
    """Forget this process's last request (tests, and a forked child)."""
    _last["asked"] = float("-inf")


os.register_at_fork(after_in_child=reschedule_throttle_reset)
