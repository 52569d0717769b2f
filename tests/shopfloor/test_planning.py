"""Capacity, load and the finite schedule on a scenario worked out by hand.

Two work centers with one day shift (08:00–16:00, Monday to Friday, plant time Asia/Shanghai):
WC-A has one machine at efficiency 1 (8 h a day, 1 h of work per hour), WC-B two machines at
efficiency 0.75 (12 h a day, 1.5 h of work per hour). It is Monday 2030-01-07, 08:00.

| order | priority | due | operation 10 on WC-A | operation 20 on WC-B |
|---|---|---|---|---|
| WO-1 | 1 | Tue | 60 min setup + 10 × 30 min, 4 confirmed: 3 h left | 10 × 54 min = 9 h work (6 h of clock) |
| WO-2 | 5 | Mon | 4 h setup | 3 h work (2 h of clock) |
| WO-3 | 5 | Wed | 8 h setup | 6 h work (4 h of clock) |

Schedule: WC-A runs WO-1 08–11, WO-2 11–15, WO-3 Mon 15–16 and Tue 08–15. WC-B runs WO-1 from 11
(Mon 11–16, Tue 08–09), WO-2 Tue 09–11 (ready since Mon 15), WO-3 from Tue 15 (Tue 15–16, Wed 08–11).
WO-1 finishes Tue 09:00 (due Tue: on time), WO-2 Tue 11:00 (due Mon: late), WO-3 Wed 11:00 (on time).

Load, backwards from each due date: WO-1's 20 on WC-B Tue 10–16 (9 h), its 10 on WC-A Tue 08–10 and
Mon 15–16; WO-2's 20 on WC-B Mon 14–16 (3 h), its 10 on WC-A Mon 10–14; WO-3's 20 on WC-B Wed
12–16 (6 h), its 10 on WC-A Wed 08–12 and Tue 12–16. So WC-A: Mon 5, Tue 6, Wed 4; WC-B: Mon 3, Tue 9, Wed 6.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.cache import cache

from mes.models import Event, WorkOrder
from mes.services.reschedule import RESCHEDULE_QUEUED_FLAG, reschedule_enqueue, reschedule_throttle_reset
from mes.services.master_data import work_center_upsert
from mes.services.work_orders import work_order_transition, work_order_upsert
from shopfloor.models import PlannedOperation, Shift
from shopfloor.planning.core import OperationInput, OrderInput, Window, schedule, windows_of
from shopfloor.planning.services import schedule_refresh
from shopfloor.services import ShiftSpec, shifts_set
from shopfloor.shift_calendar import PlannedSpan
from shopfloor.tasks import reschedule
from tests.erp_sync.queued import queued_tasks
from tests.factories import EquipmentFactory, ItemFactory, RoutingFactory, WorkCenterFactory, WorkOrderFactory
from tests.helpers import confirm, signed_in, snapshot

D = Decimal
ZONE = datetime.timezone(datetime.timedelta(hours=8))
MONDAY = datetime.date(2030, 1, 7)
NOW = datetime.datetime(2030, 1, 7, 8, 0, tzinfo=ZONE)


def local(day: int, hour: int) -> str:
    """Monday 2030-01-07 + ``day`` days at ``hour`` plant time, as the API writes it (UTC)."""
    moment = datetime.datetime(2030, 1, 7 + day, hour, tzinfo=ZONE).astimezone(datetime.UTC)
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def scenario(db, time_machine):
    time_machine.move_to(NOW, tick=False)
    centers = {
        "WC-A": WorkCenterFactory(code="WC-A", capacity_hours_per_day=None, efficiency=D("1")),
        "WC-B": WorkCenterFactory(code="WC-B", capacity_hours_per_day=None, efficiency=D("0.75")),
    }
    EquipmentFactory(work_center=centers["WC-A"])
    EquipmentFactory(work_center=centers["WC-B"])
    EquipmentFactory(work_center=centers["WC-B"])
    for center in centers.values():
        Shift.objects.create(work_center=center, name="Day", start_time=datetime.time(8), end_time=datetime.time(16), weekdays="12345")
    orders = [
        ("WO-1", 1, 1, 10, (D(60), D(30)), (D(0), D(54))),
        ("WO-2", 5, 0, 1, (D(240), D(0)), (D(180), D(0))),
        ("WO-3", 5, 2, 1, (D(480), D(0)), (D(360), D(0))),
    ]
    for number, priority, due, quantity, (setup_a, run_a), (setup_b, run_b) in orders:
        item = ItemFactory()
        RoutingFactory(
            item=item,
            operations=[
                {"sequence": 10, "work_center": centers["WC-A"], "setup_minutes": setup_a, "run_minutes_per_unit": run_a},
                {"sequence": 20, "work_center": centers["WC-B"], "setup_minutes": setup_b, "run_minutes_per_unit": run_b},
            ],
        )
        WorkOrderFactory(number=number, item=item, quantity=D(quantity), priority=priority, due_date=MONDAY + datetime.timedelta(days=due))
        work_order_transition(number=number, action="release")
    confirm("WO-1", 10, good_qty=4)
    return centers


def test_schedule_places_each_operation_by_priority_due_date_and_routing(scenario, operator):
    assert schedule_refresh() == 6

    response = operator.get("/api/v1/schedule", {"from": "2030-01-07", "to": "2030-01-09"})

    assert response.status_code == 200
    assert response.json() == {
        "operations": [
            {"work_order": "WO-1", "sequence": 10, "work_center": "WC-A", "start": local(0, 8), "finish": local(0, 11)},
            {"work_order": "WO-2", "sequence": 10, "work_center": "WC-A", "start": local(0, 11), "finish": local(0, 15)},
            {"work_order": "WO-3", "sequence": 10, "work_center": "WC-A", "start": local(0, 15), "finish": local(1, 15)},
            {"work_order": "WO-1", "sequence": 20, "work_center": "WC-B", "start": local(0, 11), "finish": local(1, 9)},
            {"work_order": "WO-2", "sequence": 20, "work_center": "WC-B", "start": local(1, 9), "finish": local(1, 11)},
            {"work_order": "WO-3", "sequence": 20, "work_center": "WC-B", "start": local(1, 15), "finish": local(2, 11)},
        ],
        "orders": [
            {"number": "WO-2", "due_date": "2030-01-07", "predicted_finish": local(1, 11), "late": True},
            {"number": "WO-1", "due_date": "2030-01-08", "predicted_finish": local(1, 9), "late": False},
            {"number": "WO-3", "due_date": "2030-01-09", "predicted_finish": local(2, 11), "late": False},
        ],
    }


def test_schedule_of_one_work_center_and_a_later_period(scenario, operator):
    schedule_refresh()

    response = operator.get("/api/v1/schedule", {"from": "2030-01-09", "to": "2030-01-09", "work_center": "WC-B"})

    assert response.json() == {
        "operations": [
            {"work_order": "WO-3", "sequence": 20, "work_center": "WC-B", "start": local(1, 15), "finish": local(2, 11)},
        ],
        "orders": [{"number": "WO-3", "due_date": "2030-01-09", "predicted_finish": local(2, 11), "late": False}],
    }


def test_capacity_and_load_per_work_center_and_day(scenario, operator):
    response = operator.get("/api/v1/capacity", {"from": "2030-01-06", "to": "2030-01-09"})

    assert response.status_code == 200
    assert response.json() == {
        "work_centers": [
            {
                "code": "WC-A",
                "days": [
                    {"date": "2030-01-06", "capacity_hours": 0, "load_hours": 0},
                    {"date": "2030-01-07", "capacity_hours": 8, "load_hours": 5},
                    {"date": "2030-01-08", "capacity_hours": 8, "load_hours": 6},
                    {"date": "2030-01-09", "capacity_hours": 8, "load_hours": 4},
                ],
            },
            {
                "code": "WC-B",
                "days": [
                    {"date": "2030-01-06", "capacity_hours": 0, "load_hours": 0},
                    {"date": "2030-01-07", "capacity_hours": 12, "load_hours": 3},
                    {"date": "2030-01-08", "capacity_hours": 12, "load_hours": 9},
                    {"date": "2030-01-09", "capacity_hours": 12, "load_hours": 6},
                ],
            },
        ]
    }


def test_capacity_of_one_work_center_stated_per_day(scenario, operator, erp_client):
    response = erp_client.put("/api/v1/work-centers/WC-B", {"name": "Welding", "capacity_hours_per_day": 10, "efficiency": 0.9})
    assert response.status_code == 200

    response = operator.get("/api/v1/capacity", {"from": "2030-01-07", "to": "2030-01-07", "work_center": "WC-B"})

    assert response.json() == {"work_centers": [{"code": "WC-B", "days": [{"date": "2030-01-07", "capacity_hours": 9, "load_hours": 3}]}]}


def test_capacity_days_default_to_the_next_fourteen(scenario, operator):
    days = operator.get("/api/v1/capacity", {"work_center": "WC-A"}).json()["work_centers"][0]["days"]

    assert [day["date"] for day in days] == [(MONDAY + datetime.timedelta(days=offset)).isoformat() for offset in range(14)]


@pytest.mark.parametrize("path", ["/api/v1/capacity", "/api/v1/schedule"])
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "07.01.2030"}, "from"),
        ({"to": "2030-02-30"}, "to"),
        ({"from": "2030-01-09", "to": "2030-01-08"}, "to"),
        ({"from": "2030-01-01", "to": "2031-06-01"}, "to"),
        ({"from": "0001-01-01", "to": "0001-01-02"}, "from"),
        ({"from": "9999-12-30"}, "from"),
    ],
)
def test_bad_days_are_400_naming_the_parameter(scenario, operator, path, query, field):
    response = operator.get(path, query)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert list(response.json()["error"]["fields"]) == [field]


@pytest.mark.parametrize("path", ["/api/v1/capacity", "/api/v1/schedule"])
def test_an_unknown_work_center_is_404(scenario, operator, path):
    response = operator.get(path, {"work_center": "WC-NOPE"}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "unknown_work_center", "message": "No work center with code WC-NOPE exists.", "fields": {"work_center": "WC-NOPE"},
    }


def test_stated_capacity_is_spread_over_the_days_shifts():
    day = datetime.date(2030, 1, 7)
    spans = [
        PlannedSpan("Early", day, datetime.datetime(2030, 1, 7, 6, tzinfo=ZONE), datetime.datetime(2030, 1, 7, 10, tzinfo=ZONE)),
        PlannedSpan("Late", day, datetime.datetime(2030, 1, 7, 14, tzinfo=ZONE), datetime.datetime(2030, 1, 7, 18, tzinfo=ZONE)),
    ]

    windows = windows_of(spans, machines=3, efficiency=0.5, capacity_hours_per_day=12.0)

    assert [window.rate for window in windows] == [0.75, 0.75]  # 12 h × 0.5 over 8 h of shifts


# --- the release checks it --------------------------------------------------------------


@pytest.fixture
def overloading_order(scenario):
    """WO-4: 5 h on WC-A, due Monday: WC-A's Monday carries 10 h of 8, and the schedule finishes it Tuesday 12:00."""
    item = ItemFactory()
    RoutingFactory(item=item, operations=[{"sequence": 10, "work_center": scenario["WC-A"], "setup_minutes": D(300), "run_minutes_per_unit": D(0)}])
    return WorkOrderFactory(number="WO-4", item=item, quantity=D(1), priority=5, due_date=MONDAY)


