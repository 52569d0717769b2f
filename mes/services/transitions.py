"""The state machine of work orders and their operations.

planned → released → in_progress ⇄ paused → completed → closed; cancelled from planned,
released or paused. Each move is a named action with the states it may start from.
``reopen`` (completed → in_progress) exists only for the reversal of a final confirmation.

Locking rule, which keeps every writer deadlock-free: whoever changes a work order, its
operations or its confirmations first locks the work order row (and, when several orders
are involved, locks them in primary-key order). Operations are never locked on their own.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from common.errors import DomainError, ErrorKind
from common.fastsql import partial_instance, raw_instances, relate
from erp_sync.outbox import stream_add
from mes.models import Item, Status, UnitOfMeasure, WorkOrder, WorkOrderOperation
from mes.services.audit import event_record
from mes.services.labor import labor_follow_transition


@dataclass(frozen=True)
class Action:
    sources: frozenset[str]
    target: str


ACTIONS: dict[str, Action] = {
    "release": Action(frozenset({Status.PLANNED}), Status.RELEASED),
    "start": Action(frozenset({Status.RELEASED}), Status.IN_PROGRESS),
    "pause": Action(frozenset({Status.IN_PROGRESS}), Status.PAUSED),
    "resume": Action(frozenset({Status.PAUSED}), Status.IN_PROGRESS),
    "complete": Action(frozenset({Status.IN_PROGRESS}), Status.COMPLETED),
    "close": Action(frozenset({Status.COMPLETED}), Status.CLOSED),
    "cancel": Action(frozenset({Status.PLANNED, Status.RELEASED, Status.PAUSED}), Status.CANCELLED),
    "reopen": Action(frozenset({Status.COMPLETED}), Status.IN_PROGRESS),
}

# status → the statuses it may move to; derived from ACTIONS so the two never disagree.
TRANSITIONS: dict[str, set[str]] = {status: set() for status in Status.values}
for _action in ACTIONS.values():
    for _source in _action.sources:
        TRANSITIONS[_source].add(_action.target)

ACTION_LABELS = {
    "release": gettext_lazy("release"),
    "start": gettext_lazy("start"),
    "pause": gettext_lazy("pause"),
    "resume": gettext_lazy("resume"),
    "complete": gettext_lazy("complete"),
    "close": gettext_lazy("close"),
    "cancel": gettext_lazy("cancel"),
    "reopen": gettext_lazy("reopen"),
}

# Actions people and integrations may ask for through the API; the rest follow from confirmations.
REQUESTABLE_ACTIONS = ("release", "pause", "resume", "cancel", "close")


def _check(action: str, current: str, what: str) -> Action:
    try:
        rule = ACTIONS[action]
    except KeyError:
        raise DomainError("unknown_action", _("Unknown action %(action)s.") % {"action": action}) from None
    if current not in rule.sources:
        raise DomainError(
            "illegal_transition",
            _("Cannot %(action)s %(what)s: it is %(status)s (allowed from: %(sources)s).")
            % {
                "action": ACTION_LABELS[action],
                "what": what,
                "status": Status(current).label,
                "sources": ", ".join(str(Status(s).label) for s in sorted(rule.sources)),
            },
            kind=ErrorKind.CONFLICT,
            fields={"status": current},
        )
    return rule


def quality_hold_refusal(*, work_order: WorkOrder, operation: WorkOrderOperation | None = None, doing: str) -> DomainError:
    """The 409 ``quality_hold`` of something a hold on ``work_order`` (or its ``operation``) stops."""
    if operation is not None:
        what = _("Operation %(sequence)04d of %(number)s") % {"sequence": operation.sequence, "number": work_order.number}
    else:
        what = _("Work order %(number)s") % {"number": work_order.number}
    return DomainError(
        "quality_hold",
        _("%(what)s is on quality hold: %(doing)s waits until quality releases the hold.") % {"what": what, "doing": doing},
        kind=ErrorKind.CONFLICT,
        fields={"operation": str(operation.sequence)} if operation is not None else {"work_order": work_order.number},
    )


#: What a quality hold on the order stops of its moves.
HELD_ACTIONS = {"release": gettext_lazy("releasing"), "close": gettext_lazy("closing")}


def _columns(model: type, alias: str) -> str:
    return ", ".join(f"{alias}.{field.column}" for field in model._meta.concrete_fields)


# Every writer's first statement. Read in plain SQL: it is the first of the three statements of
# a confirmation (the hot path), where the ORM's compiling cost as much as the database's work.
_LOCK_SQL = f"""
SELECT {_columns(WorkOrder, "o")},
       i.code AS item_code, i.name AS item_name, i.unit_id AS item_unit_id, i.tracking AS item_tracking, u.code AS unit_code
