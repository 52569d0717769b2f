"""Schedule benchmark: the finite forward schedule of 1,000 active orders and 5,000 operations.

    flock /tmp/mes-bench.lock .venv/bin/python bench/schedule.py [--orders 1000] [--operations-per-order 5] [--runs 5]

What it does, on loopback only, stopping by itself:

1. Creates a fresh PostgreSQL database (default ``mes_bench_schedule`` on 127.0.0.1:5432, user
   postgres) and migrates it.
2. Seeds 20 work centers (two shifts each, 06:00–14:00 and 14:00–22:00 on weekdays; 1 to 3 machines,
   efficiency 0.8 to 1.0; every fourth one states its ``capacity_hours_per_day``), 50 items with a
   routing of ``--operations-per-order`` operations on random work centers, and ``--orders`` orders
   released in bulk (their operations as a release snapshots them), a third of them under way on
   their first operation. Then ANALYZE.
3. In this process, after one unmeasured run, ``--runs`` times: what the task ``planning.reschedule``
   does (``shopfloor.planning.services.schedule_refresh``: read the inputs in three queries, schedule,
   replace the stored schedule), and its parts alone: the inputs' read, the pure scheduler, the load;
   then the check a release runs in its transaction (``release_warnings``) on one order, as many times.
4. Prints p50/max of each, the operations placed, late orders, the target (the whole refresh
   ≤ 2 s at its slowest) with PASS/FAIL and the machine; drops the database (``--keep-db`` keeps it).
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: bench/ is on the path, the project root is not

from bench.common import (
    database_create,
    in_process_cleanup,
    in_process_footer,
    migrate,
    percentile,
    verdict,
    wait_for_quiet,
)

TARGET_SECONDS = 2.0
WORK_CENTERS = 20
ITEMS = 50


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1000, help="active orders (default 1000)")
    parser.add_argument("--operations-per-order", type=int, default=5, help="operations per order (default 5)")
    parser.add_argument("--runs", type=int, default=5, help="measured runs (default 5)")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432", help="PostgreSQL server URL, without database")
    parser.add_argument("--database", default="mes_bench_schedule", help="database to create and drop (default mes_bench_schedule)")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--quiet-wait", type=float, default=60.0, help="seconds to wait for other jobs to quieten down (default 60)")
    parser.add_argument("--quiet-below", type=float, default=0.25, help="machine busy share counted as quiet (default 0.25)")
    return parser.parse_args()


def seed(orders: int, operations_per_order: int) -> dict[str, int]:
    from django.db import connection

    from mes.models import Equipment, Item, Routing, RoutingOperation, Status, UnitOfMeasure, WorkCenter, WorkOrder, WorkOrderOperation
    from shopfloor.models import Shift

    rng = random.Random(15)
    unit = UnitOfMeasure.objects.create(code="PCS", name="pcs")
    centers = []
    for index in range(WORK_CENTERS):
        center = WorkCenter.objects.create(
            code=f"BWC-{index:02d}", name=f"Bench {index}", line=f"L{index % 4}",
            capacity_hours_per_day=Decimal(14) if index % 4 == 3 else None, efficiency=Decimal(rng.choice(["0.80", "0.90", "1.00"])),
        )
        for machine in range(1 + index % 3):
            Equipment.objects.create(code=f"BEQ-{index:02d}-{machine}", name=f"Machine {index}/{machine}", work_center=center)
        Shift.objects.create(work_center=center, name="Early", start_time=datetime.time(6), end_time=datetime.time(14), weekdays="12345")
        Shift.objects.create(work_center=center, name="Late", start_time=datetime.time(14), end_time=datetime.time(22), weekdays="12345")
        centers.append(center)
    items = []
    for index in range(ITEMS):
        item = Item.objects.create(code=f"BITEM-{index:03d}", name=f"Item {index}", unit=unit)
        routing = Routing.objects.create(item=item)
        RoutingOperation.objects.bulk_create(
            RoutingOperation(
                routing=routing, sequence=(step + 1) * 10, name=f"Step {step + 1}", work_center=rng.choice(centers),
                setup_minutes=Decimal(rng.choice([0, 15, 30, 60])), run_minutes_per_unit=Decimal(rng.choice(["0.5", "1", "2", "3"])),
            )
            for step in range(operations_per_order)
        )
        items.append(item)
    today = datetime.date.today()
    WorkOrder.objects.bulk_create(
        WorkOrder(
            number=f"BWO-{index:05d}", item=rng.choice(items), quantity=Decimal(rng.randint(10, 120)),
            due_date=today + datetime.timedelta(days=rng.randint(1, 60)), priority=rng.randint(1, 9),
        )
        for index in range(orders)
    )
    # Released as the release leaves them (operations snapshot from the routing), in bulk: releasing
    # each through the service would run its capacity check a thousand times (measured below once).
    routings = {
        routing.item_id: list(routing.operations.all()) for routing in Routing.objects.prefetch_related("operations")
    }
    released = list(WorkOrder.objects.order_by("number"))
    WorkOrder.objects.filter(pk__in=[order.pk for order in released]).update(status=Status.RELEASED)
    WorkOrderOperation.objects.bulk_create(
        (
            WorkOrderOperation(
                work_order=order, sequence=step.sequence, name=step.name, work_center_id=step.work_center_id,
                setup_minutes=step.setup_minutes, run_minutes_per_unit=step.run_minutes_per_unit, status=Status.RELEASED,
                planned_qty=order.quantity,
                # a third of the orders are under way: their first operation has reported 5 good
                good_qty=Decimal(5) if index % 3 == 0 and step.sequence == 10 else Decimal(0),
            )
            for index, order in enumerate(released)
            for step in routings[order.item_id]
        ),
        batch_size=2000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"orders": WorkOrder.objects.count(), "operations": WorkOrderOperation.objects.count(), "work_centers": len(centers)}


def measured(function, runs: int) -> tuple[list[float], object]:
    result = function()  # unmeasured
    seconds = []
    for _ in range(runs):
        began = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - began)
    return seconds, result


def main() -> int:
    args = parse_args()
    database_url = f"{args.server}/{args.database}"
    started = datetime.datetime.now(datetime.UTC)
    print(f"[setup] creating {args.database} and migrating …", flush=True)
    database_create(args.server, args.database)
    try:
        migrate(database_url)
        os.environ.update(DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="mes.settings", DEBUG="0", LOG_LEVEL="WARNING",
                          CELERY_BROKER_URL="memory://localhost/", SECRET_KEY=os.environ.get("SECRET_KEY") or "bench-" + "x" * 50)
        os.environ.pop("REDIS_URL", None)
        import django

        django.setup()
        from shopfloor.planning.core import load_by_day, schedule
        from shopfloor.planning.selectors import schedule_inputs
        from mes.models import WorkOrder
        from shopfloor.planning.services import release_warnings, schedule_refresh

        began = time.perf_counter()
        counts = seed(args.orders, args.operations_per_order)
        print(f"[setup] seeded in {time.perf_counter() - began:.0f} s: {counts}", flush=True)
        busy_before = wait_for_quiet(args)
        refresh_s, placed = measured(schedule_refresh, args.runs)
        inputs_s, inputs = measured(schedule_inputs, args.runs)
        core_s, result = measured(lambda: schedule(now=inputs.now, windows=inputs.windows, orders=inputs.orders, operations=inputs.operations), args.runs)
        load_s, _load = measured(lambda: load_by_day(now=inputs.now, windows=inputs.windows, orders=inputs.orders, operations=inputs.operations), args.runs)
        checked = WorkOrder.objects.order_by("number").last()
        check_s, _warnings = measured(lambda: release_warnings(work_order=checked), args.runs)
        due = {order.number: order.due_end for order in inputs.orders}
        late = sum(1 for number, finish in result.finishes.items() if finish > due[number])
        worst = max(refresh_s)
        passed = worst <= TARGET_SECONDS and placed == counts["operations"] - len(result.unscheduled)
        print()
        print(f"schedule benchmark — {started:%Y-%m-%d %H:%M} UTC — {len(inputs.orders):,} active orders, {len(inputs.operations):,} operations, "
              f"{counts['work_centers']} work centers; {args.runs} runs each")
        print(f"  refresh (read inputs + schedule + store): p50 {percentile(refresh_s, 0.5):.2f} s, max {worst:.2f} s  "
              f"[{verdict(worst <= TARGET_SECONDS)} ≤ {TARGET_SECONDS:.0f} s]")
        print(f"    inputs (3 queries, windows for {sum(len(windows) for windows in inputs.windows.values()):,} shifts): p50 {percentile(inputs_s, 0.5):.2f} s")
        print(f"    scheduler alone (pure): p50 {percentile(core_s, 0.5):.2f} s; load per day alone: p50 {percentile(load_s, 0.5):.2f} s")
        print(f"  a release's capacity check (load + schedule with the order in): p50 {percentile(check_s, 0.5):.2f} s")
        print(f"  placed {placed:,} operations ({len(result.unscheduled)} beyond the horizon); {late} orders late")
        return in_process_footer(database_url=database_url, busy_before=busy_before, passed=passed)
    finally:
        in_process_cleanup(args=args, database_url=database_url)


if __name__ == "__main__":
    sys.exit(main())
