"""Celery tasks of ERP sync: thin, safe to run twice, never holding a lock across an ERP call."""

from __future__ import annotations

import logging

from celery import shared_task

from erp_sync.dispatcher import (
    dispatch_until_idle,
    probe_unreachable_connections,
    release_expired_leases,
)
from erp_sync.wakeups import wake_up_flag_clear

logger = logging.getLogger(__name__)

@shared_task(name="erp_sync.dispatch", ignore_result=True, time_limit=90, soft_time_limit=75)
def dispatch() -> int:
    """Send what is due. Woken right after a commit that queued a message."""
    wake_up_flag_clear()  # before the first claim: whatever commits from now on wakes another task
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


@shared_task(name="erp_sync.check_health", ignore_result=True, time_limit=30, soft_time_limit=25)
def check_health() -> bool:
    """Log (and, if configured, post to a webhook) while ERP sync needs attention."""
    from erp_sync.alerts import alert_if_needed

    return alert_if_needed()


@shared_task(name="erp_sync.reconcile", ignore_result=True, time_limit=1800, soft_time_limit=1740)
def reconcile(
    *, run_id: int | None = None, work_order: str | None = None, actor_id: int | None = None, trigger: str = "schedule"
) -> int:
    """Compare MES and ERP totals (of every order with settled messages, or one); record drifts. Returns the open drifts seen.

    The reconciliation page queues a run and sends its ``run_id`` (a run delivered twice is done
    once); the schedule calls it without arguments.
    """
    from django.contrib.auth import get_user_model

    from erp_sync.models import ReconciliationRun
    from erp_sync.reconciliation import reconcile as reconcile_orders
    from erp_sync.reconciliation import reconciliation_run_execute

    if run_id is not None:
        run = reconciliation_run_execute(run_id=run_id)
        if run is None:
            logger.info("Reconciliation run %s was taken by another worker or is finished", run_id)
            return 0
    else:
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


@shared_task(name="erp_sync.publish_events", ignore_result=True, time_limit=90, soft_time_limit=75)
def publish_events() -> int:
    """Publish new events to every enabled stream destination. Woken after a commit that appended events."""
    from erp_sync.event_stream import events_publish_due

    return events_publish_due(budget_seconds=30.0)


@shared_task(name="erp_sync.events_sweep", ignore_result=True, time_limit=90, soft_time_limit=75)
def events_sweep() -> int:
    """The schedule's safety net for the event stream: publish what is due, forget what everyone has had."""
    from datetime import timedelta

    from django.conf import settings

    from erp_sync.event_stream import events_prune, events_publish_due

    published = events_publish_due(budget_seconds=30.0)
    if settings.MES_EVENT_RETENTION_DAYS:
        events_prune(older_than=timedelta(days=settings.MES_EVENT_RETENTION_DAYS))
    return published


@shared_task(name="erp_sync.pull_orders_due", ignore_result=True, time_limit=30, soft_time_limit=25)
def pull_orders_due() -> int:
    """The beat's check: queue a pull of each connection with ``pull_orders`` (by name, one task each, so a
    slow ERP holds back no other); the pull itself checks again that it is due. Returns how many were queued."""
    from erp_sync.pulls import pull_due, pulling_connections

    due = [name for name in pulling_connections() if pull_due(connection=name)]
    for name in due:
        pull_orders.delay(connection=name)
    return len(due)


@shared_task(name="erp_sync.pull_orders", ignore_result=True, time_limit=600, soft_time_limit=570)
def pull_orders(*, connection: str) -> int:
    """Pull one connection's released orders if it is due and not being pulled; returns the records read."""
    from common.errors import DomainError
    from erp_sync.models import PullRun
    from erp_sync.pulls import order_pull

    try:
        run = order_pull(connection=connection, trigger=PullRun.Trigger.SCHEDULE, only_if_due=True)
    except DomainError as error:  # switched off or removed since it was queued
        logger.info("Pull of %s not run: %s", connection, error.message)
        return 0
    if run is None:
        return 0
    if run.state == PullRun.State.FAILED:
        logger.warning("Pull of %s failed: %s", connection, run.error)
    elif run.orders_refused:
        logger.warning("Pull of %s: %s record(s) refused", connection, run.orders_refused)
    return run.orders_read