FROM mes_workorder o
JOIN mes_item i ON i.id = o.item_id
JOIN mes_unitofmeasure u ON u.id = i.unit_id
WHERE {{numbers}}
ORDER BY o.id
{{lock}}
"""


def work_orders_lock(*, numbers: Iterable[str]) -> dict[str, WorkOrder]:
    """Lock work orders for the rest of the transaction, in primary-key order (the first lock any
    writer takes), and return them by number with their item and its unit. Unknown numbers are
    left out. The one way an order's lock is read."""
    numbers = sorted(set(numbers))
    if not numbers:
        return {}
    if connection.vendor == "postgresql" and len(numbers) == 1:
        # One order, the single report's case: "= ANY" of an array PostgreSQL plans anew on every run
        # (its generic plan guesses ten orders and never wins), a plain equality once per connection.
        sql, params = _LOCK_SQL.format(numbers="o.number = %s", lock="FOR UPDATE OF o"), numbers
    elif connection.vendor == "postgresql":
        sql, params = _LOCK_SQL.format(numbers="o.number = ANY(%s)", lock="FOR UPDATE OF o"), [numbers]
    else:  # SQLite locks the whole database on the first write; one statement for any count all the same
        sql, params = _LOCK_SQL.format(numbers="o.number IN (SELECT value FROM json_each(%s))", lock=""), [json.dumps(numbers)]
    orders = {}
    for work_order in raw_instances(WorkOrder, sql, params):
        item = partial_instance(
            Item, id=work_order.item_id, code=work_order.item_code, name=work_order.item_name, unit_id=work_order.item_unit_id,
            tracking=work_order.item_tracking,
        )
        relate(item, "unit", partial_instance(UnitOfMeasure, id=work_order.item_unit_id, code=work_order.unit_code))
        relate(work_order, "item", item)
        orders[work_order.number] = work_order
    return orders


def work_order_lock(*, number: str) -> WorkOrder:
    """Lock one work order for the rest of the transaction (see ``work_orders_lock``)."""
    work_order = work_orders_lock(numbers=[number]).get(number)
    if work_order is None:
        raise unknown_work_order(number=number)
    return work_order


def unknown_work_order(*, number: str) -> DomainError:
    return DomainError(
        "unknown_work_order",
        _("Work order %(number)s does not exist.") % {"number": number},
        kind=ErrorKind.NOT_FOUND,
        fields={"work_order": number},
    )


def unknown_operation(*, number: str, sequence: int) -> DomainError:
    return DomainError(
        "unknown_operation",
        _("Work order %(number)s has no operation %(sequence)s.") % {"number": number, "sequence": sequence},
        fields={"operation": str(sequence)},
    )


