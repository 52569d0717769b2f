"""factory_boy factories for the production domain's master data and work orders.

Factories build rows directly; anything with a life cycle (release, confirmations,
transitions) goes through the services in the tests, never through a factory.
"""

import datetime
from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from mes.models import (
    Bom,
    BomLine,
    Employee,
    Equipment,
    Item,
    ReasonCode,
    Routing,
    RoutingOperation,
    UnitOfMeasure,
    WorkCenter,
    WorkOrder,
)


class UnitOfMeasureFactory(DjangoModelFactory):
    class Meta:
        model = UnitOfMeasure
        django_get_or_create = ("code",)

    code = "PCS"
    name = factory.LazyAttribute(lambda unit: unit.code.lower())


class ItemFactory(DjangoModelFactory):
    class Meta:
        model = Item

    code = factory.Sequence(lambda n: f"ITEM-{n:04d}")
    name = factory.LazyAttribute(lambda item: f"Item {item.code}")
    unit = factory.SubFactory(UnitOfMeasureFactory)


class WorkCenterFactory(DjangoModelFactory):
    class Meta:
        model = WorkCenter

    code = factory.Sequence(lambda n: f"WC-{n:02d}")
    name = factory.LazyAttribute(lambda center: f"Work center {center.code}")
    line = "L1"
    capacity_hours_per_day = Decimal("16.00")


class EquipmentFactory(DjangoModelFactory):
    class Meta:
        model = Equipment

    code = factory.Sequence(lambda n: f"EQ-{n:03d}")
    name = factory.LazyAttribute(lambda equipment: f"Machine {equipment.code}")
    work_center = factory.SubFactory(WorkCenterFactory)


class EmployeeFactory(DjangoModelFactory):
    class Meta:
        model = Employee

    badge = factory.Sequence(lambda n: f"B-{n:04d}")
    name = factory.LazyAttribute(lambda employee: f"Operator {employee.badge}")
    is_active = True


class ReasonCodeFactory(DjangoModelFactory):
    class Meta:
        model = ReasonCode

    code = factory.Sequence(lambda n: f"RC-{n:03d}")
    kind = ReasonCode.Kind.SCRAP
    name = factory.LazyAttribute(lambda reason: f"{reason.kind} {reason.code}")


class RoutingOperationFactory(DjangoModelFactory):
    class Meta:
        model = RoutingOperation

    routing = factory.SubFactory("tests.factories.RoutingFactory")
    sequence = factory.Sequence(lambda n: (n + 1) * 10)
    name = factory.LazyAttribute(lambda operation: f"Operation {operation.sequence}")
    work_center = factory.SubFactory(WorkCenterFactory)
    setup_minutes = Decimal("15.00")
    run_minutes_per_unit = Decimal("2.50")
    quality_checkpoint = False


class RoutingFactory(DjangoModelFactory):
    """``RoutingFactory(operations=3)`` or ``operations=[{...RoutingOperation fields...}, ...]``;
    sequences default to 10, 20, 30 …"""

    class Meta:
        model = Routing
        skip_postgeneration_save = True

    item = factory.SubFactory(ItemFactory)

    @factory.post_generation
    def operations(routing, create, extracted, **kwargs):
        if not create or not extracted:
            return
        specs = extracted if isinstance(extracted, list) else [{} for _ in range(extracted)]
        for index, spec in enumerate(specs):
            RoutingOperationFactory(routing=routing, **{"sequence": (index + 1) * 10, **spec})


class BomFactory(DjangoModelFactory):
    """``BomFactory(lines=[(component, Decimal("2")), ...])``."""

    class Meta:
        model = Bom
        skip_postgeneration_save = True

    item = factory.SubFactory(ItemFactory)
    version = "1"
    valid_from = None
    valid_to = None

    @factory.post_generation
    def lines(bom, create, extracted, **kwargs):
        if not create or not extracted:
            return
        for position, (component, quantity) in enumerate(extracted, start=1):
            BomLineFactory(bom=bom, position=position, component=component, quantity=quantity)


class BomLineFactory(DjangoModelFactory):
    class Meta:
        model = BomLine

    bom = factory.SubFactory(BomFactory)
    position = factory.Sequence(lambda n: n + 1)
    component = factory.SubFactory(ItemFactory)
    quantity = Decimal("1")
    unit = factory.LazyAttribute(lambda line: line.component.unit)


class WorkOrderFactory(DjangoModelFactory):
    """A planned order. Release it with ``work_order_transition``; its status is the services' business."""

    class Meta:
        model = WorkOrder

    number = factory.Sequence(lambda n: f"WO-{n:05d}")
    item = factory.SubFactory(ItemFactory)
    quantity = Decimal("10")
    due_date = datetime.date(2030, 1, 31)
    priority = 5
