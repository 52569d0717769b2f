"""A small genealogy built directly with the models, for the trace tests (the issue, backflush and
output services have their own tests; here only what they leave behind matters).

Three levels: raw steel lot ``L-RAW-1`` (from the ERP) → sub-assembly serial ``S-SUB-1`` (order
WO-SUB, operations 10 Cut at station ST-1 and 20 Press on machine PRESS-1) → finished serial
``S-FIN-1`` (order WO-FIN, operation 10 Assemble). Besides: raw lot ``L-RAW-2``, issued to WO-SUB
and reversed (not consumed), and a confirmation of WO-SUB that was reversed (not shown).
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

from mes.models import Confirmation, Employee, Item, Lot, MaterialMovement, WorkOrder, WorkOrderOperation
from tests.factories import EmployeeFactory, EquipmentFactory, ItemFactory, UnitOfMeasureFactory, WorkCenterFactory, WorkOrderFactory

UTC = datetime.timezone.utc


def at(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2030, 1, day, hour, minute, tzinfo=UTC)


def order(number: str, item: Item, operations: list[tuple[int, str]]) -> WorkOrder:
    work_order = WorkOrderFactory(number=number, item=item, quantity=Decimal("1"), status="in_progress")
    center = WorkCenterFactory()
    for sequence, name in operations:
        WorkOrderOperation.objects.create(work_order=work_order, sequence=sequence, name=name, work_center=center, planned_qty=Decimal("1"))
    return work_order


def lot(item: Item, code: str, *, produced_by: WorkOrder | None = None, kind: str = "lot", quantity: str = "1") -> Lot:
    made = produced_by is not None
    return Lot.objects.create(
        item=item, code=code, kind=kind, unit=item.unit, produced_by=produced_by,
        received_qty=Decimal(0) if made else Decimal(quantity), produced_qty=Decimal(quantity) if made else Decimal(0),
    )


def issue(work_order: WorkOrder, sequence: int, consumed: Lot, quantity: str, when: datetime.datetime, *, state: str = "posted") -> MaterialMovement:
    movement = MaterialMovement.objects.create(
        kind="issue", source="scan", state=state, work_order=work_order, operation=work_order.operations.get(sequence=sequence),
        item=consumed.item, lot=consumed, quantity=Decimal(quantity), unit=consumed.unit,
    )
    MaterialMovement.objects.filter(pk=movement.pk).update(recorded_at=when)
    return movement


def reverse(movement: MaterialMovement, when: datetime.datetime) -> MaterialMovement:
    reversal = MaterialMovement.objects.create(
        kind=movement.kind, source="reversal", work_order=movement.work_order, operation=movement.operation, item=movement.item,
        lot=movement.lot, quantity=-movement.quantity, unit=movement.unit, reverses=movement,
    )
    MaterialMovement.objects.filter(pk=reversal.pk).update(recorded_at=when)
    return reversal


def receive(work_order: WorkOrder, sequence: int, output: Lot, when: datetime.datetime) -> MaterialMovement:
    movement = MaterialMovement.objects.create(
        kind="receipt", source="output", work_order=work_order, operation=work_order.operations.get(sequence=sequence),
        item=output.item, lot=output, quantity=output.produced_qty, unit=output.unit,
    )
    MaterialMovement.objects.filter(pk=movement.pk).update(recorded_at=when)
    return movement


def confirmation(
    work_order: WorkOrder, sequence: int, when: datetime.datetime, *, good: str = "1", scrap: str = "0",
    operator: Employee | None = None, station: str = "",
) -> Confirmation:
    return Confirmation.objects.create(
        client_id=uuid.uuid4(), request_hash="x", work_order=work_order, operation=work_order.operations.get(sequence=sequence),
        good_qty=Decimal(good), scrap_qty=Decimal(scrap), operator=operator, station=station, confirmed_at=when,
    )


def confirmation_reverse(original: Confirmation, when: datetime.datetime) -> Confirmation:
    return Confirmation.objects.create(
        client_id=uuid.uuid4(), request_hash="x", kind="reversal", work_order=original.work_order, operation=original.operation,
        good_qty=-original.good_qty, scrap_qty=-original.scrap_qty, reverses=original, confirmed_at=when,
    )


def three_levels() -> dict[str, Any]:
    """The genealogy of the module docstring; returns its rows by name."""
    pcs, kg = UnitOfMeasureFactory(code="PCS"), UnitOfMeasureFactory(code="KG")
    steel = ItemFactory(code="STEEL-01", name="Steel sheet", unit=kg, tracking="lot")
    sub = ItemFactory(code="SUB-200", name="Bracket", unit=pcs, tracking="serial")
    box = ItemFactory(code="BOX-300", name="Control box", unit=pcs, tracking="serial")
    li = EmployeeFactory(badge="B-1001", name="Li Wei")
    wang = EmployeeFactory(badge="B-1002", name="Wang Fang")
    raw = lot(steel, "L-RAW-1", quantity="100")
    other = lot(steel, "L-RAW-2", quantity="50")

    wo_sub = order("WO-SUB", sub, [(10, "Cut"), (20, "Press")])
    EquipmentFactory(code="PRESS-1", work_center=wo_sub.operations.get(sequence=20).work_center)
    issue(wo_sub, 10, raw, "5", at(10, 8))
    reverse(issue(wo_sub, 10, other, "3", at(10, 8, 5)), at(10, 8, 10))
    cut = confirmation(wo_sub, 10, at(10, 9), good="1", operator=li, station="ST-1")
    wrong = confirmation(wo_sub, 10, at(10, 9, 30), good="2", operator=li, station="ST-1")
    confirmation_reverse(wrong, at(10, 9, 40))
    press = confirmation(wo_sub, 20, at(10, 10), good="1", scrap="1", station="PRESS-1")
    sub_serial = lot(sub, "S-SUB-1", produced_by=wo_sub, kind="serial")
    receive(wo_sub, 20, sub_serial, at(10, 10))

    wo_fin = order("WO-FIN", box, [(10, "Assemble")])
    issue(wo_fin, 10, sub_serial, "1", at(11, 8))
    assemble = confirmation(wo_fin, 10, at(11, 9), good="1", operator=wang, station="ST-2")
    finished = lot(box, "S-FIN-1", produced_by=wo_fin, kind="serial")
    receive(wo_fin, 10, finished, at(11, 9))
    return {
        "raw": raw, "other": other, "sub_serial": sub_serial, "finished": finished, "wo_sub": wo_sub, "wo_fin": wo_fin,
        "cut": cut, "press": press, "assemble": assemble,
    }
