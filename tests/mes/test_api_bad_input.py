"""Bad input is a clear 4xx with the error envelope, never a 500; the schema and docs pages serve."""

import json
import uuid

import pytest

from tests.conftest import ORDER
from tests.helpers import snapshot


@pytest.fixture
def erp(erp_client):
    erp_client.raise_request_exception = False  # a 500 must show up as a status, not as an exception
    return erp_client


@pytest.fixture
def station(operator):
    operator.raise_request_exception = False
    return operator


def confirmation(**overrides) -> dict:
    return {"client_id": str(uuid.uuid4()), "work_order": ORDER, "operation": 10, "good_qty": 1, **overrides}


def assert_envelope(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message"} <= set(body["error"]) <= {"code", "message", "fields"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]


RAW_ITEM_BODIES = [
    pytest.param('{"name": "Shaft", ', "malformed_request", id="truncated-json"),
    pytest.param("{'name': 'Shaft'}", "malformed_request", id="single-quotes"),
    pytest.param('{"name": NaN, "unit": "PCS"}', "malformed_request", id="nan-literal"),
    pytest.param('{"name": "Shaft", "unit": Infinity}', "malformed_request", id="infinity-literal"),
    pytest.param("1" * 5000, "malformed_request", id="5000-digit-integer"),
    pytest.param("[]", "invalid_request", id="array"),
    pytest.param('[{"name": "Shaft", "unit": "PCS"}]', "invalid_request", id="array-of-object"),
    pytest.param("null", "invalid_request", id="null"),
    pytest.param('"Shaft"', "invalid_request", id="string"),
    pytest.param("42", "invalid_request", id="number"),
    pytest.param("", "invalid_request", id="empty-body"),
    pytest.param('{"name": ["Shaft"], "unit": {"code": "PCS"}}', "invalid_request", id="wrong-types"),
    pytest.param('{"name": "Shaft", "unit": "PCS", "colour": "red"}', "invalid_request", id="unknown-field"),
    pytest.param(json.dumps({"name": "x" * 201, "unit": "PCS"}), "invalid_request", id="name-too-long"),
    pytest.param(json.dumps({"name": "Shaft", "unit": "U" * 17}), "invalid_request", id="unit-too-long"),
    pytest.param(json.dumps({"name": "Sh\u0000aft", "unit": "PCS"}), "invalid_request", id="nul-character"),
]


@pytest.mark.parametrize(("raw", "code"), RAW_ITEM_BODIES)
def test_bad_item_body_is_400_and_writes_nothing(erp, raw, code):
    before = snapshot()

    response = erp.generic("PUT", "/api/v1/items/SHAFT-1", raw, content_type="application/json")

    assert_envelope(response, 400, code)
    assert snapshot() == before


def test_unknown_field_is_named(erp):
    response = erp.put("/api/v1/items/SHAFT-1", {"name": "Shaft", "unit": "PCS", "colour": "red"})

    assert assert_envelope(response, 400, "invalid_request")["fields"] == {"colour": "Unknown field."}


BAD_CONFIRMATIONS = [
    pytest.param('{"good_qty": 1e400}', {"good_qty"}, id="1e400"),
    pytest.param('{"good_qty": -1e400}', {"good_qty"}, id="minus-1e400"),
    pytest.param(json.dumps({"good_qty": 10**30}), {"good_qty"}, id="10**30-quantity"),
    pytest.param(json.dumps({"good_qty": "1e-400"}), {"good_qty"}, id="1e-400"),
    pytest.param(json.dumps({"good_qty": 0.0001}), {"good_qty"}, id="too-many-decimals"),
    pytest.param(json.dumps({"good_qty": -1}), {"good_qty"}, id="negative"),
    pytest.param(json.dumps({"good_qty": "NaN"}), {"good_qty"}, id="nan-string"),
    pytest.param(json.dumps({"good_qty": "Infinity"}), {"good_qty"}, id="infinity-string"),
    pytest.param(json.dumps({"good_qty": "four"}), {"good_qty"}, id="word"),
    pytest.param(json.dumps({"good_qty": [1]}), {"good_qty"}, id="array-quantity"),
    pytest.param(json.dumps({"good_qty": {"value": 1}}), {"good_qty"}, id="object-quantity"),
    pytest.param(json.dumps({"operation": 10**30}), {"operation"}, id="10**30-operation"),
    pytest.param(json.dumps({"operation": "ten"}), {"operation"}, id="operation-word"),
    pytest.param(json.dumps({"operation": 10.5}), {"operation"}, id="operation-fraction"),
    pytest.param(json.dumps({"labor_minutes": 10**30}), {"labor_minutes"}, id="10**30-minutes"),
    pytest.param(json.dumps({"client_id": "not-a-uuid"}), {"client_id"}, id="client-id-not-uuid"),
    pytest.param(json.dumps({"client_id": None}), {"client_id"}, id="client-id-null"),
    pytest.param(json.dumps({"work_order": "W" * 65}), {"work_order"}, id="work-order-too-long"),
    pytest.param(json.dumps({"work_order": ""}), {"work_order"}, id="work-order-empty"),
    pytest.param(json.dumps({"work_order": None}), {"work_order"}, id="work-order-null"),
    pytest.param(json.dumps({"station": "S" * 65}), {"station"}, id="station-too-long"),
    pytest.param(json.dumps({"reason_code": "R" * 65}), {"reason_code"}, id="reason-too-long"),
    pytest.param(json.dumps({"final": "maybe"}), {"final"}, id="final-not-boolean"),
    pytest.param(json.dumps({"confirmed_at": "yesterday"}), {"confirmed_at"}, id="bad-timestamp"),
    pytest.param(json.dumps({"shift": "night"}), {"shift"}, id="unknown-field"),
]


@pytest.mark.parametrize(("change", "named"), BAD_CONFIRMATIONS)
def test_bad_confirmation_is_400_naming_the_field_and_writes_nothing(released_order, station, change, named):
    raw = json.dumps(confirmation())[:-1] + ", " + change[1:]  # later keys win, so the bad value replaces the good one
    before = snapshot()

    response = station.generic("POST", "/api/v1/confirmations", raw, content_type="application/json")

    error = assert_envelope(response, 400, "invalid_request")
    assert set(error["fields"]) == named
    assert snapshot() == before


@pytest.mark.parametrize("raw", ["null", "[]", "{}", "", '"text"', "[1, 2]"])
def test_confirmation_body_that_is_not_a_confirmation_is_400(released_order, station, raw):
    before = snapshot()

    response = station.generic("POST", "/api/v1/confirmations", raw, content_type="application/json")

    assert_envelope(response, 400)
    assert snapshot() == before


def test_form_encoded_body_is_415(released_order, station):
    response = station.post("/api/v1/confirmations", confirmation(), format="multipart")

    assert_envelope(response, 415, "unsupported_media_type")


def test_bulk_records_that_are_not_objects_are_answered_one_by_one(released_order, station):
    response = station.post("/api/v1/confirmations/bulk", {"confirmations": [None, 1, "x", [], confirmation()]})

    assert response.status_code == 200
    assert [result["status"] for result in response.json()["results"]] == [400, 400, 400, 400, 201]


@pytest.mark.parametrize("records", [{"a": 1}, None, "records", [None], [[]]])
def test_bulk_upsert_with_records_that_are_not_objects_is_400(erp, records):
    before = snapshot()

    response = erp.post("/api/v1/items/bulk", {"records": records})

    assert response.status_code == 400
    assert snapshot() == before


@pytest.mark.parametrize("path", ["/api/v1/confirmations/not-a-uuid", "/api/v1/confirmations/123", "/api/v1/confirmations/9b343787-e43c-430e-af3c-6464869dd4b4x"])
def test_confirmation_id_that_is_not_a_uuid_is_400(station, db, path):
    response = station.get(path)

    assert assert_envelope(response, 400, "invalid_request")["fields"].keys() == {"id"}


def test_reverse_of_an_id_that_is_not_a_uuid_is_400(supervisor, db):
    supervisor.raise_request_exception = False

    response = supervisor.post("/api/v1/confirmations/not-a-uuid/reverse")

    assert_envelope(response, 400, "invalid_request")


@pytest.mark.parametrize("path", ["/api/v1/items/" + "K" * 65, "/api/v1/work-orders/" + "W" * 300, "/api/v1/employees/%20%20"])
def test_key_in_the_url_that_is_too_long_or_blank_is_400(erp, path):
    before = snapshot()

    put = erp.put(path, {"name": "X", "unit": "PCS", "item": "X", "quantity": 1, "due_date": "2030-01-01"})
    get = erp.get(path)

    assert_envelope(put, 400)
    assert_envelope(get, 400)
    assert snapshot() == before


def test_key_in_the_url_with_a_nul_character_is_400(erp):
    """PostgreSQL text cannot hold NUL; the key must be refused before it reaches the database."""
    before = snapshot()

    put = erp.put("/api/v1/items/A%00B", {"name": "X", "unit": "PCS"})
    get = erp.get("/api/v1/work-orders/A%00B")

    assert_envelope(put, 400, "invalid_request")
    assert_envelope(get, 400, "invalid_request")
    assert snapshot() == before


def test_deeply_nested_json_is_400(erp):
    depth = 100_000
    before = snapshot()

    response = erp.generic("PUT", "/api/v1/items/SHAFT-1", "[" * depth + "]" * depth, content_type="application/json")

    assert_envelope(response, 400)
    assert snapshot() == before


@pytest.mark.parametrize(
    "body",
    [{"reason": "r" * 501}, {"reason": 5, "extra": 1}, {"reason": ["a"]}, [1]],
    ids=["reason-too-long", "unknown-field", "reason-array", "array"],
)
def test_bad_transition_body_is_400_and_changes_nothing(planned_order, planner, body):
    before = snapshot()

    response = planner.post(f"/api/v1/work-orders/{ORDER}/release", body)

    assert_envelope(response, 400, "invalid_request")
    assert snapshot() == before


def test_huge_work_order_quantity_is_400(erp, plant):
    before = snapshot()

    response = erp.generic(
        "PUT", "/api/v1/work-orders/WO-9", '{"item": "FRAME-100", "quantity": 1e400, "due_date": "2030-01-01"}',
        content_type="application/json",
    )

    assert set(assert_envelope(response, 400, "invalid_request")["fields"]) == {"quantity"}
    assert snapshot() == before


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/work-orders/WO-9", {"item": "FRAME-100", "quantity": 1, "due_date": "31.01.2030"}, "due_date"),
        ("/api/v1/work-orders/WO-9", {"item": "FRAME-100", "quantity": 0, "due_date": "2030-01-31"}, "quantity"),
        ("/api/v1/work-orders/WO-9", {"item": "FRAME-100", "quantity": 1, "due_date": "2030-01-31", "priority": 10**30}, "priority"),
        ("/api/v1/work-centers/WC-9", {"name": "X", "capacity_hours_per_day": 25}, "capacity_hours_per_day"),
        ("/api/v1/work-centers/WC-9", {"name": "X", "efficiency": 0}, "efficiency"),
        ("/api/v1/work-centers/WC-9", {"name": "X", "efficiency": 2.5}, "efficiency"),
        ("/api/v1/reason-codes/R-9", {"kind": "holiday", "name": "X"}, "kind"),
        ("/api/v1/employees/B-9", {"name": "X", "skills": "weld"}, "skills"),
        ("/api/v1/routings/FRAME-100", {"operations": []}, "operations"),
        ("/api/v1/routings/FRAME-100", {"operations": [{"sequence": 10**30, "name": "X", "work_center": "WC-CUT"}]}, "operations"),
        ("/api/v1/boms/FRAME-100", {"version": "1", "lines": [{"item": "BOLT-M8", "quantity": -1}]}, "lines"),
        ("/api/v1/boms/FRAME-100", {"version": "V" * 33, "lines": []}, "version"),
    ],
)
def test_invalid_master_data_is_400_naming_the_field(erp, plant, path, body, field):
    before = snapshot()

    response = erp.put(path, body)

    named = assert_envelope(response, 400, "invalid_request")["fields"]
    assert [name for name in named if name == field or name.startswith((f"{field}.", f"{field}["))] == list(named)
    assert snapshot() == before


