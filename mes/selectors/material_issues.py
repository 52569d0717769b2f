"""Reads of lots and material issues for the API and the station."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.utils.translation import gettext as _

from common.errors import DomainError, ErrorKind
from mes.models import Lot, MaterialMovement, WorkOrderComponent


def lot_get(*, item_code: str, lot_code: str) -> Lot:
    """One lot with its item, unit and the order that made it, or 404 ``unknown_lot``."""
    lot = Lot.objects.select_related("item", "unit", "produced_by").filter(item__code=item_code, code=lot_code).first()
    if lot is None:
        raise DomainError(
            "unknown_lot",
            _("Item %(item)s has no lot %(lot)s.") % {"item": item_code, "lot": lot_code},
            kind=ErrorKind.NOT_FOUND,
            fields={"lot": lot_code},
        )
    return lot


def material_issue_get(*, movement_id: uuid.UUID) -> MaterialMovement:
    """One movement with everything its JSON shows, or 404 ``unknown_material_issue``."""
    movement = (
        MaterialMovement.objects.select_related(
            "work_order", "operation", "item", "lot", "unit", "operator", "decided_by", "reverses", "confirmation", "reversed_by"
        )
        .filter(uuid=movement_id)
        .first()
    )
    if movement is None:
        raise DomainError(
            "unknown_material_issue",
            _("Material issue %(id)s does not exist.") % {"id": movement_id},
            kind=ErrorKind.NOT_FOUND,
            fields={"id": str(movement_id)},
        )
    return movement


def component_remaining(*, work_order: str, operation: int, item: str) -> Decimal | None:
    """What an operation still needs of a component (requirement less issued, not below zero);
    None when the order's operation has no such component."""
    component = (
        WorkOrderComponent.objects.filter(work_order__number=work_order, operation_sequence=operation, item__code=item)
        .order_by("position")
        .first()
    )
    if component is None:
        return None
    return max(component.required_qty - component.issued_qty, Decimal(0))
