"""Backflush and output inside confirmations: what a report of operation N consumes of its
backflush components, where from, what the last operation receives into a lot or serials, what
the ERP hears and in which order, what a reversal gives back, and that every refusal leaves
nothing behind: through the single service, the bulk service, the API and the station alike."""

from __future__ import annotations

import datetime
import json
import re
import uuid
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from common.errors import DomainError
from erp_sync.models import OutboxMessage
from mes.models import BomLine, Item, Lot, MaterialMovement, WorkOrder, WorkOrderComponent
from mes.services import confirmation_rows
from mes.services.confirmation_materials import LotUse, output_lot_code
from mes.services.confirmations import confirmation_reverse, operation_confirm, operation_confirm_many
from mes.services.material_issues import MaterialIssueRequest, material_issue, material_issue_reverse
from mes.services.materials import goods_document_id
from mes.services.work_orders import work_order_transition
from tests.conftest import ORDER
from tests.helpers import confirm, confirmation_request, snapshot

D = Decimal
URL = "/api/v1/confirmations"


# --- the plant: FRAME-100 (10 pieces) backflushes tube (by lot) and bolts (untracked) at operation 10 ---


@pytest.fixture
def materials(plant):
    """Tube (lot-tracked, 2.5 m a frame) and bolts (untracked, 4 a frame) backflushed by operation 10;
    the frame itself tracked by lot. Lots T-OLD and T-NEW hold 100 m each."""
    item = plant["item"]
    Item.objects.filter(pk=item.pk).update(tracking=Item.Tracking.LOT)
    Item.objects.filter(pk=plant["tube"].pk).update(tracking=Item.Tracking.LOT)
    BomLine.objects.filter(bom__item=item).update(backflush=True, operation=10)
    lots = {code: Lot.objects.create(item=plant["tube"], code=code, unit=plant["tube"].unit, received_qty=D(100)) for code in ("T-OLD", "T-NEW")}
    return {**plant, "lots": lots}


@pytest.fixture
def order(materials, planned_order):
    work_order_transition(number=ORDER, action="release")
    return WorkOrder.objects.get(number=ORDER)


def lot(code: str, item: str = "TUBE-20") -> Lot:
    return Lot.objects.get(item__code=item, code=code)


def issued(item: str) -> Decimal:
    return WorkOrderComponent.objects.get(work_order__number=ORDER, item__code=item).issued_qty


def counts() -> dict:
    return {
        **snapshot(),
        "lots": sorted(Lot.objects.values_list("code", "received_qty", "produced_qty", "issued_qty")),
        "movements": MaterialMovement.objects.count(),
        "components": sorted(WorkOrderComponent.objects.values_list("item__code", "issued_qty")),
    }


def messages() -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(partition_key=ORDER).order_by("sequence"))


def scan(order: WorkOrder, lot_code: str, quantity: str, item: str = "TUBE-20") -> MaterialMovement:
    """An issue by scan to operation 10, through the material-issue service."""
    result = material_issue(
        request=MaterialIssueRequest(
            client_id=uuid.uuid4(), work_order=order.number, operation=10, item=item, lot=lot_code, quantity=D(quantity),
        )
    )
    assert result.movement.state == MaterialMovement.State.POSTED
    return result.movement


def pass_on(quantity: int = 10) -> None:
    """Operations 10 and 20 report ``quantity`` good, so the last one can report."""
    confirm(ORDER, 10, good_qty=quantity, lots=(LotUse("TUBE-20", "T-OLD"),))
    confirm(ORDER, 20, good_qty=quantity)


# --- backflush -----------------------------------------------------------------------------------


