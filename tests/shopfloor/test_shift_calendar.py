"""The equipment calendar: shifts set through the service (validated, audited), occurrences across midnight."""

from __future__ import annotations

import datetime

import pytest
from django.utils import translation

from common.errors import DomainError
from mes.models import Event
from mes.services.master_data import work_center_upsert
from shopfloor.models import Shift
from shopfloor.services import ShiftSpec, shifts_set
from shopfloor.shift_calendar import (
    ALL_DAY,
    ShiftRule,
    occurrences,
    overlaps,
    production_day,
    span_at,
)
from tests.shopfloor.oee_scenario import MONDAY, at

EARLY = ShiftSpec("Early", datetime.time(6), datetime.time(14), "123456")
LATE = ShiftSpec("Late", datetime.time(14), datetime.time(22), "123456")
NIGHT = ShiftRule("Night", datetime.time(22), datetime.time(6), frozenset({1, 2, 3, 4, 5}))


@pytest.mark.django_db
def test_shifts_are_set_once_audited_and_replaced_as_a_whole():
    work_center_upsert(code="WC-A", name="A")

    shifts_set(work_center_code="WC-A", shifts=[EARLY, LATE])
    shifts_set(work_center_code="WC-A", shifts=[LATE, EARLY])  # the same shifts: nothing changes
    shifts_set(work_center_code="WC-A", shifts=[EARLY])

    assert list(Shift.objects.values_list("name", "weekdays")) == [("Early", "123456")]
    events = Event.objects.filter(object_type="work_center", action="shifts_set").order_by("id")
    assert [len(event.after["shifts"]) for event in events] == [2, 1]
    assert events[1].before["shifts"][1] == {"name": "Late", "start_time": "14:00", "end_time": "22:00", "weekdays": "123456"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("shifts", "code"),
    [
        ([EARLY, ShiftSpec("Overtime", datetime.time(13), datetime.time(15), "6")], "overlapping_shifts"),
        # Sunday's night runs into Monday's early shift.
        ([EARLY, ShiftSpec("Sunday night", datetime.time(22), datetime.time(7), "7")], "overlapping_shifts"),
        ([EARLY, ShiftSpec("Early", datetime.time(15), datetime.time(16), "1")], "duplicate_shift"),
        ([ShiftSpec("Weekend", datetime.time(6), datetime.time(14), "8")], "invalid_weekdays"),
        ([ShiftSpec(" ", datetime.time(6), datetime.time(14), "1")], "invalid_shift"),
    ],
)
def test_shifts_that_would_count_hours_twice_or_make_no_sense_are_refused(shifts, code):
    work_center_upsert(code="WC-A", name="A")

    with pytest.raises(DomainError) as refused:
        shifts_set(work_center_code="WC-A", shifts=shifts)

    assert refused.value.code == code
    assert not Shift.objects.exists() and not Event.objects.filter(action="shifts_set").exists()


def test_adjacent_shifts_and_a_night_shift_do_not_overlap():
    early, late = (ShiftRule(s.name, s.start_time, s.end_time, frozenset(map(int, s.weekdays))) for s in (EARLY, LATE))
    assert overlaps([early, late, NIGHT]) == []
    assert overlaps([ALL_DAY]) == []
    with translation.override("en"):
        assert overlaps([ALL_DAY, early]) == [("All day", "Early")]


def test_a_night_shift_runs_into_the_next_morning_and_belongs_to_the_day_it_starts():
    tuesday = MONDAY + datetime.timedelta(days=1)
    spans = occurrences([NIGHT], at(0, day=tuesday), at(12, day=tuesday))

    assert [(span.day, span.start, span.end) for span in spans] == [(MONDAY, at(22), at(6, day=tuesday))]
    assert span_at([NIGHT], at(3, day=tuesday)).day == MONDAY
    # Saturday noon: no night shift runs; the last one was Friday's (Monday to Friday).
    saturday = MONDAY + datetime.timedelta(days=5)
    assert span_at([NIGHT], at(12, day=saturday)).day == MONDAY + datetime.timedelta(days=4)


def _rule(spec: ShiftSpec, weekdays: str = "") -> ShiftRule:
    return ShiftRule(spec.name, spec.start_time, spec.end_time, frozenset(map(int, weekdays or spec.weekdays)))


EVERY_DAY = "1234567"
ROUND_THE_CLOCK = [_rule(EARLY, EVERY_DAY), _rule(LATE, EVERY_DAY), ShiftRule("Night", datetime.time(22), datetime.time(6), frozenset(range(1, 8)))]
TWO_SHIFTS = [_rule(EARLY, EVERY_DAY), _rule(LATE, EVERY_DAY)]
TUESDAY = MONDAY + datetime.timedelta(days=1)


@pytest.mark.parametrize("rules", [ROUND_THE_CLOCK, TWO_SHIFTS], ids=["with a night shift", "without"])
@pytest.mark.parametrize(
    ("hour", "minute", "day"),
    [(0, 0, MONDAY), (3, 0, MONDAY), (5, 59, MONDAY), (6, 0, TUESDAY), (21, 59, TUESDAY), (23, 59, TUESDAY)],
)
def test_a_production_day_lasts_from_its_first_shift_until_the_next_days_first_shift(rules, hour, minute, day):
    assert production_day(rules, at(hour, minute, day=TUESDAY)) == day


def test_the_production_day_follows_the_running_shift_and_days_without_shifts():
    friday, saturday, sunday = (MONDAY + datetime.timedelta(days=offset) for offset in (4, 5, 6))
    weekdays_only = [_rule(EARLY), NIGHT]  # Early Monday to Saturday, Night Monday to Friday

    assert production_day(weekdays_only, at(3, day=saturday)) == friday  # Friday's night shift still runs
    assert production_day(weekdays_only, at(5, 59, day=saturday)) == friday
    assert production_day(weekdays_only, at(12, day=sunday)) == sunday  # no shift on Sunday: the calendar day
    assert production_day(weekdays_only, at(3, day=MONDAY + datetime.timedelta(days=7))) == sunday  # before Monday's first shift
    assert production_day([ALL_DAY], at(0, day=TUESDAY)) == production_day([ALL_DAY], at(23, 59, day=TUESDAY)) == TUESDAY
    assert production_day(ROUND_THE_CLOCK, at(3, day=TUESDAY).astimezone(datetime.UTC)) == MONDAY  # any offset


@pytest.mark.django_db
def test_shifts_are_edited_in_the_admin_and_an_overlap_is_refused_there(admin_client):
    center = work_center_upsert(code="WC-A", name="A").obj
    form = {"work_center": center.pk, "name": "Early", "start_time": "06:00", "end_time": "14:00", "weekdays": ["1", "2", "3"]}

    added = admin_client.post("/admin/shopfloor/shift/add/", form)
    clash = admin_client.post("/admin/shopfloor/shift/add/", form | {"name": "Overtime", "start_time": "13:00"}, HTTP_ACCEPT_LANGUAGE="en")

    assert added.status_code == 302
    assert list(Shift.objects.values_list("name", "weekdays")) == [("Early", "123")]
    assert clash.status_code == 200 and "Shifts Early and Overtime overlap" in clash.content.decode()
