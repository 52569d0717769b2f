"""What a confirmation does to material: backflush of its operation's components and receipt of
the order's output into a lot or serials, planned by pure rules (refusals before anything is
written) and applied to rows that ``confirmation_rows_write`` writes with the confirmation.

Backflush. A confirmation of operation N consumes every component of the order's BOM snapshot
with ``operation_sequence`` N and ``backflush`` set, in proportion to good + scrap (rework
consumes nothing): ``required_qty / order quantity × (good + scrap)``, to 0.001 (half up). Where from:

1. the lots the request names for that item (``lots``): a named ``quantity`` is taken exactly
   (the actual consumption, even when it differs from the proportion); named lots without a
   quantity share what the proportion still needs, in the order given, each up to its on-hand,
   the last taking the rest;
2. else the lots issued to this order for that item by scan (net of their reversals), oldest
   first (by first scan), skipping lots on hold, expired or empty;
3. else, for an item not tracked by lot or serial, no lot (a movement with ``lot`` empty);
   a tracked item has nothing to take from: ``lot_required``.

Material issued by scan is used first. What was scanned to the order for the component (its
operation) and not yet consumed is on the line already: the stock and the ERP know it left the
shelf (the scan's 261). A report takes from it first, lot by lot in the order of the scans (the
named lots' own scanned material first, when it names lots), as a ``consume`` movement: no lot or
component total changes and no message goes, but the report's ``consumptions`` and the genealogy
show it. Only what the scanned material does not cover draws on a lot's on-hand (``Lot.issued_qty``
and ``WorkOrderComponent.issued_qty`` grow by it, and it goes to the ERP as a 261 with the
confirmation). So material scanned and then backflushed is counted once; a scan cannot be reversed
once reports have used it (``issue_consumed``).

Output. A confirmation of the order's last operation with good > 0 receives the good quantity:
for an item tracked by serial, one ``Lot(kind=serial)`` per serial (``serials``: as many as the
good quantity, new for the item), each with its own receipt of 1; for an item tracked by lot (or
any item when ``output_lot`` is named), into ``output_lot`` or else the order's lot of the day,
``<order>-<YYYYMMDD>`` (local date of ``confirmed_at``), created with ``produced_by`` = the order.
An untracked item with no ``output_lot`` receives nothing here (the ERP books its receipt from
the confirmation as before).

Reversal of a confirmation negates its movements (``source`` reversal, ``reverses`` the original)
and restores lots and components; an output lot or serial whose quantity has gone on elsewhere
refuses the reversal (``output_consumed``).
"""

from __future__ import annotations

import datetime
import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Min, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from common.errors import DomainError, ErrorKind
from common.fastsql import new_instance, partial_instance, raw_instances, relate
from erp_sync.outbox import NewMessage
from mes.models import (
    Item,
    Lot,
    MaterialMovement,
    UnitOfMeasure,
    WorkOrder,
    WorkOrderComponent,
    WorkOrderOperation,
)
from mes.services.materials import (
    goods_document_id,
    goods_message,
    lot_check_usable,
    lots_lock,
    movement_apply_to_lot,
    movement_json,
    receipts_awaited,
    staged_quantities,
)

ZERO = Decimal(0)
_PLACES = Decimal("0.001")


@dataclass(frozen=True)
class LotUse:
    """A lot a confirmation names for one of its backflushed items, with what it takes (None: its share)."""

    item: str
    lot: str
    quantity: Decimal | None = None

    def fingerprint(self) -> str:
        return f"{self.item}|{self.lot}|{'' if self.quantity is None else self.quantity.normalize()}"


def output_lot_code(*, work_order: WorkOrder, day: datetime.date) -> str:
    """The order's generated output lot of a day (the code column holds 64 characters)."""
    suffix = f"-{day:%Y%m%d}"
    return work_order.number[: 64 - len(suffix)] + suffix


# --- what a call may touch, loaded and locked once ---------------------------------------------


