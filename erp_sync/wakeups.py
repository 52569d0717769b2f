"""Waking an ERP sender after a commit: by the task's name, so writing the outbox loads no task,
no dispatcher and no connector.

Three brakes keep the wake-ups few and harmless:

- per process, at most one publish per ``KICK_INTERVAL_SECONDS`` (``wake_sender``);
- per plant, one wake-up waiting in the queue at a time (a flag in the broker's Redis, or in the
  shared cache with the embedded broker; ``kick``);
- a broker that is down is tried once, briefly, then left alone for a while (the beat sweep sends).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable

import redis
from celery import current_app
from django.conf import settings
from django.core.cache import cache
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

DISPATCH_TASK = "erp_sync.dispatch"
EMBEDDED_BROKER_TRANSPORT = "mes.embedded_broker:Transport"

# A wake-up is a Celery publish (about 0.4 ms of CPU). Under load one per commit is mostly
# waste: a woken dispatcher sends until nothing is due. So each process publishes at most
# once per KICK_INTERVAL_SECONDS: the first commit after a quiet spell wakes a sender at
# once; commits inside the interval share one wake-up at its end, so no message waits
# longer than the interval for one (the beat sweep stays the safety net).
KICK_INTERVAL_SECONDS = 0.1
_kick_lock = threading.Lock()
_kick_state = {"last": float("-inf"), "pending": False}


class Later:
    """Runs functions a moment later, in order of when they are due, on one long-lived thread per process.

    A ``threading.Timer`` per deferred wake-up started a thread ten times a second under load, and
    Celery keeps its result backend and reply address per thread, so each one built them anew:
    most of a wake-up's cost. The thread starts with the first call (and again in a forked child).
    """

    def __init__(self) -> None:
        self._start()

    def _start(self) -> None:
        self._condition = threading.Condition()
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def call(self, delay: float, function: Callable[[], None]) -> None:
        with self._condition:
            heapq.heappush(self._due, (time.monotonic() + delay, next(self._order), function))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="erp-sync-wake-ups", daemon=True)
                self._thread.start()
            self._condition.notify()

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._condition.wait(self._due[0][0] - time.monotonic() if self._due else None)
                _due, _order, function = heapq.heappop(self._due)
            try:
                function()
            except Exception:  # a wake-up that fails must not end the thread that runs the later ones
                logger.exception("A deferred ERP-sync wake-up failed")

    def forget_in_child(self) -> None:
        """A forked child has no such thread, and a lock held in the parent at the fork stays held."""
        self._start()


later = Later()


def wake_sender() -> None:
    """Wake an ERP sender now, or within ``KICK_INTERVAL_SECONDS`` if this process woke one a moment ago."""
    now = time.monotonic()
    with _kick_lock:
        if _kick_state["pending"]:
            return  # a wake-up is already due and comes after this commit
        wait = _kick_state["last"] + KICK_INTERVAL_SECONDS - now
        if wait > 0:
            _kick_state["pending"] = True
            later.call(wait, _deferred_kick)
            return
        _kick_state["last"] = now
    kick()


def _deferred_kick() -> None:
    with _kick_lock:
        _kick_state["pending"] = False
        _kick_state["last"] = time.monotonic()
    kick()


def _forget_kicks_in_child() -> None:
    # A forked child has no thread running deferred wake-ups: a pending flag inherited from the
    # parent would silence it for good.
    _kick_state.update(last=float("-inf"), pending=False)
    later.forget_in_child()


os.register_at_fork(after_in_child=_forget_kicks_in_child)


#: Set while a wake-up task waits in the queue (see ``kick``); it clears the flag as it starts.
DISPATCH_QUEUED_FLAG = "erp_sync:dispatch-queued"
#: A wake-up lost with the flag set (a broker restart) delays nothing longer than this or the sweep.
DISPATCH_QUEUED_SECONDS = 10

_flags: redis.Redis | CacheFlags | None = None
_flags_lock = threading.Lock()


def kick() -> None:
    """Wake a worker now. Called after commit; if the broker is unreachable the next sweep sends instead.

    With a Redis broker or the embedded one, one wake-up waits in the queue at a time: a commit while one waits
    needs none of its own, since that task has not claimed yet and will see the commit
    (the task clears the flag before its first claim). A running task also looks for new
    messages while it sends, so at 100 confirmations a second the workers get a few wake-ups,
    not one per confirmation.

    The caller is a request that has already committed: a broker that is down must not hold it.
    The broker is tried once, briefly (``BROKER_CONNECT_TIMEOUT_SECONDS``); after a failure this
    process skips wake-ups for ``ERP_SYNC_WAKE_UP_PAUSE_SECONDS`` instead of trying on every commit.
    """
    with _wake_ups_lock:
        if time.monotonic() < _wake_ups["paused_until"]:
            _wake_ups["skipped"] += 1
            return
        _wake_ups["attempts"] += 1
    flags = _flag_store()
    if flags is not None:
        try:
            if not flags.set(DISPATCH_QUEUED_FLAG, 1, nx=True, ex=DISPATCH_QUEUED_SECONDS):
                return
        except (redis.ConnectionError, redis.TimeoutError) as error:
            _pause_wake_ups(error)  # the broker's own Redis: a task would not get through either
            return
        except redis.RedisError:
            flags = None  # cannot tell: wake a worker anyway
    try:
        # Nobody waits for a wake-up's result, and a web process runs no task to trail it.
        current_app.send_task(DISPATCH_TASK, retry=False, ignore_result=True, add_to_parent=False)
    except OperationalError as error:
        _pause_wake_ups(error)
        if flags is not None:
            try:
                flags.delete(DISPATCH_QUEUED_FLAG)
            except redis.RedisError:
                pass


def wake_up_state() -> dict[str, float | int | bool]:
    """This process's wake-ups: tried, failed, skipped while paused, and whether they are paused now."""
    with _wake_ups_lock:
        return {**_wake_ups, "paused": time.monotonic() < _wake_ups["paused_until"]}


