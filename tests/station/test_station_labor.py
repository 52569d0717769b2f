"""The station clocks operators on the operation they start, resume or report, off when they ask or
when it pauses or completes, shows who is clocked on, and its reports carry the clocked minutes.

The clock is pinned (time-machine, not ticking) and moved by hand."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine

from mes.models import Confirmation, LaborSession
from tests.factories import EmployeeFactory
from tests.station.conftest import post, report_body, station_client

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 11, 16, 8, 0, tzinfo=datetime.UTC)
OPERATION = {"work_order": "WO-1001", "operation": 10}


def minutes(n: float) -> datetime.datetime:
    return T0 + datetime.timedelta(minutes=n)


@pytest.fixture
def clock(released_order):
    EmployeeFactory(badge="B-2002", name="Wang Fang")
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def names(answer) -> list[str]:
    return [person["badge"] for person in answer.json()["clocked_on"]]


def test_a_second_operator_starting_a_running_operation_is_clocked_on_too_and_each_reports_their_own_minutes(tablet, clock):
    first = post(tablet, "/station/api/start", {**OPERATION, "operator_badge": "B-1001"})
    clock.move_to(minutes(10))
    second = post(tablet, "/station/api/start", {**OPERATION, "operator_badge": "B-2002"})
    opened = tablet.get("/station/api/operation", {"work_order": "WO-1001", "operation": 10})

    assert (first.status_code, second.status_code) == (200, 200)
    assert names(first) == ["B-1001"] and names(second) == ["B-1001", "B-2002"]
    assert opened.json()["clocked_on"] == [{"badge": "B-1001", "name": "Li Wei"}, {"badge": "B-2002", "name": "Wang Fang"}]

    clock.move_to(minutes(25))
    mine = post(tablet, "/station/api/report", report_body(good_qty="2", operator_badge="B-1001"))
    clock.move_to(minutes(40))
    theirs = post(tablet, "/station/api/report", report_body(good_qty="2", operator_badge="B-2002"))

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert names_of(theirs) == ["B-1001", "B-2002"]
    assert dict(Confirmation.objects.values_list("operator__badge", "labor_minutes")) == {"B-1001": Decimal(25), "B-2002": Decimal(30)}


def test_clocking_off_stops_only_that_operators_clock_and_twice_changes_nothing(tablet, clock):
    post(tablet, "/station/api/start", {**OPERATION, "operator_badge": "B-1001"})
    post(tablet, "/station/api/start", {**OPERATION, "operator_badge": "B-2002"})
    clock.move_to(minutes(15))

    off = post(tablet, "/station/api/clock-off", {**OPERATION, "operator_badge": "B-1001"})
    again = post(tablet, "/station/api/clock-off", {**OPERATION, "operator_badge": "B-1001"})

    assert (off.status_code, again.status_code) == (200, 200)
    assert names(off) == ["B-2002"] and names(again) == ["B-2002"]
    assert list(LaborSession.objects.filter(employee__badge="B-1001").values_list("ended_at", "end_reason")) == [(minutes(15), "clock_off")]
    clock.move_to(minutes(45))
    reported = post(tablet, "/station/api/report", report_body(good_qty="1", operator_badge="B-1001"))
    assert Confirmation.objects.get().labor_minutes == Decimal(15)
    assert names_of(reported) == ["B-2002", "B-1001"]  # reporting clocks the operator on again


def names_of(response) -> list[str]:
    return [person["badge"] for person in response.json()["operation"]["clocked_on"]]


def test_pause_stops_the_clock_and_the_resume_restarts_it_for_those_who_were_on(tablet, clock):
    post(tablet, "/station/api/start", {**OPERATION, "operator_badge": "B-1001"})
    post(tablet, "/station/api/start", {**OPERATION, "operator_badge": "B-2002"})
    clock.move_to(minutes(20))

    paused = post(tablet, "/station/api/pause", {**OPERATION, "operator_badge": "B-1001", "reason_code": "PAUSE-01"})
    clock.move_to(minutes(50))
    resumed = post(tablet, "/station/api/start", {**OPERATION, "operator_badge": "B-1001"})
    clock.move_to(minutes(60))
    post(tablet, "/station/api/report", report_body(good_qty="1", operator_badge="B-2002"))

    assert names(paused) == [] and paused.json()["status"] == "paused"
    assert names(resumed) == ["B-1001", "B-2002"]
    assert Confirmation.objects.get().labor_minutes == Decimal(30)  # 20 before the pause, 10 after


def test_a_final_report_clocks_everyone_off(tablet, clock):
    post(tablet, "/station/api/start", {**OPERATION, "operator_badge": "B-1001"})
    post(tablet, "/station/api/start", {**OPERATION, "operator_badge": "B-2002"})
    clock.move_to(minutes(12))

    final = post(tablet, "/station/api/report", report_body(good_qty="10", final=True))

    assert final.status_code == 201 and final.json()["operation"] is None
    assert not LaborSession.objects.filter(ended_at__isnull=True).exists()
    assert Confirmation.objects.get().labor_minutes == Decimal(12)


def test_a_clock_off_is_refused_for_an_unknown_badge_and_changes_nothing(tablet, clock):
    post(tablet, "/station/api/start", {**OPERATION, "operator_badge": "B-1001"})

    refused = post(tablet, "/station/api/clock-off", {**OPERATION, "operator_badge": "B-9999"})

    assert refused.status_code == 422 and refused.json()["error"]["code"] == "unknown_operator"
    assert LaborSession.objects.filter(ended_at__isnull=True).count() == 1


@pytest.mark.parametrize(("language", "words"), [("en", ["Clocked on", "Clock off", "ACT:CLOCKOFF"]), ("zh-hans", ["在岗人员", "下工", "ACT:CLOCKOFF"])])
def test_the_station_page_shows_who_is_clocked_on_and_offers_clocking_off_in_both_languages(station_pair, clock, language, words):
    page = station_client(station_pair[1], language).get("/station/")

    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="op-clocked"' in html
    for word in words:
        assert word in html
