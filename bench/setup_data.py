"""Seed the benchmark database through the product's own services; print what the load needs.

Run by ``bench/ingest.py`` in a subprocess with ``DATABASE_URL`` pointing at the (migrated)
bench database. Prints one JSON line: ``{"token": ..., "work_orders": [...], "operation": ...,
"operator_badge": ...}``.
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
    employee_upsert(badge="B-BENCH-01", name="Bench Operator")
    due = datetime.date.today() + datetime.timedelta(days=30)
    numbers = []
    for index in range(1, args.orders + 1):
        number = f"BENCH-{index:05d}"
        work_order_upsert(number=number, item="BENCH-ITEM", quantity=Decimal(args.quantity), due_date=due)
        work_order_transition(number=number, action="release")
        numbers.append(number)
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
        {"token": token.key, "work_orders": numbers, "operation": 10, "operator_badge": "B-BENCH-01"},
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
