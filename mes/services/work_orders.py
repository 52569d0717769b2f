"""Work-order writes: upsert from the ERP, release with its snapshot, requested transitions."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from common.errors import DomainError, ErrorKind, unknown_reference
from mes.models import Bom, Item, Routing, Status, WorkOrder, WorkOrderComponent, WorkOrderOperation
from mes.services.audit import event_record
from mes.services.master_data import UpsertResult, changed_fields
from mes.services.quality import inspection_plans_copy
from mes.services.reschedule import reschedule_after_commit
from mes.services.transitions import (
    ACTIONS,
    REQUESTABLE_ACTIONS,
    work_order_lock,
    work_order_transition_locked,
    work_orders_lock,
)

# Once work has started the ERP may still move dates and priorities, but not what is made.
FIELDS_LOCKED_AFTER_RELEASE = ("item",)
FINISHED = {Status.COMPLETED, Status.CLOSED, Status.CANCELLED}


def _snapshot(work_order: WorkOrder) -> dict[str, Any]:
    return {
        "item": work_order.item.code,
        "quantity": str(work_order.quantity),
        "due_date": work_order.due_date.isoformat(),
        "priority": work_order.priority,
        "status": work_order.status,
    }


@transaction.atomic
def work_order_upsert(
    *, number: str, item: str, quantity: Decimal, due_date: datetime.date, priority: int | None = None, actor: Any = None
) -> UpsertResult:
    """Create or update a work order by the ERP's number (idempotent)."""
    try:
        item_obj = Item.objects.select_related("unit").get(code=item)
    except Item.DoesNotExist:
        raise unknown_reference("item", "item", item) from None
    work_order = work_orders_lock(numbers=[number]).get(number)
    if work_order is None:
        try:
            with transaction.atomic():
                work_order = WorkOrder.objects.create(
                    number=number, item=item_obj, quantity=quantity, due_date=due_date,
                    priority=priority if priority is not None else 5,
                )
        except IntegrityError:  # created concurrently: carry on as an update of that row
            work_order = work_order_lock(number=number)
        else:
            event_record(
                object_type="work_order", object_key=number, action="create", actor=actor, work_order=work_order,
                after=_snapshot(work_order),
            )
            return UpsertResult(work_order, created=True, changed=True)

    wanted = {"item": item_obj, "quantity": quantity, "due_date": due_date}
    if priority is not None:
        wanted["priority"] = priority
    changes = changed_fields(obj=work_order, wanted=wanted)
    if not changes:
        return UpsertResult(work_order, created=False, changed=False)
    if work_order.status in FINISHED:
        raise DomainError(
            "work_order_finished",
            _("Work order %(number)s is %(status)s and can no longer be changed.")
            % {"number": number, "status": Status(work_order.status).label},
            kind=ErrorKind.CONFLICT,
            fields={name: "locked" for name in changes},
        )
    if work_order.status != Status.PLANNED and "item" in changes:
        raise DomainError(
            "work_order_item_locked",
            _("Work order %(number)s is released; its item cannot change.") % {"number": number},
            kind=ErrorKind.CONFLICT,
            fields={"item": "locked after release"},
        )
    if "quantity" in changes and work_order.status != Status.PLANNED:
        _rescale_released(work_order, quantity)
    before = _snapshot(work_order)
    for name, value in wanted.items():
        setattr(work_order, name, value)
    work_order.save(update_fields=[*changes, "updated_at"])
    event_record(
        object_type="work_order", object_key=number, action="update", actor=actor, work_order=work_order,
        before=before, after=_snapshot(work_order),
    )
    if work_order.status != Status.PLANNED:  # its date, priority or quantity moves it in the schedule
        reschedule_after_commit()
    return UpsertResult(work_order, created=False, changed=True)


def _rescale_released(work_order: WorkOrder, quantity: Decimal) -> None:
    """A released order's quantity may change, but never below what was already reported."""
    operations = list(work_order.operations.all())
    first = min(operations, key=lambda operation: operation.sequence, default=None)
    if first is not None and first.confirmed_qty > quantity:
        raise DomainError(
            "quantity_below_confirmed",
            _("Operation %(sequence)04d already confirmed %(confirmed)s; the order quantity cannot drop to %(quantity)s.")
            % {"sequence": first.sequence, "confirmed": first.confirmed_qty, "quantity": quantity},
            fields={"quantity": f"at least {first.confirmed_qty}"},
        )
    WorkOrderOperation.objects.filter(work_order=work_order).update(planned_qty=quantity)
    factor = quantity / work_order.quantity
    for component in work_order.components.all():
        component.required_qty = (component.required_qty * factor).quantize(Decimal("0.001"))
        component.save(update_fields=["required_qty"])


def effective_bom(*, item: Item, on: datetime.date) -> Bom | None:
    """The BOM version in force on a date: the most recently effective one, then the highest version."""
    return (
        Bom.objects.filter(item=item)
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=on))
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=on))
        .prefetch_related("lines__component", "lines__unit")
        .order_by(F("valid_from").desc(nulls_last=True), "-version")
        .first()
    )


