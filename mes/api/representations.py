"""How records look to API clients (the JSON shapes of the ERP contract)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mes.models import (
    Bom,
    Confirmation,
    Employee,
    Equipment,
    Item,
    Lot,
    MaterialMovement,
    ReasonCode,
    Routing,
    WorkCenter,
    WorkOrder,
)
from mes.services.confirmation_materials import movements_of


def work_order_json(work_order: WorkOrder) -> dict[str, Any]:
    return {
        "number": work_order.number,
        "uuid": work_order.uuid,
        "status": work_order.status,
        "item": work_order.item.code,
        "quantity": work_order.quantity,
        "unit": work_order.item.unit.code,
        "due_date": work_order.due_date,
        "priority": work_order.priority,
        "operations": [
            {
                "sequence": operation.sequence,
                "name": operation.name,
                "work_center": operation.work_center.code,
                "status": operation.status,
                "planned_qty": operation.planned_qty,
                "good_qty": operation.good_qty,
                "scrap_qty": operation.scrap_qty,
                "rework_qty": operation.rework_qty,
                "quality_checkpoint": operation.quality_checkpoint,
            }
            for operation in work_order.operations.all()
        ],
        "components": [
            {
                "item": component.item.code,
                "required_qty": component.required_qty,
                "issued_qty": component.issued_qty,
                "unit": component.unit.code,
                "operation": component.operation_sequence,
                "backflush": component.backflush,
            }
            for component in work_order.components.all()
        ],
    }


def confirmation_json(confirmation: Confirmation, erp_sync: dict[str, Any] | None) -> dict[str, Any]:
    reversed_by = getattr(confirmation, "reversed_by", None) if confirmation.kind == Confirmation.Kind.CONFIRMATION else None
    return {
        "id": confirmation.uuid,
        "client_id": confirmation.client_id,
        "kind": confirmation.kind,
        "work_order": confirmation.work_order.number,
        "operation": confirmation.operation.sequence,
        "good_qty": confirmation.good_qty,
        "scrap_qty": confirmation.scrap_qty,
        "rework_qty": confirmation.rework_qty,
        "reason_code": confirmation.reason_code.code if confirmation.reason_code else None,
        "operator_badge": confirmation.operator.badge if confirmation.operator else None,
        "station": confirmation.station,
        "labor_minutes": confirmation.labor_minutes,
        "machine_minutes": confirmation.machine_minutes,
        "final": confirmation.is_final,
        "confirmed_at": confirmation.confirmed_at,
        "recorded_at": confirmation.recorded_at,
        "reverses": confirmation.reverses.uuid if confirmation.reverses else None,
        "reversed_by": reversed_by.uuid if reversed_by else None,
        "erp_sync": erp_sync,
        **confirmation_materials_json(confirmation),
    }


def confirmation_materials_json(confirmation: Confirmation) -> dict[str, Any]:
    """What a confirmation backflushed (``consumptions``) and received (``output``: a lot or serials, or null).
    A reversal lists its negated movements."""
    movements = movements_of(confirmation)
    consumptions = [
        {
            "item": movement.item.code,
            "lot": movement.lot.code if movement.lot is not None else None,
            "quantity": movement.quantity,
            "unit": movement.unit.code,
            "movement_id": movement.uuid,
            # True: taken from what was issued to the order by scan (the ERP booked that issue; no stock moved now).
            "issued_by_scan": movement.kind == MaterialMovement.Kind.CONSUMPTION,
        }
        for movement in movements
        if movement.kind in (MaterialMovement.Kind.ISSUE, MaterialMovement.Kind.CONSUMPTION)
    ]
    receipts = [movement for movement in movements if movement.kind == MaterialMovement.Kind.RECEIPT]
    output = None
    if receipts:
        serials = [movement.lot.code for movement in receipts if movement.lot.kind == Lot.Kind.SERIAL]
        output = {
            "item": receipts[0].item.code,
            "lot": None if serials else receipts[0].lot.code,
            "serials": serials,
            "quantity": sum((movement.quantity for movement in receipts), Decimal(0)),
            "unit": receipts[0].unit.code,
            "movement_ids": [movement.uuid for movement in receipts],
        }
    return {"consumptions": consumptions, "output": output}


def item_json(item: Item) -> dict[str, Any]:
    return {"code": item.code, "uuid": item.uuid, "name": item.name, "unit": item.unit.code, "description": item.description, "tracking": item.tracking,
            "standard_cost": item.standard_cost}


def work_center_json(center: WorkCenter) -> dict[str, Any]:
    return {
        "code": center.code,
        "uuid": center.uuid,
        "name": center.name,
        "line": center.line,
        "capacity_hours_per_day": center.capacity_hours_per_day,
        "efficiency": center.efficiency,
        "labor_rate": center.labor_rate,
        "machine_rate": center.machine_rate,
    }


def equipment_json(equipment: Equipment) -> dict[str, Any]:
    return {"code": equipment.code, "uuid": equipment.uuid, "name": equipment.name, "work_center": equipment.work_center.code}


def employee_json(employee: Employee) -> dict[str, Any]:
    return {
        "badge": employee.badge,
        "uuid": employee.uuid,
        "name": employee.name,
        "skills": sorted(skill.code for skill in employee.skills.all()),
        "is_active": employee.is_active,
    }


def reason_code_json(reason: ReasonCode) -> dict[str, Any]:
    return {"code": reason.code, "uuid": reason.uuid, "kind": reason.kind, "name": reason.name}


def bom_json(bom: Bom) -> dict[str, Any]:
    return {
        "item": bom.item.code,
        "uuid": bom.uuid,
        "version": bom.version,
        "valid_from": bom.valid_from,
        "valid_to": bom.valid_to,
        "lines": [
            {"item": line.component.code, "quantity": line.quantity, "unit": line.unit.code, "operation": line.operation, "backflush": line.backflush}
            for line in bom.lines.select_related("component", "unit").order_by("position")
        ],
    }


def routing_json(routing: Routing) -> dict[str, Any]:
    return {
        "item": routing.item.code,
        "uuid": routing.uuid,
        "operations": [
            {
                "sequence": operation.sequence,
                "name": operation.name,
                "work_center": operation.work_center.code,
                "setup_minutes": operation.setup_minutes,
                "run_minutes_per_unit": operation.run_minutes_per_unit,
                "quality_checkpoint": operation.quality_checkpoint,
            }
            for operation in routing.operations.select_related("work_center").order_by("sequence")
        ],
    }


def lot_json(lot: Lot) -> dict[str, Any]:
    return {
        "item": lot.item.code,
        "lot": lot.code,
        "uuid": lot.uuid,
        "kind": lot.kind,
        "status": lot.status,
        "unit": lot.unit.code,
        "quantity": lot.received_qty,
        "received_qty": lot.received_qty,
        "produced_qty": lot.produced_qty,
        "issued_qty": lot.issued_qty,
        "quantity_on_hand": lot.quantity_on_hand,
        "expires_on": lot.expires_on,
        "supplier_lot": lot.supplier_lot,
        "location": lot.location,
        "unit_cost": lot.unit_cost,
        "produced_by": lot.produced_by.number if lot.produced_by_id else None,
    }


def material_issue_json(movement: MaterialMovement, erp_sync: dict[str, Any] | None) -> dict[str, Any]:
    reversed_by = getattr(movement, "reversed_by", None) if movement.reverses_id is None else None
    return {
        "id": movement.uuid,
        "client_id": movement.client_id,
        "kind": movement.kind,
        "source": movement.source,
        "state": movement.state,
        "work_order": movement.work_order.number,
        "operation": movement.operation.sequence,
        "item": movement.item.code,
        "lot": movement.lot.code if movement.lot_id else None,
        "quantity": movement.quantity,
        "unit": movement.unit.code,
        "operator_badge": movement.operator.badge if movement.operator_id else None,
        "station": movement.station,
        "required_qty": movement.required_qty,
        "issued_before_qty": movement.issued_before_qty,
        "confirmation": movement.confirmation.uuid if movement.confirmation_id else None,
        "reverses": movement.reverses.uuid if movement.reverses_id else None,
        "reversed_by": reversed_by.uuid if reversed_by else None,
        "decided_by": movement.decided_by.get_username() if movement.decided_by_id else None,
        "decided_at": movement.decided_at,
        "decision_reason": movement.decision_reason,
        "recorded_at": movement.recorded_at,
        "erp_sync": erp_sync,
    }
