"""Material issues by scan: a lot (or an untracked quantity) of a component handed to an order's
operation, checked, recorded, and reported to the ERP exactly once.

A posted issue writes its movement, adds it to the lot's and the order component's issued totals
and queues ONE ``goods_issue`` message, all in one transaction holding the order's lock (taken
first) and then the lot's (``mes.services.materials.lots_lock``), so the outbox numbers it in
order with the order's confirmations.

An issue beyond the requirement and its tolerance (``MES_OVER_ISSUE_TOLERANCE_PERCENT``) is recorded
as ``awaiting_approval``: nothing consumed, nothing queued, until a supervisor approves it (the lot
is checked again then) or rejects it. Deciding twice answers the decision already made; the other
decision is refused (409 ``material_issue_already_decided``).

A reversal is a new, negated movement that restores the lot and the component and queues a
``goods_issue_reversal``. Only issues by scan are reversed here: backflushed movements are taken
back by reversing their confirmation (``reverse_the_confirmation``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common.errors import DomainError, ErrorKind
from common.fingerprints import request_fingerprint
from erp_sync.outbox import OutboxMessage, outbox_add
from mes.models import (
    Employee,
    MaterialMovement,
    Status,
    WorkCenter,
    WorkOrder,
    WorkOrderComponent,
    WorkOrderOperation,
)
from mes.selectors.material_issues import material_issue_get
from mes.services.audit import event_record
from mes.services.confirmations import (
    OPEN_FOR_CONFIRMATION,
    client_id_check_same,
    operation_check_work_center,
    plain,
    unknown_operation,
    unknown_operator,
    work_order_check_released,
    work_order_not_finished,
)
from mes.services.materials import (
    goods_message,
    lot_check_usable,
    lot_find,
    lots_lock,
    movement_apply_to_lot,
    receipts_awaited,
    staged_quantities,
)
from mes.services.transitions import work_order_lock

ZERO = Decimal(0)


@dataclass(frozen=True)
class MaterialIssueRequest:
    client_id: uuid.UUID
    work_order: str
    operation: int
    item: str
    quantity: Decimal
    lot: str = ""
    operator_badge: str = ""
    station: str = ""

    def fingerprint(self) -> str:
        """What makes two sends of one ``client_id`` "the same issue": every field."""
        return request_fingerprint(self)


@dataclass
class MaterialIssueResult:
    movement: MaterialMovement
    created: bool
    message: OutboxMessage | None = None  # the ERP message written with it, if posted now

    @property
    def is_awaiting_approval(self) -> bool:
        return self.movement.state == MaterialMovement.State.AWAITING_APPROVAL


# --- checks ----------------------------------------------------------------------------


def _check_quantity(quantity: Decimal) -> None:
    if quantity <= 0:
        raise DomainError("invalid_quantity", _("The quantity to issue must be more than zero."), fields={"quantity": str(quantity)})


def _operator(badge: str) -> Employee | None:
    if not badge:
        return None
    operator = Employee.objects.filter(badge=badge, is_active=True).first()
    if operator is None:
        raise unknown_operator(badge=badge)
    return operator


def _check_order_open(work_order: WorkOrder) -> None:
    work_order_check_released(work_order=work_order)
    if work_order.status not in OPEN_FOR_CONFIRMATION:
        raise DomainError(
            "work_order_not_open",
            _("Work order %(number)s is %(status)s; material is issued only to released or running orders.")
            % {"number": work_order.number, "status": Status(work_order.status).label},
            kind=ErrorKind.CONFLICT,
            fields={"work_order": work_order.status},
        )


def _operation(work_order: WorkOrder, sequence: int) -> WorkOrderOperation:
    operation = WorkOrderOperation.objects.select_related("work_center").filter(work_order=work_order, sequence=sequence).first()
    if operation is None:
        raise unknown_operation(number=work_order.number, sequence=sequence)
    operation.work_order = work_order
    return operation


def _component(work_order: WorkOrder, operation: WorkOrderOperation, item_code: str) -> WorkOrderComponent:
    """The order's component ``item_code`` consumed by ``operation`` (its BOM snapshot), or ``not_a_component``."""
    component = (
        WorkOrderComponent.objects.select_related("item__unit", "unit")
        .filter(work_order=work_order, operation_sequence=operation.sequence, item__code=item_code)
        .order_by("position")
        .first()
    )
    if component is None:
        raise DomainError(
            "not_a_component",
            _("%(item)s is not a component of operation %(sequence)04d of %(number)s.")
            % {"item": item_code, "sequence": operation.sequence, "number": work_order.number},
            fields={"item": item_code},
        )
    return component


