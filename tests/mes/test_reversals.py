"""Reversals: a negated record (nothing deleted), totals restored, an outbox message, idempotent, guarded."""

import uuid
from decimal import Decimal

import pytest

from common.errors import DomainError
from erp_sync.models import OutboxMessage
from mes.models import Confirmation, Event, WorkOrder
from mes.services.confirmations import confirmation_reverse
from mes.services.work_orders import work_order_transition
from tests.conftest import ORDER
from tests.helpers import confirm, operation_of, snapshot, statuses

D = Decimal


def refused_reversal(confirmation_id):
    with pytest.raises(DomainError) as error:
        confirmation_reverse(confirmation_id=confirmation_id)
    return error.value


def test_reversal_creates_a_negated_record_and_keeps_the_original(released_order, django_user_model):
    supervisor = django_user_model.objects.create(username="supervisor-zhang")
    original = confirm(good_qty=6, scrap_qty=1, reason_code="SCRAP-01", operator_badge="B-1001", station="ST-07",
                       labor_minutes=30, machine_minutes=20).confirmation

    result = confirmation_reverse(confirmation_id=original.uuid, reason="wrong order", actor=supervisor)

    assert result.created is True
    reversal = Confirmation.objects.get(kind="reversal")
    assert reversal.uuid == result.confirmation.uuid
    assert (
        reversal.reverses_id, reversal.work_order.number, reversal.operation.sequence, reversal.good_qty,
        reversal.scrap_qty, reversal.rework_qty, reversal.labor_minutes, reversal.machine_minutes,
        reversal.reason_code.code, reversal.operator.badge, reversal.station, reversal.is_final, reversal.note,
        reversal.recorded_by,
    ) == (original.pk, ORDER, 10, D("-6"), D("-1"), D("0"), D("-30"), D("-20"), "SCRAP-01", "B-1001", "ST-07", False,
          "wrong order", supervisor)
    assert Confirmation.objects.filter(pk=original.pk, kind="confirmation", good_qty=6).exists()
    assert Confirmation.objects.count() == 2


def test_reversal_restores_the_operation_totals(released_order):
    confirm(good_qty=2, labor_minutes=10)
    original = confirm(good_qty=6, scrap_qty=1, reason_code="SCRAP-01", labor_minutes=30, machine_minutes=20).confirmation

    confirmation_reverse(confirmation_id=original.uuid)

    operation = operation_of(ORDER, 10)
    assert (
        operation.good_qty, operation.scrap_qty, operation.rework_qty, operation.labor_minutes, operation.machine_minutes
    ) == (D("2"), D("0"), D("0"), D("10"), D("0"))


def test_reversal_writes_an_outbox_message_linking_the_original(released_order):
    original = confirm(good_qty=6, operator_badge="B-1001").confirmation

    reversal = confirmation_reverse(confirmation_id=original.uuid).confirmation

    message = OutboxMessage.objects.get(source_uuid=reversal.uuid)
    assert (message.kind, message.idempotency_key, message.partition_key, message.sequence, message.state) == (
        "reversal", reversal.uuid, ORDER, 2, "queued"
    )
    assert message.payload["type"] == "reversal"
    assert message.payload["reverses"] == {"confirmation_id": str(original.uuid), "idempotency_key": str(original.uuid)}
    assert (D(message.payload["good_qty"]), message.payload["operation"], message.payload["final"]) == (D("-6"), 10, False)
    assert message.payload["operator_badge"] == "B-1001"


def test_reversal_writes_an_event_with_totals_before_and_after(released_order):
    original = confirm(good_qty=6).confirmation

    reversal = confirmation_reverse(confirmation_id=original.uuid, reason="miscount").confirmation

    event = Event.objects.get(action="reverse")
    assert (event.object_type, event.object_key, event.work_order.number, event.reason) == (
        "confirmation", str(reversal.uuid), ORDER, "miscount"
    )
    assert event.before["operation_totals"]["good_qty"] == "6.000"
    assert event.after["operation_totals"]["good_qty"] == "0.000"


def test_reversing_twice_answers_the_first_reversal_and_writes_nothing(released_order):
    original = confirm(good_qty=6).confirmation
    first = confirmation_reverse(confirmation_id=original.uuid)
    before = snapshot()

    second = confirmation_reverse(confirmation_id=original.uuid)

    assert (first.created, second.created) == (True, False)
    assert second.confirmation.uuid == first.confirmation.uuid
    assert snapshot() == before


