"""Every page passes the Content-Security-Policy in real Chromium: no inline script, style or handler
without the request's nonce, nothing from elsewhere. A violation shows as a `securitypolicyviolation`
event and a console error; the walk collects both on every page."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from mes.models import WorkOrder
from shopfloor.models import EquipmentState
from shopfloor.station.access import COOKIE
from shopfloor.station.services import station_create
from tests.browser.conftest import new_context, sign_in
from tests.factories import EquipmentFactory
from tests.helpers import confirm, dead_message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
});
"""

# What each page shows once its scripts have run (htmx, Swagger UI and ReDoc fetch and render).
READY = {
    "/api/docs/": ".swagger-ui .information-container",
    "/api/redoc/": ".api-content",
    "/station/": "#recent",
}


@pytest.fixture
def shop(released_order, plant):
    machine = EquipmentFactory(code="CUT-01", name="Saw", work_center=plant["centers"]["WC-CUT"])
    EquipmentState.objects.create(equipment=machine, state="run", started_at=timezone.now() - datetime.timedelta(minutes=30))
    confirm(released_order.number, 10, good_qty=2)
    message = dead_message(released_order.number, error="ERP said no")
    get_user_model().objects.create_superuser("root", password="secret-pass-1")
    return {"order": released_order, "machine": machine, "message": message}


def _walk(context, paths: list[str]) -> dict[str, list[str]]:
    """Open each path in a fresh tab; return the violations (events and console errors) seen on each."""
    seen = {}
    for path in paths:
        page = context.new_page()
        console = []
        page.on("console", lambda message, console=console: console.append(message.text) if message.type == "error" else None)
        response = page.goto(path)
        assert response.status == 200, f"{path}: {response.status}"
        assert "default-src 'self'" in response.headers["content-security-policy"], path
        if path in READY:
            page.wait_for_selector(READY[path])
        page.wait_for_load_state("networkidle")
        events = page.evaluate("window.cspViolations")
        seen[path] = events + [text for text in console if "Content Security Policy" in text]
        page.close()
    return seen


@pytest.mark.slow
def test_every_page_passes_the_content_security_policy(browser, live_server, shop):
    order, machine, message = shop["order"], shop["machine"], shop["message"]
    context = new_context(browser, live_server)
    context.add_init_script(RECORD_VIOLATIONS)
    sign_in_page = context.new_page()
    sign_in(sign_in_page, "root", "secret-pass-1")
    sign_in_page.close()
    pages = [
        "/",
        "/planning/",
        f"/planning/orders/{order.number}/",
        "/planning/load/",
        "/planning/gantt/",
        "/quality/",
        "/board/",
        "/sync/",
        "/sync/dead-letters/",
        f"/sync/messages/{message.pk}/",
        "/sync/reconciliation/",
        "/oee/",
        f"/oee/{machine.code}/",
        "/unassigned-production/",
        "/station/setup/",
        "/admin/",
        "/admin/mes/workorder/",
        f"/admin/mes/workorder/{WorkOrder.objects.get(number=order.number).pk}/change/",
        "/admin/axes/accessattempt/",
        "/api/docs/",
        "/api/redoc/",
        f"/api/v1/work-orders/{order.number}",  # the browsable API
    ]

    seen = _walk(context, pages)
    context.close()

    # ReDoc always shows its maker's logo from its CDN: the policy blocks that request to the internet
    # (plant networks are often offline anyway, and ReDoc hides the image when it does not load).
    redoc_logo = "https://cdn.redoc.ly/redoc/logo-mini.svg"
    redoc = seen.pop("/api/redoc/")
    assert redoc[0] == f"img-src {redoc_logo} :0" and all(redoc_logo in text for text in redoc)
    assert seen == {path: [] for path in pages if path != "/api/redoc/"}


def test_the_station_and_the_sign_in_page_pass_the_content_security_policy(browser, live_server, shop):
    _station, secret = station_create(work_center_code="WC-CUT")
    context = new_context(browser, live_server)
    context.add_init_script(RECORD_VIOLATIONS)
    context.add_cookies([{"name": COOKIE, "value": secret, "url": f"{live_server.url}/station/"}])

    seen = _walk(context, ["/station/", "/accounts/login/", "/admin/login/"])
    context.close()

    assert seen == {"/station/": [], "/accounts/login/": [], "/admin/login/": []}


def test_the_language_menu_still_switches_without_an_inline_handler(browser, live_server, shop):
    context = new_context(browser, live_server)
    page = context.new_page()
    page.goto("/accounts/login/")

    # The choice submits the form: wait for the page it leads to, not for the current one's load state.
    with page.expect_navigation():
        page.select_option("select[name=language]", "zh-hans")

    assert page.locator("h1").inner_text() == "登录"
    context.close()
