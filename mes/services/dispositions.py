"""Dispositions of nonconformances: what quality decides for an NCR's pieces, in one transaction each.

- ``scrap``: a scrap confirmation with the NCR's defect code on its operation, booked by the
  confirmation service (``disposition_confirm``), so it reaches the ERP through the outbox
  like any scrap; the pieces leave the hold and go no further (``rejected_qty``).
- ``use_as_is``: a concession; the pieces leave the hold and go on, the approver recorded.
- ``return_to_supplier``: the NCR's lot is blocked and a ``return_to_supplier`` message is queued
  for the ERP (its own partition per lot: a connector that cannot book it dead-letters it without
  holding up the order's reports); the pieces leave the hold and go no further.
- every disposition also queues a ``nonconformance_disposition`` message (the decision as the
  ERP's quality record, ``mes.services.quality_messages``), after the confirmation it booked.
- ``rework``: the pieces go through their operation again: a rework confirmation with the defect
  code reaches the ERP, and they stay on hold until a result of the operation judges them again
  (``rework_reinspected``: the failed characteristic, or any of the operation's for an NCR opened
  by hand). A failing re-inspection opens an NCR of its own.

A disposition may decide part of the NCR's quantity; the NCR is dispositioned once all of it is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from common.errors import DomainError, ErrorKind
from common.formatting import plain
from erp_sync.outbox import outbox_add
from mes.models import Lot, Nonconformance, NonconformanceDisposition, OrderCharacteristic, WorkOrder, WorkOrderOperation
from mes.services.audit import event_record
from mes.services.confirmations import ConfirmationRequest, disposition_confirm
from mes.services.materials import lots_lock
from mes.services.nonconformances import defect_code_find, nonconformance_key, nonconformance_lock
from mes.services.quality_messages import disposition_queue

Kind = NonconformanceDisposition.Kind
State = Nonconformance.State
# The scrap confirmation's client_id is derived from the disposition's, so it is recognised if ever sent again.
DISPOSITION_NAMESPACE = uuid.UUID("3b9e2f4a-7c1d-4e8b-a5f6-0d2c4b6e8a17")
RETURN_TO_SUPPLIER = "return_to_supplier"  # the outbox kind


@dataclass(frozen=True)
class DispositionRequest:
    disposition: str
    reason: str
    quantity: Decimal | None = None  # None: all that is still open
    defect_code: str = ""  # for scrap of an NCR opened without one (a failed inspection)


def _quantity(nonconformance: Nonconformance, quantity: Decimal | None) -> Decimal:
    open_qty = nonconformance.open_qty
    if quantity is None:
        return open_qty
    if quantity <= 0 or quantity > open_qty:
        raise DomainError(
            "quantity_exceeds_open",
            _("Nonconformance %(id)s has %(open)s still to decide; a disposition takes more than 0 and at most that, not %(quantity)s.")
            % {"id": nonconformance.pk, "open": plain(quantity=open_qty), "quantity": plain(quantity=quantity)},
            fields={"quantity": f"at most {plain(quantity=open_qty)}"},
        )
    return quantity


def _booked(nonconformance: Nonconformance, work_order: WorkOrder, decision: NonconformanceDisposition, request: DispositionRequest, actor: Any) -> None:
    """Book the decided pieces as scrap or rework of the NCR's operation, with its defect code."""
    if request.defect_code:
        nonconformance.defect_code = defect_code_find(code=request.defect_code)
    if nonconformance.defect_code is None:
        raise DomainError(
            "defect_code_required",
            _("Nonconformance %(id)s has no defect code yet: name the defect_code the scrap or rework is booked with.") % {"id": nonconformance.pk},
            fields={"defect_code": "required"},
        )
    quantity = "scrap_qty" if decision.disposition == Kind.SCRAP else "rework_qty"
    decision.confirmation = disposition_confirm(
        request=ConfirmationRequest(
            client_id=uuid.uuid5(DISPOSITION_NAMESPACE, str(decision.uuid)), work_order=work_order.number,
            operation=nonconformance.operation.sequence, reason_code=nonconformance.defect_code.code,
            labor_minutes=Decimal(0), **{quantity: decision.quantity},
        ),
        actor=actor,
    )


def _reinspectable(nonconformance: Nonconformance) -> None:
    if not OrderCharacteristic.objects.filter(operation_id=nonconformance.operation_id).exists():
        raise DomainError(
            "reinspection_impossible",
            _("Operation %(sequence)04d has no inspection characteristic to judge reworked pieces again: decide scrap or use as is.")
            % {"sequence": nonconformance.operation.sequence},
            fields={"disposition": Kind.REWORK},
        )


def _lot_of(nonconformance: Nonconformance) -> Lot:
    if not nonconformance.lot:
        raise DomainError(
            "lot_required",
            _("Nonconformance %(id)s names no lot: only a lot is returned to its supplier.") % {"id": nonconformance.pk},
            fields={"lot": "required"},
        )
    found = list(Lot.objects.filter(code=nonconformance.lot, kind=Lot.Kind.LOT).values_list("pk", flat=True)[:2])
    if len(found) != 1:
        raise DomainError(
            "lot_unknown" if not found else "ambiguous_lot",
            _("Lot %(lot)s is not one known lot; it cannot be returned to its supplier.") % {"lot": nonconformance.lot},
            fields={"lot": nonconformance.lot},
        )
    return lots_lock(pks=found)[found[0]]


