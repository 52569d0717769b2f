"""Reads of inspections: an order's characteristics per operation, what is due now and why, results."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch, Q
from django.utils.translation import gettext as _

from common.errors import DomainError, ErrorKind

from mes.models import InspectionCharacteristic, InspectionResult, OrderCharacteristic, WorkOrderOperation
from mes.selectors.work_orders import work_order_get
from mes.services.quality import CharacteristicState, next_sample


def inspection_plan_rows(*, item_code: str, sequence: int) -> list[InspectionCharacteristic]:
    """The characteristics of an item's routing operation, in order (none: an empty list)."""
    return list(InspectionCharacteristic.objects.filter(item__code=item_code, sequence=sequence).select_related("unit").order_by("position"))


def inspection_plan_get(*, item_code: str, sequence: int) -> list[InspectionCharacteristic]:
    """The characteristics of an item's routing operation, in order (404 when it has none)."""
    rows = inspection_plan_rows(item_code=item_code, sequence=sequence)
    if not rows:
        raise DomainError(
            "unknown_inspection_plan",
            _("Operation %(sequence)s of %(item)s has no inspection plan.") % {"item": item_code, "sequence": sequence},
            kind=ErrorKind.NOT_FOUND,
        )
    return rows


def inspection_result_get(*, result_id: int) -> InspectionResult:
    """One result with what showing it needs."""
    return InspectionResult.objects.select_related("work_order", "operation", "characteristic", "inspector", "equipment").get(pk=result_id)


def characteristic_json(characteristic: InspectionCharacteristic | OrderCharacteristic) -> dict[str, Any]:
    return {
        "code": characteristic.code,
        "name": characteristic.name,
        "kind": characteristic.kind,
        "nominal": characteristic.nominal,
        "lower_limit": characteristic.lower_limit,
        "upper_limit": characteristic.upper_limit,
        "unit": characteristic.unit.code if characteristic.unit_id else None,
        "sampling": {"rule": characteristic.sampling_rule, "n": characteristic.sampling_n},
        "mandatory": characteristic.mandatory,
    }


def result_json(result: InspectionResult) -> dict[str, Any]:
    return {
        "id": result.uuid,
        "client_id": result.client_id,
        "work_order": result.work_order.number,
        "operation": result.operation.sequence,
        "characteristic": result.characteristic.code,
        "sample_no": result.sample_no,
        "value": result.value,
        "passed": result.passed,
        "serial": result.serial,
        "lot": result.lot,
        "inspector_badge": result.inspector.badge if result.inspector_id else None,
        "equipment": result.equipment.code if result.equipment_id else None,
        "quantity": result.quantity,
        "on_hold": not result.passed and not result.disposition,
        "recorded_at": result.recorded_at,
    }


def work_order_inspections(*, number: str) -> dict[str, Any]:
    """Per operation of a released order: its characteristics (each with the sample due next), what
    is due now (the next report of good is refused without it) and why, and its results. A fixed
    number of queries whatever the order's size."""
    work_order = work_order_get(number=number)
    results = InspectionResult.objects.select_related("inspector", "equipment").order_by("recorded_at", "id")
    operations = (
        WorkOrderOperation.objects.filter(work_order=work_order)
        .annotate(reports=Count("confirmations", filter=Q(confirmations__kind="confirmation", confirmations__good_qty__gt=0)))
        .prefetch_related(
            Prefetch("characteristics", OrderCharacteristic.objects.select_related("unit").order_by("position")),
            Prefetch("inspection_results", results),
        )
        .order_by("sequence")
    )
    body = []
    for operation in operations:
        by_characteristic: dict[int, list[InspectionResult]] = {}
        for result in operation.inspection_results.all():
            by_characteristic.setdefault(result.characteristic_id, []).append(result)
        characteristics, due, listed = [], [], []
        for characteristic in operation.characteristics.all():
            own = by_characteristic.get(characteristic.pk, [])
            state = CharacteristicState(characteristic.pk, characteristic.code, characteristic.name, characteristic.sampling_rule, characteristic.sampling_n)
            for result in own:
                if result.passed:
                    state.passed_samples.add(result.sample_no)
            sample, due_at, due_now, why = next_sample(state=state, good=operation.good_qty, reports=operation.reports)
            following = {"sample_no": sample, "due_at_good": due_at, "due_now": due_now, "reason": why} if sample else None
            characteristics.append({**characteristic_json(characteristic), "next": following})
            if following and due_now and characteristic.mandatory:
                due.append({"characteristic": characteristic.code, "sample_no": sample, "reason": why})
            for result in own:
                relate_result(result, work_order, operation, characteristic)
                listed.append(result)
        listed.sort(key=lambda result: (result.recorded_at, result.pk))
        body.append({
            "sequence": operation.sequence,
            "name": operation.name,
            "status": operation.status,
            "good_qty": operation.good_qty,
            "held_qty": operation.held_qty,
            "characteristics": characteristics,
            "due": due,
            "results": [result_json(result) for result in listed],
        })
    return {"work_order": work_order.number, "status": work_order.status, "operations": body}


def relate_result(result: InspectionResult, work_order: Any, operation: WorkOrderOperation, characteristic: OrderCharacteristic) -> None:
    """Give a result its already loaded relations, so showing it asks the database nothing."""
    result.work_order, result.operation, result.characteristic = work_order, operation, characteristic
