"""The demo plant: built through the services, deterministic, and a second run changes nothing."""

from __future__ import annotations

import datetime
import io
import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import Min, Sum
from django.utils import timezone

from erp_sync.models import OutboxMessage
from mes.models import (
    Confirmation,
    Employee,
    Equipment,
    Event,
    Item,
    LaborSession,
    Lot,
    MaterialMovement,
    WorkCenter,
    WorkOrder,
    WorkOrderComponent,
)
from mes.selectors.trace import trace
from shopfloor.labor_report.selectors import labor_report
from shopfloor.models import DeviceMapping, Shift
from shopfloor.shift_calendar import plant_zone

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (WorkCenter, Equipment, Item, Employee, WorkOrder, Confirmation, Event, OutboxMessage, DeviceMapping, Shift, Lot)
    }


def test_the_demo_plant_is_built_once_and_prints_the_way_in():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    first = counts()
    statuses = set(WorkOrder.objects.values_list("status", flat=True))

    call_command("seed_demo", stdout=io.StringIO())
    again = io.StringIO()
    call_command("seed_demo", "--if-empty", stdout=again)

    assert counts() == first
    assert first["WorkCenter"] == 6 and first["Employee"] == 20 and 25 <= first["WorkOrder"] <= 35
    # One message per confirmation, the goods messages of what the demo's reports backflush and receive, and one per
    # inspection result.
    goods = OutboxMessage.objects.filter(kind__startswith="goods_").count()
    from mes.models import InspectionResult

    results = InspectionResult.objects.count()
    assert OutboxMessage.objects.filter(kind="inspection_result").count() == results > 0
    assert first["Confirmation"] > 0 and goods > 0 and first["OutboxMessage"] == first["Confirmation"] + goods + results
    assert {"planned", "released", "in_progress", "paused", "completed"} <= statuses
    assert first["DeviceMapping"] == 4 and first["Shift"] == 3 * 6
    for text in ("/station/setup/", "create_station_link", "/board/", "/planning/", "EMP:E1001", "/trace/", "LOT:RM-0001:RM1-2611-A"):
        assert text in out.getvalue()
    assert "/board/" in again.getvalue()


def test_the_demo_orders_are_due_around_the_day_it_is_seeded_and_keep_their_dates_when_seeded_again(time_machine):
    call_command("seed_demo", stdout=io.StringIO())
    today = timezone.localdate()
    active = WorkOrder.objects.filter(status__in=["released", "in_progress", "paused"])
    late = active.filter(due_date__lt=today).count()
    assert 0 < late <= active.count() // 4  # a few late, not a plant behind on everything
    assert not WorkOrder.objects.filter(status="planned", due_date__lte=today).exists()
    dates = dict(WorkOrder.objects.values_list("number", "due_date"))

    time_machine.move_to(timezone.now() + datetime.timedelta(days=3))
    call_command("seed_demo", stdout=io.StringIO())
    assert dict(WorkOrder.objects.values_list("number", "due_date")) == dates


def test_the_demo_has_lot_tracked_components_in_stock_and_both_ways_of_consuming():
    call_command("seed_demo", "--quiet", stdout=io.StringIO())

    # Raw materials come from lots the ERP staged; tracked sub-assemblies and products from the lots their orders made.
    tracked = set(Item.objects.filter(tracking="lot", code__startswith="RM-").values_list("code", flat=True))
    assert tracked and tracked <= set(Lot.objects.filter(status="available", received_qty__gt=0).values_list("item__code", flat=True))
    made = set(Item.objects.filter(tracking="lot").exclude(code__startswith="RM-").values_list("code", flat=True))
    assert made == {"SA-1200", "FG-1000"} == set(Lot.objects.filter(produced_qty__gt=0).values_list("item__code", flat=True))
    components = WorkOrderComponent.objects.filter(work_order__status__in=["released", "in_progress"])
    assert components.filter(backflush=True).exists()
    assert components.filter(backflush=False, item__tracking="lot").exists()  # issued at the station by scanning its lot


def _chains(node: dict, key: str) -> list[list[str]]:
    """Every path of lot codes from ``node`` down its tree (``consumed`` backward, ``consumed_by``/``produced`` forward)."""
    children = node.get("consumed", []) if key == "consumed" else [lot for use in node.get("consumed_by", []) for lot in use["produced"]]
    if not children:
        return [[node["code"]]]
    return [[node["code"], *chain] for child in children for chain in _chains(child, key)]


