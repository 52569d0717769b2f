"""Reconciliation: MES and ERP totals compared per order and operation, drifts recorded once, repaired on request.

The end-to-end tests run the real dispatcher against a real simulated ERP on loopback; drift is
made the way it happens in a plant: a message the MES believes acknowledged that never
arrived, a posting made in the ERP by hand, a dead message given up on.
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from io import StringIO

import pytest
import requests
from django.core.management import call_command
from django.utils import translation

from common.errors import DomainError, ErrorKind
from erp_sync import tasks
from erp_sync.connectors.base import ErpTotals, Outcome, Posting
from erp_sync.connectors.registry import connector_class
from erp_sync.models import Drift, ErpConnection, OutboxMessage, ReconciliationRun
from erp_sync.reconciliation import (
    MessageFacts,
    Quantities,
    compare,
    drift_get,
    drift_list,
    drift_repair,
    reconcile,
)
from erp_sync.services import erp_connection_upsert, message_discard
from mes.models import Event
from mes.services.confirmations import ConfirmationRequest, confirmation_reverse, operation_confirm
from simulators.erp import start_simulator
from tests.conftest import ORDER
from tests.erp_sync.builders import simulator_connection
from tests.helpers import Dispatcher


@pytest.fixture(autouse=True)
def in_english(settings):
    """These tests read the explanations a person gets; they read them in English."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def quick_backoff(settings):
    settings.ERP_SYNC_BACKOFF_BASE_SECONDS = 0.05
    settings.ERP_SYNC_BACKOFF_CAP_SECONDS = 0.5


# --- helpers ------------------------------------------------------------------------------


def _connect(simulator) -> ErpConnection:
    sap_codes = {"reason_code_map": {"SCRAP-01": "SC01"}} if simulator.flavor == "sap" else {}  # SAP's have four characters
    return simulator_connection(simulator, **sap_codes)


def _confirm(operation: int, good: str, *, scrap: str = "0") -> OutboxMessage:
    request = ConfirmationRequest(
        client_id=uuid.uuid4(), work_order=ORDER, operation=operation, good_qty=Decimal(good), scrap_qty=Decimal(scrap),
        reason_code="SCRAP-01" if Decimal(scrap) else "",
    )
    confirmation = operation_confirm(request=request).confirmation
    return OutboxMessage.objects.get(source_uuid=confirmation.uuid)




def _deliver_everything(timeout: float = 30.0) -> None:
    with Dispatcher(threads=4):
        deadline = time.monotonic() + timeout
        while OutboxMessage.objects.exclude(state__in=["acknowledged", "dead", "discarded"]).exists():
            assert time.monotonic() < deadline, list(OutboxMessage.objects.values_list("sequence", "state", "last_error"))
            time.sleep(0.1)


def _post_in_erp_by_hand(connection_row: ErpConnection, template: OutboxMessage, *, good: str) -> str:
    """Book a confirmation straight in the ERP under a key the MES never issued; returns that key."""
    key = str(uuid.uuid4())
    connector = connector_class(connection_row.kind)(connection_row.as_config())
    try:
        payload = {**template.payload, "idempotency_key": key, "confirmation_id": key, "good_qty": good, "scrap_qty": "0.000", "final": False}
        result = connector.post(Posting(idempotency_key=key, kind="confirmation", work_order=ORDER, sequence=999, payload=payload))
    finally:
        connector.close()
    assert result.outcome == Outcome.ACCEPTED, result
    return key


def _sap_keyless_posting(simulator, *, operation: int, good: str) -> None:
    """What a clerk typing into SAP does: a confirmation with no external key at all."""
    session = requests.Session()
    session.auth = (simulator.credentials["user"], simulator.credentials["password"])
    fetched = session.get(f"{simulator.service_url}/ProdnOrdConf2", params={"$top": "1"}, headers={"X-CSRF-Token": "Fetch"}, timeout=5)
    body = {
        "OrderID": ORDER, "OrderOperation": f"{operation:04d}", "Sequence": "0",
        "ConfirmationYieldQuantity": good, "ConfirmationScrapQuantity": "0", "ConfirmationReworkQuantity": "0",
    }
    response = session.post(
        f"{simulator.service_url}/ProdnOrdConf2", json=body, headers={"X-CSRF-Token": fetched.headers["X-CSRF-Token"]}, timeout=5
    )
    assert response.status_code == 201, response.text
    session.close()


