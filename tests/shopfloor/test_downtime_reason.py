"""Reasons for downtime: who asks (the threshold), who answers (a downtime or pause code), audited."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from common.errors import DomainError
from mes.models import Event, ReasonCode
from shopfloor.models import EquipmentState
from shopfloor.selectors import downtime_awaiting_reason
from shopfloor.services import downtime_reason_set
from tests.factories import EquipmentFactory, ReasonCodeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def machine():
    return EquipmentFactory(code="PRESS-01")


def interval(machine, state, minutes_ago, minutes_long=None):
    start = timezone.now() - datetime.timedelta(minutes=minutes_ago)
    end = start + datetime.timedelta(minutes=minutes_long) if minutes_long is not None else None
    return EquipmentState.objects.create(equipment=machine, state=state, started_at=start, ended_at=end)


def test_only_downtime_longer_than_the_threshold_asks_for_a_reason(machine, settings):
    settings.MES_DOWNTIME_REASON_AFTER_SECONDS = 120
    long_down = interval(machine, "down", 30, 10)
    interval(machine, "down", 20, 1)  # one minute: below the threshold
    interval(machine, "run", 19, 5)
    open_idle = interval(machine, "idle", 5)
    assert list(downtime_awaiting_reason()) == [long_down, open_idle]
    other = EquipmentFactory(code="PRESS-02")
    interval(other, "down", 50, 30)
    assert list(downtime_awaiting_reason(work_center_id=machine.work_center_id)) == [long_down, open_idle]


def test_a_reason_is_recorded_once_audited_and_stops_the_question(machine):
    ReasonCodeFactory(code="DT-JAM", kind=ReasonCode.Kind.DOWNTIME)
    down = interval(machine, "down", 30, 10)
    downtime_reason_set(state_id=down.pk, reason_code="DT-JAM", actor_label="B-1001")
    downtime_reason_set(state_id=down.pk, reason_code="DT-JAM", actor_label="B-1001")
    down.refresh_from_db()
    assert (down.reason_code.code, down.reason_by) == ("DT-JAM", "B-1001")
    assert list(downtime_awaiting_reason()) == []
    events = Event.objects.filter(object_type="equipment_state", action="downtime_reason")
    assert [e.after for e in events] == [{"reason_code": "DT-JAM"}]


@pytest.mark.parametrize(
    ("state", "code", "kind", "error"),
    [
        ("run", "DT-JAM", ReasonCode.Kind.DOWNTIME, "not_downtime"),
        ("down", "SCRAP-X", ReasonCode.Kind.SCRAP, "wrong_reason_kind"),
        ("down", "NOPE", None, "unknown_reason_code"),
    ],
)
def test_wrong_reasons_are_refused_and_change_nothing(machine, state, code, kind, error):
    if kind is not None:
        ReasonCodeFactory(code=code, kind=kind)
    row = interval(machine, state, 30, 10)
    with pytest.raises(DomainError) as refused:
        downtime_reason_set(state_id=row.pk, reason_code=code)
    assert refused.value.code == error
    row.refresh_from_db()
    assert row.reason_code_id is None
    assert not Event.objects.filter(object_type="equipment_state").exists()
