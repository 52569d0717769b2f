"""The ERPNext connector against the ERPNext simulator, a real process on loopback.

One simulator serves the module; each test starts from ``control.reset()``. What every connector
promises alike (find by key, retryable faults, lost answers, reversals, totals) is in ``test_connector_contract.py``. No database.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import requests

from erp_sync.connectors.base import ConnectionConfig, ErpTotals, Outcome
from erp_sync.connectors.erpnext import ErpNextConnector
from erp_sync.connectors.registry import connector_class
from simulators.erp import SimulatorProcess
from tests.erp_sync import builders
from tests.erp_sync.builders import reversal_of, wait_for_ledger

# The builders with ERPNext's order number and habits, and the module's simulator with its connector.
ORDER, confirmation, connector_for = builders.ERPNEXT_ORDER, builders.erpnext_confirmation, builders.erpnext_connector
erpnext_process, erpnext = builders.simulator_fixtures("erpnext", duplicate_error="duplicate_entry")
connector = builders.connector_fixture("erpnext", connector_for)


def read_document(simulator: SimulatorProcess, doctype: str, name: str) -> dict[str, Any]:
    response = requests.get(
        f"{simulator.base_url}/api/resource/{doctype}/{name}",
        headers={"Authorization": f"token {simulator.credentials['token']}"},
        timeout=5,
    )
    assert response.status_code == 200
    return response.json()["data"]


# -- posting -----------------------------------------------------------------------------------


def test_registry_serves_the_erpnext_connector() -> None:
    assert connector_class("erpnext") is ErpNextConnector
    assert ErpNextConnector.kind == "erpnext"


def test_post_submits_a_job_card_with_a_time_log(erpnext: SimulatorProcess, connector: ErpNextConnector) -> None:
    posting = confirmation()

    result = connector.post(posting)

    assert result.outcome == Outcome.ACCEPTED
    assert result.erp_ref == {"doctype": "Job Card", "name": "PO-JOB00001"}
    assert result.erp_document == "PO-JOB00001"
    [entry] = erpnext.control.ledger()
    assert (entry["action"], entry["key"], entry["order"], entry["operation"]) == (
        "post", posting.idempotency_key, ORDER, "Cut"
    )
    assert (entry["yield_qty"], entry["scrap_qty"], entry["document"]) == ("5", "1", "Job Card/PO-JOB00001")
    assert entry["details"]["sequence_id"] == 10
    card = read_document(erpnext, "Job Card", "PO-JOB00001")
    assert (card["docstatus"], card["mes_confirmation_id"], card["workstation"]) == (1, posting.idempotency_key, "WC-CUT")
    assert (card["total_completed_qty"], card["process_loss_qty"], card["for_quantity"]) == (5.0, 1.0, 6.0)
    [log] = card["time_logs"]
    # 08:00 UTC is 16:00 in the plant (Asia/Shanghai); Frappe keeps naive local times.
    assert (log["from_time"], log["to_time"], log["time_in_mins"]) == ("2025-03-01 15:15:00", "2025-03-01 16:00:00", 45.0)
    assert "rework 2.000" in card["remarks"]


def test_operation_as_sequence_sends_the_four_digit_sequence(erpnext: SimulatorProcess) -> None:
    connector = connector_for(erpnext, operation_as="sequence", send_workstation=False)

    assert connector.post(confirmation(operation=20)).outcome == Outcome.ACCEPTED

    card = read_document(erpnext, "Job Card", "PO-JOB00001")
    assert (card["operation"], card["sequence_id"], card.get("workstation")) == ("0020", 20, None)


def test_stock_entry_mode_posts_a_manufacture_entry(erpnext: SimulatorProcess) -> None:
    connector = connector_for(erpnext, mode="stock_entry")
    posting = confirmation(operation=30, good="7.000", scrap="0.000")

    result = connector.post(posting)

    assert result.outcome == Outcome.ACCEPTED
    assert result.erp_ref["doctype"] == "Stock Entry"
    entry = read_document(erpnext, "Stock Entry", result.erp_document)
    assert (entry["purpose"], entry["fg_completed_qty"], entry["mes_operation"]) == ("Manufacture", 7.0, 30)
    assert (entry["posting_date"], entry["posting_time"]) == ("2025-03-01", "16:00:00")
    found = connector.find(posting)
    assert found is not None and found.erp_ref == result.erp_ref
    assert connector.totals(ORDER) == [
        ErpTotals(ORDER, 30, Decimal("7.0"), Decimal("0.0"), Decimal(0), (posting.idempotency_key,))
    ]


# -- duplicates --------------------------------------------------------------------------------


def test_a_resend_is_a_duplicate_with_the_first_document(erpnext: SimulatorProcess, connector: ErpNextConnector) -> None:
    posting = confirmation()
    first = connector.post(posting)

    again = connector.post(posting)

    assert again.outcome == Outcome.DUPLICATE
    assert (again.erp_ref, again.erp_document) == (first.erp_ref, "PO-JOB00001")
    assert len(erpnext.control.ledger()) == 1


def test_frappes_unique_validation_error_on_our_field_is_a_duplicate(
    erpnext: SimulatorProcess, connector: ErpNextConnector
) -> None:
    erpnext.control.set_config(duplicate_error="unique_validation")
    posting = confirmation()
    first = connector.post(posting)

    again = connector.post(posting)

    assert again.outcome == Outcome.DUPLICATE
    assert again.erp_ref == first.erp_ref
    assert len(erpnext.control.ledger()) == 1


# -- reversal ----------------------------------------------------------------------------------


def test_reversal_cancels_the_original_in_the_ledger(erpnext: SimulatorProcess, connector: ErpNextConnector) -> None:
    original = confirmation()
    posted = connector.post(original)
    reversal = reversal_of(original, posted.erp_ref)

    result = connector.post(reversal)

    assert result.outcome == Outcome.ACCEPTED
    assert result.erp_ref == {"doctype": "Job Card", "name": "PO-JOB00001", "cancelled": True}
    cancel = erpnext.control.ledger()[-1]
    assert (cancel["action"], cancel["cancels"], cancel["cancels_key"]) == (
        "cancel", "Job Card/PO-JOB00001", original.idempotency_key
    )
    assert read_document(erpnext, "Job Card", "PO-JOB00001")["docstatus"] == 2
    found = connector.find(reversal)
    assert found is not None and found.outcome == Outcome.ACCEPTED


# -- errors and faults -------------------------------------------------------------------------


def test_a_locked_document_is_retryable(erpnext: SimulatorProcess, connector: ErpNextConnector) -> None:
    erpnext.control.set_faults(locked_orders=[ORDER])

    result = connector.post(confirmation())

    assert (result.outcome, result.http_status) == (Outcome.RETRYABLE, 417)
    assert "DocumentLockedError" in result.error
    assert erpnext.control.ledger() == []


def test_an_answer_slower_than_the_timeout_is_unknown(erpnext: SimulatorProcess) -> None:
    connector = connector_for(erpnext, timeout=0.3)
    erpnext.control.set_faults(latency_ms=600)
    posting = confirmation()

    result = connector.post(posting)

    assert result.outcome == Outcome.UNKNOWN
    erpnext.control.set_faults(latency_ms=0)
    assert len(wait_for_ledger(erpnext, 1)) == 1
    found = connector.find(posting)
    assert found is not None and found.outcome == Outcome.ACCEPTED


def test_a_stopped_work_order_is_rejected_with_the_erp_message(
    erpnext: SimulatorProcess, connector: ErpNextConnector
) -> None:
    erpnext.control.set_faults(rejected_orders=[ORDER])

    result = connector.post(confirmation())

    assert (result.outcome, result.http_status) == (Outcome.REJECTED, 417)
    assert result.error == (
        f"ERPNext HTTP 417: ValidationError: Work Order {ORDER} is Stopped. Please unstop it before making changes."
    )
    assert erpnext.control.ledger() == []


def test_an_operation_ahead_of_its_predecessor_is_rejected_with_the_erp_message(
    erpnext: SimulatorProcess, connector: ErpNextConnector
) -> None:
    created = requests.post(
        f"{erpnext.base_url}/api/resource/Work Order",
        json={
            "name": ORDER,
            "qty": 10,
            "operations": [{"operation": "Cut", "sequence_id": 10}, {"operation": "Weld", "sequence_id": 20}],
            "docstatus": 1,
        },
        headers={"Authorization": f"token {erpnext.credentials['token']}"},
        timeout=5,
    )
    assert created.status_code == 200

    result = connector.post(confirmation(operation=20))

    assert result.outcome == Outcome.REJECTED
    assert "OperationSequenceError" in result.error
    assert "complete the operation Cut before the operation Weld" in result.error


def test_a_wrong_token_is_rejected(erpnext: SimulatorProcess) -> None:
    connector = connector_for(erpnext, token="mes-demo-key:wrong")

    result = connector.post(confirmation())

    assert (result.outcome, result.http_status) == (Outcome.REJECTED, 401)
    assert "Invalid token" in result.error


def test_username_and_password_serve_as_key_and_secret(erpnext: SimulatorProcess) -> None:
    key, secret = erpnext.credentials["token"].split(":")
    connector = ErpNextConnector(
        ConnectionConfig(name="e", kind="erpnext", base_url=erpnext.base_url, username=key, password=secret)
    )

    assert connector.post(confirmation()).outcome == Outcome.ACCEPTED


# -- reconciliation and health ---------------------------------------------------------------


def test_health_names_the_logged_in_user(erpnext: SimulatorProcess, connector: ErpNextConnector) -> None:
    health = connector.health()

    assert health.reachable is True
    assert health.detail == "logged in as mes-integration@example.com"


def test_validate_options_names_each_bad_option() -> None:
    assert ErpNextConnector.validate_options({}) == {}
    assert ErpNextConnector.validate_options({"mode": "job_card", "operation_as": "sequence"}) == {}
    problems = ErpNextConnector.validate_options(
        {"mode": "invoice", "operation_as": "id", "time_source": "wall", "key_field": "Bad Field", "time_zone": "x/y"}
    )
    assert set(problems) == {"mode", "operation_as", "time_source", "key_field", "time_zone"}


def test_the_erp_message_comes_from_server_messages() -> None:
    from erp_sync.connectors.erpnext import _message

    response = requests.Response()
    response.status_code = 417
    response._content = json.dumps(
        {
            "exc_type": "OperationSequenceError",
            "exception": "erpnext...OperationSequenceError: long",
            "_server_messages": json.dumps([json.dumps({"message": "Complete <b>Cut</b> first."})]),
        }
    ).encode()

    assert _message(response) == "OperationSequenceError: Complete Cut first."
