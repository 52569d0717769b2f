"""The station shows an operation stopped for quality, in both languages, and its reports wait (refused
with ``quality_hold``, nothing recorded) until quality releases the stop."""

from __future__ import annotations

import pytest

from mes.models import Hold, ReasonCode
from mes.services.holds import hold_release
from mes.services.work_orders import work_order_transition
from tests.conftest import ORDER
from tests.factories import ReasonCodeFactory
from tests.helpers import confirm, snapshot
from tests.station.conftest import post, report_body, station_client


@pytest.fixture
def stopped(planned_order, station_pair, settings, quality):
    settings.MES_QUALITY_STOP_WINDOW, settings.MES_QUALITY_STOP_THRESHOLD = 10, 1
    ReasonCodeFactory(code="SCR-BURR", kind=ReasonCode.Kind.SCRAP, name="Burr")
    work_order_transition(number=ORDER, action="release")
    confirm(good_qty=3)
    confirm(scrap_qty=2, reason_code="SCR-BURR")
    return station_pair, Hold.objects.get(cause="quality_stop")


def test_the_station_shows_the_stop_and_its_reports_wait_until_quality_releases_it(stopped, quality):
    (_station, secret), hold = stopped
    tablet, chinese = station_client(secret), station_client(secret, "zh-hans")

    shown = tablet.get("/station/api/operation", {"work_order": ORDER, "operation": 10}).json()
    shown_zh = chinese.get("/station/api/operation", {"work_order": ORDER, "operation": 10}).json()
    before = snapshot()
    refused = post(tablet, "/station/api/report", report_body(good_qty="1"))

    assert shown["status"] == "paused"
    assert shown["status_label"] == "quality stop: reports wait until quality releases it"
    assert shown["quality_stop"]["reason"] == hold.reason
    assert shown_zh["status_label"] != shown["status_label"] and "质量" in shown_zh["status_label"]
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "quality_hold"
    assert snapshot() == before

    hold_release(hold_id=hold.pk, reason="die reground", actor=quality.user)
    again = tablet.get("/station/api/operation", {"work_order": ORDER, "operation": 10}).json()
    assert (again["status"], again["quality_stop"], again["on_quality_hold"]) == ("in_progress", None, False)
    assert post(tablet, "/station/api/report", report_body(good_qty="1")).status_code in (200, 201)