def test_the_demo_scans_steel_into_a_base_plate_lot_that_is_scanned_into_a_bracket_lot_traceable_both_ways():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    # Output lots are named <order>-<local day of the report> (the demo's reports lie in the shifts before it is seeded).
    plate = Lot.objects.get(item__code="SA-1200", produced_by__number="WO-1006").code
    bracket = Lot.objects.get(item__code="FG-1000", produced_by__number="WO-1001").code
    for order, code in (("WO-1006", plate), ("WO-1001", bracket)):
        last = Confirmation.objects.filter(work_order__number=order, is_final=True).latest("operation__sequence")  # it received the lot
        assert code == f"{order}-{timezone.localdate(last.confirmed_at):%Y%m%d}"

    # The base plate's order was issued its steel by a scan, with the ERP told by one goods issue of its own.
    steel = MaterialMovement.objects.get(work_order__number="WO-1006", item__code="RM-0001")
    assert (steel.source, steel.state, steel.lot.code, steel.confirmation_id) == ("scan", "posted", "RM1-2611-A", None)
    message = OutboxMessage.objects.get(source_uuid=steel.uuid)
    assert message.kind == "goods_issue"
    # Its last report received the good parts into the order's lot of the day, and backflushed the bolts.
    made = Lot.objects.get(item__code="SA-1200", code=plate)
    assert made.produced_by.number == "WO-1006" and made.produced_qty == 198
    assert MaterialMovement.objects.filter(work_order__number="WO-1006", source="backflush", item__code="RM-0002", lot=None).exists()
    # The bracket's order was issued that lot by a scan before its reports; its last report made the bracket lot.
    assert MaterialMovement.objects.get(work_order__number="WO-1001", item__code="SA-1200", source="scan").lot == made
    finished = Lot.objects.get(item__code="FG-1000", code=bracket)
    assert finished.produced_by.number == "WO-1001" and finished.quantity_on_hand == 48
    # No report of the demo was refused for want of a lot: every order told its story.
    assert set(WorkOrder.objects.filter(number__in=["WO-1001", "WO-1006"]).values_list("status", flat=True)) == {"closed", "completed"}

    assert [bracket, plate, "RM1-2611-A"] in _chains(trace(code=bracket, direction="backward"), "consumed")
    assert ["RM1-2611-A", plate, bracket] in _chains(trace(code="RM1-2611-A", direction="forward"), "consumed_by")
    assert bracket in out.getvalue() and f"/api/v1/lots/FG-1000/{bracket}/label.pdf" in out.getvalue()


def test_the_demo_has_inspection_plans_a_first_piece_check_due_and_a_chart(client):
    from mes.models import InspectionCharacteristic, InspectionResult
    from mes.selectors.quality import work_order_inspections
    from mes.selectors.spc import spc_report
    from tests.helpers import signed_in

    out = io.StringIO()
    call_command("seed_demo", stdout=out)

    plans = set(InspectionCharacteristic.objects.values_list("item__code", "sequence", "code", "sampling_rule"))
    released = WorkOrder.objects.filter(item__code="SA-1100", status="released").order_by("number").first()
    operations = {operation["sequence"]: operation for operation in work_order_inspections(number=released.number)["operations"]}
    (first_piece,) = operations[10]["characteristics"]
    chart = spc_report(item_code="SA-1100", sequence=20, characteristic="ANGLE")
    page = signed_in(client, "quality", "quality-page").get("/quality/spc/SA-1100/20/ANGLE/").content.decode()

    assert plans == {("SA-1100", 10, "LEN", "first_piece"), ("SA-1100", 20, "ANGLE", "every_n")}
    assert (first_piece["code"], first_piece["next"]["sample_no"], first_piece["next"]["due_at_good"]) == ("LEN", 1, 1)
    assert chart.result.n >= 8 and chart.result.sigma and chart.result.cpk > 1
    assert InspectionResult.objects.filter(passed=False).count() == 0
    assert 'data-line="ucl"' in page and "MR̄ / 1.128" in page
    assert "/quality/spc/SA-1100/20/ANGLE/" in out.getvalue()


def test_in_the_demo_a_failing_first_piece_opens_an_ncr_a_quality_user_scraps_on_its_page(client):
    import uuid

    from mes.models import Nonconformance
    from mes.services.quality import InspectionRequest, inspection_record

    call_command("seed_demo", stdout=io.StringIO())
    released = WorkOrder.objects.filter(item__code="SA-1100", status="released").order_by("number").first()
    inspection_record(request=InspectionRequest(client_id=uuid.uuid4(), work_order=released.number, operation=10, characteristic="LEN", value=Decimal("121.2")))
    (ncr,) = Nonconformance.objects.filter(work_order=released)
    client.post("/accounts/login/", {"username": "quality", "password": "quality"})
    messages_before = OutboxMessage.objects.count()

    page = client.post(f"/quality/ncr/{ncr.pk}/", {"action": "disposition", "disposition": "scrap", "reason": "too long", "defect_code": "DEF-01"}, follow=True)
    ncr.refresh_from_db()

    assert page.status_code == 200 and ncr.state == "dispositioned"
    assert Confirmation.objects.filter(work_order=released, scrap_qty=1, reason_code__code="DEF-01").count() == 1
    # the scrap confirmation, then the decision for the ERP's quality record
    assert list(OutboxMessage.objects.order_by("pk")[messages_before:].values_list("kind", flat=True)) == ["confirmation", "nonconformance_disposition"]


