"""Reads of the operator station: the operation a scan opens (with who is clocked on it), the work waiting at the
station, recent reports with their ERP state, machines waiting for a downtime reason, the reason codes to offer."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from common.errors import DomainError, ErrorKind
from erp_sync.outbox import sync_label, sync_states
from mes.models import Confirmation, Equipment, Hold, OrderCharacteristic, ReasonCode, Status, WorkOrder, WorkOrderOperation
from mes.services.confirmations import operation_available, operation_check_work_center, plain
from mes.services.quality import characteristic_states, next_sample
from mes.services.labor import labor_clocked_on
from mes.selectors.work_instructions import documents_by_operation
from mes.models import OperationDocument
from shopfloor.models import EquipmentAssignment, Shift, Station
from shopfloor.shift_calendar import ALL_DAY, ShiftRule, span_at
from shopfloor.selectors import downtime_awaiting_reason

REPORTABLE = {Status.RELEASED, Status.IN_PROGRESS, Status.PAUSED}


def station_machine(*, station: Station) -> Equipment | None:
    """The machine operations started here run on: the station's own, or the work center's only one."""
    if station.equipment_id is not None:
        return station.equipment
    machines = list(Equipment.objects.filter(work_center_id=station.work_center_id)[:2])
    return machines[0] if len(machines) == 1 else None


def station_machines(*, station: Station) -> set[int]:
    """The machines a station answers for: its own, or all of its work center's."""
    if station.equipment_id is not None:
        return {station.equipment_id}
    return set(Equipment.objects.filter(work_center_id=station.work_center_id).values_list("pk", flat=True))


def check_work_center(*, station: Station, operation: WorkOrderOperation) -> None:
    """Refuse an operation of another work center: a station reports only its own work."""
    operation_check_work_center(operation=operation, work_center=station.work_center, number=operation.work_order.number)


def station_has_work_on(*, station: Station, work_order: WorkOrder) -> bool:
    """Whether the order has an operation at the station's work center (so the station may print its traveler)."""
    return work_order.operations.filter(work_center_id=station.work_center_id).exists()


def operation_summary(*, work_order: WorkOrder, operation: WorkOrderOperation, operations: list[WorkOrderOperation]) -> dict[str, Any]:
    """What the station shows of an operation (and keeps offline): quantities as plain text."""
    confirmed = operation.confirmed_qty
    available = operation_available(operations=operations, operation=operation, work_order=work_order)
    return {
        "work_order": work_order.number,
        "sequence": operation.sequence,
        "name": operation.name,
        "item": work_order.item.code,
        "item_name": work_order.item.name,
        "unit": work_order.item.unit.code,
        "status": operation.status,
        "status_label": _status_label(work_order, operation),
        "on_quality_hold": operation.on_quality_hold or work_order.on_quality_hold,
        "order_status": work_order.status,
        "planned": plain(quantity=operation.planned_qty),
        "good": plain(quantity=operation.good_qty),
        "scrap": plain(quantity=operation.scrap_qty),
        "rework": plain(quantity=operation.rework_qty),
        "remaining": plain(quantity=max(operation.planned_qty - confirmed, Decimal(0))),
        "available": plain(quantity=max(available - confirmed, Decimal(0))),
        "quality_checkpoint": operation.quality_checkpoint,
        "as_of": timezone.now().isoformat(),
    }


def _status_label(work_order: WorkOrder, operation: WorkOrderOperation) -> str:
    label = str(Status(operation.status).label)
    if operation.on_quality_hold or work_order.on_quality_hold:
        return _("%(status)s · on quality hold") % {"status": label}
    return label


def _quality_stop(operation: WorkOrderOperation) -> dict[str, Any] | None:
    """The operation's quality stop, if one is active (one query, only for a held operation)."""
    if not operation.on_quality_hold:
        return None
    hold = Hold.objects.filter(operation=operation, state=Hold.State.ACTIVE, cause=Hold.Cause.QUALITY_STOP).order_by("placed_at").first()
    if hold is None:
        return None
    return {
        "reason": hold.reason,
        "since": hold.placed_at.isoformat(),
        "status_label": _("quality stop: reports wait until quality releases it"),
    }