def test_nested_field_errors_are_named_like_domain_errors(erp, plant):
    """Refusals name nested fields as ``lines[1].item`` (domain errors, flatten_fields' docstring);
    validation errors inside a list must use the same spelling, not ``lines.1.quantity``."""
    validation = erp.put("/api/v1/boms/FRAME-100", {"version": "1", "lines": [
        {"item": "BOLT-M8", "quantity": 1}, {"item": "TUBE-20", "quantity": -1}
    ]})
    domain = erp.put("/api/v1/boms/FRAME-100", {"version": "1", "lines": [
        {"item": "BOLT-M8", "quantity": 1}, {"item": "NOPE", "quantity": 1}
    ]})

    assert list(assert_envelope(domain, 422)["fields"]) == ["lines[1].item"]
    assert list(assert_envelope(validation, 400)["fields"]) == ["lines[1].quantity"]


def test_unknown_api_path_is_404_with_the_envelope(erp):
    response = erp.get("/api/v1/no-such-thing")

    assert_envelope(response, 404)


def test_openapi_schema_is_served(anonymous, db):
    response = anonymous.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    for path in ("/api/v1/confirmations", "/api/v1/confirmations/bulk", "/api/v1/work-orders/{key}",
                 "/api/v1/work-orders/{key}/release", "/api/v1/items/bulk"):
        assert path in schema["paths"], path


def test_api_documentation_page_is_served(anonymous, db):
    response = anonymous.get("/api/docs/")

    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
