"""A nonconformance's dispositions reach a simulated SAP over real HTTP: a scrap is booked as a
confirmation with the defect code's variance reason; a return to the supplier, which no connector
books, is dead-lettered at once with a message saying so, never sent, and holds up nothing else.

SAP (and its simulator) refuses a confirmation of an operation already finally confirmed: a scrap
decided after the operation's final report is dead-lettered there with SAP's message, to be booked
by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from erp_sync.dispatcher import dispatch_until_idle
from erp_sync.models import OutboxMessage
from mes.models import Item, ReasonCode
from mes.services.dispositions import DispositionRequest, nonconformance_disposition
from mes.services.master_data import lot_upsert
from mes.services.nonconformances import NonconformanceRequest, nonconformance_open
from mes.services.work_orders import work_order_transition
from simulators.erp import start_simulator
from tests.conftest import ORDER
from tests.erp_sync.builders import simulator_connection
from tests.factories import ReasonCodeFactory
from tests.helpers import confirm

pytestmark = [pytest.mark.subprocess, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_scrap_disposition_is_booked_in_sap_and_a_return_to_supplier_is_dead_lettered(planned_order):
    Item.objects.filter(code="TUBE-20").update(tracking=Item.Tracking.LOT)
    lot_upsert(item_code="TUBE-20", lot_code="T-7", quantity=Decimal("100"))
    ReasonCodeFactory(code="DEF-CRACK", kind=ReasonCode.Kind.DEFECT, name="Crack")
    work_order_transition(number=ORDER, action="release")
    confirm(good_qty=10)  # not final: SAP takes no more confirmations of a finally confirmed operation
    scrapped = nonconformance_open(request=NonconformanceRequest(ORDER, 10, Decimal(2), "DEF-CRACK"))
    returned = nonconformance_open(request=NonconformanceRequest(ORDER, 10, Decimal(1), "DEF-CRACK", lot="T-7"))
    nonconformance_disposition(nonconformance_id=scrapped.pk, request=DispositionRequest(disposition="scrap", reason="cracked"))
    nonconformance_disposition(
        nonconformance_id=returned.pk, request=DispositionRequest(disposition="return_to_supplier", reason="tube wall too thin")
    )
    confirm(operation=20, good_qty=7)  # after the dispositions, in the order's queue

    with start_simulator("sap") as sap:
        simulator_connection(sap, reason_code_map={"DEF-CRACK": "DC01"})
        dispatch_until_idle(budget_seconds=30)
        ledger = sap.control.ledger()

    booked = [(entry["operation"], entry["yield_qty"], entry["scrap_qty"]) for entry in ledger if entry["action"] == "post"]
    assert booked == [("0010", "10", "0"), ("0010", "0", "2"), ("0020", "7", "0")]
    states = dict(OutboxMessage.objects.values_list("kind", "state").filter(kind="return_to_supplier"))
    assert states == {"return_to_supplier": "dead"}
    dead = OutboxMessage.objects.get(kind="return_to_supplier")
    assert "does not book return_to_supplier messages" in dead.last_error
    assert set(OutboxMessage.objects.exclude(kind="return_to_supplier").values_list("state", flat=True)) == {"acknowledged"}
