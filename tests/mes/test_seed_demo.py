"""The demo plant: built through the services, deterministic, and a second run changes nothing."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from erp_sync.models import OutboxMessage
from mes.models import Confirmation, Employee, Equipment, Event, Item, Lot, WorkCenter, WorkOrder, WorkOrderComponent
from shopfloor.models import DeviceMapping, Shift

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (WorkCenter, Equipment, Item, Employee, WorkOrder, Confirmation, Event, OutboxMessage, DeviceMapping, Shift, Lot)
    }


def test_the_demo_plant_is_built_once_and_prints_the_way_in():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    first = counts()
    statuses = set(WorkOrder.objects.values_list("status", flat=True))

    call_command("seed_demo", stdout=io.StringIO())
    again = io.StringIO()
    call_command("seed_demo", "--if-empty", stdout=again)

    assert counts() == first
    assert first["WorkCenter"] == 6 and first["Employee"] == 20 and 25 <= first["WorkOrder"] <= 35
    # One message per confirmation, and the goods messages of what the demo's reports backflush and receive.
    goods = OutboxMessage.objects.filter(kind__startswith="goods_").count()
    assert first["Confirmation"] > 0 and goods > 0 and first["OutboxMessage"] == first["Confirmation"] + goods
    assert {"planned", "released", "in_progress", "paused", "completed"} <= statuses
    assert first["DeviceMapping"] == 4 and first["Shift"] == 3 * 6
    for text in ("/station/setup/", "create_station_link", "/board/", "/planning/", "EMP:E1001"):
        assert text in out.getvalue()
    assert "/board/" in again.getvalue()


def test_the_demo_has_lot_tracked_components_in_stock_and_both_ways_of_consuming():
    call_command("seed_demo", "--quiet", stdout=io.StringIO())

    tracked = set(Item.objects.filter(tracking="lot").values_list("code", flat=True))
    assert tracked and tracked <= set(Lot.objects.filter(status="available", received_qty__gt=0).values_list("item__code", flat=True))
    components = WorkOrderComponent.objects.filter(work_order__status__in=["released", "in_progress"])
    assert components.filter(backflush=True).exists()
    assert components.filter(backflush=False, item__tracking="lot").exists()  # issued at the station by scanning its lot
