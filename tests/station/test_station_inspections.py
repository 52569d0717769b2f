"""The station's report is gated by due inspections like every other path, in both languages."""

from __future__ import annotations

import uuid

from mes.models import InspectionResult
from mes.services.quality import InspectionRequest, inspection_plan_set, inspection_record
from mes.services.work_orders import work_order_transition
from shopfloor.models import ConsumedLot
from tests.conftest import ITEM, ORDER
from tests.helpers import snapshot
from tests.station.conftest import post, report_body, station_client

EVERY_TWO = {"code": "LEN", "name": "Length", "kind": "attribute", "sampling": {"rule": "every_n", "n": 2}, "mandatory": True}


def test_a_station_report_past_a_due_sample_is_refused_then_taken_once_it_passed(planned_order, station_pair):
    inspection_plan_set(item_code=ITEM, sequence=10, characteristics=[EVERY_TWO])
    work_order_transition(number=ORDER, action="release")
    tablet, chinese = station_client(station_pair[1]), station_client(station_pair[1], "zh-hans")
    before = snapshot()

    refused = post(tablet, "/station/api/report", report_body(good_qty="3"))
    refused_in_chinese = post(chinese, "/station/api/report", report_body(good_qty="3"))
    after_refusals = snapshot()
    inspection_record(request=InspectionRequest(client_id=uuid.uuid4(), work_order=ORDER, operation=10, characteristic="LEN", passed=True))
    taken = post(tablet, "/station/api/report", report_body(good_qty="3"))

    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "inspection_due"
    assert refused.json()["error"]["fields"] == {"characteristic": "LEN", "sample_no": "1", "operation": "10"}
    assert refused_in_chinese.json()["error"]["message"] != refused.json()["error"]["message"]
    assert after_refusals == before and ConsumedLot.objects.count() == 0
    assert taken.status_code in (200, 201), taken.json()
    assert InspectionResult.objects.count() == 1