def test_a_report_backflushes_its_operations_components_in_proportion_to_good_and_scrap(order):
    result = confirm(ORDER, 10, good_qty=3, scrap_qty=1, reason_code="SCRAP-01", lots=(LotUse("TUBE-20", "T-OLD"),))

    movements = list(MaterialMovement.objects.order_by("pk"))
    assert [(m.item.code, m.lot.code if m.lot else None, m.quantity, m.source, m.kind, m.confirmation_id) for m in movements] == [
        ("TUBE-20", "T-OLD", D("10.000"), "backflush", "issue", result.confirmation.pk),  # 25 m / 10 × 4
        ("BOLT-M8", None, D("16.000"), "backflush", "issue", result.confirmation.pk),  # untracked: no lot
    ]
    assert (lot("T-OLD").issued_qty, lot("T-OLD").quantity_on_hand, lot("T-NEW").issued_qty) == (D(10), D(90), D(0))
    assert (issued("TUBE-20"), issued("BOLT-M8")) == (D(10), D(16))


def test_rework_consumes_nothing_and_quantities_are_kept_to_a_thousandth(order):
    confirm(ORDER, 10, good_qty="0.333", rework_qty=1, reason_code="REWORK-01", lots=(LotUse("TUBE-20", "T-OLD"),))

    assert sorted(MaterialMovement.objects.values_list("item__code", "quantity")) == [("BOLT-M8", D("1.332")), ("TUBE-20", D("0.833"))]


def test_named_lots_give_their_quantities_and_the_unquantified_ones_share_the_rest_in_order(order):
    Lot.objects.filter(code="T-OLD").update(received_qty=D(4))

    confirm(ORDER, 10, good_qty=4, lots=(LotUse("TUBE-20", "T-NEW", D("1.5")), LotUse("TUBE-20", "T-OLD"), LotUse("TUBE-20", "T-NEW")))

    # 10 m in all: 1.5 as named from T-NEW, then T-OLD up to its 4, the last named lot the rest.
    assert list(MaterialMovement.objects.filter(item__code="TUBE-20").order_by("pk").values_list("lot__code", "quantity")) == [
        ("T-NEW", D("1.5")), ("T-OLD", D(4)), ("T-NEW", D("4.5"))
    ]
    assert (lot("T-OLD").quantity_on_hand, lot("T-NEW").quantity_on_hand) == (D(0), D(94))


def test_without_named_lots_the_lots_scanned_to_the_order_are_drawn_oldest_first(order):
    Lot.objects.filter(code="T-OLD").update(received_qty=D(12))
    Lot.objects.create(item=lot("T-OLD").item, code="T-GONE", unit=lot("T-OLD").unit, received_qty=D(50))
    scan(order, "T-OLD", "2")  # the oldest scan: 10 left on the lot
    gone = scan(order, "T-GONE", "5")
    material_issue_reverse(movement_id=gone.uuid, reason="taken back: no longer at the line")
    scan(order, "T-NEW", "1")

    confirm(ORDER, 10, good_qty=6)  # 15 m: the 3 m scanned first, then 12 m from the scanned lots' stock, oldest first

    backflushed = MaterialMovement.objects.filter(source="backflush", item__code="TUBE-20").order_by("pk")
    assert list(backflushed.values_list("kind", "lot__code", "quantity")) == [
        ("consume", "T-OLD", D(2)), ("consume", "T-NEW", D(1)), ("issue", "T-OLD", D(10)), ("issue", "T-NEW", D(2)),
    ]
    assert (lot("T-OLD").quantity_on_hand, lot("T-NEW").quantity_on_hand, lot("T-GONE").quantity_on_hand) == (D(0), D(97), D(50))
    assert issued("TUBE-20") == D(15)  # 3 by scan, 12 by the report: each metre counted once


# --- material scanned to the order is on the line: reports use it before they draw on stock --------


def consumptions(result) -> list[tuple]:
    return [(m.kind, m.item.code, m.lot.code if m.lot else None, m.quantity) for m in MaterialMovement.objects.filter(confirmation=result.confirmation).order_by("pk")]


