"""Celery tasks of the shop floor: thin, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from mes.services.reschedule import RESCHEDULE_TASK, reschedule_flag_clear
from shopfloor.planning.services import schedule_refresh


@shared_task(name=RESCHEDULE_TASK, ignore_result=True, time_limit=120, soft_time_limit=100)
def reschedule() -> int:
    """Recompute and store the schedule (``shopfloor.planning``); the flag is cleared first, so a
    commit while it runs queues another."""
    reschedule_flag_clear()
    return schedule_refresh()
