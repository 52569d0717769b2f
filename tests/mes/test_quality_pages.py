"""The quality pages: who may open them, the open NCRs and holds with their filters, an NCR's page
with its disposition form (the same service as the API, refusals in words) and history, the SPC page
with its chart and the numbers written out, and the inspections on the order page."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

import pytest
from django.test import Client

from erp_sync.models import OutboxMessage
from mes.models import Confirmation, Event, Nonconformance, NonconformanceDisposition, ReasonCode
from mes.services.holds import HoldRequest, hold_place
from mes.services.quality import InspectionRequest, inspection_plan_set, inspection_record
from mes.services.work_orders import work_order_transition
from tests.conftest import ITEM, ORDER
from tests.factories import ReasonCodeFactory, UnitOfMeasureFactory
from tests.helpers import confirm, signed_in

pytestmark = pytest.mark.django_db

MORTGAGE = [310, 288, 297, 298, 307, 303, 294, 297, 308, 306, 294, 299, 297, 299, 314, 295, 293, 306, 301, 304]


@pytest.fixture
def failed(plant, planned_order):
    """WO-1001 released with a measured COST (280–320 CNY) on operation 10 (not gating), 10 good
    there, the textbook's 20 values recorded, then one failing value (340): NCR open on 1 piece."""
    UnitOfMeasureFactory(code="CNY")
    characteristic = {"code": "COST", "name": "Cost", "kind": "measured", "nominal": "300", "lower_limit": "280", "upper_limit": "320",
                      "unit": "CNY", "sampling": {"rule": "per_report"}, "mandatory": False}
    inspection_plan_set(item_code=ITEM, sequence=10, characteristics=[characteristic])
    work_order_transition(number=ORDER, action="release")
    confirm(good_qty=10, final=True)
    ReasonCodeFactory(code="DEF-CRACK", kind=ReasonCode.Kind.DEFECT, name="Crack")
    for number, value in enumerate(MORTGAGE, start=1):
        inspection_record(request=InspectionRequest(client_id=uuid.uuid4(), work_order=ORDER, operation=10, characteristic="COST",
                                                    value=Decimal(value), sample_no=number))
    inspection_record(request=InspectionRequest(client_id=uuid.uuid4(), work_order=ORDER, operation=10, characteristic="COST",
                                                value=Decimal(340), sample_no=21))
    return Nonconformance.objects.get()


@pytest.mark.parametrize("role", ["quality", "supervisor", "planner", "admin"])
def test_the_reading_roles_open_the_quality_pages_from_the_menu(failed, role):
    client = signed_in(Client(), role)

    home = client.get("/planning/" if role != "quality" else "/board/").content.decode()
    listed = client.get("/quality/")
    ncr = client.get(f"/quality/ncr/{failed.pk}/")
    chart = client.get("/quality/spc/FRAME-100/10/COST/")

    assert '<a href="/quality/">Quality</a>' in home
    assert (listed.status_code, ncr.status_code, chart.status_code) == (200, 200, 200)
    assert f'<a href="/quality/ncr/{failed.pk}/">NCR {failed.pk}</a>' in listed.content.decode()
    assert ('class="disposition"' in ncr.content.decode()) is (role in {"quality", "admin"})


@pytest.mark.parametrize("role", ["operator", "integration"])
def test_other_roles_may_not_open_them_nor_see_them_in_the_menu(failed, role):
    client = signed_in(Client(), role)

    assert client.get("/quality/").status_code == 403
    assert client.get(f"/quality/ncr/{failed.pk}/").status_code == 403
    assert client.get("/quality/spc/FRAME-100/10/COST/").status_code == 403
    assert 'href="/quality/"' not in client.get("/trace/").content.decode()


def test_the_list_filters_by_line_item_and_age(failed, plant):
    plant["centers"]["WC-CUT"].line = "L1"
    plant["centers"]["WC-CUT"].save(update_fields=["line"])
    hold_place(request=HoldRequest(work_order=ORDER, reason="suspect wire"))
    client = signed_in(Client(), "quality")

    def shown(query: str) -> tuple[list[str], list[str]]:
        body = client.get(f"/quality/?{query}").content.decode()
        return re.findall(r'data-ncr="(\d+)"', body), re.findall(r'data-hold="(\d+)"', body)

    assert shown("") == ([str(failed.pk)], [str(failed.work_order.holds.get().pk)])
    assert shown("line=L1")[0] == [str(failed.pk)] and shown("line=L1")[1]
    assert shown("item=OTHER") == ([], [])
    assert shown("older_than=1") == ([], [])
    assert shown("item=FRAME-100")[0] == [str(failed.pk)]


