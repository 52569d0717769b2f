"""Applying a ``ProcessOperationsSchedule``: each OperationsRequest an idempotent work-order upsert.

The same writes as the push API (``PUT /api/v1/work-orders/{number}`` → ``mes.services.work_orders.
work_order_upsert``; the routing through ``mes.services.master_data.routing_upsert``), one order at a
time, each in a transaction of its own: a refused order (an unknown item or work center, a finished
order, a quantity below what was reported …) leaves nothing of itself behind and holds back no other.
A schedule posted again changes nothing.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from common.errors import DomainError, ErrorKind
from erp_sync.b2mml.schedule import OrderOutcome, ScheduledOrder, schedule_orders
from mes.models import Item, RoutingOperation
from mes.services.master_data import routing_upsert
from mes.services.work_orders import work_order_upsert

KEY_MAX_LENGTH = 64
#: What the work-order table holds: 14 digits, 3 of them decimals.
QUANTITY_PLACES = 3
QUANTITY_MAX = Decimal("99999999999.999")


def operations_schedule_apply(*, root: ET.Element, actor: Any, routing_allowed: bool) -> list[OrderOutcome]:
    """Upsert the work order (and its item's routing) of each OperationsRequest in ``root``, a valid
    ProcessOperationsSchedule; one outcome per request, in document order.

    ``routing_allowed``: whether the caller may change routings (``master_data.write``); without it, an
    order whose segments would change its item's routing is refused (an unchanged routing is fine).
    """
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    outcomes = []
    for order in schedule_orders(root):
        try:
            with transaction.atomic():
                outcomes.append(_order_apply(order, actor=actor, routing_allowed=routing_allowed, zone=zone))
        except DomainError as error:
            outcomes.append(OrderOutcome(order.number, accepted=False, code=error.code, message=error.message))
    return outcomes


def _order_apply(order: ScheduledOrder, *, actor: Any, routing_allowed: bool, zone: zoneinfo.ZoneInfo) -> OrderOutcome:
    where = {"line": str(order.line)} if order.line else {}
    if order.problem:
        raise DomainError("b2mml_order_incomplete", order.problem, fields=where)
    if not order.number or len(order.number) > KEY_MAX_LENGTH:
        raise DomainError("invalid_number", _("A work-order number has 1 to 64 characters."), fields=where)
    quantity = order.quantity
    if quantity is None or not Decimal("0.001") <= quantity <= QUANTITY_MAX or quantity != round(quantity, QUANTITY_PLACES):
        raise DomainError(
            "invalid_quantity", _("The quantity must be from 0.001 to 99999999999.999, with at most 3 decimals."), fields=where,
        )
    item = Item.objects.select_related("unit").filter(code=order.item).first()
    if item is not None and order.unit and order.unit != item.unit.code:
        raise DomainError(
            "unit_mismatch",
            _("Item %(item)s is counted in %(unit)s, not %(given)s.") % {"item": item.code, "unit": item.unit.code, "given": order.unit},
            fields=where,
        )
    if order.operations:
        result = routing_upsert(item_code=order.item, operations=_routing(order), actor=actor)
        if result.changed and not routing_allowed:
            raise DomainError(
                "routing_not_allowed",
                _("The segment requirements would change the routing of item %(item)s, which your role may not do (master_data.write).")
                % {"item": order.item},
                kind=ErrorKind.FORBIDDEN,
                fields=where,
            )
    due_date = order.due.astimezone(zone).date() if isinstance(order.due, dt.datetime) else order.due
    result = work_order_upsert(
        number=order.number, item=order.item, quantity=quantity, due_date=due_date, priority=order.priority, actor=actor
    )
    return OrderOutcome(order.number, accepted=True, created=result.created, changed=result.changed)


def _routing(order: ScheduledOrder) -> list[dict[str, Any]]:
    """The operations for ``routing_upsert``; the times the item's routing already has for a sequence are kept
    (a schedule names the work, not its standard times)."""
    kept = {
        operation.sequence: operation
        for operation in RoutingOperation.objects.filter(routing__item__code=order.item)
    }
    operations = []
    for operation in order.operations:
        if not 1 <= operation.sequence <= 9999:
            raise DomainError("invalid_sequence", _("An operation's sequence is a whole number from 1 to 9999."), fields={"sequence": operation.sequence})
        if not operation.name or len(operation.name) > 200:
            raise DomainError("invalid_operation_name", _("An operation needs a name of up to 200 characters."), fields={"sequence": operation.sequence})
        before = kept.get(operation.sequence)
        operations.append({
            "sequence": operation.sequence,
            "name": operation.name,
            "work_center": operation.work_center,
            "setup_minutes": before.setup_minutes if before else Decimal(0),
            "run_minutes_per_unit": before.run_minutes_per_unit if before else Decimal(0),
            "quality_checkpoint": before.quality_checkpoint if before else False,
        })
    return operations
