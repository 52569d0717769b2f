"""Quality holds: placed on a work order (or one of its operations), a lot or a serial, and released.

What a hold stops is read elsewhere without reading hold rows: the service keeps
``on_quality_hold`` on the order and the operation (read with them by the confirmation path and
the order's transitions) and the lot's status (``hold``, which ``lot_check_usable`` refuses as
``lot_on_hold``) in step with the active holds. Every placing and release is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common.errors import DomainError, ErrorKind
from common.roles import may
from mes.models import Hold, Item, Lot, Status, WorkOrder, WorkOrderOperation
from mes.services.audit import event_record
from mes.services.materials import lots_lock
from mes.services.quality_stop import quality_stop_released
from mes.services.transitions import quality_hold_refusal, unknown_operation, work_order_lock

HOLDABLE = {Status.PLANNED, Status.RELEASED, Status.IN_PROGRESS, Status.PAUSED, Status.COMPLETED}


@dataclass(frozen=True)
class HoldRequest:
    reason: str
    work_order: str = ""
    operation: int | None = None
    lot: str = ""
    serial: str = ""
    item: str = ""  # names the item when a lot code alone is not unique


def _target_check(request: HoldRequest) -> None:
    named = [name for name in ("work_order", "lot", "serial") if getattr(request, name)]
    if len(named) != 1:
        raise DomainError(
            "hold_target_required",
            _("Name exactly one of work_order, lot or serial to hold."),
            fields={"target": ", ".join(named) or "none"},
        )
    if request.operation is not None and not request.work_order:
        raise DomainError(
            "operation_without_work_order", _("An operation is held with its work order: name the work_order too."), fields={"operation": str(request.operation)}
        )
    if not request.reason.strip():
        raise DomainError("reason_required", _("Say why: a hold needs a reason."), fields={"reason": "required"})


def _lot_find(request: HoldRequest) -> Lot:
    kind, code = (Lot.Kind.SERIAL, request.serial) if request.serial else (Lot.Kind.LOT, request.lot)
    field = "serial" if request.serial else "lot"
    lots = Lot.objects.filter(code=code, kind=kind)
    if request.item:
        item = Item.objects.filter(code=request.item).first()
        if item is None:
            raise DomainError("unknown_item", _("Item %(item)s does not exist.") % {"item": request.item}, fields={"item": request.item})
        lots = lots.filter(item=item)
    found = list(lots.values_list("pk", flat=True)[:2])
    if not found:
        raise DomainError(
            "lot_unknown", _("No %(kind)s %(code)s is known.") % {"kind": Lot.Kind(kind).label, "code": code}, kind=ErrorKind.NOT_FOUND,
            fields={field: code},
        )
    if len(found) > 1:
        raise DomainError(
            "ambiguous_lot", _("Several items have a %(kind)s %(code)s: name the item too.") % {"kind": Lot.Kind(kind).label, "code": code},
            fields={field: code, "item": "required"},
        )
    return lots_lock(pks=found)[found[0]]


def hold_flags_sync(*, work_order: WorkOrder) -> None:
    """Set the order's and its operations' hold flags from the active holds. Call holding the order's lock."""
    active = Hold.objects.filter(work_order=work_order, state=Hold.State.ACTIVE)
    on_order = active.filter(operation__isnull=True).exists()
    if work_order.on_quality_hold != on_order:
        work_order.on_quality_hold = on_order
        WorkOrder.objects.filter(pk=work_order.pk).update(on_quality_hold=on_order)
    held_operations = set(active.filter(operation__isnull=False).values_list("operation_id", flat=True))
    WorkOrderOperation.objects.filter(work_order=work_order, on_quality_hold=True).exclude(pk__in=held_operations).update(on_quality_hold=False)
    WorkOrderOperation.objects.filter(pk__in=held_operations, on_quality_hold=False).update(on_quality_hold=True)


def _key(hold: Hold) -> str:
    return str(hold.pk)


def hold_target(hold: Hold) -> dict[str, Any]:
    if hold.lot_id is not None:
        lot = hold.lot
        return {"kind": lot.kind, "item": lot.item.code, "code": lot.code}
    target = {"kind": "operation" if hold.operation_id else "work_order", "work_order": hold.work_order.number}
    if hold.operation_id:
        target["operation"] = hold.operation.sequence
    return target


def held_status(status: str) -> str:
    """The status of a lot under an active hold, from the one it would have without: a blocked lot stays
    blocked, any other is on hold."""
    return Lot.Status.BLOCKED if status == Lot.Status.BLOCKED else Lot.Status.HOLD


def lot_status_from_erp(*, lot: Lot, status: str, actor: Any = None) -> str:
    """The status to store when the ERP sends ``status`` for ``lot`` (locked by the caller). Under an active
    hold the lot stays held (``held_status``) and the ERP's status waits in the holds for their release
    (audited as ``status_after_hold``); without one, or on the ERP's own hold, it is the ERP's."""
    holds = Hold.objects.filter(lot=lot, state=Hold.State.ACTIVE)
    earlier = holds.order_by("pk").values_list("lot_status_before", flat=True).first()
    if earlier is None:
        return status
    if status != earlier:
        holds.update(lot_status_before=status)
        event_record(
            object_type="lot", object_key=f"{lot.item.code}/{lot.code}", action="status_after_hold", actor=actor,
            before={"status_after_hold": earlier}, after={"status_after_hold": status},
            reason=_("On hold in the MES: the status the ERP sent applies when the hold is released."),
        )
    return held_status(status)