@dataclass
class MaterialBook:
    """The backflush components of the orders a call confirms, the lots it may touch (locked, in
    pk order, after the orders) and the lots scanned to each order: one look-up for a single
    report or a whole batch. Lots made by an earlier report of the batch are kept here too."""

    components: dict[tuple[int, int], list[WorkOrderComponent]] = field(default_factory=dict)  # (order pk, sequence)
    lots: dict[tuple[int, str], Lot] = field(default_factory=dict)  # (item pk, code)
    scanned: dict[tuple[int, int], list[int]] = field(default_factory=dict)  # (order pk, item pk) -> lot pks, oldest first
    items: dict[str, Item] = field(default_factory=dict)  # by code, for named lots and serials
    by_pk: dict[int, Lot] = field(default_factory=dict)
    # (order pk, sequence, item pk) -> [lot pk or None, quantity] scanned to the order and not yet consumed, oldest first
    staged: dict[tuple[int, int, int], list[list[Any]]] = field(default_factory=dict)

    @classmethod
    def load(
        cls, *, orders: list[WorkOrder], requests: list[Any], last_sequences: dict[int, int],
        components: list[WorkOrderComponent] | None = None,
    ) -> MaterialBook:
        """Call holding the orders' locks. ``last_sequences``: each order's last operation, by order pk.
        ``components``: the orders' backflush components when already read (``backflush_components_sql``)."""
        book = cls()
        by_number = {order.number: order for order in orders}
        if components is None:
            components = _backflush_components([order.pk for order in orders])
        for component in components:
            book.components.setdefault((component.work_order_id, component.operation_sequence), []).append(component)
        # A lot named for an item that is no component is refused before any look-up of it; the
        # order's item comes with the order's lock (its unit and tracking too).
        book.items = {component.item.code: component.item for component in components}
        book.items.update({order.item.code: order.item for order in orders})
        scanned_pairs = set()  # (order, item) of components no request names a lot for
        staged_keys = []  # components with material scanned to them (no query for the others)
        for request in requests:
            order = by_number.get(request.work_order)
            if order is None:
                continue
            named_items = {use.item for use in request.lots}
            for component in book.components.get((order.pk, request.operation), []):
                # An untracked item is issued without a lot: no scanned lot to look for.
                if component.item.code not in named_items and component.item.tracking != Item.Tracking.NONE:
                    scanned_pairs.add((order.pk, component.item_id))
                if component.scanned_qty > 0:
                    staged_keys.append((order.pk, component.operation_sequence, component.item_id))
        wanted: list[tuple[int, set[str]]] = []  # (item pk, codes)
        named = defaultdict(set)
        for request in requests:
            for use in request.lots:
                named[use.item].add(use.lot)
            order = by_number.get(request.work_order)
            if order is None or not (request.output_lot or request.serials or order.item.tracking != Item.Tracking.NONE):
                continue  # receives nothing: no output lot to look for
            day = timezone.localdate(request.confirmed_at) if request.confirmed_at else timezone.localdate()
            named[order.item.code].update({request.output_lot or output_lot_code(work_order=order, day=day), *request.serials})
        for code, lots in named.items():
            if code in book.items:
                wanted.append((book.items[code].pk, lots))
        scans = (
            MaterialMovement.objects.filter(
                work_order__in={pair[0] for pair in scanned_pairs}, item_id__in={pair[1] for pair in scanned_pairs},
                kind=MaterialMovement.Kind.ISSUE,
                state=MaterialMovement.State.POSTED, lot__isnull=False,
            )
            .filter(Q(source=MaterialMovement.Source.SCAN) | Q(source=MaterialMovement.Source.REVERSAL, reverses__source=MaterialMovement.Source.SCAN))
            .values("work_order_id", "item_id", "lot_id")
            .annotate(net=Sum("quantity"), first=Min("id"))
            .filter(net__gt=0)
            .order_by("first")
        ) if scanned_pairs else []
        scanned_ids = set()
        for row in scans:
            book.scanned.setdefault((row["work_order_id"], row["item_id"]), []).append(row["lot_id"])
            scanned_ids.add(row["lot_id"])
        book.staged = {key: [list(entry) for entry in entries] for key, entries in staged_quantities(components=staged_keys).items()}
        scanned_ids.update(lot for entries in book.staged.values() for lot, _quantity in entries if lot is not None)
        for lot in lots_lock(pks=scanned_ids, codes=wanted).values():
            book.lots[(lot.item_id, lot.code)] = lot
        book.by_pk = {lot.pk: lot for lot in book.lots.values()}
        return book

    def lot(self, item: Item, code: str) -> Lot | None:
        return self.lots.get((item.pk, code))

    def staged_of(self, work_order: WorkOrder, component: WorkOrderComponent) -> list[list[Any]]:
        return self.staged.get((work_order.pk, component.operation_sequence, component.item_id), [])


