"""The API documentation's own words: each master-data resource under its own tag, with summaries and a
description in its terms and an example of every request body, so /api/docs/ reads as a manual, not a
list of "one of work-orders". The examples fit together: sent in the order of ``RESOURCE_WORDS`` (bulk
first, then the single PUT), each is accepted (tests/mes/test_api_docs.py sends them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from drf_spectacular.utils import OpenApiExample, extend_schema


@dataclass(frozen=True)
class ResourceWords:
    """How the documentation speaks of one kind of ERP-owned record."""

    one: str  # "an item"
    many: str  # "items"
    key: str  # "its code"
    description: str
    example_key: str
    example: dict[str, Any]  # the body of PUT /<resource>/<example_key>
    bulk_example: list[dict[str, Any]]  # the records of POST /<resource>/bulk (key included)

    def summaries(self) -> dict[str, str]:
        return {
            "get": f"Read {self.one} by {self.key}",
            "put": f"Create or update {self.one} by {self.key} (idempotent)",
            "bulk": f"Create or update up to 1,000 {self.many} in one call, all or nothing",
        }

    def put_examples(self) -> list[OpenApiExample]:
        return [OpenApiExample(f"{self.one.split(' ', 1)[1].capitalize()} {self.example_key}", value=self.example, request_only=True)]

    def bulk_examples(self) -> list[OpenApiExample]:
        return [OpenApiExample(f"{len(self.bulk_example)} {self.many}", value={"records": self.bulk_example}, request_only=True)]


UPSERT_RULE = (
    " The ERP owns these records: a PUT with the same body again answers 200 and changes nothing; "
    "a field left out keeps its value where the field is optional."
)

RESOURCE_WORDS: dict[str, ResourceWords] = {
    "work-centers": ResourceWords(
        "a work center", "work centers", "its code",
        "Where operations are done: a cell, a line's station or a department. Routings name the work center of "
        "each operation; stations and machines belong to one. `line` groups work centers on the board; "
        "`capacity_hours_per_day` is what planning may load on it. `labor_rate` and `machine_rate` (per hour, in "
        "`MES_CURRENCY`, ≥ 0; left out: kept, null: not known) cost the order's time (`GET /api/v1/work-orders/{number}/cost`)." + UPSERT_RULE,
        "WC-CUT", {"name": "Cutting", "capacity_hours_per_day": "16.00", "line": "L1", "labor_rate": "48.00", "machine_rate": "120.00"},
        [{"code": "WC-CUT", "name": "Cutting", "line": "L1"}, {"code": "WC-WELD", "name": "Welding", "capacity_hours_per_day": "16.00", "line": "L1"}],
    ),
    "equipment": ResourceWords(
        "a machine", "machines", "its code",
        "A machine of a work center. Its signals (counts, run state) are mapped with `PUT /api/v1/equipment/{code}/signals`; "
        "OEE and downtime are kept per machine." + UPSERT_RULE,
        "SAW-01", {"name": "Band saw 1", "work_center": "WC-CUT"},
        [{"code": "SAW-01", "name": "Band saw 1", "work_center": "WC-CUT"}, {"code": "WELD-01", "name": "Welding robot", "work_center": "WC-WELD"}],
    ),
    "items": ResourceWords(
        "an item", "items", "its code",
        "A material, part or product with its unit of measure. `tracking` says whether its stock is traced by lot, "
        "by serial or not at all; an unknown unit code is added to the units. `standard_cost` (per unit, in `MES_CURRENCY`, ≥ 0; "
        "left out: kept, null: not known) costs it as a component at standard." + UPSERT_RULE,
        "FG-1000", {"name": "Motor bracket assembly", "unit": "pcs", "description": "Finished good, line L1", "tracking": "lot", "standard_cost": "85.5000"},
        [
            {"code": "RM-0001", "name": "Cold-rolled steel sheet", "unit": "kg", "description": "DC01, 2 mm", "tracking": "lot", "standard_cost": "6.2000"},
            {"code": "FG-1000", "name": "Motor bracket assembly", "unit": "pcs", "tracking": "lot"},
        ],
    ),
    "employees": ResourceWords(
        "an employee", "employees", "their badge",
        "A person who reports at a station, identified by the badge they scan. `is_active: false` keeps their history "
        "but refuses their badge; `skills` replaces the employee's skills when sent." + UPSERT_RULE,
        "B-1001", {"name": "Li Wei", "skills": ["CUT", "WELD"], "is_active": True},
        [{"badge": "B-1001", "name": "Li Wei", "skills": ["CUT"]}, {"badge": "B-1002", "name": "Wang Fang", "is_active": True}],
    ),
    "reason-codes": ResourceWords(
        "a reason code", "reason codes", "its code",
        "Why something was scrapped, reworked, paused or stood still. `kind` says which of those it explains; a scrap "
        "report needs a scrap reason, a pause a pause reason." + UPSERT_RULE,
        "SCRAP-01", {"kind": "scrap", "name": "Material defect"},
        [{"code": "SCRAP-01", "kind": "scrap", "name": "Material defect"}, {"code": "PAUSE-01", "kind": "pause", "name": "Break"}],
    ),
    "boms": ResourceWords(
        "a bill of materials", "bills of materials", "its item's code",
        "What one unit of an item is made of, one version at a time. A line names the operation that consumes it "
        "(the first when left out) and whether reports backflush it; release takes a snapshot of the version valid "
        "on the order's date. GET answers the latest valid version." + UPSERT_RULE,
        "FG-1000",
        {"version": "2", "valid_from": "2026-01-01", "lines": [{"item": "RM-0001", "quantity": "2.5", "unit": "kg", "operation": 10, "backflush": False}]},
        [{"item": "FG-1000", "version": "1", "lines": [{"item": "RM-0001", "quantity": "2.4", "operation": 10}]}],
    ),
    "routings": ResourceWords(
        "a routing", "routings", "its item's code",
        "The operations that make an item, in sequence, each at a work center with its setup and run times. "
        "`quality_checkpoint` holds later operations until it is finished. Orders released afterwards take the new "
        "operations; released orders keep theirs." + UPSERT_RULE,
        "FG-1000",
        {
            "operations": [
                {"sequence": 10, "name": "Cut", "work_center": "WC-CUT", "setup_minutes": "15", "run_minutes_per_unit": "1.5"},
                {"sequence": 20, "name": "Weld", "work_center": "WC-WELD", "run_minutes_per_unit": "4", "quality_checkpoint": True},
            ]
        },
        [{"item": "FG-1000", "operations": [{"sequence": 10, "name": "Cut", "work_center": "WC-CUT"}]}],
    ),
    "work-orders": ResourceWords(
        "a work order", "work orders", "its number",
        "A production order from the ERP: how many of which item, by when, how urgent (`priority` 1 = most urgent). "
        "It arrives planned; `POST …/release` snapshots its routing and BOM and opens it to the shop floor. Quantity and "
        "dates may change while it runs, never below what is already reported." + UPSERT_RULE,
        "WO-1001", {"item": "FG-1000", "quantity": "100", "due_date": "2026-12-18", "priority": 2},
        [{"number": "WO-1001", "item": "FG-1000", "quantity": "100", "due_date": "2026-12-18"}, {"number": "WO-1002", "item": "FG-1000", "quantity": "40", "due_date": "2026-12-21", "priority": 1}],
    ),
}

TRANSITION_WORDS: dict[str, tuple[str, str]] = {
    "release": ("Release a work order to the shop floor", "Materials are staged; cutting starts Monday."),
    "pause": ("Put a work order on hold", "Customer changed the drawing; waiting for revision C."),
    "resume": ("Take a work order off hold", "Revision C arrived."),
    "cancel": ("Cancel a work order", "Customer cancelled the order."),
    "close": ("Close a finished work order", "All parts delivered to the warehouse."),
}


def documented(method: Callable, **schema: Any) -> Callable:
    """``method`` in a function of its own, documented with ``extend_schema(**schema)``.

    extend_schema annotates the function it is given; a method that several generated views inherit is one
    function, so without this the words of the last view generated would stand for all of them.
    """

    def own(self, *args, **kwargs):
        return method(self, *args, **kwargs)

    own.__name__, own.__qualname__, own.__doc__ = method.__name__, method.__qualname__, method.__doc__
    return extend_schema(**schema)(own)