@transaction.atomic
def hold_place(*, request: HoldRequest, actor: Any = None) -> Hold:
    """Place a quality hold (audited). A held order or operation takes no reports (``quality_hold``), a
    held order is neither released nor closed, a held lot or serial is not issued (``lot_on_hold``)."""
    _target_check(request)
    user = actor if getattr(actor, "is_authenticated", False) else None
    if request.work_order:
        work_order = work_order_lock(number=request.work_order)
        if work_order.status not in HOLDABLE:
            raise DomainError(
                "work_order_not_holdable",
                _("Work order %(number)s is %(status)s: there is nothing left to hold.")
                % {"number": work_order.number, "status": Status(work_order.status).label},
                kind=ErrorKind.CONFLICT, fields={"work_order": work_order.status},
            )
        operation = None
        if request.operation is not None:
            operation = WorkOrderOperation.objects.filter(work_order=work_order, sequence=request.operation).first()
            if operation is None:
                raise unknown_operation(number=work_order.number, sequence=request.operation)
        hold = Hold.objects.create(work_order=work_order, operation=operation, reason=request.reason.strip(), placed_by=user)
        hold_flags_sync(work_order=work_order)
    else:
        lot = _lot_find(request)
        earlier = Hold.objects.filter(lot=lot, state=Hold.State.ACTIVE).order_by("pk").first()
        before = earlier.lot_status_before if earlier is not None else lot.status
        hold = Hold.objects.create(lot=lot, lot_status_before=before, reason=request.reason.strip(), placed_by=user)
        if held_status(lot.status) != lot.status:
            Lot.objects.filter(pk=lot.pk).update(status=held_status(lot.status), updated_at=timezone.now())
        work_order = None
    event_record(
        object_type="hold", object_key=_key(hold), action="place", actor=actor, work_order=work_order,
        after={"target": hold_target(hold), "state": hold.state}, reason=hold.reason,
    )
    return hold


def hold_get_for_update(*, hold_id: int) -> Hold:
    hold = Hold.objects.select_related("work_order", "operation", "lot__item").filter(pk=hold_id).first()
    if hold is None:
        raise DomainError("unknown_hold", _("Hold %(id)s does not exist.") % {"id": hold_id}, kind=ErrorKind.NOT_FOUND, fields={"id": str(hold_id)})
    return hold


@transaction.atomic
def hold_release(*, hold_id: int, reason: str, actor: Any = None) -> Hold:
    """Release an active hold (audited): the order's and operation's flags follow the holds left, and a
    lot no other hold keeps gets back the status it had before the first of them."""
    if not reason.strip():
        raise DomainError("reason_required", _("Say why: a release needs a reason."), fields={"reason": "required"})
    hold = hold_get_for_update(hold_id=hold_id)
    work_order = work_order_lock(number=hold.work_order.number) if hold.work_order_id else None
    lot = lots_lock(pks=[hold.lot_id])[hold.lot_id] if hold.lot_id else None
    hold = Hold.objects.select_for_update(of=("self",)).select_related("work_order", "operation", "lot__item").get(pk=hold.pk)
    if hold.cause == Hold.Cause.QUALITY_STOP and not may(actor, "quality_stop.release"):
        raise DomainError(
            "quality_stop_release_forbidden",
            _("Hold %(id)s is a quality stop: only quality releases it.") % {"id": hold.pk},
            kind=ErrorKind.FORBIDDEN, fields={"cause": hold.cause},
        )
    if hold.state != Hold.State.ACTIVE:
        raise DomainError(
            "hold_not_active", _("Hold %(id)s was already released.") % {"id": hold.pk}, kind=ErrorKind.CONFLICT, fields={"state": hold.state}
        )
    hold.state = Hold.State.RELEASED
    hold.released_at = timezone.now()
    hold.released_by = actor if getattr(actor, "is_authenticated", False) else None
    hold.release_reason = reason.strip()[:500]
    hold.save(update_fields=["state", "released_at", "released_by", "release_reason"])
    if work_order is not None:
        hold_flags_sync(work_order=work_order)
    if hold.cause == Hold.Cause.QUALITY_STOP and work_order is not None:
        quality_stop_released(hold=hold, work_order=work_order, actor=actor)
    if lot is not None and lot.status == Lot.Status.HOLD and not Hold.objects.filter(lot=lot, state=Hold.State.ACTIVE).exists():
        Lot.objects.filter(pk=lot.pk).update(status=hold.lot_status_before or Lot.Status.AVAILABLE, updated_at=timezone.now())
    event_record(
        object_type="hold", object_key=_key(hold), action="release", actor=actor, work_order=work_order,
        before={"state": Hold.State.ACTIVE}, after={"target": hold_target(hold), "state": hold.state, "cause": hold.cause}, reason=hold.release_reason,
    )
    return hold