def station_operation(*, station: Station, number: str, sequence: int) -> dict[str, Any]:
    """The operation ``WO:<number>/<sequence>`` opens at this station, or why it cannot (four queries; a few
    more for an operation with an inspection plan)."""
    work_order = WorkOrder.objects.select_related("item__unit").filter(number=number).first()
    if work_order is None:
        raise DomainError(
            "unknown_work_order", _("Work order %(number)s does not exist.") % {"number": number}, kind=ErrorKind.NOT_FOUND
        )
    if work_order.status == Status.PLANNED:
        raise DomainError(
            "work_order_not_released", _("Work order %(number)s is not released yet.") % {"number": number}, kind=ErrorKind.CONFLICT
        )
    operations = list(work_order.operations.select_related("work_center").order_by("sequence"))
    operation = next((candidate for candidate in operations if candidate.sequence == sequence), None)
    if operation is None:
        raise DomainError(
            "unknown_operation",
            _("Work order %(number)s has no operation %(sequence)s.") % {"number": number, "sequence": sequence},
            kind=ErrorKind.NOT_FOUND,
        )
    operation.work_order = work_order
    check_work_center(station=station, operation=operation)
    if operation.status not in REPORTABLE:
        raise DomainError(
            "operation_not_open",
            _("Operation %(sequence)04d of %(number)s is %(status)s; it takes no more reports.")
            % {"sequence": sequence, "number": number, "status": Status(operation.status).label},
            kind=ErrorKind.CONFLICT,
        )
    summary = operation_summary(work_order=work_order, operation=operation, operations=operations)
    stop = _quality_stop(operation)
    if stop is not None:  # shown where the operation's status is
        summary["status_label"] = stop["status_label"]
    return summary | {
        "clocked_on": station_clocked_on(operation_id=operation.pk),
        "inspections": station_inspections(operation=operation),
        "quality_stop": stop,
        "instructions": station_instructions(operations=[(work_order.item_id, operation.sequence)]).get((work_order.item_id, operation.sequence), []),
    }


def instruction_json(document: OperationDocument) -> dict[str, Any]:
    """A work instruction as the station shows and keeps it: its address changes with its content (``v``),
    so the copy the service worker keeps is never stale."""
    return {
        "name": document.name, "content_type": document.content_type, "is_image": document.is_image, "size": document.size,
        "url": f"{reverse('station-instruction', args=[document.pk])}?v={document.sha256[:16]}",
    }


def station_instructions(*, operations: list[tuple[int, int]]) -> dict[tuple[int, int], list[dict[str, Any]]]:
    """The work instructions of each ``(item_id, sequence)``: the item's routing operation's documents, found by item and
    sequence (one query)."""
    return {key: [instruction_json(document) for document in documents] for key, documents in documents_by_operation(operations=operations).items()}


def _limit(value: Decimal | None) -> str | None:
    return None if value is None else plain(quantity=value)


def station_inspections(*, operation: WorkOrderOperation) -> list[dict[str, Any]]:
    """What the operation's inspection plan asks for next, per characteristic, so the station prompts it
    before a report is refused with ``inspection_due``: the characteristic, nominal and limits, unit, the
    sample due next and whether the next report of good needs it now (``due_now``). The one due now comes
    first. No query for an operation without a plan; two (a third per optional characteristic) with one."""
    characteristics = list(OrderCharacteristic.objects.filter(operation_id=operation.pk).select_related("unit").order_by("position"))
    if not characteristics:
        return []
    states, reports = characteristic_states(operation_id=operation.pk)
    by_id = {state.id: (state, reports) for state in states}
    rows = []
    for characteristic in characteristics:
        if characteristic.pk in by_id:
            state, count = by_id[characteristic.pk]
        else:  # an optional characteristic: not among the gate's states
            (state,), count = characteristic_states(operation_id=operation.pk, characteristic_id=characteristic.pk)
        sample, due_at, due_now, why = next_sample(state=state, good=operation.good_qty, reports=count)
        rows.append({
            "code": characteristic.code,
            "name": characteristic.name,
            "kind": characteristic.kind,
            "nominal": _limit(characteristic.nominal),
            "lower_limit": _limit(characteristic.lower_limit),
            "upper_limit": _limit(characteristic.upper_limit),
            "unit": characteristic.unit.code if characteristic.unit_id else "",
            "mandatory": characteristic.mandatory,
            "sample_no": sample or None,
            "due_at_good": _limit(due_at),
            "due_now": bool(sample) and due_now,
            "reason": why,
        })
    rows.sort(key=lambda row: (not (row["due_now"] and row["mandatory"]), not row["due_now"], row["sample_no"] is None))
    return rows