_COMPONENTS_SQL = """
SELECT b.id, b.work_order_id, b.position, b.item_id, b.required_qty, b.unit_id, b.operation_sequence, b.backflush, b.issued_qty,
       b.scanned_qty,
       i.code AS item_code, i.name AS item_name, i.unit_id AS item_unit_id, i.tracking AS item_tracking,
       iu.code AS item_unit_code, u.code AS unit_code
FROM mes_workordercomponent b
JOIN mes_item i ON i.id = b.item_id
JOIN mes_unitofmeasure iu ON iu.id = i.unit_id
JOIN mes_unitofmeasure u ON u.id = b.unit_id
WHERE b.backflush AND b.work_order_id IN ({orders})
ORDER BY b.work_order_id, b.position
"""


def _backflush_components(order_pks: list[int]) -> list[WorkOrderComponent]:
    """The backflush components of the orders with their items and units: one plain statement
    (the ORM's compiling of it cost a backflushing report more than all its writes)."""
    if not order_pks:
        return []
    sql = _COMPONENTS_SQL.format(orders=", ".join(["%s"] * len(order_pks)))
    return _with_items(raw_instances(WorkOrderComponent, sql, list(order_pks)))


# The columns of ``_COMPONENTS_SQL`` (numbers as text, to stay exact) as a JSON array per
# component, aggregated per operation: PostgreSQL reads them with the operations they belong to.
_COMPONENT_JSON = {
    "id": "b.id", "work_order_id": "b.work_order_id", "position": "b.position", "item_id": "b.item_id",
    "required_qty": "b.required_qty::text", "unit_id": "b.unit_id", "operation_sequence": "b.operation_sequence",
    "issued_qty": "b.issued_qty::text", "scanned_qty": "b.scanned_qty::text",
    "item_code": "i.code", "item_name": "i.name", "item_unit_id": "i.unit_id", "item_tracking": "i.tracking",
    "item_unit_code": "iu.code", "unit_code": "u.code",
}
_COMPONENT_JSON_COLUMNS = tuple(_COMPONENT_JSON)
_COMPONENT_FIELDS = 9  # the first columns are the component's own fields, the others extras
_DECIMAL_COLUMNS = ("required_qty", "issued_qty", "scanned_qty")


def backflush_components_sql(*, order: str, sequence: str) -> str:
    """A PostgreSQL expression: the backflush components of operation ``sequence`` of order ``order``
    (SQL of the enclosing query) as a JSON array, NULL for none; ``components_from_json`` makes them instances."""
    return (
        f"(SELECT json_agg(json_build_array({', '.join(_COMPONENT_JSON.values())}) ORDER BY b.position) "
        "FROM mes_workordercomponent b JOIN mes_item i ON i.id = b.item_id "
        "JOIN mes_unitofmeasure iu ON iu.id = i.unit_id JOIN mes_unitofmeasure u ON u.id = b.unit_id "
        f"WHERE b.backflush AND b.work_order_id = {order} AND b.operation_sequence = {sequence})"
    )


def components_from_json(rows: list[list[Any]] | None) -> list[WorkOrderComponent]:
    """The components ``backflush_components_sql`` gave, as ``_backflush_components`` makes them."""
    if isinstance(rows, str):  # a driver that leaves JSON as text
        rows = json.loads(rows)
    components = []
    for row in rows or ():
        values = dict(zip(_COMPONENT_JSON_COLUMNS, row, strict=True))
        for column in _DECIMAL_COLUMNS:
            values[column] = Decimal(values[column])
        component = partial_instance(
            WorkOrderComponent, **{name: values.pop(name) for name in _COMPONENT_JSON_COLUMNS[:_COMPONENT_FIELDS]}, backflush=True
        )
        component.__dict__.update(values)  # item_… and unit_code, as raw_instances leaves extra columns
        components.append(component)
    return _with_items(components)