def test_the_demo_costs_its_orders_completely():
    """Every rate and standard cost is set, so an order with reports shows whole figures on its page."""
    from mes.selectors.costs import work_order_cost

    call_command("seed_demo", "--quiet", stdout=io.StringIO())

    assert not WorkCenter.objects.filter(labor_rate__isnull=True).exists()
    assert not WorkCenter.objects.filter(machine_rate__isnull=True).exists()
    assert not Item.objects.filter(standard_cost__isnull=True).exists()
    reported = WorkOrder.objects.filter(confirmations__isnull=False).distinct().order_by("number")
    assert reported.exists()
    for order in reported:
        cost = work_order_cost(number=order.number)
        assert cost.complete, (order.number, cost.missing_messages)
        assert cost.totals["actual"] > 0


def test_in_the_demo_every_report_was_clocked_and_the_labor_report_shows_efficiency_near_100_percent():
    call_command("seed_demo", "--quiet", stdout=io.StringIO())
    sessions = LaborSession.objects.count()
    call_command("seed_demo", "--quiet", stdout=io.StringIO())

    # Clocked on for each report's labor minutes, one session a report, nothing left counting up.
    reports = Confirmation.objects.filter(operator__isnull=False)
    assert LaborSession.objects.count() == sessions == reports.count() > 0
    assert not LaborSession.objects.filter(ended_at__isnull=True).exists()
    clocked: dict[tuple[int, int], float] = {}
    for session in LaborSession.objects.all():
        pair = (session.operation_id, session.employee_id)
        clocked[pair] = clocked.get(pair, 0) + (session.ended_at - session.started_at).total_seconds() / 60
    reported = {
        (row["operation_id"], row["operator_id"]): float(row["minutes"])
        for row in reports.values("operation_id", "operator_id").annotate(minutes=Sum("labor_minutes"))
    }
    assert clocked.keys() == reported.keys()
    assert all(abs(clocked[pair] - reported[pair]) < 0.01 for pair in reported), (clocked, reported)
    # Each report made as its operator clocked off; an operator never on two operations at once, nor past now.
    ends = set(LaborSession.objects.values_list("operation_id", "employee_id", "ended_at"))
    assert set(reports.values_list("operation_id", "operator_id", "confirmed_at")) <= ends
    for employee_id in set(LaborSession.objects.values_list("employee_id", flat=True)):
        spans = list(LaborSession.objects.filter(employee_id=employee_id).order_by("started_at").values_list("started_at", "ended_at"))
        assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:], strict=False))
        assert spans[-1][1] <= timezone.now()

    today = timezone.now().astimezone(plant_zone()).date()
    report = labor_report(first_day=today - datetime.timedelta(days=6), last_day=today)
    efficiency = {total.badge: total.efficiency for total in report.operators}
    assert set(efficiency) == set(reports.values_list("operator__badge", flat=True))
    assert all(Decimal("0.85") <= value <= Decimal("1.15") for value in efficiency.values()), efficiency
    assert len(set(efficiency.values())) > 3  # a little different from one operator to the next
    # Sessions lie inside shifts: each row's clocked time is in the shift its reports are.
    assert all(row.seconds and Decimal("0.8") <= row.efficiency <= Decimal("1.2") for row in report.rows), [
        (row.day, row.shift, row.badge, row.work_order, row.sequence, row.efficiency) for row in report.rows
    ]
    assert sum(total.clocked_hours for total in report.operators) > 100


def test_the_demo_releases_each_order_before_its_first_report_and_the_others_as_it_is_seeded():
    before = timezone.now()
    call_command("seed_demo", "--quiet", stdout=io.StringIO())
    first_session = dict(
        LaborSession.objects.values("operation__work_order__number").annotate(first=Min("started_at"))
        .values_list("operation__work_order__number", "first")
    )
    first_report = dict(
        Confirmation.objects.values("work_order__number").annotate(first=Min("confirmed_at")).values_list("work_order__number", "first")
    )
    released = dict(WorkOrder.objects.filter(released_at__isnull=False).values_list("number", "released_at"))
    assert first_report and first_report.keys() <= released.keys()
    for number, first in first_report.items():
        # An hour before its first operator clocked on, days before it was seeded: the board plans from there.
        assert released[number] == first_session[number] - datetime.timedelta(hours=1), number
        assert released[number] < first <= timezone.now()
        assert released[number] < before
    # An order released without reports yet was released now, as a planner would.
    waiting = released.keys() - first_report.keys()
    assert waiting and all(released[number] >= before for number in waiting)
    # The audit trail keeps when the release was recorded.
    assert not Event.objects.filter(action="release", occurred_at__lt=before).exists()