def _return_to_supplier(nonconformance: Nonconformance, work_order: WorkOrder, decision: NonconformanceDisposition, request: DispositionRequest) -> None:
    lot = _lot_of(nonconformance)
    if lot.status != Lot.Status.BLOCKED:
        Lot.objects.filter(pk=lot.pk).update(status=Lot.Status.BLOCKED, updated_at=timezone.now())
    outbox_add(
        kind=RETURN_TO_SUPPLIER,
        partition_key=f"{RETURN_TO_SUPPLIER}:{lot.item.code}/{lot.code}",  # the lot is locked: one writer of it
        source_uuid=decision.uuid,
        idempotency_key=decision.uuid,
        payload={
            "type": RETURN_TO_SUPPLIER,
            "disposition_id": str(decision.uuid),
            "nonconformance": nonconformance.pk,
            "work_order": work_order.number,
            "operation": nonconformance.operation.sequence,
            "item": lot.item.code,
            "lot": lot.code,
            "supplier_lot": lot.supplier_lot,
            "quantity": str(decision.quantity.quantize(Decimal("0.001"))),
            "unit": lot.unit.code,
            "defect_code": nonconformance.defect_code.code if nonconformance.defect_code_id else None,
            "reason": decision.reason,
        },
    )


@transaction.atomic
def nonconformance_disposition(*, nonconformance_id: int, request: DispositionRequest, actor: Any = None) -> NonconformanceDisposition:
    """Decide part or all of an open NCR's quantity (audited); refusals leave nothing behind."""
    if request.disposition not in Kind.values:
        raise DomainError(
            "unknown_disposition",
            _("Unknown disposition %(disposition)s; use one of %(choices)s.") % {"disposition": request.disposition, "choices": ", ".join(Kind.values)},
            fields={"disposition": request.disposition},
        )
    if not request.reason.strip():
        raise DomainError("reason_required", _("Say why: a disposition needs a reason."), fields={"reason": "required"})
    nonconformance, work_order = nonconformance_lock(nonconformance_id=nonconformance_id)
    if nonconformance.state != State.OPEN:
        raise DomainError(
            "nonconformance_not_open",
            _("Nonconformance %(id)s is %(state)s: there is nothing left to decide.") % {"id": nonconformance.pk, "state": State(nonconformance.state).label},
            kind=ErrorKind.CONFLICT,
            fields={"state": nonconformance.state},
        )
    if nonconformance.source == Nonconformance.Source.QUALITY_STOP:
        raise DomainError(
            "quality_stop_nonconformance",
            _("Nonconformance %(id)s records a quality stop, not pieces: release the stop (its hold) with a reason to close it.")
            % {"id": nonconformance.pk},
            kind=ErrorKind.CONFLICT, fields={"source": nonconformance.source},
        )
    if request.disposition == Kind.REWORK:
        _reinspectable(nonconformance)
    decision = NonconformanceDisposition(
        nonconformance=nonconformance, disposition=request.disposition, quantity=_quantity(nonconformance, request.quantity),
        reason=request.reason.strip()[:500], decided_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    if request.disposition in (Kind.SCRAP, Kind.REWORK):
        _booked(nonconformance, work_order, decision, request, actor)
    elif request.disposition == Kind.RETURN_TO_SUPPLIER:
        _return_to_supplier(nonconformance, work_order, decision, request)
    decision.save()
    changes = {}
    if request.disposition != Kind.REWORK:  # reworked pieces stay on hold until judged again
        changes["held_qty"] = F("held_qty") - decision.quantity
    if request.disposition in (Kind.SCRAP, Kind.RETURN_TO_SUPPLIER):  # it goes no further
        changes["rejected_qty"] = F("rejected_qty") + decision.quantity
    if decision.confirmation is not None:  # booked again: the pieces count once in what the operation did
        changes["disposed_qty"] = F("disposed_qty") + decision.quantity
    WorkOrderOperation.objects.filter(pk=nonconformance.operation_id).update(**changes)
    before_state = nonconformance.state
    nonconformance.dispositioned_qty += decision.quantity
    if nonconformance.dispositioned_qty == nonconformance.quantity:
        nonconformance.state = State.DISPOSITIONED
    nonconformance.save(update_fields=["dispositioned_qty", "state", "defect_code"])
    if nonconformance.inspection_result_id is not None and nonconformance.state == State.DISPOSITIONED:
        kinds = set(nonconformance.dispositions.values_list("disposition", flat=True))
        type(nonconformance.inspection_result).objects.filter(pk=nonconformance.inspection_result_id).update(
            disposition=kinds.pop() if len(kinds) == 1 else "mixed"
        )
    approver = actor.get_username() if getattr(actor, "is_authenticated", False) else None
    disposition_queue(decision=decision, nonconformance=nonconformance, work_order=work_order, approver=approver)
    event_record(
        object_type="nonconformance", object_key=nonconformance_key(nonconformance), action="disposition", actor=actor, work_order=work_order,
        before={"state": before_state, "dispositioned_qty": plain(quantity=nonconformance.dispositioned_qty - decision.quantity)},
        after={
            "state": nonconformance.state, "dispositioned_qty": plain(quantity=nonconformance.dispositioned_qty),
            "disposition": decision.disposition, "quantity": plain(quantity=decision.quantity), "disposition_id": str(decision.uuid),
            "defect_code": nonconformance.defect_code.code if nonconformance.defect_code_id else None,
            "confirmation": str(decision.confirmation.uuid) if decision.confirmation_id else None,
            "approved_by": approver,
        },
        reason=decision.reason,
    )
    return decision