def _open_drifts() -> list[tuple[str, int, str]]:
    return sorted(Drift.objects.filter(status="open").values_list("kind", "operation", "key"))


# --- comparing (no database, no network) ----------------------------------------------------


def _facts(number: int, state: str, *, operation: int = 10, good: str = "2", kind: str = "confirmation", reverses: str | None = None) -> MessageFacts:
    quantities = Quantities(Decimal(good), Decimal(0), Decimal(0))
    return MessageFacts(
        id=number, key=f"k{number}", kind=kind, state=state, sequence=number, operation=operation,
        quantities=quantities, reverses_key=reverses,
    )


def _erp(operation: int, good: str, *keys: str, rework: str = "0") -> ErpTotals:
    return ErpTotals(ORDER, operation, Decimal(good), Decimal(0), Decimal(rework), tuple(keys))


def test_compare_accepts_messages_on_their_way_whether_or_not_the_erp_holds_them_yet():
    messages = [
        _facts(1, "acknowledged"),
        _facts(2, "sending"),  # booked, answer not back yet
        _facts(3, "queued"),  # not sent yet
        _facts(4, "acknowledged"),
        _facts(5, "retrying", kind="reversal", good="-2", reverses="k4"),  # the cancel may or may not have happened
    ]

    assert compare(messages, [_erp(10, "4", "k1", "k2")]) == []
    assert compare(messages, [_erp(10, "6", "k1", "k2", "k4")]) == []


def test_compare_names_missing_extra_and_duplicated_postings_and_leaves_explained_quantities_alone():
    messages = [
        _facts(1, "acknowledged"),
        _facts(2, "discarded"),  # given up on: the MES still counts it, the ERP never got it
        _facts(3, "acknowledged"),
        _facts(4, "discarded", kind="reversal", good="-2", reverses="k3"),  # the MES took k3 back; the ERP did not hear
        _facts(5, "acknowledged"),
    ]
    totals = [_erp(10, "9", "k1", "k3", "k5", "k5", "manual-1")]  # k5 twice, plus 1 booked by hand

    found = compare(messages, totals)

    assert [(drift.kind, drift.key, drift.detail.get("cause")) for drift in found] == [
        ("missing_in_erp", "k2", None),
        ("extra_in_erp", "k3", "reversed_in_mes"),
        ("extra_in_erp", "k5", "duplicate"),
        ("extra_in_erp", "manual-1", "unknown_to_mes"),
    ]
    assert {(drift.mes.good, drift.erp.good) for drift in found} == {(Decimal(6), Decimal(9))}


def test_compare_reports_a_quantity_difference_no_key_explains():
    messages = [_facts(1, "acknowledged", good="2"), _facts(2, "acknowledged", operation=20, good="1")]

    found = compare(messages, [_erp(10, "5", "k1"), _erp(20, "1", "k2")])

    assert [(drift.kind, drift.operation, drift.detail) for drift in found] == [
        ("quantity_drift", 10, {"unexplained_difference": {"good": "3", "scrap": "0", "rework": "0"}}),
    ]


def test_compare_ignores_rework_where_the_erp_does_not_track_it():
    message = MessageFacts(1, "k1", "confirmation", "acknowledged", 1, 10, Quantities(Decimal(2), Decimal(0), Decimal(1)))

    assert compare([message], [_erp(10, "2", "k1")], tracks_rework=False) == []
    assert [drift.kind for drift in compare([message], [_erp(10, "2", "k1")], tracks_rework=True)] == ["quantity_drift"]


# --- end to end against the simulator -------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("flavor", ["sap", "erpnext", "odoo", "kingdee", "u8"])
@pytest.mark.subprocess
def test_everything_delivered_means_no_drift(flavor, released_order):
    with start_simulator(flavor) as simulator:
        _connect(simulator)
        _confirm(10, "3", scrap="1")
        reversed_message = _confirm(10, "2")
        _confirm(20, "2")
        confirmation_reverse(confirmation_id=reversed_message.source_uuid, reason="counted twice")
        _deliver_everything()

        run = reconcile()

    assert (run.orders_checked, run.orders_failed, run.drifts_open, run.drifts_new) == (1, 0, 0, 0)
    assert run.finished_at is not None and run.failures == []
    assert Drift.objects.count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.subprocess