def _set_status(
    obj: WorkOrder | WorkOrderOperation,
    *,
    work_order: WorkOrder,
    action: str,
    actor: Any,
    actor_label: str,
    reason: str,
    released_at: datetime.datetime | None = None,
) -> None:
    """Apply one checked move to a locked row and write its event (``released_at``: see ``work_order_transition``)."""
    what = (
        _("work order %(number)s") % {"number": work_order.number}
        if isinstance(obj, WorkOrder)
        else _("operation %(sequence)04d of %(number)s") % {"sequence": obj.sequence, "number": work_order.number}
    )
    rule = _check(action, obj.status, what)
    if isinstance(obj, WorkOrder) and obj.on_quality_hold and action in HELD_ACTIONS:
        raise quality_hold_refusal(work_order=work_order, doing=str(HELD_ACTIONS[action]))
    before = obj.status
    obj.status = rule.target
    update_fields = ["status"]
    now = timezone.now()
    if isinstance(obj, WorkOrder):
        obj.updated_at = now
        update_fields.append("updated_at")
        if action == "release":
            obj.released_at = released_at or now
            update_fields.append("released_at")
        elif rule.target == Status.COMPLETED:
            obj.completed_at = now
            update_fields.append("completed_at")
        object_type, object_key = "work_order", work_order.number
        stream_add(  # the stream's mes.work_order.<state>, in the order's lock like its outbox messages
            kind=f"work_order.{rule.target}", subject=work_order.number, key=uuid.uuid4(),
            data={
                "work_order": work_order.number, "action": action, "from": before, "status": rule.target,
                "item": work_order.item.code if work_order.item_id else None, "reason": reason or None,
            },
        )
    else:
        object_type, object_key = "operation", f"{work_order.number}/{obj.sequence:04d}"
    obj.save(update_fields=update_fields)
    event_record(
        object_type=object_type,
        object_key=object_key,
        action=action,
        actor=actor,
        actor_label=actor_label,
        work_order=work_order,
        before={"status": before},
        after={"status": rule.target},
        reason=reason,
    )


def operation_transition_locked(
    *, operation: WorkOrderOperation, work_order: WorkOrder, action: str, actor: Any = None, actor_label: str = "", reason: str = ""
) -> WorkOrderOperation:
    """Move one operation. Precondition: the caller holds ``work_order``'s lock.

    The clocks follow: a pause, completion or cancellation clocks everyone off the operation,
    a resume clocks on again those the pause clocked off (``labor_follow_transition``)."""
    _set_status(operation, work_order=work_order, action=action, actor=actor, actor_label=actor_label, reason=reason)
    labor_follow_transition(operation=operation, action=action)
    return operation


def operation_start_locked(
    *, operation: WorkOrderOperation, work_order: WorkOrder, actor: Any = None, actor_label: str = ""
) -> WorkOrderOperation:
    """Start a released operation, and its order when that is still released (a running one: nothing
    changes). Precondition: the caller holds ``work_order``'s lock."""
    if work_order.status == Status.RELEASED:
        work_order_transition_locked(work_order=work_order, action="start", actor=actor, actor_label=actor_label)
    if operation.status == Status.RELEASED:
        operation_transition_locked(operation=operation, work_order=work_order, action="start", actor=actor, actor_label=actor_label)
    return operation


def work_order_transition_locked(
    *, work_order: WorkOrder, action: str, actor: Any = None, actor_label: str = "", reason: str = "",
    released_at: datetime.datetime | None = None,
) -> WorkOrder:
    """Move a locked work order and cascade to its operations as the action implies."""
    _set_status(
        work_order, work_order=work_order, action=action, actor=actor, actor_label=actor_label, reason=reason, released_at=released_at
    )
    cascade = {
        "pause": {Status.IN_PROGRESS},
        "resume": {Status.PAUSED},
        "cancel": {Status.PLANNED, Status.RELEASED, Status.PAUSED},
        "close": {Status.COMPLETED},
    }.get(action)
    if cascade:
        for operation in work_order.operations.filter(status__in=cascade).order_by("sequence"):
            operation_transition_locked(
                operation=operation, work_order=work_order, action=action, actor=actor, actor_label=actor_label, reason=reason
            )
    return work_order
