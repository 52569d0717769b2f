"""Idempotent upserts of master data and work orders by the ERP's key, single and bulk (all or nothing)."""

from decimal import Decimal

import pytest

from mes.models import Bom, Equipment, Event, Item, ReasonCode
from tests.factories import ItemFactory, UnitOfMeasureFactory, WorkCenterFactory
from tests.helpers import snapshot

D = Decimal


@pytest.fixture
def catalog(db):
    """GEAR-1 (no BOM, no routing yet), its raw material STEEL-1 (KG), work center WC-MILL."""
    ItemFactory(code="GEAR-1", name="Gear", unit=UnitOfMeasureFactory(code="PCS"))
    ItemFactory(code="STEEL-1", name="Steel bar", unit=UnitOfMeasureFactory(code="KG"))
    WorkCenterFactory(code="WC-MILL", name="Milling", line="L1", capacity_hours_per_day=D("16"))


def without_uuid(body: dict) -> dict:
    assert len(str(body.pop("uuid"))) == 36
    return body


# path, first body, what the API answers (uuid aside), a changed body, the answer after the change
UPSERTS = [
    pytest.param(
        "/api/v1/items/SHAFT-1",
        {"name": "Shaft", "unit": "PCS"},
        {"code": "SHAFT-1", "name": "Shaft", "unit": "PCS", "description": "", "tracking": "none", "standard_cost": None},
        {"name": "Shaft 20 mm", "unit": "PCS", "description": "hardened", "tracking": "serial", "standard_cost": "12.5"},
        {"code": "SHAFT-1", "name": "Shaft 20 mm", "unit": "PCS", "description": "hardened", "tracking": "serial", "standard_cost": 12.5},
        id="item",
    ),
    pytest.param(
        "/api/v1/work-centers/WC-LATHE",
        {"name": "Lathe", "capacity_hours_per_day": 16},
        {"code": "WC-LATHE", "name": "Lathe", "line": "", "capacity_hours_per_day": 16, "efficiency": 1, "labor_rate": None, "machine_rate": None},
        {"name": "Lathe", "capacity_hours_per_day": 22.5, "line": "L2", "efficiency": 0.85, "labor_rate": 48},
        {"code": "WC-LATHE", "name": "Lathe", "line": "L2", "capacity_hours_per_day": 22.5, "efficiency": 0.85, "labor_rate": 48, "machine_rate": None},
        id="work-center",
    ),
    pytest.param(
        "/api/v1/equipment/EQ-7",
        {"name": "CNC 7", "work_center": "WC-MILL"},
        {"code": "EQ-7", "name": "CNC 7", "work_center": "WC-MILL"},
        {"name": "CNC 7 (retrofit)", "work_center": "WC-MILL"},
        {"code": "EQ-7", "name": "CNC 7 (retrofit)", "work_center": "WC-MILL"},
        id="equipment",
    ),
    pytest.param(
        "/api/v1/employees/B-2001",
        {"name": "Zhao Min", "skills": ["weld", "cut"]},
        {"badge": "B-2001", "name": "Zhao Min", "skills": ["cut", "weld"], "is_active": True},
        {"name": "Zhao Min", "skills": ["weld"], "is_active": False},
        {"badge": "B-2001", "name": "Zhao Min", "skills": ["weld"], "is_active": False},
        id="employee",
    ),
    pytest.param(
        "/api/v1/reason-codes/SCRAP-09",
        {"kind": "scrap", "name": "Crack"},
        {"code": "SCRAP-09", "kind": "scrap", "name": "Crack"},
        {"kind": "rework", "name": "Crack, repairable"},
        {"code": "SCRAP-09", "kind": "rework", "name": "Crack, repairable"},
        id="reason-code",
    ),
    pytest.param(
        "/api/v1/boms/GEAR-1",
        {"version": "A", "lines": [{"item": "STEEL-1", "quantity": 1.5}]},
        {"item": "GEAR-1", "version": "A", "valid_from": None, "valid_to": None,
         "lines": [{"item": "STEEL-1", "quantity": 1.5, "unit": "KG", "operation": None, "backflush": False}]},
        {"version": "A", "valid_from": "2030-01-01", "lines": [{"item": "STEEL-1", "quantity": 1.75, "unit": "G", "operation": 20, "backflush": True}]},
        {"item": "GEAR-1", "version": "A", "valid_from": "2030-01-01", "valid_to": None,
         "lines": [{"item": "STEEL-1", "quantity": 1.75, "unit": "G", "operation": 20, "backflush": True}]},
        id="bom",
    ),
    pytest.param(
        "/api/v1/routings/GEAR-1",
        {"operations": [{"sequence": 10, "name": "Mill", "work_center": "WC-MILL", "setup_minutes": 5, "run_minutes_per_unit": 1.5}]},
        {"item": "GEAR-1", "operations": [
            {"sequence": 10, "name": "Mill", "work_center": "WC-MILL", "setup_minutes": 5, "run_minutes_per_unit": 1.5,
             "quality_checkpoint": False}]},
        {"operations": [
            {"sequence": 10, "name": "Mill", "work_center": "WC-MILL", "setup_minutes": 5, "run_minutes_per_unit": 1.5},
            {"sequence": 20, "name": "Inspect", "work_center": "WC-MILL", "quality_checkpoint": True}]},
        {"item": "GEAR-1", "operations": [
            {"sequence": 10, "name": "Mill", "work_center": "WC-MILL", "setup_minutes": 5, "run_minutes_per_unit": 1.5,
             "quality_checkpoint": False},
            {"sequence": 20, "name": "Inspect", "work_center": "WC-MILL", "setup_minutes": 0, "run_minutes_per_unit": 0,
             "quality_checkpoint": True}]},
        id="routing",
    ),
    pytest.param(
        "/api/v1/work-orders/WO-5001",
        {"item": "GEAR-1", "quantity": 20, "due_date": "2030-03-01"},
        {"number": "WO-5001", "status": "planned", "item": "GEAR-1", "quantity": 20, "unit": "PCS",
         "due_date": "2030-03-01", "priority": 5, "operations": [], "components": []},
        {"item": "GEAR-1", "quantity": 25, "due_date": "2030-03-08", "priority": 2},
        {"number": "WO-5001", "status": "planned", "item": "GEAR-1", "quantity": 25, "unit": "PCS",
         "due_date": "2030-03-08", "priority": 2, "operations": [], "components": []},
        id="work-order",
    ),
]


