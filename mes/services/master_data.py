"""Idempotent upserts of the master data an ERP or HR system owns, keyed by the ERP's key.

Each upsert answers whether it created, changed or left the record as it was, and writes an
audit event for every real change (with before and after).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable

from django.db import IntegrityError, models, transaction
from django.utils.translation import gettext as _

from common.errors import DomainError, unknown_reference
from mes.models import (
    Bom,
    BomLine,
    Employee,
    Equipment,
    Item,
    Lot,
    ReasonCode,
    Routing,
    RoutingOperation,
    Skill,
    UnitOfMeasure,
    WorkCenter,
)
from mes.services.audit import event_record
from mes.services.holds import lot_status_from_erp
from mes.services.reschedule import reschedule_after_commit


#: A field the caller left out: kept as it is (``None`` clears it where it may be empty).
UNCHANGED: Any = object()


def _money(wanted: dict[str, Any], name: str, value: Any) -> None:
    """Put a cost or rate (per unit or per hour, ≥ 0, or None: not known) into ``wanted`` unless left out."""
    if value is UNCHANGED:
        return
    if value is not None and value < 0:
        raise DomainError("invalid_cost", _("%(field)s cannot be negative.") % {"field": name}, fields={name: str(value)})
    wanted[name] = value


@dataclass
class UpsertResult:
    obj: Any
    created: bool
    changed: bool


def changed_fields(*, obj: models.Model, wanted: dict[str, Any]) -> list[str]:
    return [name for name, value in wanted.items() if getattr(obj, name) != value]


def _plain(value: Any) -> Any:
    if isinstance(value, models.Model):
        return getattr(value, "code", None) or str(value.pk)
    if isinstance(value, (Decimal, datetime.date)):
        return str(value)
    return value


def _upsert(
    model: type[models.Model],
    *,
    key_field: str,
    key: str,
    wanted: dict[str, Any],
    actor: Any,
    scope: dict[str, Any] | None = None,
    object_key: str = "",
) -> UpsertResult:
    """Lock-or-create one row by its key; a concurrent create of the same key becomes an update.

    ``scope`` completes a key made of several fields (a lot's item); ``object_key`` names the row
    in the audit trail (default ``key``).
    """
    object_type = model._meta.model_name
    lookup = {**(scope or {}), key_field: key}
    object_key = object_key or key
    obj = model.objects.select_for_update().filter(**lookup).first()
    if obj is None:
        try:
            with transaction.atomic():
                obj = model.objects.create(**lookup, **wanted)
        except IntegrityError:
            obj = model.objects.select_for_update().filter(**lookup).first()
            if obj is None:
                raise
        else:
            event_record(
                object_type=object_type, object_key=object_key, action="create", actor=actor,
                after={name: _plain(value) for name, value in wanted.items()},
            )
            return UpsertResult(obj, created=True, changed=True)
    changes = changed_fields(obj=obj, wanted=wanted)
    if not changes:
        return UpsertResult(obj, created=False, changed=False)
    before = {name: _plain(getattr(obj, name)) for name in changes}
    for name in changes:
        setattr(obj, name, wanted[name])
    update_fields = [*changes, "updated_at"] if hasattr(obj, "updated_at") else changes
    obj.save(update_fields=update_fields)
    event_record(
        object_type=object_type, object_key=object_key, action="update", actor=actor,
        before=before, after={name: _plain(wanted[name]) for name in changes},
    )
    return UpsertResult(obj, created=False, changed=True)


def _unit(code: str, field: str = "unit") -> UnitOfMeasure:
    """Units are a small shared vocabulary: an unknown code is added, not refused."""
    if not code:
        raise DomainError("unit_required", _("A unit of measure is required."), fields={field: "required"})
    unit, _created = UnitOfMeasure.objects.get_or_create(code=code)
    return unit


def unit_of_measure_ensure(*, code: str) -> UnitOfMeasure:
    """The unit ``code``, added when unknown (as an item naming it adds it), e.g. for an inspection plan's limits."""
    return _unit(code)


def _get(model: type[models.Model], key_field: str, key: str, *, field: str, kind: str) -> Any:
    try:
        return model.objects.get(**{key_field: key})
    except model.DoesNotExist:
        raise unknown_reference(field, kind, key) from None


@transaction.atomic
def item_upsert(
    *,
    code: str,
    name: str,
    unit: str,
    description: str = "",
    tracking: str = Item.Tracking.NONE,
    standard_cost: Decimal | None = UNCHANGED,
    actor: Any = None,
) -> UpsertResult:
    """Left out, ``standard_cost`` keeps its value; ``None`` makes it unknown again."""
    if tracking not in Item.Tracking.values:
        raise DomainError(
            "invalid_tracking",
            _("Tracking must be one of %(kinds)s.") % {"kinds": ", ".join(Item.Tracking.values)},
            fields={"tracking": tracking},
        )
    wanted = {"name": name, "unit": _unit(unit), "description": description, "tracking": tracking}
    _money(wanted, "standard_cost", standard_cost)
    return _upsert(Item, key_field="code", key=code, wanted=wanted, actor=actor)


@transaction.atomic
def work_center_upsert(
    *,
    code: str,
    name: str,
    capacity_hours_per_day: Decimal | None = None,
    line: str | None = None,
    efficiency: Decimal | None = None,
    labor_rate: Decimal | None = UNCHANGED,
    machine_rate: Decimal | None = UNCHANGED,
    actor: Any = None,
) -> UpsertResult:
    """Left out, ``labor_rate`` and ``machine_rate`` (per hour) keep their value; ``None`` makes them unknown again."""
    wanted: dict[str, Any] = {"name": name, "capacity_hours_per_day": capacity_hours_per_day}
    _money(wanted, "labor_rate", labor_rate)
    _money(wanted, "machine_rate", machine_rate)
    if line is not None:
        wanted["line"] = line
    if efficiency is not None:
        wanted["efficiency"] = efficiency
    result = _upsert(WorkCenter, key_field="code", key=code, wanted=wanted, actor=actor)
    if result.changed:
        reschedule_after_commit()  # its capacity changed
    return result


@transaction.atomic
def equipment_upsert(*, code: str, name: str, work_center: str, actor: Any = None) -> UpsertResult:
    center = _get(WorkCenter, "code", work_center, field="work_center", kind="work center")
    return _upsert(Equipment, key_field="code", key=code, wanted={"name": name, "work_center": center}, actor=actor)


@transaction.atomic
def reason_code_upsert(*, code: str, kind: str, name: str, actor: Any = None) -> UpsertResult:
    if kind not in ReasonCode.Kind.values:
        raise DomainError(
            "invalid_reason_kind",
            _("Reason kind must be one of %(kinds)s.") % {"kinds": ", ".join(ReasonCode.Kind.values)},
            fields={"kind": kind},
        )
    return _upsert(ReasonCode, key_field="code", key=code, wanted={"kind": kind, "name": name}, actor=actor)


@transaction.atomic
def employee_upsert(
    *, badge: str, name: str, skills: Iterable[str] | None = None, is_active: bool | None = None, actor: Any = None
) -> UpsertResult:
    wanted: dict[str, Any] = {"name": name}
    if is_active is not None:
        wanted["is_active"] = is_active
    result = _upsert(Employee, key_field="badge", key=badge, wanted=wanted, actor=actor)
    if skills is not None:
        wanted_skills = {Skill.objects.get_or_create(code=code)[0] for code in skills}
        current = set(result.obj.skills.all())
        if wanted_skills != current:
            result.obj.skills.set(wanted_skills)
            event_record(
                object_type="employee", object_key=badge, action="update", actor=actor,
                before={"skills": sorted(skill.code for skill in current)},
                after={"skills": sorted(skill.code for skill in wanted_skills)},
            )
            result.changed = True
    return result


@transaction.atomic
def bom_upsert(
    *,
    item_code: str,
    version: str,
    lines: list[dict[str, Any]],
    valid_from: datetime.date | None = None,
    valid_to: datetime.date | None = None,
    actor: Any = None,
) -> UpsertResult:
    """Replace one BOM version of an item with the lines given (each {item, quantity, unit?,
    operation?, backflush?}: the routing sequence that consumes the line, empty for the first
    operation, and whether reports consume it instead of scans)."""
    item = _get(Item, "code", item_code, field="item", kind="item")
    if valid_from and valid_to and valid_to < valid_from:
        raise DomainError("invalid_effectivity", _("valid_to is before valid_from."), fields={"valid_to": str(valid_to)})
    components = []
    for index, line in enumerate(lines):
        component = _get(Item, "code", line["item"], field=f"lines[{index}].item", kind="item")
        if component.pk == item.pk:
            raise DomainError("bom_cycle", _("An item cannot contain itself."), fields={f"lines[{index}].item": line["item"]})
        unit = _unit(line["unit"], f"lines[{index}].unit") if line.get("unit") else component.unit
        components.append((index + 1, component, Decimal(line["quantity"]), unit, line.get("operation"), bool(line.get("backflush", False))))
    _refuse_cycles(item, [component for _pos, component, *_rest in components])

    bom = Bom.objects.select_for_update().filter(item=item, version=version).first()
    wanted_lines = [(pos, component.pk, qty, unit.pk, operation, backflush) for pos, component, qty, unit, operation, backflush in components]
    if bom is not None:
        current_lines = [
            (line.position, line.component_id, line.quantity, line.unit_id, line.operation, line.backflush)
            for line in bom.lines.order_by("position")
        ]
        if current_lines == wanted_lines and (bom.valid_from, bom.valid_to) == (valid_from, valid_to):
            return UpsertResult(bom, created=False, changed=False)
        before = {"valid_from": _plain(bom.valid_from), "valid_to": _plain(bom.valid_to), "lines": _lines_plain(bom.lines.all())}
        bom.valid_from, bom.valid_to = valid_from, valid_to
        bom.save(update_fields=["valid_from", "valid_to", "updated_at"])
        bom.lines.all().delete()
        created = False
    else:
        before = None
        bom = Bom.objects.create(item=item, version=version, valid_from=valid_from, valid_to=valid_to)
        created = True
    BomLine.objects.bulk_create(
        BomLine(bom=bom, position=pos, component=component, quantity=qty, unit=unit, operation=operation, backflush=backflush)
        for pos, component, qty, unit, operation, backflush in components
    )
    event_record(
        object_type="bom", object_key=f"{item_code}@{version}", action="create" if created else "update", actor=actor,
        before=before,
        after={"valid_from": _plain(valid_from), "valid_to": _plain(valid_to), "lines": _lines_plain(bom.lines.all())},
    )
    return UpsertResult(bom, created=created, changed=True)


def _lines_plain(lines: Iterable[BomLine]) -> list[dict[str, str]]:
    return [
        {"item": line.component.code, "quantity": str(line.quantity), "unit": line.unit.code, "operation": line.operation, "backflush": line.backflush}
        for line in lines
    ]


def _refuse_cycles(item: Item, components: list[Item]) -> None:
    """A multi-level BOM must not lead back to its own item through sub-assemblies."""
    seen: set[int] = set()
    frontier = {component.pk for component in components}
    while frontier:
        if item.pk in frontier:
            raise DomainError("bom_cycle", _("This BOM would make %(item)s contain itself through a sub-assembly.") % {"item": item.code}, fields={"lines": "cycle"})
        seen |= frontier
        frontier = set(BomLine.objects.filter(bom__item_id__in=frontier).values_list("component_id", flat=True)) - seen


@transaction.atomic
def routing_upsert(*, item_code: str, operations: list[dict[str, Any]], actor: Any = None) -> UpsertResult:
    """Replace an item's routing with the operations given. Released orders keep their snapshot."""
    item = _get(Item, "code", item_code, field="item", kind="item")
    sequences = [operation["sequence"] for operation in operations]
    if len(set(sequences)) != len(sequences):
        raise DomainError("duplicate_sequence", _("Operation sequence numbers must be unique."), fields={"operations": "duplicate sequence"})
    wanted = []
    for index, operation in enumerate(operations):  # indexes name the operation as the caller sent it
        center = _get(WorkCenter, "code", operation["work_center"], field=f"operations[{index}].work_center", kind="work center")
        wanted.append(
            (
                operation["sequence"],
                operation["name"],
                center.pk,
                Decimal(operation.get("setup_minutes", 0)),
                Decimal(operation.get("run_minutes_per_unit", 0)),
                bool(operation.get("quality_checkpoint", False)),
            )
        )
    wanted.sort()
    routing = Routing.objects.select_for_update().filter(item=item).first()
    before = None
    if routing is not None:
        current = [
            (op.sequence, op.name, op.work_center_id, op.setup_minutes, op.run_minutes_per_unit, op.quality_checkpoint)
            for op in routing.operations.order_by("sequence")
        ]
        if current == wanted:
            return UpsertResult(routing, created=False, changed=False)
        before = {"operations": _operations_plain(routing)}
        routing.operations.all().delete()
        routing.save(update_fields=["updated_at"])
        created = False
    else:
        routing = Routing.objects.create(item=item)
        created = True
    RoutingOperation.objects.bulk_create(
        RoutingOperation(
            routing=routing, sequence=seq, name=name, work_center_id=center, setup_minutes=setup,
            run_minutes_per_unit=run, quality_checkpoint=checkpoint,
        )
        for seq, name, center, setup, run, checkpoint in wanted
    )
    event_record(
        object_type="routing", object_key=item_code, action="create" if created else "update", actor=actor,
        before=before, after={"operations": _operations_plain(routing)},
    )
    return UpsertResult(routing, created=created, changed=True)


def _operations_plain(routing: Routing) -> list[dict[str, Any]]:
    return [
        {
            "sequence": op.sequence,
            "name": op.name,
            "work_center": op.work_center.code,
            "setup_minutes": str(op.setup_minutes),
            "run_minutes_per_unit": str(op.run_minutes_per_unit),
            "quality_checkpoint": op.quality_checkpoint,
        }
        for op in routing.operations.select_related("work_center").order_by("sequence")
    ]


#: A lot field the caller did not send: kept as it is (a new lot gets the field's default).


@transaction.atomic
def lot_upsert(
    *,
    item_code: str,
    lot_code: str,
    quantity: Decimal,
    unit: str = "",
    status: str | None = None,
    expires_on: Any = UNCHANGED,
    supplier_lot: str | None = None,
    location: str | None = None,
    unit_cost: Decimal | None = UNCHANGED,
    actor: Any = None,
) -> UpsertResult:
    """The ERP's stock of one lot staged for production: ``quantity`` is what it staged
    (``received_qty``), in ``unit`` (default the item's; it must be known). Status, expiry, supplier
    lot and location not given keep their value. A serial-tracked item's lots are serials (one piece at most).

    A lot the MES holds (an active quality hold) stays on hold whatever status the ERP sends: an ERP
    re-sending its stock knows nothing of the hold and must not lift it. The status it sends is the
    one the lot gets when the last hold is released (``hold_release``), and the audit trail says so."""
    item = _get(Item, "code", item_code, field="item", kind="item")
    if quantity < 0:
        raise DomainError("invalid_quantity", _("A lot's quantity cannot be negative."), fields={"quantity": str(quantity)})
    if status is not None and status not in Lot.Status.values:
        raise DomainError(
            "invalid_lot_status",
            _("Lot status must be one of %(statuses)s.") % {"statuses": ", ".join(Lot.Status.values)},
            fields={"status": status},
        )
    lot_unit = item.unit
    if unit:
        lot_unit = UnitOfMeasure.objects.filter(code=unit).first()
        if lot_unit is None:
            raise DomainError("unknown_unit", _("Unit of measure %(unit)s does not exist.") % {"unit": unit}, fields={"unit": unit})
    kind = Lot.Kind.SERIAL if item.tracking == Item.Tracking.SERIAL else Lot.Kind.LOT
    if kind == Lot.Kind.SERIAL and quantity > 1:
        raise DomainError(
            "serial_quantity",
            _("%(item)s is tracked by serial number: a serial holds one piece at most.") % {"item": item.code},
            fields={"quantity": str(quantity)},
        )
    wanted: dict[str, Any] = {"received_qty": quantity, "unit": lot_unit, "kind": kind}
    optional = {"status": status, "supplier_lot": supplier_lot, "location": location}
    wanted.update({name: value for name, value in optional.items() if value is not None})
    if expires_on is not UNCHANGED:
        wanted["expires_on"] = expires_on
    _money(wanted, "unit_cost", unit_cost)
    if status is not None:
        held = Lot.objects.select_for_update(of=("self",)).select_related("item").filter(item=item, code=lot_code).first()
        if held is not None:  # the lock hold_place takes too
            wanted["status"] = lot_status_from_erp(lot=held, status=status, actor=actor)
    return _upsert(Lot, key_field="code", key=lot_code, scope={"item": item}, wanted=wanted, actor=actor, object_key=f"{item.code}/{lot_code}")

