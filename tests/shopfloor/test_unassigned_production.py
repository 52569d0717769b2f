"""Unassigned production: a supervisor confirms it on an operation (once, audited) or dismisses it with a reason."""

from __future__ import annotations

import datetime

import pytest

from common.errors import DomainError
from erp_sync.models import OutboxMessage
from mes.models import Confirmation, Event, WorkOrderOperation
from shopfloor.models import UnassignedProduction
from shopfloor.oee import equipment_oee
from shopfloor.services import unassigned_production_assign, unassigned_production_dismiss
from tests.helpers import signed_in
from tests.shopfloor.oee_scenario import MACHINE, ORDER, at, press

pytestmark = pytest.mark.django_db


@pytest.fixture
def counts():
    """PRESS-01 counted 30 good and 2 scrap in the window 10:00–10:01 of the known Monday with no operation running."""
    machine = press()
    return UnassignedProduction.objects.create(
        equipment=machine, window_start=at(10), window_end=at(10, 1), good=30, scrap=2,
        reason=UnassignedProduction.NO_RUNNING_OPERATION,
    )


def test_assigning_confirms_once_on_the_operation_as_of_the_window_and_is_audited(counts):
    row = unassigned_production_assign(row_id=counts.pk, work_order=ORDER, sequence=10, actor=None)
    again = unassigned_production_assign(row_id=counts.pk, work_order=ORDER, sequence=10, actor=None)

    (confirmation,) = Confirmation.objects.all()
    assert (confirmation.good_qty, confirmation.scrap_qty, confirmation.reason_code.code) == (30, 2, "SCRAP-01")
    assert (confirmation.station, confirmation.confirmed_at) == (MACHINE, at(10, 1))
    assert (row.resolution, row.resolution_note, row.confirmation_id) == ("assigned", f"{ORDER}/10", confirmation.pk)
    assert again.confirmation_id == confirmation.pk
    assert OutboxMessage.objects.count() == 1  # the ERP hears of it once
    assert WorkOrderOperation.objects.get(work_order__number=ORDER, sequence=10).good_qty == 30
    assert [event.action for event in Event.objects.filter(object_type="unassigned_production")] == ["assign"]
    # The counts now count for the shift they were made in.
    figures = equipment_oee(equipment=row.equipment, start=at(6), end=at(14), now=at(0, day=at(0).date() + datetime.timedelta(days=9))).as_json()
    assert (figures["good"], figures["scrap"]) == (30, 2)


def test_a_refused_confirmation_or_a_second_decision_changes_nothing(counts):
    counts.good = 500_000  # more than the order's 100,000
    counts.save(update_fields=["good"])

    with pytest.raises(DomainError) as refused:
        unassigned_production_assign(row_id=counts.pk, work_order=ORDER, sequence=10)
    counts.refresh_from_db()
    assert refused.value.code == "quantity_exceeds_available" and counts.resolution == ""
    assert not Confirmation.objects.exists() and not Event.objects.filter(object_type="unassigned_production").exists()

    unassigned_production_dismiss(row_id=counts.pk, reason="test run after maintenance")
    unassigned_production_dismiss(row_id=counts.pk, reason="test run after maintenance")
    with pytest.raises(DomainError) as conflict:
        unassigned_production_assign(row_id=counts.pk, work_order=ORDER, sequence=10)
    assert conflict.value.code == "already_resolved"
    counts.refresh_from_db()
    assert (counts.resolution, counts.resolution_note) == ("dismissed", "test run after maintenance")
    assert [event.action for event in Event.objects.filter(object_type="unassigned_production")] == ["dismiss"]


def test_dismissing_needs_a_reason(counts):
    with pytest.raises(DomainError) as refused:
        unassigned_production_dismiss(row_id=counts.pk, reason="  ")

    assert refused.value.code == "reason_required"
    counts.refresh_from_db()
    assert counts.resolution == ""


def test_the_page_lists_the_rows_with_their_operations_and_assigns_one(client, counts):
    supervisor = signed_in(client, "supervisor")

    page = supervisor.get("/unassigned-production/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    text = page.content.decode()
    assert "no operation was running" in text and f'<option value="{ORDER}/10">' in text

    answer = supervisor.post(
        "/unassigned-production/", {"row": counts.pk, "action": "assign", "operation": f"{ORDER}/10", "scrap_reason": "SCRAP-01"},
        HTTP_ACCEPT_LANGUAGE="en", follow=True,
    )

    assert f"Confirmed the counts of {MACHINE} on {ORDER}/10." in answer.content.decode()
    assert "Nothing waits for a decision." in answer.content.decode()
    decided = supervisor.get("/unassigned-production/?show=resolved", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f"assigned to an operation: {ORDER}/10" in decided


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"action": "assign", "operation": "nonsense"}, "Choose the operation to confirm the counts on."),
        ({"action": "assign", "operation": "WO-NONE/10"}, "WO-NONE"),
        ({"action": "dismiss", "reason": ""}, "Say why these counts are dismissed."),
    ],
)
def test_bad_decisions_are_explained_and_change_nothing(client, counts, form, message):
    answer = signed_in(client, "supervisor").post(
        "/unassigned-production/", {"row": counts.pk, **form}, HTTP_ACCEPT_LANGUAGE="en", follow=True
    )

    assert answer.status_code == 200 and message in answer.content.decode()
    counts.refresh_from_db()
    assert counts.resolution == "" and not Confirmation.objects.exists()


def test_a_bad_row_id_is_explained(client, counts):
    answer = signed_in(client, "supervisor").post(
        "/unassigned-production/", {"row": "99999999999999999999999", "action": "dismiss", "reason": "x"},
        HTTP_ACCEPT_LANGUAGE="en", follow=True,
    )

    assert answer.status_code == 200 and "Choose a row." in answer.content.decode()


@pytest.mark.parametrize("role", ["operator", "planner", "quality"])
def test_only_supervisors_and_admins_decide(client, counts, role):
    assert signed_in(client, role).get("/unassigned-production/").status_code == 403


def test_the_list_takes_constant_queries(client, counts, django_assert_max_num_queries):
    for minute in range(2, 12):
        UnassignedProduction.objects.create(
            equipment=counts.equipment, window_start=at(11, minute), window_end=at(11, minute + 1), good=1,
            reason=UnassignedProduction.NO_RUNNING_OPERATION,
        )
    supervisor = signed_in(client, "supervisor")

    with django_assert_max_num_queries(9):  # session, user, roles, rows, operations, reasons, banner (2)
        assert supervisor.get("/unassigned-production/").status_code == 200