def work_order_release_locked(
    *, work_order: WorkOrder, actor: Any = None, actor_label: str = "", reason: str = "", released_at: datetime.datetime | None = None
) -> WorkOrder:
    """Release a locked planned order: snapshot its routing into operations (with their inspection plans)
    and its BOM into components."""
    try:
        routing = Routing.objects.prefetch_related("operations").get(item=work_order.item)
    except Routing.DoesNotExist:
        routing = None
    routing_operations = list(routing.operations.all()) if routing else []
    if not routing_operations:
        raise DomainError(
            "routing_missing",
            _("Item %(item)s has no routing; an order cannot be released without operations.")
            % {"item": work_order.item.code},
            fields={"item": work_order.item.code},
        )
    bom = effective_bom(item=work_order.item, on=timezone.localdate())
    lines = list(bom.lines.select_related("component", "unit")) if bom is not None else []
    sequences = [operation.sequence for operation in routing_operations]
    unknown = next((line for line in lines if line.operation is not None and line.operation not in sequences), None)
    if unknown is not None:
        raise DomainError(
            "bom_operation_unknown",
            _("BOM %(item)s v%(version)s has line %(position)s consumed by operation %(sequence)s, which the routing does not have.")
            % {"item": work_order.item.code, "version": bom.version, "position": unknown.position, "sequence": unknown.operation},
            fields={"bom": f"lines[{unknown.position - 1}].operation"},
        )
    work_order_transition_locked(
        work_order=work_order, action="release", actor=actor, actor_label=actor_label, reason=reason, released_at=released_at
    )
    WorkOrderOperation.objects.bulk_create(
        WorkOrderOperation(
            work_order=work_order,
            sequence=operation.sequence,
            name=operation.name,
            work_center_id=operation.work_center_id,
            setup_minutes=operation.setup_minutes,
            run_minutes_per_unit=operation.run_minutes_per_unit,
            quality_checkpoint=operation.quality_checkpoint,
            status=Status.RELEASED,
            planned_qty=work_order.quantity,
        )
        for operation in routing_operations
    )
    inspection_plans_copy(work_order=work_order)
    if bom is not None:
        WorkOrderComponent.objects.bulk_create(
            WorkOrderComponent(
                work_order=work_order,
                position=line.position,
                item=line.component,
                required_qty=(line.quantity * work_order.quantity).quantize(Decimal("0.001")),
                unit=line.unit,
                operation_sequence=line.operation if line.operation is not None else min(sequences),
                backflush=line.backflush,
            )
            for line in lines
        )
        work_order.bom_version = bom.version
        work_order.save(update_fields=["bom_version"])
    return work_order


@dataclass(frozen=True)
class ReleaseResult:
    work_order: WorkOrder
    changed: bool
    warnings: list[dict[str, Any]]


@functools.cache
def _release_check() -> Callable[..., list[dict[str, Any]]]:
    return import_string(settings.MES_RELEASE_CHECK)


def _release_checked_locked(
    *, work_order: WorkOrder, actor: Any, actor_label: str, reason: str, override_reason: str,
    released_at: datetime.datetime | None = None,
) -> list[dict[str, Any]]:
    """Release a locked planned order, then check the work centers' load and its due date with it
    (``settings.MES_RELEASE_CHECK``). Under ``MES_RELEASE_CAPACITY=strict`` a warning refuses the
    release (409 ``capacity_exceeded``, nothing written) unless an ``override_reason`` is given,
    which the audit trail keeps with the warnings overridden."""
    work_order_release_locked(work_order=work_order, actor=actor, actor_label=actor_label, reason=reason, released_at=released_at)
    warnings = _release_check()(work_order=work_order)
    if warnings and settings.MES_RELEASE_CAPACITY == "strict":
        override_reason = override_reason.strip()
        if not override_reason:
            raise DomainError(
                "capacity_exceeded",
                _("Releasing %(number)s %(problems)s; give an override reason to release it all the same.")
                % {"number": work_order.number, "problems": _warnings_text(warnings)},
                kind=ErrorKind.CONFLICT,
                fields={"override_reason": "required: " + ", ".join(sorted({warning["code"] for warning in warnings}))},
            )
        event_record(
            object_type="work_order", object_key=work_order.number, action="release_over_capacity", actor=actor,
            actor_label=actor_label, work_order=work_order, reason=override_reason,
            after={"warnings": [{name: _plain(value) for name, value in warning.items()} for warning in warnings]},
        )
    reschedule_after_commit()
    return warnings


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (datetime.date, datetime.datetime)) else value


