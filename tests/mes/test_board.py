"""The progress board: plan to date and its colours on a known scenario, machines' states, the ERP
badge, wall mode, the live partial, and a query count that does not grow with the orders."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from erp_sync.models import OutboxMessage
from mes.models import WorkOrder
from mes.services.work_orders import work_order_transition
from plant.selectors.board import board, due_end, planned_share
from shopfloor.models import EquipmentState
from tests.factories import EquipmentFactory, WorkOrderFactory
from tests.helpers import confirm, signed_in

pytestmark = pytest.mark.django_db

YESTERDAY = timezone.localdate() - datetime.timedelta(days=1)


def _released(number: str, plant, *, quantity: int = 100, due: datetime.date = YESTERDAY) -> WorkOrder:
    WorkOrderFactory(number=number, item=plant["item"], quantity=Decimal(quantity), due_date=due)
    work_order_transition(number=number, action="release")
    return WorkOrder.objects.get(number=number)


def _cells(body: str, number: str) -> dict[int, tuple[str, str]]:
    """Operation → (colour, percentage) in the order's board row."""
    row = re.search(rf'<tr data-number="{number}">(.*?)</tr>', body, re.S).group(1)
    return {
        int(sequence): (colour, percent)
        for colour, sequence, percent in re.findall(r'<span class="cell (\w+)" data-sequence="(\d+)".*?<span class="pct">([^<]+)</span>', row)
    }


def test_plan_to_date_spreads_the_order_evenly_from_release_to_the_end_of_its_due_date():
    due = datetime.date(2030, 1, 11)
    released = due_end(due) - datetime.timedelta(days=10)

    assert due_end(due) == timezone.make_aware(datetime.datetime(2030, 1, 12))  # midnight after, plant time
    assert planned_share(released, due, released - datetime.timedelta(hours=1)) == 0
    assert planned_share(released, due, released + datetime.timedelta(days=5)) == Decimal("0.5")
    assert planned_share(released, due, released + datetime.timedelta(days=9)) == Decimal("0.9")
    assert planned_share(released, due, due_end(due) + datetime.timedelta(days=3)) == 1
    assert planned_share(None, due, released) == 0


def test_colours_on_a_known_scenario(client, plant):
    """Due yesterday, so the whole quantity is due: completion = good / 100."""
    _released("WO-3001", plant)
    confirm("WO-3001", 10, good_qty=95)
    confirm("WO-3001", 20, good_qty=60)
    confirm("WO-3001", 30, good_qty=10)

    body = signed_in(client, "operator").get("/board/").content.decode()

    assert _cells(body, "WO-3001") == {10: ("green", "95 %"), 20: ("yellow", "60 %"), 30: ("red", "10 %")}
    assert '<td class="num">100 / 100</td>' in body


def test_thresholds_are_inclusive_at_90_and_50_percent(plant):
    _released("WO-3002", plant)
    confirm("WO-3002", 10, good_qty=90)
    confirm("WO-3002", 20, good_qty=50)
    confirm("WO-3002", 30, good_qty="49.9")

    [line] = board()
    colours = [(operation.sequence, operation.colour) for operation in line.orders[0].operations]

    assert colours == [(10, "green"), (20, "yellow"), (30, "red")]


def test_a_freshly_released_order_with_nothing_due_is_green(plant):
    _released("WO-3003", plant, due=timezone.localdate() + datetime.timedelta(days=30))

    [line] = board(now=WorkOrder.objects.get(number="WO-3003").released_at)

    assert [operation.colour for operation in line.orders[0].operations] == ["green", "green", "green"]
    assert line.orders[0].plan_to_date == 0


def test_only_active_orders_are_on_the_board(plant):
    _released("WO-3004", plant)
    WorkOrderFactory(number="WO-3005", item=plant["item"])  # planned
    _released("WO-3006", plant)
    work_order_transition(number="WO-3006", action="cancel")

    assert [order.number for line in board() for order in line.orders] == ["WO-3004"]


def test_orders_are_grouped_by_the_line_of_their_operations(plant):
    plant["centers"]["WC-PAINT"].line = "L2"
    plant["centers"]["WC-PAINT"].save(update_fields=["line"])
    _released("WO-3007", plant)

    lines = {line.line: [(order.number, [op.sequence for op in order.operations]) for order in line.orders] for line in board()}
    only_l2 = board(line="L2")

    assert lines == {"L1": [("WO-3007", [10, 20])], "L2": [("WO-3007", [30])]}
    assert [line.line for line in only_l2] == ["L2"]


