"""GET /api/v1/equipment/{code}/oee: the contract's fields, the known shift's numbers, bad input, roles."""

from __future__ import annotations

import datetime
import json

import pytest

from tests.shopfloor.oee_scenario import MONDAY, at, known_shift

pytestmark = pytest.mark.django_db

URL = "/api/v1/equipment/PRESS-01/oee"
MONDAY_SHIFT = {"from": "2026-11-16T06:00:00+08:00", "to": "2026-11-16T14:00:00+08:00"}


def test_the_contract_fields_carry_the_hand_calculated_numbers(operator):
    """The known shift (see ``oee_scenario``): 13/16 × 12/13 × 35/36 = 35/48."""
    known_shift()

    response = operator.get(URL, MONDAY_SHIFT)

    assert response.status_code == 200, response.content
    body = response.json()
    assert {name: body[name] for name in ("availability", "performance", "quality", "oee", "run_seconds", "down_seconds", "good", "scrap")} == {
        "availability": 0.8125,
        "performance": 12 / 13,
        "quality": 35 / 36,
        "oee": 35 / 48,
        "run_seconds": 23400.0,
        "down_seconds": 3600.0,
        "good": 700.0,
        "scrap": 20.0,
    }
    assert (body["planned_seconds"], body["idle_seconds"], body["unknown_seconds"]) == (28800.0, 1800.0, 0.0)
    assert body["losses"]["downtime_by_reason"] == [{"reason_code": "DT-01", "name": "Machine breakdown", "seconds": 3600.0, "stops": 1}]
    assert [(shift["shift"], shift["day"], shift["from"], shift["to"]) for shift in body["shifts"]] == [
        ("Early", "2026-11-16", "2026-11-16T06:00:00+08:00", "2026-11-16T14:00:00+08:00")
    ]
    assert [day["day"] for day in body["days"]] == ["2026-11-16"]


def test_plant_time_without_offset_and_a_date_alone_mean_the_same_shift(operator):
    known_shift()

    naive = operator.get(URL, {"from": "2026-11-16T06:00", "to": "2026-11-16T14:00"}).json()
    whole_day = operator.get(URL, {"from": "2026-11-16", "to": "2026-11-16"}).json()

    assert naive["oee"] == whole_day["oee"] == 35 / 48
    assert whole_day["to"] == "2026-11-17T00:00:00+08:00"


# The clock on Tuesday after the known Monday: (hour, minute) → the production day's start, its planned
# seconds so far, its good parts, its OEE and its days. Before 06:00 the plant still works on Monday;
# Tuesday's shift starts at 06:00 and nothing was recorded in it.
TUESDAY_CLOCK = {
    (3, 0): ("2026-11-16T06:00:00+08:00", 28800.0, 700.0, 35 / 48, ["2026-11-16"]),
    (5, 59): ("2026-11-16T06:00:00+08:00", 28800.0, 700.0, 35 / 48, ["2026-11-16"]),
    (6, 0): ("2026-11-17T06:00:00+08:00", 0.0, 0.0, None, []),
    (23, 59): ("2026-11-17T06:00:00+08:00", 28800.0, 0.0, None, ["2026-11-17"]),
}


@pytest.mark.parametrize(("hour", "minute"), list(TUESDAY_CLOCK), ids=[f"{h:02}:{m:02}" for h, m in TUESDAY_CLOCK])
def test_without_a_period_it_is_the_production_day_so_far(operator, time_machine, hour, minute):
    known_shift()
    now = at(hour, minute, day=MONDAY + datetime.timedelta(days=1))
    time_machine.move_to(now, tick=False)

    body = operator.get(URL).json()

    start, planned, good, oee, days = TUESDAY_CLOCK[hour, minute]
    assert (body["from"], datetime.datetime.fromisoformat(body["to"])) == (start, now)
    assert (body["planned_seconds"], body["good"], body["oee"], [day["day"] for day in body["days"]]) == (planned, good, oee, days)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-11-16", "to": "16/11/2026"}, "to"),
        ({"from": "2026-11-17", "to": "2026-11-16T12:00"}, "from"),
        ({"from": "2026-01-01", "to": "2026-12-31"}, "to"),
        ({"from": "0001-01-01"}, "from"),
        ({"to": "9999-12-31"}, "to"),
        ({"from": "2026-11-16T25:00"}, "from"),
    ],
)
def test_bad_periods_are_a_clear_400_in_the_error_envelope(operator, query, field):
    known_shift()

    response = operator.get(URL, query, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and list(error["fields"]) == [field]


def test_unknown_equipment_is_404(operator):
    response = operator.get("/api/v1/equipment/NOPE/oee", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 404
    assert response.json()["error"] == {"code": "unknown_equipment", "message": "No equipment with code NOPE."}


def test_every_role_reads_it_and_nobody_else(operator, planner, supervisor, quality, erp_client, anonymous):
    known_shift()

    assert {client.get(URL, MONDAY_SHIFT).status_code for client in (operator, planner, supervisor, quality, erp_client)} == {200}
    assert anonymous.get(URL, MONDAY_SHIFT).status_code == 401


def test_the_schema_describes_it(anonymous):
    schema = json.loads(anonymous.get("/api/schema/", {"format": "json"}).content)

    operation = schema["paths"]["/api/v1/equipment/{code}/oee"]["get"]
    assert {parameter["name"] for parameter in operation["parameters"]} >= {"code", "from", "to"}
    properties = schema["components"]["schemas"]["EquipmentOee"]["properties"]
    assert {"availability", "performance", "quality", "oee", "run_seconds", "down_seconds", "good", "scrap"} <= set(properties)
