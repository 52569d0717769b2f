"""Nonconformances (NCR): opened by a failing result or by hand, dispositioned (scrap through the
confirmation service and the outbox, use as is with its approver, return to supplier blocking the
lot and queueing an ERP message), closed; every step audited, every refusal leaving nothing behind."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from common.errors import DomainError
from erp_sync.models import OutboxMessage
from mes.models import (
    Confirmation,
    Event,
    InspectionResult,
    Item,
    Lot,
    Nonconformance,
    NonconformanceDisposition,
    ReasonCode,
    WorkOrderOperation,
)
from mes.services.dispositions import DispositionRequest, nonconformance_disposition
from mes.services.master_data import lot_upsert
from mes.services.nonconformances import NonconformanceRequest, nonconformance_open
from mes.services.quality import InspectionRequest, inspection_plan_set, inspection_record
from mes.services.work_orders import work_order_transition
from tests.conftest import ITEM, ORDER
from tests.factories import ReasonCodeFactory
from tests.helpers import confirm, snapshot

URL = "/api/v1/nonconformances"
D = Decimal


@pytest.fixture
def made(planned_order):
    """WO-1001 (10 pieces) released with a visual check on operation 10 (not gating), 10 good reported
    there, and the defect codes DEF-CRACK and DEF-DENT."""
    characteristic = {"code": "LOOK", "name": "Visual", "kind": "attribute", "sampling": {"rule": "every_n", "n": 100}, "mandatory": False}
    inspection_plan_set(item_code=ITEM, sequence=10, characteristics=[characteristic])
    work_order_transition(number=ORDER, action="release")
    confirm(good_qty=10, final=True)
    ReasonCodeFactory(code="DEF-CRACK", kind=ReasonCode.Kind.DEFECT, name="Crack")
    ReasonCodeFactory(code="DEF-DENT", kind=ReasonCode.Kind.DEFECT, name="Dent")


def failing_result(**fields) -> InspectionResult:
    request = InspectionRequest(client_id=uuid.uuid4(), work_order=ORDER, operation=10, characteristic="LOOK", passed=False, **fields)
    return inspection_record(request=request).result


def operation(sequence: int = 10) -> WorkOrderOperation:
    return WorkOrderOperation.objects.get(work_order__number=ORDER, sequence=sequence)


def everything() -> tuple:
    """What a refusal must leave as it was."""
    return (
        snapshot(), Nonconformance.objects.count(), NonconformanceDisposition.objects.count(),
        list(Nonconformance.objects.order_by("pk").values_list("state", "dispositioned_qty", "defect_code_id")),
        list(WorkOrderOperation.objects.order_by("pk").values_list("held_qty", "rejected_qty")),
        list(Lot.objects.order_by("pk").values_list("code", "status")),
        list(InspectionResult.objects.order_by("pk").values_list("disposition", flat=True)),
    )


def test_a_failing_result_opens_an_ncr_holding_its_piece(made, planner):
    result = failing_result(serial="", lot="")

    (nonconformance,) = Nonconformance.objects.all()
    listed = planner.get(URL, {"state": "open"}).json()["results"]
    detail = planner.get(f"{URL}/{nonconformance.pk}").json()

    assert (nonconformance.source, nonconformance.quantity, nonconformance.inspection_result_id) == ("inspection", 1, result.pk)
    assert operation().held_qty == 1
    assert [row["id"] for row in listed] == [nonconformance.pk]
    assert (detail["state"], detail["work_order"], detail["operation"], detail["quantity"], detail["defect_code"]) == ("open", ORDER, 10, "1", None)
    assert detail["inspection_result"]["characteristic"] == "LOOK" and detail["dispositions"] == []
    assert Event.objects.filter(object_type="nonconformance", object_key=str(nonconformance.pk), action="open").count() == 1
    assert planner.get(f"{URL}/999999").status_code == 404


def test_an_ncr_opened_by_hand_holds_its_quantity_and_is_audited(made, operator):
    response = operator.post(URL, {"work_order": ORDER, "operation": 10, "quantity": "2", "defect_code": "DEF-CRACK", "description": "crack at the joint"})

    assert response.status_code == 201
    body = response.json()
    assert (body["state"], body["source"], body["quantity"], body["open_qty"], body["defect_code"], body["description"]) == (
        "open", "manual", "2", "2", "DEF-CRACK", "crack at the joint",
    )
    assert operation().held_qty == 2
    with pytest.raises(DomainError) as refused:  # later operations cannot take the held pieces
        confirm(operation=20, good_qty=9)
    assert refused.value.code == "quality_hold"
    (event,) = Event.objects.filter(object_type="nonconformance", action="open")
    assert event.after["defect_code"] == "DEF-CRACK" and event.after["quantity"] == "2"


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"defect_code": "DEF-NOPE"}, 422, "unknown_defect_code"),
        ({"defect_code": "SCRAP-01"}, 422, "defect_code_wrong_kind"),
        ({"quantity": "11"}, 422, "quantity_exceeds_good"),
        ({"operation": 20}, 422, "quantity_exceeds_good"),  # nothing reported good there
        ({"operation": 99}, 422, "unknown_operation"),
        ({"work_order": "WO-NOPE"}, 404, "unknown_work_order"),
        ({"quantity": "0"}, 400, "invalid_request"),
        ({"colour": "red"}, 400, "invalid_request"),
    ],
)
def test_an_ncr_breaking_a_rule_is_refused_and_nothing_is_recorded(made, quality, fields, status, code):
    before = everything()

    response = quality.post(URL, {"work_order": ORDER, "operation": 10, "quantity": "1", "defect_code": "DEF-CRACK", **fields})

    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert everything() == before


def test_scrap_books_a_scrap_confirmation_with_the_defect_code_for_the_erp(made, quality):
    failing_result()
    (nonconformance,) = Nonconformance.objects.all()
    messages = OutboxMessage.objects.count()

    response = quality.post(f"{URL}/{nonconformance.pk}/disposition", {"disposition": "scrap", "reason": "crack cannot be repaired", "defect_code": "DEF-CRACK"})

    assert response.status_code == 200
    body = response.json()
    assert (body["state"], body["open_qty"], body["defect_code"]) == ("dispositioned", "0", "DEF-CRACK")
    (decision,) = body["dispositions"]
    assert (decision["disposition"], decision["quantity"], decision["decided_by"]) == ("scrap", "1", "inspector-liu")
    scrap = Confirmation.objects.get(uuid=decision["confirmation"])
    assert (scrap.scrap_qty, scrap.good_qty, scrap.reason_code.code, scrap.operation.sequence) == (1, 0, "DEF-CRACK", 10)
    message, decided = OutboxMessage.objects.order_by("pk")[messages:]  # the scrap, then the decision, in the order's sequence
    assert (message.kind, message.payload["scrap_qty"], message.payload["reason_code"], message.payload["reason_kind"]) == (
        "confirmation", "1.000", "DEF-CRACK", "defect",
    )
    assert (decided.kind, decided.sequence, decided.payload["disposition"], decided.payload["confirmation_id"]) == (
        "nonconformance_disposition", message.sequence + 1, "scrap", str(scrap.uuid),
    )
    after = operation()
    assert (after.held_qty, after.rejected_qty, after.scrap_qty, after.good_qty, after.confirmed_qty) == (0, 1, 1, 10, 10)
    assert InspectionResult.objects.get().disposition == "scrap"
    # The scrapped piece goes no further: operation 20 takes the 9 others and no more.
    with pytest.raises(DomainError) as refused:
        confirm(operation=20, good_qty=10)
    confirm(operation=20, good_qty=9)
    assert refused.value.code == "quantity_exceeds_available"
    (event,) = Event.objects.filter(object_type="nonconformance", action="disposition")
    assert (event.after["disposition"], event.after["confirmation"], event.reason) == ("scrap", decision["confirmation"], "crack cannot be repaired")


def test_scrap_without_a_defect_code_is_refused_and_nothing_is_recorded(made, quality):
    failing_result()
    nonconformance = Nonconformance.objects.get()
    before = everything()

    response = quality.post(f"{URL}/{nonconformance.pk}/disposition", {"disposition": "scrap", "reason": "scrap it"})

    assert (response.status_code, response.json()["error"]["code"]) == (422, "defect_code_required")
    assert everything() == before


def test_use_as_is_is_a_concession_with_its_approver_and_frees_the_piece(made, quality):
    nonconformance = nonconformance_open(request=NonconformanceRequest(ORDER, 10, D(2), "DEF-DENT"))

    response = quality.post(f"{URL}/{nonconformance.pk}/disposition", {"disposition": "use_as_is", "reason": "dent is cosmetic, customer agreed"})
    confirm(operation=20, good_qty=10)

    assert response.status_code == 200
    (decision,) = response.json()["dispositions"]
    assert (decision["disposition"], decision["decided_by"], decision["confirmation"]) == ("use_as_is", "inspector-liu", None)
    assert (operation().held_qty, operation().rejected_qty) == (0, 0)
    assert Event.objects.get(object_type="nonconformance", action="disposition").after["approved_by"] == "inspector-liu"


def test_a_part_disposition_leaves_the_ncr_open_until_the_rest_is_decided_then_it_closes(made, quality):
    nonconformance = nonconformance_open(request=NonconformanceRequest(ORDER, 10, D(3), "DEF-DENT"))
    url = f"{URL}/{nonconformance.pk}"

    part = quality.post(f"{url}/disposition", {"disposition": "use_as_is", "quantity": "1", "reason": "within the customer's limit"})
    too_early = quality.post(f"{url}/close", {})
    too_much = quality.post(f"{url}/disposition", {"disposition": "scrap", "quantity": "3", "reason": "x"})
    rest = quality.post(f"{url}/disposition", {"disposition": "scrap", "reason": "dent too deep"})
    again = quality.post(f"{url}/disposition", {"disposition": "scrap", "reason": "x"})
    closed = quality.post(f"{url}/close", {"reason": "reviewed"})

    assert (part.json()["state"], part.json()["open_qty"]) == ("open", "2")
    assert (too_early.status_code, too_early.json()["error"]["code"]) == (409, "nonconformance_not_dispositioned")
    assert (too_much.status_code, too_much.json()["error"]["code"]) == (422, "quantity_exceeds_open")
    assert (rest.json()["state"], [row["quantity"] for row in rest.json()["dispositions"]]) == ("dispositioned", ["1", "2"])
    assert (again.status_code, again.json()["error"]["code"]) == (409, "nonconformance_not_open")
    assert (closed.status_code, closed.json()["state"], closed.json()["closed_by"]) == (200, "closed", "inspector-liu")
    assert (operation().held_qty, operation().rejected_qty, operation().scrap_qty) == (0, 2, 2)
    actions = list(Event.objects.filter(object_type="nonconformance").order_by("pk").values_list("action", flat=True))
    assert actions == ["open", "disposition", "disposition", "close"]


def test_return_to_supplier_blocks_the_lot_and_queues_an_erp_message(made, quality):
    Item.objects.filter(code="TUBE-20").update(tracking=Item.Tracking.LOT)
    lot_upsert(item_code="TUBE-20", lot_code="T-7", quantity=D("100"), supplier_lot="SUP-99")
    nonconformance = nonconformance_open(request=NonconformanceRequest(ORDER, 10, D(1), "DEF-CRACK", lot="T-7"))

    response = quality.post(f"{URL}/{nonconformance.pk}/disposition", {"disposition": "return_to_supplier", "reason": "tube wall too thin"})

    assert response.status_code == 200
    assert Lot.objects.get(code="T-7").status == "blocked"
    message = OutboxMessage.objects.get(kind="return_to_supplier")
    assert message.partition_key == "return_to_supplier:TUBE-20/T-7"
    assert {key: message.payload[key] for key in ("work_order", "item", "lot", "supplier_lot", "quantity", "defect_code", "reason")} == {
        "work_order": ORDER, "item": "TUBE-20", "lot": "T-7", "supplier_lot": "SUP-99", "quantity": "1.000",
        "defect_code": "DEF-CRACK", "reason": "tube wall too thin",
    }
    assert str(message.idempotency_key) == response.json()["dispositions"][0]["id"]
    assert (operation().held_qty, operation().rejected_qty) == (0, 1)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"disposition": "return_to_supplier", "reason": "x"}, 422, "lot_required"),
        ({"disposition": "scrap", "reason": "x", "defect_code": "SCRAP-01"}, 422, "defect_code_wrong_kind"),
        ({"disposition": "burn", "reason": "x"}, 400, "invalid_request"),
        ({"disposition": "scrap"}, 400, "invalid_request"),
        ({"disposition": "scrap", "reason": "x", "quantity": "0"}, 400, "invalid_request"),
    ],
)
def test_a_disposition_breaking_a_rule_is_refused_and_nothing_is_recorded(made, quality, body, status, code):
    failing_result()
    nonconformance = Nonconformance.objects.get()
    before = everything()

    response = quality.post(f"{URL}/{nonconformance.pk}/disposition", body)

    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert everything() == before


def test_who_may_open_decide_and_close(made, operator, supervisor, planner, quality):
    nonconformance = nonconformance_open(request=NonconformanceRequest(ORDER, 10, D(1), "DEF-DENT"))
    body = {"disposition": "use_as_is", "reason": "ok"}

    assert planner.post(URL, {"work_order": ORDER, "operation": 10, "quantity": "1", "defect_code": "DEF-DENT"}).status_code == 403
    assert operator.post(f"{URL}/{nonconformance.pk}/disposition", body).status_code == 403
    assert supervisor.post(f"{URL}/{nonconformance.pk}/disposition", body).status_code == 403
    assert quality.post(f"{URL}/{nonconformance.pk}/disposition", body).status_code == 200
    assert operator.post(f"{URL}/{nonconformance.pk}/close", {}).status_code == 403


def test_a_disposition_of_a_held_order_still_books_its_scrap(made):
    from mes.services.holds import HoldRequest, hold_place

    nonconformance = nonconformance_open(request=NonconformanceRequest(ORDER, 10, D(1), "DEF-CRACK"))
    hold_place(request=HoldRequest(work_order=ORDER, reason="containment"))

    decision = nonconformance_disposition(nonconformance_id=nonconformance.pk, request=DispositionRequest(disposition="scrap", reason="cracked"))

    assert decision.confirmation.scrap_qty == 1


def test_rework_books_a_rework_confirmation_and_holds_the_piece_until_it_passes_again(made, quality):
    failing_result()
    nonconformance = Nonconformance.objects.get()

    response = quality.post(f"{URL}/{nonconformance.pk}/disposition", {"disposition": "rework", "reason": "grind the burr off", "defect_code": "DEF-DENT"})
    held = operation().held_qty
    with pytest.raises(DomainError) as refused:
        confirm(operation=20, good_qty=10)
    again = inspection_record(request=InspectionRequest(client_id=uuid.uuid4(), work_order=ORDER, operation=10, characteristic="LOOK", passed=True)).result
    confirm(operation=20, good_qty=10)

    assert response.status_code == 200
    (decision,) = response.json()["dispositions"]
    rework = Confirmation.objects.get(uuid=decision["confirmation"])
    assert (rework.rework_qty, rework.scrap_qty, rework.reason_code.code) == (1, 0, "DEF-DENT")
    assert OutboxMessage.objects.filter(source_uuid=rework.uuid, kind="confirmation").count() == 1
    assert (held, refused.value.code) == (1, "quality_hold")
    assert NonconformanceDisposition.objects.get().reinspection_id == again.pk
    assert (operation().held_qty, operation().rejected_qty) == (0, 0)
    detail = quality.get(f"{URL}/{nonconformance.pk}").json()
    assert detail["dispositions"][0]["reinspection"] == {"id": str(again.uuid), "passed": True}
    event = Event.objects.get(object_type="nonconformance", action="reinspect")
    assert (event.after["passed"], event.after["released_qty"]) == (True, "1")


def test_a_failing_reinspection_releases_the_rework_and_holds_the_piece_under_a_new_ncr(made, quality):
    failing_result()
    first = Nonconformance.objects.get()
    nonconformance_disposition(nonconformance_id=first.pk, request=DispositionRequest(disposition="rework", reason="rework", defect_code="DEF-DENT"))

    failing_result()

    second = Nonconformance.objects.exclude(pk=first.pk).get()
    assert NonconformanceDisposition.objects.get().reinspection.nonconformance == second
    assert (second.state, operation().held_qty) == ("open", 1)


def test_rework_needs_a_characteristic_to_judge_the_piece_again(made, quality):
    confirm(operation=20, good_qty=5)
    nonconformance = nonconformance_open(request=NonconformanceRequest(ORDER, 20, D(1), "DEF-DENT"))
    before = everything()

    response = quality.post(f"{URL}/{nonconformance.pk}/disposition", {"disposition": "rework", "reason": "x"})

    assert (response.status_code, response.json()["error"]["code"]) == (422, "reinspection_impossible")
    assert everything() == before


def test_a_scrapped_piece_counts_once_so_the_operation_can_still_make_the_order(made, quality):
    """Operation 20 reported 5 good, one is scrapped: it has done 5 pieces, and may do 5 more."""
    confirm(operation=20, good_qty=5)
    nonconformance = nonconformance_open(request=NonconformanceRequest(ORDER, 20, D(1), "DEF-CRACK"))

    nonconformance_disposition(nonconformance_id=nonconformance.pk, request=DispositionRequest(disposition="scrap", reason="cracked"))
    confirm(operation=20, good_qty=5)

    after = operation(20)
    assert (after.good_qty, after.scrap_qty, after.disposed_qty, after.confirmed_qty) == (10, 1, 1, 10)
    with pytest.raises(DomainError) as refused:
        confirm(operation=30, good_qty=10)  # one of operation 20's ten good was scrapped
    assert refused.value.code == "quantity_exceeds_available"


def test_the_confirmation_a_disposition_booked_is_not_reversed_on_its_own(made, planner):
    nonconformance = nonconformance_open(request=NonconformanceRequest(ORDER, 10, D(1), "DEF-CRACK"))
    decision = nonconformance_disposition(nonconformance_id=nonconformance.pk, request=DispositionRequest(disposition="scrap", reason="cracked"))
    before = everything()

    response = planner.post(f"/api/v1/confirmations/{decision.confirmation.uuid}/reverse", {"reason": "mistake"})

    assert (response.status_code, response.json()["error"]["code"]) == (409, "booked_by_disposition")
    assert everything() == before