def test_acknowledged_but_never_sent_is_missing_and_repair_sends_it(released_order, supervisor):
    with start_simulator("sap") as simulator:
        _connect(simulator)
        _confirm(10, "2")
        _deliver_everything()
        lost = _confirm(10, "3")
        # The MES believes it arrived; the ERP never heard of it.
        OutboxMessage.objects.filter(pk=lost.pk).update(state="acknowledged", erp_document="0/0")

        run = reconcile()

        drift = Drift.objects.get()
        assert (run.drifts_open, run.drifts_new) == (1, 1)
        assert (drift.kind, drift.operation, drift.key, drift.message_id) == ("missing_in_erp", 10, str(lost.idempotency_key), lost.pk)
        assert (drift.mes_good_qty, drift.erp_good_qty, drift.erp_rework_qty) == (Decimal(5), Decimal(2), Decimal(0))
        assert drift.detail == {"mes_state": "acknowledged", "sequence": 2}

        drift_repair(drift_id=drift.pk, reason="lost on the way to SAP", actor=supervisor.user)

        lost.refresh_from_db()
        drift.refresh_from_db()
        assert (lost.state, lost.needs_lookup, lost.erp_document, lost.acknowledged_at) == ("retrying", True, "", None)
        assert (drift.status, drift.repaired_by, drift.repair_reason) == ("open", supervisor.user, "lost on the way to SAP")
        events = {event.object_type: event for event in Event.objects.filter(action__in=["repair", "resend"])}
        assert set(events) == {"erp_drift", "outbox_message"}
        assert events["erp_drift"].before["message"]["state"] == "acknowledged"
        assert events["erp_drift"].after["message"] == {"state": "retrying", "needs_lookup": True, "erp_document": "", "acknowledged_at": None}
        assert events["erp_drift"].reason == "lost on the way to SAP" and events["erp_drift"].actor == supervisor.user

        again = reconcile()  # sent again but not delivered yet: still open, not resolved
        assert (again.drifts_open, again.drifts_new, again.drifts_resolved) == (1, 0, 0)

        _deliver_everything()
        lost.refresh_from_db()
        assert lost.state == "acknowledged"
        assert list(lost.deliveries.values_list("action", "outcome")) == [("lookup", "not_found"), ("post", "accepted")]
        assert [entry["key"] for entry in simulator.control.ledger()].count(str(lost.idempotency_key)) == 1

        clean = reconcile()

    drift.refresh_from_db()
    assert (clean.drifts_open, clean.drifts_resolved) == (0, 1)
    assert (drift.status, drift.resolved_at is not None) == ("resolved", True)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("flavor", ["sap", "erpnext", "odoo", "kingdee", "u8"])
@pytest.mark.subprocess
def test_posting_made_in_the_erp_by_hand_is_extra_and_repair_cancels_it(flavor, released_order, supervisor):
    with start_simulator(flavor) as simulator:
        connection_row = _connect(simulator)
        template = _confirm(10, "2")
        _deliver_everything()
        manual_key = _post_in_erp_by_hand(connection_row, template, good="4.000")

        run = reconcile()

        drift = Drift.objects.get()
        assert run.drifts_open == 1
        assert (drift.kind, drift.operation, drift.key, drift.message_id) == ("extra_in_erp", 10, manual_key, None)
        assert drift.detail == {"cause": "unknown_to_mes", "copies": 1, "mes_state": None}
        assert (drift.mes_good_qty, drift.erp_good_qty) == (Decimal(2), Decimal(6))
        assert drift.erp_rework_qty == (Decimal(0) if flavor in ("sap", "kingdee") else None)  # ERPNext and Odoo keep no rework

        drift_repair(drift_id=drift.pk, reason="booked twice by the night shift", actor=supervisor.user)

        drift.refresh_from_db()
        cancellation = OutboxMessage.objects.get(kind="reversal")
        assert drift.repaired_at is not None and drift.repair_result.startswith("Cancellation queued: message #2")
        assert (cancellation.state, cancellation.idempotency_key, cancellation.sequence) == ("queued", drift.repair_key, 2)
        assert cancellation.payload["reverses"] == {"idempotency_key": manual_key}
        event = Event.objects.get(object_type="erp_drift", action="repair")
        assert (event.before["status"], event.reason) == ("open", "booked twice by the night shift")
        assert event.after["cancellation"] == {"idempotency_key": str(drift.repair_key), "sequence": 2}
        assert reconcile().drifts_open == 1  # queued, not sent yet: the ERP still holds it

        _deliver_everything()  # the dispatcher sends the cancellation like every other ERP write
        clean = reconcile()

    drift.refresh_from_db()
    assert (clean.drifts_open, clean.drifts_resolved) == (0, 1)
    assert drift.status == "resolved"
    assert OutboxMessage.objects.get(kind="reversal").state == "acknowledged"


