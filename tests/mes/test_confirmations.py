"""The confirmation service (报工): every rule with its code, status effects, totals and idempotency."""

import datetime
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from common.errors import DomainError
from erp_sync.models import OutboxMessage
from mes.models import Confirmation, Event, WorkOrder
from mes.services.confirmations import operation_confirm, operation_confirm_many
from mes.services.work_orders import work_order_transition
from tests.conftest import ORDER
from tests.factories import ItemFactory, RoutingFactory, WorkOrderFactory
from tests.helpers import bring_to, confirm, confirmation_request, operation_of, snapshot, statuses

D = Decimal


def refused(**fields):
    """Run a confirmation that must be refused; return the error."""
    with pytest.raises(DomainError) as error:
        confirm(**fields)
    return error.value


# --- rules, each with its own code ----------------------------------------------------

RULES = [
    pytest.param({}, "empty_confirmation", 422, {"good_qty": "0", "scrap_qty": "0", "rework_qty": "0"}, id="all-zero"),
    pytest.param({"good_qty": -1}, "negative_quantity", 422, {"good_qty": "-1"}, id="negative-good"),
    pytest.param({"good_qty": 5, "scrap_qty": -1, "reason_code": "SCRAP-01"}, "negative_quantity", 422, {"scrap_qty": "-1"}, id="negative-scrap"),
    pytest.param({"rework_qty": -2, "reason_code": "REWORK-01"}, "negative_quantity", 422, {"rework_qty": "-2"}, id="negative-rework"),
    pytest.param({"good_qty": 5, "scrap_qty": 1}, "reason_code_required", 422, {"reason_code": "required for scrap"}, id="scrap-without-reason"),
    pytest.param({"rework_qty": 1}, "reason_code_required", 422, {"reason_code": "required for rework"}, id="rework-without-reason"),
    pytest.param({"scrap_qty": 1, "rework_qty": 1}, "reason_code_required", 422, {"reason_code": "required for rework and scrap"}, id="both-without-reason"),
    pytest.param({"scrap_qty": 1, "reason_code": "REWORK-01"}, "reason_code_wrong_kind", 422, {"reason_code": "REWORK-01"}, id="scrap-with-rework-reason"),
    pytest.param({"rework_qty": 1, "reason_code": "SCRAP-01"}, "reason_code_wrong_kind", 422, {"reason_code": "SCRAP-01"}, id="rework-with-scrap-reason"),
    pytest.param({"scrap_qty": 1, "reason_code": "PAUSE-01"}, "reason_code_wrong_kind", 422, {"reason_code": "PAUSE-01"}, id="scrap-with-pause-reason"),
    pytest.param({"good_qty": 1, "reason_code": "PAUSE-01"}, "reason_code_wrong_kind", 422, {"reason_code": "PAUSE-01"}, id="good-with-pause-reason"),
    pytest.param({"scrap_qty": 1, "reason_code": "NOPE"}, "unknown_reason_code", 422, {"reason_code": "NOPE"}, id="unknown-reason"),
    pytest.param({"good_qty": 1, "operator_badge": "B-0000"}, "unknown_operator", 422, {"operator_badge": "B-0000"}, id="unknown-badge"),
    pytest.param({"good_qty": 1, "operator_badge": "B-9999"}, "unknown_operator", 422, {"operator_badge": "B-9999"}, id="inactive-badge"),
    pytest.param({"operation": 99, "good_qty": 1}, "unknown_operation", 422, {"operation": "99"}, id="unknown-operation"),
    # The fields of these two are checked in test_quantity_refusal_states_its_numbers_in_plain_notation.
    pytest.param({"good_qty": 11}, "quantity_exceeds_available", 422, None, id="first-op-over-order-qty"),
    pytest.param({"good_qty": 8, "scrap_qty": 2, "rework_qty": "0.001", "reason_code": "SCRAP-01"}, "quantity_exceeds_available", 422,
                 None, id="scrap-and-rework-count"),
    pytest.param({"operation": 20, "good_qty": 1}, "quantity_exceeds_available", 422, {"good_qty": "at most 0 in total"}, id="second-op-nothing-passed"),
    pytest.param({"good_qty": 1, "labor_minutes": "720.01"}, "implausible_labor_minutes", 422, {"labor_minutes": "720.01"}, id="labor-too-long"),
    pytest.param({"good_qty": 1, "labor_minutes": -1}, "implausible_labor_minutes", 422, {"labor_minutes": "-1"}, id="labor-negative"),
    pytest.param({"good_qty": 1, "machine_minutes": "1440.01"}, "implausible_machine_minutes", 422, {"machine_minutes": "1440.01"}, id="machine-too-long"),
    pytest.param({"work_order": "WO-NOPE", "good_qty": 1}, "unknown_work_order", 404, {"work_order": "WO-NOPE"}, id="unknown-order"),
]


