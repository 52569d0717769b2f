"""The ``b2mml`` connector against the B2MML receiver simulator (HTTP) and into a folder: what each failure
is classified as, that a document sent again is never booked twice, that a file appears whole or not at
all under a name that is the key's, and the connection commands for both."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from django.core.management import CommandError, call_command

from erp_sync.connectors.b2mml import B2mmlConnector
from erp_sync.connectors.base import ConnectionConfig, FailureKind, Outcome
from erp_sync.dispatcher import dispatch_until_idle
from erp_sync.models import ErpConnection, OutboxMessage
from tests.erp_sync.b2mml import assert_valid, texts
from tests.erp_sync.builders import confirmation_posting, connector_fixture, goods_posting, reversal_of, simulator_fixtures, wait_for_ledger
from tests.helpers import confirm

ORDER = "WO-1001"
b2mml_process, b2mml = simulator_fixtures("b2mml", bodid_dedupe="replay")


def _http(simulator, *, timeout: float = 2.0, **options) -> B2mmlConnector:
    return B2mmlConnector(
        ConnectionConfig(name="hub", kind="b2mml", base_url=simulator.service_url, options=options, timeout_seconds=timeout)
    )


connector = connector_fixture("b2mml", lambda simulator: _http(simulator, lookup_url=simulator.service_url + "/{bodid}"))


def _folder(path: Path) -> B2mmlConnector:
    return B2mmlConnector(ConnectionConfig(name="files", kind="b2mml", base_url=path.as_uri()))


# --- HTTP, against the simulated receiver ------------------------------------------------------------


def test_a_report_is_booked_once_however_often_it_is_sent(b2mml, connector):
    posting = confirmation_posting(order=ORDER, good="5.000", scrap="1.000", final=True)

    first, again = connector.post(posting), connector.post(posting)

    assert first.outcome == again.outcome == Outcome.ACCEPTED
    assert first.erp_ref == {"document": "ProcessOperationsPerformance", "bodid": posting.idempotency_key}
    (entry,) = b2mml.control.ledger()
    assert (entry["key"], entry["order"], entry["operation"], entry["yield_qty"], entry["scrap_qty"], entry["final"]) == (
        posting.idempotency_key, ORDER, "10", "5", "1", True,
    )
    assert b2mml.control.health()["counters"]["b2mml_repeats"] == 1


def test_a_receiver_that_answers_409_to_a_repeat_makes_it_a_duplicate(b2mml, connector):
    b2mml.control.set_config(bodid_dedupe="conflict")
    posting = confirmation_posting(order=ORDER)
    connector.post(posting)

    assert connector.post(posting).outcome == Outcome.DUPLICATE
    assert len(b2mml.control.ledger()) == 1


def test_a_reversal_cancels_its_original_once(b2mml, connector):
    original = confirmation_posting(order=ORDER, good="4.000", scrap="0.000")
    connector.post(original)
    reversal = reversal_of(original, {"document": "ProcessOperationsPerformance", "bodid": original.idempotency_key})

    assert connector.post(reversal).outcome == Outcome.ACCEPTED
    assert connector.post(reversal).outcome == Outcome.ACCEPTED  # the same BODID: answered, not cancelled again

    cancels = [entry for entry in b2mml.control.ledger() if entry["action"] == "cancel"]
    assert [(entry["key"], entry["cancels_key"]) for entry in cancels] == [(reversal.idempotency_key, original.idempotency_key)]


def test_a_scanned_issue_is_booked_with_its_lot_in_the_receivers_stock(b2mml, connector):
    issue = goods_posting(order=ORDER)

    assert connector.post(issue).outcome == Outcome.ACCEPTED
    assert b2mml.control.stock() == {("STEEL-10", "L-0001"): ("2", "0")}


@pytest.mark.parametrize(
    ("faults", "outcome", "kind"),
    [
        ({"down": True}, Outcome.RETRYABLE, FailureKind.UNREACHABLE),
        ({"error_rate": 1.0}, Outcome.RETRYABLE, FailureKind.REFUSED),
        ({"locked": True}, Outcome.RETRYABLE, FailureKind.REFUSED),
        ({"rejected_orders": [ORDER]}, Outcome.REJECTED, FailureKind.REJECTED),
        ({"drop_after_commit_rate": 1.0}, Outcome.UNKNOWN, FailureKind.AMBIGUOUS),
    ],
    ids=["down", "5xx", "locked", "rejected", "commit-then-drop"],
)
def test_each_failure_is_classified_and_a_booking_whose_answer_was_lost_is_found_by_its_bodid(b2mml, connector, faults, outcome, kind):
    posting = confirmation_posting(order=ORDER)
    b2mml.control.set_faults(**faults)

    result = connector.post(posting)

    assert (result.outcome, result.failure_kind) == (outcome, kind), result
    b2mml.control.clear_faults()
    found = connector.find(posting)
    booked = [entry["key"] for entry in b2mml.control.ledger()]
    if outcome == Outcome.UNKNOWN:
        assert booked == [posting.idempotency_key] and found.outcome == Outcome.ACCEPTED
    else:
        assert booked == [] and found is None
    if outcome == Outcome.REJECTED:
        assert "closed" in result.error and result.http_status == 422


def test_a_receiver_slower_than_the_timeout_books_after_we_gave_up_and_the_look_up_finds_it(b2mml):
    connector = _http(b2mml, timeout=1.0, lookup_url=b2mml.service_url + "/{bodid}")
    posting = confirmation_posting(order=ORDER)
    b2mml.control.set_faults(latency_ms=1500)

    result = connector.post(posting)

    assert (result.outcome, result.failure_kind) == (Outcome.UNKNOWN, FailureKind.AMBIGUOUS)
    wait_for_ledger(b2mml, 1)
    b2mml.control.clear_faults()
    assert connector.find(posting).outcome == Outcome.ACCEPTED
    connector.close()


def test_the_receiver_validates_what_it_gets_and_names_the_line(b2mml, connector):
    name, data = connector.document(confirmation_posting(order=ORDER))
    broken = data.replace(b"<OperationsType>Production</OperationsType><SegmentState>", b"<OperationsType>Production</OperationsType><Bogus/><SegmentState>")

    response = requests.post(b2mml.service_url, data=broken.replace(b"><", b">\n<"), headers={"Content-Type": "application/xml"}, timeout=5)

    assert response.status_code == 400 and "line" in response.text and "Bogus" in response.text
    assert b2mml.control.ledger() == []


def test_health_says_whether_the_receiver_answers(b2mml, connector):
    assert connector.health().reachable
    b2mml.control.set_faults(down=True)
    assert not connector.health().reachable


# --- a folder ------------------------------------------------------------------------------------------


def test_a_document_is_written_whole_under_its_keys_name_and_never_twice(tmp_path):
    connector = _folder(tmp_path)
    posting = confirmation_posting(order=ORDER)

    first = connector.post(posting)
    written = tmp_path / f"ProcessOperationsPerformance-{posting.idempotency_key}.xml"
    stamp = written.stat().st_mtime_ns
    again = connector.post(posting)

    assert first.outcome == Outcome.ACCEPTED and again.outcome == Outcome.DUPLICATE
    assert first.erp_document == again.erp_document == written.name
    assert sorted(path.name for path in tmp_path.iterdir()) == [written.name]  # no temporary file left behind
    assert written.stat().st_mtime_ns == stamp
    assert texts(assert_valid(written.read_bytes()), "ApplicationArea/BODID") == [posting.idempotency_key]
    assert connector.find(posting).outcome == Outcome.ACCEPTED
    assert connector.find(confirmation_posting(order=ORDER)) is None


def test_a_watcher_of_the_folder_only_ever_sees_complete_documents(tmp_path):
    """A file-based integration polls the folder for *.xml while hundreds of documents are written: each
    file it finds under a document's name parses whole; the temporary names are hidden and never *.xml."""
    connector = _folder(tmp_path)
    seen, broken, done = set(), [], threading.Event()

    def watch() -> None:
        while not done.is_set():
            for path in tmp_path.glob("*.xml"):
                if path.name not in seen:
                    try:
                        ET.fromstring(path.read_bytes())
                    except ET.ParseError as error:
                        broken.append((path.name, str(error)))
                    seen.add(path.name)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        postings = [
            confirmation_posting(order=f"WO-{index:04d}", goods_movements=[
                {"movement_type": "261", "item": f"PART-{part}", "lot": f"L-{part}", "quantity": "1.000", "unit": "PCS"} for part in range(60)
            ])
            for index in range(150)
        ]
        results = [connector.post(posting) for posting in postings]
    finally:
        done.set()
        watcher.join()
    assert {result.outcome for result in results} == {Outcome.ACCEPTED}
    assert broken == []
    assert len(list(tmp_path.glob("*.xml"))) == 150 and not list(tmp_path.glob(".*"))


