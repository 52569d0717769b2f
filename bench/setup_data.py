"""Seed the benchmark database through the product's own services; print what the load needs.

Run by ``bench/ingest.py`` in a subprocess with ``DATABASE_URL`` pointing at the (migrated)
bench database. Prints one JSON line: ``{"token": ..., "work_orders": [...], "operation": ...,
"operator_badge": ..., "backflush_orders": [...], "backflush_lot_item": ...}``.

The backflush orders (``BENCHBF-…``, for phase D) make an item whose operation 10 backflushes
three components: two untracked, one tracked by lot, from a big lot staged per order
(``RESIN-<order>``; the lots API of issue 12 stages them in a plant, here they are made directly).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from decimal import Decimal


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--quantity", type=int, default=1_000_000)
    parser.add_argument("--inspection-every", type=int, default=0, help="an every_n inspection plan on operation 10 (0: none)")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mes.settings")
    import django

    django.setup()
    from django.db import connection

    from mes.services.accounts import api_token_create, api_user_bind
    from mes.services.master_data import (
        employee_upsert,
        item_upsert,
        routing_upsert,
        work_center_upsert,
    )
    from mes.services.work_orders import work_order_transition, work_order_upsert

    for code, name in (("BENCH-CUT", "Cutting"), ("BENCH-WELD", "Welding"), ("BENCH-PACK", "Packing")):
        work_center_upsert(code=code, name=name)
    item_upsert(code="BENCH-ITEM", name="Bench bracket", unit="pcs")
    # No quality checkpoint: confirmations go to the first operation, which must stay open.
    routing_upsert(
        item_code="BENCH-ITEM",
        operations=[
            {"sequence": 10, "name": "Cut", "work_center": "BENCH-CUT", "setup_minutes": 5, "run_minutes_per_unit": "0.5"},
            {"sequence": 20, "name": "Weld", "work_center": "BENCH-WELD", "setup_minutes": 5, "run_minutes_per_unit": "1"},
            {"sequence": 30, "name": "Pack", "work_center": "BENCH-PACK", "setup_minutes": 0, "run_minutes_per_unit": "0.2"},
        ],
    )
    if args.inspection_every:
        # Issue 13's bench: the gate's cost on the benched operation (n beyond what a run reports: nothing refused).
        from mes.services.quality import inspection_plan_set

        sampling = {"rule": "every_n", "n": args.inspection_every}
        inspection_plan_set(item_code="BENCH-ITEM", sequence=10, characteristics=[
            {"code": "WIDTH", "name": "Width", "kind": "attribute", "sampling": sampling, "mandatory": True},
        ])
    employee_upsert(badge="B-BENCH-01", name="Bench Operator")
    due = datetime.date.today() + datetime.timedelta(days=30)
    numbers = []
    for index in range(1, args.orders + 1):
        number = f"BENCH-{index:05d}"
        work_order_upsert(number=number, item="BENCH-ITEM", quantity=Decimal(args.quantity), due_date=due)
        work_order_transition(number=number, action="release")
        numbers.append(number)
    backflush_orders = _backflush_orders(args.orders, args.quantity, due)
    token = api_token_create(username="bench-operator", role="operator", rotate=True)
    # An operator's token names only its own badge and stations (the load generators send these).
    api_user_bind(username="bench-operator", badge="B-BENCH-01", stations=["BENCH-ST-1"])

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_baseline_row ("
            " id bigserial PRIMARY KEY, client_id uuid NOT NULL UNIQUE,"
            " payload jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
        )
    json.dump(
        {
            "token": token.key, "work_orders": numbers, "operation": 10, "operator_badge": "B-BENCH-01",
            "backflush_orders": backflush_orders, "backflush_lot_item": "BENCH-RESIN",
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


def _backflush_orders(count: int, quantity: int, due: datetime.date) -> list[str]:
    from mes.models import Item, Lot, UnitOfMeasure
    from mes.services.master_data import bom_upsert, item_upsert, routing_upsert
    from mes.services.work_orders import work_order_transition, work_order_upsert

    item_upsert(code="BENCH-BF-ITEM", name="Bench bracket, backflushed", unit="pcs")
    item_upsert(code="BENCH-RESIN", name="Resin", unit="kg", tracking="lot")
    item_upsert(code="BENCH-BOLT", name="Bolt", unit="pcs")
    item_upsert(code="BENCH-WASHER", name="Washer", unit="pcs")
    routing_upsert(
        item_code="BENCH-BF-ITEM",
        operations=[
            {"sequence": 10, "name": "Mould", "work_center": "BENCH-CUT", "setup_minutes": 5, "run_minutes_per_unit": "0.5"},
            {"sequence": 20, "name": "Assemble", "work_center": "BENCH-WELD", "setup_minutes": 5, "run_minutes_per_unit": "1"},
            {"sequence": 30, "name": "Pack", "work_center": "BENCH-PACK", "setup_minutes": 0, "run_minutes_per_unit": "0.2"},
        ],
    )
    bom_upsert(
        item_code="BENCH-BF-ITEM", version="1",
        lines=[
            {"item": "BENCH-RESIN", "quantity": "0.25", "operation": 10, "backflush": True},
            {"item": "BENCH-BOLT", "quantity": "4", "operation": 10, "backflush": True},
            {"item": "BENCH-WASHER", "quantity": "2", "operation": 10, "backflush": True},
        ],
    )
    resin, kg = Item.objects.get(code="BENCH-RESIN"), UnitOfMeasure.objects.get(code="kg")
    numbers = []
    for index in range(1, count + 1):
        number = f"BENCHBF-{index:05d}"
        work_order_upsert(number=number, item="BENCH-BF-ITEM", quantity=Decimal(quantity), due_date=due)
        work_order_transition(number=number, action="release")
        Lot.objects.create(item=resin, code=f"RESIN-{number}", unit=kg, received_qty=Decimal(quantity))
        numbers.append(number)
    return numbers


if __name__ == "__main__":
    main()
