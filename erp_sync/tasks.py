"""Celery tasks of ERP sync: thin, safe to run twice, never holding a lock across an ERP call."""

from __future__ import annotations

import logging
import threading
import time

import redis
from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from kombu.exceptions import OperationalError

from erp_sync.dispatcher import dispatch_until_idle, probe_unreachable_connections, release_expired_leases

logger = logging.getLogger(__name__)

#: Set while a wake-up task waits in the queue (see ``kick``); it clears the flag as it starts.
DISPATCH_QUEUED_FLAG = "erp_sync:dispatch-queued"
#: A wake-up lost with the flag set (a broker restart) delays nothing longer than this or the sweep.
DISPATCH_QUEUED_SECONDS = 10

_flags: redis.Redis | CacheFlags | None = None
_flags_lock = threading.Lock()


@shared_task(name="erp_sync.dispatch", ignore_result=True, time_limit=90, soft_time_limit=75)
def dispatch() -> int:
    """Send what is due. Woken right after a commit that queued a message."""
    flags = _flag_store()
    if flags is not None:
        try:
            # Before the first claim: whatever commits from now on wakes another task.
            flags.delete(DISPATCH_QUEUED_FLAG)
        except redis.RedisError as error:
            logger.warning("Could not clear the ERP sender's wake-up flag (%s)", error)
    # Lingering a second keeps one run (threads, database sessions) across the short gaps
    # of a steady stream; the budget keeps the task far below its time limits.
    return dispatch_until_idle(budget_seconds=30.0, linger_seconds=1.0)


@shared_task(name="erp_sync.sweep", ignore_result=True, time_limit=90, soft_time_limit=75)
def sweep() -> int:
    """The schedule's safety net: reclaim what a dead worker left and send what is due."""
    released = release_expired_leases()
    if released:
        logger.warning("Returned %s message(s) left by a worker that stopped mid-send", released)
    probe_unreachable_connections()
    return dispatch_until_idle(budget_seconds=30.0)


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
        dispatch.apply_async(retry=False)
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


EMBEDDED_BROKER_TRANSPORT = "mes.embedded_broker:Transport"


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


@shared_task(name="erp_sync.check_health", ignore_result=True, time_limit=30, soft_time_limit=25)
def check_health() -> bool:
    """Log (and, if configured, post to a webhook) while ERP sync needs attention."""
    from erp_sync.alerts import alert_if_needed

    return alert_if_needed()


@shared_task(name="erp_sync.reconcile", ignore_result=True, time_limit=1800, soft_time_limit=1740)
def reconcile(*, work_order: str | None = None, actor_id: int | None = None, trigger: str = "schedule") -> int:
    """Compare MES and ERP totals (of every order with settled messages, or one); record drifts. Returns the open drifts seen.

    The schedule calls it without arguments; the reconciliation page queues it with the person who asked.
    """
    from django.contrib.auth import get_user_model

    from erp_sync.models import ReconciliationRun
    from erp_sync.reconciliation import reconcile as reconcile_orders

    if trigger not in ReconciliationRun.Trigger.values:
        trigger = ReconciliationRun.Trigger.SCHEDULE
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    run = reconcile_orders(work_order=work_order or None, actor=actor, trigger=trigger)
    if run.drifts_open or run.orders_failed:
        logger.warning(
            "Reconciliation run %s: %s drift(s) open (%s new, %s resolved), %s order(s) not checked",
            run.pk, run.drifts_open, run.drifts_new, run.drifts_resolved, run.orders_failed,
        )
    return run.drifts_open