def _with_items(components: list[WorkOrderComponent]) -> list[WorkOrderComponent]:
    """Attach each component's item (with its unit) and unit, from the columns read with it."""
    units: dict[int, UnitOfMeasure] = {}
    for component in components:
        item_unit = units.setdefault(component.item_unit_id, partial_instance(UnitOfMeasure, id=component.item_unit_id, code=component.item_unit_code))
        item = partial_instance(
            Item, id=component.item_id, code=component.item_code, name=component.item_name, unit_id=component.item_unit_id,
            tracking=component.item_tracking,
        )
        relate(item, "unit", item_unit)
        relate(component, "item", item)
        relate(component, "unit", units.setdefault(component.unit_id, partial_instance(UnitOfMeasure, id=component.unit_id, code=component.unit_code)))
    return components


def needs_materials(*, request: Any, work_order: WorkOrder, operation: WorkOrderOperation, is_last: bool, has_backflush: bool) -> bool:
    """Whether a report can move material at all (else no look-up, and the quick write)."""
    if request.lots or request.output_lot or request.serials or has_backflush:
        return True
    return is_last and request.good_qty > 0 and work_order.item.tracking != Item.Tracking.NONE


# --- the plan (pure: refusals only) -------------------------------------------------------------


@dataclass
class Draw:
    component: WorkOrderComponent
    lot: Lot | None
    quantity: Decimal
    staged: bool = False  # from material scanned to the order (a ``consume``), not from the lot's on-hand


@dataclass
class Receipt:
    item: Item
    code: str
    kind: str
    quantity: Decimal
    lot: Lot | None  # None: to be created


@dataclass
class MaterialPlan:
    draws: list[Draw] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.draws or self.receipts)


def _refusal(code: str, message: str, fields: dict[str, str], kind: ErrorKind = ErrorKind.INVALID) -> DomainError:
    return DomainError(code, message, kind=kind, fields=fields)


def _plain(quantity: Decimal) -> str:
    return f"{quantity.normalize():f}"


def backflush_plan(*, request: Any, work_order: WorkOrder, operation: WorkOrderOperation, book: MaterialBook) -> list[Draw]:
    """The draws of a report's backflush, or the refusal of the first component that cannot be covered."""
    components = book.components.get((work_order.pk, operation.sequence), [])
    known = {component.item.code for component in components}
    for use in request.lots:
        if use.item not in known:
            raise _refusal(
                "not_a_component",
                _("%(item)s is not backflushed by operation %(sequence)04d of %(number)s.")
                % {"item": use.item, "sequence": operation.sequence, "number": work_order.number},
                {"lots": f"{use.item}/{use.lot}"},
            )
    consumed = request.good_qty + request.scrap_qty
    taken: dict[int, Decimal] = defaultdict(Decimal)  # what this plan takes from each lot's on-hand so far
    draws: list[Draw] = []

    def take(component: WorkOrderComponent, lot: Lot, quantity: Decimal) -> None:
        lot_check_usable(lot=lot, quantity=taken[lot.pk] + quantity, field="lots")
        if quantity > 0:
            taken[lot.pk] += quantity
            draws.append(Draw(component, lot, quantity))

    for component in components:
        need = (component.required_qty / work_order.quantity * consumed).quantize(_PLACES, rounding=ROUND_HALF_UP)
        # What was scanned to the order for this component and is still on the line, per lot (a copy: the plan is pure).
        staged = {lot: quantity for lot, quantity in book.staged_of(work_order, component)}

        def use_staged(lot: Lot | None, up_to: Decimal, component: WorkOrderComponent = component, staged: dict = staged) -> Decimal:
            """Take up to ``up_to`` of what was scanned from ``lot``; what it took."""
            key = lot.pk if lot is not None else None
            quantity = min(up_to, staged.get(key, ZERO))
            if quantity > 0:
                if lot is not None:
                    lot_check_usable(lot=lot, quantity=taken[lot.pk], field="lots")  # held or expired since the scan
                staged[key] -= quantity
                draws.append(Draw(component, lot, quantity, staged=True))
            return max(quantity, ZERO)

        named = [use for use in request.lots if use.item == component.item.code]
        if named:
            rest = max(need - sum(use.quantity for use in named if use.quantity is not None), ZERO)
            shares = [use for use in named if use.quantity is None]
            for use in named:
                lot = book.lot(component.item, use.lot)
                if lot is None:
                    raise _refusal("lot_unknown", _("Item %(item)s has no lot %(lot)s.") % {"item": use.item, "lot": use.lot}, {"lots": use.lot})
                if use.quantity is not None:
                    quantity = use.quantity
                elif use is shares[-1]:
                    quantity = rest
                else:
                    quantity = min(rest, staged.get(lot.pk, ZERO) + max(lot.quantity_on_hand - taken[lot.pk], ZERO))
                    rest -= quantity
                take(component, lot, quantity - use_staged(lot, quantity))
            continue
        rest = need
        for lot_pk, _quantity in book.staged_of(work_order, component):
            lot = book.by_pk.get(lot_pk) if lot_pk is not None else None
            if rest > 0 and (lot_pk is None or (lot is not None and _usable(lot))):
                rest -= use_staged(lot, rest)
        if rest <= 0:
            continue
        candidates = [book.by_pk[pk] for pk in book.scanned.get((work_order.pk, component.item_id), []) if pk in book.by_pk]
        if candidates:
            for lot in candidates:
                quantity = min(rest, max(lot.quantity_on_hand - taken[lot.pk], ZERO)) if _usable(lot) else ZERO
                if quantity > 0:
                    take(component, lot, quantity)
                    rest -= quantity
                if rest == 0:
                    break
            if rest > 0:  # refused with the reason of the last lot tried (held, expired or short)
                lot_check_usable(lot=candidates[-1], quantity=taken[candidates[-1].pk] + rest, field="lots")
            continue
        if component.item.tracking != Item.Tracking.NONE:
            raise _refusal(
                "lot_required",
                _("%(item)s is tracked by %(tracking)s: name the lot it is taken from, or issue one to %(number)s first.")
                % {"item": component.item.code, "tracking": Item.Tracking(component.item.tracking).label, "number": work_order.number},
                {"lots": component.item.code},
            )
        draws.append(Draw(component, None, rest))
    return draws