def test_machines_show_their_open_state_or_unknown(client, plant):
    cutter = EquipmentFactory(code="CUT-01", work_center=plant["centers"]["WC-CUT"])
    EquipmentFactory(code="WELD-01", work_center=plant["centers"]["WC-WELD"])
    earlier = timezone.now() - datetime.timedelta(hours=2)
    EquipmentState.objects.create(equipment=cutter, state="run", started_at=earlier, ended_at=earlier + datetime.timedelta(hours=1))
    EquipmentState.objects.create(equipment=cutter, state="down", started_at=earlier + datetime.timedelta(hours=1))

    body = signed_in(client, "quality").get("/board/").content.decode()

    assert '<li class="machine machine-down" data-equipment="CUT-01"' in body and "down" in body
    assert '<li class="machine machine-unknown" data-equipment="WELD-01"' in body


def test_machines_show_the_oee_of_the_shift_running_now():
    """The board's figure is the OEE selector's for the current shift (tests/shopfloor/oee_scenario.py)."""
    from shopfloor.oee import equipment_board_rows
    from tests.shopfloor.oee_scenario import at, known_shift

    known_shift()
    (machine,) = [m for line in board(now=at(10)) for m in line.machines]
    (row,) = equipment_board_rows(equipment_codes=["PRESS-01"], now=at(10))

    oee = row.shift_oee.total.oee()
    assert machine.oee is not None and machine.oee == Decimal(oee.numerator) / Decimal(oee.denominator)
    between_shifts = [m for line in board(now=at(20)) for m in line.machines]
    assert [m.oee for m in between_shifts] == [None]


def test_the_erp_badge_is_the_worst_state_of_the_orders_messages(client, plant):
    for number in ("WO-3010", "WO-3011", "WO-3012", "WO-3013"):
        _released(number, plant)
    for number in ("WO-3010", "WO-3011", "WO-3012"):
        confirm(number, 10, good_qty=1)
        confirm(number, 10, good_qty=1)
    messages = {number: list(OutboxMessage.objects.filter(partition_key=number).order_by("sequence")) for number in ("WO-3010", "WO-3011", "WO-3012")}
    OutboxMessage.objects.filter(pk=messages["WO-3010"][0].pk).update(state="dead")
    OutboxMessage.objects.filter(pk=messages["WO-3011"][0].pk).update(state="retrying")
    OutboxMessage.objects.filter(partition_key="WO-3012").update(state="acknowledged")

    badges = {order.number: order.sync_state for line in board() for order in line.orders}
    body = signed_in(client, "planner").get("/board/").content.decode()

    assert badges == {"WO-3010": "dead", "WO-3011": "retrying", "WO-3012": "acknowledged", "WO-3013": None}
    assert '<span class="sync sync-dead">refused by the ERP</span>' in body
    assert '<span class="sync sync-none">—</span>' in body


def test_last_activity_is_shown_in_the_plant_time_zone(client, plant, settings):
    _released("WO-3014", plant)
    confirm("WO-3014", 10, good_qty=1)
    WorkOrder.objects.get(number="WO-3014").operations.filter(sequence=10).update(
        last_activity_at=datetime.datetime(2030, 1, 1, 23, 30, tzinfo=datetime.UTC)
    )

    body = signed_in(client, "planner").get("/board/").content.decode()

    assert settings.TIME_ZONE == "Asia/Shanghai"
    assert "<td>2030-01-02 07:30</td>" in body


def test_wall_mode_has_no_navigation_and_renews_the_session(client, plant):
    _released("WO-3015", plant)
    person = signed_in(client, "operator")

    wall = person.get("/board/?wall=1")
    normal = person.get("/board/")
    body = wall.content.decode()

    assert '<body hx-headers' in body and 'class="wall"' in body
    assert "<nav>" not in body and "Sign out" not in body and 'data-number="WO-3015"' in body
    assert "<nav>" in normal.content.decode()
    assert "sessionid" in wall.cookies  # the session's expiry moves on with every poll
    assert "sessionid" not in normal.cookies


def test_polling_answers_only_the_board_partial(client, plant):
    _released("WO-3016", plant)

    response = signed_in(client, "operator").get("/board/?wall=1", HTTP_HX_REQUEST="true")
    body = response.content.decode().strip()

    assert body.startswith('<div id="board" hx-get="/board/?wall=1" hx-trigger="every 5s" hx-swap="outerHTML">')
    assert "<html" not in body and 'data-number="WO-3016"' in body


