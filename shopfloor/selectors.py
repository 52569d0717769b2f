"""Reads of the shop floor for pages and the API (OEE and the board rows: ``shopfloor.oee``)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from mes.models import Status, WorkOrderOperation
from shopfloor.models import EquipmentState, UnassignedProduction


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
