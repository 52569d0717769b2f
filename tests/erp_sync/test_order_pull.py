"""Orders pulled from ERPs that do not push (issue #16), against the real simulators on loopback: SAP's
``A_ProductionOrder_2``, Kingdee's ``PRD_MO``/``PRD_PPBOM``, ERPNext's ``Work Order`` and Odoo's ``mrp.production``,
each read from the connection's high-water mark and applied through the push API's upserts."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from common.errors import DomainError
from erp_sync.models import PullRefusal, PullRun
from erp_sync.pulls import high_water_mark, order_pull
from erp_sync.services import erp_connection_upsert
from mes.models import Bom, RoutingOperation, Status, WorkOrder
from mes.services.confirmations import ConfirmationRequest, operation_confirm
from tests.conftest import ITEM
from tests.erp_sync.builders import simulator_connection, simulator_fixtures

sap_process, sap = simulator_fixtures("sap")
kingdee_process, kingdee = simulator_fixtures("kingdee")
erpnext_process, erpnext = simulator_fixtures("erpnext")
odoo_process, odoo = simulator_fixtures("odoo")

pytestmark = pytest.mark.subprocess

FLAVORS = ["sap", "kingdee", "erpnext", "odoo"]
#: What each ERP's order carries: Kingdee's PRD_MO no routing (the item's routing in the MES stands), ERPNext and
#: Odoo no backflush flag per component.
ERP_OPERATIONS = [(10, "WC-CUT", Decimal("0"), Decimal("1.5")), (20, "WC-WELD", Decimal("0"), Decimal("4"))]
BACKFLUSHED = {"sap": True, "kingdee": True, "erpnext": False, "odoo": False}


@pytest.fixture(params=FLAVORS)
def erp(request, plant):
    """A simulated ERP serving two released orders and a planned one, and its connection with pull_orders on."""
    simulator = request.getfixturevalue(request.param)
    simulator.control.clear_orders()
    simulator.control.set_orders(_order("4711"), _order("4712", quantity="20"), _order("4713", status="planned"))
    simulator_connection(simulator, pull_orders=True)
    return simulator


def _order(number: str, *, quantity: str = "10", status: str = "released", **fields) -> dict:
    return {
        "number": number, "item": ITEM, "quantity": quantity, "unit": "PCS", "start_date": "2030-01-20", "due_date": "2030-01-31",
        "status": status,
        "operations": [
            {"sequence": 10, "name": "Cut", "work_center": "WC-CUT", "setup_minutes": "0", "run_minutes_per_unit": "1.5"},
            {"sequence": 20, "name": "Weld", "work_center": "WC-WELD", "setup_minutes": "0", "run_minutes_per_unit": "4"},
        ],
        "components": [
            {"item": "TUBE-20", "quantity": str(Decimal(quantity) * Decimal("2.5")), "unit": "M", "operation": 10, "backflush": False},
            {"item": "BOLT-M8", "quantity": str(Decimal(quantity) * 4), "unit": "PCS", "operation": 20, "backflush": True},
        ],
        **fields,
    }


def _pull(erp, **options) -> PullRun:
    run = order_pull(connection=f"sim-{erp.flavor}", **options)
    assert run is not None
    return run


def test_the_first_pull_creates_the_released_orders_with_their_operations_and_components(erp) -> None:
    run = _pull(erp)

    assert (run.state, run.orders_read, run.orders_created, run.orders_refused) == (PullRun.State.FINISHED, 2, 2, 0), run.error
    assert sorted(WorkOrder.objects.values_list("number", "status")) == [("4711", Status.RELEASED), ("4712", Status.RELEASED)]
    order = WorkOrder.objects.get(number="4712")
    assert (order.item.code, order.quantity, order.due_date) == (ITEM, Decimal("20"), datetime.date(2030, 1, 31))
    operations = list(order.operations.order_by("sequence").values_list("sequence", "work_center__code", "setup_minutes", "run_minutes_per_unit"))
    routing = list(
        RoutingOperation.objects.filter(routing__item__code=ITEM).order_by("sequence")
        .values_list("sequence", "work_center__code", "setup_minutes", "run_minutes_per_unit")
    )
    assert operations == routing  # the routing the release snapshots: the ERP's, or (Kingdee) the item's own
    if erp.flavor != "kingdee":
        assert operations == ERP_OPERATIONS
    components = list(order.components.order_by("position").values_list("item__code", "required_qty", "operation_sequence", "backflush"))
    assert components == [("TUBE-20", Decimal("50"), 10, False), ("BOLT-M8", Decimal("80"), 20, BACKFLUSHED[erp.flavor])]
    assert order.bom_version == f"ERP sim-{erp.flavor}"
    assert run.high_water_mark and high_water_mark(connection=f"sim-{erp.flavor}") == run.high_water_mark


def test_a_second_pull_with_nothing_changed_creates_nothing(erp) -> None:
    first = _pull(erp)
    events = _events()

    second = _pull(erp)

    assert second.since == first.high_water_mark
    assert (second.state, second.orders_created, second.orders_updated, second.orders_refused) == (PullRun.State.FINISHED, 0, 0, 0)
    assert second.orders_unchanged == second.orders_read  # the newest of the last pull is read again, to the second
    assert second.high_water_mark == first.high_water_mark
    assert WorkOrder.objects.count() == 2 and _events() == events


def test_a_changed_quantity_of_a_released_order_is_applied(erp) -> None:
    _pull(erp)
    erp.control.set_orders({"number": "4711", "quantity": "12", "components": _order("4711", quantity="12")["components"]})

    run = _pull(erp)

    assert (run.orders_updated, run.orders_refused) == (1, 0)
    order = WorkOrder.objects.get(number="4711")
    assert order.quantity == Decimal("12")
    assert set(order.operations.values_list("planned_qty", flat=True)) == {Decimal("12")}
    assert list(order.components.order_by("position").values_list("required_qty", flat=True)) == [Decimal("30"), Decimal("48")]


def test_a_quantity_below_what_was_reported_is_refused_and_recorded(erp) -> None:
    _pull(erp)
    operation_confirm(request=ConfirmationRequest(client_id=uuid.uuid4(), work_order="4711", operation=10, good_qty=Decimal("8")))
    erp.control.set_orders({"number": "4711", "quantity": "5"})

    run = _pull(erp)

    assert (run.state, run.orders_refused, run.orders_updated) == (PullRun.State.FINISHED, 1, 0)
    [refusal] = run.refusals.all()
    assert (refusal.erp_key, refusal.code) == ("4711", "quantity_below_confirmed")
    assert WorkOrder.objects.get(number="4711").quantity == Decimal("10")


def test_changed_operations_of_a_released_order_stay_as_released_and_are_recorded(erp) -> None:
    if erp.flavor == "kingdee":
        pytest.skip("Kingdee's PRD_MO carries no routing")
    _pull(erp)
    operations = [{"sequence": 10, "name": "Cut", "work_center": "WC-PAINT", "setup_minutes": "0", "run_minutes_per_unit": "1"}]
    erp.control.set_orders({"number": "4711", "operations": operations})

    run = _pull(erp)

    assert [(refusal.erp_key, refusal.code) for refusal in run.refusals.all()] == [("4711", "operations_locked_after_release")]
    assert list(WorkOrder.objects.get(number="4711").operations.values_list("work_center__code", flat=True).order_by("sequence")) == ["WC-CUT", "WC-WELD"]


def test_a_bad_record_is_refused_and_visible_while_the_others_apply(erp) -> None:
    erp.control.set_orders(_order("4799", item="NO-SUCH-ITEM"), _order("4798", quantity="-3"))

    run = _pull(erp)

    assert (run.state, run.orders_created, run.orders_refused) == (PullRun.State.FINISHED, 2, 2)
    refused = {refusal.erp_key: refusal for refusal in run.refusals.all()}
    assert refused["4799"].code == "unknown_item" and "NO-SUCH-ITEM" in refused["4799"].message
    assert refused["4798"].code == "invalid_record" and "quantity" in refused["4798"].fields
    assert sorted(WorkOrder.objects.values_list("number", flat=True)) == ["4711", "4712"]
    assert not Bom.objects.filter(item__code="NO-SUCH-ITEM").exists()


def test_an_erp_that_is_down_fails_the_run_and_keeps_the_high_water_mark(erp) -> None:
    first = _pull(erp)
    erp.control.set_orders({"number": "4711", "quantity": "11"})
    erp.control.set_faults(down=True)
    try:
        failed = _pull(erp)
    finally:
        erp.control.set_faults(down=False)

    assert (failed.state, failed.orders_read, failed.high_water_mark) == (PullRun.State.FAILED, 0, "")
    assert failed.error
    assert high_water_mark(connection=f"sim-{erp.flavor}") == first.high_water_mark
    assert WorkOrder.objects.get(number="4711").quantity == Decimal("10")
    again = _pull(erp)  # back: the change made while it was down is read now
    assert (again.orders_updated, WorkOrder.objects.get(number="4711").quantity) == (1, Decimal("11"))


@pytest.mark.parametrize("flavor", ["sap"])
def test_erp_pull_says_what_it_did_and_fails_loudly(flavor, sap, plant, capsys) -> None:
    sap.control.clear_orders()
    sap.control.set_orders(_order("4711"), _order("4799", item="NO-SUCH-ITEM"))
    simulator_connection(sap, pull_orders=True)

    call_command("erp_pull", "sim-sap")
    output = capsys.readouterr().out
    assert "read 2 order(s)" in output and "1 created" in output and "1 refused" in output
    assert "refused 4799: unknown_item" in output

    sap.control.set_faults(down=True)
    try:
        with pytest.raises(CommandError, match="the pull failed, nothing was applied and the high-water mark stays at"):
            call_command("erp_pull", "sim-sap")
    finally:
        sap.control.set_faults(down=False)
    with pytest.raises(CommandError, match="nowhere"):
        call_command("erp_pull", "nowhere")


def test_a_connection_without_pull_orders_is_not_pulled(sap, plant) -> None:
    simulator_connection(sap)

    with pytest.raises(DomainError) as refused:
        order_pull(connection="sim-sap")

    assert refused.value.code == "pull_not_enabled"
    assert not PullRun.objects.exists() and not PullRefusal.objects.exists()


def test_the_scheduled_pull_runs_only_when_due(sap, plant, settings) -> None:
    from erp_sync.tasks import pull_orders

    settings.MES_ERP_PULL_INTERVAL = 300
    sap.control.clear_orders()
    sap.control.set_orders(_order("4711"))
    simulator_connection(sap, pull_orders=True)

    assert pull_orders(connection="sim-sap") == 1
    assert pull_orders(connection="sim-sap") == 0  # not due again for five minutes
    assert PullRun.objects.filter(trigger=PullRun.Trigger.SCHEDULE).count() == 1


def _events() -> int:
    from mes.models import Event

    return Event.objects.count()


def test_erp_connection_add_takes_pull_orders(sap, db) -> None:
    call_command("erp_connection", "add", "pulling", "--kind", "sap", "--url", sap.service_url, "--user", "U", "--password", "P",
                 "--option", "pull_orders=true")
    with pytest.raises(CommandError, match="pull_orders: true or false"):
        call_command("erp_connection", "add", "pulling", "--kind", "sap", "--url", sap.service_url, "--option", "pull_orders=maybe")
    with pytest.raises(DomainError, match="cannot pull orders"):
        erp_connection_upsert(name="u8", kind="u8", base_url="https://api.yonyouup.com", options={"pull_orders": True})


def test_one_connection_is_never_pulled_twice_at_once_and_a_cut_off_run_is_closed(sap, plant) -> None:
    sap.control.clear_orders()
    sap.control.set_orders(_order("4711"))
    simulator_connection(sap, pull_orders=True)
    running = PullRun.objects.create(connection="sim-sap")

    with pytest.raises(DomainError) as refused:
        order_pull(connection="sim-sap")
    assert refused.value.code == "pull_running"
    assert order_pull(connection="sim-sap", only_if_due=True) is None  # the schedule simply waits for it

    PullRun.objects.filter(pk=running.pk).update(started_at=running.started_at - PullRun.CUT_OFF_AFTER)
    run = _pull(sap)

    running.refresh_from_db()
    assert (running.state, bool(running.error)) == (PullRun.State.FAILED, True)
    assert (run.state, run.orders_created) == (PullRun.State.FINISHED, 1)
