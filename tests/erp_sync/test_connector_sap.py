"""The SAP connector against the SAP simulator, a real process on loopback.

One simulator serves the module; each test starts from ``control.reset()``. What every connector
promises alike (find by key, retryable faults, lost answers, reversals, totals) is in ``test_connector_contract.py``. No database.
"""

from __future__ import annotations

import threading
from typing import Any

import requests

from erp_sync.connectors.base import ConnectionConfig, Outcome, Posting
from erp_sync.connectors.registry import connector_class
from erp_sync.connectors.sap import SapConnector
from simulators.erp import SimulatorProcess
from tests.erp_sync import builders
from tests.erp_sync.builders import reversal_of, wait_for_ledger

# The builders with SAP's order number and habits, and the module's simulator with its connector.
ORDER, confirmation, connector_for = builders.SAP_ORDER, builders.sap_confirmation, builders.sap_connector
sap_process, sap = builders.simulator_fixtures("sap", dedupe="off")
connector = builders.connector_fixture("sap", connector_for)


def read_record(simulator: SimulatorProcess, group: str, count: str) -> dict[str, Any]:
    response = requests.get(
        f"{simulator.service_url}/ProdnOrdConf2(ConfirmationGroup='{group}',ConfirmationCount='{count}')",
        auth=(simulator.credentials["user"], simulator.credentials["password"]),
        headers={"Accept": "application/json"},
        timeout=5,
    )
    assert response.status_code == 200
    return response.json()["d"]


# -- posting -----------------------------------------------------------------------------------


def test_registry_serves_the_sap_connector() -> None:
    assert connector_class("sap") is SapConnector
    assert SapConnector.kind == "sap"


def test_post_books_a_confirmation_and_returns_group_and_count(sap: SimulatorProcess, connector: SapConnector) -> None:
    posting = confirmation(final=True)

    result = connector.post(posting)

    assert result.outcome == Outcome.ACCEPTED
    assert result.erp_ref == {"ConfirmationGroup": "1000", "ConfirmationCount": "1"}
    assert result.erp_document == "1000/1"
    [entry] = sap.control.ledger()
    assert (entry["action"], entry["key"], entry["order"], entry["operation"]) == (
        "post", posting.idempotency_key, ORDER, "0010"
    )
    assert (entry["yield_qty"], entry["scrap_qty"], entry["final"]) == ("5", "1", True)
    record = read_record(sap, "1000", "1")
    assert record["Sequence"] == "0"
    assert record["FinalConfirmationType"] == "X"
    assert record["IsFinalConfirmation"] is True
    assert record["VarianceReasonCode"] == "SC01"
    assert record["ConfirmationUnit"] == "PCS"
    assert record["EnteredByExternalUser"] == "MES"
    # 20:30 UTC on 1 March is 2 March in the plant (Asia/Shanghai): SAP's date is that midnight.
    assert record["PostingDate"] == "/Date(1740873600000)/"
    # The standard value key SAP1: slot 2 machine, slot 3 labour, in hours.
    assert (record["OpConfirmedWorkQuantity2"], record["OpWorkQuantityUnit2"]) == ("0.500", "H")
    assert (record["OpConfirmedWorkQuantity3"], record["OpWorkQuantityUnit3"]) == ("1.500", "H")


def test_activity_slots_and_units_follow_the_options(sap: SimulatorProcess) -> None:
    connector = connector_for(
        sap, activity_slots={"labor": 1, "machine": 4}, activity_unit="HR", unit_map={"PCS": "ST"}, plant="1010"
    )

    result = connector.post(confirmation())

    assert result.outcome == Outcome.ACCEPTED
    record = read_record(sap, "1000", "1")
    assert (record["OpConfirmedWorkQuantity1"], record["OpWorkQuantityUnit1"]) == ("1.500", "HR")
    assert (record["OpConfirmedWorkQuantity4"], record["OpWorkQuantityUnit4"]) == ("0.500", "HR")
    assert "OpConfirmedWorkQuantity2" not in record and "OpConfirmedWorkQuantity3" not in record
    assert (record["ConfirmationUnit"], record["Plant"]) == ("ST", "1010")


