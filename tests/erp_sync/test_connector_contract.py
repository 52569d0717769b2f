"""What every ERP connector promises the dispatcher, checked against each simulator on loopback
(SAP, ERPNext, Odoo over JSON-2 and over XML-RPC, Kingdee with a password and signed, U8 by biz_id and by tradeid): a posting is found again by our key; an ERP
that fails or is down is worth retrying; an answer lost after the ERP booked is unknown until our
key finds the booking; a reversal finds its original without a stored reference and, sent twice,
cancels once; totals count what is booked and not cancelled, per operation of one order. What each ERP does beyond that is in its own ``test_connector_<erp>.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from erp_sync.connectors.base import Connector, ErpTotals, Outcome, Posting
from simulators.erp import SimulatorProcess
from tests.erp_sync.builders import (
    ERPNEXT_ORDER,
    KINGDEE_ORDER,
    ODOO_ORDER,
    SAP_ORDER,
    U8_ORDER,
    erpnext_confirmation,
    erpnext_connector,
    kingdee_confirmation,
    kingdee_connector,
    odoo_confirmation,
    odoo_connector,
    reversal_of,
    sap_confirmation,
    sap_connector,
    simulator_fixtures,
    u8_confirmation,
    u8_connector,
)

sap_process, sap = simulator_fixtures("sap", dedupe="off")
erpnext_process, erpnext = simulator_fixtures("erpnext", duplicate_error="duplicate_entry")
odoo_process, odoo = simulator_fixtures("odoo", autocreate=True)
kingdee_process, kingdee = simulator_fixtures("kingdee", session_ttl_s=1200.0)
u8_process, u8 = simulator_fixtures("u8", token_ttl_s=7200.0, async_delay_ms=30, biz_id_dedupe="replay")


@dataclass(frozen=True)
class Erp:
    """One simulated ERP with a connector to it, and how it names its first booking."""

    simulator: SimulatorProcess
    connector: Connector
    confirmation: Callable[..., Posting]
    first_document: str  # the erp_document of the first booking
    first_ref: dict[str, Any]  # its erp_ref
    first_in_ledger: str  # how the simulator's ledger names it
    order: str  # the order ``confirmation`` books on
    other_order: str  # an order it may book on as well


ERPS = {
    "sap": lambda simulator: Erp(
        simulator, sap_connector(simulator), sap_confirmation,
        "1000/1", {"ConfirmationGroup": "1000", "ConfirmationCount": "1"}, "1000/1", SAP_ORDER, "OTHER",
    ),
    "erpnext": lambda simulator: Erp(
        simulator, erpnext_connector(simulator), erpnext_confirmation,
        "PO-JOB00001", {"doctype": "Job Card", "name": "PO-JOB00001"}, "Job Card/PO-JOB00001",
        ERPNEXT_ORDER, "MFG-WO-2025-00099",
    ),
    **{
        f"odoo-{via}": lambda simulator, via=via: Erp(
            simulator, odoo_connector(simulator, via), odoo_confirmation,
            "mrp.workcenter.productivity/1", {"model": "mrp.workcenter.productivity", "id": 1, "workorder_id": 1},
            "mrp.workcenter.productivity/1", ODOO_ORDER, "WH/MO/00099",
        )
        for via in ("json2", "xmlrpc")
    },
    # Saved only: a bill found by our key but not yet audited is finished by post(), not found (test_connector_kingdee).
    **{
        f"kingdee-{access}": lambda simulator, access=access: Erp(
            simulator, kingdee_connector(simulator, signed=access == "signed", submit_and_audit=False), kingdee_confirmation,
            "SCHB00000001", {"form": "PRD_MORPT", "id": 100001, "number": "SCHB00000001"}, "PRD_MORPT/SCHB00000001",
            KINGDEE_ORDER, "MO000099",
        )
        for access in ("password", "signed")
    },
    **{
        f"u8-{idempotency}": lambda simulator, idempotency=idempotency: Erp(
            simulator, u8_connector(simulator, idempotency=idempotency), u8_confirmation,
            "productin/0000000001", {"object": "productin", "id": "1", "code": "0000000001"}, "productin/0000000001",
            U8_ORDER, "0000000099",
        )
        for idempotency in ("biz_id", "tradeid")
    },
}


#: Each test talks to each ERP's simulator, a process of its own.
pytestmark = pytest.mark.subprocess


@pytest.fixture(params=list(ERPS))
def erp(request: pytest.FixtureRequest) -> Iterator[Erp]:
    simulator = request.getfixturevalue(request.param.partition("-")[0])
    erp = ERPS[request.param](simulator)
    yield erp
    erp.connector.close()


def test_find_by_our_key_after_a_post(erp: Erp) -> None:
    posting = erp.confirmation()
    posted = erp.connector.post(posting)

    found = erp.connector.find(posting)

    assert found is not None
    assert (found.outcome, found.erp_ref, found.erp_document) == (Outcome.ACCEPTED, posted.erp_ref, erp.first_document)
    assert erp.connector.find(erp.confirmation()) is None


def test_a_repeated_reversal_is_a_duplicate_and_cancels_nothing_more(erp: Erp) -> None:
    original = erp.confirmation()
    reversal = reversal_of(original, erp.connector.post(original).erp_ref)
    first = erp.connector.post(reversal)

    again = erp.connector.post(reversal)

    assert again.outcome == Outcome.DUPLICATE
    assert again.erp_ref == first.erp_ref
    assert [entry["action"] for entry in erp.simulator.control.ledger()] == ["post", "cancel"]


def test_reversal_without_a_stored_reference_looks_the_original_up(erp: Erp) -> None:
    original = erp.confirmation()
    erp.connector.post(original)
    reversal = reversal_of(original, None)

    assert erp.connector.find(reversal) is None
    result = erp.connector.post(reversal)

    assert result.outcome == Outcome.ACCEPTED
    cancel = erp.simulator.control.ledger()[-1]
    assert (cancel["action"], cancel["cancels"], cancel["cancels_key"]) == ("cancel", erp.first_in_ledger, original.idempotency_key)


def test_server_errors_are_retryable(erp: Erp) -> None:
    erp.connector.health()  # a session or token is had before the ERP starts failing
    erp.simulator.control.set_faults(error_rate=1.0)

    result = erp.connector.post(erp.confirmation())

    assert result.outcome == Outcome.RETRYABLE
    assert result.http_status in (500, 502, 503)
    assert erp.simulator.control.ledger() == []


def test_an_erp_that_is_down_is_retryable_until_it_is_back(erp: Erp) -> None:
    erp.simulator.control.set_faults(down=True)

    result = erp.connector.post(erp.confirmation())

    assert result.outcome == Outcome.RETRYABLE
    assert erp.connector.health().reachable is False
    erp.simulator.control.set_faults(down=False)
    assert erp.connector.post(erp.confirmation()).outcome == Outcome.ACCEPTED


def test_a_dropped_answer_is_unknown_and_find_then_reports_the_booking(erp: Erp) -> None:
    erp.connector.health()
    erp.simulator.control.set_faults(drop_after_commit_rate=1.0)
    posting = erp.confirmation()

    result = erp.connector.post(posting)

    assert result.outcome == Outcome.UNKNOWN
    erp.simulator.control.clear_faults()
    found = erp.connector.find(posting)
    assert found is not None
    assert (found.outcome, found.erp_ref, found.erp_document) == (Outcome.ACCEPTED, erp.first_ref, erp.first_document)
    [entry] = erp.simulator.control.ledger()
    assert entry["response_dropped"] is True


def test_totals_sum_what_is_booked_and_not_cancelled_per_operation(erp: Erp) -> None:
    first = erp.confirmation(operation=10, good="5.000", scrap="1.000")
    second = erp.confirmation(operation=10, good="3.500", scrap="0.000")
    third = erp.confirmation(operation=20, good="4.000", scrap="0.500")
    posted = {posting.idempotency_key: erp.connector.post(posting) for posting in (first, second, third)}
    erp.connector.post(reversal_of(second, posted[second.idempotency_key].erp_ref))
    erp.connector.post(erp.confirmation(operation=10, order=erp.other_order))

    totals = erp.connector.totals(erp.order)

    assert totals == [
        ErpTotals(erp.order, 10, Decimal("5.000"), Decimal("1.000"), Decimal(0), (first.idempotency_key,)),
        ErpTotals(erp.order, 20, Decimal("4.000"), Decimal("0.500"), Decimal(0), (third.idempotency_key,)),
    ]
