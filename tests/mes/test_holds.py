"""Quality holds: on an order or an operation (no reports on any path: tests/mes/test_confirmation_paths.py;
no release, no close), on a lot or a serial (no issue, its status restored on release); audited;
refusals leave nothing behind."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from common.errors import DomainError
from mes.models import Event, Hold, Item, Lot, WorkOrder, WorkOrderOperation
from mes.services.holds import HoldRequest, hold_place, hold_release
from mes.services.master_data import lot_upsert
from mes.services.work_orders import work_order_transition
from tests.conftest import ORDER
from tests.helpers import bring_to, confirm, snapshot

URL = "/api/v1/holds"


def flags() -> tuple[bool, list[bool]]:
    order = WorkOrder.objects.get(number=ORDER)
    return order.on_quality_hold, list(order.operations.order_by("sequence").values_list("on_quality_hold", flat=True))


def test_a_hold_on_an_order_stops_its_reports_and_its_release_until_released_and_is_audited(planned_order, quality):
    placed = quality.post(URL, {"work_order": ORDER, "reason": "suspect weld wire batch"})
    before = snapshot()
    with pytest.raises(DomainError) as refused_release:
        work_order_transition(number=ORDER, action="release")
    after_refusal = snapshot()
    released = quality.post(f"{URL}/{placed.json()['id']}/release", {"reason": "wire batch tested good"})
    work_order_transition(number=ORDER, action="release")
    confirm(good_qty=1)

    assert placed.status_code == 201
    body = placed.json()
    assert (body["state"], body["target"], body["reason"], body["placed_by"]) == (
        "active", {"kind": "work_order", "work_order": ORDER}, "suspect weld wire batch", "inspector-liu",
    )
    assert (refused_release.value.code, refused_release.value.kind) == ("quality_hold", 409)
    assert after_refusal == before
    assert released.status_code == 200
    assert (released.json()["state"], released.json()["released_by"], released.json()["release_reason"]) == ("released", "inspector-liu", "wire batch tested good")
    assert flags() == (False, [False, False, False])
    events = list(Event.objects.filter(object_type="hold").order_by("pk").values_list("action", "reason", "work_order__number"))
    assert events == [("place", "suspect weld wire batch", ORDER), ("release", "wire batch tested good", ORDER)]


def test_a_held_order_cannot_be_closed(planned_order):
    bring_to(ORDER, "completed")
    hold = hold_place(request=HoldRequest(work_order=ORDER, reason="audit finding"))

    with pytest.raises(DomainError) as refused:
        work_order_transition(number=ORDER, action="close")
    hold_release(hold_id=hold.pk, reason="cleared")
    work_order_transition(number=ORDER, action="close")

    assert refused.value.code == "quality_hold"
    assert WorkOrder.objects.get(number=ORDER).status == "closed"


def test_a_hold_on_an_operation_stops_only_that_operation_and_two_holds_need_two_releases(released_order):
    confirm(good_qty=5)
    first = hold_place(request=HoldRequest(work_order=ORDER, operation=20, reason="fixture worn"))
    second = hold_place(request=HoldRequest(work_order=ORDER, operation=20, reason="and the gauge too"))

    confirm(good_qty=1)  # operation 10 is not held
    with pytest.raises(DomainError) as refused:
        confirm(operation=20, good_qty=1)
    hold_release(hold_id=first.pk, reason="fixture replaced")
    still = flags()
    hold_release(hold_id=second.pk, reason="gauge calibrated")
    confirm(operation=20, good_qty=1)

    assert (refused.value.code, refused.value.fields) == ("quality_hold", {"operation": "20"})
    assert still == (False, [False, True, False])
    assert flags() == (False, [False, False, False])
    assert WorkOrderOperation.objects.get(work_order__number=ORDER, sequence=20).good_qty == 1


@pytest.fixture
def tube_lots(released_order):
    Item.objects.filter(code="TUBE-20").update(tracking=Item.Tracking.LOT)
    lot_upsert(item_code="TUBE-20", lot_code="T-1", quantity=Decimal("100"))
    lot_upsert(item_code="TUBE-20", lot_code="T-BLOCKED", quantity=Decimal("100"), status="blocked")


def issue(client, lot: str = "T-1"):
    return client.post(
        "/api/v1/material-issues",
        {"client_id": str(uuid.uuid4()), "work_order": ORDER, "operation": 10, "item": "TUBE-20", "lot": lot, "quantity": "1"},
    )


def test_a_held_lot_is_not_issued_and_gets_its_status_back_on_release(tube_lots, supervisor, erp_client):
    placed = supervisor.post(URL, {"lot": "T-1", "reason": "supplier recall notice"})
    refused = issue(erp_client)
    supervisor.post(f"{URL}/{placed.json()['id']}/release", {"reason": "recall does not cover this lot"})
    accepted = issue(erp_client)

    assert (placed.status_code, placed.json()["target"]) == (201, {"kind": "lot", "item": "TUBE-20", "code": "T-1"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "lot_on_hold")
    assert accepted.status_code == 201
    assert Lot.objects.get(code="T-1").status == "available"


def test_a_blocked_lot_stays_blocked_through_a_hold_and_its_release(tube_lots):
    hold = hold_place(request=HoldRequest(lot="T-BLOCKED", reason="double check"))
    held = Lot.objects.get(code="T-BLOCKED").status
    hold_release(hold_id=hold.pk, reason="checked")

    assert (held, Lot.objects.get(code="T-BLOCKED").status) == ("blocked", "blocked")


def test_the_erp_re_sending_a_held_lot_does_not_lift_the_hold_its_status_applies_on_release(tube_lots, supervisor, erp_client):
    placed = supervisor.post(URL, {"lot": "T-1", "reason": "supplier recall notice"})
    resent = erp_client.put("/api/v1/lots/TUBE-20/T-1", {"quantity": "120", "status": "available"})
    refused = issue(erp_client)
    blocked_by_erp = erp_client.put("/api/v1/lots/TUBE-20/T-1", {"quantity": "120", "status": "blocked"})
    held = Lot.objects.get(code="T-1")
    supervisor.post(f"{URL}/{placed.json()['id']}/release", {"reason": "recall does not cover this lot"})

    assert resent.status_code == 200 and resent.json()["status"] == "hold"
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "lot_on_hold")
    assert blocked_by_erp.status_code == 200
    # the ERP's block is stricter than the hold and applies at once; the quantity is the ERP's all the same
    assert (held.status, held.received_qty) == ("blocked", Decimal("120"))
    assert Lot.objects.get(code="T-1").status == "blocked"  # what the ERP sent last, once released
    trail = Event.objects.filter(object_type="lot", object_key="TUBE-20/T-1", action="status_after_hold").order_by("pk")
    # "available" again changed nothing the release would do; "blocked" did, and is on record
    assert [(event.before, event.after) for event in trail] == [({"status_after_hold": "available"}, {"status_after_hold": "blocked"})]


def test_a_blocked_lot_under_a_hold_that_the_erp_unblocks_stays_unusable_until_the_hold_is_released(tube_lots, supervisor, erp_client):
    placed = supervisor.post(URL, {"lot": "T-BLOCKED", "reason": "supplier recall notice"})
    unblocked = erp_client.put("/api/v1/lots/TUBE-20/T-BLOCKED", {"quantity": "100", "status": "available"})
    refused = issue(erp_client, lot="T-BLOCKED")
    supervisor.post(f"{URL}/{placed.json()['id']}/release", {"reason": "recall does not cover this lot"})

    assert unblocked.json()["status"] == "hold"
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "lot_on_hold")
    assert Lot.objects.get(code="T-BLOCKED").status == "available"


def test_a_lot_the_erp_itself_holds_takes_the_erps_next_status(tube_lots, erp_client):
    erp_client.put("/api/v1/lots/TUBE-20/T-1", {"quantity": "100", "status": "hold"})
    released = erp_client.put("/api/v1/lots/TUBE-20/T-1", {"quantity": "100", "status": "available"})

    assert released.json()["status"] == "available" and issue(erp_client).status_code == 201


def test_a_serial_is_held_as_its_lot_of_one(released_order):
    Lot.objects.create(item=released_order.item, code="SN-7", kind=Lot.Kind.SERIAL, unit=released_order.item.unit, produced_qty=1)

    hold = hold_place(request=HoldRequest(serial="SN-7", reason="customer complaint"))

    assert Lot.objects.get(code="SN-7").status == "hold"
    assert hold.lot.code == "SN-7"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"reason": "x"}, 422, "hold_target_required"),
        ({"work_order": ORDER, "lot": "T-1", "reason": "x"}, 422, "hold_target_required"),
        ({"lot": "T-1", "operation": 10, "reason": "x"}, 422, "operation_without_work_order"),
        ({"work_order": ORDER, "operation": 99, "reason": "x"}, 422, "unknown_operation"),
        ({"work_order": "WO-NOPE", "reason": "x"}, 404, "unknown_work_order"),
        ({"lot": "T-404", "reason": "x"}, 404, "lot_unknown"),
        ({"work_order": ORDER}, 400, "invalid_request"),
        ({"work_order": ORDER, "reason": "x", "colour": "red"}, 400, "invalid_request"),
    ],
)
def test_a_hold_breaking_a_rule_is_refused_and_nothing_is_recorded(tube_lots, quality, body, status, code):
    before = (snapshot(), Hold.objects.count(), Event.objects.count(), list(Lot.objects.values_list("code", "status")))

    response = quality.post(URL, body)

    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert (snapshot(), Hold.objects.count(), Event.objects.count(), list(Lot.objects.values_list("code", "status"))) == before


def test_a_closed_order_cannot_be_held_and_a_hold_is_released_once(planned_order, quality):
    hold = hold_place(request=HoldRequest(work_order=ORDER, reason="x"))
    quality.post(f"{URL}/{hold.pk}/release", {"reason": "ok"})

    again = quality.post(f"{URL}/{hold.pk}/release", {"reason": "ok"})
    unknown = quality.post(f"{URL}/999999/release", {"reason": "ok"})
    no_reason = quality.post(f"{URL}/{hold.pk}/release", {})
    bring_to(ORDER, "closed")
    closed = quality.post(URL, {"work_order": ORDER, "reason": "x"})

    assert (again.status_code, again.json()["error"]["code"]) == (409, "hold_not_active")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "unknown_hold")
    assert no_reason.status_code == 400
    assert (closed.status_code, closed.json()["error"]["code"]) == (409, "work_order_not_holdable")
    assert list(Event.objects.filter(object_type="hold").values_list("action", flat=True).order_by("pk")) == ["place", "release"]
    assert Hold.objects.count() == 1


def test_the_list_answers_holds_newest_first_by_state_and_order(released_order, planner):
    first = hold_place(request=HoldRequest(work_order=ORDER, reason="one"))
    second = hold_place(request=HoldRequest(work_order=ORDER, operation=10, reason="two"))
    hold_release(hold_id=first.pk, reason="done")

    everything = planner.get(URL).json()["results"]
    active = planner.get(URL, {"state": "active"}).json()["results"]
    other_order = planner.get(URL, {"work_order": "WO-OTHER"}).json()["results"]

    assert [hold["id"] for hold in everything] == [second.pk, first.pk]
    assert [hold["id"] for hold in active] == [second.pk]
    assert active[0]["target"] == {"kind": "operation", "work_order": ORDER, "operation": 10}
    assert other_order == []


def test_machine_counts_on_a_held_operation_are_kept_for_a_supervisor_not_lost(released_order):
    import datetime

    from mes.services.master_data import equipment_upsert
    from shopfloor.models import UnassignedProduction
    from shopfloor.production import reading_record, window_confirm, window_start_for
    from shopfloor.services import operation_start_on_equipment

    press = equipment_upsert(code="PRESS-1", name="Press 1", work_center="WC-CUT").obj
    operation_start_on_equipment(number=ORDER, sequence=10, equipment_code="PRESS-1")
    hold_place(request=HoldRequest(work_order=ORDER, operation=10, reason="die cracked"))
    start = window_start_for(datetime.datetime.now(datetime.UTC), 1.0) + datetime.timedelta(seconds=5)

    reading_record(equipment_id=press.pk, values={"good_count": 0}, read_at=start, window_seconds=1)
    reading_record(equipment_id=press.pk, values={"good_count": 3}, read_at=start + datetime.timedelta(milliseconds=100), window_seconds=1)
    window_confirm(equipment_id=press.pk, now=start + datetime.timedelta(seconds=1), window_seconds=1)

    (kept,) = UnassignedProduction.objects.all()
    assert (kept.good, kept.reason) == (3, "quality_hold")
    assert WorkOrderOperation.objects.get(work_order__number=ORDER, sequence=10).good_qty == 0
