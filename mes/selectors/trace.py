"""Genealogy of a lot or serial: what it was made from (backward) and what was made from it (forward).

Genealogy is order-level: a lot produced by work order W was made from every lot net-issued to W
(posted issue movements; an issue whose reversal is posted does not count). So the graph has lots
as nodes and, as edges, the posted issue movements that no reversal cancelled: lot Y → W → every
lot W produced (``Lot.produced_by``).

Each direction is found by ONE recursive query (``WITH RECURSIVE``, the same text on PostgreSQL
and SQLite) that answers every edge with its movement and the lot it leads to; backward, three
set-based queries then load the producing orders' operations, their standing confirmations and
the machines among their stations. No query per node: the number of queries does not grow with
the tree. The walk stops at ``MAX_DEPTH`` levels, which also ends it in a cycle (a lot that was,
by a booking error, issued into its own making); the tree marks where it came back (``"cycle"``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from datetime import timezone as dt_timezone
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import connection
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from common.errors import DomainError, ErrorKind
from mes.models import Confirmation, Equipment, InspectionResult, Item, Lot, MaterialMovement, WorkOrder, WorkOrderOperation
from mes.models.base import QUANTITY

MAX_DEPTH = 50
BACKWARD, FORWARD = "backward", "forward"
DIRECTIONS = (BACKWARD, FORWARD)


def trace_lot_find(*, code: str, item: str | None = None) -> Lot:
    """The lot or serial ``code`` (of ``item``, when given). Raises ``unknown_lot`` (404), or
    ``ambiguous_code`` (422) when the code names lots of several items and no item was given."""
    lots = list(Lot.objects.select_related("item", "produced_by").filter(code=code, **({"item__code": item} if item else {}))[:50])
    if not lots:
        raise DomainError(
            "unknown_lot",
            _("No lot or serial %(code)s exists.") % {"code": code}
            if not item
            else _("No lot or serial %(code)s of item %(item)s exists.") % {"code": code, "item": item},
            kind=ErrorKind.NOT_FOUND,
            fields={"code": code},
        )
    if len(lots) > 1:
        items = sorted(lot.item.code for lot in lots)
        raise DomainError(
            "ambiguous_code",
            _("%(code)s is a lot or serial of several items (%(items)s); name the item.") % {"code": code, "items": ", ".join(items)},
            fields={"items": ", ".join(items)},
        )
    return lots[0]


def check_direction(direction: str) -> str:
    if direction not in DIRECTIONS:
        raise DomainError(
            "invalid_direction",
            _("The direction is backward or forward, not %(direction)s.") % {"direction": direction[:40]},
            fields={"direction": "backward | forward"},
        )
    return direction


def trace(*, code: str, item: str | None = None, direction: str = BACKWARD) -> dict[str, Any]:
    """The tree of ``code`` in ``direction`` (see the module docstring), as the API answers it."""
    check_direction(direction)
    root = trace_lot_find(code=code, item=item)
    return lot_trace(root, direction=direction)


def lot_trace(root: Lot, *, direction: str) -> dict[str, Any]:
    graph = _graph(root, direction=direction)
    return graph.backward_tree(root.pk) if direction == BACKWARD else graph.forward_tree(root.pk)


# --- the walk ----------------------------------------------------------------------------------


def _walk_sql(direction: str) -> str:
    """Rows (movement, from_lot, work_order, to_lot, depth), one per edge and depth it was reached at.

    UNION (not UNION ALL) drops a row already found, so a lot reached twice at the same depth is
    walked on once; the depth bound ends a cycle. Reversed issues are skipped where they are read
    (their reversal is a posted row pointing at them: the one-to-one index on ``reverses`` finds it).
    """
    quote = connection.ops.quote_name
    lot, movement = quote(Lot._meta.db_table), quote(MaterialMovement._meta.db_table)
    standing_issue = (
        f"m.kind = 'issue' AND m.state = 'posted' AND m.quantity > 0 AND m.lot_id IS NOT NULL "
        f"AND NOT EXISTS (SELECT 1 FROM {movement} r WHERE r.reverses_id = m.id AND r.state = 'posted')"
    )
    if direction == BACKWARD:
        # from the produced lot, through its order, to every lot issued to that order
        step = (
            f"SELECT m.id, w.to_lot, m.work_order_id, m.lot_id, w.depth + 1, m.quantity, m.recorded_at, m.operation_id FROM walk w "
            f"JOIN {lot} l ON l.id = w.to_lot "
            f"JOIN {movement} m ON m.work_order_id = l.produced_by_id "
            f"WHERE w.depth < %s AND {standing_issue}"
        )
    else:
        # from the consumed lot, through every order it was issued to, to every lot that order made
        # (none yet: the row still says where it went, and the walk stops there)
        step = (
            f"SELECT m.id, w.to_lot, m.work_order_id, p.id, w.depth + 1, m.quantity, m.recorded_at, m.operation_id FROM walk w "
            f"JOIN {movement} m ON m.lot_id = w.to_lot "
            f"LEFT JOIN {lot} p ON p.produced_by_id = m.work_order_id "
            f"WHERE w.depth < %s AND {standing_issue}"
        )
    order = quote(WorkOrder._meta.db_table)
    operation, item = quote(WorkOrderOperation._meta.db_table), quote(Item._meta.db_table)
    # Each edge comes back with what the tree shows of it: the issue (quantity, when, into which
    # operation of which order) and the lot it leads to (its item, code, kind, the order that made it).
    return (
        "WITH RECURSIVE walk(movement_id, from_lot, work_order_id, to_lot, depth, quantity, recorded_at, operation_id) AS ("
        "SELECT CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(%s AS BIGINT), 0, "
        f"CAST(NULL AS NUMERIC({QUANTITY['max_digits']},{QUANTITY['decimal_places']})), CAST(NULL AS TIMESTAMP WITH TIME ZONE), "
        "CAST(NULL AS BIGINT) "
        f"UNION {step}) "
        "SELECT w.movement_id, w.from_lot, w.work_order_id, w.to_lot, w.depth, w.quantity, w.recorded_at, o.sequence, wo.number, "
        "l.kind, i.code, l.code, l.produced_by_id, lw.number "
        f"FROM walk w JOIN {operation} o ON o.id = w.operation_id "
        f"JOIN {order} wo ON wo.id = w.work_order_id LEFT JOIN {lot} l ON l.id = w.to_lot "
        f"LEFT JOIN {item} i ON i.id = l.item_id LEFT JOIN {order} lw ON lw.id = l.produced_by_id"
    )


class LotRow(NamedTuple):
    """What a node shows of a lot: read as plain values, not as model instances (the tree may hold thousands)."""

    kind: str
    item: str
    code: str
    produced_by_id: int | None
    work_order: str | None


class Edge(NamedTuple):
    movement_id: int
    from_lot: int
    work_order_id: int
    to_lot: int | None


@dataclass
class Walk:
    """What the recursive query found: the edges, the lots they lead to, the issues they are."""

    edges: set[Edge] = field(default_factory=set)
    lots: dict[int, LotRow] = field(default_factory=dict)
    movements: dict[int, tuple[int, Decimal, datetime]] = field(default_factory=dict)  # id → (operation sequence, quantity, at)
    order_numbers: dict[int, str] = field(default_factory=dict)
    is_cut_short: bool = False


def trace_walk(root_id: int, *, direction: str, max_depth: int = MAX_DEPTH) -> Walk:
    """Every edge reachable from lot ``root_id`` in ``direction``, with its details (one query)."""
    with connection.cursor() as cursor:
        cursor.execute(_walk_sql(direction), [root_id, max_depth])
        rows = cursor.fetchall()
    walk = Walk()
    walked = {root_id}
    for movement_id, from_lot, order_id, to_lot, depth, quantity, at, sequence, number, kind, item, code, made_by, made_by_number in rows:
        walk.edges.add(Edge(movement_id, from_lot, order_id, to_lot))
        walk.movements[movement_id] = (sequence, _decimal(quantity), _aware(at))
        walk.order_numbers[order_id] = number
        if to_lot is not None:
            walk.lots[to_lot] = LotRow(kind, item, code, made_by, made_by_number)
            if depth < max_depth:
                walked.add(to_lot)
    # Cut short: a lot reached only at the last depth was not walked on (one reached earlier too,
    # as in a cycle, was).
    walk.is_cut_short = any(row[4] >= max_depth and row[3] is not None and row[3] not in walked for row in rows)
    return walk


def _decimal(value) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _aware(value) -> datetime:
    """A raw cursor on SQLite answers a naive UTC time (or its text); PostgreSQL an aware one."""
    if isinstance(value, str):
        value = parse_datetime(value)
    return value if timezone.is_aware(value) else value.replace(tzinfo=dt_timezone.utc)


def trace_edges(root_id: int, *, direction: str, max_depth: int = MAX_DEPTH) -> tuple[set[Edge], bool]:
    """Every edge reachable from lot ``root_id`` in ``direction``, and whether the depth bound cut the walk short."""
    walk = trace_walk(root_id, direction=direction, max_depth=max_depth)
    return walk.edges, walk.is_cut_short


# --- the details, set-based --------------------------------------------------------------------


@dataclass
class _Graph:
    lots: dict[int, LotRow]
    edges: set[Edge]
    movements: dict[int, tuple[int, Decimal, datetime]] = field(default_factory=dict)  # id → (operation sequence, quantity, at)
    operations: dict[int, list[tuple[int, int, str]]] = field(default_factory=dict)  # order → its (id, sequence, name)
    confirmations: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # operation → its standing confirmations
    inspections: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # operation → its inspection results
    order_numbers: dict[int, str] = field(default_factory=dict)
    is_cut_short: bool = False

    # -- backward

    def backward_tree(self, root_id: int) -> dict[str, Any]:
        # order → {lot: quantity}: each issue counted once, whichever produced lot led to it
        issued: dict[int, dict[int, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        seen: set[int] = set()
        for edge in self.edges:
            if edge.movement_id not in seen:
                seen.add(edge.movement_id)
                issued[edge.work_order_id][edge.to_lot] += self.movements[edge.movement_id][1]
        tree = self._backward_node(root_id, issued, ancestors=frozenset(), depth=0)
        if self.is_cut_short:
            tree["truncated"] = True
        return tree

    def _backward_node(
        self, lot_id: int, issued, *, ancestors: frozenset[int], depth: int, quantity: Decimal | None = None
    ) -> dict[str, Any]:
        lot = self.lots[lot_id]
        node = _node(lot)
        order_id = lot.produced_by_id
        node["produced_by"] = None if order_id is None else self._produced_by(lot)
        node["consumed"] = []
        if quantity is not None:
            node["quantity"] = quantity
        if lot_id in ancestors:
            node["cycle"] = True
            return node
        if order_id is None or depth >= MAX_DEPTH:
            return node
        children = issued.get(order_id, {})
        for child_id in sorted(children, key=lambda pk: (self.lots[pk].item, self.lots[pk].code)):
            node["consumed"].append(
                self._backward_node(child_id, issued, ancestors=ancestors | {lot_id}, depth=depth + 1, quantity=children[child_id])
            )
        return node

    def _produced_by(self, lot: LotRow) -> dict[str, Any]:
        return {
            "work_order": lot.work_order,
            "operations": [
                {
                    "sequence": sequence,
                    "name": name,
                    # copies: a shared order appears under every lot it made
                    "confirmations": [dict(row) for row in self.confirmations.get(operation_id, [])],
                    "inspections": [dict(row) for row in self.inspections.get(operation_id, [])],
                }
                for operation_id, sequence, name in self.operations.get(lot.produced_by_id, [])
            ],
        }

    # -- forward

    def forward_tree(self, root_id: int) -> dict[str, Any]:
        # lot → (order, operation) → {movement: (quantity, at)}, and order → the lots it made
        uses: dict[int, dict[tuple[int, int], dict[int, tuple[Decimal, datetime]]]] = defaultdict(lambda: defaultdict(dict))
        made: dict[int, set[int]] = defaultdict(set)
        for edge in self.edges:
            sequence, quantity, at = self.movements[edge.movement_id]
            uses[edge.from_lot][(edge.work_order_id, sequence)][edge.movement_id] = (quantity, at)
            if edge.to_lot is not None:
                made[edge.work_order_id].add(edge.to_lot)
        tree = self._forward_node(root_id, uses, made, ancestors=frozenset(), depth=0)
        if self.is_cut_short:
            tree["truncated"] = True
        return tree

    def _forward_node(self, lot_id: int, uses, made, *, ancestors: frozenset[int], depth: int) -> dict[str, Any]:
        node = _node(self.lots[lot_id])
        node["consumed_by"] = []
        if lot_id in ancestors:
            node["cycle"] = True
            return node
        if depth >= MAX_DEPTH:
            return node
        entries = []
        for (order_id, sequence), movements in uses.get(lot_id, {}).items():
            produced = sorted(made.get(order_id, ()), key=lambda pk: (self.lots[pk].item, self.lots[pk].code))
            entries.append(
                {
                    "work_order": self.order_numbers[order_id],
                    "operation": sequence,
                    "quantity": sum((quantity for quantity, _at in movements.values()), Decimal(0)),
                    "at": min(at for _quantity, at in movements.values()),
                    "produced": [
                        self._forward_node(pk, uses, made, ancestors=ancestors | {lot_id}, depth=depth + 1) for pk in produced
                    ],
                }
            )
        node["consumed_by"] = sorted(entries, key=lambda entry: (entry["at"], entry["work_order"], entry["operation"]))
        return node


def _node(lot: LotRow) -> dict[str, Any]:
    return {"kind": lot.kind, "item": lot.item, "code": lot.code}


def _ids(ids: set[int]) -> RawSQL:
    """``ids`` as one parameter for ``__in``: a tree may name hundreds of orders, and a list of that
    many parameters costs more to send and plan than the query to run."""
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", (sorted(ids),))
    return RawSQL("SELECT value FROM json_each(%s)", (json.dumps(sorted(ids)),))


def _graph(root: Lot, *, direction: str) -> _Graph:
    walk = trace_walk(root.pk, direction=direction)
    lots = {**walk.lots, root.pk: LotRow(root.kind, root.item.code, root.code, root.produced_by_id, root.produced_by.number if root.produced_by_id else None)}
    graph = _Graph(lots=lots, edges=walk.edges, movements=walk.movements, order_numbers=walk.order_numbers, is_cut_short=walk.is_cut_short)
    if direction == FORWARD:
        return graph
    order_ids = {lot.produced_by_id for lot in lots.values() if lot.produced_by_id is not None}
    operations = WorkOrderOperation.objects.filter(work_order_id__in=_ids(order_ids)).order_by("work_order_id", "sequence")
    for order_id, operation_id, sequence, name in operations.values_list("work_order_id", "pk", "sequence", "name"):
        graph.operations.setdefault(order_id, []).append((operation_id, sequence, name))
    standing = (
        Confirmation.objects.filter(work_order_id__in=_ids(order_ids), kind=Confirmation.Kind.CONFIRMATION, reversed_by__isnull=True)
        .order_by("confirmed_at", "id")
        .values_list("operation_id", "uuid", "confirmed_at", "operator__badge", "station", "good_qty", "scrap_qty")
    )
    rows = list(standing)
    stations = {station for *_rest, station, _good, _scrap in rows if station}
    # A machine reports with its own code as the station (shopfloor.production).
    machines = set(Equipment.objects.filter(code__in=stations).values_list("code", flat=True)) if stations else set()
    for operation_id, confirmation_id, at, badge, station, good, scrap in rows:
        graph.confirmations.setdefault(operation_id, []).append(
            {
                "id": confirmation_id, "at": at, "operator_badge": badge, "equipment": station if station in machines else None,
                "station": station or None, "good_qty": good, "scrap_qty": scrap,
            }
        )
    results = (
        InspectionResult.objects.filter(work_order_id__in=_ids(order_ids))
        .order_by("recorded_at", "id")
        .values_list("operation_id", "uuid", "characteristic__code", "characteristic__name", "sample_no", "value", "passed", "serial", "lot", "recorded_at", "disposition")
    )
    for operation_id, result_id, code, name, sample_no, value, passed, serial, lot, at, disposition in results:
        graph.inspections.setdefault(operation_id, []).append(
            {
                "id": result_id, "characteristic": code, "name": name, "sample_no": sample_no, "value": value, "passed": passed,
                "serial": serial or None, "lot": lot or None, "at": at, "disposition": disposition or None,
            }
        )
    return graph