def _component_of(movement: MaterialMovement) -> WorkOrderComponent:
    """The component a recorded movement counts against (locked by the caller's order lock)."""
    return (
        WorkOrderComponent.objects.filter(
            work_order_id=movement.work_order_id, operation_sequence=movement.operation.sequence, item_id=movement.item_id
        )
        .order_by("position")
        .first()
    )


def over_issue_limit(*, required: Decimal) -> Decimal:
    """The most an order may be issued of a component without a supervisor's approval."""
    tolerance = Decimal(settings.MES_OVER_ISSUE_TOLERANCE_PERCENT)
    return (required * (1 + tolerance / 100)).quantize(Decimal("0.001"))


# --- writes ------------------------------------------------------------------------------


def _post(movement: MaterialMovement, component: WorkOrderComponent, work_order: WorkOrder, *, reverses: uuid.UUID | None = None) -> OutboxMessage:
    """Consume a movement: the lot's and the component's totals, and its ERP message. Call holding
    the order's lock and the lot's (``lots_lock``), with ``movement.lot`` the locked row."""
    if movement.lot is not None:
        movement_apply_to_lot(movement=movement)
        movement.lot.save(update_fields=["issued_qty", "updated_at"])
    if component is not None:
        component.issued_qty += movement.quantity
        component.scanned_qty += movement.quantity
        component.save(update_fields=["issued_qty", "scanned_qty"])
    # An issue of a lot another order made waits for that order's receipt of it (a reversal gives back: it needn't).
    waits_for = receipts_awaited(lots=[movement.lot], work_order=work_order) if movement.quantity > 0 else None
    return outbox_add(
        **goods_message(
            movements=[movement], work_order=work_order, operation=movement.operation, document_id=movement.uuid, reverses=reverses,
            waits_for=waits_for,
        )
    )


def _locked_lot(movement: MaterialMovement) -> None:
    """Replace ``movement.lot`` by the same lot locked for an update of its totals."""
    if movement.lot_id is not None:
        movement.lot = lots_lock(pks=[movement.lot_id])[movement.lot_id]


def _replay(existing: MaterialMovement, request: MaterialIssueRequest) -> MaterialIssueResult:
    client_id_check_same(
        recorded_hash=existing.request_hash, fingerprint=request.fingerprint(), client_id=request.client_id,
        message=_("client_id %(client_id)s was already used for a different issue.") % {"client_id": request.client_id},
    )
    return MaterialIssueResult(existing, created=False)


def _actor_user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def material_issue(*, request: MaterialIssueRequest, actor: Any = None, work_center: WorkCenter | None = None) -> MaterialIssueResult:
    """Issue material to an order's operation, or answer the original for a known ``client_id``.

    Refusals raise ``DomainError`` and leave nothing behind. An issue beyond the tolerance is
    recorded ``awaiting_approval`` (``result.is_awaiting_approval``) and consumes nothing.
    A station passes its ``work_center``: an operation of another one is refused (``other_work_center``).
    """
    try:
        with transaction.atomic():
            work_order = work_order_lock(number=request.work_order)
            existing = MaterialMovement.objects.filter(client_id=request.client_id).first()
            if existing is not None:
                return _replay(existing, request)
            return _record(request, work_order, actor, work_center)
    except (DomainError, IntegrityError):
        # A resend of a recorded issue is answered even if the order has moved on since; an
        # IntegrityError: the same client_id recorded at the same moment against another order.
        existing = MaterialMovement.objects.filter(client_id=request.client_id).first()
        if existing is None:
            raise
        return _replay(existing, request)


