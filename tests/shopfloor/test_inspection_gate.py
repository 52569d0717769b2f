"""The inspection gate on the machine paths: a window's counts past a due sampling point are kept,
not lost, and confirmed once the result is in; assigning unassigned production is gated alike."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import pytest
from django.utils import translation

from common.errors import DomainError
from erp_sync.models import OutboxMessage
from mes.models import Confirmation, WorkOrderOperation
from mes.services.master_data import equipment_upsert
from mes.services.quality import InspectionRequest, inspection_plan_set, inspection_record
from mes.services.work_orders import work_order_transition
from shopfloor.models import UnassignedProduction
from shopfloor.production import reading_record, window_confirm, window_start_for
from shopfloor.services import inspection_held_confirm, operation_start_on_equipment, unassigned_production_assign
from tests.conftest import ITEM, ORDER
from tests.helpers import confirm, snapshot

pytestmark = pytest.mark.django_db
PRESS = "PRESS-1"
FIRST_PIECE = {"code": "LOOK", "name": "Visual", "kind": "attribute", "sampling": {"rule": "first_piece", "n": None}, "mandatory": True}


@pytest.fixture
def gated_order(planned_order):
    """WO-1001 (10 frames) released with a first-piece check on operation 10, run on PRESS-1."""
    inspection_plan_set(item_code=ITEM, sequence=10, characteristics=[FIRST_PIECE])
    work_order_transition(number=ORDER, action="release")
    equipment_upsert(code=PRESS, name="Press 1", work_center="WC-CUT")
    operation_start_on_equipment(number=ORDER, sequence=10, equipment_code=PRESS)
    return planned_order


def _window(press_id: int, good: int, start: datetime.datetime, baseline: int = 0) -> None:
    reading_record(equipment_id=press_id, values={"good_count": baseline}, read_at=start, window_seconds=1)
    reading_record(equipment_id=press_id, values={"good_count": baseline + good}, read_at=start + datetime.timedelta(milliseconds=100), window_seconds=1)
    window_confirm(equipment_id=press_id, now=start + datetime.timedelta(seconds=1), window_seconds=1)


def _pass_first_piece() -> None:
    request = InspectionRequest(client_id=uuid.uuid4(), work_order=ORDER, operation=10, characteristic="LOOK", passed=True)
    inspection_record(request=request)


def good_of_operation_10() -> Decimal:
    return WorkOrderOperation.objects.get(work_order__number=ORDER, sequence=10).good_qty


def test_machine_counts_past_a_due_point_are_kept_and_confirmed_once_the_result_is_in(gated_order):
    press = equipment_upsert(code=PRESS, name="Press 1", work_center="WC-CUT").obj
    start = window_start_for(datetime.datetime.now(datetime.UTC), 1.0) + datetime.timedelta(seconds=5)

    _window(press.pk, 4, start)
    (kept,) = UnassignedProduction.objects.all()
    nothing_yet = inspection_held_confirm()  # the result is not in: kept still
    _pass_first_piece()
    confirmed = inspection_held_confirm()
    again = inspection_held_confirm()

    assert (kept.good, kept.reason, kept.operation.sequence) == (4, "inspection_due", 10)
    assert "LOOK" in kept.detail
    assert nothing_yet == [] and again == []
    assert [row.pk for row in confirmed] == [kept.pk]
    kept.refresh_from_db()
    assert kept.resolution == "assigned" and kept.confirmation.good_qty == 4
    assert good_of_operation_10() == 4
    assert OutboxMessage.objects.filter(kind="confirmation").count() == 1  # beside the result's own message


def test_assigning_unassigned_production_past_a_due_point_is_refused_and_changes_nothing(gated_order):
    press = equipment_upsert(code=PRESS, name="Press 1", work_center="WC-CUT").obj
    now = datetime.datetime.now(datetime.UTC)
    row = UnassignedProduction.objects.create(
        equipment=press, window_start=now - datetime.timedelta(minutes=2), window_end=now - datetime.timedelta(minutes=1), good=3,
        reason=UnassignedProduction.NO_RUNNING_OPERATION,
    )
    before = snapshot()

    with pytest.raises(DomainError) as refused:
        unassigned_production_assign(row_id=row.pk, work_order=ORDER, sequence=10)

    assert (refused.value.code, refused.value.fields["characteristic"], refused.value.fields["sample_no"]) == ("inspection_due", "LOOK", 1)
    assert snapshot() == before
    row.refresh_from_db()
    assert row.resolution == ""
    confirm(good_qty=1)  # the first piece itself needs no result yet
    assert Confirmation.objects.count() == 1


def test_kept_counts_refused_later_for_another_reason_wait_for_a_supervisor(gated_order):
    press = equipment_upsert(code=PRESS, name="Press 1", work_center="WC-CUT").obj
    start = window_start_for(datetime.datetime.now(datetime.UTC), 1.0) + datetime.timedelta(seconds=5)
    _window(press.pk, 4, start)
    work_order_transition(number=ORDER, action="pause")
    _pass_first_piece()

    assert inspection_held_confirm() == []
    assert inspection_held_confirm() == []

    (kept,) = UnassignedProduction.objects.all()
    assert (kept.reason, kept.resolution) == ("operation_on_hold", "")
    assert good_of_operation_10() == 0


def test_the_unassigned_production_page_says_kept_counts_wait_for_an_inspection(client, gated_order):
    from tests.helpers import signed_in

    press = equipment_upsert(code=PRESS, name="Press 1", work_center="WC-CUT").obj
    start = window_start_for(datetime.datetime.now(datetime.UTC), 1.0) + datetime.timedelta(seconds=5)
    _window(press.pk, 4, start)

    with translation.override("en"):  # a page leaves the language it was read in active
        page = signed_in(client, "supervisor").get("/unassigned-production/", HTTP_ACCEPT_LANGUAGE="en")

    assert page.status_code == 200
    assert "an inspection is due: confirmed by itself once its result is in" in page.content.decode()
