"""``POST /api/v1/b2mml/operations-schedule``: an ERP's ProcessOperationsSchedule becomes work orders (and
their item's routing) through the push API's own upserts, answered with an AcknowledgeOperationsSchedule
valid against MESA's schemas; a document that is not XML, not valid B2MML or not a schedule is refused
whole with the line and the rule; roles as for ``PUT /api/v1/work-orders/{number}``."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from mes.models import Event, Routing, WorkOrder
from tests.erp_sync.b2mml import assert_valid, texts
from tests.helpers import snapshot

pytestmark = pytest.mark.django_db
URL = "/api/v1/b2mml/operations-schedule"
XML = "application/xml"


def _segment(identifier: str, name: str, center: str | None, produced: str | None = None, unit: str = "PCS") -> str:
    equipment = f"<EquipmentRequirement><ID>E{identifier}</ID><EquipmentID>{center}</EquipmentID></EquipmentRequirement>" if center else ""
    material = (
        f"<MaterialRequirement><ID>M{identifier}</ID><MaterialDefinitionID>{produced}</MaterialDefinitionID>"
        f"<MaterialUse>Produced</MaterialUse><Quantity><QuantityString>{{quantity}}</QuantityString>"
        f"<UnitOfMeasure>{unit}</UnitOfMeasure></Quantity></MaterialRequirement>"
        if produced else ""
    )
    return (
        f"<SegmentRequirement><ID>{identifier}</ID><Description>{name}</Description><ProcessSegmentID>{name.upper()}</ProcessSegmentID>"
        f"<OperationsDefinitionID>FRAME-100</OperationsDefinitionID><OperationsSegmentID>{name.upper()}</OperationsSegmentID>"
        f"{equipment}{material}</SegmentRequirement>"
    )


def _request(number: str, quantity: str, *segments: str, end: str = "2030-02-15T16:00:00+08:00", priority: str = "3") -> str:
    body = "".join(segment.replace("{quantity}", quantity) for segment in segments)
    return f"<OperationsRequest><ID>{number}</ID><EndTime>{end}</EndTime><Priority>{priority}</Priority>{body}</OperationsRequest>"


def _schedule(*requests: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ProcessOperationsSchedule xmlns="http://www.mesa.org/xml/B2MML" releaseID="0701">\n'
        "  <ApplicationArea><Sender><LogicalID>ERP-1</LogicalID></Sender>"
        "<CreationDateTime>2026-12-07T08:00:00Z</CreationDateTime><BODID>B-1</BODID></ApplicationArea>\n"
        "  <DataArea><Process/>\n"
        "    <OperationsSchedule><ID>S-1</ID>\n"
        + "\n".join(f"      {request}" for request in requests)
        + "\n    </OperationsSchedule>\n  </DataArea>\n</ProcessOperationsSchedule>\n"
    ).encode()


ROUTED = _request(
    "WO-2001", "250",
    _segment("10", "Cut", "WC-CUT", produced="FRAME-100"), _segment("20", "Weld", "WC-WELD"),
)
PLAIN = _request("WO-2002", "40", _segment("1", "Make", None, produced="FRAME-100"), priority="7")


def _outcomes(root) -> dict[str, tuple[str, str]]:
    """Order → (Accepted or Rejected, the reason's code) as the acknowledgement says."""
    area = "DataArea/Acknowledge/ResponseCriteria"
    return dict(zip(
        texts(root, f"{area}/ResponseExpression"),
        [(code, reason) for code, reason in zip(texts(root, f"{area}/ChangeStatus/Code"), _reasons(root), strict=True)],
        strict=True,
    ))


def _reasons(root) -> list[str]:
    return [
        criteria.findtext("{*}ChangeStatus/{*}ReasonCode") or ""
        for criteria in root.iterfind("{*}DataArea/{*}Acknowledge/{*}ResponseCriteria")
    ]


def _post(client, body: bytes, content_type: str = XML):
    return client.generic("POST", URL, body, content_type=content_type)


def test_a_schedule_creates_its_orders_and_routing_and_is_acknowledged_with_a_valid_bod(erp_client, plant):
    times = dict(Routing.objects.get(item__code="FRAME-100").operations.values_list("sequence", "setup_minutes"))

    response = _post(erp_client, _schedule(ROUTED, PLAIN))

    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith(XML)
    root = assert_valid(response.content)
    assert root.tag.endswith("}AcknowledgeOperationsSchedule")
    assert texts(root, "DataArea/Acknowledge/OriginalApplicationArea/BODID") == ["B-1"]
    assert _outcomes(root) == {"WO-2001": ("Accepted", ""), "WO-2002": ("Accepted", "")}
    orders = {o.number: o for o in WorkOrder.objects.filter(number__in=["WO-2001", "WO-2002"]).select_related("item")}
    assert (orders["WO-2001"].item.code, orders["WO-2001"].quantity, orders["WO-2001"].priority) == ("FRAME-100", Decimal(250), 3)
    assert orders["WO-2001"].due_date == datetime.date(2030, 2, 15)
    assert (orders["WO-2002"].quantity, orders["WO-2002"].priority) == (Decimal(40), 7)
    routing = Routing.objects.get(item__code="FRAME-100")
    assert list(routing.operations.order_by("sequence").values_list("sequence", "name", "work_center__code", "setup_minutes")) == [
        (10, "Cut", "WC-CUT", times[10]),  # the routing's standard times for a sequence are kept
        (20, "Weld", "WC-WELD", times[20]),
    ]


def test_posting_the_same_schedule_again_changes_nothing(erp_client, plant):
    body = _schedule(ROUTED, PLAIN)
    assert _post(erp_client, body).status_code == 200
    events, before = Event.objects.count(), snapshot()

    response = _post(erp_client, body)

    assert response.status_code == 200
    assert _outcomes(assert_valid(response.content)) == {"WO-2001": ("Accepted", ""), "WO-2002": ("Accepted", "")}
    assert texts(assert_valid(response.content), "DataArea/Acknowledge/ResponseCriteria/ChangeStatus/Description") == ["unchanged", "unchanged"]
    assert Event.objects.count() == events and snapshot() == before


def test_a_refused_order_is_named_in_the_acknowledgement_and_holds_back_no_other(erp_client, plant):
    unknown = _request("WO-2003", "5", _segment("1", "Make", None, produced="NO-SUCH-ITEM"))
    wrong_unit = _request("WO-2004", "5", _segment("1", "Make", None, produced="FRAME-100", unit="KG"))
    not_a_number = _request("WO-2005", "NaN", _segment("1", "Make", None, produced="FRAME-100"))
    unknown_center = _request("WO-2006", "5", _segment("10", "Cut", "WC-NOPE", produced="FRAME-100"))

    response = _post(erp_client, _schedule(PLAIN, unknown, wrong_unit, not_a_number, unknown_center))

    assert response.status_code == 422
    root = assert_valid(response.content)
    assert _outcomes(root) == {
        "WO-2002": ("Accepted", ""), "WO-2003": ("Rejected", "unknown_item"), "WO-2004": ("Rejected", "unit_mismatch"),
        "WO-2005": ("Rejected", "b2mml_order_incomplete"), "WO-2006": ("Rejected", "unknown_work_center"),
    }
    assert list(Routing.objects.get(item__code="FRAME-100").operations.values_list("sequence", flat=True).order_by("sequence")) == [10, 20, 30]
    assert set(WorkOrder.objects.filter(number__startswith="WO-200").values_list("number", flat=True)) == {"WO-2002"}


def test_a_planner_may_schedule_orders_but_not_change_a_routing(planner, plant):
    same_routing = _request(
        "WO-2005", "5", _segment("10", "Cut", "WC-CUT", produced="FRAME-100"), _segment("20", "Weld", "WC-WELD"),
        _segment("30", "Paint", "WC-PAINT"),
    )
    response = _post(planner, _schedule(same_routing, ROUTED))

    assert response.status_code == 422
    assert _outcomes(assert_valid(response.content)) == {"WO-2005": ("Accepted", ""), "WO-2001": ("Rejected", "routing_not_allowed")}
    assert list(Routing.objects.get(item__code="FRAME-100").operations.values_list("sequence", flat=True).order_by("sequence")) == [10, 20, 30]
    assert not WorkOrder.objects.filter(number="WO-2001").exists()


@pytest.mark.parametrize(
    ("body", "code", "line", "rule"),
    [
        (b'<?xml version="1.0"?>\n<ProcessOperationsSchedule>\n  <DataArea>\n</ProcessOperationsSchedule>', "malformed_xml", 4, "mismatched tag"),
        (_schedule(_request("WO-2009", "5")), "b2mml_invalid", 6, "SegmentRequirement"),  # a request needs a segment
        (_schedule(PLAIN).replace(b"<Priority>7</Priority>", b"<Priority>high</Priority>"), "b2mml_invalid", 6, "high"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]>\n<x>&a;</x>', "malformed_xml", 1, "DTD"),
    ],
    ids=["malformed", "missing-segment", "not-a-number", "dtd"],
)
def test_a_document_that_is_not_valid_is_refused_naming_the_line_and_the_rule(erp_client, plant, body, code, line, rule):
    before = snapshot()

    response = _post(erp_client, body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    assert f"line {line}" in error["fields"] and rule in error["fields"][f"line {line}"], error
    assert f"line {line}" in error["message"]
    assert snapshot() == before


def test_another_b2mml_document_is_refused(erp_client, plant):
    body = _schedule(PLAIN).replace(b"ProcessOperationsSchedule", b"CancelOperationsSchedule").replace(b"<Process/>", b"<Cancel/>")

    response = _post(erp_client, body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "b2mml_unexpected_document"
    assert "Expected a ProcessOperationsSchedule document, got CancelOperationsSchedule" in response.json()["error"]["message"]


def test_an_empty_body_is_refused_with_a_clear_error(erp_client, plant):
    for response in (_post(erp_client, b""), erp_client.post(URL)):
        assert response.status_code in (400, 415)
        assert response.json()["error"]["code"] in ("malformed_request", "unsupported_media_type")
    assert "empty" in _post(erp_client, b"").json()["error"]["message"]


def test_json_is_refused_with_a_clear_error(erp_client, plant):
    response = erp_client.post(URL, {"work_orders": []}, format="json")

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert "application/json" in response.json()["error"]["message"]


@pytest.mark.parametrize("persona", ["operator", "quality", "anonymous"])
def test_only_the_roles_that_upsert_work_orders_may_post_a_schedule(request, plant, persona):
    client = request.getfixturevalue(persona)
    before = snapshot()

    response = _post(client, _schedule(PLAIN))

    assert response.status_code in (401, 403) and response.json()["error"]["code"] in ("forbidden", "not_authenticated")
    assert snapshot() == before