def test_material_scanned_to_the_order_is_used_first_and_reaches_the_erp_once(order, supervisor):
    scan(order, "T-OLD", "20")
    body = {"client_id": str(uuid.uuid4()), "work_order": ORDER, "operation": 10, "good_qty": "6"}  # 15 m, 24 bolts

    answer = supervisor.post(URL, body, format="json")

    assert answer.status_code == 201
    assert [(c["item"], c["lot"], c["quantity"], c["issued_by_scan"]) for c in answer.json()["consumptions"]] == [
        ("TUBE-20", "T-OLD", 15, True), ("BOLT-M8", None, 24, False),
    ]
    assert (lot("T-OLD").quantity_on_hand, issued("TUBE-20")) == (D(80), D(20))  # the scan took the 20 m; the report nothing more
    scan_message, own, goods_issue = messages()
    assert [m["quantity"] for m in scan_message.payload["movements"]] == ["20.000"]
    assert [m["item"] for m in own.payload["goods_movements"]] == ["BOLT-M8"]  # the ERP hears the tube once, from the scan
    assert [m["item"] for m in goods_issue.payload["movements"]] == ["BOLT-M8"]

    second = confirm(ORDER, 10, good_qty=4)  # 10 m: the 5 m left on the line, then 5 m from the scanned lot's stock

    assert consumptions(second) == [("consume", "TUBE-20", "T-OLD", D(5)), ("issue", "TUBE-20", "T-OLD", D(5)), ("issue", "BOLT-M8", None, D(16))]
    assert (lot("T-OLD").quantity_on_hand, issued("TUBE-20")) == (D(75), D(25))
    assert [m["quantity"] for m in messages()[-1].payload["movements"] if m["item"] == "TUBE-20"] == ["5.000"]


def test_a_named_lot_gives_what_was_scanned_of_it_first_and_untracked_material_too(order):
    scan(order, "T-NEW", "5")
    scan(order, "", "8", item="BOLT-M8")

    result = confirm(ORDER, 10, good_qty=4, lots=(LotUse("TUBE-20", "T-NEW"),))  # 10 m, 16 bolts

    assert consumptions(result) == [
        ("consume", "TUBE-20", "T-NEW", D(5)), ("issue", "TUBE-20", "T-NEW", D(5)),
        ("consume", "BOLT-M8", None, D(8)), ("issue", "BOLT-M8", None, D(8)),
    ]
    assert (lot("T-NEW").quantity_on_hand, issued("TUBE-20"), issued("BOLT-M8")) == (D(90), D(10), D(16))


def test_a_batch_shares_what_was_scanned_between_its_reports(order):
    scan(order, "T-OLD", "10")

    first, second = operation_confirm_many(requests=[confirmation_request(ORDER, 10, good_qty=3), confirmation_request(ORDER, 10, good_qty=3)])

    assert consumptions(first)[0] == ("consume", "TUBE-20", "T-OLD", D("7.5"))
    assert consumptions(second)[:2] == [("consume", "TUBE-20", "T-OLD", D("2.5")), ("issue", "TUBE-20", "T-OLD", D(5))]
    assert (lot("T-OLD").quantity_on_hand, issued("TUBE-20")) == (D(85), D(15))


def test_a_scan_that_reports_used_is_given_back_only_once_they_are_reversed(order):
    scanned = scan(order, "T-OLD", "10")
    report = confirm(ORDER, 10, good_qty=2)  # uses 5 m of it
    before = counts()

    with pytest.raises(DomainError) as refused:
        material_issue_reverse(movement_id=scanned.uuid, reason="not needed")

    assert (refused.value.code, int(refused.value.kind), refused.value.fields["left"]) == ("issue_consumed", 409, "5")
    assert counts() == before

    reversal = confirmation_reverse(confirmation_id=report.confirmation.uuid, reason="wrong order")
    assert [(m.kind, m.quantity) for m in MaterialMovement.objects.filter(confirmation=reversal.confirmation, item__code="TUBE-20")] == [("consume", D(-5))]
    assert [m.kind for m in messages() if m.source_uuid == reversal.confirmation.uuid] == ["reversal", "goods_issue_reversal"]  # the bolts only
    material_issue_reverse(movement_id=scanned.uuid, reason="not needed")
    assert (lot("T-OLD").quantity_on_hand, issued("TUBE-20")) == (D(100), D(0))