def _usable(lot: Lot) -> bool:
    return lot.status == Lot.Status.AVAILABLE and (lot.expires_on is None or lot.expires_on >= timezone.localdate())


def output_plan(*, request: Any, work_order: WorkOrder, is_last: bool, book: MaterialBook) -> list[Receipt]:
    """The receipts of a report's output, or the refusal of what it names."""
    if not (is_last and request.good_qty > 0):
        if request.output_lot or request.serials:
            raise _refusal(
                "output_not_expected",
                _("Only a report of good pieces on the last operation of %(number)s receives output into a lot or serials.")
                % {"number": work_order.number},
                {"output_lot" if request.output_lot else "serials": request.output_lot or ", ".join(request.serials)},
            )
        return []
    item = book.items[work_order.item.code]
    good = request.good_qty
    if item.tracking == Item.Tracking.SERIAL:
        if request.output_lot:
            raise _refusal(
                "output_not_expected",
                _("%(item)s is tracked by serial: name its serials, not a lot.") % {"item": item.code},
                {"output_lot": request.output_lot},
            )
        if not request.serials:
            raise _refusal(
                "serials_required",
                _("%(item)s is tracked by serial: scan the serial of each of the %(count)s good pieces.") % {"item": item.code, "count": _plain(good)},
                {"serials": "required"},
            )
        if good != int(good) or len(request.serials) != int(good):
            raise _refusal(
                "serials_count_mismatch",
                _("%(count)s serials for %(good)s good pieces: one serial per piece.") % {"count": len(request.serials), "good": _plain(good)},
                {"serials": str(len(request.serials))},
            )
        seen = set()
        for serial in request.serials:
            if serial in seen or book.lot(item, serial) is not None:
                raise _refusal(
                    "serial_exists",
                    _("Serial %(serial)s of %(item)s exists already.") % {"serial": serial, "item": item.code},
                    {"serials": serial},
                    ErrorKind.CONFLICT,
                )
            seen.add(serial)
        return [Receipt(item, serial, Lot.Kind.SERIAL, Decimal(1), None) for serial in request.serials]
    if request.serials:
        raise _refusal(
            "serials_not_expected",
            _("%(item)s is not tracked by serial; its output goes into a lot.") % {"item": item.code},
            {"serials": ", ".join(request.serials)},
        )
    if item.tracking == Item.Tracking.NONE and not request.output_lot:
        return []
    day = timezone.localdate(request.confirmed_at) if request.confirmed_at else timezone.localdate()
    code = request.output_lot or output_lot_code(work_order=work_order, day=day)
    lot = book.lot(item, code)
    if lot is not None and (lot.produced_by_id != work_order.pk or lot.kind != Lot.Kind.LOT):
        raise _refusal(
            "output_lot_taken",
            _("Lot %(lot)s of %(item)s exists and was not made by %(number)s; name another output lot.")
            % {"lot": code, "item": item.code, "number": work_order.number},
            {"output_lot": code},
            ErrorKind.CONFLICT,
        )
    return [Receipt(item, code, Lot.Kind.LOT, good, lot)]