@pytest.mark.django_db(transaction=True)
@pytest.mark.subprocess
def test_reversal_the_erp_never_got_leaves_an_extra_posting_that_repair_cancels(released_order, supervisor):
    with start_simulator("sap") as simulator:
        _connect(simulator)
        kept = _confirm(10, "2")
        taken_back = _confirm(10, "3")
        _deliver_everything()
        simulator.control.set_faults(rejected_orders=[ORDER])
        confirmation_reverse(confirmation_id=taken_back.source_uuid, reason="wrong order")
        _deliver_everything()
        reversal = OutboxMessage.objects.get(kind="reversal")
        message_discard(message_id=reversal.pk, reason="SAP refuses; sort it out later")
        simulator.control.clear_faults()

        reconcile()

        drift = Drift.objects.get()
        assert (drift.kind, drift.key, drift.message_id) == ("extra_in_erp", str(taken_back.idempotency_key), taken_back.pk)
        assert drift.detail == {"cause": "reversed_in_mes", "copies": 1, "mes_state": "acknowledged", "sequence": 2}
        assert (drift.mes_good_qty, drift.erp_good_qty) == (Decimal(2), Decimal(5))

        drift = drift_repair(drift_id=drift.pk, reason="the reversal was discarded", actor=supervisor.user)
        with pytest.raises(DomainError) as twice:
            drift_repair(drift_id=drift.pk, reason="the reversal was discarded", actor=supervisor.user)
        _deliver_everything()
        clean = reconcile()
        cancels = [entry for entry in simulator.control.ledger() if entry["action"] == "cancel"]

    assert clean.drifts_open == 0
    assert [(entry["cancels_key"], entry["key"]) for entry in cancels] == [(str(taken_back.idempotency_key), str(drift.repair_key))]
    assert twice.value.code == "cancellation_queued"
    assert OutboxMessage.objects.filter(kind="reversal").count() == 2  # the discarded reversal, and one cancellation
    assert OutboxMessage.objects.get(pk=kept.pk).state == "acknowledged"


@pytest.mark.django_db(transaction=True)
@pytest.mark.subprocess
def test_running_again_records_each_drift_once(released_order):
    with start_simulator("sap") as simulator:
        connection_row = _connect(simulator)
        template = _confirm(10, "2")
        _deliver_everything()
        _post_in_erp_by_hand(connection_row, template, good="1.000")

        first = reconcile()
        found_at = Drift.objects.get().found_at
        second = reconcile()
        third = reconcile(work_order=ORDER)

    assert (first.drifts_new, second.drifts_new, third.drifts_new) == (1, 0, 0)
    assert (first.drifts_open, second.drifts_open, third.drifts_open) == (1, 1, 1)
    drift = Drift.objects.get()
    assert (drift.found_at, drift.first_run_id, drift.last_run_id) == (found_at, first.pk, third.pk)
    assert ReconciliationRun.objects.count() == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.subprocess
def test_discarded_dead_message_is_missing_in_the_erp(released_order):
    with start_simulator("sap") as simulator:
        _connect(simulator)
        simulator.control.set_faults(rejected_orders=[ORDER])
        rejected = _confirm(10, "2")
        _deliver_everything()
        assert OutboxMessage.objects.get(pk=rejected.pk).state == "dead"

        assert reconcile().drifts_open == 0  # dead: on the dead-letter list, not a drift yet
        message_discard(message_id=rejected.pk, reason="will book it by hand")
        run = reconcile()

    assert run.drifts_open == 1
    assert _open_drifts() == [("missing_in_erp", 10, str(rejected.idempotency_key))]
    assert Drift.objects.get().detail["mes_state"] == "discarded"


@pytest.mark.django_db(transaction=True)
@pytest.mark.subprocess
def test_quantity_drift_without_key_differences_is_refused_with_an_explanation(released_order, supervisor):
    with start_simulator("sap") as simulator:
        _connect(simulator)
        _confirm(10, "2")
        _deliver_everything()
        _sap_keyless_posting(simulator, operation=10, good="5")

        reconcile()

    drift = Drift.objects.get()
    assert (drift.kind, drift.key, drift.detail) == ("quantity_drift", "", {"unexplained_difference": {"good": "5", "scrap": "0", "rework": "0"}})
    with pytest.raises(DomainError) as refused:
        drift_repair(drift_id=drift.pk, reason="fix it", actor=supervisor.user)
    assert refused.value.code == "drift_needs_person"
    assert "MES good 2, scrap 0; ERP good 7, scrap 0" in refused.value.message
    drift.refresh_from_db()
    assert drift.repaired_at is None and not Event.objects.filter(object_type="erp_drift").exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.subprocess
