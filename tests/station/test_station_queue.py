"""The station's work queue: the operations waiting at its work center (and machine), in the planner's order."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from mes.services.work_orders import work_order_transition
from shopfloor.services import operation_start_on_equipment
from shopfloor.station.selectors import station_work_queue
from shopfloor.station.services import station_create
from tests.factories import EquipmentFactory, WorkOrderFactory
from tests.helpers import confirm

pytestmark = pytest.mark.django_db


def released(number: str, *, plant, priority: int, due: datetime.date) -> None:
    WorkOrderFactory(number=number, item=plant["item"], quantity=Decimal("10"), priority=priority, due_date=due)
    work_order_transition(number=number, action="release")


@pytest.fixture
def orders(released_order, plant):
    """WO-1001 (priority 5, due 2030-01-31) and four more; WO-PLAN is not released."""
    released("WO-A", plant=plant, priority=1, due=datetime.date(2030, 2, 10))
    released("WO-B", plant=plant, priority=5, due=datetime.date(2029, 12, 1))
    released("WO-C", plant=plant, priority=1, due=datetime.date(2030, 1, 1))
    released("WO-LATE", plant=plant, priority=9, due=timezone.localdate() - datetime.timedelta(days=1))
    WorkOrderFactory(number="WO-PLAN", item=plant["item"], priority=1)


def test_the_queue_lists_the_work_centers_open_operations_in_the_planners_order(orders, django_assert_num_queries):
    station, _secret = station_create(work_center_code="WC-CUT")
    with django_assert_num_queries(3):  # the rows, their orders' operations, their work instructions
        queue = station_work_queue(station=station)
    assert [row["scan"] for row in queue["rows"]] == ["WO:WO-C/10", "WO:WO-A/10", "WO:WO-B/10", "WO:WO-1001/10", "WO:WO-LATE/10"]
    assert [row["is_late"] for row in queue["rows"]] == [False, False, False, False, True]
    first = queue["rows"][0]
    assert (first["remaining"], first["available"], first["unit"], first["running_on"], queue["more"]) == ("10", "10", "PCS", "", 0)
    assert station_work_queue(station=station, limit=2)["more"] == 3


def test_done_work_leaves_the_queue_and_the_next_work_center_sees_what_is_ready(orders):
    confirm("WO-C", 10, good_qty=10, final=True)
    confirm("WO-A", 10, good_qty=4)
    cut, _secret = station_create(work_center_code="WC-CUT")
    assert "WO:WO-C/10" not in [row["scan"] for row in station_work_queue(station=cut)["rows"]]
    assert station_work_queue(station=cut)["rows"][0]["remaining"] == "6"
    weld, _secret = station_create(work_center_code="WC-WELD")
    rows = {row["work_order"]: row for row in station_work_queue(station=weld)["rows"]}
    assert (rows["WO-C"]["sequence"], rows["WO-C"]["available"], rows["WO-A"]["available"], rows["WO-B"]["available"]) == (20, "10", "4", "0")


def test_a_machines_station_leaves_out_what_runs_on_another_machine(orders, plant):
    saw = EquipmentFactory(code="SAW-01", work_center=plant["centers"]["WC-CUT"])
    EquipmentFactory(code="SAW-02", work_center=plant["centers"]["WC-CUT"])
    operation_start_on_equipment(number="WO-A", sequence=10, equipment_code="SAW-02")
    operation_start_on_equipment(number="WO-B", sequence=10, equipment_code="SAW-01")
    at_saw, _secret = station_create(work_center_code="WC-CUT", equipment_code=saw.code)
    rows = station_work_queue(station=at_saw)["rows"]
    assert [(row["work_order"], row["running_on"]) for row in rows] == [("WO-C", ""), ("WO-B", "SAW-01"), ("WO-1001", ""), ("WO-LATE", "")]
    at_center, _secret = station_create(work_center_code="WC-CUT")
    assert [row["running_on"] for row in station_work_queue(station=at_center)["rows"]][:3] == ["", "SAW-02", "SAW-01"]


def test_the_queue_panel_answers_htmx_with_its_rows(orders, tablet):
    panel = tablet.get("/station/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="queue").content.decode()
    assert panel.strip().startswith('<section id="queue"')
    assert panel.index('data-scan="WO:WO-C/10"') < panel.index('data-scan="WO:WO-A/10"') < panel.index('data-scan="WO:WO-LATE/10"')
    assert "WO-PLAN" not in panel and 'data-late="true"' in panel and "WO-C / 0010" in panel
