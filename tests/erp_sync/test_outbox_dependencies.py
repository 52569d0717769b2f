"""A lot made here goes to the ERP's stock only with the message that received it; an issue of that
lot to another order must not reach the ERP before it. The outbox keeps order only within one work
order, so the issue waits for the receipt (``OutboxDependency``): by scan and by backflush, through
the ORM and PostgreSQL's one-statement write, held by the dispatcher while the receipt is unsent,
retrying or dead, and sent once it is acknowledged (or discarded). Order A (WO-1001, FRAME-100 by
lot) makes the frames; order B (WO-2001, a cart) takes one frame a cart at its operation 10."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from erp_sync.dispatcher import claim, dispatch_until_idle, resume_after_outage
from erp_sync.models import ErpConnection, OutboxDependency, OutboxMessage
from erp_sync.services import messages_discard
from mes.models import BomLine, Item, Lot, WorkOrder
from mes.services.confirmation_materials import LotUse
from mes.services.confirmations import operation_confirm_many
from mes.services.material_issues import MaterialIssueRequest, material_issue, material_issue_reverse
from mes.services.materials import goods_document_id
from mes.services.work_orders import work_order_transition
from simulators.erp import start_simulator
from tests.conftest import ORDER
from tests.erp_sync.builders import simulator_connection
from tests.factories import BomFactory, ItemFactory, RoutingFactory, WorkOrderFactory
from tests.helpers import confirm, confirmation_request

D = Decimal
CART_ORDER = "WO-2001"


@pytest.fixture
def frames(plant, planned_order) -> Lot:
    """Order A reports its three operations; the last receives 6 and then 4 frames into the lot of the day."""
    Item.objects.filter(pk=plant["item"].pk).update(tracking=Item.Tracking.LOT)
    work_order_transition(number=ORDER, action="release")
    confirm(ORDER, 10, good_qty=10)
    confirm(ORDER, 20, good_qty=10)
    receipts = [confirm(ORDER, 30, good_qty=quantity).confirmation for quantity in (6, 4)]
    lot = Lot.objects.get(produced_by__number=ORDER)
    lot.receipt_keys = sorted((goods_document_id(confirmation_uuid=r.uuid, kind="goods_receipt") for r in receipts), key=str)
    return lot


@pytest.fixture
def cart_order(plant) -> WorkOrder:
    cart = ItemFactory(code="CART-1", name="Cart", unit=plant["item"].unit)
    RoutingFactory(item=cart, operations=[{"sequence": 10, "name": "Mount", "work_center": plant["centers"]["WC-CUT"]}])
    BomFactory(item=cart, version="1", lines=[(plant["item"], D(1))])
    WorkOrderFactory(number=CART_ORDER, item=cart, quantity=D(5), due_date=datetime.date(2030, 1, 31))
    work_order_transition(number=CART_ORDER, action="release")
    return WorkOrder.objects.get(number=CART_ORDER)


def scan(lot: Lot, quantity: str = "2") -> OutboxMessage:
    request = MaterialIssueRequest(client_id=uuid.uuid4(), work_order=CART_ORDER, operation=10, item=lot.item.code, quantity=D(quantity), lot=lot.code)
    return material_issue(request=request).message


def waits_for(message: OutboxMessage) -> list[uuid.UUID]:
    return list(OutboxDependency.objects.filter(message=message).values_list("waits_for_key", flat=True))


def of_order(number: str) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(partition_key=number).order_by("sequence"))


def acknowledge(messages: list[OutboxMessage]) -> None:
    OutboxMessage.objects.filter(pk__in=[m.pk for m in messages]).update(state="acknowledged", acknowledged_at=timezone.now())


def claimed_keys() -> set[uuid.UUID]:
    """What a dispatcher would take now; given back to the queue, so the test can look again."""
    taken = claim(limit=50, lease_seconds=60)
    OutboxMessage.objects.filter(pk__in=[m.pk for m in taken]).update(state="queued", claim_token=None, lease_until=None, attempts=0)
    return {m.idempotency_key for m in taken}


@pytest.fixture(params=["one-statement", "orm"])
def write_path(request, settings):
    """Both ways a report's rows are written (on SQLite the ORM's either way)."""
    settings.MES_PLAIN_SQL_WRITES = request.param == "one-statement"
    return request.param


# --- what the producers write --------------------------------------------------------------------


def test_a_scanned_issue_of_a_lot_another_order_made_waits_for_every_receipt_of_it(frames, cart_order):
    issue = scan(frames)

    assert sorted(waits_for(issue), key=str) == frames.receipt_keys
    assert {m.kind for m in OutboxMessage.objects.filter(idempotency_key__in=frames.receipt_keys)} == {"goods_receipt"}


def test_an_issue_of_a_bought_lot_or_its_reversal_waits_for_nothing(frames, cart_order, plant):
    bought = Lot.objects.create(item=plant["item"], code="FR-ERP", unit=plant["item"].unit, received_qty=D(5))
    assert waits_for(scan(bought)) == []

    issue = scan(frames)
    reversal = material_issue_reverse(movement_id=OutboxMessage.objects.get(pk=issue.pk).source_uuid, reason="wrong lot").message
    assert reversal.kind == "goods_issue_reversal" and waits_for(reversal) == []


def test_a_backflush_from_a_made_lot_holds_the_report_and_its_goods_issue(frames, cart_order, write_path):
    BomLine.objects.filter(bom__item__code="CART-1").update(backflush=True, operation=10)
    cart_order.components.update(backflush=True)

    confirm(CART_ORDER, 10, good_qty=2, lots=(LotUse(frames.item.code, frames.code),))

    report, goods_issue = of_order(CART_ORDER)
    assert (report.kind, goods_issue.kind) == ("confirmation", "goods_issue")
    assert sorted(waits_for(report), key=str) == sorted(waits_for(goods_issue), key=str) == frames.receipt_keys


def test_a_batch_that_makes_a_lot_and_backflushes_it_to_another_order_holds_the_issue(plant, planned_order, cart_order, write_path):
    Item.objects.filter(pk=plant["item"].pk).update(tracking=Item.Tracking.LOT)
    BomLine.objects.filter(bom__item__code="CART-1").update(backflush=True, operation=10)
    cart_order.components.update(backflush=True)
    work_order_transition(number=ORDER, action="release")
    confirm(ORDER, 10, good_qty=10)
    confirm(ORDER, 20, good_qty=10)

    answers = operation_confirm_many(requests=[
        confirmation_request(ORDER, 30, good_qty=10, output_lot="FR-NEW"),
        confirmation_request(CART_ORDER, 10, good_qty=2, lots=(LotUse(plant["item"].code, "FR-NEW"),)),
    ])

    assert [answer.created for answer in answers] == [True, True]
    receipt = goods_document_id(confirmation_uuid=answers[0].confirmation.uuid, kind="goods_receipt")
    report, goods_issue = of_order(CART_ORDER)
    assert waits_for(report) == waits_for(goods_issue) == [receipt]


def test_a_plain_report_writes_no_dependency(frames, cart_order, write_path):
    confirm(CART_ORDER, 10, good_qty=1)

    assert OutboxDependency.objects.count() == 0


# --- what the dispatcher does with it --------------------------------------------------------------


def test_the_dispatcher_holds_the_issue_until_the_receipt_is_acknowledged(frames, cart_order):
    issue = scan(frames)
    *reports, first_receipt, report, receipt = of_order(ORDER)

    assert issue.idempotency_key not in claimed_keys()  # the receipt is queued behind order A's reports

    acknowledge([*reports, first_receipt, report])
    OutboxMessage.objects.filter(pk=receipt.pk).update(state="retrying", next_attempt_at=timezone.now() + datetime.timedelta(hours=1))
    assert claimed_keys() == set()  # the receipt backs off; the issue is not due either

    OutboxMessage.objects.filter(pk=receipt.pk).update(next_attempt_at=timezone.now())
    assert claimed_keys() == {receipt.idempotency_key}

    acknowledge([receipt])
    assert claimed_keys() == {issue.idempotency_key}
    issue.refresh_from_db()
    assert (issue.state, issue.attempts) == ("queued", 0)


def test_a_dead_receipt_holds_the_issue_and_a_discarded_one_lets_it_go(frames, cart_order, supervisor):
    issue = scan(frames)
    *earlier, receipt = of_order(ORDER)
    acknowledge(earlier)
    OutboxMessage.objects.filter(pk=receipt.pk).update(state="dead", last_error="refused")

    assert claimed_keys() == set()

    messages_discard(message_ids=[receipt.pk], reason="booked by hand in the ERP", actor=supervisor.user)
    assert claimed_keys() == {issue.idempotency_key}


def test_the_message_page_says_what_the_issue_waits_for(frames, cart_order, client, supervisor):
    issue = scan(frames)
    receipt = OutboxMessage.objects.get(idempotency_key=frames.receipt_keys[0])
    client.force_login(supervisor.user)

    english = client.get(f"/sync/messages/{issue.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    chinese = client.get(f"/sync/messages/{issue.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    link = f'href="/sync/messages/{receipt.pk}/"'
    assert "waiting for" in english and link in english
    assert "正在等待" in chinese and link in chinese

    acknowledge(of_order(ORDER))
    settled = client.get(f"/sync/messages/{issue.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "waiting for" not in settled and link not in settled
    assert supervisor.get(f"/api/v1/sync/messages/{issue.pk}").json()["waiting_for"] == []


# --- end to end, with an ERP ----------------------------------------------------------------------


@pytest.mark.subprocess
def test_with_the_erp_down_the_issue_is_not_tried_and_goes_after_the_receipt_once_it_is_back(frames, cart_order, tmp_path, settings):
    settings.ERP_SYNC_BACKOFF_BASE_SECONDS = 0.05
    settings.ERP_SYNC_BACKOFF_CAP_SECONDS = 0.5
    with start_simulator("sap", ledger_path=tmp_path / "ledger.jsonl") as simulator:
        simulator_connection(simulator, timeout=2)
        issue = scan(frames)
        simulator.control.set_faults(down=True)
        dispatch_until_idle(budget_seconds=5, threads=1)

        issue.refresh_from_db()
        assert OutboxMessage.objects.get(partition_key=ORDER, sequence=1).state == "retrying"
        assert (issue.state, issue.attempts, issue.deliveries.count()) == ("queued", 0, 0)

        simulator.control.set_faults(down=False)
        resume_after_outage(ErpConnection.objects.get())
        dispatch_until_idle(budget_seconds=10, threads=1)  # the run that acknowledges the receipt sends the issue too

        assert set(OutboxMessage.objects.values_list("state", flat=True)) == {"acknowledged"}
        position = {entry["key"]: entry["seq"] for entry in simulator.control.ledger() if entry["action"] == "post"}
        final_reports = OutboxMessage.objects.filter(partition_key=ORDER, kind="confirmation", payload__operation=30)
        assert max(position[str(m.idempotency_key)] for m in final_reports) < position[str(issue.idempotency_key)]  # its 101s before our 261
