"""Actual against standard cost of an order (``GET /api/v1/work-orders/{number}/cost``), the costs
and rates it needs through the upsert APIs, and the order page's cost panel.

The hand-calculated order is WO-1001 of the test plant (tests/conftest.py): FRAME-100, quantity 10,
BOM 2.5 M TUBE-20 + 4 PCS BOLT-M8 per frame; routing 10 Cut @ WC-CUT (setup 10 min, run 2.5 min),
20 Weld @ WC-WELD (setup 15, run 4), 30 Paint @ WC-PAINT (setup 15, run 2.5)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from mes.models import Item, Lot, WorkCenter
from mes.services.material_issues import MaterialIssueRequest, material_issue
from tests.helpers import confirm, signed_in

pytestmark = pytest.mark.django_db

D = Decimal
RATES = {"WC-CUT": ("60", "120"), "WC-WELD": ("48", "90"), "WC-PAINT": ("30", "60")}


def put(client, path: str, body: dict):
    return client.put(path, body, format="json")


@pytest.fixture
def costed(released_order, erp_client):
    """Costs and rates set through the API, material issued and the order reported (see the arithmetic below)."""
    assert put(erp_client, "/api/v1/items/TUBE-20", {"name": "Tube 20 mm", "unit": "M", "standard_cost": "8.00"}).status_code == 200
    assert put(erp_client, "/api/v1/items/BOLT-M8", {"name": "Bolt M8", "unit": "PCS", "standard_cost": "0.50"}).status_code == 200
    for code, (labor, machine) in RATES.items():
        answer = put(erp_client, f"/api/v1/work-centers/{code}", {"name": code, "labor_rate": labor, "machine_rate": machine})
        assert answer.status_code == 200, answer.json()
    assert put(erp_client, "/api/v1/lots/TUBE-20/L-T1", {"quantity": "100", "unit_cost": "7.50"}).status_code == 201
    material_issue(request=MaterialIssueRequest(client_id=uuid.uuid4(), work_order="WO-1001", operation=10, item="TUBE-20", lot="L-T1", quantity=D(26)))
    material_issue(request=MaterialIssueRequest(client_id=uuid.uuid4(), work_order="WO-1001", operation=10, item="BOLT-M8", quantity=D(41)))
    confirm("WO-1001", 10, good_qty=10, labor_minutes=40, machine_minutes=30, final=True)
    confirm("WO-1001", 20, good_qty=9, scrap_qty=1, reason_code="SCRAP-01", labor_minutes=60, machine_minutes=45, final=True)
    confirm("WO-1001", 30, good_qty=9, labor_minutes=30, machine_minutes=30, final=True)
    return released_order


def test_variances_of_a_hand_calculated_order(costed, planner):
    # Good output 9 (operation 30), scrap 1 (operation 20): 10 pieces made.
    # Material standard: per piece 2.5 × 8.00 + 4 × 0.50 = 22.00; × 10 = 220.00.
    # Material actual: 26 M from lot L-T1 at its 7.50 = 195.00, 41 bolts (no lot) at standard 0.50 = 20.50 → 215.50.
    # Labor standard (setup + run × 10, per hour × rate): Cut (10 + 25) = 35 min × 60 = 35.00; Weld (15 + 40) = 55 min × 48 = 44.00;
    #   Paint (15 + 25) = 40 min × 30 = 20.00 → 99.00. Actual: 40 min × 60 = 40.00, 60 × 48 = 48.00, 30 × 30 = 15.00 → 103.00.
    # Machine standard: 35 min × 120 = 70.00, 55 × 90 = 82.50, 40 × 60 = 40.00 → 192.50. Actual: 30 × 120 = 60.00,
    #   45 × 90 = 67.50, 30 × 60 = 30.00 → 157.50.
    # Scrap at standard, per piece: material 22.00 + run 2.5 min × (60 + 120) = 7.50 + 4 min × (48 + 90) = 9.20
    #   + 2.5 min × (30 + 60) = 3.75 → 42.45; × 1 piece = 42.45.
    # Totals: standard of the good output = 220 + 99 + 192.50 − 42.45 = 469.05; actual = 215.50 + 103 + 157.50 = 476.00;
    #   variance 6.95 = (−4.50) + 4.00 + (−35.00) + 42.45.
    answer = planner.get("/api/v1/work-orders/WO-1001/cost")
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["currency"] == "CNY"
    assert body["complete"] is True and body["missing"] == []
    assert body["quantities"] == {"good": 9.0, "scrap": 1.0, "made": 10.0}
    assert body["categories"] == {
        "material": {"standard": 220.0, "actual": 215.5, "variance": -4.5, "complete": True},
        "labor": {"standard": 99.0, "actual": 103.0, "variance": 4.0, "complete": True},
        "machine": {"standard": 192.5, "actual": 157.5, "variance": -35.0, "complete": True},
        "scrap": {"standard": 0.0, "actual": 42.45, "variance": 42.45, "complete": True},
    }
    assert body["totals"] == {"standard": 469.05, "actual": 476.0, "variance": 6.95}
    assert sum(D(str(line["variance"])) for line in body["categories"].values()) == D(str(body["totals"]["variance"]))


def test_a_missing_rate_marks_its_figures_incomplete_and_names_it(costed, planner, erp_client, settings):
    settings.MES_CURRENCY = "EUR"
    answer = put(erp_client, "/api/v1/work-centers/WC-PAINT", {"name": "WC-PAINT", "machine_rate": None})
    assert answer.status_code == 200 and answer.json()["machine_rate"] is None and answer.json()["labor_rate"] == 30.0
    body = planner.get("/api/v1/work-orders/WO-1001/cost", HTTP_ACCEPT_LANGUAGE="en").json()
    assert body["currency"] == "EUR"
    assert body["complete"] is False
    assert body["categories"]["labor"] == {"standard": 99.0, "actual": 103.0, "variance": 4.0, "complete": True}
    for category in ("machine", "scrap"):  # the scrap's standard needs Paint's machine run time too
        assert body["categories"][category] == {"standard": None, "actual": None, "variance": None, "complete": False}
    assert body["totals"] == {"standard": None, "actual": None, "variance": None}
    assert {(missing["category"], missing["field"], missing["work_center"]) for missing in body["missing"]} == {
        ("machine", "machine_rate", "WC-PAINT"), ("scrap", "machine_rate", "WC-PAINT"),
    }
    assert "WC-PAINT has no machine rate" in body["missing"][0]["message"]


def test_a_missing_standard_cost_falls_back_only_where_a_lot_has_none(costed, planner, erp_client):
    # TUBE-20 without a standard cost: its issued lot still has a cost, but the standard needs the item's.
    assert put(erp_client, "/api/v1/items/TUBE-20", {"name": "Tube 20 mm", "unit": "M", "standard_cost": None}).status_code == 200
    body = planner.get("/api/v1/work-orders/WO-1001/cost").json()
    assert body["categories"]["material"]["complete"] is False and body["categories"]["material"]["actual"] is None
    assert [(missing["category"], missing["item"]) for missing in body["missing"]] == [("material", "TUBE-20"), ("scrap", "TUBE-20")]
    assert body["categories"]["labor"]["complete"] is True


def test_an_order_without_reports_costs_nothing_yet(released_order, planner):
    body = planner.get("/api/v1/work-orders/WO-1001/cost").json()
    # No rates and no standard costs are set, but nothing was made or spent: nothing is missing.
    assert body["quantities"] == {"good": 0.0, "scrap": 0.0, "made": 0.0}
    assert body["totals"] == {"standard": 0.0, "actual": 0.0, "variance": 0.0}
    assert body["complete"] is True


def test_cost_roles_and_unknown_order(costed, planner, supervisor, erp_client, operator, quality, anonymous):
    for client in (planner, supervisor, erp_client):
        assert client.get("/api/v1/work-orders/WO-1001/cost").status_code == 200
    for client in (operator, quality):
        answer = client.get("/api/v1/work-orders/WO-1001/cost")
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "forbidden"
    assert anonymous.get("/api/v1/work-orders/WO-1001/cost").status_code in (401, 403)
    missing = planner.get("/api/v1/work-orders/WO-NOPE/cost")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_work_order"


# --- the costs and rates through the upsert APIs --------------------------------------------------


def test_costs_and_rates_are_kept_when_left_out_and_cleared_by_null(plant, erp_client):
    assert put(erp_client, "/api/v1/work-centers/WC-CUT", {"name": "Cut", "labor_rate": "55.5", "machine_rate": "0"}).status_code == 200
    assert put(erp_client, "/api/v1/work-centers/WC-CUT", {"name": "Cutting"}).json()["labor_rate"] == 55.5
    center = WorkCenter.objects.get(code="WC-CUT")
    assert (center.name, center.labor_rate, center.machine_rate) == ("Cutting", D("55.5"), D(0))
    assert put(erp_client, "/api/v1/work-centers/WC-CUT", {"name": "Cutting", "labor_rate": None}).json()["labor_rate"] is None
    answer = put(erp_client, "/api/v1/items/NEW-1", {"name": "New", "unit": "PCS", "standard_cost": "12.3456"})
    assert answer.status_code == 201 and answer.json()["standard_cost"] == 12.3456
    assert put(erp_client, "/api/v1/items/NEW-1", {"name": "New", "unit": "PCS"}).json()["standard_cost"] == 12.3456
    bulk = erp_client.post(
        "/api/v1/work-centers/bulk",
        {"records": [{"code": "WC-WELD", "name": "Weld", "labor_rate": "48"}, {"code": "WC-NEW", "name": "New", "machine_rate": "90.25"}]},
        format="json",
    )
    assert bulk.status_code == 200, bulk.json()
    assert WorkCenter.objects.get(code="WC-WELD").labor_rate == D(48)
    assert WorkCenter.objects.get(code="WC-NEW").machine_rate == D("90.25")
    answer = put(erp_client, "/api/v1/lots/TUBE-20/L-9", {"quantity": "5", "unit_cost": "3.3"})
    assert answer.status_code == 201 and answer.json()["unit_cost"] == 3.3
    assert put(erp_client, "/api/v1/lots/TUBE-20/L-9", {"quantity": "6"}).json()["unit_cost"] == 3.3
    assert Lot.objects.get(code="L-9").unit_cost == D("3.3")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/items/TUBE-20", {"name": "Tube", "unit": "M", "standard_cost": "-1"}, "standard_cost"),
        ("/api/v1/items/TUBE-20", {"name": "Tube", "unit": "M", "standard_cost": "cheap"}, "standard_cost"),
        ("/api/v1/items/TUBE-20", {"name": "Tube", "unit": "M", "standard_cost": "1.23456"}, "standard_cost"),
        ("/api/v1/work-centers/WC-CUT", {"name": "Cut", "labor_rate": "-0.01"}, "labor_rate"),
        ("/api/v1/work-centers/WC-CUT", {"name": "Cut", "machine_rate": "1e40"}, "machine_rate"),
        ("/api/v1/lots/TUBE-20/L-1", {"quantity": "1", "unit_cost": "-5"}, "unit_cost"),
    ],
)
def test_bad_costs_and_rates_are_refused_naming_the_field(plant, erp_client, path, body, field):
    before = (list(Item.objects.values_list("code", "standard_cost")), list(WorkCenter.objects.values_list("code", "labor_rate", "machine_rate")))
    answer = put(erp_client, path, body)
    assert answer.status_code == 400, answer.json()
    error = answer.json()["error"]
    assert error["code"] == "invalid_request" and field in error["fields"]
    assert (list(Item.objects.values_list("code", "standard_cost")), list(WorkCenter.objects.values_list("code", "labor_rate", "machine_rate"))) == before
    assert not Lot.objects.filter(code="L-1").exists()


def test_a_bulk_with_one_bad_rate_writes_nothing(plant, erp_client):
    answer = erp_client.post(
        "/api/v1/work-centers/bulk",
        {"records": [{"code": "WC-CUT", "name": "Cut", "labor_rate": "10"}, {"code": "WC-WELD", "name": "Weld", "labor_rate": "-1"}]},
        format="json",
    )
    assert answer.status_code == 400
    assert WorkCenter.objects.get(code="WC-CUT").labor_rate is None


# --- the order page's cost panel ------------------------------------------------------------------


def test_the_order_page_shows_the_cost_panel_in_both_languages(costed, client):
    signed_in(client, "planner")
    page = client.get("/planning/orders/WO-1001/").content.decode()
    assert 'id="cost"' in page and 'data-complete="true"' in page
    assert "Cost" in page and "CNY" in page and "469.05" in page and "6.95" in page
    chinese = client.get("/planning/orders/WO-1001/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "成本" in chinese and "差异" in chinese


def test_the_cost_panel_says_which_rate_is_missing(costed, client):
    WorkCenter.objects.filter(code="WC-WELD").update(labor_rate=None)
    signed_in(client, "supervisor")
    page = client.get("/planning/orders/WO-1001/").content.decode()
    assert 'data-complete="false"' in page
    assert "Work center WC-WELD has no labor rate." in page
    assert page.count("Work center WC-WELD has no labor rate.") == 1