# -- reversal ----------------------------------------------------------------------------------


def test_reversal_cancels_the_original_in_the_ledger(sap: SimulatorProcess, connector: SapConnector) -> None:
    original = confirmation()
    posted = connector.post(original)
    reversal = reversal_of(original, posted.erp_ref)

    result = connector.post(reversal)

    assert result.outcome == Outcome.ACCEPTED
    assert result.erp_ref == {"ConfirmationGroup": "1000", "ConfirmationCount": "2"}
    cancel = sap.control.ledger()[-1]
    assert (cancel["action"], cancel["cancels"], cancel["cancels_key"], cancel["key"]) == (
        "cancel", "1000/1", original.idempotency_key, reversal.idempotency_key
    )
    assert read_record(sap, "1000", "1")["IsReversed"] is True
    found = connector.find(reversal)
    assert found is not None and (found.outcome, found.erp_ref) == (Outcome.ACCEPTED, result.erp_ref)


# -- sessions ----------------------------------------------------------------------------------


def test_an_expired_csrf_token_is_fetched_again_and_the_write_repeated_once(
    sap: SimulatorProcess, connector: SapConnector
) -> None:
    assert connector.post(confirmation()).outcome == Outcome.ACCEPTED
    first_token = connector._token
    sap.control.invalidate_sessions()

    result = connector.post(confirmation())

    assert result.outcome == Outcome.ACCEPTED
    assert connector._token not in (None, first_token)
    assert [entry["document"] for entry in sap.control.ledger()] == ["1000/1", "1000/2"]


def test_threads_sharing_a_connector_survive_a_token_expiry_together(
    sap: SimulatorProcess, connector: SapConnector
) -> None:
    assert connector.post(confirmation()).outcome == Outcome.ACCEPTED
    sap.control.invalidate_sessions()
    postings = [confirmation(order=f"ORDER-{index}") for index in range(8)]
    results: dict[str, Outcome] = {}

    def send(posting: Posting) -> None:
        results[posting.idempotency_key] = connector.post(posting).outcome

    threads = [threading.Thread(target=send, args=(posting,)) for posting in postings]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert set(results.values()) == {Outcome.ACCEPTED}
    assert len(results) == 8
    assert len(sap.control.ledger()) == 9


def test_wrong_credentials_are_rejected(sap: SimulatorProcess) -> None:
    connector = SapConnector(
        ConnectionConfig(name="sap-test", kind="sap", base_url=sap.service_url, username="MES_INTEGRATION", password="wrong")
    )

    result = connector.post(confirmation())

    assert (result.outcome, result.http_status) == (Outcome.REJECTED, 401)
    assert sap.control.ledger() == []


# -- duplicates --------------------------------------------------------------------------------


def test_a_system_that_rejects_our_key_twice_yields_a_duplicate_with_the_first_reference(
    sap: SimulatorProcess, connector: SapConnector
) -> None:
    sap.control.set_config(dedupe="reject")
    posting = confirmation()
    first = connector.post(posting)

    again = connector.post(posting)

    assert again.outcome == Outcome.DUPLICATE
    assert (again.erp_ref, again.erp_document) == (first.erp_ref, "1000/1")
    assert len(sap.control.ledger()) == 1


def test_a_system_that_replays_our_key_answers_the_first_booking(sap: SimulatorProcess, connector: SapConnector) -> None:
    sap.control.set_config(dedupe="replay")
    posting = confirmation()
    first = connector.post(posting)

    again = connector.post(posting)

    assert again.outcome == Outcome.ACCEPTED
    assert again.erp_ref == first.erp_ref
    assert len(sap.control.ledger()) == 1


# -- faults ------------------------------------------------------------------------------------


def test_a_locked_order_is_retryable(sap: SimulatorProcess, connector: SapConnector) -> None:
    sap.control.set_faults(locked_orders=[ORDER])

    result = connector.post(confirmation())

    assert (result.outcome, result.http_status) == (Outcome.RETRYABLE, 423)
    assert "locked" in result.error
    assert sap.control.ledger() == []


