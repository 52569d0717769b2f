"""Seed the board benchmark's database fast, then count the board's queries in-process.

Run by ``bench/board.py`` in a subprocess with ``DATABASE_URL`` pointing at the (migrated)
bench database. Master data goes through the product's services; the bulk rows (orders,
operations, confirmations, outbox messages) are written with ``bulk_create`` and COPY, and the
operations' totals are then set from their confirmations, as the confirmation service keeps them.

Prints one JSON line: ``{"session": ..., "token": ..., "active": [...], "queries": {...}}``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import sys
import time
import uuid
from decimal import Decimal

LINES = {"L1": ("BCUT", "BWELD", "BPACK"), "L2": ("BSMT", "BTEST", "BBOX")}
STATES = ("run", "run", "run", "idle", "down")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1000, help="active orders")
    parser.add_argument("--finished", type=int, default=1000, help="closed orders besides (not on the board)")
    parser.add_argument("--confirmations", type=int, default=100_000)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mes.settings")
    import django

    django.setup()
    import psycopg
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection
    from django.utils import timezone

    from mes.models import Equipment, Status, WorkCenter, WorkOrder, WorkOrderOperation
    from mes.services.accounts import api_token_create
    from mes.services.master_data import item_upsert, routing_upsert, work_center_upsert
    from shopfloor.models import EquipmentState

    rng = random.Random(7)
    now = timezone.now()
    for line, centers in LINES.items():
        for code in centers:
            work_center_upsert(code=code, name=code.title(), line=line)
        item_upsert(code=f"BITEM-{line}", name=f"Bench item {line}", unit="pcs")
        routing_upsert(
            item_code=f"BITEM-{line}",
            operations=[{"sequence": 10 * (index + 1), "name": code.title(), "work_center": code} for index, code in enumerate(centers)],
        )
    centers = {center.code: center for center in WorkCenter.objects.all()}
    for code, center in centers.items():
        for number in (1, 2):
            equipment = Equipment.objects.create(code=f"{code}-{number:02d}", name=f"{code} {number}", work_center=center)
            state = rng.choice(STATES)
            EquipmentState.objects.create(equipment=equipment, state=state, started_at=now - datetime.timedelta(minutes=rng.randint(1, 600)))

    from mes.models import Item

    items = {line: Item.objects.get(code=f"BITEM-{line}") for line in LINES}
    today = timezone.localdate()
    active_statuses = (Status.IN_PROGRESS, Status.IN_PROGRESS, Status.RELEASED, Status.PAUSED)
    orders = []
    for index in range(args.orders + args.finished):
        line = "L1" if index % 2 == 0 else "L2"
        active = index < args.orders
        orders.append(
            WorkOrder(
                number=f"BWO-{index + 1:06d}",
                item=items[line],
                quantity=Decimal(1000),
                due_date=today + datetime.timedelta(days=rng.randint(-3, 20)),
                priority=rng.randint(1, 9),
                status=active_statuses[index % len(active_statuses)] if active else Status.CLOSED,
                released_at=now - datetime.timedelta(days=rng.randint(1, 10), minutes=rng.randint(0, 600)),
            )
        )
    WorkOrder.objects.bulk_create(orders, batch_size=1000)
    orders = list(WorkOrder.objects.filter(number__startswith="BWO-").order_by("number"))
    operations = []
    for index, order in enumerate(orders):
        line = "L1" if index % 2 == 0 else "L2"
        for position, code in enumerate(LINES[line]):
            operations.append(
                WorkOrderOperation(
                    work_order=order, sequence=10 * (position + 1), name=code.title(), work_center=centers[code],
                    status=order.status if order.status != Status.RELEASED else Status.RELEASED, planned_qty=order.quantity,
                )
            )
    WorkOrderOperation.objects.bulk_create(operations, batch_size=2000)

    active = [order for order in orders[: args.orders]]
    operations_of = {}
    for operation_id, order_id, sequence in WorkOrderOperation.objects.filter(work_order__in=active).values_list("id", "work_order_id", "sequence"):
        operations_of.setdefault(order_id, []).append((sequence, operation_id))
    per_order = args.confirmations // len(active)
    database_url = os.environ["DATABASE_URL"]
    with psycopg.connect(database_url) as raw:
        with raw.cursor() as cursor:
            with cursor.copy(
                "COPY mes_confirmation (uuid, client_id, request_hash, kind, work_order_id, operation_id, good_qty, scrap_qty,"
                " rework_qty, labor_minutes, machine_minutes, station, is_final, note, confirmed_at, recorded_at) FROM STDIN"
            ) as copy_confirmations:
                messages = []
                for order_index, order in enumerate(active):
                    steps = sorted(operations_of[order.pk])
                    # Troubles for some orders: a dead message, retries, messages still on their way.
                    trouble = order_index % 50
                    for n in range(per_order):
                        sequence, operation_id = steps[min(n * len(steps) // per_order, len(steps) - 1)]
                        source = uuid.uuid4()
                        at = order.released_at + datetime.timedelta(minutes=5 * (n + 1))
                        copy_confirmations.write_row(
                            (source, uuid.uuid4(), "bench", "confirmation", order.pk, operation_id, 1, 0, 0, 1, 1, "BENCH", False, "", at, at)
                        )
                        state = "acknowledged"
                        if n >= per_order - 3 and trouble in (1, 2, 3):
                            state = {1: "dead", 2: "retrying", 3: "queued"}[trouble]
                        messages.append((uuid.uuid4(), "confirmation", order.number, n + 1, json.dumps({"work_order": order.number}),
                                         source, "", state, 1, at, False, "", "", "", at, at if state == "acknowledged" else None))
            with cursor.copy(
                "COPY erp_sync_outboxmessage (idempotency_key, kind, partition_key, sequence, payload, source_uuid, destination,"
                " state, attempts, next_attempt_at, needs_lookup, erp_document, last_error, failure_kind, created_at, acknowledged_at) FROM STDIN"
            ) as copy_messages:
                for row in messages:
                    copy_messages.write_row(row)
            cursor.execute(
                "UPDATE mes_workorderoperation o SET good_qty = s.good, last_activity_at = s.last"
                " FROM (SELECT operation_id, sum(good_qty) AS good, max(recorded_at) AS last FROM mes_confirmation GROUP BY operation_id) s"
                " WHERE o.id = s.operation_id"
            )
        raw.commit()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    token = api_token_create(username="bench-reader", role="planner", rotate=True)
    watcher = api_token_create(username="bench-supervisor", role="supervisor", rotate=True).user
    session = SessionStore()
    session[SESSION_KEY] = str(watcher.pk)
    # As Django's force_login: the first backend that can load a user (axes' comes first and cannot).
    session[BACKEND_SESSION_KEY] = next(
        path for path in settings.AUTHENTICATION_BACKENDS if hasattr(load_backend(path), "get_user")
    )
    session[HASH_SESSION_KEY] = watcher.get_session_auth_hash()
    session.create()

    json.dump(
        {
            "session": session.session_key,
            "token": token.key,
            "active": [order.number for order in active],
            "confirmations": per_order * len(active),
            "queries": count_queries(watcher),
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


def count_queries(user) -> dict[str, dict[str, int]]:
    """The board's queries for every active order and for one line's half of them, in-process: with
    the cache empty (the render that works out every active order's predicted finish, once a minute
    for all screens) and again with it shared; and each such render's time in-process."""
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(user)
    counts = {}
    client.get("/board/", HTTP_HX_REQUEST="true")  # templates loaded, connections open: not part of a render
    for label, path in (("all lines", "/board/"), ("line L1", "/board/?line=L1")):
        cache.clear()
        entry = {}
        for key in ("queries", "shared"):
            began = time.perf_counter()
            with CaptureQueriesContext(connection) as queries:
                response = client.get(path, HTTP_HX_REQUEST="true")
            entry[f"{key}_ms"] = round((time.perf_counter() - began) * 1000, 1)
            if response.status_code != 200:
                raise SystemExit(f"GET {path} answered {response.status_code}")
            entry[key] = len(queries)
        counts[label] = entry | {"orders": response.content.count(b"<tr data-number=")}
    return counts


if __name__ == "__main__":
    main()
