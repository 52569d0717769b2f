"""Concurrent writers on one order: serialized, never over-confirmed, never deadlocked, never a stray error.

Each thread has its own database connection (closed when the thread ends), so these run with
real commits (``transaction=True``) against PostgreSQL, the database CI and production use.
"""

import threading
import time
import uuid
from collections import Counter
from decimal import Decimal
from typing import Any, Callable

import pytest
from django.db import connection

from common.errors import DomainError
from erp_sync.models import OutboxMessage
from mes.models import Confirmation
from mes.services.confirmations import operation_confirm, operation_confirm_many
from mes.services.work_orders import work_order_transition
from tests.factories import WorkOrderFactory
from tests.helpers import confirm, confirmation_request, operation_of, statuses

D = Decimal

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgresql_only(reason="row locks (SELECT ... FOR UPDATE) between connections; SQLite locks the whole file"),
]


def run_at_once(jobs: list[Callable[[], Any]], timeout: float = 60) -> list[tuple[str, Any]]:
    """Start every job at the same moment, each in its own thread with its own connection.

    Answers, per job: ("ok", value), ("refused", code) for a DomainError, or ("crashed", repr).
    """
    barrier = threading.Barrier(len(jobs))
    outcomes: list[tuple[str, Any]] = [("not run", None)] * len(jobs)

    def run(index: int, job: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[index] = ("ok", job())
        except DomainError as error:
            outcomes[index] = ("refused", error.code)
        except BaseException as error:  # noqa: BLE001 - reported to the test, which fails on it
            outcomes[index] = ("crashed", repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, job), daemon=True) for index, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "a writer hung: deadlock or lost wake-up"
    return outcomes


def assert_gap_free_outbox(number: str) -> None:
    sequences = list(OutboxMessage.objects.filter(partition_key=number).order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(1, len(sequences) + 1))


def test_eight_threads_confirming_one_operation_never_exceed_the_order_quantity(released_order):
    jobs = [lambda: operation_confirm(request=confirmation_request(good_qty=2)).created for _ in range(8)]

    outcomes = run_at_once(jobs)

    assert Counter(outcomes) == {("ok", True): 5, ("refused", "quantity_exceeds_available"): 3}
    assert operation_of(released_order, 10).good_qty == D("10")
    assert Confirmation.objects.count() == OutboxMessage.objects.count() == 5
    assert_gap_free_outbox(released_order.number)


def test_eight_threads_confirming_a_later_operation_never_exceed_what_was_passed_on(released_order):
    confirm(operation=10, good_qty=5)
    jobs = [lambda: operation_confirm(request=confirmation_request(operation=20, good_qty=1)).created for _ in range(8)]

    outcomes = run_at_once(jobs)

    assert Counter(outcomes) == {("ok", True): 5, ("refused", "quantity_exceeds_available"): 3}
    assert operation_of(released_order, 20).good_qty == D("5")


def test_eight_bulk_calls_at_once_never_exceed_the_order_quantity(released_order):
    def job():
        answers = operation_confirm_many(requests=[confirmation_request(good_qty=1) for _ in range(3)])
        return tuple(getattr(answer, "code", "created") for answer in answers)

    outcomes = run_at_once([job] * 8)

    assert all(kind == "ok" for kind, _answers in outcomes), outcomes
    codes = Counter(code for _kind, answers in outcomes for code in answers)
    assert codes == {"created": 10, "quantity_exceeds_available": 14}
    assert operation_of(released_order, 10).good_qty == D("10")
    assert_gap_free_outbox(released_order.number)


def test_eight_threads_sending_the_same_client_id_record_it_once(released_order):
    client_id = uuid.uuid4()

    def job():
        result = operation_confirm(request=confirmation_request(client_id=client_id, good_qty=3, station="ST-07"))
        return result.created, result.confirmation.uuid

    outcomes = run_at_once([job] * 8)

    confirmation = Confirmation.objects.get()
    assert Counter(outcomes) == {("ok", (True, confirmation.uuid)): 1, ("ok", (False, confirmation.uuid)): 7}
    assert OutboxMessage.objects.get().idempotency_key == confirmation.uuid
    assert operation_of(released_order, 10).good_qty == D("3")


