"""Writes of planning: the stored schedule, and the check a release answers with."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from mes.models import WorkOrder
from shopfloor.models import PlannedOperation
from shopfloor.planning.core import capacity_by_day, load_by_day, schedule
from shopfloor.planning.selectors import day_start, schedule_inputs
from shopfloor.shift_calendar import DAY

# Loads and capacities are compared in hours rounded to this many places, as the API shows them.
PLACES = 2
# Two workers refreshing at once would each delete and insert the same rows: the second waits for
# the first (PostgreSQL; SQLite has one writer anyway) and then reads what it committed.
SCHEDULE_WRITER_LOCK = 0x5C4ED


@transaction.atomic
def schedule_refresh(*, now: datetime.datetime | None = None) -> int:
    """Compute the schedule from now and store it in place of the last one; returns the operations placed."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEDULE_WRITER_LOCK])
    inputs = schedule_inputs(now=now)
    result = schedule(now=inputs.now, windows=inputs.windows, orders=inputs.orders, operations=inputs.operations)
    computed_at = timezone.now()
    PlannedOperation.objects.all().delete()
    PlannedOperation.objects.bulk_create(
        (
            PlannedOperation(operation_id=placed.key, start=placed.start, finish=placed.finish, computed_at=computed_at)
            for placed in result.operations
        ),
        batch_size=1000,
    )
    return len(result.operations)


def release_warnings(*, work_order: WorkOrder, now: datetime.datetime | None = None) -> list[dict[str, Any]]:
    """What releasing ``work_order`` runs into, read in the release's transaction (its operations included):
    each day of a work center it loads beyond capacity (``work_center_overloaded``), and its due date
    when the finite schedule finishes it later (``cannot_make_due_date``)."""
    inputs = schedule_inputs(now=now)
    number = work_order.number
    warnings: list[dict[str, Any]] = []
    load = load_by_day(now=inputs.now, windows=inputs.windows, orders=inputs.orders, operations=inputs.operations)
    capacities = {code: capacity_by_day(windows) for code, windows in inputs.windows.items()}
    for (code, day), per_order in sorted(load.items()):
        if number not in per_order:
            continue
        load_hours = round(sum(per_order.values()), PLACES)
        capacity_hours = round(capacities[code].get(day, 0.0), PLACES)
        if load_hours > capacity_hours:
            warnings.append(
                {"code": "work_center_overloaded", "work_center": code, "date": day.isoformat(), "load_hours": load_hours, "capacity_hours": capacity_hours}
            )
    result = schedule(now=inputs.now, windows=inputs.windows, orders=inputs.orders, operations=inputs.operations)
    predicted = result.finishes.get(number)
    unplanned = set(result.unscheduled)
    is_unplanned = any(operation.key in unplanned for operation in inputs.operations if operation.work_order == number)
    late = is_unplanned or (predicted is not None and predicted > day_start(work_order.due_date + DAY))
    if late:
        warnings.append(
            {
                "code": "cannot_make_due_date",
                "predicted_finish": None if is_unplanned else predicted,
                "due_date": work_order.due_date.isoformat(),
            }
        )
    return warnings
