"""The operator's reports of the shift at the station, and correcting the last one: alone within
MES_OPERATOR_CORRECTION_MINUTES, with a supervisor's badge after that; always through confirmation_reverse
(a reversal record and its ERP message), audited with who asked and who approved."""

from __future__ import annotations

import datetime
import uuid

import pytest
import time_machine
from django.utils import timezone

from erp_sync.models import OutboxMessage
from mes.models import Confirmation, Event, WorkOrderOperation
from mes.services.accounts import api_token_create
from tests.factories import EmployeeFactory
from tests.station.conftest import post, report_body

pytestmark = pytest.mark.django_db

MY_REPORTS = "/station/api/my-reports"
CORRECT = "/station/api/correct"


def report(tablet, **fields) -> str:
    answer = post(tablet, "/station/api/report", report_body(**fields))
    assert answer.status_code == 201, answer.content
    return answer.json()["confirmation"]["id"]


def correct(tablet, confirmation: str, **fields):
    return post(tablet, CORRECT, {"confirmation": confirmation, "operator_badge": "B-1001", **fields})


def test_the_operator_sees_their_reports_and_may_correct_the_last(released_order, tablet):
    first = report(tablet, good_qty="3")
    last = report(tablet, good_qty="4")
    reports = post(tablet, MY_REPORTS, {"operator_badge": "B-1001"}).json()
    assert [row["id"] for row in reports["rows"]] == [last, first]
    assert [row["correctable"] for row in reports["rows"]] == [True, False]
    assert reports["rows"][0]["erp_label"]  # the ERP state in words
    assert reports["minutes"] == 5

    answer = correct(tablet, last, reason="Wrong quantity")
    assert answer.status_code == 201, answer.content
    reversal = Confirmation.objects.get(kind=Confirmation.Kind.REVERSAL)
    assert str(reversal.reverses.uuid) == last
    assert reversal.note.startswith("Wrong quantity (B-1001 Li Wei, WC-CUT-1)")
    assert WorkOrderOperation.objects.get(work_order=released_order, sequence=10).good_qty == 3
    assert OutboxMessage.objects.filter(source_uuid=reversal.uuid).count() == 1  # the ERP hears it, as any reversal
    event = Event.objects.get(action="station_correction")
    assert (event.actor_label, event.after["approved_by"], event.reason) == ("B-1001 Li Wei", "", "Wrong quantity")
    rows = answer.json()["reports"]["rows"]
    assert [(row["reversed"], row["correctable"]) for row in rows] == [(True, False), (False, True)]


def test_only_the_last_report_and_only_with_a_reason(released_order, tablet):
    first = report(tablet, good_qty="3")
    report(tablet, good_qty="4")
    assert correct(tablet, first, reason="Reported twice").json()["error"]["code"] == "not_your_last_report"
    last = Confirmation.objects.order_by("-recorded_at").first()
    assert correct(tablet, str(last.uuid), reason="  ").json()["error"]["code"] == "reason_required"
    assert correct(tablet, str(uuid.uuid4()), reason="x").json()["error"]["code"] == "not_your_last_report"
    assert Confirmation.objects.filter(kind=Confirmation.Kind.REVERSAL).count() == 0


def test_someone_elses_report_is_not_theirs_to_correct(released_order, tablet):
    EmployeeFactory(badge="B-2002", name="Wang Fang")
    mine = report(tablet, good_qty="3")
    answer = post(tablet, CORRECT, {"confirmation": mine, "operator_badge": "B-2002", "reason": "Wrong quantity"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "not_your_last_report")


def test_after_the_window_a_supervisor_badge_approves(released_order, tablet, settings):
    settings.MES_OPERATOR_CORRECTION_MINUTES = 5
    EmployeeFactory(badge="S-0001", name="Zhang Supervisor", user=api_token_create(username="zhang", role="supervisor").user)
    EmployeeFactory(badge="B-2002", name="Wang Fang")
    last = report(tablet, good_qty="4")
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=6)):
        assert post(tablet, MY_REPORTS, {"operator_badge": "B-1001"}).json()["rows"][0]["needs_supervisor"] is True
        asked = correct(tablet, last, reason="Wrong quantity")
        assert (asked.status_code, asked.json()["error"]["code"]) == (403, "correction_needs_supervisor")
        assert "supervisor" in asked.json()["error"]["message"]
        by_operator = correct(tablet, last, reason="Wrong quantity", supervisor_badge="B-2002")
        assert (by_operator.status_code, by_operator.json()["error"]["code"]) == (403, "not_a_supervisor")
        assert Confirmation.objects.filter(kind=Confirmation.Kind.REVERSAL).count() == 0
        approved = correct(tablet, last, reason="Wrong quantity", supervisor_badge="S-0001")
    assert approved.status_code == 201, approved.content
    reversal = Confirmation.objects.get(kind=Confirmation.Kind.REVERSAL)
    assert reversal.recorded_by.username == "zhang"
    event = Event.objects.get(action="station_correction")
    assert (event.actor.username, event.after["approved_by"], event.after["minutes_after_report"]) == ("zhang", "S-0001", 6)


def test_reports_of_an_earlier_shift_are_not_listed(released_order, tablet, station):
    from shopfloor.models import Shift

    now = timezone.localtime()
    start = (now - datetime.timedelta(minutes=30)).time().replace(second=0, microsecond=0)
    end = (now + datetime.timedelta(hours=2)).time().replace(second=0, microsecond=0)
    Shift.objects.create(work_center=station.work_center, name="Early", start_time=start, end_time=end, weekdays="1234567")
    old = report(tablet, good_qty="1")
    Confirmation.objects.filter(uuid=old).update(recorded_at=timezone.now() - datetime.timedelta(hours=3))
    new = report(tablet, good_qty="2")
    rows = post(tablet, MY_REPORTS, {"operator_badge": "B-1001"}).json()["rows"]
    assert [row["id"] for row in rows] == [new]
