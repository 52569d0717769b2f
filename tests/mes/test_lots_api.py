"""Lots over the API: the ERP stages lots for production (PUT, bulk), anyone who reads sees them
with the quantity on hand as the MES counts it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mes.models import Event, Item, Lot, UnitOfMeasure

D = Decimal


@pytest.fixture
def tube(plant) -> Item:
    item = plant["tube"]
    item.tracking = Item.Tracking.LOT
    item.save(update_fields=["tracking"])
    return item


def test_put_creates_a_lot_then_answers_200_unchanged_and_audits_only_changes(tube, erp_client):
    body = {"quantity": "120.5", "expires_on": "2031-01-31", "supplier_lot": "S-77", "location": "RACK-3"}

    created = erp_client.put("/api/v1/lots/TUBE-20/L-001", body)
    again = erp_client.put("/api/v1/lots/TUBE-20/L-001", body)
    updated = erp_client.put("/api/v1/lots/TUBE-20/L-001", {"quantity": "100", "status": "hold"})

    assert (created.status_code, again.status_code, updated.status_code) == (201, 200, 200)
    assert created.json() | {"uuid": None} == {
        "item": "TUBE-20", "lot": "L-001", "uuid": None, "kind": "lot", "status": "available", "unit": "M",
        "quantity": 120.5, "received_qty": 120.5, "produced_qty": 0, "issued_qty": 0, "quantity_on_hand": 120.5,
        "expires_on": "2031-01-31", "supplier_lot": "S-77", "location": "RACK-3", "unit_cost": None, "produced_by": None,
    }
    lot = Lot.objects.get(item=tube, code="L-001")
    # Fields left out keep their value.
    assert (lot.received_qty, lot.status, lot.supplier_lot, lot.expires_on.isoformat()) == (D("100"), "hold", "S-77", "2031-01-31")
    events = list(Event.objects.filter(object_type="lot").order_by("pk").values_list("object_key", "action", "actor_label"))
    assert events == [("TUBE-20/L-001", "create", "erp"), ("TUBE-20/L-001", "update", "erp")]


def test_a_serial_tracked_items_lots_are_serials_of_one_piece(plant, erp_client):
    Item.objects.filter(code="BOLT-M8").update(tracking=Item.Tracking.SERIAL)

    one = erp_client.put("/api/v1/lots/BOLT-M8/SN-1", {"quantity": 1})
    two = erp_client.put("/api/v1/lots/BOLT-M8/SN-2", {"quantity": 2})

    assert one.status_code == 201 and one.json()["kind"] == "serial"
    assert two.status_code == 422 and two.json()["error"]["code"] == "serial_quantity"
    assert not Lot.objects.filter(code="SN-2").exists()


def test_unit_defaults_to_the_items_and_must_be_known(tube, erp_client):
    UnitOfMeasure.objects.create(code="MM")

    in_mm = erp_client.put("/api/v1/lots/TUBE-20/L-MM", {"quantity": 5, "unit": "MM"})
    unknown = erp_client.put("/api/v1/lots/TUBE-20/L-XX", {"quantity": 5, "unit": "FURLONG"})

    assert in_mm.status_code == 201 and in_mm.json()["unit"] == "MM"
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_unit"
    assert not UnitOfMeasure.objects.filter(code="FURLONG").exists()


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/api/v1/lots/NO-SUCH/L-1", {"quantity": 1}, 422, "unknown_item"),
        ("/api/v1/lots/TUBE-20/L-1", {"quantity": 1, "colour": "red"}, 400, "invalid_request"),
        ("/api/v1/lots/TUBE-20/L-1", {"quantity": -1}, 400, "invalid_request"),
        ("/api/v1/lots/TUBE-20/L-1", {"quantity": 1, "status": "lost"}, 400, "invalid_request"),
        ("/api/v1/lots/TUBE-20/L-1", {}, 400, "invalid_request"),
    ],
)
def test_put_refusals_use_the_error_envelope_and_write_nothing(tube, erp_client, path, body, status, code):
    response = erp_client.put(path, body)

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert Lot.objects.count() == 0
    assert not Event.objects.filter(object_type="lot").exists()


def test_get_answers_quantity_on_hand_and_404_for_an_unknown_lot(tube, erp_client, operator):
    erp_client.put("/api/v1/lots/TUBE-20/L-001", {"quantity": 50})
    Lot.objects.filter(code="L-001").update(issued_qty=D("12.5"), produced_qty=D("2"))

    found = operator.get("/api/v1/lots/TUBE-20/L-001")
    missing = operator.get("/api/v1/lots/TUBE-20/L-404")

    assert found.status_code == 200
    assert (found.json()["quantity_on_hand"], found.json()["issued_qty"], found.json()["produced_qty"]) == (39.5, 12.5, 2)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_lot"


def test_bulk_upserts_all_or_nothing_with_a_result_per_row(tube, erp_client):
    good = {"item": "TUBE-20", "lot": "L-1", "quantity": 10}
    refused = erp_client.post("/api/v1/lots/bulk", {"lots": [good, {"item": "TUBE-20", "lot": "L-2", "quantity": 1, "unit": "FURLONG"}]})

    assert refused.status_code == 422
    assert [row["status"] for row in refused.json()["results"]] == [424, 422]
    assert refused.json()["results"][1]["error"]["code"] == "unknown_unit"
    assert Lot.objects.count() == 0

    accepted = erp_client.post("/api/v1/lots/bulk", {"lots": [good, {"item": "TUBE-20", "lot": "L-2", "quantity": 3, "status": "blocked"}]})
    again = erp_client.post("/api/v1/lots/bulk", {"lots": [good]})

    assert accepted.status_code == 200
    assert accepted.json() == {"results": [{"status": 201, "id": "TUBE-20/L-1"}, {"status": 201, "id": "TUBE-20/L-2"}]}
    assert again.json() == {"results": [{"status": 200, "id": "TUBE-20/L-1"}]}
    assert Lot.objects.get(code="L-2").status == "blocked"


def test_only_integration_and_admin_write_lots(tube, operator, supervisor, admin_api):
    assert operator.put("/api/v1/lots/TUBE-20/L-1", {"quantity": 1}).status_code == 403
    assert supervisor.put("/api/v1/lots/TUBE-20/L-1", {"quantity": 1}).status_code == 403
    assert admin_api.put("/api/v1/lots/TUBE-20/L-1", {"quantity": 1}).status_code == 201
