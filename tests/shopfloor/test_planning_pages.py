"""The planner's load chart and Gantt on the hand-calculated scenario of ``test_planning``:
Monday 2030-01-07 08:00 plant time, WC-A and WC-B on line L1, WO-2 late (see that module's table).

The Gantt starts at Monday 00:00 and draws ``HOUR_WIDTH`` (10) pixels an hour from x = 120; row 0
(WC-A) holds its bars at y = 28, row 1 (WC-B) at y = 58. The schedule ends Wednesday 11:00, so the
chart shows three days: 120 + 72 × 10 + 10 = 850 pixels wide.
"""

from __future__ import annotations

import datetime
import re
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mes.models import WorkCenter
from mes.services.work_orders import work_order_transition
from shopfloor.planning.charts import gantt_chart, load_chart
from shopfloor.planning.core import ScheduledOperation
from shopfloor.planning.selectors import DayLoad
from shopfloor.planning.services import schedule_refresh
from tests.factories import ItemFactory, RoutingFactory, WorkOrderFactory
from tests.helpers import signed_in
from tests.shopfloor.test_planning import MONDAY, ZONE, overloading_order, scenario  # noqa: F401 (fixtures)

D = Decimal


def svgs(html: str, css_class: str) -> list[ET.Element]:
    return [ET.fromstring(match) for match in re.findall(rf'<svg class="{css_class}".*?</svg>', html, re.DOTALL)]


def gantt_bars(svg: ET.Element) -> dict[str, dict]:
    bars = {}
    for link in svg.iter("a"):
        rect = link.find("rect")
        label = link.find("text")
        bars[f"{link.get('data-number')}/{link.get('data-sequence')}"] = {
            "href": link.get("href"), "x": float(rect.get("x")), "y": float(rect.get("y")), "width": float(rect.get("width")),
            "late": "late" in rect.get("class").split(), "label": None if label is None else label.text,
        }
    return bars


@pytest.mark.parametrize("role", ["planner", "supervisor", "admin"])
def test_planning_roles_open_both_pages_linked_from_the_order_list(scenario, client, role):  # noqa: F811
    person = signed_in(client, role)
    listing = person.get("/planning/").content.decode()
    assert 'href="/planning/load/"' in listing and 'href="/planning/gantt/"' in listing
    for url in ("/planning/load/", "/planning/gantt/"):
        assert person.get(url).status_code == 200


def test_an_operator_is_refused(scenario, client):  # noqa: F811
    person = signed_in(client, "operator")
    assert person.get("/planning/load/").status_code == 403
    assert person.get("/planning/gantt/").status_code == 403


def test_gantt_bars_stand_where_the_schedule_puts_them(scenario, client):  # noqa: F811
    schedule_refresh()
    html = signed_in(client, "planner").get("/planning/gantt/").content.decode()

    [svg] = svgs(html, "gantt")
    assert (svg.get("width"), svg.get("height")) == ("850.0", "88")
    bars = gantt_bars(svg)

    def at(day: int, hour: int) -> float:
        return 120 + 10 * (24 * day + hour)

    expected = {  # work order/sequence: row y, start, finish (day, hour from Monday)
        "WO-1/10": (28, (0, 8), (0, 11)), "WO-2/10": (28, (0, 11), (0, 15)), "WO-3/10": (28, (0, 15), (1, 15)),
        "WO-1/20": (58, (0, 11), (1, 9)), "WO-2/20": (58, (1, 9), (1, 11)), "WO-3/20": (58, (1, 15), (2, 11)),
    }
    assert {key: (bar["y"], bar["x"], bar["x"] + bar["width"]) for key, bar in bars.items()} == {
        key: (y, at(*start), at(*finish)) for key, (y, start, finish) in expected.items()
    }
    assert {key for key, bar in bars.items() if bar["late"]} == {"WO-2/10", "WO-2/20"}
    assert bars["WO-3/10"]["href"] == "/planning/orders/WO-3/"
    assert bars["WO-3/10"]["label"] == "WO-3/10"  # 240 px hold its label
    assert bars["WO-1/10"]["label"] is None  # 30 px do not; its title still names it
    [now_line] = [line for line in svg.iter("line") if line.get("class") == "now-line"]
    assert float(now_line.get("x1")) == at(0, 8)
    assert [row.get("data-work-center") for row in svg.iter("g")] == ["WC-A", "WC-B"]
    # Late orders first in the list above the chart.
    assert re.findall(r'<tr data-number="(WO-\d)"( class="late")?', html) == [("WO-2", ' class="late"'), ("WO-1", ""), ("WO-3", "")]


def test_the_gantt_shows_one_chart_per_line(scenario, client):  # noqa: F811
    WorkCenter.objects.filter(code="WC-B").update(line="L2")
    schedule_refresh()
    person = signed_in(client, "planner")

    html = person.get("/planning/gantt/").content.decode()
    charts = svgs(html, "gantt")
    assert [sorted(gantt_bars(svg)) for svg in charts] == [["WO-1/10", "WO-2/10", "WO-3/10"], ["WO-1/20", "WO-2/20", "WO-3/20"]]
    assert re.findall(r'<section class="gantt-line" data-line="(\w+)"', html) == ["L1", "L2"]

    only = person.get("/planning/gantt/", {"line": "L2"}).content.decode()
    [svg] = svgs(only, "gantt")
    assert sorted(gantt_bars(svg)) == ["WO-1/20", "WO-2/20", "WO-3/20"]
    assert float(gantt_bars(svg)["WO-1/20"]["y"]) == 28  # WC-B is the only row now

    for url in ("/planning/gantt/", "/planning/load/"):
        unknown = person.get(url, {"line": "NO-SUCH-LINE"})
        assert unknown.status_code == 200 and "No work center to show." in unknown.content.decode()


