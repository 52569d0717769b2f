"""The trace page and its PDF report: who may open them, both directions as a tree, links to the
order page only for who may open it, both languages, and the report's text."""

from __future__ import annotations

import subprocess

import pytest
from django.test import Client

from tests.genealogy import three_levels
from tests.helpers import signed_in
from tests.shopfloor_documents.pdf_reading import pdf_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def genealogy(db):
    return three_levels()


@pytest.mark.parametrize("role", ["operator", "planner", "supervisor", "quality", "integration", "admin"])
def test_every_role_may_trace(genealogy, role):
    client = signed_in(Client(), role)

    response = client.get("/trace/", {"code": "S-FIN-1"})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="scan"' in html and "autofocus" in html
    assert [code in html for code in ("S-FIN-1", "S-SUB-1", "L-RAW-1")] == [True, True, True]
    assert "L-RAW-2" not in html  # reversed out of WO-SUB


def test_a_visitor_not_signed_in_is_sent_to_sign_in(genealogy):
    response = Client().get("/trace/", {"code": "S-FIN-1"})

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(("role", "links"), [("operator", False), ("planner", True), ("quality", True)])
def test_orders_link_to_their_page_only_for_who_may_open_it(genealogy, role, links):
    client = signed_in(Client(), role)

    html = client.get("/trace/", {"code": "S-SUB-1"}).content.decode()

    assert ('href="/planning/orders/WO-SUB/"' in html) is links
    assert ('href="/planning/orders/WO-FIN/"' in html) is links
    assert "WO-SUB" in html and "WO-FIN" in html


def test_htmx_gets_the_result_alone(genealogy):
    client = signed_in(Client(), "operator")

    response = client.get("/trace/", {"code": "L-RAW-1"}, HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="trace-result">')
    assert "<header" not in html and 'id="scan"' not in html
    assert html.index("S-SUB-1") < html.index("S-FIN-1")


def test_unknown_and_ambiguous_codes_say_so(genealogy):
    from tests.factories import ItemFactory
    from tests.genealogy import lot

    lot(ItemFactory(code="COPPER-02", tracking="lot"), "L-RAW-1", quantity="1")
    client = signed_in(Client(), "operator")

    unknown = client.get("/trace/", {"code": "NOPE"}).content.decode()
    ambiguous = client.get("/trace/", {"code": "L-RAW-1"}).content.decode()

    assert 'data-code="unknown_lot"' in unknown
    assert 'data-code="ambiguous_code"' in ambiguous
    assert 'href="/trace/?code=L-RAW-1&amp;item=COPPER-02"' in ambiguous
    assert 'href="/trace/?code=L-RAW-1&amp;item=STEEL-01"' in ambiguous


def test_control_characters_in_a_scan_are_dropped(genealogy):
    client = signed_in(Client(), "operator")

    response = client.get("/trace/", {"code": "\x1dS-FIN-1\r"})  # a scanner's group separator and carriage return
    report = client.get("/trace/report.pdf", {"code": "\x1dNOPE"})
    nul = client.get("/trace/", {"code": "\x00S-FIN-1"})

    assert response.status_code == 200
    assert 'data-code="S-SUB-1"' in response.content.decode()
    assert report.status_code == 404
    assert nul.status_code == 400  # refused before the view, as everywhere


def test_the_page_speaks_chinese(genealogy):
    client = signed_in(Client(), "operator")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"

    html = client.get("/trace/", {"code": "S-FIN-1"}).content.decode()

    assert "追溯" in html and "序列号" in html and "来自 ERP" in html
    assert "Made from" not in html


@pytest.mark.subprocess
@pytest.mark.parametrize(("language", "words"), [("en", ["Trace report", "Made from", "Went into"]), ("zh-hans", ["追溯报告", "由以下物料制成", "用于"])])
def test_the_report_prints_both_directions(genealogy, language, words, tmp_path):
    client = signed_in(Client(), "quality")

    response = client.get("/trace/report.pdf", {"code": "S-SUB-1", "item": "SUB-200", "lang": language})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    pdf = tmp_path / "trace.pdf"
    pdf.write_bytes(response.content)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for code in ("S-SUB-1", "L-RAW-1", "S-FIN-1", "WO-SUB", "WO-FIN", "B-1001", "PRESS-1"):
        assert code in text, code
    for word in words:
        assert word in text, word
    assert "L-RAW-2" not in text
    rendered = subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), str(tmp_path / "page")], capture_output=True, check=True)
    assert rendered.returncode == 0 and (tmp_path / "page-1.png").stat().st_size > 1000
    assert pdf_text(response.content)  # pypdf reads it too


def test_the_report_refuses_what_it_cannot_print(genealogy):
    client = signed_in(Client(), "operator")

    assert client.get("/trace/report.pdf", {"code": "NOPE"}).status_code == 404
    assert client.get("/trace/report.pdf").status_code == 400
    assert client.get("/trace/report.pdf", {"code": "S-FIN-1", "lang": "fr"}).status_code == 400


def test_the_trace_shows_the_inspection_results_of_the_operations_in_the_tree(genealogy):
    """A result recorded on WO-SUB's cut (a released copy of a plan) shows on the page and in the API under that operation."""
    import uuid
    from decimal import Decimal

    from mes.models import InspectionResult, OrderCharacteristic

    cut = genealogy["wo_sub"].operations.get(sequence=10)
    length = OrderCharacteristic.objects.create(
        operation=cut, position=1, code="LEN", name="Length", kind="measured", lower_limit=Decimal("99.5"), upper_limit=Decimal("100.5"),
        sampling_rule="first_piece",
    )
    InspectionResult.objects.create(
        client_id=uuid.uuid4(), request_hash="x", work_order=genealogy["wo_sub"], operation=cut, characteristic=length, sample_no=1,
        value=Decimal("101.25"), passed=False, disposition="scrap",
    )
    client = signed_in(Client(), "quality")

    html = client.get("/trace/", {"code": "S-FIN-1"}).content.decode()
    api = client.get("/api/v1/trace", {"code": "S-SUB-1"}).json()

    assert "inspection LEN Length · sample 1 · 101.25 · " in " ".join(html.split())
    assert '<span class="fail">failed</span> (scrap)' in html
    (inspection,) = api["produced_by"]["operations"][0]["inspections"]
    assert (inspection["characteristic"], inspection["sample_no"], inspection["value"], inspection["passed"], inspection["disposition"]) == (
        "LEN", 1, 101.25, False, "scrap",
    )
    assert api["produced_by"]["operations"][1]["inspections"] == []


def test_quality_opens_an_orders_page_read_only(genealogy):
    client = signed_in(Client(), "quality")

    page = client.get("/planning/orders/WO-SUB/")
    refused = client.post("/planning/orders/WO-SUB/", {"action": "pause", "reason": "x"})

    assert page.status_code == 200
    assert "WO-SUB" in page.content.decode()
    assert 'name="action"' not in page.content.decode()  # no action offered
    assert refused.status_code == 403
    assert client.get("/planning/").status_code == 403  # the planning list stays the planners'