def station_clocked_on(*, operation_id: int) -> list[dict[str, str]]:
    """Who is clocked on the operation now (badge and name), for the station's "clocked on" line (one query)."""
    return [{"badge": employee.badge, "name": employee.name} for employee in labor_clocked_on(operation_id=operation_id)]


def station_recent_reports(*, station: Station, limit: int = 6) -> list[dict[str, Any]]:
    """The station's latest reports with their ERP sync state (two queries)."""
    confirmations = list(
        Confirmation.objects.filter(station=station.name, kind=Confirmation.Kind.CONFIRMATION)
        .select_related("work_order", "operation", "operator", "reason_code")
        .order_by("-recorded_at", "-id")[:limit]
    )
    states = sync_states(source_uuids=[confirmation.uuid for confirmation in confirmations])
    recent = []
    for confirmation in confirmations:
        erp = states.get(confirmation.uuid)
        recent.append(
            {
                "confirmation": confirmation,
                "erp_state": erp["state"] if erp else "",
                "erp_label": sync_label(state=erp["state"]) if erp else "",
                "erp_document": erp["erp_document"] if erp else None,
                "erp_error": erp["last_error"] if erp else None,
            }
        )
    return recent


def station_downtime_prompts(*, station: Station, now: datetime.datetime | None = None) -> list[dict[str, Any]]:
    """Stops of the station's machines that wait for a reason: machine, since when, for how long."""
    now = now or timezone.now()
    machines = station_machines(station=station)
    prompts = []
    for state in downtime_awaiting_reason(work_center_id=station.work_center_id, now=now):
        if state.equipment_id not in machines:
            continue
        minutes = int(((state.ended_at or now) - state.started_at).total_seconds() // 60)
        prompts.append({"state": state, "minutes": minutes, "is_open": state.ended_at is None})
    return prompts


def station_reason_codes() -> list[ReasonCode]:
    return list(ReasonCode.objects.order_by("kind", "code"))


def downtime_reasons(*, reasons: list[ReasonCode]) -> list[ReasonCode]:
    """The reasons an operator may give for a machine standing still (of those already read)."""
    return [reason for reason in reasons if reason.kind in (ReasonCode.Kind.DOWNTIME, ReasonCode.Kind.PAUSE)]


QUEUE_LIMIT = 20


def station_work_queue(*, station: Station, limit: int = QUEUE_LIMIT) -> dict[str, Any]:
    """The operations waiting at the station's work center, in the planner's order: priority (1 first), due date,
    order number, routing sequence. A station with its own machine leaves out operations running on another machine
    of the work center. Each row is what tapping it opens (``scan``: ``WO:<number>/<sequence>``), with its work
    instructions (which the station's service worker keeps offline). Three queries.

    Answers ``{"rows": [...], "more": <rows beyond limit>}``.
    """
    running_on = EquipmentAssignment.objects.filter(operation_id=OuterRef("pk"), ended_at__isnull=True).order_by("-started_at")
    waiting = (
        WorkOrderOperation.objects.filter(
            work_center_id=station.work_center_id, status__in=REPORTABLE, work_order__status__in=REPORTABLE
        )
        .annotate(running_on_id=Subquery(running_on.values("equipment_id")[:1]), running_on=Subquery(running_on.values("equipment__code")[:1]))
        .select_related("work_order__item__unit")
        .order_by("work_order__priority", "work_order__due_date", "work_order__number", "sequence")
    )
    if station.equipment_id is not None:
        waiting = waiting.filter(Q(running_on_id__isnull=True) | Q(running_on_id=station.equipment_id))
    waiting = list(waiting)  # a work center's open operations: tens, not thousands
    shown = waiting[:limit]
    siblings: dict[int, list[WorkOrderOperation]] = {}
    for sibling in WorkOrderOperation.objects.filter(work_order_id__in={operation.work_order_id for operation in shown}).order_by("sequence"):
        siblings.setdefault(sibling.work_order_id, []).append(sibling)
    today = timezone.localdate()
    instructions = station_instructions(operations=[(operation.work_order.item_id, operation.sequence) for operation in shown])
    rows = []
    for operation in shown:
        work_order = operation.work_order
        rows.append(
            operation_summary(work_order=work_order, operation=operation, operations=siblings[work_order.pk])
            | {
                "scan": f"WO:{work_order.number}/{operation.sequence}",
                "priority": work_order.priority,
                "due_date": work_order.due_date,
                "is_late": work_order.due_date < today,
                "is_on_hold": Status.PAUSED in (work_order.status, operation.status),
                "running_on": operation.running_on or "",
                "instructions": instructions.get((work_order.item_id, operation.sequence), []),
                "instructions_json": json.dumps(instructions.get((work_order.item_id, operation.sequence), [])),
            }
        )
    return {"rows": rows, "more": len(waiting) - len(shown)}


# --- the operator's own reports of the shift, and which one they may still correct ---------------


def station_shift_start(*, station: Station, now: datetime.datetime) -> datetime.datetime:
    """Where "this shift" starts at the station: the start of its machine's (or work center's) shift running now,
    else of the last one that ended; local midnight when it has no shifts (planned all day)."""
    rows = []
    if station.equipment_id is not None:
        rows = list(Shift.objects.filter(equipment_id=station.equipment_id))
    if not rows:
        rows = list(Shift.objects.filter(work_center_id=station.work_center_id))
    span = span_at([ShiftRule.of(row) for row in rows] or [ALL_DAY], now)
    return span.start if span is not None else now - datetime.timedelta(hours=12)


def operator_last_report(*, badge: str) -> Confirmation | None:
    """The operator's latest report not yet reversed (the one they may correct), or None."""
    return (
        Confirmation.objects.filter(operator__badge=badge, kind=Confirmation.Kind.CONFIRMATION, reversed_by__isnull=True)
        .select_related("work_order", "operation")
        .order_by("-recorded_at", "-id")
        .first()
    )


def station_my_reports(*, station: Station, badge: str, now: datetime.datetime | None = None, limit: int = 30) -> dict[str, Any]:
    """The operator's reports of the current shift (at any station), newest first, each with its ERP state in words,
    whether it was reversed, and which one (their last) they may correct: alone within
    ``MES_OPERATOR_CORRECTION_MINUTES``, with a supervisor's badge after that. Four or five queries (the shift calendar, the reports, their ERP states)."""
    now = now or timezone.now()
    since = station_shift_start(station=station, now=now)
    confirmations = list(
        Confirmation.objects.filter(operator__badge=badge, kind=Confirmation.Kind.CONFIRMATION, recorded_at__gte=since)
        .select_related("work_order", "operation", "reversed_by")
        .order_by("-recorded_at", "-id")[:limit]
    )
    states = sync_states(source_uuids=[confirmation.uuid for confirmation in confirmations])
    window = datetime.timedelta(minutes=settings.MES_OPERATOR_CORRECTION_MINUTES)
    last = next((confirmation for confirmation in confirmations if not _is_reversed(confirmation)), None)
    rows = []
    for confirmation in confirmations:
        erp = states.get(confirmation.uuid)
        correctable = confirmation is last
        rows.append({
            "id": str(confirmation.uuid),
            "time": timezone.localtime(confirmation.recorded_at).strftime("%H:%M"),
            "work_order": confirmation.work_order.number,
            "sequence": confirmation.operation.sequence,
            "operation": confirmation.operation.name,
            "good": plain(quantity=confirmation.good_qty),
            "scrap": plain(quantity=confirmation.scrap_qty),
            "rework": plain(quantity=confirmation.rework_qty),
            "final": confirmation.is_final,
            "station": confirmation.station,
            "erp_state": erp["state"] if erp else "",
            "erp_label": sync_label(state=erp["state"]) if erp else "",
            "reversed": _is_reversed(confirmation),
            "correctable": correctable,
            "needs_supervisor": correctable and now - confirmation.recorded_at > window,
        })
    return {"since": timezone.localtime(since).strftime("%H:%M"), "minutes": settings.MES_OPERATOR_CORRECTION_MINUTES, "rows": rows}


def _is_reversed(confirmation: Confirmation) -> bool:
    """Whether a confirmation read with ``select_related("reversed_by")`` has a reversal."""
    try:
        return confirmation.reversed_by is not None
    except Confirmation.DoesNotExist:
        return False
