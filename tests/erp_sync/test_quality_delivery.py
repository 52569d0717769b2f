"""Quality reaches the ERP through the outbox, in the order's sequence, over real HTTP to the simulators.

A bracket order with a first-piece length check on operation 10: the first piece measures out of
the limits (an NCR opens), quality scraps it with a defect code, the second piece passes, 5 good
are reported. SAP hears the scrap as a confirmation carrying the defect code's variance reason and
is sent neither the results nor the decision (acknowledged without a call, saying why). ERPNext
books each result as a submitted Quality Inspection with its reading and the decision as a Non
Conformance, each exactly once although every answer to a write is lost on the way back."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from erp_sync.dispatcher import dispatch_until_idle
from erp_sync.models import OutboxMessage
from mes.models import Nonconformance, ReasonCode
from mes.services.dispositions import DispositionRequest, nonconformance_disposition
from mes.services.quality import InspectionRequest, inspection_plan_set, inspection_record
from mes.services.work_orders import work_order_transition
from simulators.erp import start_simulator
from tests.conftest import ITEM, ORDER
from tests.erp_sync.builders import simulator_connection
from tests.factories import ReasonCodeFactory, UnitOfMeasureFactory
from tests.helpers import confirm

pytestmark = [pytest.mark.subprocess, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LENGTH = {
    "code": "LEN", "name": "Length", "kind": "measured", "nominal": Decimal("100"), "lower_limit": Decimal("99.5"),
    "upper_limit": Decimal("100.5"), "unit": "MM", "sampling": {"rule": "first_piece", "n": None}, "mandatory": True,
}


def _measure(value: str) -> None:
    inspection_record(request=InspectionRequest(client_id=uuid.uuid4(), work_order=ORDER, operation=10, characteristic="LEN", value=Decimal(value)))


@pytest.fixture
def inspected(planned_order, quality):
    """The walk: a failing first piece scrapped with DEF-LEN by the quality user, a passing one, 5 good reported."""
    UnitOfMeasureFactory(code="MM")
    ReasonCodeFactory(code="DEF-LEN", kind=ReasonCode.Kind.DEFECT, name="Length out of tolerance")
    inspection_plan_set(item_code=ITEM, sequence=10, characteristics=[LENGTH])
    work_order_transition(number=ORDER, action="release")
    _measure("101.2")
    nonconformance = Nonconformance.objects.get()
    nonconformance_disposition(
        nonconformance_id=nonconformance.pk, request=DispositionRequest(disposition="scrap", reason="too long to save", defect_code="DEF-LEN"),
        actor=quality.user,
    )
    _measure("100.1")
    confirm(good_qty=5)
    return nonconformance


def _kinds() -> list[str]:
    return list(OutboxMessage.objects.filter(partition_key=ORDER).order_by("sequence").values_list("kind", flat=True))


def test_the_quality_messages_are_queued_in_the_orders_sequence(inspected):
    assert _kinds() == ["inspection_result", "confirmation", "nonconformance_disposition", "inspection_result", "confirmation"]
    disposition = OutboxMessage.objects.get(kind="nonconformance_disposition").payload
    assert (disposition["disposition"], disposition["quantity"], disposition["defect_code"], disposition["approved_by"]) == (
        "scrap", "1", "DEF-LEN", "inspector-liu",
    )
    failed = OutboxMessage.objects.filter(kind="inspection_result").order_by("sequence").first().payload
    assert (failed["value"], failed["passed"], failed["lower_limit"], failed["upper_limit"], failed["unit"]) == ("101.2", False, "99.5", "100.5", "MM")


def test_a_failing_result_scrapped_reaches_sap_as_scrap_with_its_reason_and_nothing_else_is_sent(inspected):
    with start_simulator("sap") as sap:
        simulator_connection(sap, reason_code_map={"DEF-LEN": "DL01"})
        dispatch_until_idle(budget_seconds=30)
        ledger = sap.control.ledger()

    booked = [(entry["operation"], entry["yield_qty"], entry["scrap_qty"], entry["details"]["VarianceReasonCode"]) for entry in ledger]
    assert booked == [("0010", "0", "1", "DL01"), ("0010", "5", "0", "")]
    assert set(OutboxMessage.objects.values_list("state", flat=True)) == {"acknowledged"}
    for message in OutboxMessage.objects.exclude(kind="confirmation"):
        assert message.erp_ref["not_sent"] is True, message.kind
        assert message.erp_document == "not sent to sap (kept in the MES)"


def test_erpnext_books_each_inspection_and_the_nonconformance_exactly_once_though_every_answer_is_lost(inspected):
    with start_simulator("erpnext") as erpnext:
        simulator_connection(erpnext)
        erpnext.control.set_faults(drop_after_commit_rate=1.0)
        for _round in range(12):  # each write is booked, its answer lost; the next round finds it by its key
            dispatch_until_idle(budget_seconds=30)
            if not OutboxMessage.objects.exclude(state="acknowledged").exists():
                break
            OutboxMessage.objects.exclude(state="acknowledged").update(next_attempt_at=timezone.now())
        ledger = erpnext.control.ledger()

    assert set(OutboxMessage.objects.values_list("state", flat=True)) == {"acknowledged"}
    keys = [entry["key"] for entry in ledger]
    assert sorted(keys) == sorted(str(key) for key in OutboxMessage.objects.values_list("idempotency_key", flat=True))
    assert all(entry["response_dropped"] for entry in ledger)
    by_type = [entry["document_type"] for entry in ledger]
    assert by_type == ["Quality Inspection", "Job Card", "Non Conformance", "Quality Inspection", "Job Card"]
    failed, passed = (entry for entry in ledger if entry["document_type"] == "Quality Inspection")
    assert (failed["order"], failed["operation"], failed["details"]["status"], failed["details"]["item_code"]) == (ORDER, "0010", "Rejected", ITEM)
    assert failed["details"]["readings"] == [{"specification": "LEN", "status": "Rejected", "reading_1": "101.2", "min_value": 99.5, "max_value": 100.5}]
    assert passed["details"]["status"] == "Accepted"
    assert passed["details"]["reference"].startswith("Job Card/")  # the scrap's Job Card, the operation's report before it
    (non_conformance,) = (entry for entry in ledger if entry["document_type"] == "Non Conformance")
    assert non_conformance["order"] == ORDER
    assert non_conformance["details"]["status"] == "Resolved"
    assert non_conformance["details"]["subject"] == f"MES NCR {inspected.pk} {ORDER}/0010: scrap 1 PCS"
    assert non_conformance["details"]["corrective_action"] == "scrap 1 PCS: too long to save (approved by inspector-liu)"
    assert "Defect: DEF-LEN Length out of tolerance" in non_conformance["details"]["details"]


def test_a_b2mml_folder_gets_the_reports_and_passes_the_quality_records_over(inspected, tmp_path):
    from django.core.management import call_command

    call_command("erp_connection", "add", "files", "--kind", "b2mml", "--url", tmp_path.as_uri(), "--default")
    dispatch_until_idle(budget_seconds=30, threads=1)

    assert set(OutboxMessage.objects.values_list("state", flat=True)) == {"acknowledged"}  # nothing held up the order
    written = sorted(path.name for path in tmp_path.iterdir())
    reports = OutboxMessage.objects.filter(kind="confirmation")
    assert written == sorted(f"ProcessOperationsPerformance-{message.idempotency_key}.xml" for message in reports)
    for message in OutboxMessage.objects.exclude(kind="confirmation"):
        assert message.erp_ref["not_sent"] is True, message.kind
        assert message.erp_document == "not sent to b2mml (kept in the MES)"
