"""Calls the product raises by itself: a machine that stops answering, a machine down too long, the
ERP link in trouble — one open call per cause, resolved by itself when the cause clears."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.utils import timezone

from erp_sync.models import OutboxMessage
from erp_sync.outbox import outbox_add
from plant.andon_watch import andon_watch
from shopfloor.models import AndonCall, AndonNotice, EquipmentState
from shopfloor.production import device_answered, device_unanswered
from tests.factories import EquipmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def press(plant):
    return EquipmentFactory(code="PRESS-1", work_center=plant["centers"]["WC-CUT"])


def test_a_machine_that_stops_answering_calls_once_and_the_call_resolves_when_it_answers(press, admin_api):
    admin_api.put("/api/v1/andon-ladders/ALL", {"steps": [{"after_seconds": 0, "when": "unacknowledged", "channel": {"type": "email", "to": "lead@example.com"}}]}, format="json")
    device_unanswered(equipment_id=press.pk, since=timezone.now(), detail="timeout")

    assert andon_watch() == (1, 0)
    assert andon_watch() == (0, 0)
    call = AndonCall.objects.get()
    assert (call.cause, call.kind, call.equipment_id, call.work_center_id, call.raised_by) == ("device_silent:PRESS-1", "equipment", press.pk, press.work_center_id, "system")
    assert AndonNotice.objects.filter(call=call).count() == 1  # told like any other call

    device_answered(equipment_id=press.pk)
    assert andon_watch() == (0, 1)
    call.refresh_from_db()
    assert (call.state, call.resolved_by) == ("resolved", "system")

    device_unanswered(equipment_id=press.pk, since=timezone.now())
    assert andon_watch() == (1, 0) and AndonCall.objects.count() == 2  # a new stoppage is a new call


def test_a_machine_down_longer_than_the_threshold_calls(press, settings):
    settings.MES_ANDON_MACHINE_DOWN_SECONDS = 300
    state = EquipmentState.objects.create(equipment=press, state="down", started_at=timezone.now() - datetime.timedelta(seconds=200))
    assert andon_watch() == (0, 0)
    EquipmentState.objects.filter(pk=state.pk).update(started_at=timezone.now() - datetime.timedelta(seconds=400))
    assert andon_watch() == (1, 0)
    assert AndonCall.objects.get().cause == "machine_down:PRESS-1"
    EquipmentState.objects.filter(pk=state.pk).update(ended_at=timezone.now())
    assert andon_watch() == (0, 1)


def test_dead_letters_call_for_the_whole_plant_until_someone_decides(plant, supervisor):
    message = outbox_add(kind="confirmation", partition_key="WO-1001", source_uuid=uuid.uuid4(), idempotency_key=uuid.uuid4(), payload={})
    OutboxMessage.objects.filter(pk=message.pk).update(state=OutboxMessage.State.DEAD)

    andon_watch()

    listed = supervisor.get("/api/v1/andon?state=open").json()["results"]
    assert [(c["cause"], c["work_center"], c["kind"]) for c in listed] == [("erp:dead_letters", None, "help")]
    OutboxMessage.objects.filter(pk=message.pk).update(state=OutboxMessage.State.DISCARDED)
    assert andon_watch() == (0, 1)


def test_a_quality_stop_calls_quality_at_its_line_until_quality_releases_it(planned_order, settings, quality):
    from mes.models import Hold, ReasonCode
    from mes.services.holds import hold_release
    from mes.services.work_orders import work_order_transition
    from tests.factories import ReasonCodeFactory
    from tests.helpers import confirm

    settings.MES_QUALITY_STOP_WINDOW, settings.MES_QUALITY_STOP_THRESHOLD = 10, 1
    settings.LANGUAGE_CODE = "en"  # the calls are written in the plant's language
    ReasonCodeFactory(code="SCR-BURR", kind=ReasonCode.Kind.SCRAP, name="Burr")
    work_order_transition(number="WO-1001", action="release")
    confirm(good_qty=3)
    confirm(scrap_qty=2, reason_code="SCR-BURR")  # 2 bad among 5: more than 1
    hold = Hold.objects.get(cause="quality_stop")

    assert andon_watch() == (1, 0)
    assert andon_watch() == (0, 0)
    call = AndonCall.objects.get()
    assert (call.cause, call.kind, call.work_order.number, call.work_center_id, call.state) == (
        f"quality_stop:{hold.pk}", "quality", "WO-1001", hold.operation.work_center_id, "open",
    )
    assert "WO-1001 operation 0010 is stopped for quality" in call.note

    hold_release(hold_id=hold.pk, reason="tool changed", actor=quality.user)
    assert andon_watch() == (0, 1)
    call.refresh_from_db()
    assert (call.state, call.resolved_by) == ("resolved", "system")