def _pause_wake_ups(error: Exception) -> None:
    pause = settings.ERP_SYNC_WAKE_UP_PAUSE_SECONDS
    with _wake_ups_lock:
        _wake_ups["failures"] += 1
        _wake_ups["paused_until"] = time.monotonic() + pause
    logger.warning("Could not wake the ERP sender (%s); the sweep will send. No wake-ups from this process for %s s.", error, pause)


_wake_ups_lock = threading.Lock()
_wake_ups: dict[str, float | int] = {"attempts": 0, "failures": 0, "skipped": 0, "paused_until": float("-inf")}


class CacheFlags:
    """The wake-up flag in Django's cache, for the embedded broker (a file cache under var/ that every
    process of the plant shares). Its ``add`` is not atomic across processes: two commits at the same
    instant may queue two wake-ups, which is harmless; what matters is that a steady stream of commits
    queues a few wake-ups, not one per commit (each one holds a worker slot while it lingers)."""

    def set(self, key: str, value: int, *, nx: bool, ex: int) -> bool:
        return cache.add(key, value, timeout=ex)

    def delete(self, key: str) -> None:
        cache.delete(key)


def _flag_store() -> redis.Redis | CacheFlags | None:
    """Where the one-waiting-wake-up flag lives: the broker's Redis, the shared cache with the embedded
    broker; None with any other broker (every commit wakes a task)."""
    global _flags
    if _flags is not None:
        return _flags
    kind = flag_store_kind(broker_url=str(settings.CELERY_BROKER_URL or ""), transport=settings.CELERY_BROKER_TRANSPORT)
    if kind is None:
        return None
    with _flags_lock:
        if _flags is None:
            if kind == "cache":
                _flags = CacheFlags()
            else:
                timeout = settings.BROKER_CONNECT_TIMEOUT_SECONDS
                _flags = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=timeout, socket_connect_timeout=timeout)
        return _flags


