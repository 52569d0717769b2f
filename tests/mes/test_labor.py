"""Labor time: operators clocked on and off an operation, and the labor minutes a report gets when it
leaves them out (the operator's clocked time since their previous report on the operation).

Every test pins the clock (time-machine, not ticking) and moves it by hand: no sleeping."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from common.errors import DomainError
from erp_sync.models import OutboxMessage
from mes.models import Confirmation, Employee, LaborSession, WorkOrderOperation
from mes.services.confirmations import ConfirmationRequest, operation_confirm, operation_confirm_many
from mes.services.labor import labor_clock_off, labor_clock_on, labor_clocked_on
from mes.services.transitions import operation_transition_locked, work_order_lock, work_order_transition_locked
from mes.services.work_orders import work_order_transition
from tests.factories import EmployeeFactory
from tests.helpers import confirm, confirmation_request, operation_of

pytestmark = pytest.mark.django_db

D = Decimal
T0 = datetime.datetime(2026, 11, 16, 8, 0, tzinfo=datetime.UTC)


def minutes(n: float) -> datetime.datetime:
    return T0 + datetime.timedelta(minutes=n)


@pytest.fixture
def clock():
    """The clock stands at T0 (08:00 UTC) until the test moves it."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def running(released_order, clock) -> WorkOrderOperation:
    """Operation 10 of WO-1001 started (no report yet), and a second operator B-2002."""
    EmployeeFactory(badge="B-2002", name="Wang Fang")
    with transaction.atomic():
        work_order = work_order_lock(number="WO-1001")
        work_order_transition_locked(work_order=work_order, action="start")
        operation_transition_locked(operation=operation_of("WO-1001", 10), work_order=work_order, action="start")
    return operation_of("WO-1001", 10)


def on(badge: str, sequence: int = 10) -> LaborSession:
    with transaction.atomic():
        work_order_lock(number="WO-1001")
        return labor_clock_on(operation=operation_of("WO-1001", sequence), employee=Employee.objects.get(badge=badge), station="ST-1")


def off(badge: str) -> LaborSession | None:
    with transaction.atomic():
        work_order_lock(number="WO-1001")
        return labor_clock_off(operation=operation_of("WO-1001", 10), employee=Employee.objects.get(badge=badge))


def report(badge: str = "B-1001", **fields) -> Confirmation:
    return confirm("WO-1001", 10, good_qty=fields.pop("good_qty", 1), operator_badge=badge, **fields).confirmation


def open_badges() -> list[str]:
    return [employee.badge for employee in labor_clocked_on(operation_id=operation_of("WO-1001", 10).pk)]


def test_clocking_on_or_off_twice_changes_nothing(running, clock):
    first = on("B-1001")
    clock.move_to(minutes(5))
    again = on("B-1001")

    assert again.pk == first.pk and again.started_at == T0
    clock.move_to(minutes(12))
    ended = off("B-1001")
    assert (ended.ended_at, ended.end_reason) == (minutes(12), "clock_off")
    clock.move_to(minutes(20))
    assert off("B-1001") is None
    assert list(LaborSession.objects.values_list("started_at", "ended_at")) == [(T0, minutes(12))]


def test_nobody_clocks_on_an_operation_that_is_not_running(released_order, clock):
    with pytest.raises(DomainError) as refused:
        on("B-1001")

    assert refused.value.code == "operation_not_running"
    assert not LaborSession.objects.exists()


def test_two_operators_on_one_operation_each_get_their_own_minutes(running, clock):
    on("B-1001")
    clock.move_to(minutes(10))
    on("B-2002")
    assert open_badges() == ["B-1001", "B-2002"]

    clock.move_to(minutes(30))
    first = report("B-1001")
    clock.move_to(minutes(40))
    second = report("B-2002")
    clock.move_to(minutes(50))
    third = report("B-1001")

    assert (first.labor_minutes, second.labor_minutes, third.labor_minutes) == (D(30), D(30), D(20))
    assert operation_of("WO-1001", 10).labor_minutes == D(80)
    assert Confirmation.objects.get(pk=third.pk).labor_minutes == D(20)
    assert OutboxMessage.objects.get(source_uuid=third.uuid).payload["labor_minutes"] == "20.00"  # what the ERP hears


def test_a_pause_stops_everyones_clock_and_the_resume_restarts_it_for_those_who_were_on(running, clock):
    on("B-1001")
    on("B-2002")
    EmployeeFactory(badge="B-3003", name="Zhao Lei")
    on("B-3003")
    clock.move_to(minutes(5))
    off("B-3003")  # stepped away before the pause: not clocked on again by the resume

    clock.move_to(minutes(20))
    work_order_transition(number="WO-1001", action="pause")
    assert open_badges() == []
    assert set(LaborSession.objects.filter(end_reason="pause").values_list("employee__badge", "ended_at")) == {
        ("B-1001", minutes(20)), ("B-2002", minutes(20)),
    }

    clock.move_to(minutes(50))
    work_order_transition(number="WO-1001", action="resume")
    assert open_badges() == ["B-1001", "B-2002"]

    clock.move_to(minutes(60))
    assert report("B-1001").labor_minutes == D(30)  # 20 before the pause, 10 after; the 30 paused not counted
    assert report("B-3003").labor_minutes == D(5)


def test_completion_clocks_everyone_off(running, clock):
    on("B-1001")
    on("B-2002")
    clock.move_to(minutes(15))

    final = report("B-1001", good_qty=10, final=True)

    assert final.labor_minutes == D(15)
    assert open_badges() == []
    assert sorted(LaborSession.objects.values_list("end_reason", flat=True)) == ["complete", "complete"]


