"""Material movements written the way the issue #12 design says the MES writes them, on real rows
(``Lot``, ``MaterialMovement``), in the transaction that records them, under the order's lock:
a scanned issue with its ``goods_issue``; a confirmation that backflushes and receives output, with
its ``goods_issue`` / ``goods_receipt`` and the movements in its own payload (``goods_movements``);
and the reversals of both. The ERP tests build them here until the services that write them land."""

from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import Decimal

from django.db import transaction

from erp_sync.models import OutboxMessage
from erp_sync.outbox import outbox_add_many
from mes.models import Confirmation, Item, Lot, MaterialMovement, WorkOrderOperation
from mes.services.confirmations import ConfirmationRequest, confirmation_reverse, operation_confirm
from mes.services.materials import (
    MESSAGE_KINDS,
    goods_document_id,
    goods_message,
    lots_lock,
    movement_apply_to_lot,
    movement_json,
)
from mes.services.transitions import work_order_lock

Kind = MaterialMovement.Kind
Source = MaterialMovement.Source


def lot_stage(*, item: str, code: str, quantity: Decimal = Decimal(10_000)) -> Lot:
    """A lot the ERP staged for production."""
    item_row = Item.objects.get(code=item)
    lot, _created = Lot.objects.get_or_create(item=item_row, code=code, defaults={"unit": item_row.unit, "received_qty": quantity})
    return lot


def _movement(*, kind: str, source: str, work_order, operation, lot: Lot, quantity: Decimal, confirmation=None, reverses=None) -> MaterialMovement:
    locked = lots_lock(pks=[lot.pk])[lot.pk]
    movement = MaterialMovement(
        kind=kind, source=source, work_order=work_order, operation=operation, item=locked.item, lot=locked,
        quantity=quantity, unit=locked.unit, confirmation=confirmation, reverses=reverses, station="ST-07",
    )
    movement.save()
    movement_apply_to_lot(movement=movement)
    locked.save(update_fields=["issued_qty", "produced_qty", "updated_at"])
    return movement


def issue_by_scan(*, number: str, operation: int, lot: Lot, quantity: Decimal) -> MaterialMovement:
    """A scanned issue and its ``goods_issue`` (key = the movement's uuid)."""
    with transaction.atomic():
        work_order = work_order_lock(number=number)
        step = WorkOrderOperation.objects.get(work_order=work_order, sequence=operation)
        movement = _movement(kind=Kind.ISSUE, source=Source.SCAN, work_order=work_order, operation=step, lot=lot, quantity=quantity)
        outbox_add_many(messages=[goods_message(movements=[movement], work_order=work_order, operation=step, document_id=movement.uuid)])
    return movement


def issue_reverse(*, movement: MaterialMovement) -> MaterialMovement:
    """The reversal of a scanned issue: a negated movement and a ``goods_issue_reversal`` naming the original."""
    with transaction.atomic():
        work_order = work_order_lock(number=movement.work_order.number)
        negated = _movement(
            kind=Kind.ISSUE, source=Source.REVERSAL, work_order=work_order, operation=movement.operation, lot=movement.lot,
            quantity=-movement.quantity, reverses=movement,
        )
        message = goods_message(
            movements=[negated], work_order=work_order, operation=movement.operation, document_id=negated.uuid, reverses=movement.uuid,
        )
        outbox_add_many(messages=[message])
    return negated


def confirm_with_goods(
    *, number: str, operation: int, good: int, backflush: tuple[Lot, Decimal] | None = None, output: Lot | None = None
) -> Confirmation:
    """A confirmation that backflushes from a lot and/or receives its good quantity into an output lot."""
    with transaction.atomic():
        work_order = work_order_lock(number=number)
        request = ConfirmationRequest(client_id=uuid.uuid4(), work_order=number, operation=operation, good_qty=Decimal(good))
        confirmation = operation_confirm(request=request).confirmation
        step = WorkOrderOperation.objects.get(work_order=work_order, sequence=operation)
        movements = []
        if backflush is not None:
            lot, quantity = backflush
            movements.append(_movement(
                kind=Kind.ISSUE, source=Source.BACKFLUSH, work_order=work_order, operation=step, lot=lot, quantity=quantity, confirmation=confirmation,
            ))
        if output is not None:
            movements.append(_movement(
                kind=Kind.RECEIPT, source=Source.OUTPUT, work_order=work_order, operation=step, lot=output, quantity=Decimal(good), confirmation=confirmation,
            ))
        _ride_with(confirmation, work_order, step, movements, reverses=None)
    return confirmation


def reverse_with_goods(*, confirmation: Confirmation) -> Confirmation:
    """The reversal of a confirmation and of the movements it caused: the confirmation service
    negates them and queues their goods reversals with its own (mes.services.confirmation_materials)."""
    return confirmation_reverse(confirmation_id=confirmation.uuid, reason="miscounted").confirmation


def _ride_with(confirmation: Confirmation, work_order, step, movements: list[MaterialMovement], *, reverses: Confirmation | None) -> None:
    """The goods messages of a report, after its own message, and the movements in that message's payload."""
    if not movements:
        return
    message = OutboxMessage.objects.get(idempotency_key=confirmation.uuid)
    OutboxMessage.objects.filter(pk=message.pk).update(
        payload={**message.payload, "goods_movements": [movement_json(movement=movement) for movement in movements]}
    )
    groups: dict[str, list[MaterialMovement]] = defaultdict(list)
    for movement in movements:
        groups[movement.kind].append(movement)
    new = []
    for kind, group in groups.items():
        message_kind = MESSAGE_KINDS[(kind, reverses is not None)]
        new.append(goods_message(
            movements=group, work_order=work_order, operation=step,
            document_id=goods_document_id(confirmation_uuid=confirmation.uuid, kind=message_kind),
            confirmation_uuid=confirmation.uuid,
            reverses=goods_document_id(confirmation_uuid=reverses.uuid, kind=MESSAGE_KINDS[(kind, False)]) if reverses else None,
        ))
    outbox_add_many(messages=new)


def mes_stock() -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    """What the MES issued to and received from orders, per item and lot (posted movements, reversals included)."""
    totals: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for movement in MaterialMovement.objects.filter(state=MaterialMovement.State.POSTED).select_related("item", "lot"):
        row = totals[(movement.item.code, movement.lot.code if movement.lot else "")]
        row[0 if movement.kind == Kind.ISSUE else 1] += movement.quantity
    return {key: (issued, received) for key, (issued, received) in totals.items()}
