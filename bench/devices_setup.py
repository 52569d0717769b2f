"""Seed the device benchmark's database through the product's own services.

Run by ``bench/devices.py`` in a subprocess with ``DATABASE_URL`` pointing at the (migrated)
bench database: one piece of equipment per simulated machine (``BENCH-M0001`` …), each with a
device mapping to its simulator's Modbus unit id, and a running operation (an order of its own,
started on the machine as a station does) on the first ``--running`` machines, so their counts
become confirmations; the others' counts become unassigned production. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from decimal import Decimal


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--simulators", required=True, help="JSON list of [modbus_port, machines]")
    parser.add_argument("--running", type=int, default=200)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mes.settings")
    import django

    django.setup()
    import datetime

    from mes.services.master_data import (
        equipment_upsert,
        item_upsert,
        reason_code_upsert,
        routing_upsert,
        work_center_upsert,
    )
    from mes.services.work_orders import work_order_transition, work_order_upsert
    from shopfloor.services import equipment_signals_set, operation_start_on_equipment
    from simulators.devices.client import modbus_mapping

    work_center_upsert(code="BENCH-DEV", name="Bench machines")
    item_upsert(code="BENCH-PART", name="Bench part", unit="pcs")
    routing_upsert(
        item_code="BENCH-PART",
        operations=[{"sequence": 10, "name": "Press", "work_center": "BENCH-DEV", "setup_minutes": 0, "run_minutes_per_unit": "0.05"}],
    )
    reason_code_upsert(code="SCRAP-BENCH", kind="scrap", name="Bench scrap")
    due = datetime.date.today() + datetime.timedelta(days=30)
    codes = []
    for port, machines in json.loads(args.simulators):
        for unit in range(1, machines + 1):
            code = f"BENCH-M{len(codes) + 1:04d}"
            equipment_upsert(code=code, name=f"Bench machine {len(codes) + 1}", work_center="BENCH-DEV")
            equipment_signals_set(equipment_code=code, config=modbus_mapping(port, unit, poll_interval_s=args.interval))
            codes.append(code)
    for code in codes[: args.running]:
        number = f"BENCH-{code}"
        work_order_upsert(number=number, item="BENCH-PART", quantity=Decimal(10_000_000), due_date=due)
        work_order_transition(number=number, action="release")
        operation_start_on_equipment(number=number, sequence=10, equipment_code=code)
    json.dump({"equipment": len(codes), "running": min(args.running, len(codes))}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
