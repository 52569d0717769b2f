"""Trace benchmark: backward and forward trace of a lot or serial among 1,000,000 consumption records.

    flock /tmp/mes-bench.lock .venv/bin/python bench/trace.py [--movements 1000000] [--runs 50]

What it does, on loopback only, stopping by itself:

1. Creates a fresh PostgreSQL database (default ``mes_bench_trace`` on 127.0.0.1:5432, user
   postgres) and migrates it.
2. Seeds, with COPY, a five-level product: orders of levels 1 to 5, each issued 4 lots of the
   level below (one posted issue movement each, ``--movements`` in all, default 1,000,000); an
   order of levels 1–4 makes one lot, used by 2 orders of the next level on average; an order of
   level 5 makes 5 finished serials; a raw lot (from the ERP) goes into 20 orders of level 1.
   Every order has one operation with one confirmation. Then ANALYZE.
3. In this process (its start-up objects frozen out of the garbage collector, as ``mes/wsgi.py``
   does in a web worker), through ``mes.selectors.trace`` (one recursive query per direction, then the
   set-based detail queries, and the tree built in Python): ``--runs`` backward traces of one
   finished serial and ``--runs`` forward traces of one raw lot, after 3 unmeasured ones.
4. In the same run, the comparison: the same edges fetched one level at a time through the ORM
   (two queries per level: the issues into the level's orders, the lots they made), checked to
   find exactly the edges the recursive query found.
5. Prints p50/p95/max per kind and the CPU per trace (this process and its PostgreSQL backend), the tree sizes, the target (p95 ≤ 100 ms) with PASS/FAIL and the
   machine; drops the database (``--keep-db`` keeps it).
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: bench/ is on the path, the project root is not

from bench.common import (
    HostWatch,
    database_create,
    in_process_cleanup,
    in_process_footer,
    migrate,
    percentile,
    process_cpu_seconds,
    verdict,
    wait_for_quiet,
)

TARGET_P95_MS = 100.0
ISSUES_PER_ORDER = 4
ORDERS_PER_LOT = 2  # an intermediate lot is split over this many orders of the next level
RAW_USES = 20  # orders of level 1 each raw lot goes into
SERIALS_PER_ORDER = 5
LEVELS = 5


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--movements", type=int, default=1_000_000, help="issue movements to seed (default 1000000)")
    parser.add_argument("--runs", type=int, default=50, help="measured traces per kind (default 50)")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432", help="PostgreSQL server URL, without database")
    parser.add_argument("--database", default="mes_bench_trace", help="database to create and drop (default mes_bench_trace)")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--quiet-wait", type=float, default=60.0, help="seconds to wait for other jobs to quieten down (default 60)")
    parser.add_argument("--quiet-below", type=float, default=0.25, help="machine busy share counted as quiet (default 0.25)")
    parser.add_argument("--reuse-db", action="store_true", help="measure again on the database a --keep-db run left (no seeding); keeps it")
    return parser.parse_args()


# --- seeding --------------------------------------------------------------------------------


class Copier:
    """COPY rows into a table, filling every NOT NULL column the row leaves out with a plain value
    of its type (a fresh UUID for a uuid column, so unique ones stay unique)."""

    def __init__(self, cursor, table: str, columns: list[str]) -> None:
        cursor.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s AND is_nullable = 'NO' "
            "AND column_default IS NULL AND is_identity = 'NO'",
            [table],
        )
        now, today = datetime.datetime.now(datetime.UTC), datetime.date.today()
        plain = {"timestamp with time zone": now, "date": today, "character varying": "", "text": "", "numeric": 0,
                 "integer": 0, "bigint": 0, "smallint": 0, "boolean": False, "jsonb": "{}"}
        self.fillers = [(name, kind) for name, kind in cursor.fetchall() if name not in columns]
        self.plain = plain
        self.columns = columns + [name for name, _kind in self.fillers]
        self.copy_manager = cursor.copy(f"COPY {table} ({', '.join(self.columns)}) FROM STDIN")

    def __enter__(self):
        self.copy = self.copy_manager.__enter__()
        return self

    def __exit__(self, *exc):
        return self.copy_manager.__exit__(*exc)

    def row(self, *values) -> None:
        self.copy.write_row([*values, *(uuid.uuid4() if kind == "uuid" else self.plain[kind] for _name, kind in self.fillers)])


def seed(movements: int) -> dict:
    from django.db import connection

    from mes.models import Item, UnitOfMeasure, WorkCenter

    rng = random.Random(12)
    unit = UnitOfMeasure.objects.create(code="PCS", name="pcs")
    center = WorkCenter.objects.create(code="BENCH-WC", name="Bench", line="L1", capacity_hours_per_day=16)
    items = [Item.objects.create(code=f"BENCH-L{level}", name=f"Level {level}", unit=unit, tracking="serial" if level == LEVELS else "lot")
             for level in range(LEVELS + 1)]
    # orders per level: level 5 has n, level L has n × 2^(5-L); each takes 4 issues
    top = movements // (ISSUES_PER_ORDER * sum(ORDERS_PER_LOT ** (LEVELS - level) for level in range(1, LEVELS + 1)))
    orders_at = {level: top * ORDERS_PER_LOT ** (LEVELS - level) for level in range(1, LEVELS + 1)}
    raw_lots = orders_at[1] * ISSUES_PER_ORDER // RAW_USES
    when = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    order_ids: dict[int, range] = {}
    lots_at: dict[int, list[int]] = {0: list(range(1, raw_lots + 1))}
    next_order, next_lot, next_movement = 1, raw_lots + 1, 1
    counts = {"orders": 0, "lots": raw_lots, "movements": 0, "confirmations": 0}
    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor
        with Copier(cursor, "mes_lot", ["id", "item_id", "code", "kind", "status", "unit_id", "received_qty", "produced_by_id"]) as lots:
            for lot_id in lots_at[0]:
                lots.row(lot_id, items[0].pk, f"RAW-{lot_id:07d}", "lot", "available", unit.pk, 1000, None)
        for level in range(1, LEVELS + 1):
            order_ids[level] = range(next_order, next_order + orders_at[level])
            next_order += orders_at[level]
            with Copier(cursor, "mes_workorder", ["id", "number", "item_id", "quantity", "due_date", "priority", "status"]) as orders:
                for order_id in order_ids[level]:
                    orders.row(order_id, f"BWO-L{level}-{order_id:07d}", items[level].pk, 1, when.date(), 5, "closed")
            with Copier(cursor, "mes_workorderoperation", ["id", "work_order_id", "sequence", "name", "work_center_id", "status", "planned_qty"]) as operations:
                for order_id in order_ids[level]:
                    operations.row(order_id, order_id, 10, "Make", center.pk, "completed", 1)
            with Copier(cursor, "mes_confirmation", ["client_id", "request_hash", "kind", "work_order_id", "operation_id", "good_qty", "station",
                                                      "confirmed_at", "recorded_at"]) as confirmations:
                for order_id in order_ids[level]:
                    confirmations.row(uuid.uuid4(), "bench", "confirmation", order_id, order_id, 1, "ST-1", when, when)
            # what the level's orders are issued: the lots below, each used RAW_USES or ORDERS_PER_LOT times
            uses = RAW_USES if level == 1 else ORDERS_PER_LOT
            pool = [lot_id for lot_id in lots_at[level - 1] for _ in range(uses)]
            rng.shuffle(pool)
            with Copier(cursor, "mes_materialmovement", ["id", "kind", "source", "state", "work_order_id", "operation_id", "item_id", "lot_id",
                                                          "quantity", "unit_id", "recorded_at"]) as issues:
                for index, order_id in enumerate(order_ids[level]):
                    for lot_id in pool[index * ISSUES_PER_ORDER:(index + 1) * ISSUES_PER_ORDER]:
                        issues.row(next_movement, "issue", "scan", "posted", order_id, order_id, items[level - 1].pk, lot_id, 1, unit.pk, when)
                        next_movement += 1
            made = SERIALS_PER_ORDER if level == LEVELS else 1
            lots_at[level] = []
            with Copier(cursor, "mes_lot", ["id", "item_id", "code", "kind", "status", "unit_id", "produced_qty", "produced_by_id"]) as lots:
                for order_id in order_ids[level]:
                    for piece in range(made):
                        lots.row(next_lot, items[level].pk, f"L{level}-{order_id:07d}-{piece}", "serial" if level == LEVELS else "lot",
                                 "available", unit.pk, 1, order_id)
                        lots_at[level].append(next_lot)
                        next_lot += 1
            when += datetime.timedelta(days=1)
        for table in ("mes_lot", "mes_workorder", "mes_workorderoperation", "mes_materialmovement"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        cursor.execute("ANALYZE")
        for table, key in (("mes_workorder", "orders"), ("mes_lot", "lots"), ("mes_materialmovement", "movements"), ("mes_confirmation", "confirmations")):
            cursor.execute(f"SELECT count(*) FROM {table}")
            counts[key] = cursor.fetchone()[0]
    finished = rng.choice(lots_at[LEVELS])
    raw = rng.choice(lots_at[0])
    return {"counts": counts, "finished": finished, "raw": raw}


def reused() -> dict:
    """What ``seed`` answers, read from a database it seeded before."""
    from mes.models import Lot, MaterialMovement, WorkOrder

    rng = random.Random(12)
    serials = list(Lot.objects.filter(kind="serial").values_list("pk", flat=True))
    raws = list(Lot.objects.filter(produced_by__isnull=True).values_list("pk", flat=True))
    counts = {"orders": WorkOrder.objects.count(), "lots": Lot.objects.count(), "movements": MaterialMovement.objects.count()}
    return {"counts": counts, "finished": rng.choice(serials), "raw": rng.choice(raws)}


# --- measuring ------------------------------------------------------------------------------


def orm_level_by_level(root_id: int, direction: str) -> set[tuple[int, int, int | None]]:
    """The same edges (movement, work order, to-lot) fetched one level at a time through the ORM."""
    from django.db.models import Exists, OuterRef

    from mes.models import Lot, MaterialMovement

    reversed_ = MaterialMovement.objects.filter(reverses=OuterRef("pk"), state="posted")
    standing = MaterialMovement.objects.filter(kind="issue", state="posted", quantity__gt=0, lot__isnull=False).exclude(Exists(reversed_))
    edges: set[tuple[int, int, int | None]] = set()
    frontier, seen = {root_id}, {root_id}
    for _level in range(50):
        if not frontier:
            break
        found: set[int] = set()
        if direction == "backward":
            orders = {lot.produced_by_id: lot.pk for lot in Lot.objects.filter(pk__in=frontier, produced_by__isnull=False).only("pk", "produced_by_id")}
            for movement in standing.filter(work_order_id__in=orders).only("pk", "work_order_id", "lot_id"):
                edges.add((movement.pk, movement.work_order_id, movement.lot_id))
                found.add(movement.lot_id)
        else:
            issues = list(standing.filter(lot_id__in=frontier).only("pk", "work_order_id", "lot_id"))
            made: dict[int, list[int]] = {}
            for lot in Lot.objects.filter(produced_by_id__in={movement.work_order_id for movement in issues}).only("pk", "produced_by_id"):
                made.setdefault(lot.produced_by_id, []).append(lot.pk)
            for movement in issues:
                for lot_id in made.get(movement.work_order_id, [None]):
                    edges.add((movement.pk, movement.work_order_id, lot_id))
                    if lot_id is not None:
                        found.add(lot_id)
        frontier = found - seen
        seen |= found
    return edges


def nodes(tree: dict) -> int:
    children = tree.get("consumed", []) + [node for use in tree.get("consumed_by", []) for node in use["produced"]]
    return 1 + sum(nodes(child) for child in children)


def timed(function, runs: int) -> tuple[list[float], object, float]:
    """Wall milliseconds of each run, the last result, and the CPU milliseconds per run of this
    process and its PostgreSQL backend together (which move least when other jobs share the machine)."""
    from django.db import connection

    result = None
    for _ in range(3):
        result = function()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    cpu_before = time.process_time() + process_cpu_seconds(backend)
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        result = function()
        times.append((time.perf_counter() - began) * 1000)
    cpu_ms = (time.process_time() + process_cpu_seconds(backend) - cpu_before) * 1000 / runs
    return times, result, cpu_ms


def main() -> int:
    args = parse_args()
    database_url = f"{args.server}/{args.database}"
    started = datetime.datetime.now(datetime.UTC)
    if args.reuse_db:
        args.keep_db = True
    else:
        print(f"[setup] creating {args.database} and migrating …", flush=True)
        database_create(args.server, args.database)
    try:
        if not args.reuse_db:
            migrate(database_url)
        os.environ.update(DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="mes.settings", DEBUG="0", LOG_LEVEL="WARNING",
                          SECRET_KEY=os.environ.get("SECRET_KEY") or "bench-" + "x" * 50)
        os.environ.pop("REDIS_URL", None)
        import django

        django.setup()
        from mes.models import Lot
        from mes.selectors.trace import lot_trace, trace_edges

        began = time.perf_counter()
        seeded = reused() if args.reuse_db else seed(args.movements)
        print(f"[setup] seeded in {time.perf_counter() - began:.0f} s: {seeded['counts']}", flush=True)
        finished = Lot.objects.select_related("item").get(pk=seeded["finished"])
        raw = Lot.objects.select_related("item").get(pk=seeded["raw"])
        # As a web worker runs (mes/wsgi.py): start-up state frozen out of the garbage collector,
        # and here the seeding's leftovers too, so a full collection walks only what a trace makes.
        import gc

        from django.urls import get_resolver

        get_resolver().url_patterns  # noqa: B018 — imported for its side effect
        gc.collect()
        gc.freeze()
        busy_before = wait_for_quiet(args)
        host = HostWatch()
        results = []
        for label, lot, direction in (("backward, finished serial", finished, "backward"), ("forward, raw lot", raw, "forward")):
            recursive_ms, tree, recursive_cpu = timed(lambda: lot_trace(Lot.objects.select_related("item", "produced_by").get(pk=lot.pk), direction=direction), args.runs)
            walk_ms, (edges, _cut), walk_cpu = timed(lambda: trace_edges(lot.pk, direction=direction), args.runs)
            orm_ms, orm_edges, orm_cpu = timed(lambda: orm_level_by_level(lot.pk, direction), args.runs)
            same = {(edge.movement_id, edge.work_order_id, edge.to_lot) for edge in edges} == orm_edges
            results.append((label, lot.code, recursive_ms, walk_ms, orm_ms, nodes(tree), len(edges), same, (recursive_cpu, walk_cpu, orm_cpu)))
        print()
        print(f"trace benchmark — {started:%Y-%m-%d %H:%M} UTC — {seeded['counts']['movements']:,} issue movements, "
              f"{seeded['counts']['lots']:,} lots, {seeded['counts']['orders']:,} orders, {LEVELS} levels; {args.runs} runs each")
        passed = True
        for label, code, recursive_ms, walk_ms, orm_ms, tree_nodes, edge_count, same, cpu in results:
            p95 = percentile(recursive_ms, 0.95)
            passed &= p95 <= TARGET_P95_MS and same
            print(f"  {label} ({code}): {tree_nodes} nodes, {edge_count} edges")
            print(f"    trace (recursive query + details + tree): p50 {percentile(recursive_ms, 0.5):.1f} ms, p95 {p95:.1f} ms, "
                  f"max {max(recursive_ms):.1f} ms, CPU {cpu[0]:.1f} ms  [{verdict(p95 <= TARGET_P95_MS)} p95 ≤ {TARGET_P95_MS:.0f} ms]")
            print(f"    recursive query alone: p50 {percentile(walk_ms, 0.5):.1f} ms, p95 {percentile(walk_ms, 0.95):.1f} ms, CPU {cpu[1]:.1f} ms")
            print(f"    ORM, one level at a time (same edges: {same}): p50 {percentile(orm_ms, 0.5):.1f} ms, "
                  f"p95 {percentile(orm_ms, 0.95):.1f} ms, CPU {cpu[2]:.1f} ms")
        return in_process_footer(database_url=database_url, busy_before=busy_before, passed=passed, host=host)
    finally:
        in_process_cleanup(args=args, database_url=database_url)


if __name__ == "__main__":
    sys.exit(main())
