"""The production day's charts (issue 14): one production day for every page, plan against actual per
line, the Paretos of scrap and standstill, and each order's predicted finish at its own pace, on the
known shift of ``oee_scenario`` (Monday 16 November 2026, shift Early 06:00–14:00 Monday to Friday)."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from mes.models import WorkOrder
from mes.services.work_orders import work_order_transition
from shopfloor.planning.predictions import predicted_finishes
from shopfloor.services import ShiftSpec, shifts_set
from shopfloor.shift_calendar import plant_production_day
from shopfloor.shift_charts import day_charts, pareto_chart, quantity
from shopfloor.shift_progress import ReasonTotal, day_progress
from tests.factories import ItemFactory, RoutingFactory, WorkOrderFactory
from tests.helpers import confirm, signed_in
from tests.shopfloor.oee_scenario import MONDAY, ORDER, at, known_shift

pytestmark = pytest.mark.django_db

TUESDAY = MONDAY + datetime.timedelta(days=1)


def _monday_scenario():
    machine = known_shift()
    # Released at the shift's start, due on Monday: the plan spreads 100,000 over 06:00 → Tuesday 00:00 (18 h).
    WorkOrder.objects.filter(number=ORDER).update(released_at=at(6), due_date=MONDAY)
    return machine


@pytest.mark.parametrize(
    ("moment", "expected"),
    [(at(2, 30, day=TUESDAY), MONDAY), (at(5, 59, day=TUESDAY), MONDAY), (at(6, day=TUESDAY), TUESDAY), (at(23, day=MONDAY), MONDAY)],
    ids=["02:30", "05:59", "06:00", "23:00"],
)
def test_before_the_first_shift_the_plant_still_works_on_the_day_before(moment, expected):
    known_shift()
    day = plant_production_day(now=moment)
    assert day.day == expected
    assert (day.start, day.end) == (at(6, day=expected), at(14, day=expected))


def test_a_night_shift_keeps_its_production_day_past_midnight():
    known_shift()
    shifts_set(work_center_code="WC-PRESS", shifts=[
        ShiftSpec("Early", datetime.time(6), datetime.time(14), "12345"),
        ShiftSpec("Night", datetime.time(22), datetime.time(6), "12345"),
    ])
    day = plant_production_day(now=at(2, 30, day=TUESDAY))
    assert (day.day, day.start, day.end) == (MONDAY, at(6), at(6, day=TUESDAY))


def test_without_shifts_today_is_the_calendar_day():
    day = plant_production_day(now=at(2, 30, day=TUESDAY))
    assert (day.day, day.start, day.end) == (TUESDAY, at(0, day=TUESDAY), at(0, day=TUESDAY + datetime.timedelta(days=1)))


def test_plan_against_actual_counts_the_days_reports_hour_by_hour():
    _monday_scenario()

    progress = day_progress(now=at(2, 30, day=TUESDAY))

    (line,) = progress.lines
    assert line.line == "L1"
    assert [f"{moment:%H:%M}" for moment in line.moments] == [f"{hour:02}:00" for hour in range(6, 15)]
    # 06:00 5 good (in the 07:00 point), 07:00 100 (in 08:00), 10:00 300, and 14:00's 300 at the day's end.
    assert line.actual == [0, 5, 105, 105, 105, 405, 405, 405, 705]
    # 100,000 × (h − 6) / 18 by each hour h.
    assert line.planned[0] == 0 and line.planned[-1] == Decimal("44444.444") and line.planned[3] == Decimal("16666.667")
    assert line.planned_now == Decimal("44444.444") and line.actual_now == 705


def test_during_the_shift_the_actual_line_stops_at_now():
    _monday_scenario()

    (line,) = day_progress(now=at(10, 30)).lines

    assert [f"{point:%H:%M}" for point in line.points] == ["06:00", "07:00", "08:00", "09:00", "10:00", "10:30"]
    assert line.actual == [0, 5, 105, 105, 105, 405]
    assert line.planned_now == Decimal("25000.000")  # 4.5 h of 18


def test_scrap_and_standstill_by_reason_most_first():
    _monday_scenario()

    progress = day_progress(now=at(2, 30, day=TUESDAY))

    assert [(row.code, row.value) for row in progress.scrap] == [("SCRAP-01", 20)]
    # Down 06:30–07:30 for DT-01; idle 08:00–08:30 with no reason; the run before 06:00 is not standstill.
    assert [(row.code, row.name, row.value) for row in progress.standstill] == [
        ("DT-01", "Machine breakdown", Decimal("60.0")), ("", "", Decimal("30.0")),
    ]


def test_the_charts_say_in_words_what_they_draw():
    _monday_scenario()

    with translation.override("en"):
        charts = day_charts(day_progress(now=at(2, 30, day=TUESDAY)))

    line = charts["lines"]["L1"]
    assert line["title"] == "Line L1: plan against good reported, cumulative through the production day"
    assert line["description"] == "By 14:00: plan 44,444.4, good reported 705 (1.6 % of plan)."
    assert line["is_behind"] and len(line["rows"]) == 9 and line["rows"][1] == {"time": "07:00", "planned": "5,555.6", "actual": "5"}
    assert charts["standstill"]["description"] == "DT-01 Machine breakdown: 60 min (66.7 %); no reason given: 30 min (33.3 %)"
    assert [bar["cumulative"] for bar in charts["standstill"]["bars"]] == ["66.7 %", "100.0 %"]


def test_the_pareto_keeps_six_reasons_and_gathers_the_rest():
    totals = [ReasonTotal(f"R{index}", f"reason {index}", Decimal(100 - index)) for index in range(9)]

    with translation.override("en"):
        chart = pareto_chart(totals, title="Scrap", unit=quantity)

    assert [bar["code"] for bar in chart["bars"]] == ["R0", "R1", "R2", "R3", "R4", "R5", "—"]
    assert chart["bars"][-1]["name"] == "others (3)" and chart["bars"][-1]["value"] == "279"
    assert chart["bars"][-1]["cumulative"] == "100.0 %" and chart["total"] == "864"
    heights = [bar["height"] for bar in chart["bars"][:-1]]
    assert heights == sorted(heights, reverse=True)


def _order_at_its_pace(number: str, *, quantity: int = 100, due: datetime.date = MONDAY) -> None:
    item = ItemFactory(code=f"ITEM-{number}")
    from mes.models import WorkCenter

    RoutingFactory(item=item, operations=[{"sequence": 10, "name": "Press", "work_center": WorkCenter.objects.get(code="WC-PRESS"),
                                           "run_minutes_per_unit": Decimal("0.5")}])
    WorkOrderFactory(number=number, item=item, quantity=Decimal(quantity), due_date=due)
    work_order_transition(number=number, action="release")


def test_the_finish_is_predicted_from_the_recent_actual_cycle_time_through_the_shifts():
    known_shift()
    _order_at_its_pace("WO-PACE")
    # 40 done in 80 labor minutes: 2 min a part (four times the standard 0.5).
    confirm("WO-PACE", 10, good_qty=40, labor_minutes=80, confirmed_at=at(8))

    predictions = predicted_finishes(numbers=["WO-PACE"], now=at(10))
    assert predictions["WO-PACE"].finish == at(12)  # 60 left × 2 min = 2 h
    assert not predictions["WO-PACE"].is_late_risk

    # From 13:00: one hour left in Monday's shift, the second on Tuesday from 06:00 — after the due date.
    late = predicted_finishes(numbers=["WO-PACE"], now=at(13))["WO-PACE"]
    assert late.finish == at(7, day=TUESDAY) and late.is_late_risk and late.delay == datetime.timedelta(hours=7)


def test_without_minutes_reported_the_standard_time_is_the_pace():
    known_shift()
    _order_at_its_pace("WO-STD")
    confirm("WO-STD", 10, good_qty=40, confirmed_at=at(8))  # no minutes: no actual cycle time

    assert predicted_finishes(numbers=["WO-STD"], now=at(10))["WO-STD"].finish == at(10, 30)  # 60 × 0.5 min


def test_predictions_take_constant_queries(django_assert_num_queries):
    known_shift()
    for index in range(5):
        _order_at_its_pace(f"WO-Q{index}")
        confirm(f"WO-Q{index}", 10, good_qty=10, labor_minutes=10, confirmed_at=at(8))
    with django_assert_num_queries(4):  # operations, recent reports, work centers, shifts
        predictions = predicted_finishes(now=at(10))
    assert len(predictions) == 6  # and WO-7001


def test_the_board_shows_the_charts_and_predictions_in_constant_queries(client, time_machine):
    time_machine.move_to(at(2, 30, day=TUESDAY), tick=False)
    known_shift()
    person = signed_in(client, "supervisor")

    def render() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as queries:
            response = person.get("/board/")
        assert response.status_code == 200
        return len(queries), response.content.decode()

    few, body = render()
    for index in range(6):
        _order_at_its_pace(f"WO-B{index}", due=TUESDAY + datetime.timedelta(days=30))
        confirm(f"WO-B{index}", 10, good_qty=5, scrap_qty=1, reason_code="SCRAP-01", labor_minutes=6, confirmed_at=at(9))
    many, body = render()

    assert many == few
    assert 'data-production-day="2026-11-16"' in body
    assert body.count('data-chart="progress"') == 1 and 'data-chart="scrap"' in body and 'data-chart="standstill"' in body
    assert re.search(r'<tr data-number="WO-B0">.*?<span class="predicted" data-predicted title="predicted finish">→ 11-17 07:34</span>', body, re.S)
    assert "good reported 735" in body  # 705 of the known shift and 6 × 5


def test_the_board_shares_the_predictions_for_a_minute_and_works_out_a_new_order_at_once(client, time_machine, settings):
    time_machine.move_to(at(15), tick=False)  # after Monday's shift (06:00–14:00): what is left goes to Tuesday
    known_shift()
    person = signed_in(client, "supervisor")
    _order_at_its_pace("WO-PACE", due=TUESDAY + datetime.timedelta(days=30))
    confirm("WO-PACE", 10, good_qty=40, labor_minutes=80, confirmed_at=at(8))  # 2 min a part

    def finish(number: str) -> str:
        body = person.get("/board/").content.decode()
        found = re.search(rf'<tr data-number="{number}">.*?data-predicted title="predicted finish">→ ([^<]+)</span>', body, re.S)
        return found.group(1) if found else ""

    assert finish("WO-PACE") == "11-17 08:00"  # 60 left × 2 min from Tuesday 06:00
    # Twenty more at a minute each: the pace changes, but the screens share the last minute's answer.
    confirm("WO-PACE", 10, good_qty=20, labor_minutes=20, confirmed_at=at(9))
    assert finish("WO-PACE") == "11-17 08:00"
    # An order released since is worked out on the spot.
    _order_at_its_pace("WO-NEW", due=TUESDAY + datetime.timedelta(days=30))
    assert finish("WO-NEW") == "11-17 07:05"  # its setup, 15 min, and 100 × 0.5 min
    # A minute later the new pace shows: 40 left at 100 min for 60 parts.
    time_machine.move_to(at(15, 1), tick=False)
    assert finish("WO-PACE") == "11-17 07:06"
    # Not shared at all: every render works it out.
    settings.MES_PREDICTION_MAX_AGE_SECONDS = 0
    confirm("WO-PACE", 10, good_qty=20, labor_minutes=20, confirmed_at=at(9, 30))
    assert finish("WO-PACE") == "11-17 06:30"  # 20 left at 120 min for 80 parts


def test_the_planners_list_and_order_page_show_the_predicted_finish_and_late_risk(client, time_machine):
    time_machine.move_to(at(15), tick=False)
    known_shift()
    _order_at_its_pace("WO-PACE")
    confirm("WO-PACE", 10, good_qty=40, labor_minutes=80, confirmed_at=at(8))
    time_machine.move_to(at(13), tick=False)
    person = signed_in(client, "planner")

    listed = person.get("/planning/").content.decode()
    row = re.search(r'<tr data-number="WO-PACE">(.*?)</tr>', listed, re.S).group(1)
    assert '<td class="predicted"><span data-predicted="2026-11-17T07:00:00+08:00"' in row
    assert 'data-flag="late_risk">late risk</span>' in row

    page = person.get("/planning/orders/WO-PACE/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "预计完工" in page and "2026-11-17 07:00" in page and "延期风险" in page


@pytest.mark.parametrize("role", ["supervisor", "planner"])
def test_the_home_page_shows_the_production_day_and_its_charts(client, time_machine, role):
    time_machine.move_to(at(2, 30, day=TUESDAY), tick=False)
    _monday_scenario()
    person = signed_in(client, role)

    body = person.get("/").content.decode()

    assert 'data-production-day="2026-11-16"' in body and "Production day 2026-11-16 (Monday), shifts from 11-16 06:00 to 11-16 14:00" in body
    assert "By 14:00: plan 44,444.4, good reported 705 (1.6 % of plan)." in body
    assert 'data-code="SCRAP-01"' in body and 'data-code="DT-01"' in body


def test_an_operator_home_names_the_day_without_charts(client, time_machine):
    time_machine.move_to(at(2, 30, day=TUESDAY), tick=False)
    _monday_scenario()
    body = signed_in(client, "operator").get("/").content.decode()
    assert 'data-production-day="2026-11-16"' in body and 'data-chart=' not in body


def test_an_order_partly_done_and_not_yet_due_does_not_break_the_home_page(client, time_machine):
    """The at-risk rule compared a Decimal done quantity with a Fraction plan (a TypeError, a 500)."""
    time_machine.move_to(at(15), tick=False)
    known_shift()  # WO-7001 due in 2030, 705 of 100,000 done
    body = signed_in(client, "supervisor").get("/")
    assert body.status_code == 200 and "orders at risk" in body.content.decode()