WO_4_WARNINGS = [
    {"code": "work_center_overloaded", "work_center": "WC-A", "date": "2030-01-07", "load_hours": 10.0, "capacity_hours": 8.0},
    {"code": "cannot_make_due_date", "predicted_finish": local(1, 12), "due_date": "2030-01-07"},
]


def test_release_answers_its_warnings(overloading_order, planner):
    response = planner.post("/api/v1/work-orders/WO-4/release", {})

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "released"
    assert body["number"] == "WO-4"
    assert body["warnings"] == WO_4_WARNINGS


def test_release_within_capacity_has_no_warnings(scenario, planner):
    item = ItemFactory()
    RoutingFactory(item=item, operations=[{"sequence": 10, "work_center": scenario["WC-B"], "setup_minutes": D(60), "run_minutes_per_unit": D(0)}])
    WorkOrderFactory(number="WO-5", item=item, quantity=D(1), priority=5, due_date=MONDAY + datetime.timedelta(days=7))

    response = planner.post("/api/v1/work-orders/WO-5/release", {})

    assert response.status_code == 200
    assert response.json()["warnings"] == []


def test_strict_release_refuses_and_writes_nothing(overloading_order, planner, settings):
    settings.MES_RELEASE_CAPACITY = "strict"
    before = snapshot()

    response = planner.post("/api/v1/work-orders/WO-4/release", {}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "capacity_exceeded"
    assert error["fields"] == {"override_reason": "required: cannot_make_due_date, work_center_overloaded"}
    assert error["message"] == (
        "Releasing WO-4 loads WC-A on 2030-01-07 with 10.0 h of 8.0 h; cannot make its due date 2030-01-07; "
        "give an override reason to release it all the same."
    )
    assert snapshot() == before
    assert WorkOrder.objects.get(number="WO-4").status == "planned"


def test_strict_release_with_an_override_reason_releases_and_audits_it(overloading_order, planner, settings):
    settings.MES_RELEASE_CAPACITY = "strict"

    response = planner.post("/api/v1/work-orders/WO-4/release", {"override_reason": "Customer line-down; overtime agreed"})

    assert response.status_code == 200
    assert response.json()["status"] == "released"
    assert response.json()["warnings"] == WO_4_WARNINGS
    event = Event.objects.get(object_key="WO-4", action="release_over_capacity")
    assert event.reason == "Customer line-down; overtime agreed"
    assert event.actor.username == "planner-wang"
    assert [warning["code"] for warning in event.after["warnings"]] == ["work_center_overloaded", "cannot_make_due_date"]


def test_an_order_released_already_answers_no_warnings(overloading_order, planner):
    planner.post("/api/v1/work-orders/WO-4/release", {})

    response = planner.post("/api/v1/work-orders/WO-4/release", {})

    assert response.status_code == 200
    assert response.json()["warnings"] == []


def test_release_refuses_unknown_fields(overloading_order, planner):
    response = planner.post("/api/v1/work-orders/WO-4/release", {"overide_reason": "typo"})

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["overide_reason"]


def test_the_schedule_stored_is_replaced_whole(scenario):
    schedule_refresh()
    work_order_transition(number="WO-3", action="cancel")

    assert schedule_refresh() == 4
    assert set(PlannedOperation.objects.values_list("operation__work_order__number", flat=True)) == {"WO-1", "WO-2"}


# --- rescheduling: after the commit, by the task's name, one waiting at a time -------------------


def _reschedule_requests(callbacks) -> list:
    return [callback for callback in callbacks if callback is reschedule_enqueue]


@pytest.mark.parametrize("trigger", ["confirmation", "release", "calendar", "due date", "capacity"])
def test_changes_ask_for_a_schedule_after_their_commit(scenario, django_capture_on_commit_callbacks, trigger):
    reschedule_throttle_reset()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        if trigger == "confirmation":
            confirm("WO-1", 10, good_qty=1)
        elif trigger == "release":
            item = ItemFactory()
            RoutingFactory(item=item, operations=[{"sequence": 10, "work_center": scenario["WC-B"], "setup_minutes": D(60)}])
            WorkOrderFactory(number="WO-6", item=item, due_date=MONDAY + datetime.timedelta(days=30))
            work_order_transition(number="WO-6", action="release")
        elif trigger == "due date":
            work_order_upsert(number="WO-3", item=WorkOrder.objects.get(number="WO-3").item.code, quantity=D(1), due_date=MONDAY)
        elif trigger == "capacity":
            work_center_upsert(code="WC-A", name="Cutting", efficiency=D("0.9"))
        else:
            shifts_set(work_center_code="WC-A", shifts=[ShiftSpec(name="Day", start_time=datetime.time(7), end_time=datetime.time(15), weekdays="12345")])
        assert cache.get(RESCHEDULE_QUEUED_FLAG) is None  # nothing queued inside the transaction

    assert len(_reschedule_requests(callbacks)) == 1


def test_one_request_waits_at_a_time_and_the_task_clears_it(scenario):
    queued_tasks()  # whatever earlier tests left
    reschedule_enqueue()
    assert cache.get(RESCHEDULE_QUEUED_FLAG) == 1
    reschedule_enqueue()  # a second commit meanwhile: the queued task will see it
    assert [name for name, _kwargs in queued_tasks()] == ["planning.reschedule"]

    assert reschedule() == 6  # the task, run as a worker runs it
    assert cache.get(RESCHEDULE_QUEUED_FLAG) is None
    assert PlannedOperation.objects.count() == 6


def test_a_process_asks_once_per_interval(scenario, django_capture_on_commit_callbacks):
    reschedule_throttle_reset()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        confirm("WO-1", 10, good_qty=1)
        confirm("WO-1", 10, good_qty=1)

    assert len(_reschedule_requests(callbacks)) == 1


# --- the planner's order page shows them before the release ------------------------------------


def test_the_order_page_shows_the_warnings_before_the_release_and_writes_nothing(overloading_order, client):
    person = signed_in(client, "planner")
    before = snapshot()
    events = Event.objects.count()

    page = person.get("/planning/orders/WO-4/").content.decode()

    assert 'data-code="work_center_overloaded" data-work-center="WC-A" data-date="2030-01-07"' in page
    assert "WC-A is overloaded on 2030-01-07: 10.0 h of work for 8.0 h of capacity." in page
    assert "It cannot make its due date 2030-01-07: the schedule finishes it 2030-01-08 12:00." in page
    assert snapshot() == before and Event.objects.count() == events


def test_the_order_page_speaks_chinese_too(overloading_order, client):
    person = signed_in(client, "planner")

    page = person.get("/planning/orders/WO-4/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert "WC-A 在 2030-01-07 超负荷：工作 10.0 小时，产能 8.0 小时。" in page


def test_an_order_within_capacity_shows_no_warnings(scenario, client):
    item = ItemFactory()
    RoutingFactory(item=item, operations=[{"sequence": 10, "work_center": scenario["WC-B"], "setup_minutes": D(60)}])
    WorkOrderFactory(number="WO-5", item=item, due_date=MONDAY + datetime.timedelta(days=7))

    page = signed_in(client, "planner").get("/planning/orders/WO-5/").content.decode()

    assert 'id="release-warnings"' not in page


def test_strict_release_from_the_page_takes_the_reason_as_the_override(overloading_order, client, settings):
    settings.MES_RELEASE_CAPACITY = "strict"
    person = signed_in(client, "planner")

    refused = person.post("/planning/orders/WO-4/", {"action": "release", "reason": ""}).content.decode()
    assert 'data-code="capacity_exceeded"' in refused
    assert WorkOrder.objects.get(number="WO-4").status == "planned"

    person.post("/planning/orders/WO-4/", {"action": "release", "reason": "Overtime on Monday"})

    assert WorkOrder.objects.get(number="WO-4").status == "released"
    assert Event.objects.get(object_key="WO-4", action="release_over_capacity").reason == "Overtime on Monday"


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgresql_only(reason="two connections writing at once; SQLite has one writer anyway")
def test_refreshes_at_once_each_store_the_whole_schedule(scenario):
    from tests.mes.test_concurrency import run_at_once

    outcomes = run_at_once([schedule_refresh] * 4)

    assert outcomes == [("ok", 6)] * 4
    assert PlannedOperation.objects.count() == 6


def test_a_hair_of_rounding_does_not_spill_into_the_next_shift():
    monday = [
        Window(datetime.datetime(2030, 1, 7 + day, 8, tzinfo=ZONE), datetime.datetime(2030, 1, 7 + day, 16, tzinfo=ZONE), MONDAY, 1.0)
        for day in range(2)
    ]
    orders = [OrderInput("WO-9", 5, MONDAY, datetime.datetime(2030, 1, 8, tzinfo=ZONE))]
    # 7 min + 473 min as hours, the way minutes add up: a float a hair off 8 h
    operations = [OperationInput(1, "WO-9", 10, "WC-A", (7 / 60 + 473 / 60) + 1e-9)]

    result = schedule(now=NOW, windows={"WC-A": monday}, orders=orders, operations=operations)

    assert [(placed.start, placed.finish) for placed in result.operations] == [
        (datetime.datetime(2030, 1, 7, 8, tzinfo=ZONE), datetime.datetime(2030, 1, 7, 16, tzinfo=ZONE))
    ]
    assert result.finishes == {"WO-9": datetime.datetime(2030, 1, 7, 16, tzinfo=ZONE)}
