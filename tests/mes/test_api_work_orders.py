"""Work orders over the API: the read shape, requested transitions, and upserts once released."""

from decimal import Decimal

import pytest

from mes.models import Event, WorkOrder
from tests.conftest import ORDER
from tests.factories import ItemFactory, RoutingFactory, WorkOrderFactory
from tests.helpers import bring_to, confirm, snapshot

D = Decimal


def test_get_work_order_has_the_documented_shape(released_order, operator):
    confirm(operation=10, good_qty=6, scrap_qty=1, rework_qty=2, reason_code="SCRAP-01")

    response = operator.get(f"/api/v1/work-orders/{ORDER}")

    assert response.status_code == 200
    assert response.json() == {
        "number": ORDER,
        "uuid": str(released_order.uuid),
        "status": "in_progress",
        "item": "FRAME-100",
        "quantity": 10,
        "unit": "PCS",
        "due_date": "2030-01-31",
        "priority": 5,
        "operations": [
            {"sequence": 10, "name": "Cut", "work_center": "WC-CUT", "status": "in_progress", "planned_qty": 10,
             "good_qty": 6, "scrap_qty": 1, "rework_qty": 2, "quality_checkpoint": False},
            {"sequence": 20, "name": "Weld", "work_center": "WC-WELD", "status": "released", "planned_qty": 10,
             "good_qty": 0, "scrap_qty": 0, "rework_qty": 0, "quality_checkpoint": False},
            {"sequence": 30, "name": "Paint", "work_center": "WC-PAINT", "status": "released", "planned_qty": 10,
             "good_qty": 0, "scrap_qty": 0, "rework_qty": 0, "quality_checkpoint": False},
        ],
        "components": [
            {"item": "TUBE-20", "required_qty": 25, "issued_qty": 0, "unit": "M", "operation": 10, "backflush": False},
            {"item": "BOLT-M8", "required_qty": 40, "issued_qty": 0, "unit": "PCS", "operation": 10, "backflush": False},
        ],
    }


def test_get_work_order_queries_do_not_grow_with_operations(db, operator, django_assert_num_queries):
    from mes.services.work_orders import work_order_transition

    for number, count in (("WO-SHORT", 2), ("WO-LONG", 12)):
        item = ItemFactory()
        RoutingFactory(item=item, operations=count)
        WorkOrderFactory(number=number, item=item)
        work_order_transition(number=number, action="release")
    operator.get("/api/v1/work-orders/WO-SHORT")  # warm up: the token, user and roles are then remembered

    with django_assert_num_queries(3) as short:
        operator.get("/api/v1/work-orders/WO-SHORT")
    with django_assert_num_queries(3) as long:
        response = operator.get("/api/v1/work-orders/WO-LONG")

    assert len(response.json()["operations"]) == 12
    assert len(short.captured_queries) == len(long.captured_queries)


def test_get_unknown_work_order_is_404_with_the_error_envelope(operator, db):
    response = operator.get("/api/v1/work-orders/WO-NOPE")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_work_order"


# --- transitions -----------------------------------------------------------------------------


def test_release_answers_the_released_order_with_its_operations(planned_order, planner):
    response = planner.post(f"/api/v1/work-orders/{ORDER}/release")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "released"
    assert [(op["sequence"], op["status"], op["planned_qty"]) for op in body["operations"]] == [
        (10, "released", 10), (20, "released", 10), (30, "released", 10)
    ]
    assert Event.objects.filter(object_type="work_order", action="release").values_list("actor_label", flat=True).get() == "planner-wang"


def test_release_repeated_answers_200_and_writes_nothing(released_order, planner):
    before = snapshot()

    response = planner.post(f"/api/v1/work-orders/{ORDER}/release", {"reason": "resent by ERP"})

    assert (response.status_code, response.json()["status"]) == (200, "released")
    assert snapshot() == before


