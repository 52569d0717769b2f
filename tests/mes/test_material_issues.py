"""Material issues by scan over the API: recorded once, refused with a code and nothing left behind,
held for a supervisor beyond the tolerance, and reversed with a negated record; each posted issue
and reversal queues exactly one ERP message."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from erp_sync.models import OutboxMessage
from mes.models import Event, Item, Lot, MaterialMovement, WorkOrderComponent
from mes.services.master_data import lot_upsert
from tests.conftest import ORDER
from tests.helpers import bring_to

D = Decimal
URL = "/api/v1/material-issues"


@pytest.fixture
def stock(planned_order, plant) -> dict[str, Lot]:
    """TUBE-20 lot-tracked (25 M required by operation 10), with lots in stock; BOLT-M8 untracked (40 PCS)."""
    Item.objects.filter(code="TUBE-20").update(tracking=Item.Tracking.LOT)
    made = {
        code: lot_upsert(item_code="TUBE-20", lot_code=code, quantity=D(quantity), **extra).obj
        for code, quantity, extra in (
            ("T-1", "100", {}),
            ("T-SMALL", "2", {}),
            ("T-HOLD", "100", {"status": "hold"}),
            ("T-OLD", "100", {"expires_on": timezone.localdate() - datetime.timedelta(days=1)}),
        )
    }
    return made


@pytest.fixture
def lots(stock) -> dict[str, Lot]:
    """The stock, and WO-1001 released."""
    bring_to(ORDER, "released")
    return stock


def issue(client, **fields):
    body = {"client_id": str(uuid.uuid4()), "work_order": ORDER, "operation": 10, "item": "TUBE-20", "lot": "T-1", "quantity": "10"}
    body.update(fields)
    return client.post(URL, body)


def tube_component() -> WorkOrderComponent:
    return WorkOrderComponent.objects.get(work_order__number=ORDER, item__code="TUBE-20")


def state() -> dict:
    return {
        "movements": MaterialMovement.objects.count(),
        "messages": OutboxMessage.objects.count(),
        "lots": sorted(Lot.objects.values_list("code", "issued_qty")),
        "components": sorted(WorkOrderComponent.objects.values_list("item__code", "issued_qty")),
    }


def test_an_issue_is_recorded_once_and_queues_one_goods_issue(lots, erp_client, operator):
    client_id = str(uuid.uuid4())

    first = issue(erp_client, client_id=client_id, operator_badge="B-1001")
    again = issue(erp_client, client_id=client_id, operator_badge="B-1001")
    conflict = issue(erp_client, client_id=client_id, operator_badge="B-1001", quantity="11")

    assert (first.status_code, again.status_code, conflict.status_code) == (201, 200, 409)
    assert conflict.json()["error"]["code"] == "client_id_conflict"
    assert first.json()["id"] == again.json()["id"]
    body = first.json()
    assert (body["state"], body["source"], body["item"], body["lot"], body["quantity"], body["unit"]) == ("posted", "scan", "TUBE-20", "T-1", 10, "M")
    assert body["erp_sync"]["state"] == "queued"
    assert Lot.objects.get(code="T-1").issued_qty == D("10")
    assert tube_component().issued_qty == D("10")
    assert operator.get(f"/api/v1/lots/TUBE-20/T-1").json()["quantity_on_hand"] == 90
    (message,) = OutboxMessage.objects.filter(kind="goods_issue")
    assert OutboxMessage.objects.count() == 1
    assert str(message.idempotency_key) == body["id"] and str(message.source_uuid) == body["id"]
    # The outbox adds its own bookkeeping (sequence, key) to the payload on some databases.
    payload = {key: value for key, value in message.payload.items() if key not in {"sequence", "idempotency_key"}}
    assert payload | {"posted_at": None, "work_order_uuid": None} == {
        "type": "goods_issue", "document_id": body["id"], "work_order": ORDER, "work_order_uuid": None, "order_item": "FRAME-100",
        "operation": 10, "operation_name": "Cut", "work_center": "WC-CUT", "confirmation_id": None,
        "movements": [{"movement_id": body["id"], "movement_type": "261", "item": "TUBE-20", "lot": "T-1", "quantity": "10.000", "unit": "M"}],
        "reverses": None, "operator_badge": "B-1001", "station": "", "posted_at": None,
    }
    assert Event.objects.filter(object_type="material_issue", action="issue", object_key=body["id"]).count() == 1


def test_an_untracked_component_is_issued_without_a_lot(lots, operator):
    response = issue(operator, item="BOLT-M8", lot="", quantity="4")

    assert response.status_code == 201
    assert response.json()["lot"] is None
    assert OutboxMessage.objects.get(kind="goods_issue").payload["movements"][0]["lot"] is None


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"item": "FRAME-100"}, 422, "not_a_component"),
        ({"item": "NO-SUCH-ITEM"}, 422, "not_a_component"),
        ({"operation": 20}, 422, "not_a_component"),
        ({"lot": ""}, 422, "lot_required"),
        ({"lot": "T-404"}, 422, "lot_unknown"),
        ({"lot": "T-HOLD"}, 422, "lot_on_hold"),
        ({"lot": "T-OLD"}, 422, "lot_expired"),
        ({"lot": "T-SMALL", "quantity": "3"}, 422, "lot_insufficient"),
        ({"quantity": "0"}, 422, "invalid_quantity"),
        ({"quantity": "-1"}, 422, "invalid_quantity"),
        ({"operator_badge": "B-9999"}, 422, "unknown_operator"),
        ({"operation": 99}, 422, "unknown_operation"),
        ({"work_order": "WO-NOPE"}, 404, "unknown_work_order"),
        ({"colour": "red"}, 400, "invalid_request"),
    ],
)
def test_refusals_have_their_code_and_record_and_queue_nothing(lots, supervisor, fields, status, code):
    before = state()

    response = issue(supervisor, **fields)

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert state() == before


@pytest.mark.parametrize(("order_status", "code"), [("planned", "work_order_not_released"), ("closed", "work_order_not_open")])
def test_an_order_not_open_is_refused(stock, supervisor, order_status, code):
    bring_to(ORDER, order_status)
    before = state()

    response = issue(supervisor)

    assert (response.status_code, response.json()["error"]["code"]) == (409, code)
    assert state() == before


def test_an_operator_token_may_issue_only_for_its_own_badge(lots, operator):
    response = issue(operator, operator_badge="B-1001")  # the operator's user has no employee: no badge is its own

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "badge_not_bound"


def test_over_issue_waits_for_approval_then_approve_consumes_and_queues(lots, supervisor, settings):
    settings.MES_OVER_ISSUE_TOLERANCE_PERCENT = D("10")  # 25 M required: up to 27.5 without approval
    assert issue(supervisor, quantity="20").status_code == 201
    before = state()

    held = issue(supervisor, quantity="8")

    assert held.status_code == 202
    body = held.json()
    assert (body["state"], body["code"], body["required"], body["issued"], body["requested"]) == ("awaiting_approval", "over_issue_needs_approval", 25, 20, 8)
    assert state() | {"movements": 0} == before | {"movements": 0}  # nothing consumed, nothing queued
    assert MaterialMovement.objects.filter(state="awaiting_approval").count() == 1
    assert supervisor.get(f"{URL}/{body['id']}").json()["state"] == "awaiting_approval"

    approved = supervisor.post(f"{URL}/{body['id']}/approve", {"reason": "tube damaged at cutting"})
    twice = supervisor.post(f"{URL}/{body['id']}/approve", {"reason": "again"})
    other = supervisor.post(f"{URL}/{body['id']}/reject", {"reason": "changed my mind"})

    assert (approved.status_code, twice.status_code, other.status_code) == (201, 200, 409)
    assert other.json()["error"]["code"] == "material_issue_already_decided"
    assert (approved.json()["state"], approved.json()["decided_by"], approved.json()["decision_reason"]) == ("posted", "supervisor-zhang", "tube damaged at cutting")
    assert tube_component().issued_qty == D("28")
    assert Lot.objects.get(code="T-1").issued_qty == D("28")
    assert OutboxMessage.objects.filter(kind="goods_issue").count() == 2
    assert Event.objects.get(object_type="material_issue", action="approve").reason == "tube damaged at cutting"


def test_approval_checks_the_lot_again(lots, supervisor):
    held = issue(supervisor, quantity="30").json()
    Lot.objects.filter(code="T-1").update(status="blocked")
    before = state()

    refused = supervisor.post(f"{URL}/{held['id']}/approve", {"reason": "ok"})

    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "lot_on_hold")
    assert state() == before
    assert MaterialMovement.objects.get(uuid=held["id"]).state == "awaiting_approval"


def test_reject_consumes_nothing_and_is_audited(lots, supervisor):
    held = issue(supervisor, quantity="30").json()
    before = state()

    rejected = supervisor.post(f"{URL}/{held['id']}/reject", {"reason": "too much"})
    twice = supervisor.post(f"{URL}/{held['id']}/reject", {"reason": "again"})
    other = supervisor.post(f"{URL}/{held['id']}/approve", {"reason": "oops"})

    assert (rejected.status_code, twice.status_code, other.status_code) == (201, 200, 409)
    assert rejected.json()["state"] == "rejected"
    assert state() == before
    assert Event.objects.get(object_type="material_issue", action="reject").reason == "too much"


def test_approving_an_issue_that_needed_none_is_refused(lots, supervisor):
    posted = issue(supervisor).json()

    response = supervisor.post(f"{URL}/{posted['id']}/approve", {})

    assert (response.status_code, response.json()["error"]["code"]) == (409, "not_awaiting_approval")


def test_reverse_restores_lot_and_component_and_queues_the_reversal(lots, supervisor, planner):
    posted = issue(supervisor, quantity="10").json()

    reversed_ = planner.post(f"{URL}/{posted['id']}/reverse", {"reason": "wrong lot"})
    again = planner.post(f"{URL}/{posted['id']}/reverse", {"reason": "again"})

    assert (reversed_.status_code, again.status_code) == (201, 200)
    body = reversed_.json()
    assert again.json()["id"] == body["id"]
    assert (body["source"], body["quantity"], body["reverses"]) == ("reversal", -10, posted["id"])
    assert supervisor.get(f"{URL}/{posted['id']}").json()["reversed_by"] == body["id"]
    assert Lot.objects.get(code="T-1").issued_qty == 0
    assert tube_component().issued_qty == 0
    (message,) = OutboxMessage.objects.filter(kind="goods_issue_reversal")
    assert message.payload["reverses"] == {"document_id": posted["id"], "idempotency_key": posted["id"]}
    assert message.payload["movements"][0] | {"movement_id": None} == {
        "movement_id": None, "movement_type": "262", "item": "TUBE-20", "lot": "T-1", "quantity": "10.000", "unit": "M"
    }
    assert OutboxMessage.objects.count() == 2
    assert Event.objects.get(object_type="material_issue", action="reverse").reason == "wrong lot"


def test_reverse_refuses_a_reversal_and_an_issue_not_posted(lots, supervisor):
    posted = issue(supervisor).json()
    reversal = supervisor.post(f"{URL}/{posted['id']}/reverse", {}).json()
    held = issue(supervisor, quantity="30").json()

    of_reversal = supervisor.post(f"{URL}/{reversal['id']}/reverse", {})
    of_held = supervisor.post(f"{URL}/{held['id']}/reverse", {})

    assert (of_reversal.status_code, of_reversal.json()["error"]["code"]) == (409, "cannot_reverse_reversal")
    assert (of_held.status_code, of_held.json()["error"]["code"]) == (409, "material_issue_not_posted")


def test_a_backflushed_movement_is_reversed_with_its_confirmation(lots, supervisor):
    from tests.helpers import confirm

    confirmation = confirm(ORDER, 10, good_qty=1).confirmation
    backflushed = MaterialMovement.objects.create(
        kind="issue", source="backflush", work_order=confirmation.work_order, operation=confirmation.operation,
        item=lots["T-1"].item, lot=lots["T-1"], quantity=D("2.5"), unit=lots["T-1"].unit, confirmation=confirmation,
    )
    before = state()

    response = supervisor.post(f"{URL}/{backflushed.uuid}/reverse", {"reason": "x"})

    assert (response.status_code, response.json()["error"]["code"]) == (409, "reverse_the_confirmation")
    assert state() == before


def test_unknown_issue_is_404(lots, supervisor):
    missing = uuid.uuid4()

    assert supervisor.get(f"{URL}/{missing}").json()["error"]["code"] == "unknown_material_issue"
    assert supervisor.post(f"{URL}/{missing}/approve", {}).status_code == 404


def test_roles_decide_who_approves_and_who_reverses(lots, supervisor, operator, planner, quality):
    held = issue(supervisor, quantity="30").json()
    posted = issue(supervisor).json()

    assert operator.post(f"{URL}/{held['id']}/approve", {}).status_code == 403
    assert planner.post(f"{URL}/{held['id']}/approve", {}).status_code == 403
    assert operator.post(f"{URL}/{posted['id']}/reverse", {}).status_code == 403
    assert quality.post(URL, {}).status_code == 403


def test_the_work_order_shows_issued_and_required_per_component(lots, supervisor):
    issue(supervisor, quantity="7.5")

    components = supervisor.get(f"/api/v1/work-orders/{ORDER}").json()["components"]

    assert components == [
        {"item": "TUBE-20", "required_qty": 25, "issued_qty": 7.5, "unit": "M", "operation": 10, "backflush": False},
        {"item": "BOLT-M8", "required_qty": 40, "issued_qty": 0, "unit": "PCS", "operation": 10, "backflush": False},
    ]
