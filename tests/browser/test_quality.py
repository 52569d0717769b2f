"""The quality pages in a real browser: a quality user goes from the menu to an NCR opened by a
failing value, from there to the SPC chart, and finds the limit lines drawn and the numbers written
out (in English and in Chinese)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import new_context, person, screenshot, sign_in
from tests.mes.test_quality_pages import failed  # noqa: F401 (the fixture: an NCR of a value out of 280–320)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("locale, numbers_heading", [("en", "The numbers, to check by hand"), ("zh-CN", "计算过程，供手工核对")])
def test_a_quality_user_reaches_the_spc_chart_from_the_ncr(browser, live_server, failed, locale, numbers_heading):  # noqa: F811
    person("inspector", "quality")
    context = new_context(browser, live_server, locale=locale, viewport={"width": 1280, "height": 1400})
    try:
        page = context.new_page()
        sign_in(page, "inspector", "secret-pass-1")
        page.click("header nav a[href='/quality/']")
        page.click(f"a[href='/quality/ncr/{failed.pk}/']")
        assert page.locator("[data-state]").get_attribute("data-state") == "open"
        assert page.locator("form.disposition select[name=disposition]").count() == 1

        page.click("a.spc-link")
        assert page.url.endswith("/quality/spc/FRAME-100/10/COST/")
        values = page.locator("svg.chart.spc.values")
        for kind in ("centre", "ucl", "lcl", "usl", "lsl"):
            assert values.locator(f"line[data-line={kind}]").count() == 1, kind
        ucl = float(values.locator("line[data-line=ucl]").get_attribute("data-value"))
        usl_y = float(values.locator("line[data-line=usl]").get_attribute("y1"))
        ucl_y = float(values.locator("line[data-line=ucl]").get_attribute("y1"))
        assert values.locator("circle.point").count() == 21
        assert values.locator("circle.point.violation").get_attribute("data-sample") == "21"
        assert page.locator("svg.chart.spc.ranges line[data-line=ucl]").count() == 1
        assert ucl > 320 and ucl_y < usl_y  # the control limit lies above the specification limit, as drawn
        assert page.get_by_role("heading", name=numbers_heading).is_visible()
        assert "MR̄ / 1.128" in page.locator("dd[data-number=sigma]").inner_text()
        assert f"{ucl:.4f}" in page.locator("dd[data-number=ucl]").inner_text()
        assert page.locator("li[data-rule='1']").inner_text().endswith("21")
        screenshot(page, f"spc-{locale}.png")
    finally:
        context.close()