@pytest.mark.parametrize(("fields", "code", "http_status", "error_fields"), RULES)
def test_confirmation_breaking_a_rule_is_refused_with_its_code_and_changes_nothing(released_order, fields, code, http_status, error_fields):
    before = snapshot()

    error = refused(**fields)

    assert (error.code, int(error.kind)) == (code, http_status)
    if error_fields is not None:
        assert error.fields == error_fields
    assert error.message
    assert snapshot() == before


def test_quantity_refusal_states_its_numbers_in_plain_notation(released_order):
    """Decimal("10.000").normalize() is Decimal("1E+1"): the refusal must still say 10."""
    confirm(good_qty="2.5")

    with translation.override("en"):
        error = refused(good_qty=10)

    assert error.fields == {"good_qty": "at most 7.5 in total"}
    assert error.message == (
        "Operation 0010 can take at most 7.5 more: 10 available from the previous step, 2.5 already reported, 10 asked."
    )


def test_confirmation_on_a_planned_order_is_refused_with_work_order_not_released(planned_order):
    before = snapshot()

    error = refused(good_qty=1)

    assert (error.code, int(error.kind), error.fields) == ("work_order_not_released", 409, {"work_order": "planned"})
    assert snapshot() == before


def test_confirmation_on_a_paused_order_is_refused_with_operation_on_hold(released_order):
    confirm(good_qty=2)
    work_order_transition(number=ORDER, action="pause")
    before = snapshot()

    on_running_operation = refused(good_qty=1)
    on_released_operation = refused(operation=20, good_qty=1)

    assert (on_running_operation.code, int(on_running_operation.kind)) == ("operation_on_hold", 409)
    assert on_released_operation.code == "operation_on_hold"
    assert snapshot() == before


def test_confirmation_on_a_completed_operation_is_refused_with_operation_not_open(released_order):
    confirm(good_qty=8, final=True)
    before = snapshot()

    error = refused(good_qty=1)

    assert (error.code, int(error.kind), error.fields) == ("operation_not_open", 409, {"operation": "completed"})
    assert snapshot() == before


@pytest.mark.parametrize("status", ["cancelled", "completed", "closed"])
def test_confirmation_on_a_finished_order_is_refused_with_operation_not_open(planned_order, status):
    if status == "cancelled":
        bring_to(ORDER, "released")
        work_order_transition(number=ORDER, action="cancel")
    else:
        bring_to(ORDER, status)
    before = snapshot()

    error = refused(operation=30, good_qty=1)

    assert (error.code, int(error.kind)) == ("operation_not_open", 409)
    assert snapshot() == before


@pytest.fixture
def checkpoint_order(plant):
    """WO-QC: operation 10 is a quality checkpoint, 20 follows it."""
    item = ItemFactory(code="VALVE")
    RoutingFactory(item=item, operations=[{"quality_checkpoint": True}, {}])
    WorkOrderFactory(number="WO-QC", item=item, quantity=D("10"))
    work_order_transition(number="WO-QC", action="release")
    return "WO-QC"


def test_confirmation_after_an_open_quality_checkpoint_is_refused(checkpoint_order):
    confirm(checkpoint_order, 10, good_qty=10)
    before = snapshot()

    error = refused(work_order=checkpoint_order, operation=20, good_qty=1)

    assert (error.code, int(error.kind), error.fields) == ("quality_checkpoint_open", 409, {"operation": "10"})
    assert snapshot() == before


def test_confirmation_after_a_finished_quality_checkpoint_is_accepted(checkpoint_order):
    confirm(checkpoint_order, 10, good_qty=10, final=True)

    result = confirm(checkpoint_order, 20, good_qty=10)

    assert result.created is True
    assert operation_of(checkpoint_order, 20).good_qty == 10


# --- quantities available --------------------------------------------------------------


def test_first_operation_may_confirm_up_to_the_order_quantity_in_several_reports(released_order):
    confirm(good_qty=6)
    confirm(good_qty="3.5", scrap_qty="0.5", reason_code="SCRAP-01")
    before = snapshot()

    error = refused(good_qty="0.001")

    assert error.code == "quantity_exceeds_available"
    assert error.fields == {"good_qty": "at most 0 in total"}
    assert snapshot() == before
    operation = operation_of(ORDER, 10)
    assert (operation.good_qty, operation.scrap_qty, operation.rework_qty) == (D("9.5"), D("0.5"), 0)