def _refused(request_fields: dict, code: str, *, operation: int = 10) -> None:
    """Refused alike by the single and the bulk service, and nothing written either way."""
    before = counts()
    with pytest.raises(DomainError) as single:
        operation_confirm(request=confirmation_request(ORDER, operation, **request_fields))
    (bulk,) = operation_confirm_many(requests=[confirmation_request(ORDER, operation, **request_fields)])
    assert single.value.code == code
    assert isinstance(bulk, DomainError) and bulk.as_dict() == single.value.as_dict()
    assert counts() == before


def test_a_lot_tracked_component_with_nothing_to_take_from_is_refused(order):
    _refused({"good_qty": 1}, "lot_required")


@pytest.mark.parametrize(
    ("change", "lots", "code"),
    [
        ({}, (LotUse("TUBE-20", "T-NOPE"),), "lot_unknown"),
        ({"status": "hold"}, (LotUse("TUBE-20", "T-OLD"),), "lot_on_hold"),
        ({"status": "blocked"}, (LotUse("TUBE-20", "T-OLD"),), "lot_on_hold"),
        ({"expires_on": datetime.date(2000, 1, 1)}, (LotUse("TUBE-20", "T-OLD"),), "lot_expired"),
        ({"received_qty": D("2.4")}, (LotUse("TUBE-20", "T-OLD"),), "lot_insufficient"),
        ({}, (LotUse("TUBE-20", "T-OLD", D(101)),), "lot_insufficient"),
        ({}, (LotUse("PAINT-RED", "P-1"),), "not_a_component"),
    ],
    ids=["unknown", "hold", "blocked", "expired", "short", "named-too-much", "not-a-component"],
)
def test_a_named_lot_that_cannot_give_refuses_the_report(order, change, lots, code):
    Lot.objects.filter(code="T-OLD").update(**change)
    _refused({"good_qty": 1, "lots": lots}, code)


def test_scanned_lots_all_held_refuse_with_the_lots_reason(order):
    scan(order, "T-OLD", "1")
    Lot.objects.filter(code="T-OLD").update(status="hold")
    _refused({"good_qty": 1}, "lot_on_hold")


# --- output --------------------------------------------------------------------------------------


def test_the_last_operation_receives_its_good_quantity_into_the_orders_lot_of_the_day(order):
    pass_on()
    first = confirm(ORDER, 30, good_qty=4)
    second = confirm(ORDER, 30, good_qty=2, scrap_qty=1, reason_code="SCRAP-01")

    output = Lot.objects.get(produced_by=order)
    assert output.code == f"{ORDER}-{timezone.localdate():%Y%m%d}" == output_lot_code(work_order=order, day=timezone.localdate())
    assert (output.kind, output.produced_qty, output.quantity_on_hand, output.item.code) == ("lot", D(6), D(6), "FRAME-100")
    receipts = MaterialMovement.objects.filter(kind="receipt").order_by("pk")
    assert list(receipts.values_list("source", "quantity", "confirmation")) == [
        ("output", D(4), first.confirmation.pk), ("output", D(2), second.confirmation.pk)
    ]


def test_a_named_output_lot_is_made_and_another_orders_lot_is_refused(order):
    _refused({"good_qty": 1, "output_lot": "FR-B", "lots": (LotUse("TUBE-20", "T-OLD"),)}, "output_not_expected")
    pass_on()
    confirm(ORDER, 30, good_qty=1, output_lot="FR-A")
    assert lot("FR-A", "FRAME-100").produced_by_id == order.pk
    Lot.objects.create(item=order.item, code="FR-ERP", unit=order.item.unit, received_qty=D(3))
    _refused({"good_qty": 1, "output_lot": "FR-ERP"}, "output_lot_taken", operation=30)


@pytest.fixture
def serial_order(order):
    Item.objects.filter(code="FRAME-100").update(tracking=Item.Tracking.SERIAL)
    pass_on()
    return order


