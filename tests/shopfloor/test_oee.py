"""OEE arithmetic on known scenarios, checked against hand calculations (see ``oee_scenario``)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from mes.services.confirmations import confirmation_reverse
from mes.services.master_data import equipment_upsert
from shopfloor.oee import equipment_board_rows, equipment_oee, equipment_oee_many
from shopfloor.services import ShiftSpec, shifts_set
from tests.shopfloor.oee_scenario import MONDAY, at, confirm, known_shift, press, state

pytestmark = pytest.mark.django_db

LATER = at(0, day=MONDAY + datetime.timedelta(days=30))  # "now" long after the scenario


def test_the_known_shift_gives_the_hand_calculated_oee(settings):
    """Planned 06:00–14:00 = 28,800 s. Run 23,400 s, down 3,600 s (DT-01), idle 1,800 s (no reason).

    availability = 23,400 / 28,800                  = 13/16 = 0.8125
    performance  = 0.5 min × 60 s × (700 + 20) / 23,400 = 21,600 / 23,400 = 12/13 ≈ 0.923077
    quality      = 700 / 720                        = 35/36 ≈ 0.972222
    OEE          = 13/16 × 12/13 × 35/36             = 35/48 ≈ 0.729167 (= 700 × 30 s / 28,800 s)
    losses: DT-01 3,600 s; unexplained 1,800 s; speed loss 23,400 − 21,600 = 1,800 s; scrap 20 × 30 s = 600 s;
    21,000 (good × ideal) + 600 + 1,800 + 3,600 + 1,800 = 28,800 = planned.
    """
    settings.MES_DOWNTIME_REASON_AFTER_SECONDS = 120
    machine = known_shift()

    result = equipment_oee(equipment=machine, start=at(0), end=at(0, day=MONDAY + datetime.timedelta(days=1)), now=LATER)
    figures = result.as_json()

    assert {name: figures[name] for name in ("availability", "performance", "quality", "oee")} == {
        "availability": 0.8125,
        "performance": float(Fraction(12, 13)),
        "quality": float(Fraction(35, 36)),
        "oee": float(Fraction(35, 48)),
    }
    assert {name: figures[name] for name in ("planned_seconds", "run_seconds", "down_seconds", "idle_seconds", "unknown_seconds", "ideal_seconds")} == {
        "planned_seconds": 28800.0, "run_seconds": 23400.0, "down_seconds": 3600.0, "idle_seconds": 1800.0,
        "unknown_seconds": 0.0, "ideal_seconds": 21600.0,
    }
    assert (figures["good"], figures["scrap"]) == (Decimal(700), Decimal(20))
    assert figures["losses"] == {
        "downtime_by_reason": [{"reason_code": "DT-01", "name": "Machine breakdown", "seconds": 3600.0, "stops": 1}],
        "unexplained_seconds": 1800.0,
        "short_stop_seconds": 0.0,
        "unknown_seconds": 0.0,
        "speed_loss_seconds": 1800.0,
        "scrap_seconds": 600.0,
        "scrap": Decimal(20),
    }
    (shift,) = figures["shifts"]
    assert (shift["shift"], shift["day"], shift["from"], shift["to"], shift["oee"]) == ("Early", MONDAY, at(6), at(14), figures["oee"])
    assert [(day["day"], day["oee"]) for day in figures["days"]] == [(MONDAY, figures["oee"])]


def test_a_reversal_takes_its_parts_back_from_the_shift_they_were_made_in():
    machine = known_shift()
    late = confirm(40, 0, at(13))
    confirmation_reverse(confirmation_id=late.uuid, reason="double count")  # reversed now, a week later

    figures = equipment_oee(equipment=machine, start=at(6), end=at(14), now=LATER).as_json()

    assert (figures["good"], figures["scrap"]) == (Decimal(700), Decimal(20))


def test_a_night_shift_crossing_midnight_is_one_shift_of_the_day_it_starts_on():
    """Night 22:00–06:00, Monday to Friday. Monday night: run 22:00–23:30, down 23:30–00:30 (1 h,
    across midnight, no reason), run 00:30–06:00; 100 good at 23:00 and 200 good at 05:00, ideal 0.5 min.

    Monday night alone: planned 8 h = 28,800 s, run 25,200 s, availability 7/8 = 0.875,
    performance 300 × 30 / 25,200 = 5/14, quality 1, OEE 7/8 × 5/14 = 5/16 = 0.3125.
    Over Monday 00:00 – Wednesday 00:00 also Tuesday night's first 2 h (22:00–24:00) are planned,
    with nothing recorded: unknown time, and Tuesday's availability and OEE are None (not known).
    From Tuesday 00:00 to 06:00 only the last 6 h of Monday's night are planned: down 30 min,
    availability 5.5 / 6 = 11/12, and the day is still Monday.
    """
    machine = press(shifts=[ShiftSpec("Night", datetime.time(22), datetime.time(6), "12345")])
    tuesday = MONDAY + datetime.timedelta(days=1)
    state(machine, "run", at(22), at(23, 30))
    state(machine, "down", at(23, 30), at(0, 30, day=tuesday))
    state(machine, "run", at(0, 30, day=tuesday), at(6, day=tuesday))
    confirm(100, 0, at(23))
    confirm(200, 0, at(5, day=tuesday))

    two_days = equipment_oee(equipment=machine, start=at(0), end=at(0, day=tuesday + datetime.timedelta(days=1)), now=LATER)
    after_midnight = equipment_oee(equipment=machine, start=at(0, day=tuesday), end=at(6, day=tuesday), now=LATER)

    monday_night, tuesday_night = two_days.shifts
    assert (monday_night.span.day, monday_night.span.start, monday_night.span.end) == (MONDAY, at(22), at(6, day=tuesday))
    monday = monday_night.tally.figures()
    assert (monday["planned_seconds"], monday["run_seconds"], monday["down_seconds"]) == (28800.0, 25200.0, 3600.0)
    assert (monday["availability"], monday["performance"], monday["quality"], monday["oee"]) == (0.875, 5 / 14, 1.0, 0.3125)
    assert (tuesday_night.span.day, tuesday_night.span.start, tuesday_night.span.end) == (tuesday, at(22, day=tuesday), at(0, day=tuesday + datetime.timedelta(days=1)))
    tuesday_figures = tuesday_night.tally.figures()
    assert (tuesday_figures["planned_seconds"], tuesday_figures["unknown_seconds"], tuesday_figures["availability"], tuesday_figures["oee"]) == (7200.0, 7200.0, None, None)
    assert [(day, tally.figures()["planned_seconds"]) for day, tally in two_days.days()] == [(MONDAY, 28800.0), (tuesday, 7200.0)]

    (part,) = after_midnight.shifts
    assert (part.span.day, part.span.start, part.span.end) == (MONDAY, at(0, day=tuesday), at(6, day=tuesday))
    figures = after_midnight.as_json()
    assert (figures["planned_seconds"], figures["down_seconds"], figures["availability"], figures["good"]) == (21600.0, 1800.0, 11 / 12, Decimal(200))


def test_zero_denominators_give_none_not_errors():
    machine = press()
    sunday = MONDAY - datetime.timedelta(days=1)  # the shift runs Monday to Friday

    unplanned = equipment_oee(equipment=machine, start=at(0, day=sunday), end=at(0), now=LATER).as_json()
    state(machine, "down", at(6), at(14))
    down_all_shift = equipment_oee(equipment=machine, start=at(6), end=at(14), now=LATER).as_json()

    assert (unplanned["availability"], unplanned["performance"], unplanned["quality"], unplanned["oee"]) == (None, None, None, None)
    assert unplanned["planned_seconds"] == 0.0 and unplanned["shifts"] == []
    # Down all shift: no run time and no parts, so performance and quality are None, but OEE is 0.
    assert (down_all_shift["availability"], down_all_shift["performance"], down_all_shift["quality"], down_all_shift["oee"]) == (0.0, None, None, 0.0)


def test_nothing_recorded_leaves_availability_unknown():
    machine = press()

    figures = equipment_oee(equipment=machine, start=at(6), end=at(14), now=LATER).as_json()

    assert (figures["planned_seconds"], figures["unknown_seconds"], figures["availability"], figures["oee"]) == (28800.0, 28800.0, None, None)


def test_performance_above_one_is_shown_not_capped():
    """Run 1 h, 150 parts × 0.5 min = 75 min of ideal time: performance 1.25."""
    machine = press()
    state(machine, "run", at(6), at(7))
    state(machine, "idle", at(7), at(14))
    confirm(150, 0, at(7))

    figures = equipment_oee(equipment=machine, start=at(6), end=at(14), now=LATER).as_json()

    assert figures["performance"] == 1.25
    assert figures["losses"]["speed_loss_seconds"] == -900.0


def test_short_stops_are_apart_from_unexplained_downtime(settings):
    settings.MES_DOWNTIME_REASON_AFTER_SECONDS = 120
    machine = press()
    state(machine, "run", at(6), at(7))
    state(machine, "idle", at(7), datetime.datetime.combine(MONDAY, datetime.time(7, 1, 30), tzinfo=at(7).tzinfo))  # 90 s
    state(machine, "run", datetime.datetime.combine(MONDAY, datetime.time(7, 1, 30), tzinfo=at(7).tzinfo), at(14))

    losses = equipment_oee(equipment=machine, start=at(6), end=at(14), now=LATER).as_json()["losses"]

    assert (losses["short_stop_seconds"], losses["unexplained_seconds"]) == (90.0, 0.0)


def test_an_open_state_lasts_until_now_and_planned_time_stops_at_now():
    machine = press()
    state(machine, "run", at(6), at(9))
    state(machine, "down", at(9), None)

    figures = equipment_oee(equipment=machine, start=at(6), end=at(14), now=at(10)).as_json()

    assert (figures["planned_seconds"], figures["run_seconds"], figures["down_seconds"], figures["availability"]) == (14400.0, 10800.0, 3600.0, 0.75)


def test_a_machine_without_shifts_is_planned_all_day_and_its_own_shifts_replace_its_work_centers():
    machine = press()
    equipment_upsert(code="BENCH-01", name="Bench", work_center="WC-PRESS")
    loose = equipment_upsert(code="LOOSE-01", name="Loose", work_center=_bare_work_center()).obj
    shifts_set(equipment_code="BENCH-01", shifts=[ShiftSpec("Long", datetime.time(6), datetime.time(18), "1234567")])

    results = equipment_oee_many(
        equipment=[machine, loose, _machine("BENCH-01")], start=at(0), end=at(0, day=MONDAY + datetime.timedelta(days=1)), now=LATER
    )

    planned = {result.equipment.code: result.total.figures()["planned_seconds"] for result in results.values()}
    assert planned == {"PRESS-01": 28800.0, "LOOSE-01": 86400.0, "BENCH-01": 43200.0}
    with translation.override("en"):
        assert [str(entry.span.shift) for entry in results[loose.pk].shifts] == ["All day"]


def test_oee_of_many_machines_takes_a_constant_number_of_queries():
    machine = known_shift()
    for number in range(2, 6):
        other = equipment_upsert(code=f"PRESS-0{number}", name="Press", work_center="WC-PRESS").obj
        state(other, "run", at(6), at(14))
    machines = list(type(machine).objects.all())

    with CaptureQueriesContext(connection) as queries:
        equipment_oee_many(equipment=machines, start=at(0), end=at(0, day=MONDAY + datetime.timedelta(days=1)), now=LATER)

    assert len(queries) == 3  # shifts, states, counts


def test_board_rows_show_state_since_and_current_shift_oee_in_constant_queries(django_assert_num_queries):
    machine = known_shift()
    state(machine, "down", at(14, 30), None)
    for number in range(2, 5):
        equipment_upsert(code=f"PRESS-0{number}", name="Press", work_center="WC-PRESS")

    with django_assert_num_queries(5):
        rows = equipment_board_rows(work_center_ids=[machine.work_center_id], now=at(15))

    assert [row.code for row in rows] == ["PRESS-01", "PRESS-02", "PRESS-03", "PRESS-04"]
    first = rows[0]
    assert (first.state, first.state_since, first.shift.shift, first.shift_running) == ("down", at(14, 30), "Early", False)
    assert first.shift_oee.as_json()["oee"] == float(Fraction(35, 48))
    assert (rows[1].state, rows[1].state_since, rows[1].shift_oee.as_json()["availability"]) == (None, None, None)

    with django_assert_num_queries(7):
        rows = equipment_board_rows(lines=["L1"], with_today=True, now=at(10))
    assert rows[0].shift_running and rows[0].today_oee.as_json()["planned_seconds"] == 14400.0


def _bare_work_center() -> str:
    from mes.services.master_data import work_center_upsert

    work_center_upsert(code="WC-BARE", name="No shifts")
    return "WC-BARE"


def _machine(code: str):
    from mes.models import Equipment

    return Equipment.objects.get(code=code)
