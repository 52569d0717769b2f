"""A gateway that offers no OData ``$batch`` (it answers 404, 405 or 501) is a property of the
connection, not a refusal of the confirmations: they are posted one by one, nothing is
dead-lettered, and the connection remembers it (option ``batch_offered``: false), shown by
``erp_connection test``. Against the SAP simulator with its ``batch_not_offered`` fault."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from erp_sync.connectors.base import ConnectionConfig, Outcome, Posting
from erp_sync.connectors.sap import SapConnector
from erp_sync.dispatcher import dispatch_until_idle
from erp_sync.models import ErpConnection, OutboxMessage
from erp_sync.services import erp_connection_upsert
from mes.models import Event
from mes.services.confirmations import ConfirmationRequest, operation_confirm
from mes.services.master_data import item_upsert, routing_upsert, work_center_upsert
from mes.services.work_orders import work_order_transition, work_order_upsert
from simulators.erp import SimulatorError, SimulatorProcess
from tests.erp_sync.builders import simulator_fixtures

sap_process, sap = simulator_fixtures("sap")


def _requests(sap: SimulatorProcess) -> dict[str, int]:
    return sap.control.health()["counters"]


def _connector(sap: SimulatorProcess, *, url: str | None = None, **options) -> SapConnector:
    return SapConnector(
        ConnectionConfig(
            name="sap-test", kind="sap", base_url=url or sap.service_url,
            username=sap.credentials["user"], password=sap.credentials["password"], options=options, timeout_seconds=5,
        )
    )


def _confirmation(order: str) -> Posting:
    key = str(uuid.uuid4())
    payload = {
        "work_order": order, "operation": 10, "good_qty": "5.000", "scrap_qty": "0.000", "rework_qty": "0.000",
        "unit": "PCS", "final": False, "confirmed_at": "2026-12-01T08:00:00+00:00", "labor_minutes": "30.00",
    }
    return Posting(idempotency_key=key, kind="confirmation", work_order=order, sequence=1, payload=payload)


# --- the simulator's fault ---------------------------------------------------------------


def test_the_simulator_answers_batch_as_a_gateway_without_it_would(sap):
    assert sap.control.set_faults(batch_not_offered=405)["batch_not_offered"] == 405
    with pytest.raises(SimulatorError, match="batch_not_offered must be 0"):
        sap.control.set_faults(batch_not_offered=418)
    assert sap.control.faults()["batch_not_offered"] == 405
    assert sap.control.clear_faults()["batch_not_offered"] == 0


# --- the connector -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 405, 501])
def test_without_batch_each_confirmation_is_posted_alone_and_batch_is_not_tried_again(sap, status):
    sap.control.set_faults(batch_not_offered=status)
    connector = _connector(sap)
    postings = [_confirmation(f"WO-{index}") for index in range(3)]

    first = connector.post_many(postings)
    after_first = _requests(sap)
    second = connector.post_many([_confirmation("WO-7"), _confirmation("WO-8")])
    after_second = _requests(sap)

    assert [result.outcome for result in first + second] == [Outcome.ACCEPTED] * 5
    assert [entry["order"] for entry in sap.control.ledger()] == ["WO-0", "WO-1", "WO-2", "WO-7", "WO-8"]
    assert (connector.batch_offered, connector.batch_size) == (False, 1)
    assert after_first[f"status_{status}"] == 1  # the one $batch
    assert after_second.get(f"status_{status}") == 1 and after_second["requests"] - after_first["requests"] == 2


def test_a_wrong_service_url_is_not_taken_for_a_missing_batch(sap):
    connector = _connector(sap, url=sap.base_url + "/sap/opu/odata/sap/NO_SUCH_SRV", csrf=False)

    results = connector.post_many([_confirmation("WO-0"), _confirmation("WO-1")])

    assert [(result.outcome, result.http_status) for result in results] == [(Outcome.REJECTED, 404)] * 2
    assert (connector.batch_offered, connector.batch_size) == (True, 20)
    assert sap.control.ledger() == []


def test_a_connection_that_remembers_it_posts_one_by_one_from_the_start(sap):
    connector = _connector(sap, batch_offered=False)

    results = connector.post_many([_confirmation("WO-0"), _confirmation("WO-1")])

    assert [result.outcome for result in results] == [Outcome.ACCEPTED] * 2
    assert "status_202" not in _requests(sap)  # no $batch was sent
    assert SapConnector.validate_options({"batch_offered": "no"}) == {"batch_offered": "true or false."}


# --- the dispatcher and the connection -------------------------------------------------------


def _orders(count: int, *, first: int = 1) -> list[str]:
    work_center_upsert(code="WC-A", name="Cut")
    item_upsert(code="FRAME", name="Frame", unit="PCS")
    routing_upsert(item_code="FRAME", operations=[{"sequence": 10, "name": "Cut", "work_center": "WC-A"}])
    numbers = []
    for index in range(first, first + count):
        number = f"WO-{index:03d}"
        work_order_upsert(number=number, item="FRAME", quantity=Decimal(100), due_date=datetime.date(2030, 12, 31))
        work_order_transition(number=number, action="release")
        operation_confirm(request=ConfirmationRequest(client_id=uuid.uuid4(), work_order=number, operation=10, good_qty=Decimal(3)))
        numbers.append(number)
    return numbers


def _test_command(name: str) -> str:
    out = StringIO()
    call_command("erp_connection", "test", name, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_dispatcher_falls_back_to_single_posts_and_the_connection_remembers_it(sap):
    erp_connection_upsert(
        name="plant-sap", kind="sap", base_url=sap.service_url, username=sap.credentials["user"],
        password=sap.credentials["password"], timeout_seconds=5, is_default=True,
    )
    before = _test_command("plant-sap")
    sap.control.set_faults(batch_not_offered=405)
    orders = _orders(6)

    dispatch_until_idle(budget_seconds=30, threads=1)
    more = _orders(4, first=7)
    dispatch_until_idle(budget_seconds=30, threads=1)
    after = _test_command("plant-sap")

    assert list(OutboxMessage.objects.values_list("state", flat=True)) == ["acknowledged"] * 10  # none dead
    assert sorted(entry["order"] for entry in sap.control.ledger()) == orders + more
    assert _requests(sap)["status_405"] == 1  # one $batch answered 405, and never another one
    assert ErpConnection.objects.get().options == {"batch_offered": False}
    assert Event.objects.filter(object_type="erp_connection", object_key="plant-sap", action="batch_not_offered").count() == 1
    assert "OData $batch: up to 20 confirmations of different orders per request." in before
    assert "OData $batch: not offered by this ERP (it answered the batch call as not there)" in after