@pytest.mark.parametrize(("path", "body", "answer", "changed_body", "changed_answer"), UPSERTS)
def test_put_creates_then_answers_unchanged_then_updates(erp_client, catalog, path, body, answer, changed_body, changed_answer):
    events = Event.objects.exclude(object_type="api_token")  # the persona's token is audited too
    created = erp_client.put(path, body)
    creates = events.filter(action="create").count()
    updates = events.filter(action="update").count()
    before_replay = snapshot()
    replayed = erp_client.put(path, body)
    after_replay = snapshot()
    updated = erp_client.put(path, changed_body)

    assert (created.status_code, without_uuid(created.json())) == (201, answer)
    assert creates == 1
    assert (replayed.status_code, without_uuid(replayed.json())) == (200, answer)
    assert after_replay == before_replay  # no new event, nothing touched
    assert (updated.status_code, without_uuid(updated.json())) == (200, changed_answer)
    assert events.filter(action="create").count() == 1
    assert events.filter(action="update").count() > updates
    assert all(event.actor_label == "erp" for event in events)


@pytest.mark.parametrize(("path", "body", "answer", "changed_body", "changed_answer"), UPSERTS)
def test_get_reads_what_put_wrote(erp_client, catalog, path, body, answer, changed_body, changed_answer):
    written = erp_client.put(path, body).json()

    read = erp_client.get(path)

    assert (read.status_code, read.json()) == (200, written)


def test_update_writes_an_event_with_before_and_after(erp_client, db):
    erp_client.put("/api/v1/items/SHAFT-1", {"name": "Shaft", "unit": "PCS"})

    erp_client.put("/api/v1/items/SHAFT-1", {"name": "Shaft 20 mm", "unit": "PCS"})

    events = Event.objects.exclude(object_type="api_token").order_by("id")  # the persona's token is audited too
    assert list(events.values_list("object_type", "object_key", "action", "before", "after", "actor_label")) == [
        ("item", "SHAFT-1", "create", None, {"name": "Shaft", "unit": "PCS", "description": "", "tracking": "none"}, "erp"),
        ("item", "SHAFT-1", "update", {"name": "Shaft"}, {"name": "Shaft 20 mm"}, "erp"),
    ]


