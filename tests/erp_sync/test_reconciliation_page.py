"""The reconciliation page: latest runs, every drift with MES and ERP quantities, run now, repair with a reason.

A run is queued for a worker and the table of runs asks again until it is finished; repairs go
through the same services as the API and the command, their ERP writes through the outbox. The
end-to-end tests ask a real simulated SAP on loopback.
"""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import translation

from erp_sync.models import Drift, OutboxMessage, ReconciliationRun
from mes.models import Event
from simulators.erp import start_simulator
from tests.conftest import ORDER
from tests.erp_sync.queued import RUN_TABLE_POLL, queued_tasks, reconciliations_run_by_a_worker
from tests.erp_sync.test_reconciliation import _confirm, _connect, _post_in_erp_by_hand

URL = "/sync/reconciliation/"


@pytest.fixture(autouse=True)
def in_english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


def _signed_in(client, role: str):
    user = get_user_model().objects.create_user(username=f"{role}-person", password="pw-123456")
    user.groups.add(Group.objects.get_or_create(name=role)[0])  # a transactional test flushes the migrated groups
    client.force_login(user)
    client.user = user
    return client


def _missing_drift(work_order: str = ORDER, *, sequence: int = 1) -> Drift:
    """A drift as a run records it: a message acknowledged in the MES but absent in the ERP."""
    key = uuid.uuid4()
    message = OutboxMessage.objects.create(
        idempotency_key=key, kind="confirmation", partition_key=work_order, sequence=sequence, source_uuid=key,
        payload={"operation": 10, "good_qty": "2.000", "scrap_qty": "0.000", "rework_qty": "0.000"}, state="acknowledged",
    )
    return Drift.objects.create(
        connection="erp", work_order=work_order, operation=10, kind="missing_in_erp", key=str(key), message=message,
        mes_good_qty=2, mes_scrap_qty=0, mes_rework_qty=0, erp_good_qty=0, erp_scrap_qty=0, erp_rework_qty=0,
    )


def _quantity_drift() -> Drift:
    return Drift.objects.create(
        connection="erp", work_order=ORDER, operation=20, kind="quantity_drift", key="",
        mes_good_qty=4, mes_scrap_qty=0, mes_rework_qty=0, erp_good_qty=5, erp_scrap_qty=0, erp_rework_qty=None,
    )


# --- who may see and act --------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(URL)

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=/sync/reconciliation/")


@pytest.mark.parametrize("role", ["operator", "quality", "integration"])
def test_people_without_a_sync_role_are_refused(db, client, role):
    assert _signed_in(client, role).get(URL).status_code == 403


def test_planners_read_drifts_but_neither_run_nor_repair(db, client):
    drift = _missing_drift()
    planner = _signed_in(client, "planner")

    page = planner.get(URL)
    repair = planner.post(URL, {"ids": [drift.pk], "reason": "looks lost"})
    run = planner.post(URL, {"action": "run", "work_order": ORDER})

    assert page.status_code == 200 and drift.key.encode() in page.content
    assert b'name="reason"' not in page.content and b'value="run"' not in page.content
    assert (repair.status_code, run.status_code) == (403, 403)
    assert OutboxMessage.objects.get().state == "acknowledged"
    assert not Event.objects.exists() and not ReconciliationRun.objects.exists()


# --- reading --------------------------------------------------------------------------------


def test_page_lists_latest_runs_and_each_drift_with_both_sides(db, client, django_assert_max_num_queries):
    missing = _missing_drift()
    _quantity_drift()
    ReconciliationRun.objects.create(
        trigger="schedule", orders_checked=7, orders_failed=1, drifts_open=2, drifts_new=2,
        failures=[{"work_order": "WO-9", "connection": "erp", "error": "SAP answered 503"}],
    )
    supervisor = _signed_in(client, "supervisor")

    with django_assert_max_num_queries(12):
        page = supervisor.get(URL)

    content = page.content.decode()
    assert page.status_code == 200 and "<html" in content
    assert "SAP answered 503" in content and ">7<" in content
    assert "Open: 1 missing in the ERP, 0 extra in the ERP, 1 with quantities that differ." in content
    assert f'id="drift-{missing.pk}"' in content and "missing in the ERP" in content and "quantities differ" in content
    assert "2 / 0 / 0" in content and "0 / 0 / 0" in content and "5 / 0 / —" in content  # MES, then ERP, per drift
    assert "0020" in content and "a posting was changed in the ERP by hand" in content  # why it cannot be repaired