def load_days(svg: ET.Element) -> dict[str, tuple]:
    days = {}
    for group in svg.iter("g"):
        rects = {rect.get("class"): rect for rect in group.iter("rect")}
        load = rects.get("load") if "load" in rects else rects["load overloaded"]
        days[group.get("data-date")] = (group.find("title").text, "load overloaded" in rects, float(rects["capacity"].get("height")), float(load.get("height")))
    return days


def test_the_load_chart_draws_capacity_and_load_with_an_overloaded_day_red(overloading_order, client):  # noqa: F811
    work_order_transition(number="WO-4", action="release")  # WC-A's Monday: 10 h of 8
    html = signed_in(client, "planner").get("/planning/load/").content.decode()

    charts = dict(zip(re.findall(r'<section class="load-center" data-work-center="([\w-]+)"', html), svgs(html, "load-chart"), strict=True))
    assert list(charts) == ["WC-A", "WC-B"]
    a, b = load_days(charts["WC-A"]), load_days(charts["WC-B"])
    assert len(a) == len(b) == 14 and min(a) == "2030-01-07" and max(a) == "2030-01-20"
    # Plot 140 px high; WC-A's scale tops at its 10 h Monday: 8 h → 112 px, 10 h → 140 px, 6 h → 84 px.
    assert a["2030-01-07"] == ("2030-01-07: load 10.0 h of capacity 8.0 h — overloaded", True, 112.0, 140.0)
    assert a["2030-01-08"] == ("2030-01-08: load 6.0 h of capacity 8.0 h", False, 112.0, 84.0)
    assert a["2030-01-12"][1:] == (False, 0.0, 0.0)  # Saturday: no shift
    assert [day for day, values in a.items() if values[1]] == ["2030-01-07"]
    assert not any(values[1] for values in b.values())
    # The same numbers in the table below, overloaded day marked.
    rows = re.findall(r'<tr data-date="(2030-01-0[78])"( class="overloaded")?>\s*<td>[^<]*</td><td class="num capacity">([^<]*)</td><td class="num load">([^<]*)</td>', html)
    assert rows[:2] == [("2030-01-07", ' class="overloaded"', "8.0", "10.0"), ("2030-01-08", "", "8.0", "6.0")]


def test_both_pages_speak_chinese(overloading_order, client):  # noqa: F811
    work_order_transition(number="WO-4", action="release")
    schedule_refresh()
    person = signed_in(client, "planner")
    person.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"
    load = person.get("/planning/load/").content.decode()
    gantt = person.get("/planning/gantt/").content.decode()
    assert "各工作中心负荷" in load and "超负荷" in load and "负荷 10.0 h，产能 8.0 h" in load and "每日的产能与负荷" in load
    assert "排程（甘特图）" in gantt and "已逾期" in gantt and "工单（逾期的在前）" in gantt and "产线 L1" in gantt


def _another_order(number: str, center: WorkCenter) -> None:
    item = ItemFactory()
    RoutingFactory(item=item, operations=[{"sequence": 10, "work_center": center, "setup_minutes": D(60), "run_minutes_per_unit": D(0)}])
    WorkOrderFactory(number=number, item=item, quantity=D(1), priority=9, due_date=MONDAY + datetime.timedelta(days=4))
    work_order_transition(number=number, action="release")


def test_the_pages_take_as_many_queries_for_more_orders(scenario, client):  # noqa: F811
    person = signed_in(client, "planner")
    schedule_refresh()

    def counted(url: str) -> int:
        person.get(url)  # the session is read once warm
        with CaptureQueriesContext(connection) as queries:
            assert person.get(url).status_code == 200
        return len(queries)

    before = {url: counted(url) for url in ("/planning/load/", "/planning/gantt/")}
    for index in range(5):
        _another_order(f"WO-X{index}", scenario["WC-B"])
    schedule_refresh()
    after = {url: counted(url) for url in ("/planning/load/", "/planning/gantt/")}
    assert after == before
    # Session, user and roles (3); the load: windows (2) for the load and (2) for the days asked, operations,
    # work centers, lines; the Gantt: work centers, planned operations, their orders, lines; both: the
    # shifts that say which production day is today (shift_calendar.plant_production_day).
    assert before == {"/planning/load/": 3 + 7 + 1, "/planning/gantt/": 3 + 4 + 1}


def test_chart_geometry_by_hand():
    start = datetime.datetime(2030, 1, 7, tzinfo=ZONE)
    chart = load_chart([DayLoad(MONDAY, 4.0, 4.0), DayLoad(MONDAY + datetime.timedelta(days=1), 4.0, 4.5)])
    assert [(bar.is_overloaded, bar.capacity_height, bar.load_height) for bar in chart["bars"]] == [(False, 124.4, 124.4), (True, 124.4, 140.0)]
    operation = ScheduledOperation(1, "WO-9", 10, "WC-A", start - datetime.timedelta(hours=2), start + datetime.timedelta(hours=3))
    gantt = gantt_chart(start=start, end=start + datetime.timedelta(days=1), centers=[("WC-A", "A")], operations=[operation], late=set(), now=start - datetime.timedelta(hours=1))
    [bar] = gantt["bars"]
    assert (bar.x, bar.width, bar.is_late, gantt["now_x"]) == (120, 30, False, None)  # clipped at the left edge; now before the chart
