"""In a real browser: the open operation's work instruction opens in the station's viewer, and the service worker
keeps the instructions of the queued operations, so it still shows once the tablet lost the server."""

from __future__ import annotations

import base64
import io

import pytest
from playwright.sync_api import expect

from mes.services.work_instructions import operation_document_put
from tests.browser.conftest import new_context, screenshot
from tests.browser.test_station import at_operation, become_station, open_station, scan
from tests.conftest import ITEM

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A 2×2 red PNG: small, real, and decodable by the browser (naturalWidth tells it was shown).
RED_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEklEQVR4nGP4z8DAwMDAwMDAAAAO/wH/2wHwGwAAAABJRU5ErkJggg=="
)


def one_page_pdf() -> bytes:
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    sheet = canvas.Canvas(out)
    sheet.drawString(72, 720, "Cut to 120 mm, deburr both ends.")
    sheet.save()
    return out.getvalue()


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def instructions(released_order):
    operation_document_put(item_code=ITEM, sequence=10, name="cut-drawing.png", content=RED_PNG, declared_type="image/png")
    operation_document_put(item_code=ITEM, sequence=10, name="cutting-guide.pdf", content=one_page_pdf(), declared_type="application/pdf")


def test_an_instruction_of_a_queued_operation_opens_offline(browser, live_server, instructions):
    context = new_context(browser, live_server)
    try:
        become_station(context, live_server)
        page = context.new_page()
        open_station(page)
        page.wait_for_selector("body[data-offline-ready=true]")
        page.wait_for_function("navigator.serviceWorker.controller !== null")
        # Nothing opened yet: the queue alone names the instructions, and the worker keeps both.
        page.wait_for_selector("body[data-instructions-kept='2']")
        scan(page, "EMP:B-1001")
        expect(page.locator("#operator")).to_have_attribute("data-signed-in", "true")

        context.set_offline(True)
        scan(page, "WO:WO-1001/10")  # opened from what the tablet remembers of the queue's operation
        expect(page.locator("#instructions")).to_be_visible()
        page.click("#instruction-list button[data-name='cut-drawing.png']")
        viewer = page.locator("#instruction-viewer")
        expect(viewer).to_be_visible()
        expect(page.locator("#instruction-viewer-title")).to_have_text("cut-drawing.png")
        image = page.locator("#instruction-viewer-body img")
        expect(image).to_have_attribute("alt", "cut-drawing.png")
        page.wait_for_function("document.querySelector('#instruction-viewer-body img').complete")
        assert image.evaluate("img => img.naturalWidth") == 2
        page.click("#instruction-viewer-close")
        expect(viewer).to_be_hidden()
    finally:
        context.close()


@pytest.mark.parametrize("width", [390, 1280, 1920])
def test_the_viewer_fits_the_screen(browser, live_server, instructions, width):
    context, page = at_operation(browser, live_server, viewport={"width": width, "height": 844 if width == 390 else 1000}, locale="zh-CN")
    try:
        expect(page.locator("#instruction-list button")).to_have_count(2)
        page.click("#instruction-list button[data-name='cutting-guide.pdf']")
        expect(page.locator("#instruction-viewer-body iframe")).to_have_attribute("title", "cutting-guide.pdf")
        expect(page.locator("#instruction-viewer-tab")).to_have_attribute("href", page.locator("#instruction-list button[data-name='cutting-guide.pdf']").get_attribute("data-instruction"))
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        box = page.locator("#instruction-viewer").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width
        screenshot(page, f"station-instruction-{width}.png")
    finally:
        context.close()
