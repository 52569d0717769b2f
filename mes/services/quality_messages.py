"""What the ERP hears of quality: an inspection result and a nonconformance's disposition, each one
outbox message queued in the transaction that records it, in its order's partition (after the
order's earlier reports, before its later ones), keyed by the record's UUID.

Kinds (``erp_sync.connectors.base.QUALITY_KINDS``): ``inspection_result`` and
``nonconformance_disposition``. A scrap or rework disposition also books a confirmation, whose
own message (queued first) carries the quantity and the defect code as any report does; the
disposition's message is the quality record of the decision. Which ERP books which kind, and
why some do not, is the connectors' business (README, "Quality and the ERP").
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from erp_sync.outbox import outbox_add
from mes.models import Confirmation, InspectionResult, Nonconformance, NonconformanceDisposition, WorkOrder

INSPECTION_RESULT = "inspection_result"
NONCONFORMANCE_DISPOSITION = "nonconformance_disposition"
_PLACES = Decimal("0.000001")
#: A disposition's message key is derived from the disposition's UUID (a return to the supplier's own
#: message is keyed by the UUID itself), so it is the same whenever it is made.
DISPOSITION_MESSAGE_NAMESPACE = uuid.UUID("c4f1a2e8-5b6d-4e3f-9a1c-7d8e2f0b4a65")


def _decimal(value: Decimal | None) -> str | None:
    return None if value is None else format(Decimal(value).quantize(_PLACES).normalize(), "f")


def inspection_result_queue(*, result: InspectionResult, work_order: WorkOrder) -> None:
    """Queue ``result`` for the ERP; the caller holds the order's lock, in the result's transaction."""
    characteristic, operation = result.characteristic, result.operation
    item = work_order.item
    # The operation's latest report, if any: an ERP may file the result against it (ERPNext's Job Card).
    report = (
        Confirmation.objects.filter(operation=operation, kind=Confirmation.Kind.CONFIRMATION).order_by("-id").values_list("uuid", flat=True).first()
    )
    payload: dict[str, Any] = {
        "type": INSPECTION_RESULT,
        "result_id": str(result.uuid),
        "client_id": str(result.client_id),
        "work_order": work_order.number,
        "item": item.code,
        "operation": operation.sequence,
        "operation_name": operation.name,
        "work_center": operation.work_center.code,
        "characteristic": characteristic.code,
        "characteristic_name": characteristic.name,
        "characteristic_kind": characteristic.kind,
        "nominal": _decimal(characteristic.nominal),
        "lower_limit": _decimal(characteristic.lower_limit),
        "upper_limit": _decimal(characteristic.upper_limit),
        "unit": characteristic.unit.code if characteristic.unit_id else None,
        "sample_no": result.sample_no,
        "value": _decimal(result.value),
        "passed": result.passed,
        "quantity": _decimal(result.quantity),
        "serial": result.serial or None,
        "lot": result.lot or None,
        "inspector_badge": result.inspector.badge if result.inspector_id else None,
        "equipment": result.equipment.code if result.equipment_id else None,
        "recorded_at": result.recorded_at.isoformat(),
        "confirmation_id": str(report) if report else None,
    }
    outbox_add(
        kind=INSPECTION_RESULT, partition_key=work_order.number, source_uuid=result.uuid, idempotency_key=result.uuid, payload=payload,
    )


def disposition_queue(*, decision: NonconformanceDisposition, nonconformance: Nonconformance, work_order: WorkOrder, approver: str | None) -> None:
    """Queue a disposition for the ERP, after the confirmation it booked (if any); the caller holds the order's lock."""
    operation = nonconformance.operation
    defect = nonconformance.defect_code if nonconformance.defect_code_id else None
    payload: dict[str, Any] = {
        "type": NONCONFORMANCE_DISPOSITION,
        "disposition_id": str(decision.uuid),
        "nonconformance": nonconformance.pk,
        "nonconformance_id": str(nonconformance.uuid),
        "nonconformance_state": nonconformance.state,
        "source": nonconformance.source,
        "work_order": work_order.number,
        "item": work_order.item.code,
        "operation": operation.sequence,
        "operation_name": operation.name,
        "disposition": decision.disposition,
        "quantity": _decimal(decision.quantity),
        "nonconformance_qty": _decimal(nonconformance.quantity),
        "unit": work_order.item.unit.code,
        "defect_code": defect.code if defect else None,
        "defect_name": defect.name if defect else None,
        "description": nonconformance.description or None,
        "reason": decision.reason,
        "approved_by": approver,
        "serial": nonconformance.serial or None,
        "lot": nonconformance.lot or None,
        "confirmation_id": str(decision.confirmation.uuid) if decision.confirmation_id else None,
        "result_id": str(nonconformance.inspection_result.uuid) if nonconformance.inspection_result_id else None,
        "decided_at": decision.decided_at.isoformat(),
    }
    outbox_add(
        kind=NONCONFORMANCE_DISPOSITION, partition_key=work_order.number, source_uuid=decision.uuid,
        idempotency_key=uuid.uuid5(DISPOSITION_MESSAGE_NAMESPACE, str(decision.uuid)), payload=payload,
    )