def test_a_serial_tracked_item_receives_one_serial_per_piece(serial_order):
    result = confirm(ORDER, 30, good_qty=2, serials=("SN-1", "SN-2"))

    serials = Lot.objects.filter(item__code="FRAME-100").order_by("code")
    assert list(serials.values_list("code", "kind", "produced_qty", "produced_by")) == [("SN-1", "serial", D(1), serial_order.pk), ("SN-2", "serial", D(1), serial_order.pk)]
    assert list(MaterialMovement.objects.filter(kind="receipt").order_by("pk").values_list("lot__code", "quantity", "confirmation")) == [
        ("SN-1", D(1), result.confirmation.pk), ("SN-2", D(1), result.confirmation.pk)
    ]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"good_qty": 2}, "serials_required"),
        ({"good_qty": 2, "serials": ("SN-9",)}, "serials_count_mismatch"),
        ({"good_qty": "1.5", "serials": ("SN-8", "SN-9")}, "serials_count_mismatch"),
        ({"good_qty": 1, "serials": ("SN-1",)}, "serial_exists"),
        ({"good_qty": 2, "serials": ("SN-7", "SN-7")}, "serial_exists"),
        ({"good_qty": 1, "output_lot": "FR-1"}, "output_not_expected"),
    ],
    ids=["none", "too-few", "fraction", "exists", "twice", "lot-for-serial-item"],
)
def test_serials_are_refused_unless_one_new_serial_per_piece(serial_order, fields, code):
    confirm(ORDER, 30, good_qty=1, serials=("SN-1",))
    _refused(fields, code, operation=30)


def test_serials_for_an_item_tracked_by_lot_are_refused(order):
    pass_on()
    _refused({"good_qty": 1, "serials": ("SN-1",)}, "serials_not_expected", operation=30)


# --- the ERP hears it after the confirmation, in one transaction ----------------------------------


def test_messages_come_in_order_confirmation_goods_issue_goods_receipt_with_their_movements(order):
    pass_on()
    # The last operation of an order whose operation 30 backflushes too: both goods messages.
    WorkOrderComponent.objects.filter(item__code="BOLT-M8").update(operation_sequence=30)
    result = confirm(ORDER, 30, good_qty=5, operator_badge="B-1001")

    confirmation = result.confirmation
    own, goods_issue, goods_receipt = messages()[-3:]
    assert [own.kind, goods_issue.kind, goods_receipt.kind] == ["confirmation", "goods_issue", "goods_receipt"]
    assert own.sequence + 1 == goods_issue.sequence == goods_receipt.sequence - 1
    movements = {m.kind: m for m in MaterialMovement.objects.filter(confirmation=confirmation)}
    assert own.payload["goods_movements"] == [
        {"movement_id": str(movements["issue"].uuid), "movement_type": "261", "item": "BOLT-M8", "lot": None, "quantity": "20.000", "unit": "PCS"},
        {"movement_id": str(movements["receipt"].uuid), "movement_type": "101", "item": "FRAME-100",
         "lot": output_lot_code(work_order=order, day=timezone.localdate()), "quantity": "5.000", "unit": "PCS"},
    ]
    for message, kind in ((goods_issue, "goods_issue"), (goods_receipt, "goods_receipt")):
        assert message.idempotency_key == goods_document_id(confirmation_uuid=confirmation.uuid, kind=kind)
        assert message.source_uuid == confirmation.uuid
        assert (message.payload["type"], message.payload["confirmation_id"], message.payload["operation"]) == (kind, str(confirmation.uuid), 30)
        assert message.payload["operator_badge"] == "B-1001" and message.payload["reverses"] is None
    assert goods_issue.payload["movements"] == own.payload["goods_movements"][:1]
    assert goods_receipt.payload["movements"] == own.payload["goods_movements"][1:]


def test_a_report_that_moves_no_material_sends_its_confirmation_alone(released_order):
    confirm(ORDER, 10, good_qty=1)
    (message,) = messages()
    assert message.kind == "confirmation" and "goods_movements" not in message.payload
    assert not MaterialMovement.objects.exists() and not Lot.objects.exists()


# --- reversal ------------------------------------------------------------------------------------


