"""The planner's pages: who may open them, the list's filters and search, bulk release, each action
on the order page with its refusals shown inline, and the traveler download."""

from __future__ import annotations

import datetime

import pytest

from erp_sync.models import OutboxMessage
from mes.models import Event, Status, WorkOrder
from tests.factories import ItemFactory, RoutingFactory, WorkCenterFactory, WorkOrderFactory
from tests.helpers import bring_to, confirm, signed_in, snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def orders(plant) -> dict[str, WorkOrder]:
    """Five orders of FRAME-100 (line L1) in different states, and one of a second item made on line L2."""
    made = {}
    for number, due, priority, status in [
        ("WO-2001", datetime.date(2030, 3, 1), 5, "planned"),
        ("WO-2002", datetime.date(2030, 2, 1), 3, "planned"),
        ("WO-2003", datetime.date(2030, 2, 1), 1, "released"),
        ("WO-2004", datetime.date(2030, 4, 1), 5, "in_progress"),
        ("WO-2005", datetime.date(2030, 5, 1), 5, "paused"),
    ]:
        made[number] = WorkOrderFactory(number=number, item=plant["item"], due_date=due, priority=priority)
        bring_to(number, status)
    assembly = WorkCenterFactory(code="WC-ASSY", line="L2")
    cabinet = ItemFactory(code="CAB-200", name="Control cabinet")
    RoutingFactory(item=cabinet, operations=[{"sequence": 10, "name": "Assemble", "work_center": assembly}])
    made["WO-2006"] = WorkOrderFactory(number="WO-2006", item=cabinet, due_date=datetime.date(2030, 6, 1))
    return made


def _numbers(response) -> list[str]:
    import re

    return re.findall(r'<tr data-number="([^"]+)"', response.content.decode())


# --- who may open them ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/planning/", "/planning/orders/WO-1001/", "/planning/orders/WO-1001/traveler.pdf", "/board/"])
def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    response = client.get(path)

    assert response.status_code == 302 and response["Location"] == f"/accounts/login/?next={path}"


def test_an_anonymous_poll_sends_the_whole_page_to_sign_in(client):
    response = client.get("/board/?wall=1", HTTP_HX_REQUEST="true")

    assert response.status_code == 200 and response["HX-Redirect"] == "/accounts/login/?next=/board/%3Fwall%3D1"


@pytest.mark.parametrize("role", ["operator", "quality", "integration"])
def test_people_without_a_planning_role_are_refused(client, planned_order, role):
    person = signed_in(client, role)
    before = snapshot()

    pages = [person.get("/planning/"), person.get("/planning/orders/WO-1001/"),
             person.post("/planning/orders/WO-1001/", {"action": "release", "reason": "try"}),
             person.post("/planning/", {"action": "release", "numbers": ["WO-1001"]})]

    # Quality opens an order's page, read-only (work_order.view); nothing else of planning.
    assert [page.status_code for page in pages] == [403, 200 if role == "quality" else 403, 403, 403]
    assert snapshot() == before


@pytest.mark.parametrize("role", ["planner", "supervisor", "admin"])
def test_planners_supervisors_and_admins_open_the_planning_pages(client, planned_order, role):
    person = signed_in(client, role)

    assert person.get("/planning/").status_code == 200
    assert person.get("/planning/orders/WO-1001/").status_code == 200


def test_the_navigation_shows_the_pages_a_role_may_use(client, django_user_model):
    planner_home = signed_in(client, "planner").get("/").content.decode()
    client.logout()
    operator_home = signed_in(client, "operator", username="op").get("/").content.decode()

    assert 'href="/planning/"' in planner_home and 'href="/board/"' in planner_home
    assert 'href="/planning/"' not in operator_home and 'href="/board/"' in operator_home
    assert 'href="/sync/"' not in operator_home and 'href="/admin/"' not in operator_home


# --- the list --------------------------------------------------------------------------------


