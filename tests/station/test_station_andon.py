"""An operator calls for help from the station: the call names the station's work center (and
machine), the order open on it and the operator; a resend is the same call; bad input is refused."""

from __future__ import annotations

import uuid

from mes.models import Event
from shopfloor.models import AndonCall
from tests.station.conftest import post


def andon_body(**fields):
    return {"kind": "equipment", "client_id": str(uuid.uuid4()), "operator_badge": "B-1001", "work_order": "WO-1001"} | fields


def test_a_station_raises_a_call_for_its_work_center_by_its_operator(tablet, station, released_order):
    body = andon_body(severity="critical")
    first = post(tablet, "/station/api/andon", body)
    again = post(tablet, "/station/api/andon", body)

    assert (first.status_code, again.status_code) == (201, 200)
    call = first.json()
    assert (call["kind"], call["severity"], call["work_center"], call["work_order"], call["state"]) == (
        "equipment", "critical", station.work_center.code, "WO-1001", "open",
    )
    assert call["raised_by"].startswith("B-1001 ") and call["station"] == station.name
    assert again.json()["id"] == call["id"] and AndonCall.objects.count() == 1
    assert Event.objects.get(object_type="andon", action="raise").actor_label.startswith("B-1001")


def test_the_severity_defaults_to_high_and_bad_input_is_refused_with_nothing_recorded(tablet, station, released_order):
    assert post(tablet, "/station/api/andon", andon_body(work_order="")).json()["severity"] == "high"
    bad_kind = post(tablet, "/station/api/andon", andon_body(kind="coffee"))
    unknown_badge = post(tablet, "/station/api/andon", andon_body(operator_badge="B-NOPE"))
    unknown_order = post(tablet, "/station/api/andon", andon_body(work_order="WO-NOPE"))
    assert [bad_kind.status_code, unknown_badge.status_code, unknown_order.status_code] == [400, 422, 404]
    assert unknown_order.json()["error"]["code"] == "unknown_work_order"
    assert AndonCall.objects.count() == 1