def test_a_reversal_negates_the_movements_restores_lots_and_components_and_tells_the_erp(order):
    pass_on()
    WorkOrderComponent.objects.filter(item__code="TUBE-20").update(operation_sequence=30)
    result = confirm(ORDER, 30, good_qty=4, final=True, lots=(LotUse("TUBE-20", "T-NEW"),))
    output = Lot.objects.get(produced_by=order)
    assert (lot("T-NEW").issued_qty, output.produced_qty, issued("TUBE-20")) == (D(10), D(4), D(35))

    reversal = confirmation_reverse(confirmation_id=result.confirmation.uuid, reason="wrong order").confirmation

    assert (lot("T-NEW").issued_qty, Lot.objects.get(pk=output.pk).produced_qty, issued("TUBE-20")) == (D(0), D(0), D(25))
    negated = MaterialMovement.objects.filter(confirmation=reversal).order_by("pk")
    assert [(m.kind, m.source, m.quantity, m.reverses.confirmation_id) for m in negated] == [
        ("issue", "reversal", D(-10), result.confirmation.pk), ("receipt", "reversal", D(-4), result.confirmation.pk)
    ]
    own, issue_back, receipt_back = messages()[-3:]
    assert [own.kind, issue_back.kind, receipt_back.kind] == ["reversal", "goods_issue_reversal", "goods_receipt_reversal"]
    assert [m["movement_type"] for m in own.payload["goods_movements"]] == ["262", "102"]
    assert issue_back.payload["reverses"]["document_id"] == str(goods_document_id(confirmation_uuid=result.confirmation.uuid, kind="goods_issue"))
    assert receipt_back.payload["reverses"]["document_id"] == str(goods_document_id(confirmation_uuid=result.confirmation.uuid, kind="goods_receipt"))
    # Reversing again answers the first reversal and moves nothing more.
    assert confirmation_reverse(confirmation_id=result.confirmation.uuid).created is False
    assert MaterialMovement.objects.count() == 4 + 2


def test_a_reversal_whose_output_has_gone_on_is_refused(order):
    pass_on()
    result = confirm(ORDER, 30, good_qty=4)
    Lot.objects.filter(produced_by=order).update(issued_qty=D(1))  # one frame used by another order since
    before = counts()

    with pytest.raises(DomainError) as refused:
        confirmation_reverse(confirmation_id=result.confirmation.uuid)

    assert (refused.value.code, int(refused.value.kind)) == ("output_consumed", 409)
    assert counts() == before


# --- the bulk path: one batch sees what its earlier reports took ---------------------------------


def test_a_batch_draws_lots_in_turn_shares_the_lot_of_the_day_and_writes_nothing_of_a_refused_report(order):
    Lot.objects.filter(code="T-OLD").update(received_qty=D(15))
    requests = [
        confirmation_request(ORDER, 10, good_qty=4, lots=(LotUse("TUBE-20", "T-OLD"),)),  # 10 m: 5 left
        confirmation_request(ORDER, 10, good_qty=4, lots=(LotUse("TUBE-20", "T-OLD"),)),  # 10 m: refused
        confirmation_request(ORDER, 10, good_qty=2, lots=(LotUse("TUBE-20", "T-OLD"),)),  # 5 m: the rest
        confirmation_request(ORDER, 20, good_qty=6),
        confirmation_request(ORDER, 30, good_qty=3),
        confirmation_request(ORDER, 30, good_qty=2),
    ]

    answers = operation_confirm_many(requests=requests)

    assert [a.code if isinstance(a, DomainError) else a.created for a in answers] == [True, "lot_insufficient", True, True, True, True]
    assert lot("T-OLD").quantity_on_hand == 0 and issued("TUBE-20") == D(15) and issued("BOLT-M8") == D(24)
    assert Lot.objects.get(produced_by=order).produced_qty == D(5)
    assert [m.kind for m in messages()] == [
        "confirmation", "goods_issue", "confirmation", "goods_issue", "confirmation", "confirmation", "goods_receipt", "confirmation", "goods_receipt"
    ]
    assert [m.sequence for m in messages()] == list(range(1, 10))


# --- the API (the station's reports: tests/station/test_station_backflush.py) ----------------------------------------------------------------------