def test_a_given_labor_minutes_wins_is_still_checked_and_the_next_default_starts_after_it(running, clock):
    on("B-1001")
    clock.move_to(minutes(30))
    given = report("B-1001", labor_minutes=5)
    clock.move_to(minutes(45))
    later = report("B-1001")

    with pytest.raises(DomainError) as refused:
        report("B-1001", labor_minutes="720.01")

    assert (given.labor_minutes, later.labor_minutes) == (D(5), D(15))
    assert refused.value.code == "implausible_labor_minutes"
    assert Confirmation.objects.count() == 2


def test_no_operator_or_no_clock_is_zero_minutes_as_before(running, clock):
    on("B-2002")  # someone else's clock
    clock.move_to(minutes(30))

    assert report("").labor_minutes == 0
    assert report("B-1001").labor_minutes == 0


def test_the_default_never_counts_past_now_and_a_late_report_counts_up_to_its_own_time(running, clock):
    on("B-1001")
    clock.move_to(minutes(30))

    ahead = report("B-1001", confirmed_at=minutes(33))  # a tablet's clock a little ahead
    clock.move_to(minutes(40))
    live = report("B-1001")
    clock.move_to(minutes(50))
    kept = report("B-1001", confirmed_at=minutes(45))  # kept offline since 08:45, sent at 08:50
    clock.move_to(minutes(60))
    after = report("B-1001")

    assert (ahead.labor_minutes, live.labor_minutes, kept.labor_minutes, after.labor_minutes) == (D(30), D(7), D(5), D(15))


def test_a_forgotten_clock_off_is_capped_to_the_plausible_most(running, clock, settings):
    on("B-1001")
    clock.move_to(minutes(60 * 15))

    assert report("B-1001").labor_minutes == settings.MES_MAX_LABOR_MINUTES


def test_a_report_leaving_minutes_out_replays_as_one_that_gave_zero(running, clock):
    left_out = confirmation_request(good_qty=1, operator_badge="B-1001")
    given = ConfirmationRequest(**{**left_out.__dict__, "labor_minutes": D(0), "machine_minutes": D("0.00")})
    on("B-1001")
    clock.move_to(minutes(10))

    first = operation_confirm(request=left_out)
    clock.move_to(minutes(20))
    again = operation_confirm(request=left_out)

    assert left_out.fingerprint() == given.fingerprint()
    assert ConfirmationRequest(**{**left_out.__dict__, "labor_minutes": D(5)}).fingerprint() != given.fingerprint()
    assert (first.created, again.created, again.confirmation.labor_minutes) == (True, False, D(10))


def test_the_default_on_the_bulk_path_counts_each_report_of_the_call_from_the_one_before(running, clock):
    on("B-1001")
    clock.move_to(minutes(5))
    on("B-2002")
    clock.move_to(minutes(40))
    requests = [
        confirmation_request(good_qty=1, operator_badge="B-1001", confirmed_at=minutes(10)),
        confirmation_request(good_qty=1, operator_badge="B-1001", confirmed_at=minutes(25)),
        confirmation_request(good_qty=1, operator_badge="B-2002", confirmed_at=minutes(30)),
        confirmation_request(good_qty=1, operator_badge="B-2002", labor_minutes=3, confirmed_at=minutes(35)),
        confirmation_request(good_qty=1, operator_badge="B-2002", confirmed_at=minutes(40)),
        confirmation_request(good_qty=1, confirmed_at=minutes(40)),
    ]

    answers = operation_confirm_many(requests=requests)

    assert [answer.confirmation.labor_minutes for answer in answers] == [D(10), D(15), D(25), D(3), D(5), D(0)]


def test_leaving_minutes_out_costs_one_query_and_only_when_an_operator_is_named(running, clock):
    on("B-1001")
    confirm("WO-1001", 10, good_qty=1, labor_minutes=0)  # the first report's one-time reads out of the way
    clock.move_to(minutes(10))

    def queries(**fields) -> int:
        with CaptureQueriesContext(connection) as captured:
            confirm("WO-1001", 10, good_qty=1, **fields)
        return len(captured.captured_queries)

    given = queries(operator_badge="B-1001", labor_minutes=1)
    left_out = queries(operator_badge="B-1001")
    nobody = queries()

    assert left_out == given + 1
    assert nobody == given


def test_the_api_gives_the_default_when_the_field_is_left_out_or_null(running, clock, supervisor):
    on("B-1001")
    clock.move_to(minutes(12))
    body = {"work_order": "WO-1001", "operation": 10, "good_qty": 1, "operator_badge": "B-1001"}

    left_out = supervisor.post("/api/v1/confirmations", {**body, "client_id": str(uuid.uuid4())}, format="json")
    clock.move_to(minutes(20))
    null = supervisor.post("/api/v1/confirmations", {**body, "client_id": str(uuid.uuid4()), "labor_minutes": None}, format="json")
    given = supervisor.post("/api/v1/confirmations", {**body, "client_id": str(uuid.uuid4()), "labor_minutes": "2.5"}, format="json")

    assert (left_out.status_code, null.status_code, given.status_code) == (201, 201, 201)
    assert [response.json()["labor_minutes"] for response in (left_out, null, given)] == [12, 8, 2.5]
    assert left_out.json()["machine_minutes"] == 0
    assert timezone.now() == minutes(20)