def test_later_operation_is_limited_by_the_previous_operations_good_quantity(released_order):
    confirm(operation=10, good_qty=6, scrap_qty=4, reason_code="SCRAP-01")

    error = refused(operation=20, good_qty="6.001")
    result = confirm(operation=20, good_qty=5, rework_qty=1, reason_code="REWORK-01")

    assert error.code == "quantity_exceeds_available"
    assert error.fields == {"good_qty": "at most 6 in total"}
    assert result.created is True
    assert operation_of(ORDER, 20).confirmed_qty == 6


def test_over_delivery_tolerance_lets_each_operation_exceed_its_base(released_order, settings):
    settings.MES_OVER_DELIVERY_TOLERANCE_PERCENT = D("10")

    confirm(operation=10, good_qty=11)
    over_first = refused(operation=10, good_qty="0.001")
    confirm(operation=20, good_qty="12.1")  # 11 passed on, plus 10 %
    over_second = refused(operation=20, good_qty="0.001")

    assert over_first.code == over_second.code == "quantity_exceeds_available"
    assert over_first.fields == {"good_qty": "at most 0 in total"}
    assert (operation_of(ORDER, 10).good_qty, operation_of(ORDER, 20).good_qty) == (D("11"), D("12.1"))


def test_without_tolerance_the_order_quantity_is_a_hard_limit(released_order, settings):
    settings.MES_OVER_DELIVERY_TOLERANCE_PERCENT = D("0")

    error = refused(good_qty="10.001")

    assert error.code == "quantity_exceeds_available"


def test_labor_and_machine_minutes_at_the_limit_are_accepted(released_order, settings):
    settings.MES_MAX_LABOR_MINUTES = D("480")

    result = confirm(good_qty=1, labor_minutes=480, machine_minutes=1440)
    error = refused(good_qty=1, labor_minutes="480.01")

    assert result.created is True
    assert error.code == "implausible_labor_minutes"


# --- what a confirmation does ----------------------------------------------------------


def test_confirmation_records_everything_reported(released_order, django_user_model):
    station_user = django_user_model.objects.create(username="station-07")
    client_id = uuid.uuid4()
    reported_at = (timezone.now() - datetime.timedelta(hours=3)).replace(microsecond=0)

    result = confirm(
        client_id=client_id, good_qty=7, scrap_qty=1, reason_code="SCRAP-01", operator_badge="B-1001", station="ST-07",
        labor_minutes=45, machine_minutes=40, confirmed_at=reported_at, actor=station_user,
    )

    assert result.created is True
    row = Confirmation.objects.get()
    assert row.uuid == result.confirmation.uuid
    assert (
        row.client_id, row.kind, row.work_order.number, row.operation.sequence, row.good_qty, row.scrap_qty,
        row.rework_qty, row.reason_code.code, row.operator.badge, row.station, row.labor_minutes, row.machine_minutes,
        row.is_final, row.reverses, row.confirmed_at, row.recorded_by,
    ) == (
        client_id, "confirmation", ORDER, 10, D("7"), D("1"), D("0"), "SCRAP-01", "B-1001", "ST-07", D("45"), D("40"),
        False, None, reported_at, station_user,
    )
    assert row.recorded_at is not None


def test_confirmation_adds_to_the_operation_totals(released_order):
    confirm(good_qty=4, labor_minutes=30, machine_minutes=20)
    confirm(good_qty=3, scrap_qty=1, rework_qty=2, reason_code="SCRAP-01", labor_minutes="12.5", machine_minutes=10)

    operation = operation_of(ORDER, 10)
    assert (
        operation.good_qty, operation.scrap_qty, operation.rework_qty, operation.labor_minutes, operation.machine_minutes
    ) == (D("7"), D("1"), D("2"), D("42.5"), D("30"))
    assert operation.last_activity_at is not None
    assert operation_of(ORDER, 20).good_qty == 0