def _warnings_text(warnings: list[dict[str, Any]]) -> str:
    parts = []
    for warning in warnings:
        if warning["code"] == "work_center_overloaded":
            parts.append(
                _("loads %(work_center)s on %(date)s with %(load)s h of %(capacity)s h")
                % {"work_center": warning["work_center"], "date": warning["date"], "load": warning["load_hours"], "capacity": warning["capacity_hours"]}
            )
        else:
            parts.append(_("cannot make its due date %(due_date)s") % {"due_date": warning["due_date"]})
    return "; ".join(parts)


@transaction.atomic
def work_order_release(
    *, number: str, actor: Any = None, actor_label: str = "", reason: str = "", override_reason: str = ""
) -> ReleaseResult:
    """Release a planned order and answer what it runs into (see ``_release_checked_locked``).
    An order released already is answered unchanged, with no warnings."""
    work_order = work_order_lock(number=number)
    if work_order.status == ACTIONS["release"].target:
        return ReleaseResult(work_order, False, [])
    warnings = _release_checked_locked(
        work_order=work_order, actor=actor, actor_label=actor_label, reason=reason, override_reason=override_reason
    )
    return ReleaseResult(work_order, True, warnings)


class _PreviewDone(Exception):
    """Unwinds a release preview's transaction, carrying its warnings."""

    def __init__(self, warnings: list[dict[str, Any]]) -> None:
        super().__init__("release preview")
        self.warnings = warnings


def work_order_release_preview(*, number: str) -> list[dict[str, Any]]:
    """The warnings releasing the planned order ``number`` would answer now, with nothing kept: the
    release is made and checked in a transaction that is then rolled back (so it is exactly the
    check a release runs). An order that is not planned, or that its release refuses, has none:
    the release itself then says why."""
    try:
        with transaction.atomic():
            work_order = work_order_lock(number=number)
            if work_order.status != Status.PLANNED:
                return []
            work_order_release_locked(work_order=work_order)
            raise _PreviewDone(_release_check()(work_order=work_order))
    except _PreviewDone as done:
        return done.warnings
    except DomainError:
        return []


@transaction.atomic
def work_order_transition(
    *, number: str, action: str, actor: Any = None, actor_label: str = "", reason: str = "",
    released_at: datetime.datetime | None = None,
) -> tuple[WorkOrder, bool]:
    """Apply a requested action (release, pause, resume, cancel, close) to a work order.

    Asking again for the state the order is already in answers ``(order, False)`` and writes
    nothing, so an ERP's retried "release" is harmless; any other disallowed move raises
    ``illegal_transition``. Returns the order and whether it changed. A release is checked
    against capacity as ``work_order_release`` does (with no override).

    ``released_at``: for a release, when it took effect if that was earlier than now (a history
    replayed, as the demo's: its orders' reports lie in the past days); the audit event keeps the
    moment it was recorded.
    """
    if action not in REQUESTABLE_ACTIONS:
        raise DomainError(
            "unknown_action",
            _("Unknown action %(action)s; use one of %(actions)s.")
            % {"action": action, "actions": ", ".join(REQUESTABLE_ACTIONS)},
        )
    if released_at is not None and released_at > timezone.now():
        raise DomainError(
            "released_at_in_future",
            _("A release cannot take effect at %(at)s, later than now.") % {"at": released_at.isoformat()},
            fields={"released_at": released_at.isoformat()},
        )
    work_order = work_order_lock(number=number)
    if work_order.status == ACTIONS[action].target:
        return work_order, False
    if action == "release":
        _release_checked_locked(
            work_order=work_order, actor=actor, actor_label=actor_label, reason=reason, override_reason="", released_at=released_at
        )
    else:
        work_order_transition_locked(work_order=work_order, action=action, actor=actor, actor_label=actor_label, reason=reason)
        reschedule_after_commit()
    return work_order, True


@transaction.atomic
def work_orders_transition(
    *, numbers: list[str], action: str, actor: Any = None, actor_label: str = "", reason: str = ""
) -> list[tuple[WorkOrder, bool]]:
    """Apply one action to several orders, all or nothing: the first refusal undoes the rest.

    The orders are locked up front in primary-key order (the rule every writer follows), then
    each goes through ``work_order_transition``. A refusal is re-raised naming the order, with
    the original code, so a page can say which order stopped the batch and why.
    """
    wanted = list(dict.fromkeys(numbers))
    if not wanted:
        raise DomainError("nothing_selected", _("Select at least one work order."), fields={"numbers": "empty"})
    found = set(work_orders_lock(numbers=wanted))
    results = []
    for number in wanted:
        if number not in found:
            raise DomainError(
                "unknown_work_order",
                _("Work order %(number)s does not exist; nothing was changed.") % {"number": number},
                kind=ErrorKind.NOT_FOUND,
                fields={"numbers": number},
            )
        try:
            results.append(work_order_transition(number=number, action=action, actor=actor, actor_label=actor_label, reason=reason))
        except DomainError as error:
            raise DomainError(
                error.code,
                _("%(number)s: %(message)s Nothing was changed.") % {"number": number, "message": error.message},
                kind=error.kind,
                fields={**error.fields, "numbers": number},
            ) from error
    return results
