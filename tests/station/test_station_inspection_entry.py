"""The station prompts the inspection due before it becomes a refusal, and records what the operator
enters (VAL:, PASS, FAIL:<defect code>) through inspection_record, with the operator as inspector."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from mes.models import Event, InspectionResult, Nonconformance, ReasonCode
from mes.services.quality import inspection_plan_set
from mes.services.work_orders import work_order_transition
from tests.conftest import ITEM, ORDER
from tests.factories import ReasonCodeFactory, UnitOfMeasureFactory
from tests.helpers import snapshot
from tests.station.conftest import post, report_body, station_client

URL = "/station/api/inspection"
LENGTH = {
    "code": "LEN", "name": "Length", "kind": "measured", "nominal": Decimal("100"), "lower_limit": Decimal("99.5"),
    "upper_limit": Decimal("100.5"), "unit": "MM", "sampling": {"rule": "first_piece", "n": None}, "mandatory": True,
}
LOOK = {"code": "LOOK", "name": "Visual", "kind": "attribute", "nominal": None, "lower_limit": None, "upper_limit": None, "unit": "",
        "sampling": {"rule": "per_report", "n": None}, "mandatory": True}


@pytest.fixture
def inspected(planned_order, station_pair):
    UnitOfMeasureFactory(code="MM")
    ReasonCodeFactory(code="DEF-DENT", kind=ReasonCode.Kind.DEFECT, name="Dent")
    inspection_plan_set(item_code=ITEM, sequence=10, characteristics=[LENGTH, LOOK])
    work_order_transition(number=ORDER, action="release")
    return station_pair


def entry(**fields) -> dict:
    return {"client_id": str(uuid.uuid4()), "work_order": ORDER, "operation": 10, "operator_badge": "B-1001", **fields}


def operation(tablet) -> dict:
    return tablet.get("/station/api/operation", {"work_order": ORDER, "operation": 10}).json()


def test_the_operation_answer_prompts_what_is_due_with_its_limits(inspected):
    tablet = station_client(inspected[1])

    inspections = operation(tablet)["inspections"]

    # The first piece is due before the first report, as the per-report check is.
    assert [(row["code"], row["due_now"], row["sample_no"]) for row in inspections] == [("LEN", True, 1), ("LOOK", True, 1)]
    length = inspections[0]
    assert (length["nominal"], length["lower_limit"], length["upper_limit"], length["unit"], length["kind"]) == ("100", "99.5", "100.5", "MM", "measured")
    assert length["due_at_good"] == "1" and length["reason"]


def test_a_value_within_limits_passes_recorded_with_the_operator_as_inspector(inspected):
    tablet = station_client(inspected[1])

    sent = entry(characteristic="LEN", value="100.2")
    answer = post(tablet, URL, sent)
    again = post(tablet, URL, sent)

    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert body["result"]["passed"] is True and body["result"]["sample_no"] == 1 and body["nonconformance"] is None
    assert "passed" in body["message"]
    assert again.status_code == 200 and again.json()["result"]["id"] == body["result"]["id"]
    result = InspectionResult.objects.get()
    assert result.inspector.badge == "B-1001" and result.value == Decimal("100.2")
    assert [row["code"] for row in body["operation"]["inspections"] if row["due_now"]] == ["LOOK"]


def test_an_out_of_limit_value_opens_an_ncr_and_says_what_happens_next_in_both_languages(inspected):
    tablet, chinese = station_client(inspected[1]), station_client(inspected[1], "zh-hans")

    answer = post(tablet, URL, entry(characteristic="LEN", value="101"))
    in_chinese = post(chinese, URL, entry(characteristic="LEN", value="98"))

    assert answer.status_code == 201, answer.json()
    body = answer.json()
    ncr = Nonconformance.objects.get(inspection_result__value=Decimal("101"))
    assert body["result"]["passed"] is False and body["nonconformance"] == {"id": ncr.pk, "state": "open", "defect_code": None}
    assert f"NCR {ncr.pk}" in body["message"] and "on hold" in body["message"] and "99.5 – 100.5" in body["message"]
    assert "质量" in in_chinese.json()["message"] and in_chinese.json()["message"] != body["message"]


def test_fail_with_a_defect_code_writes_it_on_the_ncr(inspected):
    tablet = station_client(inspected[1])

    answer = post(tablet, URL, entry(characteristic="LOOK", passed=False, defect_code="DEF-DENT"))

    assert answer.status_code == 201, answer.json()
    ncr = Nonconformance.objects.get()
    assert ncr.defect_code.code == "DEF-DENT" and answer.json()["nonconformance"]["defect_code"] == "DEF-DENT"
    assert Event.objects.filter(object_type="nonconformance", action="defect_code", object_key=str(ncr.pk)).exists()


def test_pass_then_the_report_goes_through(inspected):
    tablet = station_client(inspected[1])
    refused = post(tablet, "/station/api/report", report_body(good_qty="1"))

    post(tablet, URL, entry(characteristic="LOOK", passed=True))
    taken = post(tablet, "/station/api/report", report_body(good_qty="1"))

    assert refused.json()["error"]["code"] == "inspection_due"
    assert taken.status_code == 201, taken.json()


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"characteristic": "LOOK", "passed": False, "defect_code": "DEF-NOPE"}, 422, "unknown_defect_code"),
        ({"characteristic": "LOOK", "passed": False, "defect_code": "SCRAP-01"}, 422, "defect_code_wrong_kind"),
        ({"characteristic": "LOOK", "passed": True, "defect_code": "DEF-DENT"}, 400, "invalid_request"),
        ({"characteristic": "LEN"}, 400, "invalid_request"),
        ({"characteristic": "LEN", "passed": True}, 422, "value_required"),
        ({"characteristic": "NOPE", "value": "1"}, 422, "unknown_characteristic"),
        ({"characteristic": "LEN", "value": "abc"}, 400, "invalid_request"),
        ({"characteristic": "LEN", "value": "100", "operation": 20}, 409, None),
    ],
)
def test_bad_entries_are_refused_with_nothing_written(inspected, fields, status, code):
    tablet = station_client(inspected[1])
    before = snapshot()

    answer = post(tablet, URL, entry(**fields))

    assert answer.status_code in ((status,) if code else (403, 404, 409, 422)), answer.content
    if code:
        assert answer.json()["error"]["code"] == code
    assert answer.json()["error"]["message"]
    assert snapshot() == before and InspectionResult.objects.count() == 0 and Nonconformance.objects.count() == 0
