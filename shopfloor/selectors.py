"""Reads of the shop floor for pages and the API (OEE and the board rows: ``shopfloor.oee``)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from mes.models import Confirmation, Status, WorkOrderOperation
from shopfloor.models import EquipmentAssignment, EquipmentState, UnassignedProduction


def downtime_awaiting_reason(*, work_center_id: int | None = None, now: datetime.datetime | None = None) -> QuerySet:
    """Down or idle intervals longer than the threshold that nobody has given a reason for yet.

    Open intervals count from their start until now; the longest-ago first. Narrowed to one
    work center's machines for a station.
    """
    now = now or timezone.now()
    threshold = datetime.timedelta(seconds=settings.MES_DOWNTIME_REASON_AFTER_SECONDS)
    states = EquipmentState.objects.filter(
        state__in=(EquipmentState.State.DOWN, EquipmentState.State.IDLE), reason_code__isnull=True
    ).filter(Q(ended_at__isnull=True, started_at__lte=now - threshold) | Q(ended_at__gte=F("started_at") + threshold))
    if work_center_id is not None:
        states = states.filter(equipment__work_center_id=work_center_id)
    return states.select_related("equipment").order_by("started_at")


@dataclass(frozen=True)
class UnassignedRow:
    row: UnassignedProduction
    candidates: list[WorkOrderOperation]  # operations it could go to: the one that refused it, then the open ones of its work center


def unassigned_production_rows(*, resolved: bool = False, limit: int = 500) -> list[UnassignedRow]:
    """Unassigned production waiting for a decision (or, with ``resolved``, the latest decisions),
    newest window first, each with the operations it could be confirmed on. Two queries."""
    rows = UnassignedProduction.objects.exclude(resolution="") if resolved else UnassignedProduction.objects.filter(resolution="")
    rows = list(
        rows.select_related("equipment__work_center", "operation__work_order", "confirmation__operation__work_order")
        .order_by("-window_start", "-id")[:limit]
    )
    centers = {row.equipment.work_center_id for row in rows}
    open_operations: dict[int, list[WorkOrderOperation]] = {}
    if centers and not resolved:
        for operation in (
            WorkOrderOperation.objects.filter(
                work_center_id__in=centers,
                status__in=(Status.RELEASED, Status.IN_PROGRESS),
                work_order__status__in=(Status.RELEASED, Status.IN_PROGRESS),
            )
            .select_related("work_order")
            .order_by("work_order__due_date", "work_order__number", "sequence")
        ):
            open_operations.setdefault(operation.work_center_id, []).append(operation)
    result = []
    for row in rows:
        candidates = list(open_operations.get(row.equipment.work_center_id, []))
        if row.operation is not None:
            candidates = [row.operation] + [operation for operation in candidates if operation.pk != row.operation_id]
        result.append(UnassignedRow(row, candidates))
    return result


# --- machine minutes ------------------------------------------------------------------------

_MINUTES_PLACES = Decimal("0.01")


def _overlap_seconds(intervals: list[tuple[datetime.datetime, datetime.datetime]], others: list[tuple[datetime.datetime, datetime.datetime]]) -> float:
    """Seconds two sets of non-overlapping intervals share."""
    return sum(
        max((min(end, other_end) - max(start, other_start)).total_seconds(), 0.0)
        for start, end in intervals
        for other_start, other_end in others
    )


def equipment_run_minutes(
    *, equipment_id: int, since: datetime.datetime | None, until: datetime.datetime, operation_id: int | None = None
) -> Decimal:
    """Minutes the machine ran (state ``run``) from ``since`` (its first state, when None) to ``until``;
    only while it ran ``operation_id`` (its ``EquipmentAssignment``s), when named. At most ``MES_MAX_MACHINE_MINUTES``."""
    def window(rows: QuerySet) -> list[tuple[datetime.datetime, datetime.datetime]]:
        rows = rows.filter(equipment_id=equipment_id, started_at__lt=until)
        if since is not None:
            rows = rows.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=since))
        return [
            (max(started_at, since) if since is not None else started_at, min(ended_at or until, until))
            for started_at, ended_at in rows.values_list("started_at", "ended_at")
        ]

    running = window(EquipmentState.objects.filter(state=EquipmentState.State.RUN))
    if not running:
        return Decimal(0)
    if operation_id is not None:
        seconds = _overlap_seconds(running, window(EquipmentAssignment.objects.filter(operation_id=operation_id)))
    else:
        seconds = sum(max((end - start).total_seconds(), 0.0) for start, end in running)
    if not seconds:
        return Decimal(0)
    return min((Decimal(seconds) / 60).quantize(_MINUTES_PLACES), settings.MES_MAX_MACHINE_MINUTES)


def machine_report_minutes(*, equipment_id: int, station: str, operation_id: int, until: datetime.datetime) -> Decimal:
    """A machine report's machine minutes: its run time on the operation since the machine's previous
    report on it (``station`` = the machine's code), or since the operation started on it."""
    previous = (
        Confirmation.objects.filter(
            operation_id=operation_id, station=station, kind=Confirmation.Kind.CONFIRMATION, confirmed_at__lt=until
        )
        .order_by("-confirmed_at")
        .values_list("confirmed_at", flat=True)
        .first()
    )
    return equipment_run_minutes(equipment_id=equipment_id, since=previous, until=until, operation_id=operation_id)