def test_a_dropped_reversal_answer_is_found_by_the_reversal_key(sap: SimulatorProcess, connector: SapConnector) -> None:
    original = confirmation()
    reversal = reversal_of(original, connector.post(original).erp_ref)
    sap.control.set_faults(drop_after_commit_rate=1.0)

    assert connector.post(reversal).outcome == Outcome.UNKNOWN

    sap.control.clear_faults()
    found = connector.find(reversal)
    assert found is not None
    assert (found.outcome, found.erp_document) == (Outcome.ACCEPTED, "1000/2")


def test_an_answer_slower_than_the_timeout_is_unknown(sap: SimulatorProcess) -> None:
    connector = connector_for(sap, timeout=0.3)
    connector.health()
    sap.control.set_faults(latency_ms=600)
    posting = confirmation()

    result = connector.post(posting)

    assert result.outcome == Outcome.UNKNOWN
    sap.control.set_faults(latency_ms=0)
    assert len(wait_for_ledger(sap, 1)) == 1  # the slow ERP booked it after all
    found = connector.find(posting)
    assert found is not None and found.outcome == Outcome.ACCEPTED


def test_a_rejected_order_is_rejected_with_the_erp_message(sap: SimulatorProcess, connector: SapConnector) -> None:
    sap.control.set_faults(rejected_orders=[ORDER])

    result = connector.post(confirmation())

    assert (result.outcome, result.http_status) == (Outcome.REJECTED, 400)
    assert f"Order {ORDER} is not released; no confirmation possible" in result.error
    assert sap.control.ledger() == []


def test_a_confirmation_after_the_final_one_is_rejected_with_the_erp_message(
    sap: SimulatorProcess, connector: SapConnector
) -> None:
    connector.post(confirmation(final=True))

    result = connector.post(confirmation())

    assert result.outcome == Outcome.REJECTED
    assert "already finally confirmed" in result.error


# -- reconciliation and health ---------------------------------------------------------------


def test_totals_when_the_erp_is_down_are_retryable(sap: SimulatorProcess, connector: SapConnector) -> None:
    sap.control.set_faults(down=True)

    result = connector.totals(ORDER)

    assert not isinstance(result, list) and result.outcome == Outcome.RETRYABLE


def test_health_reports_a_reachable_service(sap: SimulatorProcess, connector: SapConnector) -> None:
    health = connector.health()

    assert health.reachable is True
    assert health.latency_ms is not None


def test_validate_options_names_each_bad_option() -> None:
    assert SapConnector.validate_options({}) == {}
    problems = SapConnector.validate_options(
        {"activity_slots": {"labor": 2, "machine": 2}, "activity_unit": "HOUR", "plant": "12345", "time_zone": "Mars/Base"}
    )
    assert set(problems) == {"activity_slots", "activity_unit", "plant", "time_zone"}
    assert SapConnector.validate_options({"activity_slots": {"setup": 1}})["activity_slots"].startswith("Unknown activity")
    assert "1 to 6" in SapConnector.validate_options({"activity_slots": {"labor": 7}})["activity_slots"]


def test_without_csrf_the_first_write_asks_for_a_token_and_then_succeeds(sap: SimulatorProcess) -> None:
    connector = connector_for(sap, csrf=False, headers={"APIKey": "k-1"})

    result = connector.post(confirmation())

    assert result.outcome == Outcome.ACCEPTED  # the simulator wants a token: the 403 fetched one
    assert connector._token is not None


# -- OData $batch ------------------------------------------------------------------------------