def _record(request: MaterialIssueRequest, work_order: WorkOrder, actor: Any, work_center: WorkCenter | None) -> MaterialIssueResult:
    operator = _operator(request.operator_badge)
    _check_order_open(work_order)
    operation = _operation(work_order, request.operation)
    if work_center is not None:
        operation_check_work_center(operation=operation, work_center=work_center, number=work_order.number)
    component = _component(work_order, operation, request.item)
    _check_quantity(request.quantity)
    item = component.item
    lot = None
    if request.lot:
        lot = lot_find(item=item, code=request.lot)
        lot = lots_lock(pks=[lot.pk])[lot.pk]
        lot_check_usable(lot=lot, quantity=request.quantity)
    elif item.tracking != item.Tracking.NONE:
        raise DomainError(
            "lot_required",
            _("%(item)s is tracked by %(tracking)s: scan or name the lot to issue.") % {"item": item.code, "tracking": item.get_tracking_display()},
            fields={"lot": "required"},
        )
    is_over = component.issued_qty + request.quantity > over_issue_limit(required=component.required_qty)
    movement = MaterialMovement.objects.create(
        client_id=request.client_id,
        request_hash=request.fingerprint(),
        kind=MaterialMovement.Kind.ISSUE,
        source=MaterialMovement.Source.SCAN,
        state=MaterialMovement.State.AWAITING_APPROVAL if is_over else MaterialMovement.State.POSTED,
        work_order=work_order,
        operation=operation,
        item=item,
        lot=lot,
        quantity=request.quantity,
        unit=lot.unit if lot is not None else component.unit,
        operator=operator,
        station=request.station,
        required_qty=component.required_qty,
        issued_before_qty=component.issued_qty,
        recorded_by=_actor_user(actor),
    )
    message = None if is_over else _post(movement, component, work_order)
    event_record(
        object_type="material_issue", object_key=str(movement.uuid), action="issue", actor=actor,
        actor_label=request.operator_badge or request.station, work_order=work_order,
        after={"item": item.code, "lot": request.lot, "quantity": plain(quantity=request.quantity), "operation": operation.sequence, "state": movement.state},
    )
    return MaterialIssueResult(movement, created=True, message=message)


def _locked_movement(movement_id: uuid.UUID) -> tuple[WorkOrder, MaterialMovement]:
    """The order locked first, then the movement re-read under that lock."""
    movement = material_issue_get(movement_id=movement_id)
    work_order = work_order_lock(number=movement.work_order.number)
    movement = (
        MaterialMovement.objects.select_for_update(of=("self",))
        .select_related("operation__work_center", "item", "lot", "unit", "operator")
        .get(pk=movement.pk)
    )
    movement.work_order = work_order
    movement.operation.work_order = work_order
    return work_order, movement


def _decision(movement: MaterialMovement) -> str:
    if movement.state == MaterialMovement.State.REJECTED:
        return "reject"
    return "approve" if movement.decided_at is not None else ""


def _check_decidable(movement: MaterialMovement, decision: str) -> bool:
    """True when ``decision`` was made already (answer it again); refuse the other decision or a movement that needs none."""
    made = _decision(movement)
    if made == decision:
        return True
    if made:
        raise DomainError(
            "material_issue_already_decided",
            _("This issue was already %(decision)s.") % {"decision": _("approved") if made == "approve" else _("rejected")},
            kind=ErrorKind.CONFLICT,
            fields={"state": movement.state},
        )
    if movement.state != MaterialMovement.State.AWAITING_APPROVAL:
        raise DomainError(
            "not_awaiting_approval",
            _("This movement does not await approval."),
            kind=ErrorKind.CONFLICT,
            fields={"state": movement.state},
        )
    return False


def _decide(movement: MaterialMovement, *, state: str, reason: str, actor: Any) -> None:
    movement.state = state
    movement.decided_by = _actor_user(actor)
    movement.decided_at = timezone.now()
    movement.decision_reason = reason[:500]
    movement.save(update_fields=["state", "decided_by", "decided_at", "decision_reason"])


def material_issue_approve(*, movement_id: uuid.UUID, reason: str = "", actor: Any = None, actor_label: str = "") -> MaterialIssueResult:
    """Approve an over-issue: the lot is checked again (still usable, enough on hand), then the
    issue is consumed and queued as any other. Approving again answers the approval."""
    with transaction.atomic():
        work_order, movement = _locked_movement(movement_id)
        if _check_decidable(movement, "approve"):
            return MaterialIssueResult(movement, created=False)
        _check_order_open(work_order)
        _locked_lot(movement)
        if movement.lot is not None:
            lot_check_usable(lot=movement.lot, quantity=movement.quantity)
        _decide(movement, state=MaterialMovement.State.POSTED, reason=reason, actor=actor)
        message = _post(movement, _component_of(movement), work_order)
        event_record(
            object_type="material_issue", object_key=str(movement.uuid), action="approve", actor=actor, actor_label=actor_label,
            work_order=work_order, before={"state": MaterialMovement.State.AWAITING_APPROVAL},
            after={"state": movement.state, "quantity": plain(quantity=movement.quantity), "required": plain(quantity=movement.required_qty or ZERO)},
            reason=reason,
        )
    return MaterialIssueResult(movement, created=True, message=message)