UNKNOWN_REFERENCES = [
    pytest.param("/api/v1/work-orders/WO-5002", {"item": "NOPE", "quantity": 5, "due_date": "2030-03-01"},
                 "unknown_item", {"item": "unknown item 'NOPE'"}, id="order-item"),
    pytest.param("/api/v1/equipment/EQ-8", {"name": "Press", "work_center": "WC-NOPE"},
                 "unknown_work_center", {"work_center": "unknown work center 'WC-NOPE'"}, id="equipment-work-center"),
    pytest.param("/api/v1/boms/GEAR-1", {"version": "A", "lines": [{"item": "STEEL-1", "quantity": 1}, {"item": "NOPE", "quantity": 1}]},
                 "unknown_item", {"lines[1].item": "unknown item 'NOPE'"}, id="bom-line-item"),
    pytest.param("/api/v1/boms/NOPE", {"version": "A", "lines": [{"item": "STEEL-1", "quantity": 1}]},
                 "unknown_item", {"item": "unknown item 'NOPE'"}, id="bom-item"),
    pytest.param("/api/v1/routings/GEAR-1", {"operations": [{"sequence": 10, "name": "Mill", "work_center": "WC-NOPE"}]},
                 "unknown_work_center", {"operations[0].work_center": "unknown work center 'WC-NOPE'"}, id="routing-work-center"),
    pytest.param("/api/v1/routings/NOPE", {"operations": [{"sequence": 10, "name": "Mill", "work_center": "WC-MILL"}]},
                 "unknown_item", {"item": "unknown item 'NOPE'"}, id="routing-item"),
]


@pytest.mark.parametrize(("path", "body", "code", "fields"), UNKNOWN_REFERENCES)
def test_unknown_reference_is_422_naming_the_field_and_writes_nothing(erp_client, catalog, path, body, code, fields):
    before = snapshot()

    response = erp_client.put(path, body)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["fields"] == fields
    assert response.json()["error"]["message"]
    assert snapshot() == before


def test_unknown_reference_in_a_routing_names_the_operation_as_sent(erp_client, catalog):
    """The error names the position in the request, not in the routing sorted by sequence."""
    response = erp_client.put("/api/v1/routings/GEAR-1", {"operations": [
        {"sequence": 20, "name": "Inspect", "work_center": "WC-NOPE"},
        {"sequence": 10, "name": "Mill", "work_center": "WC-MILL"},
    ]})

    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"operations[0].work_center": "unknown work center 'WC-NOPE'"}


def test_put_bom_answers_the_version_it_wrote(erp_client, catalog):
    """PUT answers with the record written, not with whichever version the reader thinks is current."""
    erp_client.put("/api/v1/boms/GEAR-1", {"version": "2", "valid_from": "2025-01-01", "lines": [{"item": "STEEL-1", "quantity": 2}]})

    response = erp_client.put(
        "/api/v1/boms/GEAR-1", {"version": "1", "valid_from": "2024-01-01", "lines": [{"item": "STEEL-1", "quantity": 1}]}
    )

    assert response.status_code == 201
    assert (response.json()["version"], response.json()["lines"]) == ("1", [{"item": "STEEL-1", "quantity": 1, "unit": "KG", "operation": None, "backflush": False}])
    assert Bom.objects.filter(item__code="GEAR-1").count() == 2


def test_bom_that_would_contain_itself_is_refused(erp_client, catalog):
    erp_client.put("/api/v1/boms/STEEL-1", {"version": "1", "lines": [{"item": "GEAR-1", "quantity": 1}]})
    before = snapshot()

    response = erp_client.put("/api/v1/boms/GEAR-1", {"version": "1", "lines": [{"item": "STEEL-1", "quantity": 1}]})

    assert (response.status_code, response.json()["error"]["code"]) == (422, "bom_cycle")
    assert snapshot() == before


def test_bom_with_valid_to_before_valid_from_is_refused(erp_client, catalog):
    before = snapshot()

    response = erp_client.put("/api/v1/boms/GEAR-1", {
        "version": "1", "valid_from": "2030-02-01", "valid_to": "2030-01-01", "lines": [{"item": "STEEL-1", "quantity": 1}]
    })

    assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_effectivity")
    assert snapshot() == before


def test_routing_with_duplicate_sequences_is_refused(erp_client, catalog):
    before = snapshot()

    response = erp_client.put("/api/v1/routings/GEAR-1", {"operations": [
        {"sequence": 10, "name": "Mill", "work_center": "WC-MILL"},
        {"sequence": 10, "name": "Drill", "work_center": "WC-MILL"},
    ]})

    assert (response.status_code, response.json()["error"]["code"]) == (422, "duplicate_sequence")
    assert snapshot() == before


# --- bulk ---------------------------------------------------------------------------------

BULK = [
    pytest.param("items", {"code": "SHAFT-1", "name": "Shaft", "unit": "PCS"}, id="items"),
    pytest.param("work-centers", {"code": "WC-LATHE", "name": "Lathe"}, id="work-centers"),
    pytest.param("equipment", {"code": "EQ-7", "name": "CNC 7", "work_center": "WC-MILL"}, id="equipment"),
    pytest.param("employees", {"badge": "B-2001", "name": "Zhao Min", "skills": ["weld"]}, id="employees"),
    pytest.param("reason-codes", {"code": "SCRAP-09", "kind": "scrap", "name": "Crack"}, id="reason-codes"),
    pytest.param("boms", {"item": "GEAR-1", "version": "A", "lines": [{"item": "STEEL-1", "quantity": 1}]}, id="boms"),
    pytest.param("routings", {"item": "GEAR-1", "operations": [{"sequence": 10, "name": "Mill", "work_center": "WC-MILL"}]}, id="routings"),
    pytest.param("work-orders", {"number": "WO-5001", "item": "GEAR-1", "quantity": 5, "due_date": "2030-03-01"}, id="work-orders"),
]


