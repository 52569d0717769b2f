"""End to end over real HTTP: the dispatcher delivers to a simulated ERP that misbehaves,
and afterwards the ERP's ledger matches the MES exactly — nothing missing, nothing twice,
and every work order's messages in their order.
"""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import time
import uuid
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings

from erp_sync.dispatcher import dispatch_until_idle
from erp_sync.models import DeliveryAttempt, OutboxMessage
from erp_sync.services import message_discard, messages_replay
from mes.models import Confirmation
from mes.services.confirmations import ConfirmationRequest, operation_confirm
from mes.services.master_data import item_upsert, routing_upsert, work_center_upsert
from mes.services.work_orders import work_order_transition, work_order_upsert
from simulators.erp import start_simulator
from tests.conftest import clock_environment
from tests.erp_sync.builders import odoo_lots_stage, simulator_connection
from tests.erp_sync.goods import confirm_with_goods, issue_by_scan, issue_reverse, lot_stage, mes_stock, reverse_with_goods
from tests.helpers import Dispatcher

pytestmark = [
    pytest.mark.subprocess,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

ORDERS = 30
CONFIRMATIONS_PER_OPERATION = 5


@pytest.fixture(autouse=True)
def quick_backoff(settings):
    settings.ERP_SYNC_BACKOFF_BASE_SECONDS = 0.05
    settings.ERP_SYNC_BACKOFF_CAP_SECONDS = 0.5


def _connect(simulator, *, timeout: int = 2) -> None:
    simulator_connection(simulator, timeout=timeout)


def _plant(orders: int, prefix: str) -> list[str]:
    work_center_upsert(code="WC-A", name="Cut")
    work_center_upsert(code="WC-B", name="Weld")
    # Untracked, so the confirmation service receives no output of its own: the movements of these
    # reports are written by tests/erp_sync/goods.py (tests/mes/test_backflush.py covers the service's).
    item_upsert(code="FRAME", name="Frame", unit="PCS")
    item_upsert(code="STEEL", name="Steel", unit="KG", tracking="lot")
    item_upsert(code="BOLT", name="Bolt", unit="PCS", tracking="lot")
    routing_upsert(
        item_code="FRAME",
        operations=[
            {"sequence": 10, "name": "Cut", "work_center": "WC-A"},
            {"sequence": 20, "name": "Weld", "work_center": "WC-B"},
        ],
    )
    numbers = []
    for index in range(orders):
        number = f"{prefix}{index + 1:03d}"
        work_order_upsert(number=number, item="FRAME", quantity=Decimal(100), due_date=datetime.date(2026, 12, 31))
        work_order_transition(number=number, action="release")
        numbers.append(number)
    return numbers


def _confirm(number: str, operation: int, good: int) -> Confirmation:
    request = ConfirmationRequest(client_id=uuid.uuid4(), work_order=number, operation=operation, good_qty=Decimal(good))
    return operation_confirm(request=request).confirmation




def _settled() -> bool:
    """Nothing in flight, and whatever still waits sits behind a dead message of its own order.

    One query, so one snapshot: asked state by state, a message claimed between two queries
    (queued, then sending) was in neither answer, and the test went on before it was sent.
    """
    unsettled = list(
        OutboxMessage.objects.exclude(state__in=["acknowledged", "discarded"]).values_list("partition_key", "sequence", "state")
    )
    if any(state in ("sending", "retrying") for _partition, _sequence, state in unsettled):
        return False
    first_dead: dict[str, int] = {}
    for partition, sequence, state in unsettled:
        if state == "dead":
            first_dead[partition] = min(sequence, first_dead.get(partition, sequence))
    return all(
        partition in first_dead and first_dead[partition] < sequence
        for partition, sequence, state in unsettled
        if state == "queued"
    )


def _wait_until_settled(timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _settled():
            return
        time.sleep(0.2)
    left = list(OutboxMessage.objects.exclude(state="acknowledged").values_list("partition_key", "sequence", "state", "last_error")[:10])
    raise AssertionError(f"Messages still unsettled after {timeout} s: {left}")


def _own_document(message: OutboxMessage, flavor: str) -> bool:
    """Whether the ERP books the message as a document of its own (a post, or a cancellation).
    SAP books goods that rode with a report in that report's material document; ERPNext gives
    every goods message its Stock Entry (or cancels one), Odoo its move lines (or unlinks them), Kingdee its
    PRD_PickMtrl / PRD_INSTOCK bill (or deletes it); U8 books a report's output in the report's productin, and
    every issue as a materialout of its own (or a red one); a B2MML receiver gets a report's movements as the
    MaterialActual rows of its ProcessOperationsPerformance, and a scanned issue as a document of its own."""
    if message.kind in ("confirmation", "reversal"):
        return True
    if flavor == "u8":
        return not message.kind.startswith("goods_receipt") or not message.payload.get("confirmation_id")
    return flavor not in ("sap", "b2mml") or not message.payload.get("confirmation_id")


def _assert_ledger_matches(simulator) -> None:
    ledger = simulator.control.ledger()
    posts = [entry for entry in ledger if entry["action"] == "post"]
    cancels = [entry for entry in ledger if entry["action"] == "cancel"]
    messages = [m for m in OutboxMessage.objects.order_by("partition_key", "sequence") if _own_document(m, simulator.flavor)]
    confirmations = {str(m.idempotency_key) for m in messages if m.kind in ("confirmation", "goods_issue", "goods_receipt")}
    reversals = {m.payload["reverses"]["idempotency_key"] for m in messages if m.kind.endswith("reversal")}

    assert all(m.state == "acknowledged" for m in messages), {m.state for m in messages}
    posted_keys = [entry["key"] for entry in posts]
    assert sorted(posted_keys) == sorted(confirmations), "every confirmation booked exactly once"
    cancelled_keys = [entry["cancels_key"] for entry in cancels]
    assert sorted(cancelled_keys) == sorted(reversals), "every reversal cancelled its original exactly once"

    # Per work order, the ERP saw our messages in our order.
    ledger_position = {entry["key"]: entry["seq"] for entry in posts}
    ledger_position.update({f"cancel:{entry['cancels_key']}": entry["seq"] for entry in cancels})
    by_order: dict[str, list[int]] = {}
    for message in messages:
        key = str(message.idempotency_key) if not message.kind.endswith("reversal") else f"cancel:{message.payload['reverses']['idempotency_key']}"
        by_order.setdefault(message.partition_key, []).append(ledger_position[key])
    for order, positions in by_order.items():
        assert positions == sorted(positions), f"{order} reached the ERP out of order: {positions}"


@pytest.mark.parametrize("flavor", ["sap", "erpnext", "odoo", "kingdee", "u8", "b2mml"])
def test_faulty_erp_gets_every_message_exactly_once_in_order(flavor, tmp_path):
    """Each report of operation 10 backflushes steel, each of operation 20 receives its
    output into the order's lot, and every other round a bolt is issued by scan; the last reports and
    some scanned issues are reversed. The ERP's stock must then be the MES's, per item and lot."""
    with start_simulator(flavor, ledger_path=tmp_path / "ledger.jsonl") as simulator:
        _connect(simulator, timeout=1)
        numbers = _plant(ORDERS, prefix=f"E{flavor[0].upper()}")
        steel, bolts = lot_stage(item="STEEL", code="ST-0001"), lot_stage(item="BOLT", code="BO-0001")
        outputs = {number: lot_stage(item="FRAME", code=f"OUT-{number}", quantity=Decimal(0)) for number in numbers}
        if flavor == "odoo":  # Odoo holds the component lots; the output lots it creates when they are received
            odoo_lots_stage(simulator, {"STEEL": ["ST-0001"], "BOLT": ["BO-0001"]})
        originals: list[Confirmation] = []
        scanned = []
        faults = [
            {"down": True},  # (a) the ERP is away for a while
            {"error_rate": 0.3},  # (b) 30 % of calls fail
            {"drop_after_commit_rate": 0.3},  # (c) booked, then the answer is lost
            {"latency_ms": 1500},  # (d) slower than our 1 s timeout: booked after we gave up
        ]
        with Dispatcher():
            for round_number in range(CONFIRMATIONS_PER_OPERATION):
                simulator.control.clear_faults()
                simulator.control.set_faults(**faults[round_number % len(faults)])
                for number in numbers:
                    confirm_with_goods(number=number, operation=10, good=2, backflush=(steel, Decimal("1.5")))
                    originals.append(confirm_with_goods(number=number, operation=20, good=1, output=outputs[number]))
                    if round_number % 2 == 0:
                        scanned.append(issue_by_scan(number=number, operation=20, lot=bolts, quantity=Decimal(2)))
                time.sleep(1.0)
            for confirmation in originals[-20:]:
                reverse_with_goods(confirmation=confirmation)
            for movement in scanned[-10:]:
                issue_reverse(movement=movement)
            time.sleep(1.0)
            simulator.control.clear_faults()
            _wait_until_settled(timeout=120)

        assert Confirmation.objects.filter(kind="confirmation").count() == ORDERS * CONFIRMATIONS_PER_OPERATION * 2
        assert OutboxMessage.objects.filter(kind="reversal").count() == 20
        _assert_ledger_matches(simulator)
        assert OutboxMessage.objects.filter(kind="goods_issue").count() == ORDERS * CONFIRMATIONS_PER_OPERATION + len(scanned)
        assert OutboxMessage.objects.filter(kind="goods_receipt_reversal").count() == 20
        erp_stock = {key: tuple(Decimal(value) for value in values) for key, values in simulator.control.stock().items()}
        expected = mes_stock()
        assert erp_stock == expected
        assert expected[("BOLT", "BO-0001")] == (Decimal(2) * (len(scanned) - 10), Decimal(0))
        assert expected[("STEEL", "ST-0001")] == (Decimal("1.5") * ORDERS * CONFIRMATIONS_PER_OPERATION, Decimal(0))
        # The faults really happened: transient failures, answers lost after booking, and
        # look-ups by our key that found those bookings instead of sending them twice.
        outcomes = set(DeliveryAttempt.objects.values_list("outcome", flat=True))
        assert {"retryable", "unknown", "found", "accepted"} <= outcomes, outcomes
        assert any(entry["response_dropped"] for entry in simulator.control.ledger())


@pytest.mark.parametrize("flavor", ["sap", "kingdee", "u8", "b2mml"])
def test_permanent_error_blocks_only_its_order_until_replayed(flavor, tmp_path):
    with start_simulator(flavor, ledger_path=tmp_path / "ledger.jsonl") as simulator:
        _connect(simulator)
        blocked, free = _plant(2, prefix="PB")
        simulator.control.set_faults(rejected_orders=[blocked])
        with Dispatcher():
            for _ in range(3):
                _confirm(blocked, 10, 1)
                _confirm(free, 10, 1)
            _wait_until_settled(timeout=30)

            head = OutboxMessage.objects.get(partition_key=blocked, sequence=1)
            assert head.state == "dead" and head.last_error
            assert list(OutboxMessage.objects.filter(partition_key=blocked, sequence__gt=1).values_list("state", flat=True)) == ["queued", "queued"]
            assert set(OutboxMessage.objects.filter(partition_key=free).values_list("state", flat=True)) == {"acknowledged"}

            simulator.control.set_faults(rejected_orders=[])  # the ERP's master data was fixed
            messages_replay(message_ids=[head.pk], reason="order unblocked in the ERP")
            _wait_until_settled(timeout=30)

        assert set(OutboxMessage.objects.values_list("state", flat=True)) == {"acknowledged"}
        _assert_ledger_matches(simulator)


#: How each ERP forgets its sessions quickly (seconds), and what its counters show after renewals.
SESSIONS = {
    "kingdee": ({"session_ttl_s": 0.2}, lambda c: c["kingdee_sessions_lost"] >= 1 and c["kingdee_logins"] >= 2),
    "u8": ({"token_ttl_s": 0.5}, lambda c: c["u8_tokens_issued"] >= 3),
}


@pytest.mark.parametrize("flavor", sorted(SESSIONS))
def test_sessions_that_expire_or_are_forgotten_during_delivery_are_renewed_and_nothing_is_booked_twice(flavor, tmp_path):
    """Kingdee forgets sessions (idle time-out, a restart of its site), U8 tokens run out (a short expiresIn) and the
    gateway forgets them, while the queue drains: the connector logs in again or fetches a new token (U8: before
    expiresIn, and once more when refused) and repeats the refused call, with answers lost now and then on top."""
    short, renewed = SESSIONS[flavor]
    with start_simulator(flavor, ledger_path=tmp_path / "ledger.jsonl") as simulator:
        _connect(simulator, timeout=2)
        numbers = _plant(5, prefix="KS")
        simulator.control.set_config(**short)
        simulator.control.set_faults(drop_after_commit_rate=0.2)
        with Dispatcher():
            for round_number in range(4):
                for number in numbers:
                    _confirm(number, 10, 1)
                    _confirm(number, 20, 1)
                time.sleep(0.6)  # idle longer than a session or token lives
                if round_number == 1:
                    simulator.control.invalidate_sessions()
            simulator.control.clear_faults()
            _wait_until_settled(timeout=60)

        _assert_ledger_matches(simulator)
        assert len(simulator.control.ledger()) == 5 * 4 * 2
        counters = simulator.control.health()["counters"]
        assert renewed(counters), counters


def test_discarding_a_dead_message_lets_its_order_proceed(tmp_path):
    with start_simulator("sap", ledger_path=tmp_path / "ledger.jsonl") as simulator:
        _connect(simulator)
        (number,) = _plant(1, prefix="DS")
        simulator.control.set_faults(rejected_orders=[number])
        with Dispatcher():
            _confirm(number, 10, 1)
            _wait_until_settled(timeout=30)
            simulator.control.set_faults(rejected_orders=[])
            _confirm(number, 10, 1)
            time.sleep(1.0)
            journey = list(OutboxMessage.objects.filter(partition_key=number).values_list("sequence", "state"))
            assert journey == [(1, "dead"), (2, "queued")], journey

            message_discard(message_id=OutboxMessage.objects.get(partition_key=number, sequence=1).pk, reason="booked by hand in the ERP")
            _wait_until_settled(timeout=30)

        states = dict(OutboxMessage.objects.filter(partition_key=number).values_list("sequence", "state"))
        assert states == {1: "discarded", 2: "acknowledged"}
        assert [entry["key"] for entry in simulator.control.ledger()] == [
            str(OutboxMessage.objects.get(partition_key=number, sequence=2).idempotency_key)
        ]


def _start_worker(tmp_path) -> subprocess.Popen:
    """A real Celery worker (with its beat sweep) on this test's database, through a real Redis."""
    database = connection.settings_dict
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mes.settings",
        "DATABASE_URL": f"postgresql://{database['USER'] or 'postgres'}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/{database['NAME']}",
        "REDIS_URL": "redis://127.0.0.1:6379/9",
        "ERP_SYNC_SWEEP_SECONDS": "0.5",
        "ERP_SYNC_LEASE_SECONDS": "3",
        "MES_VAR_DIR": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
        **clock_environment(),  # under MES_TEST_CLOCK: this test's clock
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "mes", "worker", "--beat", "--queues", "erp", "--concurrency", "1",
         "--pool", "solo", "--without-gossip", "--without-mingle", "--loglevel", "INFO",
         "--schedule", str(tmp_path / "beat-schedule")],
        cwd=settings.BASE_DIR, env=environment, stdout=open(tmp_path / "worker.log", "wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def test_worker_killed_mid_send_loses_nothing_and_books_nothing_twice(tmp_path):
    with start_simulator("sap", ledger_path=tmp_path / "ledger.jsonl") as simulator:
        _connect(simulator, timeout=10)
        numbers = _plant(3, prefix="KL")
        # Every ERP call takes 4 s: the CSRF fetch ends at 4 s, then each POST is on the wire until 8 s.
        simulator.control.set_faults(latency_ms=4000)
        for number in numbers:
            _confirm(number, 10, 1)
            _confirm(number, 10, 1)
        worker = _start_worker(tmp_path)
        try:
            deadline = time.monotonic() + 60
            # Kill when a POST has reached the ERP (its first request is the CSRF fetch) and
            # nothing is booked yet: the ERP will book it, the worker will never hear.
            while True:
                counters = simulator.control.health()["counters"]
                if counters.get("requests", 0) >= 2 and not counters.get("committed"):
                    break
                assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "the worker never sent: " + (tmp_path / "worker.log").read_text()[-3000:]
                time.sleep(0.02)
            os.killpg(worker.pid, signal.SIGKILL)
        finally:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
        in_flight = {str(key) for key in OutboxMessage.objects.filter(state="sending").values_list("idempotency_key", flat=True)}
        time.sleep(4.0)  # the simulator books what reached it before the kill
        booked = [entry["key"] for entry in simulator.control.ledger()]
        assert in_flight and booked, "the kill must catch messages in flight"
        assert sorted(booked) == sorted(set(booked)) and set(booked) <= in_flight
        assert OutboxMessage.objects.filter(state="sending").count() == len(in_flight)  # nobody recorded an answer

        simulator.control.clear_faults()
        with Dispatcher():  # another worker takes over once the dead one's lease lapses
            with override_settings(ERP_SYNC_LEASE_SECONDS=3):
                _wait_until_settled(timeout=60)

        for message in OutboxMessage.objects.filter(idempotency_key__in=in_flight):
            steps = list(message.deliveries.values_list("action", "outcome"))
            if str(message.idempotency_key) in booked:
                assert steps == [("lookup", "found")], steps  # booked before the crash: found, not resent
            else:
                assert steps == [("lookup", "not_found"), ("post", "accepted")], steps
        _assert_ledger_matches(simulator)


def test_a_batch_stops_asking_an_erp_that_did_not_answer_a_look_up(tmp_path):
    with start_simulator("sap", ledger_path=tmp_path / "ledger.jsonl") as simulator:
        _connect(simulator, timeout=1)
        numbers = _plant(3, prefix="LU")
        for number in numbers:
            _confirm(number, 10, 1)
        # Each message may have reached the ERP already (a worker died mid-send, say).
        OutboxMessage.objects.update(state="retrying", needs_lookup=True)
        simulator.control.set_faults(latency_ms=3000)  # slower than the 1 s timeout

        dispatch_until_idle(budget_seconds=5, threads=1)  # one thread: the three heads go as one batch
        requests_seen = simulator.control.health()["counters"]["requests"]

    assert requests_seen == 1  # one look-up timed out; nobody waited out the same timeout twice more
    assert set(OutboxMessage.objects.values_list("state", "needs_lookup")) == {("retrying", True)}
    outcomes = sorted(DeliveryAttempt.objects.values_list("action", "outcome", "error"))
    assert [(action, outcome) for action, outcome, _error in outcomes] == [("lookup", "retryable")] * 3
    assert sum(error.startswith("Not tried: the ERP did not answer a look-up") for _action, _outcome, error in outcomes) == 2