def material_issue_reject(*, movement_id: uuid.UUID, reason: str = "", actor: Any = None, actor_label: str = "") -> MaterialIssueResult:
    """Reject an over-issue: it stays as a record of the refusal, nothing consumed. Rejecting again answers the rejection."""
    with transaction.atomic():
        work_order, movement = _locked_movement(movement_id)
        if _check_decidable(movement, "reject"):
            return MaterialIssueResult(movement, created=False)
        _decide(movement, state=MaterialMovement.State.REJECTED, reason=reason, actor=actor)
        event_record(
            object_type="material_issue", object_key=str(movement.uuid), action="reject", actor=actor, actor_label=actor_label,
            work_order=work_order, before={"state": MaterialMovement.State.AWAITING_APPROVAL}, after={"state": movement.state},
            reason=reason,
        )
    return MaterialIssueResult(movement, created=True)


def material_issue_reverse(*, movement_id: uuid.UUID, reason: str = "", actor: Any = None) -> MaterialIssueResult:
    """Reverse a posted issue by scan with a negated movement: the lot and the component get the
    quantity back and a ``goods_issue_reversal`` is queued. Reversing again answers the reversal."""
    with transaction.atomic():
        work_order, original = _locked_movement(movement_id)
        if original.source == MaterialMovement.Source.REVERSAL:
            raise DomainError(
                "cannot_reverse_reversal",
                _("This movement is itself a reversal; issue the material again instead."),
                kind=ErrorKind.CONFLICT,
                fields={"id": str(original.uuid)},
            )
        if original.source != MaterialMovement.Source.SCAN:
            raise DomainError(
                "reverse_the_confirmation",
                _("This movement was made by a confirmation; reverse that confirmation to take it back."),
                kind=ErrorKind.CONFLICT,
                fields={"confirmation": str(original.confirmation.uuid) if original.confirmation_id else ""},
            )
        existing = MaterialMovement.objects.filter(reverses=original).first()
        if existing is not None:
            return MaterialIssueResult(existing, created=False)
        if original.state != MaterialMovement.State.POSTED:
            raise DomainError(
                "material_issue_not_posted",
                _("Only a posted issue can be reversed; this one is %(state)s.") % {"state": MaterialMovement.State(original.state).label},
                kind=ErrorKind.CONFLICT,
                fields={"state": original.state},
            )
        work_order_not_finished(work_order=work_order)
        _check_not_consumed(original)
        _locked_lot(original)
        reversal = MaterialMovement.objects.create(
            kind=MaterialMovement.Kind.ISSUE,
            source=MaterialMovement.Source.REVERSAL,
            state=MaterialMovement.State.POSTED,
            work_order=work_order,
            operation=original.operation,
            item=original.item,
            lot=original.lot,
            quantity=-original.quantity,
            unit=original.unit,
            reverses=original,
            operator=original.operator,
            station=original.station,
            decision_reason=reason[:500],
            recorded_by=_actor_user(actor),
        )
        message = _post(reversal, _component_of(original), work_order, reverses=original.uuid)
        event_record(
            object_type="material_issue", object_key=str(original.uuid), action="reverse", actor=actor, work_order=work_order,
            before={"state": original.state}, after={"reversal": str(reversal.uuid), "quantity": plain(quantity=reversal.quantity)},
            reason=reason,
        )
    return MaterialIssueResult(reversal, created=True, message=message)


def _check_not_consumed(original: MaterialMovement) -> None:
    """Refuse to take back into stock what reports have consumed of the issue since (``issue_consumed``):
    what is left of its lot on the line, for its order, operation and item, must cover it."""
    key = (original.work_order_id, original.operation.sequence, original.item_id)
    left = dict(staged_quantities(components=[key]).get(key, [])).get(original.lot_id, Decimal(0))
    if left < original.quantity:
        raise DomainError(
            "issue_consumed",
            _("Reports have used %(used)s of the %(quantity)s issued since; reverse those reports first.")
            % {"used": plain(quantity=original.quantity - left), "quantity": plain(quantity=original.quantity)},
            kind=ErrorKind.CONFLICT,
            fields={"id": str(original.uuid), "left": plain(quantity=left)},
        )


def over_issue_summary(*, movement: MaterialMovement) -> dict[str, Any]:
    """What the supervisor is asked to decide on an issue awaiting approval, in words and figures."""
    return {
        "code": "over_issue_needs_approval",
        "message": _(
            "Issuing %(requested)s of %(item)s goes beyond the requirement of %(required)s (%(issued)s issued already): "
            "a supervisor must approve it."
        )
        % {
            "requested": plain(quantity=movement.quantity),
            "item": movement.item.code,
            "required": plain(quantity=movement.required_qty or ZERO),
            "issued": plain(quantity=movement.issued_before_qty or ZERO),
        },
        "required": movement.required_qty,
        "issued": movement.issued_before_qty,
        "requested": movement.quantity,
    }
