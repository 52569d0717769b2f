"""The OEE page in a real browser: a supervisor finds a machine from the overview and reads numbers
that match the hand calculation of ``tests/shopfloor/oee_scenario``; saves docs/screenshots/oee-en.png.

The server's clock (the live server is a thread of this process) is set to a plant time of today
and ticks on from there; the browser keeps its own clock, which the pages do not need.
"""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from shopfloor.services import ShiftSpec
from tests.browser.conftest import new_context, person, screenshot, sign_in
from tests.shopfloor.oee_scenario import at, confirm, known_shift, press, state

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EVERY_DAY = [
    ShiftSpec("Early", datetime.time(6), datetime.time(14), "1234567"),
    ShiftSpec("Late", datetime.time(14), datetime.time(22), "1234567"),
]


def _a_fortnight(today: datetime.date):
    """Yesterday is the known shift; the twelve days before it run with a little more or less downtime."""
    machine = press(shifts=EVERY_DAY)
    for back in range(13, 1, -1):
        day = today - datetime.timedelta(days=back)
        down = 20 + (back * 37) % 90  # minutes
        state(machine, "run", at(6, day=day), at(9, day=day))
        state(machine, "down", at(9, day=day), at(9, 0, day=day) + datetime.timedelta(minutes=down), reason="DT-01")
        state(machine, "run", at(9, 0, day=day) + datetime.timedelta(minutes=down), at(22, day=day))
        confirm(1400 + back * 20, 10 + back % 4, at(21, day=day))
    return known_shift(day=today - datetime.timedelta(days=1), machine=machine)


# Before, at and after the first shift of the day, and just before midnight.
@pytest.mark.parametrize("clock", [datetime.time(3), datetime.time(5, 59), datetime.time(6), datetime.time(23, 59)], ids=str)
def test_a_supervisor_opens_a_machine_and_checks_its_oee_by_hand(browser, live_server, time_machine, clock):
    today = timezone.localdate()
    time_machine.move_to(datetime.datetime.combine(today, clock, tzinfo=timezone.get_default_timezone()), tick=True)
    yesterday = today - datetime.timedelta(days=1)
    machine = _a_fortnight(today)
    state(machine, "down", timezone.now() - datetime.timedelta(minutes=12), None, reason="DT-01")
    person("chief", "supervisor")
    context = new_context(browser, live_server, viewport={"width": 1280, "height": 1500})
    try:
        page = context.new_page()
        sign_in(page, "chief", "secret-pass-1")
        page.click("header nav a[href='/oee/']")
        assert page.locator("h1").inner_text() == "OEE of the machines"
        assert page.locator("tr:has(a[href='/oee/PRESS-01/']) .state").inner_text() == "down"

        page.click("a[href='/oee/PRESS-01/']")
        page.fill("input[name=from]", f"{yesterday.isoformat()}T06:00")
        page.fill("input[name=to]", f"{yesterday.isoformat()}T14:00")
        page.click("form.period button")
        page.wait_for_load_state()

        # 13/16, 12/13, 35/36 and 35/48 (see tests/shopfloor/oee_scenario.py).
        figures = {name: page.locator(f"#{name}").inner_text() for name in ("availability", "performance", "quality", "oee")}
        assert figures == {"availability": "81.3 %", "performance": "92.3 %", "quality": "97.2 %", "oee": "72.9 %"}
        assert page.locator("svg.trend rect.bar").count() == 14
        assert page.locator("svg.timeline rect.state-down").count() >= 1
        screenshot(page, "oee-en.png")
    finally:
        context.close()