# --- applying a plan -----------------------------------------------------------------------------


@dataclass
class MaterialRows:
    """The material rows of one or more confirmations, for ``confirmation_rows_write``."""

    new_lots: list[Lot] = field(default_factory=list)
    lots: dict[int, Lot] = field(default_factory=dict)  # changed totals, by pk
    components: dict[int, WorkOrderComponent] = field(default_factory=dict)
    movements: list[MaterialMovement] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.movements)


def _movement(confirmation: Any, *, kind: str, source: str, item: Item, lot: Lot | None, quantity: Decimal, unit: Any,
              reverses: MaterialMovement | None = None) -> MaterialMovement:
    return new_instance(
        MaterialMovement,
        kind=kind, source=source, state=MaterialMovement.State.POSTED,
        work_order=confirmation.work_order, operation=confirmation.operation, item=item, lot=lot, quantity=quantity, unit=unit,
        confirmation=confirmation, reverses=reverses, operator=confirmation.operator, station=confirmation.station,
        recorded_at=confirmation.recorded_at, recorded_by=confirmation.recorded_by,
    )


def plan_apply(*, plan: MaterialPlan, confirmation: Any, book: MaterialBook, rows: MaterialRows) -> list[MaterialMovement]:
    """Turn a checked plan into movements and new lot and component totals (in memory, in ``rows``)."""
    movements = []
    for draw in plan.draws:
        movement = _movement(
            confirmation, kind=MaterialMovement.Kind.CONSUMPTION if draw.staged else MaterialMovement.Kind.ISSUE,
            source=MaterialMovement.Source.BACKFLUSH, item=draw.component.item, lot=draw.lot, quantity=draw.quantity, unit=draw.component.unit,
        )
        movements.append(movement)
        if draw.staged:  # on the line already: what is left of it shrinks for the batch's next reports
            for entry in book.staged_of(confirmation.work_order, draw.component):
                if entry[0] == (draw.lot.pk if draw.lot is not None else None):
                    entry[1] -= draw.quantity
            continue
        movement_apply_to_lot(movement=movement)
        if draw.lot is not None and draw.lot.pk is not None:
            rows.lots[draw.lot.pk] = draw.lot
        draw.component.issued_qty += draw.quantity
        rows.components[draw.component.pk] = draw.component
    for receipt in plan.receipts:
        lot = receipt.lot
        if lot is None:
            lot = book.lot(receipt.item, receipt.code)  # made by an earlier report of the same batch
        if lot is None:
            lot = new_instance(
                Lot, item=receipt.item, code=receipt.code, kind=receipt.kind, unit=receipt.item.unit, produced_by=confirmation.work_order,
            )
            rows.new_lots.append(lot)
            book.lots[(receipt.item.pk, receipt.code)] = lot
        elif lot.pk is not None:
            rows.lots[lot.pk] = lot
        movement = _movement(
            confirmation, kind=MaterialMovement.Kind.RECEIPT, source=MaterialMovement.Source.OUTPUT,
            item=receipt.item, lot=lot, quantity=receipt.quantity, unit=receipt.item.unit,
        )
        movement_apply_to_lot(movement=movement)
        movements.append(movement)
    rows.movements += movements
    return movements


