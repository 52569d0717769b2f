"""The Odoo connector against the Odoo simulator, a real process on loopback, over JSON-2 and XML-RPC.

One simulator serves the module; each test starts from ``control.reset()``. What every connector
promises alike (find by key, retryable faults, lost answers, reversals, totals) is in ``test_connector_contract.py``. Most tests run
once per protocol (Odoo 19 → JSON-2, Odoo 16 → XML-RPC). No database.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from erp_sync.connectors.base import Outcome
from erp_sync.connectors.odoo import OdooConnector
from erp_sync.connectors.registry import connector_class
from simulators.erp import SimulatorProcess
from tests.erp_sync import builders
from tests.erp_sync.builders import reversal_of, wait_for_ledger

# The builders with Odoo's order number and habits, and the module's simulator (its connector per protocol below).
ORDER, confirmation, connector_for = builders.ODOO_ORDER, builders.odoo_confirmation, builders.odoo_connector
odoo_process, odoo = builders.simulator_fixtures("odoo", autocreate=True)


@pytest.fixture(params=["json2", "xmlrpc"])
def protocol(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def connector(odoo: SimulatorProcess, protocol: str) -> Iterator[OdooConnector]:
    connector = connector_for(odoo, protocol)
    assert connector.protocol == protocol
    yield connector
    connector.close()


def odoo_call(simulator: SimulatorProcess, model: str, method: str, body: dict[str, Any]) -> Any:
    response = requests.post(
        f"{simulator.base_url}/json/2/{model}/{method}",
        json=body,
        headers={"Authorization": f"bearer {simulator.credentials['token']}"},
        timeout=5,
    )
    assert response.status_code == 200, response.text
    return response.json()


def workorder_state(simulator: SimulatorProcess, order: str, operation: str) -> str:
    [row] = odoo_call(
        simulator,
        "mrp.workorder",
        "search_read",
        {"domain": [["production_id.name", "=", order], ["x_mes_operation", "=", operation]], "fields": ["state"]},
    )
    return row["state"]


# -- posting -----------------------------------------------------------------------------------


def test_registry_serves_the_odoo_connector_and_the_version_picks_the_protocol(odoo: SimulatorProcess) -> None:
    assert connector_class("odoo") is OdooConnector
    assert connector_for(odoo, "json2").protocol == "json2"
    assert connector_for(odoo, "xmlrpc").protocol == "xmlrpc"
    assert connector_for(odoo, "json2", version=17).protocol == "xmlrpc"  # JSON-2 arrived with Odoo 19
    assert connector_for(odoo, "xmlrpc", protocol="json2").protocol == "json2"


def test_post_creates_a_time_line_on_the_work_order(odoo: SimulatorProcess, connector: OdooConnector) -> None:
    posting = confirmation()

    result = connector.post(posting)

    assert result.outcome == Outcome.ACCEPTED
    assert result.erp_ref == {"model": "mrp.workcenter.productivity", "id": 1, "workorder_id": 1}
    assert result.erp_document == "mrp.workcenter.productivity/1"
    [entry] = odoo.control.ledger()
    assert (entry["action"], entry["key"], entry["order"], entry["operation"]) == (
        "post", posting.idempotency_key, ORDER, "0010"
    )
    assert (entry["yield_qty"], entry["scrap_qty"], entry["details"]["duration"]) == ("5", "1", "45")
    [line] = odoo_call(odoo, "mrp.workcenter.productivity", "search_read", {"domain": [], "fields": []})
    # 16:00 in Shanghai is 08:00 UTC; Odoo keeps naive UTC.
    assert (line["date_start"], line["date_end"]) == ("2025-03-01 07:15:00", "2025-03-01 08:00:00")
    assert (line["x_mes_qty_produced"], line["x_mes_qty_scrap"]) == (5.0, 1.0)
    assert workorder_state(odoo, ORDER, "0010") == "progress"


def test_a_final_confirmation_finishes_the_work_order(odoo: SimulatorProcess, connector: OdooConnector) -> None:
    result = connector.post(confirmation(final=True))

    assert result.outcome == Outcome.ACCEPTED
    assert [entry["action"] for entry in odoo.control.ledger()] == ["post", "finish"]
    assert workorder_state(odoo, ORDER, "0010") == "done"


def test_the_last_final_confirmation_marks_the_order_done_when_asked(odoo: SimulatorProcess, protocol: str) -> None:
    connector = connector_for(odoo, protocol, mark_done_on_final=True)
    odoo_call(
        odoo,
        "mrp.production",
        "create",
        {
            "vals_list": [
                {
                    "name": ORDER,
                    "product_qty": 5,
                    "workorder_ids": [[0, 0, {"x_mes_operation": "0010"}], [0, 0, {"x_mes_operation": "0020"}]],
                }
            ]
        },
    )

    assert connector.post(confirmation(operation=10, final=True)).outcome == Outcome.ACCEPTED
    assert "mark_done" not in [entry["action"] for entry in odoo.control.ledger()]
    assert connector.post(confirmation(operation=20, final=True)).outcome == Outcome.ACCEPTED

    assert [entry["action"] for entry in odoo.control.ledger()] == ["post", "finish", "post", "finish", "update", "mark_done"]
    [production] = odoo_call(odoo, "mrp.production", "search_read", {"domain": [["name", "=", ORDER]], "fields": ["state"]})
    assert production["state"] == "done"


def test_a_resend_is_a_duplicate_with_the_first_line(odoo: SimulatorProcess, connector: OdooConnector) -> None:
    posting = confirmation()
    first = connector.post(posting)

    again = connector.post(posting)

    assert again.outcome == Outcome.DUPLICATE
    assert again.erp_ref == first.erp_ref
    assert len(odoo.control.ledger()) == 1


def test_an_unknown_work_order_is_rejected(odoo: SimulatorProcess, connector: OdooConnector) -> None:
    odoo.control.set_config(autocreate=False)

    result = connector.post(confirmation())

    assert result.outcome == Outcome.REJECTED
    assert "no work order for operation 0010" in result.error


# -- reversal ----------------------------------------------------------------------------------


def test_reversal_deletes_the_original_line_in_the_ledger(odoo: SimulatorProcess, connector: OdooConnector) -> None:
    original = confirmation()
    posted = connector.post(original)
    reversal = reversal_of(original, posted.erp_ref)
    assert connector.find(reversal) is None

    result = connector.post(reversal)

    assert result.outcome == Outcome.ACCEPTED
    assert result.erp_ref == {"model": "mrp.workcenter.productivity", "unlinked": 1}
    cancel = odoo.control.ledger()[-1]
    assert (cancel["action"], cancel["cancels"], cancel["cancels_key"], cancel["yield_qty"]) == (
        "cancel", "mrp.workcenter.productivity/1", original.idempotency_key, "5"
    )
    found = connector.find(reversal)
    assert found is not None and found.outcome == Outcome.ACCEPTED


# -- errors and faults -------------------------------------------------------------------------


def test_a_concurrency_error_is_retryable(odoo: SimulatorProcess, connector: OdooConnector) -> None:
    connector.post(confirmation())  # the work order exists, so only the write meets the lock
    odoo.control.set_faults(locked_orders=[ORDER])

    result = connector.post(confirmation())

    assert result.outcome == Outcome.RETRYABLE
    assert "ConcurrencyError" in result.error or "could not serialize" in result.error
    assert len(odoo.control.ledger()) == 1


def test_a_final_confirmation_whose_finish_was_lost_is_finished_on_the_resend(
    odoo: SimulatorProcess, connector: OdooConnector
) -> None:
    odoo.control.set_faults(drop_after_commit_rate=1.0)
    posting = confirmation(final=True)
    assert connector.post(posting).outcome == Outcome.UNKNOWN  # the line committed, the finish never ran
    odoo.control.clear_faults()

    assert connector.find(posting) is None  # booked but not finished: the dispatcher sends again
    result = connector.post(posting)

    assert result.outcome == Outcome.DUPLICATE
    assert [entry["action"] for entry in odoo.control.ledger()] == ["post", "finish"]
    assert workorder_state(odoo, ORDER, "0010") == "done"
    found = connector.find(posting)
    assert found is not None and found.outcome == Outcome.ACCEPTED


def test_a_write_slower_than_the_timeout_is_unknown_and_then_found(odoo: SimulatorProcess, protocol: str) -> None:
    connector = connector_for(odoo, protocol, timeout=0.3)
    original = confirmation()
    reversal = reversal_of(original, connector.post(original).erp_ref)  # one call: unlink by the stored id
    odoo.control.set_faults(latency_ms=600)

    result = connector.post(reversal)

    assert result.outcome == Outcome.UNKNOWN
    odoo.control.set_faults(latency_ms=0)
    assert [entry["action"] for entry in wait_for_ledger(odoo, 2)] == ["post", "cancel"]  # the slow ERP did it
    found = connector.find(reversal)
    assert found is not None and found.outcome == Outcome.ACCEPTED


def test_a_read_slower_than_the_timeout_is_retryable(odoo: SimulatorProcess, protocol: str) -> None:
    connector = connector_for(odoo, protocol, timeout=0.3)
    connector.health()  # XML-RPC logs in before the ERP slows down
    odoo.control.set_faults(latency_ms=600)

    result = connector.post(confirmation())  # its first call, the work-order search, times out

    assert result.outcome == Outcome.RETRYABLE
    assert "no answer" in result.error
    time.sleep(0.4)
    assert odoo.control.ledger() == []


def test_a_blocked_order_is_rejected_with_the_erp_message(odoo: SimulatorProcess, connector: OdooConnector) -> None:
    odoo.control.set_faults(rejected_orders=[ORDER])

    result = connector.post(confirmation())

    assert result.outcome == Outcome.REJECTED
    assert f"The manufacturing order {ORDER} is blocked: its components are not available." in result.error
    assert odoo.control.ledger() == []


def test_a_wrong_key_is_rejected(odoo: SimulatorProcess, protocol: str) -> None:
    connector = connector_for(odoo, protocol, key="not-the-key")

    result = connector.post(confirmation())

    assert result.outcome == Outcome.REJECTED
    assert result.http_status == 401
    assert connector.health().reachable is False


# -- reconciliation and health ---------------------------------------------------------------


def test_health_reports_a_reachable_server(odoo: SimulatorProcess, connector: OdooConnector) -> None:
    assert connector.health().reachable is True


def test_validate_options_names_each_bad_option() -> None:
    assert OdooConnector.validate_options({}) == {}
    assert OdooConnector.validate_options({"version": 16, "database": "mes", "mark_done_on_final": True}) == {}
    problems = OdooConnector.validate_options(
        {"version": "nineteen", "protocol": "soap", "duration_source": "wall", "finish_on_final": "yes"}
    )
    assert set(problems) == {"version", "protocol", "duration_source", "finish_on_final"}
