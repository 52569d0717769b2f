"""Material movements reaching SAP and ERPNext through their connectors, against the simulators on
loopback: what each ERP books for a backflush, a scanned issue, a receipt and their reversals, with
which batches, and the stock both simulators hold afterwards (issued and received per item and batch)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from erp_sync.connectors.base import GoodsTotals, Outcome
from erp_sync.connectors.erpnext import ErpNextConnector
from erp_sync.connectors.sap import SapConnector
from tests.erp_sync.builders import (
    ERPNEXT_ORDER,
    ODOO_ORDER,
    SAP_ORDER,
    erpnext_confirmation,
    erpnext_connector,
    goods_posting,
    movement,
    odoo_connector,
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
    issue = goods_posting(order=ERPNEXT_ORDER, movements=[BACKFLUSH, movement(item="BOLT-M8", lot=None, quantity="8.000", unit="PCS")])

    posted = erpnext_connection.post(issue)
    again = erpnext_connection.post(issue)

    assert posted.outcome == Outcome.ACCEPTED and posted.erp_ref["doctype"] == "Stock Entry"
    assert (again.outcome, again.erp_ref) == (Outcome.DUPLICATE, posted.erp_ref)
    [entry] = erpnext.control.ledger()
    assert (entry["key"], entry["details"]["purpose"]) == (issue.idempotency_key, "Material Transfer for Manufacture")
    assert erpnext.control.stock() == {("BOLT-M8", ""): ("8", "0"), ("STEEL-10", "L-0001"): ("2.5", "0")}
    found = erpnext_connection.find(issue)
    assert (found.outcome, found.erp_ref) == (Outcome.ACCEPTED, posted.erp_ref)


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


@pytest.mark.parametrize("kind", ["goods_issue", "goods_issue_reversal", "goods_receipt", "goods_receipt_reversal"])
def test_odoo_acknowledges_goods_without_a_call_and_says_they_were_not_sent(odoo, kind) -> None:
    connector = odoo_connector(odoo)
    try:
        posting = goods_posting(order=ODOO_ORDER, kind=kind, movements=[BACKFLUSH])
        result = connector.post(posting)
        found = connector.find(posting)
    finally:
        connector.close()

    assert (result.outcome, found.outcome) == (Outcome.ACCEPTED, Outcome.ACCEPTED)
    assert result.erp_document.startswith("not sent") and result.erp_ref == {"not_sent": kind}
    assert odoo.control.ledger() == [] and odoo.control.health()["counters"].get("requests", 0) == 0