def test_a_folder_that_is_not_there_is_unreachable_and_nothing_is_written(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    connector = _folder(blocker / "out")

    result = connector.post(confirmation_posting(order=ORDER))

    assert (result.outcome, result.failure_kind) == (Outcome.RETRYABLE, FailureKind.UNREACHABLE)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["not-a-folder"]
    assert not connector.health().reachable and _folder(tmp_path).health().reachable


@pytest.mark.django_db
def test_a_folder_connection_added_by_command_receives_the_next_report(released_order, tmp_path):
    call_command("erp_connection", "add", "files", "--kind", "b2mml", "--url", tmp_path.as_uri(), "--default", "--option", "receiver=MOM-1")
    call_command("erp_connection", "test", "files")
    assert ErpConnection.objects.get(name="files").base_url == tmp_path.as_uri()
    confirm(ORDER, 10, good_qty=Decimal(3))

    dispatch_until_idle(budget_seconds=10, threads=1)

    message = OutboxMessage.objects.get(partition_key=ORDER)
    assert message.state == "acknowledged"
    written = tmp_path / f"ProcessOperationsPerformance-{message.idempotency_key}.xml"
    root = assert_valid(written.read_bytes())
    assert texts(root, "ApplicationArea/Receiver/LogicalID") == ["MOM-1"]
    assert texts(root, "DataArea/OperationsPerformance/OperationsResponse/SegmentResponse/MaterialActual/Quantity/QuantityString") == ["3"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["file://server/share/out", "file:relative/out", "ftp://host/out"])
def test_a_folder_url_must_name_an_absolute_local_path(url):
    with pytest.raises(CommandError, match="URL"):
        call_command("erp_connection", "add", "files", "--kind", "b2mml", "--url", url)
    assert not ErpConnection.objects.exists()


@pytest.mark.django_db
def test_only_a_kind_that_writes_files_takes_a_folder_url(tmp_path):
    with pytest.raises(CommandError, match="http"):
        call_command("erp_connection", "add", "sap-files", "--kind", "sap", "--url", tmp_path.as_uri())
    with pytest.raises(CommandError, match="lookup_url"):
        call_command("erp_connection", "add", "hub", "--kind", "b2mml", "--url", "http://127.0.0.1:9/b2mml", "--option", "lookup_url=http://x/")
    assert not ErpConnection.objects.exists()


@pytest.mark.django_db
def test_the_api_stores_a_folder_connection_and_refuses_a_folder_for_another_kind(admin_api, tmp_path):
    created = admin_api.put("/api/v1/erp-connections/drop", {"kind": "b2mml", "url": tmp_path.as_uri(), "options": {"sender": "MES-1"}}, format="json")
    refused = admin_api.put("/api/v1/erp-connections/sap-drop", {"kind": "sap", "url": tmp_path.as_uri()}, format="json")

    assert created.status_code == 201, created.json()
    assert created.json()["url"] == tmp_path.as_uri() and created.json()["kind"] == "b2mml"
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_url"
    assert list(ErpConnection.objects.values_list("name", flat=True)) == ["drop"]
    tested = admin_api.post("/api/v1/erp-connections/drop/test")
    assert tested.status_code == 200 and tested.json()["reachable"] is True, tested.json()


@pytest.mark.django_db
def test_the_admin_form_takes_a_folder_for_b2mml_and_refuses_it_for_sap(admin_client, tmp_path):
    from tests.mes.test_admin_audit import admin_form_data

    add = "/admin/erp_sync/erpconnection/add/"
    data = admin_form_data(admin_client.get(add)) | {
        "name": "drop", "kind": "b2mml", "base_url": tmp_path.as_uri(), "options": "{}", "timeout_seconds": "10",
    }

    saved = admin_client.post(add, data)
    refused = admin_client.post(add, data | {"name": "sap-drop", "kind": "sap"})

    assert saved.status_code == 302
    assert ErpConnection.objects.get(name="drop").base_url == tmp_path.as_uri()
    assert refused.status_code == 200 and "http://" in refused.content.decode()
    assert not ErpConnection.objects.filter(name="sap-drop").exists()