def test_the_list_is_sorted_active_first_then_by_due_date_then_priority_and_counts_each_status(client, orders):
    response = signed_in(client, "planner").get("/planning/")
    body = response.content.decode()

    assert _numbers(response) == ["WO-2003", "WO-2004", "WO-2005", "WO-2002", "WO-2001", "WO-2006"]
    assert 'data-status="planned">Planned <b>3</b>' in body
    assert 'data-status="released">Released <b>1</b>' in body
    assert 'data-status="in_progress">In progress <b>1</b>' in body
    assert 'data-status="paused">Paused <b>1</b>' in body
    assert 'data-status="closed">Closed <b>0</b>' in body


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "planned"}, ["WO-2002", "WO-2001", "WO-2006"]),
        ({"line": "L2"}, ["WO-2006"]),
        ({"line": "L1", "status": "in_progress"}, ["WO-2004"]),
        ({"due_from": "2030-02-01", "due_to": "2030-03-01"}, ["WO-2003", "WO-2002", "WO-2001"]),
        ({"due_from": "2030-04-01"}, ["WO-2004", "WO-2005", "WO-2006"]),
        ({"item": "cab-200"}, ["WO-2006"]),
        ({"q": "2005"}, ["WO-2005"]),
        ({"q": "FRAME"}, ["WO-2003", "WO-2004", "WO-2005", "WO-2002", "WO-2001"]),
        ({"q": "cabinet"}, ["WO-2006"]),
        ({"q": "nothing like it"}, []),
    ],
)
def test_filters_and_search(client, orders, query, expected):
    response = signed_in(client, "planner").get("/planning/", query)

    assert response.status_code == 200
    assert _numbers(response) == expected


def test_status_counts_follow_the_other_filters(client, orders):
    body = signed_in(client, "planner").get("/planning/", {"line": "L2", "status": "released"}).content.decode()

    assert 'data-status="planned">Planned <b>1</b>' in body
    assert 'data-status="released">Released <b>0</b>' in body


@pytest.mark.parametrize(
    ("query", "message", "shown"),
    [
        ({"due_from": "31.02.2030"}, "Enter a valid date.", 6),
        ({"due_from": "2030-05-01", "due_to": "2030-01-01"}, "The end of the due-date range is before its start.", 2),
        ({"status": "lost"}, "Select a valid choice. lost is not one of the available choices.", 6),
        ({"q": "x" * 101}, "Ensure this value has at most 100 characters (it has 101).", 6),
        ({"page": "many"}, None, 6),
    ],
)
def test_bad_filters_are_explained_and_the_rest_still_applies(client, orders, query, message, shown):
    response = signed_in(client, "planner").get("/planning/", query)

    assert response.status_code == 200
    if message:
        assert message in response.content.decode()
    assert len(_numbers(response)) == shown


def test_the_list_is_paginated(client, plant):
    for index in range(55):
        WorkOrderFactory(number=f"WO-{3000 + index}", item=plant["item"])
    planner = signed_in(client, "planner")

    first, second = planner.get("/planning/"), planner.get("/planning/", {"page": 2})

    assert len(_numbers(first)) == 50 and len(_numbers(second)) == 5
    assert "page 1 of 2 (55 orders)" in first.content.decode()


def test_filtering_with_htmx_answers_only_the_list_partial(client, orders):
    response = signed_in(client, "planner").get("/planning/", {"status": "paused"}, HTTP_HX_REQUEST="true")

    assert response.content.decode().strip().startswith('<div id="orders">')
    assert b"<html" not in response.content and _numbers(response) == ["WO-2005"]


# --- bulk release ----------------------------------------------------------------------------


def test_bulk_release_releases_every_selected_order_with_the_reason(client, orders):
    response = signed_in(client, "planner").post(
        "/planning/?status=planned", {"action": "release", "numbers": ["WO-2001", "WO-2002"], "reason": "material staged"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert "2 work orders are now released." in response.content.decode()
    assert _numbers(response) == ["WO-2006"]  # the list is re-read with its filters
    assert set(WorkOrder.objects.filter(status="released").values_list("number", flat=True)) == {"WO-2001", "WO-2002", "WO-2003"}
    events = Event.objects.filter(object_type="work_order", action="release", object_key__in=["WO-2001", "WO-2002"])
    assert {(event.reason, event.actor.username) for event in events} == {("material staged", "planner-person")}


def test_a_refused_order_stops_the_whole_bulk_release_and_is_named_inline(client, orders):
    before = snapshot()

    response = signed_in(client, "planner").post(
        "/planning/", {"action": "release", "numbers": ["WO-2001", "WO-2004", "WO-2002"], "reason": "go"}, HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()

    assert response.status_code == 200
    assert 'class="outcome refusal" role="alert" data-code="illegal_transition"' in body
    assert "WO-2004: Cannot release work order WO-2004: it is in progress (allowed from: planned). Nothing was changed." in body
    assert snapshot() == before
    # the selection is kept so the planner can untick the refused order and try again
    assert 'value="WO-2001" aria-label="select WO-2001" checked' in body


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "release"}, "Select at least one work order."),
        ({"action": "release", "numbers": ["WO-9999"]}, "Work order WO-9999 does not exist; nothing was changed."),
        ({"action": "release", "numbers": ["x" * 65]}, "An order number in the selection is not valid."),
        ({"action": "explode", "numbers": ["WO-2001"]}, "Unknown action explode"),
        ({"numbers": ["WO-2001"]}, "This field is required."),
    ],
)
def test_bad_bulk_requests_are_refused_inline(client, orders, data, message):
    before = snapshot()

    response = signed_in(client, "planner").post("/planning/", data, HTTP_HX_REQUEST="true")

    assert response.status_code == 200 and message in response.content.decode()
    assert snapshot() == before