def test_a_quality_user_scraps_the_ncr_through_the_service_and_closes_it(failed):
    client = signed_in(Client(), "quality")
    messages_before = OutboxMessage.objects.count()

    answer = client.post(f"/quality/ncr/{failed.pk}/", {"action": "disposition", "disposition": "scrap", "reason": "cannot be saved",
                                                        "defect_code": "DEF-CRACK"}, follow=True)
    failed.refresh_from_db()
    page = answer.content.decode()
    closed = client.post(f"/quality/ncr/{failed.pk}/", {"action": "close", "reason": "reviewed"}, follow=True).content.decode()

    assert f"Disposition of NCR {failed.pk} recorded." in page
    assert NonconformanceDisposition.objects.get().disposition == "scrap"
    assert Confirmation.objects.filter(scrap_qty=1).count() == 1
    assert OutboxMessage.objects.count() > messages_before  # the scrap goes to the ERP
    assert f"NCR {failed.pk} closed." in closed and 'data-state="closed"' in closed
    actions = list(Event.objects.filter(object_type="nonconformance").order_by("id").values_list("action", flat=True))
    assert actions[-2:] == ["disposition", "close"]
    assert 'data-action="disposition"' in closed and 'data-action="open"' in closed  # the history, in words
    assert "<td>disposition decided</td>" in closed and "<td>opened</td>" in closed


def test_a_refused_disposition_is_said_in_words_and_changes_nothing(failed):
    client = signed_in(Client(), "quality")

    too_many = client.post(f"/quality/ncr/{failed.pk}/", {"action": "disposition", "disposition": "use_as_is", "quantity": "5", "reason": "ok"})
    no_reason = client.post(f"/quality/ncr/{failed.pk}/", {"action": "disposition", "disposition": "use_as_is", "reason": ""})
    too_early = client.post(f"/quality/ncr/{failed.pk}/", {"action": "close"})

    assert too_many.status_code == 200 and 'class="outcome refusal" role="alert"' in too_many.content.decode()
    assert "reason" in no_reason.content.decode().split('role="alert">')[1].split("</p>")[0].lower()
    assert 'class="outcome refusal" role="alert"' in too_early.content.decode()
    assert NonconformanceDisposition.objects.count() == 0
    failed.refresh_from_db()
    assert failed.state == "open"


def test_scrap_without_a_defect_code_is_refused_in_words_and_the_form_offers_the_codes(failed):
    client = signed_in(Client(), "quality")

    page = client.get(f"/quality/ncr/{failed.pk}/").content.decode()
    refused = client.post(f"/quality/ncr/{failed.pk}/", {"action": "disposition", "disposition": "scrap", "reason": "x"}).content.decode()
    unknown = client.post(f"/quality/ncr/{failed.pk}/", {"action": "disposition", "disposition": "scrap", "reason": "x", "defect_code": "NOPE"}).content.decode()

    assert '<option value="DEF-CRACK">DEF-CRACK Crack</option>' in page
    assert 'class="outcome refusal" role="alert"' in refused and "defect" in refused.split('role="alert">')[1].split("</p>")[0].lower()
    assert 'class="outcome refusal" role="alert"' in unknown
    assert NonconformanceDisposition.objects.count() == 0 and Confirmation.objects.filter(scrap_qty__gt=0).count() == 0


def test_a_supervisor_may_read_but_not_decide(failed):
    client = signed_in(Client(), "supervisor")

    answer = client.post(f"/quality/ncr/{failed.pk}/", {"action": "disposition", "disposition": "scrap", "reason": "x"})

    assert answer.status_code == 403 and "may not decide" in answer.content.decode()
    assert NonconformanceDisposition.objects.count() == 0


def test_the_spc_page_draws_the_limits_and_writes_out_the_numbers(failed):
    body = signed_in(Client(), "quality").get("/quality/spc/FRAME-100/10/COST/").content.decode()

    for kind in ("centre", "ucl", "lcl", "usl", "lsl"):
        assert f'data-line="{kind}"' in body
    assert "MR̄ / 1.128" in body and "x̄ + 3σ" in body
    assert 'data-number="n">21<' in body
    assert 'class="point violation" data-sample="21"' in body  # 340 is beyond 3 sigma
    assert '<li data-rule="1">Rule 1: one point beyond 3 sigma from the centre line — samples 21</li>' in body