def test_unreachable_erp_is_reported_and_leaves_drifts_alone(released_order):
    with start_simulator("sap") as simulator:
        connection_row = _connect(simulator)
        template = _confirm(10, "2")
        _deliver_everything()
        _post_in_erp_by_hand(connection_row, template, good="1.000")
        reconcile()
        simulator.control.set_faults(down=True)

        run = reconcile()

    assert (run.orders_checked, run.orders_failed, run.drifts_resolved) == (0, 1, 0)
    assert run.failures[0]["work_order"] == ORDER and "look-up failed" in run.failures[0]["error"]
    assert Drift.objects.get().status == "open"


# --- the command and the task ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.subprocess
def test_command_lists_drift_exits_1_and_repairs_missing_on_request(released_order):
    with start_simulator("sap") as simulator:
        _connect(simulator)
        _confirm(10, "2")
        _deliver_everything()
        out = StringIO()
        call_command("reconcile", stdout=out)  # no drift: returns normally (exit status 0)
        assert "1 order(s) checked, 0 drift(s)" in out.getvalue()

        lost = _confirm(10, "3")
        OutboxMessage.objects.filter(pk=lost.pk).update(state="acknowledged")
        out = StringIO()
        with pytest.raises(SystemExit) as exited:
            call_command("reconcile", "--order", ORDER, "--repair-missing", stdout=out, stderr=StringIO())

    assert exited.value.code == 1
    text = out.getvalue()
    assert "ORDER" in text and "missing_in_erp" in text and str(lost.idempotency_key) in text
    assert "5/0/0" in text and "2/0/0" in text  # MES against ERP good/scrap/rework
    assert "queued to be sent again" in text
    assert "1 drift(s) (1 missing in the ERP, 0 extra in the ERP, 0 quantity, 0 materials)" in text
    lost.refresh_from_db()
    assert (lost.state, lost.needs_lookup) == ("retrying", True)
    assert Event.objects.get(object_type="erp_drift", action="repair").actor_label == "manage.py reconcile"


@pytest.mark.django_db(transaction=True)
@pytest.mark.subprocess
def test_command_exits_3_when_the_erp_cannot_be_asked(released_order):
    with start_simulator("sap") as simulator:
        _connect(simulator)
        _confirm(10, "2")
        _deliver_everything()
        simulator.control.set_faults(down=True)
        with pytest.raises(SystemExit) as exited:
            call_command("reconcile", stdout=StringIO(), stderr=StringIO())

    assert exited.value.code == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.subprocess
def test_scheduled_task_runs_a_reconciliation(released_order):
    with start_simulator("sap") as simulator:
        _connect(simulator)
        _confirm(10, "2")
        _deliver_everything()

        assert tasks.reconcile.apply().get() == 0

    assert ReconciliationRun.objects.get().trigger == "schedule"


# --- repair without a reason, and the API ---------------------------------------------------


def _missing_drift(work_order: str = ORDER) -> Drift:
    """A drift as a run records it, for tests that need no ERP: a message acknowledged but absent there."""
    key = uuid.uuid4()
    message = OutboxMessage.objects.create(
        idempotency_key=key, kind="confirmation", partition_key=work_order, sequence=1, source_uuid=key,
        payload={"operation": 10, "good_qty": "2.000", "scrap_qty": "0.000", "rework_qty": "0.000"}, state="acknowledged",
    )
    return Drift.objects.create(
        connection="erp", work_order=work_order, operation=10, kind="missing_in_erp", key=str(key), message=message,
        mes_good_qty=2, mes_scrap_qty=0, mes_rework_qty=0, erp_good_qty=0, erp_scrap_qty=0, erp_rework_qty=0,
    )


def test_repair_without_a_reason_is_refused_and_changes_nothing(db, supervisor):
    drift = _missing_drift()

    with pytest.raises(DomainError) as refused:
        drift_repair(drift_id=drift.pk, reason="  ", actor=supervisor.user)

    assert refused.value.code == "reason_required"
    assert OutboxMessage.objects.get().state == "acknowledged"
    drift.refresh_from_db()
    assert (drift.repaired_at, drift.repair_reason) == (None, "")
    assert not Event.objects.exclude(object_type="api_token").exists()  # the personas' tokens are audited too