def flag_store_kind(*, broker_url: str, transport: str | None) -> str | None:
    """"redis" for a Redis broker, "cache" for the embedded one, None for any other."""
    if transport == EMBEDDED_BROKER_TRANSPORT:
        return "cache"
    if broker_url.startswith(("redis://", "rediss://", "unix://")):
        return "redis"
    return None


def wake_up_flag_clear() -> None:
    """Called by a woken sender before its first claim: a commit from now on wakes another."""
    flags = _flag_store()
    if flags is None:
        return
    try:
        flags.delete(DISPATCH_QUEUED_FLAG)
    except redis.RedisError as error:
        logger.warning("Could not clear the ERP sender's wake-up flag (%s)", error)


# --- the event stream's publisher ------------------------------------------------------------

PUBLISH_TASK = "erp_sync.publish_events"
#: How long a process trusts what it last read of "is there any event destination (enabled)?".
DESTINATIONS_KNOWN_SECONDS = 5.0
_publish_lock = threading.Lock()
_publish = {"due": False, "last": float("-inf"), "checked": float("-inf"), "any": False, "exists": False}


def wake_publisher() -> None:
    """Wake the event publisher after a commit that appended stream events: at most once per
    ``KICK_INTERVAL_SECONDS`` per process (later commits ride on one deferred wake-up), and not at all while no
    destination is enabled or the broker was found down a moment ago (the beat's sweep publishes)."""
    if not _destinations_enabled():  # read in the committing thread: the one running deferred wake-ups has no database
        return
    now = time.monotonic()
    with _publish_lock:
        if _publish["due"] or now < _wake_ups["paused_until"]:
            return
        delay = max(0.0, _publish["last"] + KICK_INTERVAL_SECONDS - now)
        _publish["due"] = True
    if delay:
        later.call(delay, _publish_kick)
    else:
        _publish_kick()


def _publish_kick() -> None:
    with _publish_lock:
        _publish["due"] = False
        _publish["last"] = time.monotonic()
    try:
        current_app.send_task(PUBLISH_TASK, retry=False, ignore_result=True, add_to_parent=False)
    except OperationalError as error:
        _pause_wake_ups(error)


def _destinations_read() -> None:
    """What this process knows of the destinations, read again at most every ``DESTINATIONS_KNOWN_SECONDS``."""
    now = time.monotonic()
    if now - _publish["checked"] > DESTINATIONS_KNOWN_SECONDS:
        from django.db.models import Count, Q

        from erp_sync.models import EventDestination

        counts = EventDestination.objects.aggregate(exists=Count("pk"), enabled=Count("pk", filter=Q(is_enabled=True)))
        _publish["exists"], _publish["any"] = bool(counts["exists"]), bool(counts["enabled"])
        _publish["checked"] = now


def _destinations_enabled() -> bool:
    """Whether any destination is enabled, as this process read it at most ``DESTINATIONS_KNOWN_SECONDS`` ago."""
    _destinations_read()
    return bool(_publish["any"])


def streaming() -> bool:
    """Whether facts are written to the event stream's log: while any destination exists, enabled or
    not (a disabled one holds its events and catches up). Without one, a plant writes no second copy
    of each message. As this process read it at most ``DESTINATIONS_KNOWN_SECONDS`` ago, or since it
    changed a destination itself."""
    _destinations_read()
    return bool(_publish["exists"])


def _forget_publish_in_child() -> None:
    _publish.update(due=False, last=float("-inf"), checked=float("-inf"))


os.register_at_fork(after_in_child=_forget_publish_in_child)


def destinations_changed() -> None:
    """A destination was added, enabled, disabled or removed here: read again on the next commit."""
    _publish["checked"] = float("-inf")