def goods_messages(
    *, confirmation: Any, movements: list[MaterialMovement], reverses_uuid: Any = None, waits_for: list[Any] | None = None,
) -> list[NewMessage]:
    """The goods issue and the goods receipt (or their reversals) a confirmation's movements send, in that order;
    the issue waits for ``waits_for`` (``issues_awaited``)."""
    messages = []
    for kind in (MaterialMovement.Kind.ISSUE, MaterialMovement.Kind.RECEIPT):
        group = [movement for movement in movements if movement.kind == kind]
        if not group:
            continue
        message_kind = {MaterialMovement.Kind.ISSUE: "goods_issue", MaterialMovement.Kind.RECEIPT: "goods_receipt"}[kind]
        if reverses_uuid is not None:
            message_kind += "_reversal"
        messages.append(
            goods_message(
                movements=group, work_order=confirmation.work_order, operation=confirmation.operation,
                document_id=goods_document_id(confirmation_uuid=confirmation.uuid, kind=message_kind),
                confirmation_uuid=confirmation.uuid,
                reverses=goods_document_id(confirmation_uuid=reverses_uuid, kind=message_kind.removesuffix("_reversal")) if reverses_uuid else None,
                waits_for=waits_for if kind == MaterialMovement.Kind.ISSUE else None,
            )
        )
    return messages


def issues_awaited(*, confirmation: Any, movements: list[MaterialMovement], rows: MaterialRows) -> list[Any]:
    """The receipts a confirmation's backflush must wait for: those of the lots other orders made
    (``receipts_awaited``; no query unless such a lot is drawn from), stored or received by an
    earlier report of the same batch (``rows``, not written yet)."""
    issued = [movement.lot for movement in movements if movement.kind == MaterialMovement.Kind.ISSUE and movement.quantity > 0]
    return receipts_awaited(lots=issued, work_order=confirmation.work_order, pending=rows.movements) if issued else []


def movements_payload(movements: list[MaterialMovement]) -> list[dict[str, Any]]:
    """The movements the ERP books (a ``consume`` of material issued by scan is not one: the scan was)."""
    return [movement_json(movement=movement) for movement in movements if movement.kind != MaterialMovement.Kind.CONSUMPTION]


# --- reversal ----------------------------------------------------------------------------------


def reversal_movements(*, original: Any, reversal: Any, rows: MaterialRows) -> list[MaterialMovement]:
    """Negate the movements of ``original`` for ``reversal`` and restore lots and components (in
    ``rows``); refuse (``output_consumed``) when its output has gone on. Call holding the order's lock."""
    movements = list(
        MaterialMovement.objects.select_related("item", "unit", "lot").filter(confirmation=original).order_by("pk")
    )
    if not movements:
        return []
    locked = lots_lock(pks=[movement.lot_id for movement in movements if movement.lot_id])
    components = {
        (component.item_id, component.operation_sequence): component
        for component in WorkOrderComponent.objects.filter(work_order=original.work_order_id, backflush=True)
    }
    negated = []
    for movement in movements:
        lot = locked.get(movement.lot_id) if movement.lot_id else None
        if lot is not None and movement.kind == MaterialMovement.Kind.RECEIPT and lot.quantity_on_hand < movement.quantity:
            raise DomainError(
                "output_consumed",
                _("%(kind)s %(lot)s of %(item)s has been used since (%(on_hand)s of %(quantity)s left); reverse that use first.")
                % {"kind": Lot.Kind(lot.kind).label, "lot": lot.code, "item": movement.item.code,
                   "on_hand": _plain(lot.quantity_on_hand), "quantity": _plain(movement.quantity)},
                kind=ErrorKind.CONFLICT,
                fields={"lot": lot.code},
            )
        back = _movement(
            reversal, kind=movement.kind, source=MaterialMovement.Source.REVERSAL, item=movement.item, lot=lot,
            quantity=-movement.quantity, unit=movement.unit, reverses=movement,
        )
        movement_apply_to_lot(movement=back)
        if lot is not None:
            rows.lots[lot.pk] = lot
        component = components.get((movement.item_id, original.operation.sequence))
        if movement.kind == MaterialMovement.Kind.ISSUE and component is not None:
            component.issued_qty -= movement.quantity
            rows.components[component.pk] = component
        negated.append(back)
    rows.movements += negated
    return negated


def movements_of(confirmation: Any) -> list[MaterialMovement]:
    """A confirmation's movements, kept on it when just recorded, else read."""
    kept = getattr(confirmation, "material_movements", None)
    if kept is not None:
        return kept
    return list(MaterialMovement.objects.select_related("item", "lot", "unit").filter(confirmation=confirmation).order_by("pk"))