def test_the_spc_page_in_chinese_and_its_refusals(failed):
    client = signed_in(Client(), "quality")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"

    body = client.get("/quality/spc/FRAME-100/10/COST/").content.decode()
    unknown = client.get("/quality/spc/FRAME-100/10/NOPE/")
    bad_period = client.get("/quality/spc/FRAME-100/10/COST/?from=yesterday")

    assert "手工核对" in body and 'data-line="ucl"' in body
    assert unknown.status_code == 404 and bad_period.status_code == 400


def test_the_ncr_page_links_to_the_spc_chart_and_the_order_page_shows_inspections(failed):
    ncr = signed_in(Client(), "quality").get(f"/quality/ncr/{failed.pk}/").content.decode()
    order = signed_in(Client(), "planner").get(f"/planning/orders/{ORDER}/").content.decode()

    assert 'href="/quality/spc/FRAME-100/10/COST/"' in ncr
    assert '<section class="inspections" data-sequence="10">' in order
    assert 'href="/quality/spc/FRAME-100/10/COST/"' in order
    assert order.count('<tr class="passed">') == 20 and order.count('<tr class="failed">') == 1


def test_an_unknown_ncr_is_a_404_in_words(plant):
    answer = signed_in(Client(), "quality").get("/quality/ncr/424242/")

    assert answer.status_code == 404 and "424242" in answer.content.decode()


def test_the_spc_page_writes_out_each_side_of_cpk(failed):
    body = signed_in(Client(), "quality").get("/quality/spc/FRAME-100/10/COST/").content.decode()
    cpk = body.split('data-number="cpk">')[1].split("</dd>")[0]

    assert "(USL − x̄) / 3σ = (320.0000 − 302.3810) / (3 × 8.1560) = 0.720" in cpk
    assert "(x̄ − LSL) / 3σ = (302.3810 − 280.0000) / (3 × 8.1560) = 0.915" in cpk
    assert cpk.endswith("Cpk = min = 0.720")


def test_the_filters_answer_an_htmx_request_with_the_list_alone(failed):
    answer = signed_in(Client(), "quality").get("/quality/?item=FRAME-100", HTTP_HX_REQUEST="true").content.decode()

    assert answer.lstrip().startswith('<div id="open-work">') and "<html" not in answer
    assert f'data-ncr="{failed.pk}"' in answer


def test_a_hold_is_released_from_the_list_with_a_reason_and_refused_without(failed):
    hold = hold_place(request=HoldRequest(work_order=ORDER, reason="suspect wire"))
    client = signed_in(Client(), "quality")

    without = client.post("/quality/", {"hold": str(hold.pk), "reason": " "}).content.decode()
    hold.refresh_from_db()
    state_after_refusal = hold.state
    released = client.post("/quality/?item=FRAME-100", {"hold": str(hold.pk), "reason": "wire tested good"}, follow=True).content.decode()
    again = client.post("/quality/", {"hold": str(hold.pk), "reason": "twice"}).content.decode()
    hold.refresh_from_db()

    assert "Give a reason to release hold" in without and state_after_refusal == "active"
    assert f"Hold {hold.pk} released." in released and "No active hold." in released
    assert (hold.state, hold.release_reason) == ("released", "wire tested good")
    assert 'class="outcome refusal" role="alert"' in again


def test_a_planner_reads_the_holds_but_may_not_release_them(failed):
    hold = hold_place(request=HoldRequest(work_order=ORDER, reason="suspect wire"))
    client = signed_in(Client(), "planner")

    assert 'class="release-hold"' not in client.get("/quality/").content.decode()
    assert client.post("/quality/", {"hold": str(hold.pk), "reason": "x"}).status_code == 403
    hold.refresh_from_db()
    assert hold.state == "active"


def _list_queries(client) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get("/quality/").status_code == 200
    return len(captured.captured_queries)


def test_the_list_asks_the_database_the_same_whatever_its_length(failed):
    from mes.services.nonconformances import NonconformanceRequest, nonconformance_open

    client = signed_in(Client(), "quality")
    hold_place(request=HoldRequest(work_order=ORDER, operation=10, reason="one"))
    few = _list_queries(client)
    for _number in range(3):
        nonconformance_open(request=NonconformanceRequest(work_order=ORDER, operation=10, quantity=Decimal(1), defect_code="DEF-CRACK"))
        hold_place(request=HoldRequest(work_order=ORDER, reason="more"))

    body = client.get("/quality/").content.decode()
    assert _list_queries(client) == few
    assert body.count("data-ncr=") == 4 and body.count("data-hold=") == 4
    assert "DEF-CRACK" in client.get(f"/quality/ncr/{Nonconformance.objects.order_by('-pk').first().pk}/").content.decode()
