"""One production day on every page (issue 14, defect 4): at 02:30, before the first shift, the board,
the OEE overview, the home page and the daily report all say it is still yesterday's production day, and show the
figures of the reports made in it, not of those before it.

The server's clock (the live server is a thread of this process) is pinned to 02:30 plant time today
and ticks on from there; the browser keeps its own, which the pages do not need.
"""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from mes.models import WorkOrder, WorkOrderOperation
from shopfloor.services import ShiftSpec
from tests.browser.conftest import new_context, person, screenshot, sign_in
from tests.shopfloor.oee_scenario import ORDER, at, confirm, press, state

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EVERY_DAY = [
    ShiftSpec("Early", datetime.time(6), datetime.time(14), "1234567"),
    ShiftSpec("Late", datetime.time(14), datetime.time(22), "1234567"),
]


def _yesterday_on_the_press(time_machine) -> datetime.date:
    """At 02:30 today: yesterday's shifts ran the press with a half-hour breakdown and one report in
    them, one before them and one after them. Returns yesterday."""
    today = timezone.localdate()
    time_machine.move_to(at(2, 30, day=today), tick=True)
    yesterday = today - datetime.timedelta(days=1)
    machine = press(shifts=EVERY_DAY)
    # 1,200 planned evenly from yesterday 06:00 to the end of yesterday: 1,066.7 by 22:00, against 300 made.
    WorkOrder.objects.filter(number=ORDER).update(quantity=1200, due_date=yesterday, released_at=at(6, day=yesterday))
    WorkOrderOperation.objects.filter(work_order__number=ORDER).update(planned_qty=1200)
    state(machine, "run", at(6, day=yesterday), at(9, day=yesterday))
    state(machine, "down", at(9, day=yesterday), at(9, 30, day=yesterday), reason="DT-01")
    state(machine, "run", at(9, 30, day=yesterday), at(22, day=yesterday))
    state(machine, "idle", at(22, day=yesterday), None)
    confirm(40, 0, at(5, day=yesterday))  # before yesterday's first shift: the day before's
    confirm(300, 10, at(10, day=yesterday))  # in yesterday's production day
    confirm(7, 0, at(1, day=today))  # after yesterday's last shift, before today's first: in no shift
    person("chief", "supervisor")
    return yesterday


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_at_half_past_two_every_page_shows_yesterdays_production_day(browser, live_server, time_machine, locale):
    yesterday = _yesterday_on_the_press(time_machine)
    context = new_context(browser, live_server, locale=locale, viewport={"width": 1280, "height": 1400})
    try:
        page = context.new_page()
        sign_in(page, "chief", "secret-pass-1")
        days = {}
        summaries = {}
        for path in ("/", "/board/", "/oee/"):
            page.goto(path)
            assert page.locator("[data-production-day]").count(), (path, page.content()[:3000])
            days[path] = page.locator("[data-production-day]").first.get_attribute("data-production-day")
            if path != "/oee/":
                summaries[path] = page.locator("[data-chart=progress] .chart-summary").first.inner_text()
        oee_row = page.locator("tr:has(a[href='/oee/PRESS-01/'])").inner_text()
        page.goto("/reports/daily/")  # the daily report opens on the same day
        days["/reports/daily/"] = page.locator("input[name=date]").input_value()
        page.goto("/")
        scrap_codes = page.locator("[data-chart=scrap] g.reason").evaluate_all("nodes => nodes.map(node => node.dataset.code)")
        standstill = page.locator("[data-chart=standstill] g.reason").evaluate_all("nodes => nodes.map(node => node.dataset.code)")
        screenshot(page, f"home-charts-{locale[:2]}.png")
    finally:
        context.close()

    assert days == {path: yesterday.isoformat() for path in days}
    # 300 good at 10:00; not the 40 at 05:00 nor the 7 at 01:00 today.
    if locale == "en":
        assert all("plan 1,066.7, good reported 300 (28.1 % of plan)" in text for text in summaries.values()), summaries
    else:
        assert all("已报合格 300（" in text for text in summaries.values()), summaries
    assert "96.8 %" in oee_row  # today's quality: 300 of 310, the 05:00 and 01:00 reports outside the day
    assert scrap_codes == ["SCRAP-01"] and standstill == ["DT-01"]


# The width of the page and the smallest text of the charts, as the browser lays them out.
MEASURE = """() => ({
  overflow: document.documentElement.scrollWidth - window.innerWidth,
  smallest: Math.min(...[...document.querySelectorAll("svg.chart text")].map((text) => text.getBoundingClientRect().height)),
  charts: document.querySelectorAll("figure.chart-figure svg").length,
})"""


@pytest.mark.parametrize(("width", "height", "path"), [(390, 844, "/board/"), (390, 844, "/"), (1920, 1080, "/board/?wall=1")], ids=["phone-board", "phone-home", "wall"])
def test_the_charts_fit_a_phone_and_a_wall_screen(browser, live_server, time_machine, width, height, path):
    _yesterday_on_the_press(time_machine)
    context = new_context(browser, live_server, viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        sign_in(page, "chief", "secret-pass-1")
        page.goto(path)
        measured = page.evaluate(MEASURE)
        page.locator("figure.chart-figure").first.scroll_into_view_if_needed()
        screenshot(page, f"charts-{width}{'-home' if path == '/' else ''}.png")
    finally:
        context.close()

    assert measured["charts"] == 3 and measured["overflow"] <= 0
    assert measured["smallest"] >= (13 if width < 1000 else 18)  # axis labels readable at arm's length, or across the room