def test_a_supervisor_sees_no_bulk_release_and_cannot_post_one(client, orders):
    supervisor = signed_in(client, "supervisor")
    before = snapshot()

    page = supervisor.get("/planning/").content.decode()
    response = supervisor.post("/planning/", {"action": "release", "numbers": ["WO-2001"]}, HTTP_HX_REQUEST="true")

    assert 'name="numbers"' not in page and "Release selected" not in page
    assert "Your role may not release work orders." in response.content.decode()
    assert snapshot() == before


# --- one order -------------------------------------------------------------------------------


def test_the_order_page_shows_operations_confirmations_with_their_erp_state_and_history(client, released_order):
    confirmation = confirm("WO-1001", 10, good_qty=4, scrap_qty=1, reason_code="SCRAP-01", operator_badge="B-1001").confirmation
    OutboxMessage.objects.filter(source_uuid=confirmation.uuid).update(state="acknowledged", erp_document="SAP-4711")
    confirm("WO-1001", 10, good_qty=2)

    body = signed_in(client, "planner").get("/planning/orders/WO-1001/").content.decode()

    assert "Work order WO-1001" in body and "FRAME-100 Frame" in body
    assert '<tr data-sequence="10"><td>10</td><td>Cut</td><td>WC-CUT</td>' in body
    assert '<td class="num">10</td><td class="num">6</td>\n        <td class="num">1</td>' in body
    assert '<span class="sync sync-acknowledged">in the ERP</span></a> SAP-4711' in body
    assert '<span class="sync sync-queued">on its way</span></a>' in body
    assert "B-1001" in body
    assert "planned → released" in body  # the release event


def test_an_unknown_order_is_a_clear_404(client, plant):
    response = signed_in(client, "planner").get("/planning/orders/WO-0000/")

    assert response.status_code == 404 and "Work order WO-0000 does not exist." in response.content.decode()