def test_an_unknown_line_is_said_plainly(client, plant):
    response = signed_in(client, "operator").get("/board/", {"line": "L9\x01"})

    assert response.status_code == 200 and "There is no line L9" in response.content.decode()


def test_integrations_may_not_see_the_board(client):
    assert signed_in(client, "integration").get("/board/").status_code == 403


def _add_active_orders(plant, first: int, count: int) -> None:
    for index in range(first, first + count):
        number = f"WO-{4000 + index}"
        _released(number, plant, quantity=10)
        confirm(number, 10, good_qty=1)


def _queries(person, path: str = "/board/") -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = person.get(path)
    assert response.status_code == 200
    return len(queries), response.content.decode()


@pytest.mark.parametrize("path", ["/board/", "/board/?wall=1&line=L1"])
def test_the_number_of_queries_does_not_grow_with_the_orders(client, plant, path):
    for index, center in enumerate(plant["centers"].values()):
        equipment = EquipmentFactory(code=f"EQ-{index}", work_center=center)
        EquipmentState.objects.create(equipment=equipment, state="run", started_at=timezone.now())
    person = signed_in(client, "supervisor")  # supervisors also get the ERP banner's two queries
    _add_active_orders(plant, 0, 3)
    few, few_body = _queries(person, path)
    _add_active_orders(plant, 3, 27)
    many, many_body = _queries(person, path)

    assert few_body.count("<tr data-number=") == 3 and many_body.count("<tr data-number=") == 30
    assert many == few


def test_the_board_speaks_chinese_by_default(client, plant):
    _released("WO-3017", plant, quantity=12345)
    person = signed_in(client, "operator")
    person.defaults.pop("HTTP_ACCEPT_LANGUAGE")

    body = person.get("/board/").content.decode()

    assert "<h1>生产进度看板</h1>" in body and "计划至今" in body
    assert '<td class="num">12345 / 12345</td>' in body  # no thousands separator in zh-hans
    assert '<span class="status status-released">已下达</span>' in body


# --- late and at risk, progress, ways in (issue 14, defects 7 and 8) ---------------------------


def test_late_and_at_risk_orders_are_flagged_on_the_board_with_done_and_remaining(client, plant):
    _released("WO-3101", plant, quantity=10)  # due yesterday: late
    confirm("WO-3101", 10, good_qty=10)
    confirm("WO-3101", 20, good_qty=6)
    confirm("WO-3101", 30, good_qty=4)
    _released("WO-3102", plant, quantity=10, due=timezone.localdate() + datetime.timedelta(days=100))
    WorkOrder.objects.filter(number="WO-3102").update(released_at=timezone.now() - datetime.timedelta(days=100))  # half due, none done
    _released("WO-3103", plant, quantity=10, due=timezone.localdate() + datetime.timedelta(days=100))  # nothing due yet

    body = signed_in(client, "operator").get("/board/").content.decode()
    rows = {number: re.search(rf'<tr data-number="{number}">(.*?)</tr>', body, re.S).group(1) for number in ("WO-3101", "WO-3102", "WO-3103")}

    assert '<span class="flag late" data-flag="late">late</span>' in rows["WO-3101"]
    assert '<span class="flag at-risk" data-flag="at_risk">at risk</span>' in rows["WO-3102"]
    assert "data-flag" not in rows["WO-3103"]
    assert '<td class="num done">4 / 6</td>' in rows["WO-3101"]
    assert '<td class="num done">0 / 10</td>' in rows["WO-3103"]


def test_board_rows_machines_and_badges_are_links_for_who_may_follow_them(client, plant):
    EquipmentFactory(code="CUT-01", work_center=plant["centers"]["WC-CUT"])
    _released("WO-3110", plant)
    confirm("WO-3110", 10, good_qty=1)

    planner = signed_in(client, "planner").get("/board/").content.decode()
    operator = signed_in(client, "operator", "operator-2").get("/board/").content.decode()

    assert '<a href="/planning/orders/WO-3110/"><b>WO-3110</b></a>' in planner
    assert '<a href="/sync/messages/?work_order=WO-3110"><span class="sync sync-queued">on its way</span></a>' in planner
    assert '<a href="/oee/CUT-01/"><b>CUT-01</b></a>' in planner
    # An operator may open neither the order's page, the sync pages nor the OEE pages: no dead links.
    assert "/planning/orders/" not in operator and "/sync/messages/" not in operator and "/oee/CUT-01/" not in operator
    assert "<b>WO-3110</b>" in operator
