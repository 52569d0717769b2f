"""Issuing a scanned lot at the station: LOT:<item>:<lot>[:<quantity>] issues it to the open operation
through the API's service, limited to the station's work center; an over-issue waits until a
supervisor scans their badge at the station."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from erp_sync.models import OutboxMessage
from mes.models import Item, Lot, MaterialMovement, WorkOrderComponent
from mes.services.accounts import api_token_create
from mes.services.master_data import lot_upsert
from tests.factories import EmployeeFactory
from tests.station.conftest import post

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def stock(released_order):
    Item.objects.filter(code="TUBE-20").update(tracking=Item.Tracking.LOT)
    lot_upsert(item_code="TUBE-20", lot_code="T-1", quantity=D("100"))
    lot_upsert(item_code="TUBE-20", lot_code="T-2", quantity=D("10"))


def issue_body(**fields):
    body = {"client_id": str(uuid.uuid4()), "work_order": "WO-1001", "operation": 10, "item": "TUBE-20", "lot": "T-1", "operator_badge": "B-1001"}
    body.update(fields)
    return body


def issued(item: str = "TUBE-20") -> Decimal:
    return WorkOrderComponent.objects.get(work_order__number="WO-1001", item__code=item).issued_qty


def test_a_scanned_lot_with_a_quantity_is_issued_once(stock, tablet, station):
    body = issue_body(quantity="6")

    first = post(tablet, "/station/api/issue", body)
    again = post(tablet, "/station/api/issue", body)

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["issue"] | {"id": None} == {
        "id": None, "state": "posted", "item": "TUBE-20", "lot": "T-1", "quantity": "6", "unit": "M",
        "work_order": "WO-1001", "operation": 10, "erp_state": "queued",
    }
    movement = MaterialMovement.objects.get()
    assert (movement.station, movement.operator.badge) == (station.name, "B-1001")
    assert issued() == D("6")
    assert OutboxMessage.objects.filter(kind="goods_issue").count() == 1


def test_without_a_quantity_the_remaining_requirement_is_issued_at_most_what_the_lot_holds(stock, tablet):
    small = post(tablet, "/station/api/issue", issue_body(lot="T-2"))  # 25 M needed, T-2 holds 10
    rest = post(tablet, "/station/api/issue", issue_body())  # 15 M still needed
    nothing = post(tablet, "/station/api/issue", issue_body())

    assert (small.json()["issue"]["quantity"], rest.json()["issue"]["quantity"]) == ("10", "15")
    assert issued() == D("25")
    assert (nothing.status_code, nothing.json()["error"]["code"]) == (422, "nothing_left_to_issue")


def test_an_operation_of_another_work_center_is_refused(stock, tablet):
    Item.objects.filter(code="BOLT-M8").update()
    WorkOrderComponent.objects.filter(item__code="BOLT-M8").update(operation_sequence=20)

    response = post(tablet, "/station/api/issue", issue_body(operation=20, item="BOLT-M8", lot="B-1", quantity="1"))

    assert (response.status_code, response.json()["error"]["code"]) == (409, "other_work_center")
    assert MaterialMovement.objects.count() == 0


def test_refusals_say_why_in_the_operators_language_and_leave_nothing(stock, station_pair):
    from tests.station.conftest import station_client

    chinese = station_client(station_pair[1], language="zh-hans")

    response = post(chinese, "/station/api/issue", issue_body(lot="T-404", quantity="1"))

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "lot_unknown"
    assert "T-404" in response.json()["error"]["message"] and "批" in response.json()["error"]["message"]
    assert (MaterialMovement.objects.count(), OutboxMessage.objects.count()) == (0, 0)


def test_an_over_issue_waits_for_a_supervisor_badge(stock, tablet):
    EmployeeFactory(badge="S-0001", name="Zhang Supervisor", user=api_token_create(username="zhang", role="supervisor").user)
    EmployeeFactory(badge="O-0002", name="Another Operator", user=api_token_create(username="wu", role="operator").user)

    held = post(tablet, "/station/api/issue", issue_body(quantity="40"))

    assert held.status_code == 202
    approval = held.json()["approval"]
    assert (approval["code"], approval["required"], approval["issued"], approval["requested"]) == ("over_issue_needs_approval", "25", "0", "40")
    assert "supervisor" in approval["message"]
    assert issued() == 0 and OutboxMessage.objects.count() == 0
    issue_id = held.json()["issue"]["id"]

    by_operator = post(tablet, "/station/api/issue/approve", {"issue": issue_id, "badge": "O-0002"})
    by_stranger = post(tablet, "/station/api/issue/approve", {"issue": issue_id, "badge": "B-1001"})  # no user linked
    assert (by_operator.status_code, by_operator.json()["error"]["code"]) == (403, "not_a_supervisor")
    assert (by_stranger.status_code, by_stranger.json()["error"]["code"]) == (403, "not_a_supervisor")
    assert issued() == 0

    approved = post(tablet, "/station/api/issue/approve", {"issue": issue_id, "badge": "S-0001"})

    assert approved.status_code == 201
    assert approved.json()["issue"]["state"] == "posted"
    movement = MaterialMovement.objects.get()
    assert (movement.decided_by.username, movement.decision_reason) == ("zhang", f"Approved at station {movement.station} by badge S-0001.")
    assert issued() == D("40") and Lot.objects.get(code="T-1").issued_qty == D("40")
    assert OutboxMessage.objects.filter(kind="goods_issue").count() == 1


def test_the_issue_help_shows_the_scan_code_as_text_not_as_markup(tablet):
    page = tablet.get("/station/").content.decode()

    assert "scan LOT:&lt;item&gt;:&lt;lot&gt;:&lt;quantity&gt;." in page
    assert "<item>" not in page