def test_the_api_takes_lots_and_output_and_answers_consumptions_and_output_alike_on_a_resend(order, supervisor):
    body = {"client_id": str(uuid.uuid4()), "work_order": ORDER, "operation": 10, "good_qty": "2", "lots": [{"item": "TUBE-20", "lot": "T-OLD", "quantity": "5"}]}

    first = supervisor.post(URL, body, format="json")
    again = supervisor.post(URL, body, format="json")
    changed = supervisor.post(URL, {**body, "lots": [{"item": "TUBE-20", "lot": "T-NEW"}]}, format="json")

    assert (first.status_code, again.status_code, changed.status_code) == (201, 200, 409)
    consumptions = first.json()["consumptions"]
    assert [(c["item"], c["lot"], c["quantity"], c["unit"]) for c in consumptions] == [("TUBE-20", "T-OLD", 5, "M"), ("BOLT-M8", None, 8, "PCS")]
    assert again.json()["consumptions"] == consumptions and first.json()["output"] is None
    assert {c["movement_id"] for c in consumptions} == {str(u) for u in MaterialMovement.objects.values_list("uuid", flat=True)}

    supervisor.post(URL, {"client_id": str(uuid.uuid4()), "work_order": ORDER, "operation": 20, "good_qty": "2"}, format="json")
    output = supervisor.post(URL, {"client_id": str(uuid.uuid4()), "work_order": ORDER, "operation": 30, "good_qty": "2", "output_lot": "FR-9"}, format="json")
    assert output.status_code == 201
    assert {k: v for k, v in output.json()["output"].items() if k != "movement_ids"} == {"item": "FRAME-100", "lot": "FR-9", "serials": [], "quantity": 2, "unit": "PCS"}
    assert supervisor.get(f"{URL}/{output.json()['id']}").json()["output"] == output.json()["output"]


def test_the_bulk_api_takes_the_material_fields_and_refuses_each_report_on_its_own(order, supervisor):
    records = [
        {"client_id": str(uuid.uuid4()), "work_order": ORDER, "operation": 10, "good_qty": "1", "lots": [{"item": "TUBE-20", "lot": "T-OLD"}]},
        {"client_id": str(uuid.uuid4()), "work_order": ORDER, "operation": 10, "good_qty": "1"},
        {"client_id": str(uuid.uuid4()), "work_order": ORDER, "operation": 10, "good_qty": "1", "serials": ["A", "A"]},
    ]

    results = supervisor.post(f"{URL}/bulk", {"confirmations": records}, format="json").json()["results"]

    assert [r["status"] for r in results] == [201, 422, 400]
    assert results[1]["error"]["code"] == "lot_required"
    assert lot("T-OLD").issued_qty == D("2.5")


def test_messages_payloads_are_json(order):
    confirm(ORDER, 10, good_qty=1, lots=(LotUse("TUBE-20", "T-OLD"),))
    assert all(json.loads(json.dumps(m.payload)) == m.payload for m in messages())


# --- the two ways of writing (PostgreSQL: plain SQL in one statement, or the ORM) -----------------


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _material_rows() -> dict:
    """What a report wrote of material, keyed by what does not depend on the keys the database drew."""
    movements = MaterialMovement.objects.order_by("pk").values_list(
        "kind", "source", "state", "item__code", "lot__code", "quantity", "unit__code", "operation__sequence",
        "confirmation__client_id", "operator__badge", "station",
    )
    lots = Lot.objects.order_by("item__code", "code").values_list(
        "item__code", "code", "kind", "produced_by__number", "received_qty", "produced_qty", "issued_qty", "unit__code"
    )
    names: dict[str, str] = {}  # each uuid drawn afresh, named by the order it first appears in
    payloads = []
    for message in OutboxMessage.objects.filter(partition_key=ORDER).order_by("sequence"):
        text = re.sub(_UUID, lambda match: names.setdefault(match.group(), f"uuid-{len(names)}"), json.dumps(message.payload, sort_keys=True))
        payloads.append((message.kind, message.sequence, json.loads(text)))
    return {
        "movements": list(movements), "lots": list(lots), "messages": payloads,
        "components": sorted(WorkOrderComponent.objects.values_list("item__code", "issued_qty")),
    }


