"""Every page, as each role that opens it, checked by axe-core in real Chromium: no ``serious`` or
``critical`` violation (contrast, names of buttons, links and fields, landmarks, the page's language).

axe-core is served from our own files (``static/vendor/axe-core/axe.min.js``, MPL-2.0, loaded by these
tests only, never by a page) and injected into each page after it loaded; the browser context
bypasses the Content-Security-Policy for that one script (the policy itself is tested in test_csp).
One window size, English on every page and Chinese on a few; the third-party pages (the admin,
Swagger UI, ReDoc) are left to their makers.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from erp_sync.models import OutboxMessage
from shopfloor.models import EquipmentState
from shopfloor.station.access import COOKIE
from shopfloor.station.services import station_create
from tests.browser.conftest import new_context, person, sign_in
from tests.factories import EquipmentFactory
from tests.helpers import confirm
from tests.mes.test_quality_pages import failed  # noqa: F401 (the fixture: WO-1001 released, an open NCR)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / "static" / "vendor" / "axe-core" / "axe.min.js"
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map((violation) => `${violation.id} (${violation.impact}): ${violation.nodes.slice(0, 4).map((node) => node.target.join(" ")).join(" | ")}`);
}"""


@pytest.fixture
def shop(failed):  # noqa: F811
    machine = EquipmentFactory(code="CUT-01", name="Saw", work_center=failed.work_order.operations.get(sequence=10).work_center)
    EquipmentState.objects.create(equipment=machine, state="down", started_at=timezone.now() - datetime.timedelta(minutes=30))
    confirmation = confirm(failed.work_order.number, 20, good_qty=2, scrap_qty=1, reason_code="SCRAP-01").confirmation
    OutboxMessage.objects.filter(source_uuid=confirmation.uuid).update(state="dead", last_error="ERP said no")
    message = OutboxMessage.objects.get(source_uuid=confirmation.uuid)
    get_user_model().objects.create_superuser("root", password="secret-pass-1")
    return {"order": failed.work_order.number, "ncr": failed.pk, "machine": machine.code, "message": message.pk}


def _pages(shop: dict) -> dict[str, list[str]]:
    """Each role's pages (the paths it may open); the home page is different for each."""
    return {
        "anonymous": ["/", "/accounts/login/", "/no-such-page/"],
        "operator": ["/", "/board/", "/trace/"],
        "planner": ["/", "/planning/", f"/planning/orders/{shop['order']}/", "/planning/load/", "/planning/gantt/", "/trace/"],
        "supervisor": [
            "/", "/board/", "/board/?wall=1", "/andon/", "/oee/", f"/oee/{shop['machine']}/", "/unassigned-production/",
            "/station/setup/", "/sync/", "/sync/dead-letters/", "/sync/messages/", f"/sync/messages/{shop['message']}/",
            "/sync/reconciliation/", "/sync/pulls/", "/reports/daily/", "/reports/labor/", "/no-such-page/",
        ],
        "quality": ["/", "/quality/", f"/quality/ncr/{shop['ncr']}/", "/quality/spc/FRAME-100/10/COST/"],
    }


# Chinese on the pages people read most, once each.
CHINESE = {"supervisor": ["/", "/board/", "/oee/CUT-01/"], "planner": ["/planning/"], "quality": ["/quality/"]}


def _violations(context, paths: list[str]) -> dict[str, list[str]]:
    found = {}
    for path in paths:
        page = context.new_page()
        page.goto(path)
        page.wait_for_load_state("networkidle")
        page.add_script_tag(path=str(AXE))
        found[path] = page.evaluate(RUN_AXE)
        page.close()
    return found


def _context(browser, live_server, role: str, locale: str):
    context = new_context(browser, live_server, locale=locale, bypass_csp=True)
    if role != "anonymous":
        page = context.new_page()
        sign_in(page, f"{role}-a11y", "secret-pass-1")
        page.close()
    return context


@pytest.mark.parametrize("role", ["anonymous", "operator", "planner", "supervisor", "quality"])
def test_no_serious_accessibility_violation_on_any_page_of_a_role(browser, live_server, shop, role):
    paths = _pages(shop)[role]
    if role != "anonymous":
        person(f"{role}-a11y", role)
    context = _context(browser, live_server, role, "en")
    try:
        found = _violations(context, paths)
    finally:
        context.close()
    if role in CHINESE:
        context = _context(browser, live_server, role, "zh-CN")
        try:
            found |= {f"{path} (zh)": violations for path, violations in _violations(context, CHINESE[role]).items()}
        finally:
            context.close()

    assert found == {path: [] for path in found}


def test_no_serious_accessibility_violation_at_the_station(browser, live_server, shop):
    _station, secret = station_create(work_center_code="WC-CUT")
    context = new_context(browser, live_server, bypass_csp=True)
    context.add_cookies([{"name": COOKIE, "value": secret, "url": f"{live_server.url}/station/"}])
    try:
        found = _violations(context, ["/station/"])
    finally:
        context.close()

    assert found == {"/station/": []}