def test_post_many_books_each_order_in_its_own_changeset_of_one_batch(sap: SimulatorProcess, connector: SapConnector) -> None:
    postings = [confirmation(order=f"WO-{index}", station="工位-7") for index in range(3)]
    sap.control.set_faults(rejected_orders=["WO-1"])
    before = sap.control.health()["counters"].get("requests", 0)

    results = connector.post_many(postings)

    assert [result.outcome for result in results] == [Outcome.ACCEPTED, Outcome.REJECTED, Outcome.ACCEPTED]
    assert results[1].http_status == 400 and "not released" in results[1].error
    assert [result.erp_document for result in (results[0], results[2])] == ["1000/1", "1001/1"]
    ledger = sap.control.ledger()
    assert [(entry["order"], entry["key"]) for entry in ledger] == [("WO-0", postings[0].idempotency_key), ("WO-2", postings[2].idempotency_key)]
    # The token fetch, one $batch, and the look-up that tells a refused key from a refused order.
    assert sap.control.health()["counters"]["requests"] - before == 3


def test_post_many_sends_reversals_on_their_own_and_keeps_the_order_of_answers(
    sap: SimulatorProcess, connector: SapConnector
) -> None:
    original = confirmation()
    booked = connector.post(original)
    postings = [confirmation(order="WO-A"), reversal_of(original, booked.erp_ref), confirmation(order="WO-B")]

    results = connector.post_many(postings)

    assert [result.outcome for result in results] == [Outcome.ACCEPTED] * 3
    ledger = sap.control.ledger()
    assert sorted(entry["action"] for entry in ledger) == ["cancel", "post", "post", "post"]  # orders are independent
    assert [entry["order"] for entry in ledger if entry["action"] == "post"][1:] == ["WO-A", "WO-B"]


def test_a_batch_that_fails_whole_fails_every_posting_alike(sap: SimulatorProcess, connector: SapConnector) -> None:
    connector.health()
    postings = [confirmation(order=f"WO-{index}") for index in range(3)]

    sap.control.set_faults(error_rate=1.0)
    failed = connector.post_many(postings)
    sap.control.set_faults(error_rate=0.0, drop_after_commit_rate=1.0)
    dropped = connector.post_many(postings)
    sap.control.clear_faults()

    assert {result.outcome for result in failed} == {Outcome.RETRYABLE}
    assert {result.outcome for result in dropped} == {Outcome.UNKNOWN}  # booked, unanswered: looked up before a resend
    assert [connector.find(posting).outcome for posting in postings] == [Outcome.ACCEPTED] * 3
    assert len(sap.control.ledger()) == 3


def test_a_batch_of_keys_booked_before_answers_duplicates_where_the_system_refuses_repeats(
    sap: SimulatorProcess, connector: SapConnector
) -> None:
    sap.control.set_config(dedupe="reject")
    postings = [confirmation(order=f"WO-{index}") for index in range(2)]
    first = connector.post(postings[0])

    results = connector.post_many(postings)

    assert [result.outcome for result in results] == [Outcome.DUPLICATE, Outcome.ACCEPTED]
    assert results[0].erp_ref == first.erp_ref and len(sap.control.ledger()) == 2


def test_batch_size_one_posts_one_by_one(sap: SimulatorProcess) -> None:
    connector = connector_for(sap, batch_size=1)

    results = connector.post_many([confirmation(order="WO-A"), confirmation(order="WO-B")])

    assert [result.outcome for result in results] == [Outcome.ACCEPTED] * 2
    assert sap.control.health()["counters"]["requests"] == 3  # the token fetch and two posts
    assert SapConnector.validate_options({"batch_size": 0})["batch_size"].startswith("A whole number from 1")


def test_a_batch_sends_no_more_once_sap_left_a_call_unanswered(sap: SimulatorProcess) -> None:
    connector = connector_for(sap, timeout=1)
    original = confirmation()
    booked = connector.post(original)
    sap.control.set_faults(latency_ms=2500)  # slower than the timeout
    before = sap.control.health()["counters"]["requests"]

    results = connector.post_many([reversal_of(original, booked.erp_ref), confirmation(order="WO-A"), confirmation(order="WO-B")])

    assert [result.outcome for result in results] == [Outcome.UNKNOWN, Outcome.RETRYABLE, Outcome.RETRYABLE]
    assert all(result.error.startswith("Not sent: SAP did not answer a call just before") for result in results[1:])
    assert sap.control.health()["counters"]["requests"] - before == 1