def test_transitions_and_confirmations_on_two_orders_never_deadlock_nor_fail_by_accident(released_order, plant):
    WorkOrderFactory(number="WO-1002", item=plant["item"], quantity=D("10"))
    work_order_transition(number="WO-1002", action="release")
    orders = ["WO-1001", "WO-1002"]
    for number in orders:
        confirm(number, 10, good_qty=1)
    refusals: Counter = Counter()
    lock = threading.Lock()

    def until_accepted(send: Callable[[], list]) -> int:
        """Resend, as a station or gateway would, while the order is on hold; answer the attempts."""
        for attempt in range(1, 2000):
            codes = send()
            if not codes:
                return attempt
            with lock:
                refusals.update(codes)
            time.sleep(0.002)
        raise AssertionError("never accepted")

    def supervisor(first: str, second: str):
        for _round in range(5):
            for number in (first, second):
                work_order_transition(number=number, action="pause", reason="check")
                work_order_transition(number=number, action="resume")
        return "done"

    def station(numbers: list[str]):
        def send_one(number, client_id):
            def send():
                try:
                    operation_confirm(request=confirmation_request(number, 10, client_id=client_id, good_qty="0.1"))
                except DomainError as error:
                    return [error.code]
                return []
            return send
        return sum(until_accepted(send_one(number, uuid.uuid4())) for number in numbers)

    def gateway(numbers: list[str]):
        def send_batch():
            batch = [confirmation_request(number, 10, good_qty="0.1") for number in numbers]

            def send():
                answers = operation_confirm_many(requests=batch)
                return [answer.code for answer in answers if isinstance(answer, DomainError)]
            return send
        return sum(until_accepted(send_batch()) for _round in range(3))

    jobs = [
        lambda: supervisor("WO-1001", "WO-1002"),
        lambda: supervisor("WO-1002", "WO-1001"),
        *[lambda: station(["WO-1001", "WO-1002"] * 5) for _ in range(2)],
        *[lambda: station(["WO-1002", "WO-1001"] * 5) for _ in range(2)],
        lambda: gateway(["WO-1001", "WO-1002"]),
        lambda: gateway(["WO-1002", "WO-1001"]),
    ]

    outcomes = run_at_once(jobs, timeout=120)

    assert [kind for kind, _value in outcomes] == ["ok"] * len(jobs), outcomes
    assert set(refusals) <= {"operation_on_hold"}, refusals
    for number in orders:
        # 1 before, 4 stations x 5 reports x 0.1, 2 gateways x 3 batches x 0.1
        assert operation_of(number, 10).good_qty == D("3.6")
        assert Confirmation.objects.filter(work_order__number=number).count() == 1 + 20 + 6
        assert statuses(number) == ("in_progress", {10: "in_progress", 20: "released", 30: "released"})
        assert_gap_free_outbox(number)
        assert OutboxMessage.objects.filter(partition_key=number).count() == 27


def test_two_orders_naming_the_same_new_output_lot_at_once_get_the_lot_and_a_clean_output_lot_taken(released_order, plant):
    """Both see no lot FR-SHARED and both create it: the unique (item, code) lets one in, and the
    other, judged again, finds the lot made by another order: 409 ``output_lot_taken``, not a crash."""
    from mes.models import Lot

    other = WorkOrderFactory(number="WO-1002", item=plant["item"], quantity=Decimal("10"))
    work_order_transition(number=other.number, action="release")
    for number in (released_order.number, other.number):
        for sequence in (10, 20):
            confirm(number, sequence, good_qty=5)
    outcomes = []
    for round_ in range(3):  # the race is narrow: several rounds make hitting it all but certain
        code = f"FR-SHARED-{round_}"
        jobs = [
            lambda number=number: operation_confirm(request=confirmation_request(number, 30, good_qty=1, output_lot=code)).created
            for number in (released_order.number, other.number)
        ]
        outcomes += run_at_once(jobs)
        lot = Lot.objects.get(item=plant["item"], code=code)
        maker = Confirmation.objects.get(movements__lot=lot)
        assert lot.produced_by_id == maker.work_order_id and lot.produced_qty == Decimal(1)
    assert Counter(outcomes) == {("ok", True): 3, ("refused", "output_lot_taken"): 3}
    for number in (released_order.number, other.number):
        assert_gap_free_outbox(number)


def test_two_batches_naming_the_same_new_output_lot_at_once_answer_output_lot_taken_for_the_later_report(released_order, plant):
    """The same race through the bulk service: the losing batch is judged again as a whole, and
    answers its report with the refusal (the batch's other reports are recorded all the same)."""
    from mes.models import Lot

    other = WorkOrderFactory(number="WO-1002", item=plant["item"], quantity=Decimal("10"))
    work_order_transition(number=other.number, action="release")
    for number in (released_order.number, other.number):
        for sequence in (10, 20):
            confirm(number, sequence, good_qty=10)

    def batch(number: str, code: str) -> list[str]:
        requests = [confirmation_request(number, 30, good_qty=1, output_lot=code), confirmation_request(number, 30, good_qty=1)]
        return [answer.code if isinstance(answer, DomainError) else "recorded" for answer in operation_confirm_many(requests=requests)]

    outcomes = []
    for round_ in range(3):
        code = f"FR-BATCH-{round_}"
        results = run_at_once([lambda number=number: batch(number, code) for number in (released_order.number, other.number)])
        assert all(kind == "ok" for kind, _value in results), results  # never a crash
        outcomes += [value for _kind, value in results]
        assert Lot.objects.filter(item=plant["item"], code=code).count() == 1
    assert sorted(map(tuple, outcomes)) == sorted([("recorded", "recorded")] * 3 + [("output_lot_taken", "recorded")] * 3)