@pytest.mark.parametrize(
    ("status", "action", "reached"),
    [
        ("in_progress", "pause", "paused"),
        ("paused", "resume", "in_progress"),
        ("released", "cancel", "cancelled"),
        ("completed", "close", "closed"),
    ],
)
def test_transition_with_a_reason_records_it(planned_order, planner, status, action, reached):
    bring_to(ORDER, status)

    response = planner.post(f"/api/v1/work-orders/{ORDER}/{action}", {"reason": "line 2 down"})

    assert (response.status_code, response.json()["status"]) == (200, reached)
    event = Event.objects.filter(object_type="work_order", action=action).get()
    assert (event.before, event.after, event.reason, event.actor_label) == (
        {"status": status}, {"status": reached}, "line 2 down", "planner-wang"
    )


def test_transition_without_a_body_is_accepted(released_order, planner):
    response = planner.post(f"/api/v1/work-orders/{ORDER}/cancel")

    assert (response.status_code, response.json()["status"]) == (200, "cancelled")


@pytest.mark.parametrize(("status", "action"), [("released", "close"), ("planned", "pause"), ("cancelled", "release"), ("completed", "cancel")])
def test_illegal_transition_is_409_and_changes_nothing(planned_order, planner, status, action):
    bring_to(ORDER, status)
    before = snapshot()

    response = planner.post(f"/api/v1/work-orders/{ORDER}/{action}", {"reason": "try"})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "illegal_transition"
    assert response.json()["error"]["fields"] == {"status": status}
    assert snapshot() == before


def test_release_without_routing_is_422_routing_missing(planner, db):
    WorkOrderFactory(number="WO-2000", item=ItemFactory(code="NO-ROUTING"))
    before = snapshot()

    response = planner.post("/api/v1/work-orders/WO-2000/release")

    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "routing_missing", "message": response.json()["error"]["message"], "fields": {"item": "NO-ROUTING"}
    }
    assert snapshot() == before


def test_transition_of_unknown_order_is_404(planner, db):
    response = planner.post("/api/v1/work-orders/WO-NOPE/release")

    assert (response.status_code, response.json()["error"]["code"]) == (404, "unknown_work_order")


# --- upserts of orders already under way -----------------------------------------------------


def test_upsert_of_a_released_order_may_change_quantity_and_rescales_operations(released_order, erp_client):
    confirm(good_qty=4)

    response = erp_client.put(f"/api/v1/work-orders/{ORDER}", {"item": "FRAME-100", "quantity": 12, "due_date": "2030-02-15"})

    assert response.status_code == 200
    assert (response.json()["quantity"], response.json()["due_date"]) == (12, "2030-02-15")
    assert [op["planned_qty"] for op in response.json()["operations"]] == [12, 12, 12]
    assert list(released_order.components.order_by("position").values_list("required_qty", flat=True)) == [D("30"), D("48")]


def test_upsert_may_not_drop_quantity_below_what_was_confirmed(released_order, erp_client):
    confirm(good_qty=6)
    before = snapshot()

    response = erp_client.put(f"/api/v1/work-orders/{ORDER}", {"item": "FRAME-100", "quantity": 5, "due_date": "2030-01-31"})

    assert (response.status_code, response.json()["error"]["code"]) == (422, "quantity_below_confirmed")
    assert snapshot() == before


def test_upsert_may_not_change_the_item_of_a_released_order(released_order, erp_client):
    ItemFactory(code="FRAME-200")
    before = snapshot()

    response = erp_client.put(f"/api/v1/work-orders/{ORDER}", {"item": "FRAME-200", "quantity": 10, "due_date": "2030-01-31"})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "work_order_item_locked"
    assert response.json()["error"]["fields"] == {"item": "locked after release"}
    assert snapshot() == before


def test_upsert_of_a_finished_order_is_refused_unless_unchanged(planned_order, erp_client):
    bring_to(ORDER, "completed")
    same = {"item": "FRAME-100", "quantity": 10, "due_date": "2030-01-31"}
    before = snapshot()

    unchanged = erp_client.put(f"/api/v1/work-orders/{ORDER}", same)
    changed = erp_client.put(f"/api/v1/work-orders/{ORDER}", {**same, "due_date": "2030-02-01"})

    assert unchanged.status_code == 200
    assert (changed.status_code, changed.json()["error"]["code"]) == (409, "work_order_finished")
    assert snapshot() == before
    assert WorkOrder.objects.get(number=ORDER).status == "completed"
