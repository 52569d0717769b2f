"""Nonconformance reports (NCR): opened by a failing inspection result or by hand, closed once decided.

States: open → dispositioned (once its whole quantity is decided, ``mes.services.dispositions``)
→ closed. An NCR's quantity is on quality hold at its operation (``held_qty``) until decided:
later operations cannot take it. Every step is audited (object type ``nonconformance``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from common.errors import DomainError, ErrorKind
from common.formatting import plain
from mes.models import InspectionResult, Nonconformance, NonconformanceDisposition, ReasonCode, Status, WorkOrder, WorkOrderOperation
from mes.services.audit import event_record
from mes.services.transitions import unknown_operation, work_order_lock

State = Nonconformance.State
OPEN_FOR_NONCONFORMANCE = {Status.RELEASED, Status.IN_PROGRESS, Status.PAUSED, Status.COMPLETED}


@dataclass(frozen=True)
class NonconformanceRequest:
    work_order: str
    operation: int
    quantity: Decimal
    defect_code: str
    description: str = ""
    serial: str = ""
    lot: str = ""


def defect_code_find(*, code: str) -> ReasonCode:
    """The reason code ``code`` of kind defect: 422 ``unknown_defect_code`` or ``defect_code_wrong_kind``."""
    reason = ReasonCode.objects.filter(code=code).first()
    if reason is None:
        raise DomainError("unknown_defect_code", _("Defect code %(code)s does not exist.") % {"code": code}, fields={"defect_code": code})
    if reason.kind != ReasonCode.Kind.DEFECT:
        raise DomainError(
            "defect_code_wrong_kind",
            _("Reason code %(code)s is a %(kind)s reason, not a defect code.") % {"code": code, "kind": reason.get_kind_display()},
            fields={"defect_code": code},
        )
    return reason


def nonconformance_key(nonconformance: Nonconformance) -> str:
    return str(nonconformance.pk)


def _operation_find(work_order: WorkOrder, sequence: int) -> WorkOrderOperation:
    operation = WorkOrderOperation.objects.filter(work_order=work_order, sequence=sequence).first()
    if operation is None:
        raise unknown_operation(number=work_order.number, sequence=sequence)
    return operation


def _opened_event(nonconformance: Nonconformance, work_order: WorkOrder, operation: WorkOrderOperation, actor: Any, actor_label: str = "") -> None:
    event_record(
        object_type="nonconformance", object_key=nonconformance_key(nonconformance), action="open", actor=actor, actor_label=actor_label,
        work_order=work_order,
        after={
            "state": nonconformance.state, "source": nonconformance.source, "operation": operation.sequence,
            "quantity": plain(quantity=nonconformance.quantity),
            "defect_code": nonconformance.defect_code.code if nonconformance.defect_code_id else None,
            "description": nonconformance.description, "serial": nonconformance.serial, "lot": nonconformance.lot,
            "inspection_result": str(nonconformance.inspection_result.uuid) if nonconformance.inspection_result_id else None,
        },
    )


@transaction.atomic
def nonconformance_open(*, request: NonconformanceRequest, actor: Any = None) -> Nonconformance:
    """Open an NCR by hand on pieces an operation reported good (audited): its quantity goes on hold
    at the operation until a disposition decides it."""
    work_order = work_order_lock(number=request.work_order)
    if work_order.status not in OPEN_FOR_NONCONFORMANCE:
        raise DomainError(
            "work_order_not_open",
            _("Work order %(number)s is %(status)s; nonconformances are reported on released orders only.")
            % {"number": work_order.number, "status": Status(work_order.status).label},
            kind=ErrorKind.CONFLICT,
            fields={"work_order": work_order.status},
        )
    operation = _operation_find(work_order, request.operation)
    defect = defect_code_find(code=request.defect_code)
    free = operation.good_qty - operation.rejected_qty - operation.held_qty
    if request.quantity <= 0 or request.quantity > free:
        raise DomainError(
            "quantity_exceeds_good",
            _("Operation %(sequence)04d of %(number)s has %(free)s good pieces not yet on hold; a nonconformance takes from 0 to that many, not %(quantity)s.")
            % {"sequence": operation.sequence, "number": work_order.number, "free": plain(quantity=max(free, Decimal(0))), "quantity": plain(quantity=request.quantity)},
            fields={"quantity": f"at most {plain(quantity=max(free, Decimal(0)))}"},
        )
    nonconformance = Nonconformance.objects.create(
        source=Nonconformance.Source.MANUAL, work_order=work_order, operation=operation, quantity=request.quantity, defect_code=defect,
        description=request.description, serial=request.serial, lot=request.lot,
        opened_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    WorkOrderOperation.objects.filter(pk=operation.pk).update(held_qty=F("held_qty") + request.quantity)
    _opened_event(nonconformance, work_order, operation, actor)
    return nonconformance


def nonconformance_open_for_result(*, result: InspectionResult, actor: Any = None, actor_label: str = "") -> Nonconformance:
    """Open the NCR of a failing result, whose quantity the result already put on hold. Call inside the
    result's transaction, holding its order's lock."""
    characteristic = result.characteristic
    measured = f" = {result.value.normalize():f}" if result.value is not None else ""
    nonconformance = Nonconformance.objects.create(
        source=Nonconformance.Source.INSPECTION, work_order=result.work_order, operation=result.operation, quantity=Decimal(result.quantity),
        description=_("Failed inspection: %(code)s (%(name)s), sample %(sample)s%(value)s")
        % {"code": characteristic.code, "name": characteristic.name, "sample": result.sample_no, "value": measured},
        serial=result.serial, lot=result.lot, inspection_result=result,
        opened_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    _opened_event(nonconformance, result.work_order, result.operation, actor, actor_label)
    return nonconformance


def unknown_nonconformance(*, nonconformance_id: int) -> DomainError:
    return DomainError(
        "unknown_nonconformance",
        _("Nonconformance %(id)s does not exist.") % {"id": nonconformance_id},
        kind=ErrorKind.NOT_FOUND,
        fields={"id": str(nonconformance_id)},
    )


def nonconformance_lock(*, nonconformance_id: int) -> tuple[Nonconformance, WorkOrder]:
    """Lock an NCR's order, then the NCR, for a change of it (the order's lock first, as every writer)."""
    number = Nonconformance.objects.filter(pk=nonconformance_id).values_list("work_order__number", flat=True).first()
    if number is None:
        raise unknown_nonconformance(nonconformance_id=nonconformance_id)
    work_order = work_order_lock(number=number)
    nonconformance = Nonconformance.objects.select_for_update(of=("self",)).select_related("operation", "defect_code").get(pk=nonconformance_id)
    return nonconformance, work_order


@transaction.atomic
def nonconformance_close(*, nonconformance_id: int, reason: str = "", actor: Any = None) -> Nonconformance:
    """Close a dispositioned NCR (audited); an open one is refused (409 ``nonconformance_not_dispositioned``)."""
    nonconformance, work_order = nonconformance_lock(nonconformance_id=nonconformance_id)
    if nonconformance.state != State.DISPOSITIONED:
        raise DomainError(
            "nonconformance_not_dispositioned",
            _("Nonconformance %(id)s is %(state)s: only a dispositioned one is closed (%(open)s still to decide).")
            % {"id": nonconformance.pk, "state": State(nonconformance.state).label, "open": plain(quantity=nonconformance.open_qty)},
            kind=ErrorKind.CONFLICT,
            fields={"state": nonconformance.state},
        )
    nonconformance.state = State.CLOSED
    nonconformance.closed_at = timezone.now()
    nonconformance.closed_by = actor if getattr(actor, "is_authenticated", False) else None
    nonconformance.save(update_fields=["state", "closed_at", "closed_by"])
    event_record(
        object_type="nonconformance", object_key=nonconformance_key(nonconformance), action="close", actor=actor, work_order=work_order,
        before={"state": State.DISPOSITIONED}, after={"state": State.CLOSED}, reason=reason,
    )
    return nonconformance


def rework_reinspected(*, result: InspectionResult, actor: Any = None, actor_label: str = "") -> NonconformanceDisposition | None:
    """Take ``result`` as the re-inspection of the oldest rework of its operation still waiting for one
    (of the characteristic that failed, or any for an NCR opened by hand; of its serial when the NCR
    names one): the reworked pieces leave the hold, whether the result passed or not (a failing result
    holds its own piece under an NCR of its own). Audited. Call inside the result's transaction,
    holding its order's lock; one query when no rework waits."""
    waiting = (
        NonconformanceDisposition.objects.filter(
            disposition=NonconformanceDisposition.Kind.REWORK, reinspection__isnull=True, nonconformance__operation_id=result.operation_id,
        )
        .select_related("nonconformance__inspection_result")
        .order_by("pk")
    )
    for decision in waiting:
        nonconformance = decision.nonconformance
        failed = nonconformance.inspection_result
        if failed is not None and failed.characteristic_id != result.characteristic_id:
            continue
        if nonconformance.serial and nonconformance.serial != result.serial:
            continue
        decision.reinspection = result
        decision.save(update_fields=["reinspection"])
        WorkOrderOperation.objects.filter(pk=result.operation_id).update(held_qty=F("held_qty") - decision.quantity)
        event_record(
            object_type="nonconformance", object_key=nonconformance_key(nonconformance), action="reinspect", actor=actor,
            actor_label=actor_label, work_order=result.work_order,
            after={"disposition_id": str(decision.uuid), "inspection_result": str(result.uuid), "passed": result.passed,
                   "released_qty": plain(quantity=decision.quantity)},
        )
        return decision
    return None