def test_filters_return_the_drift_table_partial(db, client):
    _missing_drift()
    _quantity_drift()
    supervisor = _signed_in(client, "supervisor")

    partial = supervisor.get(URL, {"kind": "quantity_drift"}, HTTP_HX_REQUEST="true")

    assert partial.status_code == 200 and b"<html" not in partial.content
    assert partial.content.strip().startswith(b'<div id="drift-table"')
    assert b"quantities differ" in partial.content and b"missing in the ERP" not in partial.content


@pytest.mark.parametrize(
    "query",
    [{"status": "bogus"}, {"kind": "<script>"}, {"work_order": "W" * 5000}, {"status": ["open", "all"], "kind": ""}],
)
def test_bad_filters_fall_back_to_the_defaults(db, client, query):
    _missing_drift()

    response = _signed_in(client, "supervisor").get(URL, query)

    assert response.status_code == 200


# --- repairing ------------------------------------------------------------------------------


def test_one_drift_is_repaired_with_a_reason_and_answered_in_its_row(db, client):
    drift = _missing_drift()
    supervisor = _signed_in(client, "supervisor")

    response = supervisor.post(URL, {"ids": [drift.pk], "reason": "lost on the way to SAP"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200 and response.content.strip().startswith(b'<div id="drift-table"')
    assert b"Sent again: the ERP is asked by our key first" in response.content
    assert OutboxMessage.objects.get().state == "retrying"
    drift.refresh_from_db()
    assert (drift.repaired_by, drift.repair_reason) == (supervisor.user, "lost on the way to SAP")
    event = Event.objects.get(object_type="erp_drift", action="repair")
    assert (event.actor, event.reason) == (supervisor.user, "lost on the way to SAP")


def test_repair_without_a_reason_is_refused_inline_and_changes_nothing(db, client):
    drift = _missing_drift()

    response = _signed_in(client, "supervisor").post(URL, {"ids": [drift.pk], "reason": "   "})

    assert response.status_code == 200 and b"<html" in response.content
    assert b"Say why: a reason is required." in response.content
    assert OutboxMessage.objects.get().state == "acknowledged"
    assert Drift.objects.get().repaired_at is None and not Event.objects.exists()


def test_bulk_repair_repairs_what_it_can_and_says_why_not_for_the_rest(db, client):
    missing = _missing_drift()
    other = _missing_drift(sequence=2)
    quantity = _quantity_drift()
    OutboxMessage.objects.filter(pk=other.message_id).update(state="dead")

    response = _signed_in(client, "admin").post(
        URL, {"ids": [missing.pk, other.pk, quantity.pk], "reason": "month-end check"}, HTTP_HX_REQUEST="true"
    )

    content = response.content.decode()
    assert response.status_code == 200
    assert "Sent again: the ERP is asked by our key first" in content
    assert "The message is on the dead-letter list: replay it there" in content
    assert "Nothing can be resent or cancelled automatically" in content
    assert dict(OutboxMessage.objects.values_list("pk", "state")) == {missing.message_id: "retrying", other.message_id: "dead"}
    assert Event.objects.filter(object_type="erp_drift", action="repair").count() == 1


def test_a_drift_outside_the_filter_still_gets_its_answer(db, client):
    drift = _missing_drift()

    response = _signed_in(client, "supervisor").post(f"{URL}?kind=quantity_drift", {"ids": [drift.pk], "reason": "lost"})

    assert f"Drift {drift.pk}: repaired.".encode() in response.content
    assert OutboxMessage.objects.get().state == "retrying"


@pytest.mark.parametrize(
    "data",
    [
        {"reason": "x"},
        {"ids": ["abc", "-1", ""], "reason": "x"},
        {"ids": [str(2**70)], "reason": "x"},
        {"ids": ["987654"], "reason": "x"},
        {"ids": ["987654"]},
        {"action": "bogus", "ids": ["987654"], "reason": "R" * 5000},  # an id no drift has, whatever the database numbers from
    ],
)
def test_bad_repair_requests_answer_without_changing_anything(db, client, data):
    _missing_drift()

    response = _signed_in(client, "supervisor").post(URL, data)

    assert response.status_code == 200
    assert b"Select at least one drift" in response.content or b"Drift " in response.content
    assert OutboxMessage.objects.get().state == "acknowledged" and not Event.objects.exists()


# --- running now ----------------------------------------------------------------------------


def test_run_now_for_every_order_is_queued_for_a_worker_with_who_asked(db, client, django_capture_on_commit_callbacks):
    queued_tasks()  # whatever earlier tests left
    supervisor = _signed_in(client, "supervisor")

    with django_capture_on_commit_callbacks(execute=True):
        response = supervisor.post(URL, {"action": "run", "work_order": "  "})
    page = supervisor.get(URL)

    run = ReconciliationRun.objects.get()
    assert response.status_code == 302 and response["Location"] == URL
    assert (run.state, run.trigger, run.actor, run.scope_work_order, run.finished_at) == ("queued", "manual", supervisor.user, "", None)
    assert queued_tasks() == [("erp_sync.reconcile", {"run_id": run.pk})]
    assert b"A worker is checking every order now" in page.content
    assert b'id="run-table" hx-get="/sync/reconciliation/" hx-trigger="every 2s"' in page.content
    assert b"waiting for a worker" in page.content


def test_a_run_is_queued_only_once_the_request_commits(db, client, django_capture_on_commit_callbacks):
    queued_tasks()
    supervisor = _signed_in(client, "supervisor")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        supervisor.post(URL, {"action": "run", "work_order": ""})

    assert queued_tasks() == [] and len(callbacks) == 1
    callbacks[0]()
    assert queued_tasks() == [("erp_sync.reconcile", {"run_id": ReconciliationRun.objects.get().pk})]


def test_the_worker_does_a_queued_run_once_and_the_poll_shows_it_finished(released_order, client, django_capture_on_commit_callbacks):
    queued_tasks()
    supervisor = _signed_in(client, "supervisor")
    with django_capture_on_commit_callbacks(execute=True):
        supervisor.post(URL, {"action": "run", "work_order": ORDER})
    waiting = supervisor.get(URL, **RUN_TABLE_POLL)
    waiting_in_the_api = supervisor.get("/api/v1/sync/drifts").json()["last_run"]
    [(name, kwargs)] = queued_tasks()
    assert name == "erp_sync.reconcile"

    from erp_sync import tasks

    tasks.reconcile.apply(kwargs=kwargs, throw=True)
    tasks.reconcile.apply(kwargs=kwargs, throw=True)  # delivered twice: done once
    finished = supervisor.get(URL, **RUN_TABLE_POLL)
    finished_in_the_api = supervisor.get("/api/v1/sync/drifts").json()["last_run"]

    run = ReconciliationRun.objects.get()
    assert (run.state, run.orders_failed, run.finished_at is not None) == ("finished", 1, True)
    assert waiting.content.decode().strip().startswith('<div id="run-table" hx-get=') and b"waiting for a worker" in waiting.content
    content = finished.content.decode().strip()
    assert content.startswith('<div id="run-table">') and "hx-trigger" not in content  # finished: the page stops asking
    assert "WO-1001: no default ERP connection is configured." in content and "<html" not in content
    assert (waiting_in_the_api["state"], waiting_in_the_api["finished_at"]) == ("queued", None)
    assert (finished_in_the_api["state"], finished_in_the_api["orders_failed"]) == ("finished", 1)


def test_a_run_whose_worker_stopped_is_shown_cut_off_and_no_longer_polled(db, client):
    from datetime import timedelta

    from django.utils import timezone

    ReconciliationRun.objects.create(trigger="manual", state="running", started_at=timezone.now() - timedelta(hours=2))
    supervisor = _signed_in(client, "supervisor")

    poll = supervisor.get(URL, **RUN_TABLE_POLL)

    content = poll.content.decode().strip()
    assert content.startswith('<div id="run-table">') and "hx-trigger" not in content
    assert "stopped before it finished" in content and "running…" not in content


def test_run_now_for_an_order_the_mes_does_not_know_queues_nothing(db, client, django_capture_on_commit_callbacks):
    queued_tasks()
    supervisor = _signed_in(client, "supervisor")

    with django_capture_on_commit_callbacks(execute=True):
        response = supervisor.post(URL, {"action": "run", "work_order": "WO-9999"}, follow=True)

    assert b"Work order WO-9999 does not exist." in response.content
    assert not ReconciliationRun.objects.exists() and queued_tasks() == []


def test_planners_are_refused_a_run_as_the_api_refuses_them_a_repair(db, client, django_capture_on_commit_callbacks):
    from rest_framework.test import APIClient

    queued_tasks()
    drift = _missing_drift()
    planner = _signed_in(client, "planner")
    api = APIClient()
    api.force_login(planner.user)

    with django_capture_on_commit_callbacks(execute=True):
        page_run = planner.post(URL, {"action": "run", "work_order": ""})
        page_repair = planner.post(URL, {"ids": [drift.pk], "reason": "looks lost"})
    api_repair = api.post(f"/api/v1/sync/drifts/{drift.pk}/repair", {"reason": "looks lost"}, format="json")

    assert (page_run.status_code, page_repair.status_code, api_repair.status_code) == (403, 403, 403)
    assert api_repair.json()["error"]["code"] == "forbidden"
    assert not ReconciliationRun.objects.exists() and queued_tasks() == []
    assert OutboxMessage.objects.get().state == "acknowledged" and not Event.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.subprocess
def test_run_now_finds_what_sap_lacks_and_holds_extra_and_the_page_repairs_both(released_order, client):
    from tests.erp_sync.test_reconciliation import _deliver_everything

    queued_tasks()
    supervisor = _signed_in(client, "supervisor")
    with start_simulator("sap") as simulator:
        connection_row = _connect(simulator)
        lost = _confirm(10, "3")
        OutboxMessage.objects.filter(pk=lost.pk).update(state="acknowledged", erp_document="0/0")  # believed sent
        by_hand = _post_in_erp_by_hand(connection_row, lost, good="4.000")

        asked = supervisor.post(URL, {"action": "run", "work_order": ORDER}, follow=True)
        reconciliations_run_by_a_worker()
        checked = supervisor.get(URL)

        missing = Drift.objects.get(kind="missing_in_erp")
        extra = Drift.objects.get(kind="extra_in_erp")
        assert b"A worker is checking WO-1001 now" in asked.content
        assert ReconciliationRun.objects.get().drifts_new == 2
        assert (missing.key, extra.key) == (str(lost.idempotency_key), by_hand)
        assert b"Send again" in checked.content and b"Cancel in the ERP" in checked.content

        repaired = supervisor.post(URL, {"ids": [missing.pk, extra.pk], "reason": "found by the month-end check"})

        assert b"Sent again: the ERP is asked by our key first" in repaired.content
        assert b"Cancellation queued" in repaired.content
        lost.refresh_from_db()
        assert (lost.state, lost.needs_lookup) == ("retrying", True)
        cancellation = OutboxMessage.objects.get(kind="reversal")
        assert (cancellation.state, cancellation.payload["reverses"]) == ("queued", {"idempotency_key": by_hand})
        _deliver_everything()  # the dispatcher sends both, as every ERP write
        supervisor.post(URL, {"action": "run", "work_order": ORDER})
        reconciliations_run_by_a_worker()

    extra.refresh_from_db()
    assert OutboxMessage.objects.get(kind="reversal").state == "acknowledged"
    assert (extra.status, Drift.objects.get(kind="missing_in_erp").status) == ("resolved", "resolved")
    assert Event.objects.filter(object_type="erp_drift", action="repair", actor=supervisor.user).count() == 2