@pytest.mark.parametrize(("resource", "record"), BULK)
def test_bulk_creates_then_answers_unchanged(erp_client, catalog, resource, record):
    key = next(iter(record.values()))

    created = erp_client.post(f"/api/v1/{resource}/bulk", {"records": [record]})
    before_replay = snapshot()
    replayed = erp_client.post(f"/api/v1/{resource}/bulk", {"records": [record]})

    assert (created.status_code, created.json()) == (200, {"results": [{"status": 201, "id": key}]})
    assert (replayed.status_code, replayed.json()) == (200, {"results": [{"status": 200, "id": key}]})
    assert snapshot() == before_replay
    assert erp_client.get(f"/api/v1/{resource}/{key}").status_code == 200


def test_bulk_answers_each_record_in_order(erp_client, db):
    erp_client.put("/api/v1/items/B", {"name": "Old B", "unit": "PCS"})

    response = erp_client.post("/api/v1/items/bulk", {"records": [
        {"code": "A", "name": "A", "unit": "PCS"},
        {"code": "B", "name": "New B", "unit": "PCS"},
        {"code": "C", "name": "C", "unit": "KG"},
    ]})

    assert (response.status_code, response.json()) == (200, {"results": [
        {"status": 201, "id": "A"}, {"status": 200, "id": "B"}, {"status": 201, "id": "C"}
    ]})
    assert list(Item.objects.order_by("code").values_list("code", "name", "unit__code")) == [
        ("A", "A", "PCS"), ("B", "New B", "PCS"), ("C", "C", "KG")
    ]


def test_bulk_with_one_invalid_record_writes_nothing_and_marks_the_others_424(erp_client, db):
    before = snapshot()

    response = erp_client.post("/api/v1/items/bulk", {"records": [
        {"code": "A", "name": "A", "unit": "PCS"},
        {"code": "B", "unit": "PCS"},
        {"code": "C", "name": "C", "unit": "PCS"},
    ]})

    assert response.status_code == 400
    results = response.json()["results"]
    assert [result["status"] for result in results] == [424, 400, 424]
    assert results[0]["error"]["code"] == results[2]["error"]["code"] == "not_applied"
    assert results[1]["error"]["code"] == "invalid_request"
    assert set(results[1]["error"]["fields"]) == {"name"}
    assert snapshot() == before


def test_bulk_with_one_unknown_reference_writes_nothing(erp_client, catalog):
    before = snapshot()

    response = erp_client.post("/api/v1/equipment/bulk", {"records": [
        {"code": "EQ-1", "name": "Press 1", "work_center": "WC-MILL"},
        {"code": "EQ-2", "name": "Press 2", "work_center": "WC-NOPE"},
    ]})

    assert response.status_code == 422
    assert response.json()["results"] == [
        {"status": 424, "id": "EQ-1", "error": {
            "code": "not_applied", "message": "Not written: another record in this batch was refused."
        }},
        {"status": 422, "id": "EQ-2", "error": {
            "code": "unknown_work_center", "message": "No work center with key 'WC-NOPE' exists.",
            "fields": {"work_center": "unknown work center 'WC-NOPE'"},
        }},
    ]
    assert snapshot() == before
    assert Equipment.objects.count() == 0


@pytest.mark.slow
def test_bulk_takes_a_thousand_records(erp_client, db):
    records = [{"code": f"R-{n:04d}", "kind": "scrap", "name": f"Reason {n}"} for n in range(1000)]

    response = erp_client.post("/api/v1/reason-codes/bulk", {"records": records})

    assert response.status_code == 200
    assert [result["status"] for result in response.json()["results"]] == [201] * 1000
    assert ReasonCode.objects.count() == 1000


@pytest.mark.parametrize("count", [0, 1001])
def test_bulk_outside_one_to_a_thousand_records_is_refused(erp_client, db, count):
    records = [{"code": f"R-{n:04d}", "kind": "scrap", "name": "Reason"} for n in range(count)]

    response = erp_client.post("/api/v1/reason-codes/bulk", {"records": records})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert set(response.json()["error"]["fields"]) == {"records"}
    assert ReasonCode.objects.count() == 0