@pytest.mark.parametrize(
    ("start", "action", "end"),
    [
        ("planned", "release", "released"),
        ("in_progress", "pause", "paused"),
        ("paused", "resume", "in_progress"),
        ("released", "cancel", "cancelled"),
        ("completed", "close", "closed"),
    ],
)
def test_each_action_from_the_order_page_goes_through_the_state_machine(client, planned_order, start, action, end):
    bring_to("WO-1001", start)

    response = signed_in(client, "planner").post(
        "/planning/orders/WO-1001/", {"action": action, "reason": f"why {action}", "confirmed": "1"}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200 and response.content.decode().strip().startswith('<div id="order">')
    assert f"WO-1001 is now {Status(end).label}." in response.content.decode()
    assert WorkOrder.objects.get(number="WO-1001").status == end
    event = Event.objects.filter(object_type="work_order", object_key="WO-1001", action=action).get()
    assert event.reason == f"why {action}" and event.actor.username == "planner-person"
    assert 'class="outcome ok" role="status"' in response.content.decode()


def test_an_illegal_action_is_refused_inline_in_words_and_nothing_changes(client, released_order):
    """A page left open while the order moved on (or a hand-made POST): the refusal is a sentence, its code only an attribute."""
    before = snapshot()

    response = signed_in(client, "planner").post(
        "/planning/orders/WO-1001/", {"action": "close", "reason": "done?", "confirmed": "1"}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()

    assert response.status_code == 200
    assert 'class="outcome refusal" role="alert" data-action="close" data-code="illegal_transition">Cannot close work order WO-1001: it is released (allowed from: completed).</p>' in body
    assert ">illegal_transition<" not in body
    assert snapshot() == before


def test_a_refusal_is_said_in_chinese_to_a_chinese_reader(client, released_order):
    planner = signed_in(client, "planner")
    planner.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"

    body = planner.post("/planning/orders/WO-1001/", {"action": "close", "confirmed": "1"}, HTTP_HX_REQUEST="true").content.decode()

    assert "无法对 工单 WO-1001 执行“关闭”操作" in body and ">illegal_transition<" not in body


@pytest.mark.parametrize(("start", "offered", "withheld"), [
    ("planned", {"release", "cancel"}, {"pause", "resume", "close"}),
    ("released", {"cancel"}, {"release", "pause", "resume", "close"}),
    ("in_progress", {"pause"}, {"release", "resume", "cancel", "close"}),
    ("paused", {"resume", "cancel"}, {"release", "pause", "close"}),
    ("completed", {"close"}, {"release", "pause", "resume", "cancel"}),
])
def test_the_order_page_offers_only_the_actions_its_status_allows(client, planned_order, start, offered, withheld):
    bring_to("WO-1001", start)

    body = signed_in(client, "planner").get("/planning/orders/WO-1001/").content.decode()

    assert {name for name in offered | withheld if f'name="action" value="{name}"' in body} == offered


def test_a_closed_order_offers_nothing_and_says_so(client, planned_order):
    bring_to("WO-1001", "closed")

    body = signed_in(client, "planner").get("/planning/orders/WO-1001/").content.decode()

    assert 'name="action"' not in body and "Nothing can be done to an order that is closed." in body


@pytest.mark.parametrize("action", ["pause", "cancel", "close"])
def test_stopping_or_ending_an_order_asks_for_confirmation_first_and_changes_nothing(client, planned_order, action):
    bring_to("WO-1001", {"pause": "in_progress", "cancel": "paused", "close": "completed"}[action])
    before = snapshot()

    body = signed_in(client, "planner").post(
        "/planning/orders/WO-1001/", {"action": action, "reason": "typed first"}, HTTP_HX_REQUEST="true"
    ).content.decode()

    assert f'data-action="{action}" data-code="confirm">{action.capitalize()} WO-1001?' in body
    assert '<input type="hidden" name="confirmed" value="1">' in body
    assert 'name="reason" value="typed first"' in body  # what was typed is kept
    assert snapshot() == before


@pytest.mark.parametrize("action", ["pause", "cancel"])
def test_pause_and_cancel_need_a_reason_even_when_confirmed(client, planned_order, action):
    bring_to("WO-1001", "paused" if action == "cancel" else "in_progress")
    before = snapshot()

    body = signed_in(client, "planner").post(
        "/planning/orders/WO-1001/", {"action": action, "reason": "  ", "confirmed": "1"}, HTTP_HX_REQUEST="true"
    ).content.decode()

    assert f"Give a reason to {action} WO-1001; it is kept in the order&#x27;s history." in body
    assert 'data-code="reason_required"' in body and "required" in body
    assert snapshot() == before


def test_a_confirmed_cancel_with_a_reason_cancels_and_keeps_the_reason(client, planned_order):
    bring_to("WO-1001", "paused")

    body = signed_in(client, "planner").post(
        "/planning/orders/WO-1001/", {"action": "cancel", "reason": "customer withdrew", "confirmed": "1"}, HTTP_HX_REQUEST="true"
    ).content.decode()

    assert "WO-1001 is now cancelled." in body
    assert Event.objects.get(object_type="work_order", object_key="WO-1001", action="cancel").reason == "customer withdrew"


def test_without_htmx_a_done_action_redirects_and_a_refusal_renders_the_page(client, planned_order):
    planner = signed_in(client, "planner")

    done = planner.post("/planning/orders/WO-1001/", {"action": "release"})
    shown = planner.get("/planning/orders/WO-1001/")
    refused = planner.post("/planning/orders/WO-1001/", {"action": "resume"})  # a page left open; resume is not offered now

    assert done.status_code == 302 and done["Location"] == "/planning/orders/WO-1001/"
    assert "WO-1001 is now released." in shown.content.decode()
    assert refused.status_code == 200 and b"<html" in refused.content and b"Cannot resume work order WO-1001" in refused.content


def test_a_supervisor_may_pause_but_not_release(client, planned_order):
    bring_to("WO-1001", "in_progress")
    supervisor = signed_in(client, "supervisor")
    before = snapshot()

    page = supervisor.get("/planning/orders/WO-1001/").content.decode()
    refused = supervisor.post("/planning/orders/WO-1001/", {"action": "release"}, HTTP_HX_REQUEST="true")

    assert 'value="pause"' in page and 'value="release"' not in page
    assert "Your role may not release work orders." in refused.content.decode()
    assert snapshot() == before


def test_an_overlong_reason_is_refused_inline(client, planned_order):
    before = snapshot()

    response = signed_in(client, "planner").post("/planning/orders/WO-1001/", {"action": "release", "reason": "r" * 501}, HTTP_HX_REQUEST="true")

    assert "Ensure this value has at most 500 characters (it has 501)." in response.content.decode()
    assert snapshot() == before


# --- traveler ----------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_traveler_downloads_as_a_pdf_in_the_language_asked_for(client, released_order, language):
    import io

    from pypdf import PdfReader

    response = signed_in(client, "planner").get(f"/planning/orders/WO-1001/traveler.pdf?lang={language}")

    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="traveler-WO-1001-{language}.pdf"'
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert ("Work-order traveler" if language == "en" else "工单流转卡") in text


def test_the_traveler_refuses_an_unknown_language_and_order(client, released_order):
    planner = signed_in(client, "planner")

    language = planner.get("/planning/orders/WO-1001/traveler.pdf?lang=fr")
    order = planner.get("/planning/orders/WO-0000/traveler.pdf")

    assert language.status_code == 400 and language.content.decode() == "Unknown language for the traveler; use one of: zh-hans, en."
    assert order.status_code == 404


def test_the_list_and_an_order_page_read_in_a_constant_number_of_queries(client, plant):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    planner = signed_in(client, "planner")

    def queries(path: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert planner.get(path).status_code == 200
        return len(captured)

    WorkOrderFactory(number="WO-7000", item=plant["item"])
    bring_to("WO-7000", "in_progress")
    few = queries("/planning/?line=L1"), queries("/planning/orders/WO-7000/")
    for index in range(1, 40):
        WorkOrderFactory(number=f"WO-{7000 + index}", item=plant["item"])
    for _ in range(5):
        confirm("WO-7000", 10, good_qty=1)
    many = queries("/planning/?line=L1"), queries("/planning/orders/WO-7000/")

    assert many == few


@pytest.mark.parametrize("number", ["A%01B", "x" * 65])  # a NUL (%00) is refused before any page: tests/mes/test_nul_characters.py
@pytest.mark.parametrize("suffix", ["", "traveler.pdf"])
def test_an_order_number_that_cannot_exist_is_a_404_not_an_error(client, plant, number, suffix):
    planner = signed_in(client, "planner")
    before = snapshot()

    shown = planner.get(f"/planning/orders/{number}/{suffix}")
    posted = planner.post(f"/planning/orders/{number}/{suffix}", {"action": "release"})

    assert shown.status_code == 404 and "does not exist." in shown.content.decode()
    assert posted.status_code in (404, 405)
    assert snapshot() == before


def test_a_selection_with_a_control_character_is_refused_inline(client, orders):
    response = signed_in(client, "planner").post("/planning/", {"action": "release", "numbers": ["WO-2001", "WO\x012002"]}, HTTP_HX_REQUEST="true")

    assert "An order number in the selection is not valid." in response.content.decode()


def test_a_selection_larger_than_the_bulk_limit_is_refused_inline(client, orders, settings):
    settings.MES_BULK_LIMIT = 2
    before = snapshot()

    response = signed_in(client, "planner").post(
        "/planning/", {"action": "release", "numbers": ["WO-2001", "WO-2002", "WO-2006"]}, HTTP_HX_REQUEST="true"
    )

    assert "Select at most 2 work orders at a time." in response.content.decode()
    assert snapshot() == before


# --- the order's history and reports in words (issue 14, defect 6) ---------------------------


def test_the_history_says_what_happened_in_words_with_names_beside_badges_and_short_ids(client, released_order):
    confirmation = confirm("WO-1001", 10, good_qty=4, scrap_qty=1, reason_code="SCRAP-01", operator_badge="B-1001").confirmation

    body = signed_in(client, "planner").get("/planning/orders/WO-1001/").content.decode()
    history = body.split('<table class="grid events">')[1]

    short = str(confirmation.uuid)[:8]
    assert f'<span title="{confirmation.uuid}">report {short}</span></td><td>reported</td>' in history
    assert "<td>B-1001 Li Wei</td>" in history and "operation 10 · good 4 · scrap 1" in history
    assert "<td>released</td>" in history and "planned → released" in history
    assert "released → in progress" in history  # the operation started by the report
    assert "<td>B-1001 Li Wei</td>" in body.split('<table class="grid events">')[0]  # the reports' table too
    for code in (">confirm<", ">start<", "in_progress", str(confirmation.uuid) + "<"):
        assert code not in history, code


def test_the_history_reads_in_chinese_to_a_chinese_reader(client, released_order):
    confirm("WO-1001", 10, good_qty=4, operator_badge="B-1001")
    planner = signed_in(client, "planner")
    planner.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"

    history = planner.get("/planning/orders/WO-1001/").content.decode().split('<table class="grid events">')[1]

    assert "<td>已下达</td>" in history and "<td>已报工</td>" in history and "已下达 → 进行中" in history
    assert "released" not in history and "reported" not in history and "in_progress" not in history


def test_each_reports_erp_state_opens_its_messages_journey(client, released_order):
    confirmation = confirm("WO-1001", 10, good_qty=4).confirmation
    message = OutboxMessage.objects.get(source_uuid=confirmation.uuid)

    planner_page = signed_in(client, "planner").get("/planning/orders/WO-1001/").content.decode()

    assert f'<a href="/sync/messages/{message.pk}/" class="journey"><span class="sync sync-queued">on its way</span></a>' in planner_page


# --- late and at-risk orders, progress, active first (issue 14, defect 8) ----------------------


def _order_row(body: str, number: str) -> str:
    import re

    return re.search(rf'<tr data-number="{number}">(.*?)</tr>', body, re.S).group(1)


def test_finished_orders_come_after_the_active_and_planned_ones_closed_last(client, plant):
    today = datetime.date.today()
    for number, status in [("WO-8001", "closed"), ("WO-8002", "completed"), ("WO-8003", "cancelled"), ("WO-8004", "planned"),
                           ("WO-8005", "in_progress")]:
        WorkOrderFactory(number=number, item=plant["item"], quantity=10, due_date=today - datetime.timedelta(days=30))
        bring_to(number, status)

    numbers = _numbers(signed_in(client, "planner").get("/planning/"))

    assert numbers[:2] == ["WO-8005", "WO-8004"] and numbers[2] == "WO-8002" and set(numbers[3:]) == {"WO-8001", "WO-8003"}


def test_late_and_at_risk_orders_are_flagged_with_done_and_remaining(client, plant):
    from django.utils import timezone

    today = timezone.localdate()
    for number, due, status in [("WO-8101", -3, "in_progress"), ("WO-8102", 1, "planned"), ("WO-8103", 300, "in_progress"),
                                ("WO-8104", -3, "completed"), ("WO-8105", 30, "planned")]:
        WorkOrderFactory(number=number, item=plant["item"], quantity=10, due_date=today + datetime.timedelta(days=due))
        bring_to(number, status)
    WorkOrder.objects.filter(number="WO-8103").update(released_at=timezone.now() - datetime.timedelta(days=200))
    confirm("WO-8101", 10, good_qty=9)
    confirm("WO-8101", 20, good_qty=4)
    confirm("WO-8101", 30, good_qty=3)

    body = signed_in(client, "planner").get("/planning/").content.decode()

    assert 'data-flag="late">late</span>' in _order_row(body, "WO-8101")  # past due, not done
    assert 'data-flag="at_risk">at risk</span>' in _order_row(body, "WO-8102")  # due tomorrow, not released
    assert 'data-flag="at_risk">at risk</span>' in _order_row(body, "WO-8103")  # none done of the 4 planned by now
    assert "data-flag" not in _order_row(body, "WO-8104") and "data-flag" not in _order_row(body, "WO-8105")
    assert '<td class="num done">3</td><td class="num remaining">7</td>' in _order_row(body, "WO-8101")
    assert '<td class="num done">10</td><td class="num remaining">0</td>' in _order_row(body, "WO-8104")


def test_the_order_page_says_late_with_done_and_remaining(client, plant):
    from django.utils import timezone

    WorkOrderFactory(number="WO-8201", item=plant["item"], quantity=10, due_date=timezone.localdate() - datetime.timedelta(days=1))
    bring_to("WO-8201", "in_progress")
    confirm("WO-8201", 10, good_qty=9)
    confirm("WO-8201", 20, good_qty=5)
    confirm("WO-8201", 30, good_qty=2)

    body = signed_in(client, "planner").get("/planning/orders/WO-8201/").content.decode()

    assert '<dd class="done">2 / 8 PCS</dd>' in body and 'data-flag="late">late</span>' in body
