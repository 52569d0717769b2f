"""Reads for the planner's pages: the filtered work-order list with counts, and one order in full."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from erp_sync.outbox import sync_states
from mes.models import (
    Confirmation,
    Event,
    RoutingOperation,
    Status,
    WorkCenter,
    WorkOrder,
    WorkOrderOperation,
)
from mes.selectors.history import history_entries
from mes.selectors.progress import done_quantity, schedule_flag
from mes.selectors.work_orders import work_order_get

# How many of an order's confirmations and events its page shows, newest first.
DETAIL_ROWS = 200


@dataclass(frozen=True)
class WorkOrderFilter:
    status: str = ""
    line: str = ""
    due_from: datetime.date | None = None
    due_to: datetime.date | None = None
    item: str = ""
    search: str = ""


def production_lines() -> list[str]:
    """The lines the work centers name, for the line filter (one query)."""
    return list(WorkCenter.objects.exclude(line="").order_by("line").values_list("line", flat=True).distinct())


def _on_line(line: str) -> Q:
    """Orders with an operation on ``line``: released ones by their operations, planned ones by their item's routing."""
    released = WorkOrderOperation.objects.filter(work_order=OuterRef("pk"), work_center__line=line)
    routed = RoutingOperation.objects.filter(routing__item=OuterRef("item_id"), work_center__line=line)
    return Q(Exists(released)) | Q(Exists(routed))


def _matching(filters: WorkOrderFilter, *, with_status: bool) -> QuerySet[WorkOrder]:
    orders = WorkOrder.objects.all()
    if with_status and filters.status:
        orders = orders.filter(status=filters.status)
    if filters.line:
        orders = orders.filter(_on_line(filters.line))
    if filters.due_from:
        orders = orders.filter(due_date__gte=filters.due_from)
    if filters.due_to:
        orders = orders.filter(due_date__lte=filters.due_to)
    if filters.item:
        orders = orders.filter(item__code__iexact=filters.item)
    if filters.search:
        orders = orders.filter(
            Q(number__icontains=filters.search) | Q(item__code__icontains=filters.search) | Q(item__name__icontains=filters.search)
        )
    return orders


# Orders still being made first, then those waiting for release, then the finished ones, closed last.
_ACTIVITY_RANK = Case(
    When(status__in=[Status.IN_PROGRESS, Status.PAUSED, Status.RELEASED], then=Value(0)),
    When(status=Status.PLANNED, then=Value(1)),
    When(status=Status.COMPLETED, then=Value(2)),
    default=Value(3),
    output_field=IntegerField(),
)


def work_order_list(*, filters: WorkOrderFilter) -> QuerySet[WorkOrder]:
    """Orders matching every filter: active ones first, closed and cancelled last; within each, soonest
    due first, then the most urgent (1 = most urgent). Each with ``done``, its finished quantity."""
    return (
        _matching(filters, with_status=True).select_related("item__unit")
        .annotate(activity_rank=_ACTIVITY_RANK, done=done_quantity())
        .order_by("activity_rank", "due_date", "priority", "number")
    )


def with_schedule(*, orders: list[WorkOrder], now: datetime.datetime | None = None) -> list[WorkOrder]:
    """Set ``schedule`` (late, at_risk or "") and ``remaining`` on orders read by ``work_order_list`` (no query)."""
    now = now or timezone.now()
    zone = timezone.get_current_timezone()
    for order in orders:
        done = order.done or 0
        order.schedule = schedule_flag(status=order.status, due_date=order.due_date, released_at=order.released_at,
                                       quantity=order.quantity, done=done, now=now, zone=zone)
        order.remaining = max(order.quantity - done, 0) if order.status not in {Status.CANCELLED, Status.CLOSED} else 0
    return orders


def work_order_status_counts(*, filters: WorkOrderFilter) -> list[dict[str, Any]]:
    """How many orders of each status match the other filters (one query), in life-cycle order."""
    counts = dict(_matching(filters, with_status=False).order_by().values_list("status").annotate(n=Count("id")))
    return [{"status": value, "label": label, "count": counts.get(value, 0)} for value, label in Status.choices]


def work_order_detail(*, number: str) -> dict[str, Any]:
    """One order with its operations, latest confirmations with their ERP journey, and audit events.

    Six queries however long its history is (the last for the names behind the operators' badges). Raises ``unknown_work_order`` (not found).
    """

    work_order = work_order_get(number=number)
    confirmations = list(
        Confirmation.objects.filter(work_order=work_order)
        .select_related("operation", "operator", "reason_code")
        .order_by("-recorded_at", "-id")[:DETAIL_ROWS]
    )
    states = sync_states(source_uuids=[confirmation.uuid for confirmation in confirmations])
    events = list(Event.objects.filter(work_order=work_order).select_related("actor").order_by("-occurred_at", "-id")[:DETAIL_ROWS])
    operations = list(work_order.operations.all())
    done = operations[-1].good_qty if operations else 0
    return {
        "work_order": work_order,
        "operations": operations,
        "done": done,
        "remaining": max(work_order.quantity - done, 0) if work_order.status not in {Status.CANCELLED, Status.CLOSED} else 0,
        "schedule": schedule_flag(status=work_order.status, due_date=work_order.due_date, released_at=work_order.released_at,
                                  quantity=work_order.quantity, done=done, now=timezone.now()),
        "confirmations": [{"row": row, "erp_sync": states.get(row.uuid)} for row in confirmations],
        "events": history_entries(events=events),
        "rows_shown": DETAIL_ROWS,
    }