def test_a_cancellation_is_queued_in_the_outbox_and_makes_no_erp_call(released_order, supervisor):
    erp_connection_upsert(name="erp", kind="sap", base_url="http://127.0.0.1:1/sap", is_default=True)  # nothing listens
    earlier_key = uuid.uuid4()  # given by a cancellation tried before the outbox carried them: the ERP cancels once
    drift = Drift.objects.create(
        connection="erp", work_order=ORDER, operation=10, kind="extra_in_erp", key="booked-by-hand-1", repair_key=earlier_key,
        detail={"cause": "unknown_to_mes", "copies": 1, "mes_state": None},
        mes_good_qty=0, mes_scrap_qty=0, mes_rework_qty=0, erp_good_qty=4, erp_scrap_qty=0, erp_rework_qty=0,
    )

    drift_repair(drift_id=drift.pk, reason="booked by hand", actor=supervisor.user)
    with pytest.raises(DomainError) as twice:
        drift_repair(drift_id=drift.pk, reason="booked by hand", actor=supervisor.user)

    message = OutboxMessage.objects.get()
    assert (message.kind, message.state, message.partition_key, message.idempotency_key) == ("reversal", "queued", ORDER, earlier_key)
    assert (message.destination, message.attempts, message.payload["reverses"]) == ("", 0, {"idempotency_key": "booked-by-hand-1"})
    assert not message.deliveries.exists()
    assert (twice.value.code, twice.value.kind) == ("cancellation_queued", ErrorKind.CONFLICT)
    assert drift_get(drift.pk)["not_repairable_because"]["code"] == "cancellation_queued"


def test_every_role_reads_drifts_with_mes_and_erp_quantities(db, operator, django_assert_num_queries):
    drift = _missing_drift()

    response = operator.get("/api/v1/sync/drifts")

    assert response.status_code == 200, response.content
    (row,) = response.json()["results"]
    assert response.json()["last_run"] is None
    assert row["id"] == drift.pk
    assert (row["work_order"], row["operation"], row["kind"], row["key"]) == (ORDER, 10, "missing_in_erp", drift.key)
    assert (row["mes"]["good"], row["erp"]["good"], row["difference"]["good"]) == (2, 0, -2)  # numbers, as everywhere in the API
    assert (row["repairable"], row["repaired_at"], row["repaired_by"], row["message"]["state"]) == (True, None, None, "acknowledged")
    assert response.json()["open_by_kind"] == {"missing_in_erp": 1, "extra_in_erp": 0, "quantity_drift": 0, "material_drift": 0}
    with django_assert_num_queries(2):
        drift_list()


def test_only_supervisors_and_admins_repair_and_always_with_a_reason(db, operator, supervisor):
    drift = _missing_drift()
    url = f"/api/v1/sync/drifts/{drift.pk}/repair"

    forbidden = operator.post(url, {"reason": "looks lost"})
    no_reason = supervisor.post(url, {})

    assert (forbidden.status_code, no_reason.status_code) == (403, 400)
    assert OutboxMessage.objects.get().state == "acknowledged" and not Event.objects.exclude(object_type="api_token").exists()

    repaired = supervisor.post(url, {"reason": "looks lost"})

    assert repaired.status_code == 200, repaired.content
    body = repaired.json()
    assert (body["repaired_by"], body["repair_reason"], body["status"]) == ("supervisor-zhang", "looks lost", "open")
    assert body["message"]["state"] == "retrying" and body["repairable"] is False
    again = supervisor.post(url, {"reason": "again"})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "message_on_its_way")


def test_repairing_a_quantity_drift_through_the_api_explains_why_not(db, admin_api):
    drift = Drift.objects.create(
        connection="erp", work_order=ORDER, operation=20, kind="quantity_drift", key="",
        mes_good_qty=4, mes_scrap_qty=0, mes_rework_qty=0, erp_good_qty=5, erp_scrap_qty=0, erp_rework_qty=None,
    )

    response = admin_api.post(f"/api/v1/sync/drifts/{drift.pk}/repair", {"reason": "please"})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "drift_needs_person"
    assert "operation 0020 of WO-1001" in response.json()["error"]["message"]
