"""The station from a 360 px phone to a 1920 px wall screen, in both languages: nothing wider than the
screen, the keypad and the Report and Finish buttons within it, every control at least 44 px tall."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from mes.models import Item
from tests.browser.conftest import screenshot
from tests.browser.test_station import at_operation, scan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = [(360, 740), (390, 844), (1024, 768), (1280, 800), (1920, 1080)]
SCREENSHOT_WIDTHS = {390, 1280, 1920}  # the README's: phone, laptop, wall
TOUCH = 44  # px: the smallest target a gloved finger hits reliably

# Elements that must sit inside the viewport's width at every size.
MUST_SHOW = [".keypad", "button[data-scan='ACT:REPORT']", "button[data-scan='ACT:FINISH']", "#scan"]


def layout_problems(page) -> dict:
    return page.evaluate(
        """(selectors) => {
            const width = window.innerWidth;
            const outside = selectors.filter((selector) => {
                const box = document.querySelector(selector).getBoundingClientRect();
                return box.width === 0 || box.left < 0 || box.right > width;
            });
            const small = [...document.querySelectorAll("button, a[href], summary, input")]
                .filter((element) => element.offsetParent !== null)
                .filter((element) => element.getBoundingClientRect().height < %d)
                .map((element) => element.outerHTML.slice(0, 80));
            return {scrollWidth: document.documentElement.scrollWidth, innerWidth: width, outside, small};
        }"""
        % TOUCH,
        MUST_SHOW,
    )


@pytest.mark.slow
@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_the_station_fits_every_screen_from_a_phone_to_a_wall(browser, live_server, released_order, locale):
    Item.objects.filter(code="FRAME-100").update(name="电机支架总成 Motor bracket assembly")
    context, page = at_operation(browser, live_server, locale=locale)
    try:
        expect(page.locator("#op-item")).to_contain_text("Motor bracket assembly")
        # A refusal with its offers, and the reason list it unfolds, are measured too.
        scan(page, "SCRAP:2")
        scan(page, "ACT:REPORT")
        expect(page.locator("#offer button")).to_have_count(3)
        expect(page.locator("details.reasons")).to_have_attribute("open", "")
        for width, height in WIDTHS:
            page.set_viewport_size({"width": width, "height": height})
            problems = layout_problems(page)
            assert problems["scrollWidth"] <= problems["innerWidth"], (width, problems)
            assert problems["outside"] == [], (width, problems)
            assert problems["small"] == [], (width, problems)
            # The item's name reads on one or two lines, not a column of single words.
            item = page.locator("#op-item").bounding_box()
            line = float(page.locator("#op-item").evaluate("element => parseFloat(getComputedStyle(element).lineHeight)"))
            assert item["height"] <= 2 * line + 1, (width, item)
            if width in SCREENSHOT_WIDTHS:
                screenshot(page, f"station-{locale[:2]}-{width}.png")
    finally:
        context.close()