@pytest.mark.postgresql_only(reason="MES_PLAIN_SQL_WRITES has a say on PostgreSQL only: elsewhere the ORM writes")
@pytest.mark.parametrize("one_statement_movements", [50, 0], ids=["one-statement", "more-movements-than-one-statement-takes"])
def test_a_report_moving_material_stores_the_same_rows_through_plain_sql_and_the_orm_and_plain_sql_takes_four_statements(
    order, settings, monkeypatch, one_statement_movements
):
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    pass_on()
    WorkOrderComponent.objects.update(operation_sequence=30)  # the last operation backflushes both and receives
    confirm(ORDER, 30, good_qty=1, output_lot="FR-ZERO", lots=(LotUse("TUBE-20", "T-OLD"),))  # starts the operation: no status move below
    client_id, now = uuid.uuid4(), timezone.now().replace(microsecond=0)

    def stored(plain_sql: bool) -> tuple[dict, list[str]]:
        settings.MES_PLAIN_SQL_WRITES = plain_sql
        with time_machine.travel(now, tick=False), transaction.atomic():
            with CaptureQueriesContext(connection) as captured:
                result = confirm(
                    ORDER, 30, good_qty=4, operator_badge="B-1001", station="ST-07", labor_minutes=12, output_lot="FR-ONE",
                    lots=(LotUse("TUBE-20", "T-NEW", D(7)), LotUse("TUBE-20", "T-OLD")), client_id=client_id,
                )
            assert [(c["item"], c["lot"], c["quantity"]) for c in _consumptions(result)] == [
                ("TUBE-20", "T-NEW", D(7)), ("TUBE-20", "T-OLD", D(3)), ("BOLT-M8", None, D(16)),
            ]
            rows = _material_rows()
            transaction.set_rollback(True)  # the other way starts from the same database
        statements = [query["sql"] for query in captured.captured_queries if not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
        return rows, statements

    # A report of many serials passes the limit: its rows go in several statements, the same rows.
    monkeypatch.setattr(confirmation_rows, "ONE_STATEMENT_MOVEMENTS", one_statement_movements)
    plain, plain_statements = stored(plain_sql=True)
    orm, _orm_statements = stored(plain_sql=False)

    assert plain == orm
    assert [kind for kind, _sequence, _payload in plain["messages"][-3:]] == ["confirmation", "goods_issue", "goods_receipt"]
    assert ("TUBE-20", "T-NEW", "lot", None, D(100), D(0), D(7), "M") in plain["lots"]
    assert ("FRAME-100", "FR-ONE", "lot", ORDER, D(0), D(4), D(0), "PCS") in plain["lots"]
    if one_statement_movements:  # the order's lock, its operations with their components, the lots' lock, and one write
        assert len(plain_statements) == 4, plain_statements
        assert plain_statements[-1].startswith("WITH c AS (INSERT INTO")
    else:
        assert len(plain_statements) > 4 and not any(sql.startswith("WITH c AS") for sql in plain_statements)


@pytest.mark.postgresql_only(reason="the one-statement write and psycopg's cache of converted queries are PostgreSQL's")
def test_a_backflushing_reports_write_is_within_the_queries_psycopg_keeps_converted(order):
    from django.db import connection
    from psycopg import _queries

    confirm(ORDER, 10, good_qty=1, lots=(LotUse("TUBE-20", "T-OLD"),))  # starts the operation: the steady state below
    writes = []

    def spy(execute, sql, params, many, context):
        if sql.startswith("WITH c AS"):
            writes.append((sql, len(params)))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        confirm(ORDER, 10, good_qty=1, operator_badge="B-1001", station="ST-07", lots=(LotUse("TUBE-20", "T-OLD"),))

    ((sql, parameters),) = writes
    assert parameters > 50  # past psycopg's own limit: without the widening it would convert this text on every report
    assert parameters <= _queries.MAX_CACHED_STATEMENT_PARAMS
    assert len(sql.encode()) <= _queries.MAX_CACHED_STATEMENT_LENGTH


def _consumptions(result) -> list[dict]:
    from mes.api.representations import confirmation_materials_json

    return confirmation_materials_json(result.confirmation)["consumptions"]