def test_first_confirmation_starts_the_operation_and_the_order(released_order):
    result = confirm(good_qty=4, operator_badge="B-1001")

    assert statuses(ORDER) == ("in_progress", {10: "in_progress", 20: "released", 30: "released"})
    assert list(Event.objects.order_by("id").values_list("object_type", "object_key", "action", "before", "after", "actor_label"))[1:] == [
        ("work_order", ORDER, "start", {"status": "released"}, {"status": "in_progress"}, "B-1001"),
        ("operation", f"{ORDER}/0010", "start", {"status": "released"}, {"status": "in_progress"}, "B-1001"),
        (
            "confirmation", str(result.confirmation.uuid), "confirm",
            {"operation_totals": {"good_qty": "0.000", "scrap_qty": "0.000", "rework_qty": "0.000", "labor_minutes": "0.00", "machine_minutes": "0.00"}},
            {
                "operation_totals": {"good_qty": "4.000", "scrap_qty": "0.000", "rework_qty": "0.000", "labor_minutes": "0.00", "machine_minutes": "0.00"},
                "confirmation": {"good_qty": "4", "scrap_qty": "0", "rework_qty": "0", "labor_minutes": "0", "machine_minutes": "0",
                                 "operation": 10, "final": False, "client_id": str(result.confirmation.client_id)},
            },
            "B-1001",
        ),
    ]


def test_confirming_a_released_operation_of_a_running_order_starts_only_that_operation(released_order):
    confirm(operation=10, good_qty=5)
    events_before = Event.objects.count()

    confirm(operation=20, good_qty=2)

    assert statuses(ORDER) == ("in_progress", {10: "in_progress", 20: "in_progress", 30: "released"})
    assert list(Event.objects.order_by("id")[events_before:].values_list("object_key", "action")) == [
        (f"{ORDER}/0020", "start"), (str(Confirmation.objects.get(operation__sequence=20).uuid), "confirm"),
    ]


def test_final_confirmation_completes_its_operation_but_not_the_order(released_order):
    confirm(operation=10, good_qty=8, scrap_qty=2, reason_code="SCRAP-01", final=True)

    assert statuses(ORDER) == ("in_progress", {10: "completed", 20: "released", 30: "released"})
    assert WorkOrder.objects.get(number=ORDER).completed_at is None


def test_final_confirmation_of_the_last_operation_completes_the_order(released_order):
    confirm(operation=10, good_qty=10, final=True)
    confirm(operation=20, good_qty=10, final=True)

    confirm(operation=30, good_qty=9, scrap_qty=1, reason_code="SCRAP-01", final=True)

    assert statuses(ORDER) == ("completed", {10: "completed", 20: "completed", 30: "completed"})
    order = WorkOrder.objects.get(number=ORDER)
    assert order.completed_at is not None
    assert Event.objects.filter(object_type="work_order", action="complete").values_list("before", "after").get() == (
        {"status": "in_progress"}, {"status": "completed"}
    )


def test_last_operations_final_confirmation_completes_earlier_operations_left_open(released_order):
    confirm(operation=10, good_qty=10)
    confirm(operation=20, good_qty=10)

    confirm(operation=30, good_qty=10, final=True)

    assert statuses(ORDER) == ("completed", {10: "completed", 20: "completed", 30: "completed"})
    assert list(
        Event.objects.filter(object_type="operation", action="complete").order_by("object_key").values_list("object_key", "reason")
    ) == [(f"{ORDER}/0010", "order completed"), (f"{ORDER}/0020", "order completed"), (f"{ORDER}/0030", "")]


# --- idempotency --------------------------------------------------------------------------


def test_replay_with_the_same_client_id_and_content_returns_the_original_and_writes_nothing(released_order):
    request = confirmation_request(good_qty=4, scrap_qty=1, reason_code="SCRAP-01", operator_badge="B-1001", station="ST-07")
    original = operation_confirm(request=request)
    before = snapshot()

    replay = operation_confirm(request=request)

    assert (original.created, replay.created) == (True, False)
    assert replay.confirmation.pk == original.confirmation.pk
    assert replay.confirmation.uuid == original.confirmation.uuid
    assert snapshot() == before


def test_replay_matches_on_content_not_on_timestamp_or_number_spelling(released_order):
    client_id = uuid.uuid4()
    original = confirm(client_id=client_id, good_qty="4", labor_minutes="30",
                       confirmed_at=timezone.now() - datetime.timedelta(minutes=10))
    before = snapshot()

    replay = confirm(client_id=client_id, good_qty="4.000", labor_minutes="30.00",
                     confirmed_at=timezone.now() - datetime.timedelta(minutes=5))

    assert replay.created is False
    assert replay.confirmation.uuid == original.confirmation.uuid
    assert snapshot() == before