def test_a_reversal_cannot_be_reversed(released_order):
    reversal = confirmation_reverse(confirmation_id=confirm(good_qty=6).confirmation.uuid).confirmation
    before = snapshot()

    error = refused_reversal(reversal.uuid)

    assert (error.code, int(error.kind)) == ("cannot_reverse_reversal", 409)
    assert snapshot() == before


def test_reversing_a_final_confirmation_reopens_the_operation(released_order):
    original = confirm(good_qty=10, final=True).confirmation
    assert statuses(ORDER) == ("in_progress", {10: "completed", 20: "released", 30: "released"})

    confirmation_reverse(confirmation_id=original.uuid)

    assert statuses(ORDER) == ("in_progress", {10: "in_progress", 20: "released", 30: "released"})
    assert Event.objects.filter(action="reopen").values_list("object_key", "before", "after").get() == (
        f"{ORDER}/0010", {"status": "completed"}, {"status": "in_progress"}
    )


def test_reversing_the_last_operations_final_confirmation_reopens_the_order(released_order):
    confirm(operation=10, good_qty=10, final=True)
    confirm(operation=20, good_qty=10, final=True)
    last = confirm(operation=30, good_qty=10, final=True).confirmation
    assert WorkOrder.objects.get(number=ORDER).status == "completed"

    confirmation_reverse(confirmation_id=last.uuid)

    assert statuses(ORDER) == ("in_progress", {10: "completed", 20: "completed", 30: "in_progress"})
    assert list(Event.objects.filter(action="reopen").order_by("id").values_list("object_key", flat=True)) == [
        f"{ORDER}/0030", ORDER
    ]
    assert operation_of(ORDER, 30).good_qty == 0


def test_reversal_that_would_leave_the_next_operation_over_confirmed_is_refused(released_order):
    original = confirm(operation=10, good_qty=10).confirmation
    confirm(operation=20, good_qty=8)
    before = snapshot()

    error = refused_reversal(original.uuid)

    assert (error.code, int(error.kind), error.fields) == ("reversal_blocked_by_next_operation", 409, {"operation": "20"})
    assert snapshot() == before


def test_reversal_is_allowed_while_the_next_operation_stays_covered(released_order):
    confirm(operation=10, good_qty=6)
    second = confirm(operation=10, good_qty=4).confirmation
    confirm(operation=20, good_qty=6)

    result = confirmation_reverse(confirmation_id=second.uuid)

    assert result.created is True
    assert (operation_of(ORDER, 10).good_qty, operation_of(ORDER, 20).good_qty) == (D("6"), D("6"))


def test_reversal_of_scrap_is_not_blocked_by_the_next_operation(released_order):
    confirm(operation=10, good_qty=8)
    scrap = confirm(operation=10, scrap_qty=2, reason_code="SCRAP-01").confirmation
    confirm(operation=20, good_qty=8)

    result = confirmation_reverse(confirmation_id=scrap.uuid)

    assert result.created is True
    assert operation_of(ORDER, 10).scrap_qty == 0


def test_reversed_quantity_may_be_confirmed_again(released_order):
    original = confirm(good_qty=10).confirmation
    confirmation_reverse(confirmation_id=original.uuid)

    again = confirm(good_qty=10)

    assert again.created is True
    assert operation_of(ORDER, 10).good_qty == 10


@pytest.mark.parametrize("action", ["cancel", "close"])
def test_reversal_on_a_finished_order_is_refused(released_order, action):
    if action == "cancel":
        original = confirm(good_qty=3).confirmation
        work_order_transition(number=ORDER, action="pause")
    else:
        original = confirm(operation=10, good_qty=10, final=True).confirmation
        confirm(operation=20, good_qty=10, final=True)
        confirm(operation=30, good_qty=10, final=True)
    work_order_transition(number=ORDER, action=action)
    before = snapshot()

    error = refused_reversal(original.uuid)

    assert (error.code, int(error.kind)) == ("work_order_finished", 409)
    assert snapshot() == before


def test_reversal_of_an_unknown_confirmation_is_not_found(released_order):
    before = snapshot()

    error = refused_reversal(uuid.uuid4())

    assert (error.code, int(error.kind)) == ("unknown_confirmation", 404)
    assert snapshot() == before
