"""The production orders a simulated ERP serves to an MES that pulls them (issue #16).

One neutral table per simulator, which each flavour answers in its own protocol: SAP's
``A_ProductionOrder_2`` (``$filter`` on ``LastChangeDateTime``, ``$expand`` of operations and
components), Kingdee's ``ExecuteBillQuery`` on ``PRD_MO`` and ``PRD_PPBOM`` (``FModifyDate``),
ERPNext's ``Work Order`` (``modified``), Odoo's ``mrp.production`` (``write_date``).

An order, as the control API takes it (``POST /__sim__/orders`` ``{"orders": [...]}``, fields left
out keep their value; ``DELETE /__sim__/orders`` empties the table, ``GET`` lists it)::

    {"number": "1000101", "item": "FG-1000", "quantity": "10", "unit": "pcs",
     "start_date": "2026-12-08", "due_date": "2026-12-18", "status": "released",
     "operations": [{"sequence": 10, "name": "Weld", "work_center": "WC-WELD",
                     "setup_minutes": "30", "run_minutes_per_unit": "4"}],
     "components": [{"item": "SA-1100", "quantity": "20", "unit": "pcs", "operation": 10,
                     "backflush": false}]}

``status`` is ``planned``, ``released`` (what an MES pulls), ``completed`` or ``closed``;
component quantities are the order's total requirement, as ERPs hold them. Every write stamps
the order with the time of the change (``changed_at``, UTC, to the second, never earlier than
the last stamp), which is what the incremental filters compare. A reset brings back the demo
orders below.
"""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal
from typing import Any

from simulators.erp.base import parse_decimal, plain

STATUSES = ("planned", "released", "completed", "closed")
FIELDS = ("item", "quantity", "unit", "start_date", "due_date", "status", "operations", "components")

DEMO_ORDERS: list[dict[str, Any]] = [
    {
        "number": "1000101", "item": "SA-1100", "quantity": "40", "unit": "pcs",
        "start_date": "2026-12-08", "due_date": "2026-12-15", "status": "released",
        "operations": [
            {"sequence": 10, "name": "Laser cut", "work_center": "WC-CUT", "setup_minutes": "15", "run_minutes_per_unit": "0.8"},
            {"sequence": 20, "name": "Bend", "work_center": "WC-BEND", "setup_minutes": "20", "run_minutes_per_unit": "1.2"},
        ],
        "components": [{"item": "RM-0001", "quantity": "48", "unit": "kg", "operation": 10, "backflush": False}],
    },
    {
        "number": "1000102", "item": "SA-2100", "quantity": "25", "unit": "pcs",
        "start_date": "2026-12-09", "due_date": "2026-12-16", "status": "released",
        "operations": [
            {"sequence": 10, "name": "Cut wire", "work_center": "WC-ASM", "setup_minutes": "5", "run_minutes_per_unit": "0.5"},
            {"sequence": 20, "name": "Crimp", "work_center": "WC-ASM", "setup_minutes": "10", "run_minutes_per_unit": "1"},
        ],
        "components": [
            {"item": "RM-0003", "quantity": "62.5", "unit": "m", "operation": 10, "backflush": True},
            {"item": "RM-0004", "quantity": "50", "unit": "pcs", "operation": 20, "backflush": False},
        ],
    },
    {
        "number": "1000103", "item": "SA-1200", "quantity": "10", "unit": "pcs",
        "start_date": "2026-12-10", "due_date": "2026-12-20", "status": "planned",
        "operations": [
            {"sequence": 10, "name": "Laser cut", "work_center": "WC-CUT", "setup_minutes": "15", "run_minutes_per_unit": "1.5"},
        ],
        "components": [{"item": "RM-0001", "quantity": "35", "unit": "kg", "operation": 10, "backflush": False}],
    },
]


class OrderBook:
    """The orders of one simulated ERP, with the time each last changed."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.last_stamp = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        self.upsert(copy.deepcopy(DEMO_ORDERS))

    def clear(self) -> None:
        self.orders = {}

    def upsert(self, orders: Any) -> list[dict[str, Any]]:
        """Create or change orders by number; each written order gets the stamp of this change."""
        if not isinstance(orders, list):
            raise ValueError("orders must be a list")
        stamp = max(dt.datetime.now(dt.UTC).replace(microsecond=0), self.last_stamp)
        written = []
        for given in orders:
            if not isinstance(given, dict) or not str(given.get("number") or "").strip():
                raise ValueError("each order needs a number")
            number = str(given["number"])
            current = self.orders.get(number, {"number": number, "unit": "pcs", "status": "released", "operations": [], "components": []})
            changed = {**current, **{key: copy.deepcopy(value) for key, value in given.items() if key in FIELDS}}
            if changed["status"] not in STATUSES:
                raise ValueError(f"status must be one of {', '.join(STATUSES)}")
            for key in ("item", "quantity", "due_date"):
                if key not in changed:
                    raise ValueError(f"order {number} needs {key}")
            changed.setdefault("start_date", changed["due_date"])
            changed["changed_at"] = stamp
            self.orders[number] = changed
            written.append(changed)
        self.last_stamp = stamp
        return written

    def changed_since(self, since: dt.datetime | None) -> list[dict[str, Any]]:
        """The orders changed at or after ``since`` (every one without it), oldest change first."""
        rows = [order for order in self.orders.values() if since is None or order["changed_at"] >= since]
        return sorted(rows, key=lambda order: (order["changed_at"], order["number"]))

    def public(self) -> list[dict[str, Any]]:
        return [{**order, "changed_at": order["changed_at"].isoformat()} for order in self.orders.values()]


def number_text(value: Any) -> str:
    """A quantity as a plain decimal text ("62.5"); what cannot be read is passed on as it is, so
    a test can serve a bad record."""
    try:
        return plain(parse_decimal(value))
    except ValueError:
        return str(value)


def number_or_text(value: Any) -> float | str:
    """A quantity as a JSON number where it is one (Kingdee, ERPNext and Odoo answer numbers)."""
    try:
        return float(parse_decimal(value))
    except ValueError:
        return str(value)


def minutes(value: Any) -> Decimal:
    try:
        return parse_decimal(value if value not in (None, "") else 0)
    except ValueError:
        return Decimal(0)
