"""The OEE pages: the overview of every machine and one machine's detail with the hand-checkable numbers."""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone

from mes.services.master_data import equipment_upsert
from tests.helpers import signed_in
from tests.shopfloor.oee_scenario import MONDAY, at, confirm, known_shift, press, state

pytestmark = pytest.mark.django_db

MONDAY_SHIFT = {"from": "2026-11-16T06:00", "to": "2026-11-16T14:00"}


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/oee/")

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=/oee/")


@pytest.mark.parametrize("role", ["operator", "integration"])
def test_people_without_an_oee_role_are_refused(client, role):
    known_shift()
    visitor = signed_in(client, role)

    assert (visitor.get("/oee/").status_code, visitor.get("/oee/PRESS-01/").status_code) == (403, 403)


@pytest.mark.parametrize("role", ["supervisor", "planner", "quality", "admin"])
def test_the_overview_lists_every_machine_with_its_state_and_oee(client, role, django_assert_max_num_queries):
    machine = known_shift()
    state(machine, "down", timezone.now() - datetime.timedelta(minutes=5), None)
    for number in range(2, 6):
        equipment_upsert(code=f"PRESS-0{number}", name="Press", work_center="WC-PRESS")
    visitor = signed_in(client, role)

    with django_assert_max_num_queries(14):  # session, user, roles, then the board rows: not one per machine
        page = visitor.get("/oee/", HTTP_ACCEPT_LANGUAGE="en")
    partial = visitor.get("/oee/", HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en")

    text = page.content.decode()
    assert page.status_code == 200
    assert all(f'href="/oee/PRESS-0{number}/"' in text for number in range(1, 6))
    assert '<span class="state state-down">down</span>' in text
    assert 'href="/oee/"' in text  # the navigation link
    assert partial.status_code == 200 and partial.content.decode().strip().startswith('<div id="oee-table"')


def test_the_detail_page_shows_the_hand_calculated_numbers(client):
    """The known shift: 13/16 = 81.3 %, 12/13 = 92.3 %, 35/36 = 97.2 %, 35/48 = 72.9 %."""
    known_shift()

    page = signed_in(client, "supervisor").get("/oee/PRESS-01/", MONDAY_SHIFT, HTTP_ACCEPT_LANGUAGE="en")

    text = page.content.decode()
    assert page.status_code == 200
    assert [f'<strong id="{name}">{value}</strong>' in text for name, value in (
        ("availability", "81.3 %"), ("performance", "92.3 %"), ("quality", "97.2 %"), ("oee", "72.9 %")
    )] == [True] * 4
    assert "run / planned = 23400.0 / 28800.0 = 81.3 %" in text
    assert "DT-01 Machine breakdown</td><td>1:00:00</td><td>12.5 %</td><td>1</td>" in text
    assert "stopped, no reason given</td><td>0:30:00</td>" in text
    assert "speed loss (slower than the ideal cycle)</td><td>0:30:00</td>" in text
    assert '<svg class="chart trend"' in text and '<svg class="chart timeline"' in text
    assert 'class="segment state-down"' in text  # the timeline of Monday
    assert "States on 2026-11-16" in text


def test_performance_over_100_percent_says_the_ideal_cycle_is_likely_too_slow(client):
    """One hour running, 200 good parts of an ideal 30 s: 100 minutes of ideal time in 60 minutes run."""
    machine = press()
    state(machine, "run", at(6), at(7))
    state(machine, "idle", at(7), at(14))
    confirm(200, 0, at(6, 59))
    known = signed_in(client, "supervisor")

    page = known.get("/oee/PRESS-01/", MONDAY_SHIFT, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    chinese = known.get("/oee/PRESS-01/", MONDAY_SHIFT, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert '<strong id="performance">166.7 %</strong>' in page
    assert 'id="performance-over-100"' in page and "Check the run minutes per unit in the routings" in page
    assert "性能超过 100 %" in chinese
    known_shift(day=MONDAY + datetime.timedelta(days=7), machine=machine)  # an ordinary shift a week later: no note
    ordinary = known.get("/oee/PRESS-01/", {"from": "2026-11-23T06:00", "to": "2026-11-23T14:00"}, HTTP_ACCEPT_LANGUAGE="en")
    assert '<strong id="performance">92.3 %</strong>' in ordinary.content.decode()
    assert 'id="performance-over-100"' not in ordinary.content.decode()


def test_the_trend_per_shift_and_today_by_default(client):
    known_shift()
    visitor = signed_in(client, "planner")

    per_shift = visitor.get("/oee/PRESS-01/", {"trend": "shift"}, HTTP_ACCEPT_LANGUAGE="en")
    nonsense = visitor.get("/oee/PRESS-01/", {"trend": "<script>"}, HTTP_ACCEPT_LANGUAGE="en")

    assert per_shift.status_code == 200 and "Trend per shift" in per_shift.content.decode()
    assert nonsense.status_code == 200 and "Trend per day" in nonsense.content.decode()


# The clock on Tuesday after the known Monday (Early 06:00–14:00, Monday to Friday): (hour, minute) →
# the default period's heading, its OEE, the trend's bars (the weekdays among the last 14 production
# days that have planned time by now), the "Last 7 days" link and the timeline's day.
TUESDAY_CLOCK = {
    (3, 0): ("From 2026-11-16 06:00 to 2026-11-17 03:00", "72.9 %", 10, "from=2026-11-10T06:00&amp;to=2026-11-16T14:00", "2026-11-16"),
    (5, 59): ("From 2026-11-16 06:00 to 2026-11-17 05:59", "72.9 %", 10, "from=2026-11-10T06:00&amp;to=2026-11-16T14:00", "2026-11-16"),
    (6, 0): ("From 2026-11-17 06:00 to 2026-11-17 06:00", "—", 9, "from=2026-11-11T06:00&amp;to=2026-11-17T14:00", "2026-11-17"),
    (23, 59): ("From 2026-11-17 06:00 to 2026-11-17 23:59", "—", 10, "from=2026-11-11T06:00&amp;to=2026-11-17T14:00", "2026-11-17"),
}
CLOCK_IDS = [f"{hour:02}:{minute:02}" for hour, minute in TUESDAY_CLOCK]


@pytest.mark.parametrize(("hour", "minute"), list(TUESDAY_CLOCK), ids=CLOCK_IDS)
def test_by_default_the_detail_page_shows_the_production_day_so_far(client, time_machine, hour, minute):
    known_shift()
    time_machine.move_to(at(hour, minute, day=MONDAY + datetime.timedelta(days=1)), tick=False)

    page = signed_in(client, "supervisor").get("/oee/PRESS-01/", HTTP_ACCEPT_LANGUAGE="en")

    heading, oee, bars, last_week, day = TUESDAY_CLOCK[hour, minute]
    text = page.content.decode()
    assert page.status_code == 200
    assert (f"<h2>{heading}</h2>" in text, f'<strong id="oee">{oee}</strong>' in text) == (True, True)
    assert text.count('class="bar') == bars
    assert f'href="?{last_week}&amp;trend=day"' in text
    assert f"States on {day}" in text


@pytest.mark.parametrize(("hour", "minute"), list(TUESDAY_CLOCK), ids=CLOCK_IDS)
def test_the_overview_shows_the_oee_of_the_production_day_so_far(client, time_machine, hour, minute):
    known_shift()
    time_machine.move_to(at(hour, minute, day=MONDAY + datetime.timedelta(days=1)), tick=False)

    page = signed_in(client, "planner").get("/oee/", HTTP_ACCEPT_LANGUAGE="en")

    row = re.search(r'<tr>\s*<td><a href="/oee/PRESS-01/">.*?</tr>', page.content.decode(), re.S).group(0)
    today_oee = re.findall(r'<td class="oee-value">(.*?)</td>', row)[-1]
    assert (page.status_code, today_oee) == (200, TUESDAY_CLOCK[hour, minute][1])


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"from": "last monday"}, "from must be an ISO 8601 date or date-time"),
        ({"from": "2026-11-17", "to": "2026-11-16T00:00"}, "from must not be after to."),
        ({"from": "2026-01-01", "to": "2026-12-31"}, "A period may be at most 93 days long."),
    ],
)
def test_a_bad_period_is_a_400_that_says_why(client, query, message):
    known_shift()

    page = signed_in(client, "quality").get("/oee/PRESS-01/", query, HTTP_ACCEPT_LANGUAGE="en")

    assert page.status_code == 400 and message in page.content.decode()


def test_an_unknown_machine_is_a_404_page(client):
    page = signed_in(client, "supervisor").get("/oee/NOPE/", HTTP_ACCEPT_LANGUAGE="en")

    assert page.status_code == 404 and "No equipment with code NOPE." in page.content.decode()


def test_the_pages_speak_chinese_by_default(client):
    known_shift()
    signed_in(client, "supervisor").defaults.pop("HTTP_ACCEPT_LANGUAGE")  # a browser that names no language

    page = client.get("/oee/PRESS-01/", MONDAY_SHIFT)

    assert page.status_code == 200 and "可用率" in page.content.decode()