def test_replay_is_answered_even_after_the_order_completed(released_order):
    for sequence in (10, 20):
        confirm(operation=sequence, good_qty=10, final=True)
    request = confirmation_request(operation=30, good_qty=10, final=True)
    original = operation_confirm(request=request)
    before = snapshot()

    replay = operation_confirm(request=request)

    assert replay.created is False
    assert replay.confirmation.uuid == original.confirmation.uuid
    assert snapshot() == before


@pytest.mark.parametrize(
    "difference",
    [
        {"good_qty": 3},
        {"operation": 20},
        {"final": True},
        {"operator_badge": "B-1001"},
        {"station": "ST-08"},
        {"labor_minutes": 31},
        {"machine_minutes": 1},
        {"scrap_qty": 1, "reason_code": "SCRAP-01"},
    ],
    ids=lambda difference: "+".join(difference),
)
def test_same_client_id_with_different_content_is_refused_as_conflict(released_order, difference):
    confirm(operation=10, good_qty=6)
    client_id = uuid.uuid4()
    original = {"operation": 10, "good_qty": 2, "station": "ST-07", "labor_minutes": 30}
    first = confirm(client_id=client_id, **original)
    before = snapshot()

    error = refused(client_id=client_id, **(original | difference))

    assert (error.code, int(error.kind), error.fields) == ("client_id_conflict", 409, {"client_id": str(client_id)})
    assert snapshot() == before
    assert Confirmation.objects.get(client_id=client_id).uuid == first.confirmation.uuid


# --- many at once (gateways) ----------------------------------------------------------------


def test_confirm_many_answers_each_request_on_its_own_in_order(released_order):
    replayed = confirm(good_qty=1)
    requests = [
        confirmation_request(good_qty=4),
        confirmation_request(good_qty=1, scrap_qty=1),  # no reason code
        confirmation_request(client_id=replayed.confirmation.client_id, good_qty=1),
        confirmation_request(work_order="WO-NOPE", good_qty=1),
        confirmation_request(operation=20, good_qty=5),  # 5 passed on by the first request above
        confirmation_request(operation=20, good_qty=1),  # ... and no more
    ]

    answers = operation_confirm_many(requests=requests)

    assert [getattr(answer, "code", None) for answer in answers] == [
        None, "reason_code_required", None, "unknown_work_order", None, "quantity_exceeds_available"
    ]
    assert [getattr(answer, "created", None) for answer in answers] == [True, None, False, None, True, None]
    assert answers[2].confirmation.uuid == replayed.confirmation.uuid
    assert Confirmation.objects.count() == 3
    assert (operation_of(ORDER, 10).good_qty, operation_of(ORDER, 20).good_qty) == (D("5"), D("5"))
    assert list(OutboxMessage.objects.order_by("sequence").values_list("sequence", "source_uuid")) == [
        (1, replayed.confirmation.uuid), (2, answers[0].confirmation.uuid), (3, answers[4].confirmation.uuid)
    ]
    assert statuses(ORDER) == ("in_progress", {10: "in_progress", 20: "in_progress", 30: "released"})


def test_confirm_many_with_a_client_id_twice_in_one_batch(released_order):
    client_id = uuid.uuid4()
    requests = [
        confirmation_request(client_id=client_id, good_qty=2),
        confirmation_request(client_id=client_id, good_qty=2),
        confirmation_request(client_id=client_id, good_qty=3),
    ]

    answers = operation_confirm_many(requests=requests)

    assert answers[0].created is True
    assert answers[1].created is False
    assert answers[1].confirmation.uuid == answers[0].confirmation.uuid
    assert answers[2].code == "client_id_conflict"
    assert Confirmation.objects.count() == OutboxMessage.objects.count() == 1
    assert operation_of(ORDER, 10).good_qty == 2


def test_confirm_many_where_every_request_is_refused_writes_nothing(released_order):
    before = snapshot()

    answers = operation_confirm_many(requests=[confirmation_request(good_qty=11), confirmation_request()])

    assert [answer.code for answer in answers] == ["quantity_exceeds_available", "empty_confirmation"]
    assert snapshot() == before


def test_confirm_many_takes_a_constant_number_of_queries(released_order, django_assert_max_num_queries):
    requests = [confirmation_request(good_qty="0.01", operator_badge="B-1001") for _ in range(200)]

    with django_assert_max_num_queries(27):  # two of them: the clocked sessions (default labor minutes), the components to backflush
        answers = operation_confirm_many(requests=requests)

    assert all(answer.created for answer in answers)
    assert operation_of(ORDER, 10).good_qty == 2
    assert OutboxMessage.objects.count() == 200
