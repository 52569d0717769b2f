"""A quality hold stops the station's reports like every other path, in both languages."""

from __future__ import annotations

from mes.services.holds import HoldRequest, hold_place, hold_release
from mes.services.work_orders import work_order_transition
from tests.conftest import ORDER
from tests.helpers import snapshot
from tests.station.conftest import post, report_body, station_client


def test_a_station_report_on_a_held_order_is_refused_until_the_hold_is_released(planned_order, station_pair):
    work_order_transition(number=ORDER, action="release")
    hold = hold_place(request=HoldRequest(work_order=ORDER, reason="suspect material"))
    tablet, chinese = station_client(station_pair[1]), station_client(station_pair[1], "zh-hans")
    before = snapshot()

    refused = post(tablet, "/station/api/report", report_body(good_qty="1"))
    refused_in_chinese = post(chinese, "/station/api/report", report_body(good_qty="1"))
    after_refusals = snapshot()
    hold_release(hold_id=hold.pk, reason="material tested good")
    taken = post(tablet, "/station/api/report", report_body(good_qty="1"))

    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "quality_hold")
    assert "quality hold" in refused.json()["error"]["message"]
    assert "质量冻结" in refused_in_chinese.json()["error"]["message"]
    assert after_refusals == before
    assert taken.status_code in (200, 201), taken.json()
