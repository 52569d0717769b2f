"""Material movements: the checks a lot must pass before anything is taken from it, the rows a
movement writes to a lot's totals, and the ERP message that reports a group of movements.

Issues by scan (``mes.services.material_issues``) and backflush and output by a confirmation
(``mes.services.confirmations``) both go through here, so a lot refuses the same things on every
path and the ERP hears every movement in the same shape.

The message a group of movements sends (kinds ``goods_issue``, ``goods_receipt`` and their
``_reversal``) carries everything a connector needs::

    {"type", "document_id", "work_order", "work_order_uuid", "order_item", "operation",
     "operation_name", "work_center", "confirmation_id" (the report they ride with, or null),
     "movements": [{"movement_id", "movement_type", "item", "lot", "quantity", "unit"}],
     "reverses": {"document_id", "idempotency_key"} or null, "operator_badge", "station", "posted_at"}

``movement_type`` follows SAP's numbers, which the other connectors map: 261 issue to the order,
262 its reversal, 101 receipt from the order, 102 its reversal. Quantities are always positive
in the message; the type says the direction. A confirmation's own message lists the movements it
caused under ``goods_movements`` in the same shape, for ERPs that book them with the report.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Case, F, Min, Q, Sum, When
from django.utils import timezone
from django.utils.translation import gettext as _

from common.errors import DomainError
from common.fastsql import partial_instance, raw_instances, relate
from erp_sync.outbox import NewMessage
from mes.models import Item, Lot, MaterialMovement, UnitOfMeasure, WorkOrder, WorkOrderOperation

_QUANTITY_PLACES = Decimal("0.001")

#: SAP's movement types, by (kind, is reversal).
MOVEMENT_TYPES = {
    (MaterialMovement.Kind.ISSUE, False): "261",
    (MaterialMovement.Kind.ISSUE, True): "262",
    (MaterialMovement.Kind.RECEIPT, False): "101",
    (MaterialMovement.Kind.RECEIPT, True): "102",
}

#: The outbox kind of a group of movements, by (kind, is reversal).
MESSAGE_KINDS = {
    (MaterialMovement.Kind.ISSUE, False): "goods_issue",
    (MaterialMovement.Kind.ISSUE, True): "goods_issue_reversal",
    (MaterialMovement.Kind.RECEIPT, False): "goods_receipt",
    (MaterialMovement.Kind.RECEIPT, True): "goods_receipt_reversal",
}

# Ids of the messages a confirmation's movements send are derived from the confirmation's, so a
# replayed write can never queue a second one.
GOODS_NAMESPACE = uuid.UUID("0d2f6c1e-8a4b-4e57-9c3d-5b7a1e9f2c64")


def _plain(quantity: Decimal) -> str:
    return f"{quantity.normalize():f}"


def lot_find(*, item: Item, code: str, field: str = "lot") -> Lot:
    """The lot ``code`` of ``item``, or ``lot_unknown``."""
    lot = Lot.objects.filter(item=item, code=code).first()
    if lot is None:
        raise DomainError(
            "lot_unknown",
            _("Item %(item)s has no lot %(lot)s.") % {"item": item.code, "lot": code},
            fields={field: code},
        )
    return lot


_LOTS_SQL = """
SELECT {columns}, i.code AS item_code, i.name AS item_name, i.unit_id AS item_unit_id, i.tracking AS item_tracking, u.code AS unit_code
FROM mes_lot l
JOIN mes_item i ON i.id = l.item_id
JOIN mes_unitofmeasure u ON u.id = l.unit_id
WHERE {where}
ORDER BY l.id
{lock}
"""


def lots_lock(*, pks: Iterable[int] = (), codes: Iterable[tuple[int, Iterable[str]]] = ()) -> dict[int, Lot]:
    """Lock lots for an update of their totals, in primary-key order so two writers never deadlock:
    the lots of these ``pks`` and of these codes of these items (``codes``: item pk, its lot codes),
    by primary key, with their items and units. Call after locking the work orders involved (the
    order's lock always comes first). One plain statement: through the ORM it was a backflushing
    report's costliest read."""
    pks = set(pks)
    wanted = [(item, set(item_codes)) for item, item_codes in codes]
    if not pks and not wanted:
        return {}
    where = [f"l.id IN ({', '.join(['%s'] * len(pks))})"] if pks else []
    where += [f"(l.item_id = %s AND l.code IN ({', '.join(['%s'] * len(lot_codes))}))" for _item, lot_codes in wanted]
    sql = _LOTS_SQL.format(
        columns=", ".join(f"l.{field.column}" for field in Lot._meta.concrete_fields),
        where=" OR ".join(where),
        lock="FOR UPDATE OF l" if connection.vendor == "postgresql" else "",  # SQLite locks the database on the first write
    )
    lots = raw_instances(Lot, sql, [*sorted(pks), *(value for item, lot_codes in wanted for value in (item, *sorted(lot_codes)))])
    for lot in lots:
        unit = partial_instance(UnitOfMeasure, id=lot.unit_id, code=lot.unit_code)
        item = partial_instance(Item, id=lot.item_id, code=lot.item_code, name=lot.item_name, unit_id=lot.item_unit_id, tracking=lot.item_tracking)
        if item.unit_id == unit.pk:
            relate(item, "unit", unit)
        relate(lot, "item", item)
        relate(lot, "unit", unit)
    return {lot.pk: lot for lot in lots}


def lot_check_usable(*, lot: Lot, quantity: Decimal, today: datetime.date | None = None, field: str = "lot") -> None:
    """Refuse to take ``quantity`` from ``lot`` when it is on hold or blocked (``lot_on_hold``),
    past its expiry date (``lot_expired``) or holds less than that (``lot_insufficient``)."""
    today = today or timezone.localdate()
    if lot.status != Lot.Status.AVAILABLE:
        raise DomainError(
            "lot_on_hold",
            _("Lot %(lot)s of %(item)s is %(status)s and cannot be used.")
            % {"lot": lot.code, "item": lot.item.code, "status": Lot.Status(lot.status).label},
            fields={field: lot.code},
        )
    if lot.expires_on is not None and lot.expires_on < today:
        raise DomainError(
            "lot_expired",
            _("Lot %(lot)s of %(item)s expired on %(date)s.") % {"lot": lot.code, "item": lot.item.code, "date": lot.expires_on.isoformat()},
            fields={field: lot.code},
        )
    if quantity > lot.quantity_on_hand:
        raise DomainError(
            "lot_insufficient",
            _("Lot %(lot)s of %(item)s holds %(on_hand)s; %(requested)s asked.")
            % {"lot": lot.code, "item": lot.item.code, "on_hand": _plain(lot.quantity_on_hand), "requested": _plain(quantity)},
            fields={field: lot.code, "quantity": _plain(quantity)},
        )


def movement_apply_to_lot(*, movement: MaterialMovement) -> None:
    """Add a posted movement to its lot's totals (in memory; the caller saves the lot, locked).
    Issues add to ``issued_qty``, receipts to ``produced_qty``; reversals carry negative quantities."""
    lot = movement.lot
    if lot is None:
        return
    if movement.kind == MaterialMovement.Kind.ISSUE:
        lot.issued_qty += movement.quantity
    elif movement.kind == MaterialMovement.Kind.RECEIPT:
        lot.produced_qty += movement.quantity
    # A consumption of material issued by scan moves no stock: the scan took it from the lot.


def staged_quantities(*, components: Iterable[tuple[int, int, int]]) -> dict[tuple[int, int, int], list[tuple[int | None, Decimal]]]:
    """What each component still has on the line: issued to its order by scan (net of reversals) and
    not yet consumed by a report, per lot (None for material issued without one), oldest scan first.

    ``components``: (order pk, operation sequence, item pk) triples; the answer is keyed by them and
    holds only lots with something left. One query, whatever the number of components."""
    wanted = list(dict.fromkeys(components))
    if not wanted:
        return {}
    matches = Q()
    for order, sequence, item in wanted:
        matches |= Q(work_order_id=order, operation__sequence=sequence, item_id=item)
    rows = (
        MaterialMovement.objects.filter(matches, state=MaterialMovement.State.POSTED)
        .filter(
            Q(kind=MaterialMovement.Kind.ISSUE, source=MaterialMovement.Source.SCAN)
            | Q(kind=MaterialMovement.Kind.ISSUE, source=MaterialMovement.Source.REVERSAL, reverses__source=MaterialMovement.Source.SCAN)
            | Q(kind=MaterialMovement.Kind.CONSUMPTION)
        )
        .values("work_order_id", "operation__sequence", "item_id", "lot_id")
        .annotate(
            left=Sum(Case(When(kind=MaterialMovement.Kind.CONSUMPTION, then=-F("quantity")), default=F("quantity"))),
            first=Min("id"),
        )
        .filter(left__gt=0)
        .order_by("first")
    )
    staged: dict[tuple[int, int, int], list[tuple[int | None, Decimal]]] = {}
    for row in rows:
        key = (row["work_order_id"], row["operation__sequence"], row["item_id"])
        staged.setdefault(key, []).append((row["lot_id"], row["left"]))
    return staged


def movement_json(*, movement: MaterialMovement) -> dict[str, Any]:
    """One movement as the ERP messages carry it (quantity positive; the type says the direction)."""
    is_reversal = movement.quantity < 0
    return {
        "movement_id": str(movement.uuid),
        "movement_type": MOVEMENT_TYPES[(movement.kind, is_reversal)],
        "item": movement.item.code,
        "lot": movement.lot.code if movement.lot is not None else None,
        "quantity": str(abs(movement.quantity).quantize(_QUANTITY_PLACES)),
        "unit": movement.unit.code,
    }


def goods_message(
    *,
    movements: list[MaterialMovement],
    work_order: WorkOrder,
    operation: WorkOrderOperation,
    document_id: uuid.UUID,
    confirmation_uuid: uuid.UUID | None = None,
    reverses: uuid.UUID | None = None,
    waits_for: list[uuid.UUID] | None = None,
) -> NewMessage:
    """The ERP message for a group of movements of one kind and direction, all of one order and operation.

    ``document_id`` is the message's idempotency key: a scanned issue's own uuid, or
    ``goods_document_id`` of the confirmation the movements ride with. ``reverses`` is the
    document id of the group a reversal takes back. ``waits_for``: the keys of the messages it
    must not go before (``receipts_awaited``).
    """
    first = movements[0]
    is_reversal = first.quantity < 0
    operator = first.operator if first.operator_id is not None else None
    message = NewMessage(
        kind=MESSAGE_KINDS[(first.kind, is_reversal)],
        partition_key=work_order.number,
        source_uuid=confirmation_uuid or first.uuid,
        idempotency_key=document_id,
        payload={
            "type": MESSAGE_KINDS[(first.kind, is_reversal)],
            "document_id": str(document_id),
            "work_order": work_order.number,
            "work_order_uuid": str(work_order.uuid),
            "order_item": work_order.item.code,
            "operation": operation.sequence,
            "operation_name": operation.name,
            "work_center": operation.work_center.code,
            "confirmation_id": str(confirmation_uuid) if confirmation_uuid else None,
            "movements": [movement_json(movement=movement) for movement in movements],
            "reverses": {"document_id": str(reverses), "idempotency_key": str(reverses)} if reverses else None,
            "operator_badge": operator.badge if operator else None,
            "station": first.station,
            "posted_at": (first.recorded_at or timezone.now()).isoformat(),
        },
    )
    if waits_for:
        message["waits_for"] = waits_for
    return message


def goods_document_id(*, confirmation_uuid: uuid.UUID, kind: str) -> uuid.UUID:
    """The id of the message that reports a confirmation's movements of one ``MESSAGE_KINDS`` kind."""
    return uuid.uuid5(GOODS_NAMESPACE, f"{confirmation_uuid}:{kind}")


def receipts_awaited(
    *, lots: Iterable[Lot | None], work_order: WorkOrder, pending: Iterable[MaterialMovement] = (),
) -> list[uuid.UUID]:
    """The keys of the ``goods_receipt`` messages that received these lots, for a message issuing
    them to ``work_order`` to wait for (``NewMessage.waits_for``): the ERP holds no stock of a lot
    made here until it has booked its receipt, and the outbox orders messages only within one order.

    Only lots another order made count (a lot's own order sends its receipt first anyway), so an
    issue of bought or untracked material asks nothing of the database. Every report that received
    into the lot is waited for: the issue may need all of it. ``pending``: movements of the same
    write not stored yet (a batch's earlier reports), whose receipts count too. Under SAP the
    receipt rides in the report's own message, which goes before it in its order: waiting for this
    key waits for both.
    """
    made_elsewhere = [lot for lot in lots if lot is not None and lot.produced_by_id not in (None, work_order.pk)]
    if not made_elsewhere:
        return []
    confirmations = {
        movement.confirmation.uuid
        for movement in pending
        if movement.kind == MaterialMovement.Kind.RECEIPT and movement.source == MaterialMovement.Source.OUTPUT
        and movement.confirmation is not None and any(movement.lot is lot for lot in made_elsewhere)
    }
    stored = {lot.pk for lot in made_elsewhere if lot.pk is not None}
    if stored:
        confirmations.update(
            MaterialMovement.objects.filter(
                lot_id__in=stored, kind=MaterialMovement.Kind.RECEIPT, source=MaterialMovement.Source.OUTPUT, confirmation__isnull=False,
            )
            .values_list("confirmation__uuid", flat=True)
            .distinct()
        )
    return sorted({goods_document_id(confirmation_uuid=confirmation, kind="goods_receipt") for confirmation in confirmations}, key=str)
