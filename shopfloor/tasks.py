"""Celery tasks of the shop floor (thin: each calls one service). Named, so callers queue them by name."""

from __future__ import annotations

from celery import shared_task

from mes.services.reschedule import RESCHEDULE_TASK, reschedule_flag_clear
from shopfloor.andon.services import andon_escalate, andon_notice_send
from shopfloor.planning.services import schedule_refresh
from shopfloor.reports.services import daily_reports_due


@shared_task(name="andon.escalate", ignore_result=True, time_limit=120, soft_time_limit=100)
def escalate() -> int:
    """Record the escalation steps now due and send the notices waiting (the periodic sweep)."""
    return andon_escalate()


@shared_task(name="andon.notice_send", ignore_result=True, time_limit=30, soft_time_limit=25)
def notice_send(notice_id: int) -> int:
    return andon_notice_send(notice_id=notice_id)


@shared_task(name=RESCHEDULE_TASK, ignore_result=True, time_limit=120, soft_time_limit=100)
def reschedule() -> int:
    """Recompute and store the schedule (``shopfloor.planning``); the flag is cleared first, so a
    commit while it runs queues another."""
    reschedule_flag_clear()
    return schedule_refresh()


@shared_task(name="reports.daily_due", ignore_result=True, time_limit=300, soft_time_limit=280)
def daily_due() -> int:
    """Record each day's plan as it begins and send the daily reports due after shifts' ends (the periodic sweep)."""
    return daily_reports_due()
