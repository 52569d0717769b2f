"""Material movements reaching SAP, ERPNext and Odoo through their connectors, against the simulators on
loopback: what each ERP books for a backflush, a scanned issue, a receipt and their reversals, with
which batches, and the stock the simulators hold afterwards (issued and received per item and batch)."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from erp_sync.connectors.base import GoodsTotals, Outcome, Posting, PostResult
from erp_sync.connectors.erpnext import ErpNextConnector
from erp_sync.connectors.odoo import OdooConnector
from erp_sync.connectors.sap import SapConnector
from tests.erp_sync.builders import (
    ERPNEXT_ORDER,
    ODOO_ORDER,
    SAP_ORDER,
    confirmation_posting,
    erpnext_confirmation,
    erpnext_connector,
    goods_posting,
    movement,
    odoo_connector,
    odoo_lots_stage,
    reversal_of,
    sap_confirmation,
    sap_connector,
    simulator_fixtures,
)

sap_process, sap = simulator_fixtures("sap", dedupe="off")
erpnext_process, erpnext = simulator_fixtures("erpnext", duplicate_error="duplicate_entry")

pytestmark = pytest.mark.subprocess

BACKFLUSH = movement(movement_type="261", item="STEEL-10", lot="L-0001", quantity="2.500", unit="KG")
OUTPUT = movement(movement_type="101", item="FRAME-100", lot="OUT-20250301", quantity="5.000", unit="PCS")
BOLTS = movement(item="BOLT-M8", lot=None, quantity="8.000", unit="PCS")


def _posted_once(connector, posting: Posting) -> PostResult:
    """Post ``posting`` twice and look it up: booked by the first post, a duplicate of it the second
    time, and found by its key."""
    posted = connector.post(posting)
    again = connector.post(posting)
    found = connector.find(posting)
    assert posted.outcome == Outcome.ACCEPTED
    assert (again.outcome, again.erp_ref) == (Outcome.DUPLICATE, posted.erp_ref)
    assert (found.outcome, found.erp_ref) == (Outcome.ACCEPTED, posted.erp_ref)
    return posted


@pytest.fixture
def sap_connection(sap):
    connector = sap_connector(sap, plant="1010", storage_location="0001")
    yield connector
    connector.close()


@pytest.fixture
def erpnext_connection(erpnext):
    connector = erpnext_connector(erpnext)
    yield connector
    connector.close()


# -- SAP ---------------------------------------------------------------------------------------------


def test_sap_confirmation_deep_inserts_its_movements_with_batches(sap, sap_connection: SapConnector) -> None:
    confirmation = sap_confirmation(good="5.000", scrap="0.000", goods_movements=[BACKFLUSH, OUTPUT])

    body = sap_connection._body(confirmation)
    result = sap_connection.post(confirmation)

    assert result.outcome == Outcome.ACCEPTED
    assert "APIConfHasNoGoodsMovements" not in body
    issue, receipt = body["to_ProdnOrdConfMatlDocItm"]
    assert issue == {
        "Material": "STEEL-10", "GoodsMovementType": "261", "QuantityInEntryUnit": "2.500", "EntryUnit": "KG",
        "Plant": "1010", "StorageLocation": "0001", "Batch": "L-0001",
    }
    assert (receipt["GoodsMovementType"], receipt["Batch"], receipt["OrderItem"], receipt["GoodsMovementRefDocType"]) == (
        "101", "OUT-20250301", "0001", "F",
    )
    assert sap.control.stock() == {("FRAME-100", "OUT-20250301"): ("0", "5"), ("STEEL-10", "L-0001"): ("2.5", "0")}
    [entry] = sap.control.ledger()
    assert [(m["type"], m["batch"]) for m in entry["details"]["movements"]] == [("261", "L-0001"), ("101", "OUT-20250301")]
    printed = sap.control.ledger_text()
    assert "      261 STEEL-10 batch L-0001 2.5\n" in printed and "      101 FRAME-100 batch OUT-20250301 5\n" in printed


def test_sap_goods_that_rode_with_their_confirmation_are_acknowledged_without_a_call(sap, sap_connection: SapConnector) -> None:
    confirmation = sap_confirmation(goods_movements=[BACKFLUSH])
    booked = sap_connection.post(confirmation)
    issue = goods_posting(order=SAP_ORDER, movements=[BACKFLUSH], confirmation_id=confirmation.idempotency_key, confirmation_ref=booked.erp_ref)
    requests_before = sap.control.health()["counters"]["requests"]

    result = sap_connection.post(issue)

    assert (result.outcome, result.erp_document) == (Outcome.ACCEPTED, booked.erp_document)
    assert result.erp_ref["booked_with_confirmation"] == confirmation.idempotency_key
    assert sap_connection.find(issue).outcome == Outcome.ACCEPTED
    assert sap.control.health()["counters"]["requests"] == requests_before
    assert len(sap.control.ledger()) == 1
    assert sap.control.stock() == {("STEEL-10", "L-0001"): ("2.5", "0")}


def test_sap_cancelling_the_confirmation_reverses_its_movements(sap, sap_connection: SapConnector) -> None:
    confirmation = sap_confirmation(goods_movements=[BACKFLUSH, OUTPUT])
    booked = sap_connection.post(confirmation)

    result = sap_connection.post(reversal_of(confirmation, booked.erp_ref))

    assert result.outcome == Outcome.ACCEPTED
    assert sap.control.stock() == {("FRAME-100", "OUT-20250301"): ("0", "0"), ("STEEL-10", "L-0001"): ("0", "0")}
    cancel = sap.control.ledger()[-1]
    assert [m["type"] for m in cancel["details"]["movements"]] == ["262", "102"]


def test_sap_scanned_issue_is_a_confirmation_of_its_own_with_zero_quantities_and_its_reversal_cancels_it(
    sap, sap_connection: SapConnector
) -> None:
    issue = goods_posting(order=SAP_ORDER, operation=20, movements=[movement(lot="L-0002", quantity="4.000")])

    posted = sap_connection.post(issue)

    assert posted.outcome == Outcome.ACCEPTED
    [entry] = sap.control.ledger()
    assert (entry["key"], entry["operation"], entry["yield_qty"], entry["scrap_qty"]) == (issue.idempotency_key, "0020", "0", "0")
    assert sap.control.stock() == {("STEEL-10", "L-0002"): ("4", "0")}
    found = sap_connection.find(issue)
    assert (found.outcome, found.erp_ref) == (Outcome.ACCEPTED, posted.erp_ref)

    reversal = goods_posting(order=SAP_ORDER, kind="goods_issue_reversal", operation=20, reverses=issue)  # no stored reference
    assert sap_connection.find(reversal) is None
    assert sap_connection.post(reversal).outcome == Outcome.ACCEPTED
    assert sap_connection.post(reversal).outcome == Outcome.DUPLICATE

    cancels = [e for e in sap.control.ledger() if e["action"] == "cancel"]
    assert [(e["cancels_key"], e["key"]) for e in cancels] == [(issue.idempotency_key, reversal.idempotency_key)]
    assert sap.control.stock() == {("STEEL-10", "L-0002"): ("0", "0")}


def test_sap_refuses_a_movement_without_a_unit_and_the_connector_dead_letters_it(sap, sap_connection: SapConnector) -> None:
    issue = goods_posting(order=SAP_ORDER, movements=[movement(unit="")])

    result = sap_connection.post(issue)

    assert result.outcome == Outcome.REJECTED
    assert "unit of entry" in result.error
    assert sap.control.ledger() == [] and sap.control.stock() == {}


def test_sap_goods_totals_count_the_movements_that_stand(sap, sap_connection: SapConnector) -> None:
    kept = sap_confirmation(goods_movements=[BACKFLUSH, OUTPUT])
    sap_connection.post(kept)
    cancelled = sap_confirmation(goods_movements=[movement(quantity="7.000")])
    sap_connection.post(reversal_of(cancelled, sap_connection.post(cancelled).erp_ref))
    sap_connection.post(goods_posting(order=SAP_ORDER, movements=[movement(quantity="1.000", lot="L-0003")]))
    sap_connection.post(goods_posting(order="OTHER", movements=[movement(quantity="9.000")]))

    totals = sap_connection.goods_totals(SAP_ORDER)

    assert totals == [
        GoodsTotals(SAP_ORDER, "FRAME-100", Decimal(0), Decimal("5.000")),
        GoodsTotals(SAP_ORDER, "STEEL-10", Decimal("3.500"), Decimal(0)),
    ]


def test_sap_storage_location_option_is_checked() -> None:
    assert "storage_location" in SapConnector.validate_options({"storage_location": "TOO-LONG"})
    assert SapConnector.validate_options({"storage_location": "0001"}) == {}


# -- ERPNext -----------------------------------------------------------------------------------------


def test_erpnext_goods_issue_is_a_transfer_for_manufacture_with_batches_booked_once(erpnext, erpnext_connection: ErpNextConnector) -> None:
    issue = goods_posting(order=ERPNEXT_ORDER, movements=[BACKFLUSH, BOLTS])

    posted = _posted_once(erpnext_connection, issue)

    assert posted.erp_ref["doctype"] == "Stock Entry"
    [entry] = erpnext.control.ledger()
    assert (entry["key"], entry["details"]["purpose"]) == (issue.idempotency_key, "Material Transfer for Manufacture")
    assert erpnext.control.stock() == {("BOLT-M8", ""): ("8", "0"), ("STEEL-10", "L-0001"): ("2.5", "0")}


def test_erpnext_goods_receipt_is_a_manufacture_of_the_output_batch(erpnext, erpnext_connection: ErpNextConnector) -> None:
    receipt = goods_posting(order=ERPNEXT_ORDER, kind="goods_receipt", operation=30, movements=[OUTPUT], confirmation_id="5e0c1b8e-3c2f-4a57-9b1e-0f2d6c7a8b90")

    result = erpnext_connection.post(receipt)

    assert result.outcome == Outcome.ACCEPTED
    [entry] = erpnext.control.ledger()
    assert entry["details"]["purpose"] == "Manufacture"
    assert entry["details"]["movements"] == [{"item": "FRAME-100", "batch": "OUT-20250301", "quantity": "5", "finished": True}]
    assert erpnext.control.stock() == {("FRAME-100", "OUT-20250301"): ("0", "5")}


def test_erpnext_reversals_cancel_the_stock_entries_and_restore_the_stock(erpnext, erpnext_connection: ErpNextConnector) -> None:
    issue = goods_posting(order=ERPNEXT_ORDER, movements=[BACKFLUSH])
    receipt = goods_posting(order=ERPNEXT_ORDER, kind="goods_receipt", movements=[OUTPUT], confirmation_id="5e0c1b8e-3c2f-4a57-9b1e-0f2d6c7a8b90")
    issued = erpnext_connection.post(issue)
    erpnext_connection.post(receipt)

    by_reference = goods_posting(order=ERPNEXT_ORDER, kind="goods_issue_reversal", reverses=issue, reverses_ref=issued.erp_ref)
    by_key = goods_posting(order=ERPNEXT_ORDER, kind="goods_receipt_reversal", reverses=receipt, confirmation_id="7a1d2e3f-0000-4000-8000-000000000001")

    assert erpnext_connection.post(by_reference).outcome == Outcome.ACCEPTED
    assert erpnext_connection.post(by_key).outcome == Outcome.ACCEPTED
    assert erpnext_connection.post(by_key).outcome == Outcome.DUPLICATE
    assert erpnext.control.stock() == {("FRAME-100", "OUT-20250301"): ("0", "0"), ("STEEL-10", "L-0001"): ("0", "0")}
    assert sorted(e["cancels_key"] for e in erpnext.control.ledger() if e["action"] == "cancel") == sorted(
        [issue.idempotency_key, receipt.idempotency_key]
    )


def test_erpnext_batches_can_be_left_out(erpnext) -> None:
    connector = erpnext_connector(erpnext, use_batch_no=False)
    try:
        assert connector.post(goods_posting(order=ERPNEXT_ORDER, movements=[BACKFLUSH])).outcome == Outcome.ACCEPTED
    finally:
        connector.close()
    assert erpnext.control.stock() == {("STEEL-10", ""): ("2.5", "0")}
    assert ErpNextConnector.validate_options({"use_batch_no": "yes"}) == {"use_batch_no": "true or false."}


def test_erpnext_confirmations_still_go_as_job_cards_and_goods_totals_read_stock_entries(erpnext, erpnext_connection: ErpNextConnector) -> None:
    assert erpnext_connection.post(erpnext_confirmation()).erp_ref["doctype"] == "Job Card"
    erpnext_connection.post(goods_posting(order=ERPNEXT_ORDER, movements=[BACKFLUSH]))
    cancelled = goods_posting(order=ERPNEXT_ORDER, movements=[movement(quantity="6.000")])
    erpnext_connection.post(goods_posting(order=ERPNEXT_ORDER, kind="goods_issue_reversal", reverses=cancelled, reverses_ref=erpnext_connection.post(cancelled).erp_ref))
    erpnext_connection.post(goods_posting(order=ERPNEXT_ORDER, kind="goods_receipt", movements=[OUTPUT], confirmation_id="5e0c1b8e-3c2f-4a57-9b1e-0f2d6c7a8b90"))
    erpnext_connection.post(goods_posting(order="MFG-WO-2025-00099", movements=[movement(quantity="9.000")]))

    assert erpnext_connection.goods_totals(ERPNEXT_ORDER) == [
        GoodsTotals(ERPNEXT_ORDER, "FRAME-100", Decimal(0), Decimal("5")),
        GoodsTotals(ERPNEXT_ORDER, "STEEL-10", Decimal("2.5"), Decimal(0)),
    ]


def test_erpnext_stock_entry_mode_carries_the_output_on_the_report(erpnext) -> None:
    connector = erpnext_connector(erpnext, mode="stock_entry")
    try:
        confirmation = erpnext_confirmation()
        confirmation = type(confirmation)(**{**confirmation.__dict__, "payload": {**confirmation.payload, "goods_movements": [BACKFLUSH, OUTPUT]}})
        booked = connector.post(confirmation)
        receipt = goods_posting(order=ERPNEXT_ORDER, kind="goods_receipt", movements=[OUTPUT], confirmation_id=confirmation.idempotency_key, confirmation_ref=booked.erp_ref)
        result = connector.post(receipt)
    finally:
        connector.close()
    assert (result.outcome, result.erp_document) == (Outcome.ACCEPTED, booked.erp_document)
    assert len(erpnext.control.ledger()) == 1
    assert erpnext.control.stock() == {("FRAME-100", "OUT-20250301"): ("0", "5")}


# -- Odoo ---------------------------------------------------------------------------------------------

odoo_process, odoo = simulator_fixtures("odoo", autocreate=True)
RECEIPT_OF = "5e0c1b8e-3c2f-4a57-9b1e-0f2d6c7a8b90"


@pytest.fixture(params=["json2", "xmlrpc"])
def odoo_connection(odoo, request):
    odoo_lots_stage(odoo, {"STEEL-10": ["L-0001", "L-0002"]})
    connector = odoo_connector(odoo, request.param)
    yield connector
    connector.close()


def _odoo_lines(simulator, domain: list) -> list[dict]:
    answer = requests.post(
        f"{simulator.base_url}/json/2/stock.move.line/search_read",
        json={"domain": domain, "fields": ["product_id", "lot_id", "quantity", "x_mes_confirmation_id"]},
        headers={"Authorization": f"bearer {simulator.credentials['token']}"},
        timeout=5,
    )
    answer.raise_for_status()
    return answer.json()


def test_odoo_goods_issue_books_move_lines_with_lots_on_the_component_moves_once(odoo, odoo_connection: OdooConnector) -> None:
    issue = goods_posting(order=ODOO_ORDER, movements=[BACKFLUSH, BOLTS])

    posted = _posted_once(odoo_connection, issue)

    assert posted.erp_ref["model"] == "stock.move.line"
    [entry] = odoo.control.ledger()
    assert (entry["action"], entry["key"], entry["order"]) == ("post", issue.idempotency_key, ODOO_ORDER)
    assert odoo.control.stock() == {("BOLT-M8", ""): ("8", "0"), ("STEEL-10", "L-0001"): ("2.5", "0")}
    lines = _odoo_lines(odoo, [["move_id.raw_material_production_id.name", "=", ODOO_ORDER]])
    assert sorted((line["product_id"][1], line["lot_id"] and line["lot_id"][1], line["quantity"]) for line in lines) == [
        ("[BOLT-M8] BOLT-M8", False, 8.0), ("[STEEL-10] STEEL-10", "L-0001", 2.5),
    ]
    assert {line["x_mes_confirmation_id"] for line in lines} == {issue.idempotency_key}


def test_odoo_goods_receipt_creates_the_output_lot_on_the_finished_move(odoo, odoo_connection: OdooConnector) -> None:
    first = goods_posting(order=ODOO_ORDER, kind="goods_receipt", operation=30, movements=[OUTPUT], confirmation_id=RECEIPT_OF)
    second = goods_posting(order=ODOO_ORDER, kind="goods_receipt", operation=30, movements=[movement(
        movement_type="101", item="FRAME-100", lot="OUT-20250301", quantity="2.000", unit="PCS",
    )])

    assert odoo_connection.post(first).outcome == Outcome.ACCEPTED
    assert odoo_connection.post(second).outcome == Outcome.ACCEPTED

    assert odoo.control.stock() == {("FRAME-100", "OUT-20250301"): ("0", "7")}
    lines = _odoo_lines(odoo, [["move_id.production_id.name", "=", ODOO_ORDER]])
    assert [(line["lot_id"][1], line["quantity"]) for line in lines] == [("OUT-20250301", 5.0), ("OUT-20250301", 2.0)]
    assert lines[0]["lot_id"][0] == lines[1]["lot_id"][0]  # one lot, found the second time
    assert [m["finished"] for e in odoo.control.ledger() for m in e["details"]["movements"]] == [True, True]


def test_odoo_refuses_an_issue_from_a_lot_it_does_not_hold(odoo, odoo_connection: OdooConnector) -> None:
    issue = goods_posting(order=ODOO_ORDER, movements=[movement(lot="L-9999")])

    result = odoo_connection.post(issue)

    assert result.outcome == Outcome.REJECTED
    assert result.error == "Odoo has no lot L-9999 of product STEEL-10."
    assert odoo.control.ledger() == [] and odoo.control.stock() == {}
    assert odoo_connection.find(issue) is None


def test_odoo_reversals_unlink_the_move_lines_and_restore_the_stock(odoo, odoo_connection: OdooConnector) -> None:
    issue = goods_posting(order=ODOO_ORDER, movements=[BACKFLUSH, movement(lot="L-0002", quantity="1.000")])
    receipt = goods_posting(order=ODOO_ORDER, kind="goods_receipt", movements=[OUTPUT], confirmation_id=RECEIPT_OF)
    issued = odoo_connection.post(issue)
    odoo_connection.post(receipt)
    kept = goods_posting(order=ODOO_ORDER, movements=[movement(quantity="3.000")])
    odoo_connection.post(kept)

    by_reference = goods_posting(order=ODOO_ORDER, kind="goods_issue_reversal", reverses=issue, reverses_ref=issued.erp_ref)
    by_key = goods_posting(order=ODOO_ORDER, kind="goods_receipt_reversal", reverses=receipt, confirmation_id="7a1d2e3f-0000-4000-8000-000000000001")

    assert odoo_connection.find(by_reference) is None
    taken_back = odoo_connection.post(by_reference)
    assert (taken_back.outcome, taken_back.erp_ref["unlinked"]) == (Outcome.ACCEPTED, issued.erp_ref["ids"])
    assert odoo_connection.post(by_reference).outcome == Outcome.DUPLICATE
    assert odoo_connection.post(by_key).outcome == Outcome.ACCEPTED
    assert odoo_connection.find(by_key).outcome == Outcome.ACCEPTED
    assert odoo.control.stock() == {
        ("FRAME-100", "OUT-20250301"): ("0", "0"), ("STEEL-10", "L-0001"): ("3", "0"), ("STEEL-10", "L-0002"): ("0", "0"),
    }
    cancels = [e for e in odoo.control.ledger() if e["action"] == "cancel"]
    assert [e["cancels_key"] for e in cancels] == [issue.idempotency_key, receipt.idempotency_key]
    assert odoo_connection.find(issue) is None  # taken back: a look-up no longer finds it


def test_odoo_booked_but_unanswered_goods_are_found_by_their_key(odoo, odoo_connection: OdooConnector) -> None:
    issue = goods_posting(order=ODOO_ORDER, movements=[BACKFLUSH])
    odoo_connection.find(issue)  # the order and product exist before the answer is dropped
    odoo.control.set_faults(drop_after_commit_rate=1.0)

    lost = odoo_connection.post(issue)
    odoo.control.clear_faults()
    found = odoo_connection.find(issue)

    assert lost.outcome == Outcome.UNKNOWN
    assert found.outcome == Outcome.ACCEPTED and found.erp_document.startswith("stock.move.line/")
    assert odoo_connection.post(issue).outcome == Outcome.DUPLICATE
    assert [e["key"] for e in odoo.control.ledger()] == [issue.idempotency_key]
    assert odoo.control.stock() == {("STEEL-10", "L-0001"): ("2.5", "0")}


def test_odoo_refuses_to_take_back_goods_of_a_done_order(odoo, odoo_connection: OdooConnector) -> None:
    issue = goods_posting(order=ODOO_ORDER, movements=[BACKFLUSH])
    issued = odoo_connection.post(issue)
    production_id = odoo_connection._production(ODOO_ORDER)
    odoo_connection._call("mrp.production", "write", ids=[production_id], params={"vals": {"qty_producing": 1}})
    odoo_connection._call("mrp.production", "button_mark_done", ids=[production_id], context={"skip_backorder": True})

    result = odoo_connection.post(goods_posting(order=ODOO_ORDER, kind="goods_issue_reversal", reverses=issue, reverses_ref=issued.erp_ref))

    assert result.outcome == Outcome.REJECTED
    assert "done manufacturing order" in result.error
    assert odoo.control.stock() == {("STEEL-10", "L-0001"): ("2.5", "0")}


def test_odoo_goods_totals_count_the_move_lines_that_stand(odoo, odoo_connection: OdooConnector) -> None:
    odoo_connection.post(goods_posting(order=ODOO_ORDER, movements=[BACKFLUSH]))
    cancelled = goods_posting(order=ODOO_ORDER, movements=[movement(lot="L-0002", quantity="6.000")])
    taken_back = goods_posting(order=ODOO_ORDER, kind="goods_issue_reversal", reverses=cancelled)
    odoo_connection.post(cancelled)
    odoo_connection.post(taken_back)
    odoo_connection.post(goods_posting(order=ODOO_ORDER, kind="goods_receipt", movements=[OUTPUT], confirmation_id=RECEIPT_OF))
    odoo_connection.post(goods_posting(order="WH/MO/00099", movements=[movement(quantity="9.000")]))

    assert odoo_connection.goods_totals(ODOO_ORDER) == [
        GoodsTotals(ODOO_ORDER, "FRAME-100", Decimal(0), Decimal("5")),
        GoodsTotals(ODOO_ORDER, "STEEL-10", Decimal("2.5"), Decimal(0)),
    ]


def _production_state(connector: OdooConnector) -> str:
    [row] = connector._call("mrp.production", "read", ids=[connector._production(ODOO_ORDER)], params={"fields": ["state"]})
    return row["state"]


def test_odoo_final_report_leaves_the_order_open_for_its_output_which_then_closes_it(odoo) -> None:
    odoo_lots_stage(odoo, {"STEEL-10": ["L-0001"]})
    closing = odoo_connector(odoo, mark_done_on_final=True)
    try:
        report = confirmation_posting(order=ODOO_ORDER, final=True, goods_movements=[BACKFLUSH, OUTPUT])
        assert closing.post(report).outcome == Outcome.ACCEPTED
        assert _production_state(closing) == "progress"  # finished, not closed: its goods are still to come
        backflush = goods_posting(order=ODOO_ORDER, movements=[BACKFLUSH], confirmation_id=report.idempotency_key)
        assert closing.post(backflush).outcome == Outcome.ACCEPTED
        receipt = goods_posting(order=ODOO_ORDER, kind="goods_receipt", movements=[OUTPUT], confirmation_id=report.idempotency_key)

        assert closing.post(receipt).outcome == Outcome.ACCEPTED

        assert _production_state(closing) == "done"
        assert [entry["action"] for entry in odoo.control.ledger()] == ["post", "finish", "post", "post", "update", "mark_done"]
        assert odoo.control.stock() == {("FRAME-100", "OUT-20250301"): ("0", "5"), ("STEEL-10", "L-0001"): ("2.5", "0")}
        assert closing.find(receipt).outcome == Outcome.ACCEPTED
    finally:
        closing.close()


def test_odoo_output_booked_but_its_order_not_closed_is_closed_on_the_resend(odoo) -> None:
    leaving = odoo_connector(odoo)
    closing = odoo_connector(odoo, mark_done_on_final=True)
    try:
        report = confirmation_posting(order=ODOO_ORDER, final=True, goods_movements=[OUTPUT])
        leaving.post(report)
        receipt = goods_posting(order=ODOO_ORDER, kind="goods_receipt", movements=[OUTPUT], confirmation_id=report.idempotency_key)
        leaving.post(receipt)  # as if the order's closing had failed after the lines were booked

        assert closing.find(receipt) is None
        assert closing.post(receipt).outcome == Outcome.DUPLICATE
        assert _production_state(closing) == "done"
        assert closing.find(receipt).outcome == Outcome.ACCEPTED
        assert odoo.control.stock() == {("FRAME-100", "OUT-20250301"): ("0", "5")}
    finally:
        leaving.close()
        closing.close()
