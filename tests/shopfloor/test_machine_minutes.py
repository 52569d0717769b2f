"""Machine reports carry machine minutes: the machine's run time on the operation since its previous
report (the collector's windows), or in the window (unassigned production assigned later).

States and assignments are built with fixed times on the known Monday of ``oee_scenario``; the
clock is pinned, never slept on."""

from __future__ import annotations

from decimal import Decimal

import pytest
import time_machine

from erp_sync.models import OutboxMessage
from mes.models import Confirmation, WorkOrderOperation
from shopfloor.models import CounterState, EquipmentAssignment, EquipmentState, UnassignedProduction
from shopfloor.production import window_confirm
from shopfloor.selectors import equipment_run_minutes
from shopfloor.services import unassigned_production_assign
from tests.shopfloor.oee_scenario import MACHINE, ORDER, at, press, state

pytestmark = pytest.mark.django_db


def counted(machine, good: int, window_start) -> None:
    """The collector counted ``good`` parts in the window from ``window_start``, not confirmed yet."""
    CounterState.objects.update_or_create(
        equipment=machine, signal=CounterState.Signal.GOOD, defaults={"pending": good, "window_start": window_start}
    )


@pytest.fixture
def machine():
    """PRESS-01 ran 08:00–08:20, idled until 08:30 and runs since; operation 10 of WO-7001 started on it at 08:05."""
    machine = press()
    state(machine, "run", at(8), at(8, 20))
    state(machine, "idle", at(8, 20), at(8, 30))
    state(machine, "run", at(8, 30), None)
    operation = WorkOrderOperation.objects.get(work_order__number=ORDER, sequence=10)
    EquipmentAssignment.objects.create(equipment=machine, operation=operation, started_at=at(8, 5), started_by="B-1001")
    return machine


def test_each_window_carries_the_run_time_since_the_machines_previous_report(machine):
    with time_machine.travel(at(9), tick=False):
        counted(machine, 10, at(8, 40))
        first = window_confirm(equipment_id=machine.pk, now=at(8, 41), window_seconds=60)
        counted(machine, 5, at(8, 50))
        second = window_confirm(equipment_id=machine.pk, now=at(8, 51), window_seconds=60)

    one, two = (Confirmation.objects.get(uuid=outcome.confirmation_id) for outcome in (first, second))
    assert (one.station, one.good_qty, one.machine_minutes) == (MACHINE, 10, Decimal(26))  # 08:05–08:20 and 08:30–08:41
    assert (two.good_qty, two.machine_minutes) == (5, Decimal(10))  # 08:41–08:51
    assert OutboxMessage.objects.get(source_uuid=two.uuid).payload["machine_minutes"] == "10.00"
    assert WorkOrderOperation.objects.get(work_order__number=ORDER, sequence=10).machine_minutes == Decimal(36)


def test_run_time_counts_only_while_the_machine_ran_that_operation(machine):
    EquipmentAssignment.objects.filter(ended_at__isnull=True).update(ended_at=at(8, 35))

    on_the_operation = equipment_run_minutes(equipment_id=machine.pk, since=None, until=at(9), operation_id=EquipmentAssignment.objects.get().operation_id)
    in_all = equipment_run_minutes(equipment_id=machine.pk, since=at(8, 10), until=at(9))

    assert on_the_operation == Decimal(20)  # 08:05–08:20 and 08:30–08:35
    assert in_all == Decimal(40)  # 08:10–08:20 and 08:30–09:00


def test_unassigned_counts_assigned_later_carry_the_run_time_of_their_window(machine):
    row = UnassignedProduction.objects.create(
        equipment=machine, window_start=at(8, 15), window_end=at(8, 35), good=7, scrap=0,
        reason=UnassignedProduction.NO_RUNNING_OPERATION,
    )

    with time_machine.travel(at(9), tick=False):
        unassigned_production_assign(row_id=row.pk, work_order=ORDER, sequence=10)

    assert Confirmation.objects.get().machine_minutes == Decimal(10)  # 08:15–08:20 and 08:30–08:35


def test_a_machine_without_run_states_reports_zero_machine_minutes(machine):
    EquipmentState.objects.filter(equipment=machine).delete()
    with time_machine.travel(at(9), tick=False):
        counted(machine, 3, at(8, 40))
        outcome = window_confirm(equipment_id=machine.pk, now=at(8, 41), window_seconds=60)

    assert Confirmation.objects.get(uuid=outcome.confirmation_id).machine_minutes == 0
