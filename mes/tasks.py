"""Celery tasks of the production domain: thin, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from mes.services.audit import events_seal


@shared_task(name="mes.audit_seal", ignore_result=True, time_limit=300, soft_time_limit=270)
def audit_seal() -> int:
    """Chain the audit events written since the last run (see ``mes.models.audit.EventSeal``)."""
    return events_seal()
