"""Actual against standard cost of one work order, by category: material, labor, machine and scrap.

The pieces the order has made are its good output (the last operation's good quantity) and its
scrap (every operation's scrapped quantity). **Standard** is what those pieces should have cost:

- material: each component's quantity per piece (the BOM snapshot taken at release, the order's
  required quantity ÷ the order's quantity) × the component's ``standard_cost``, × the pieces made;
- labor and machine: per operation, setup (once, when anything was made) + run time per piece ×
  the pieces made, × its work center's ``labor_rate`` or ``machine_rate`` per hour;
- scrap: nothing (no scrap is planned).

**Actual** is what was spent: material issued to the order (posted issues, net of reversals) at
its lot's ``unit_cost``, else its item's ``standard_cost``; the labor and machine minutes of the
confirmations (the operations' totals) × the rates. The actual of scrap is the scrapped pieces at
standard (material per piece + run time per piece × both rates): it is already part of what the
material, labor and machine spent, so it is not added again to the total.

**Variance** = actual − standard per category; the totals compare what was spent with the standard
of the good output (the standard of the pieces made less the scrap's), so the category variances
add up to the total variance. A figure that needs a cost or rate nobody set is not given (``None``)
and its category and the totals are marked incomplete, naming what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum
from django.utils.translation import gettext as _

from mes.models import MaterialMovement, WorkOrder
from mes.selectors.work_orders import work_order_get

ZERO = Decimal(0)
CENTS = Decimal("0.01")
CATEGORIES = ("material", "labor", "machine", "scrap")


@dataclass
class Missing:
    """A cost or rate a figure needs that is not set."""

    category: str
    field: str  # standard_cost | labor_rate | machine_rate
    key: str  # the item or work center code
    message: str

    def as_dict(self) -> dict[str, str]:
        owner = "item" if self.field == "standard_cost" else "work_center"
        return {"category": self.category, "field": self.field, owner: self.key, "message": self.message}


@dataclass
class CostLine:
    category: str
    standard: Decimal | None = ZERO
    actual: Decimal | None = ZERO
    missing: list[Missing] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def variance(self) -> Decimal | None:
        if not self.complete or self.standard is None or self.actual is None:
            return None
        return self.actual - self.standard

    def shown(self, value: Decimal | None) -> Decimal | None:
        return None if not self.complete or value is None else value.quantize(CENTS)


@dataclass
class WorkOrderCost:
    work_order: WorkOrder
    currency: str
    good: Decimal
    scrap: Decimal
    lines: dict[str, CostLine]
    standard_of_good: Decimal | None

    @property
    def made(self) -> Decimal:
        return self.good + self.scrap

    @property
    def missing(self) -> list[Missing]:
        return [missing for line in self.lines.values() for missing in line.missing]

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def missing_messages(self) -> list[str]:
        """What is missing, each said once (the scrap needs what the other categories need)."""
        return list(dict.fromkeys(missing.message for missing in self.missing))

    @property
    def totals(self) -> dict[str, Decimal | None]:
        if not self.complete or self.standard_of_good is None:
            return {"standard": None, "actual": None, "variance": None}
        actual = sum((self.lines[name].actual for name in ("material", "labor", "machine")), ZERO)
        return {
            "standard": self.standard_of_good.quantize(CENTS),
            "actual": actual.quantize(CENTS),
            "variance": (actual - self.standard_of_good).quantize(CENTS),
        }

    def as_dict(self) -> dict:
        return {
            "work_order": self.work_order.number,
            "item": self.work_order.item.code,
            "currency": self.currency,
            "quantities": {"good": self.good, "scrap": self.scrap, "made": self.made},
            "complete": self.complete,
            "missing": [missing.as_dict() for missing in self.missing],
            "categories": {
                name: {
                    "standard": line.shown(line.standard),
                    "actual": line.shown(line.actual),
                    "variance": line.shown(line.variance),
                    "complete": line.complete,
                }
                for name, line in self.lines.items()
            },
            "totals": self.totals,
        }


def _note(line: CostLine, field_name: str, key: str, message: str) -> None:
    if not any(missing.field == field_name and missing.key == key for missing in line.missing):
        line.missing.append(Missing(line.category, field_name, key, message))


def _no_cost(item_code: str) -> str:
    return _("Item %(item)s has no standard cost.") % {"item": item_code}


def _no_rate(field_name: str, center: str) -> str:
    if field_name == "labor_rate":
        return _("Work center %(work_center)s has no labor rate.") % {"work_center": center}
    return _("Work center %(work_center)s has no machine rate.") % {"work_center": center}


def work_order_cost(*, number: str) -> WorkOrderCost:
    """The order's costs (see the module's docstring): four queries. Unknown order: 404 ``unknown_work_order``."""
    order = work_order_get(number=number)
    operations = list(order.operations.all())
    components = list(order.components.all())
    issues = (
        MaterialMovement.objects.filter(
            work_order=order, kind=MaterialMovement.Kind.ISSUE, state=MaterialMovement.State.POSTED
        )
        .values("item__code", "item__standard_cost", "lot__unit_cost")
        .annotate(quantity=Sum("quantity"))
        .order_by("item__code")
    )
    lines = {name: CostLine(name) for name in CATEGORIES}
    good = operations[-1].good_qty if operations else ZERO
    scrap = sum((operation.scrap_qty for operation in operations), ZERO)
    made = good + scrap

    # Material: standard per piece from the BOM snapshot; actual from the issues.
    material, scrap_line = lines["material"], lines["scrap"]
    per_piece_material = ZERO
    for component in components:
        cost = component.item.standard_cost
        if cost is None:  # missing only where it is needed: for pieces made, for pieces scrapped
            if made:
                _note(material, "standard_cost", component.item.code, _no_cost(component.item.code))
            if scrap:
                _note(scrap_line, "standard_cost", component.item.code, _no_cost(component.item.code))
            continue
        per_piece_material += component.required_qty / order.quantity * cost
    material.standard = per_piece_material * made
    actual_material = ZERO
    for row in issues:
        unit_cost = row["lot__unit_cost"] if row["lot__unit_cost"] is not None else row["item__standard_cost"]
        if unit_cost is None:
            _note(material, "standard_cost", row["item__code"], _no_cost(row["item__code"]))
            continue
        actual_material += row["quantity"] * unit_cost
    material.actual = actual_material

    # Labor and machine: standard from the routing snapshot's times, actual from the confirmed minutes.
    per_piece_time = ZERO  # the run cost of one piece through every operation, both rates
    for name, rate_field, minutes_field in (("labor", "labor_rate", "labor_minutes"), ("machine", "machine_rate", "machine_minutes")):
        line = lines[name]
        standard = actual = ZERO
        for operation in operations:
            center = operation.work_center
            rate = getattr(center, rate_field)
            standard_minutes = (operation.setup_minutes + operation.run_minutes_per_unit * made) if made > 0 else ZERO
            actual_minutes = getattr(operation, minutes_field)
            if rate is None:
                if standard_minutes or actual_minutes:
                    _note(line, rate_field, center.code, _no_rate(rate_field, center.code))
                if operation.run_minutes_per_unit and scrap:
                    _note(scrap_line, rate_field, center.code, _no_rate(rate_field, center.code))
                continue
            standard += standard_minutes / 60 * rate
            actual += actual_minutes / 60 * rate
            per_piece_time += operation.run_minutes_per_unit / 60 * rate
        line.standard, line.actual = standard, actual

    # Scrap: the scrapped pieces at standard; already spent in the other categories.
    scrap_cost = (per_piece_material + per_piece_time) * scrap
    scrap_line.standard, scrap_line.actual = ZERO, scrap_cost
    standard_made = sum((lines[name].standard for name in ("material", "labor", "machine")), ZERO)
    return WorkOrderCost(
        work_order=order,
        currency=settings.MES_CURRENCY,
        good=good,
        scrap=scrap,
        lines=lines,
        standard_of_good=standard_made - scrap_cost,
    )
