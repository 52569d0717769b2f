"""Reconciliation of material movements: the net quantity issued to an order and received from it,
per item, as the MES's posted movements say and as the ERP holds it (SAP's material documents,
ERPNext's Stock Entries, Odoo's move lines, Kingdee's bills, U8's vouchers), end to end with the real dispatcher and a simulated ERP on loopback."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import translation

from erp_sync.connectors.base import GoodsTotals, Outcome
from erp_sync.connectors.registry import connector_class
from erp_sync.models import Drift, OutboxMessage
from erp_sync.reconciliation import compare_materials, drift_list, reconcile
from simulators.erp import start_simulator
from tests.conftest import ORDER
from tests.erp_sync.builders import goods_posting, movement, odoo_lots_stage
from tests.erp_sync.goods import confirm_with_goods, issue_by_scan, lot_stage
from tests.erp_sync.test_reconciliation import _connect, _deliver_everything


@pytest.fixture(autouse=True)
def in_english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


def test_compare_materials_reports_each_item_that_differs() -> None:
    mes = {"TUBE-20": (Decimal("5"), Decimal(0)), "FRAME-100": (Decimal(0), Decimal("2")), "BOLT-M8": (Decimal("8"), Decimal(0))}
    erp = [
        GoodsTotals(ORDER, "TUBE-20", Decimal("5.0001"), Decimal(0)),  # rounding, not a drift
        GoodsTotals(ORDER, "FRAME-100", Decimal(0), Decimal("3")),
        GoodsTotals(ORDER, "NUT-M8", Decimal("1"), Decimal(0)),
    ]

    found = compare_materials(mes, erp)

    assert [(drift.kind, drift.operation, drift.key) for drift in found] == [
        ("material_drift", 0, "BOLT-M8"), ("material_drift", 0, "FRAME-100"), ("material_drift", 0, "NUT-M8"),
    ]
    assert found[1].detail == {"item": "FRAME-100", "issued": {"mes": "0", "erp": "0"}, "received": {"mes": "2", "erp": "3"}}


def _book_by_hand(connection_row, posting) -> None:
    connector = connector_class(connection_row.kind)(connection_row.as_config())
    try:
        assert connector.post(posting).outcome == Outcome.ACCEPTED
    finally:
        connector.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("flavor", ["sap", "erpnext", "odoo", "kingdee", "u8"])
@pytest.mark.subprocess
def test_a_movement_booked_in_the_erp_by_hand_is_a_material_drift_shown_on_the_page(flavor, released_order, client):
    with start_simulator(flavor) as simulator:
        connection_row = _connect(simulator)
        if flavor == "odoo":  # Odoo holds the component lots
            odoo_lots_stage(simulator, {"TUBE-20": ["T-0001"]})
        tubes = lot_stage(item="TUBE-20", code="T-0001")
        output = lot_stage(item="FRAME-100", code="OUT-WO-1001", quantity=Decimal(0))
        issue_by_scan(number=ORDER, operation=10, lot=tubes, quantity=Decimal("3"))
        confirm_with_goods(number=ORDER, operation=10, good=2, backflush=(tubes, Decimal("5")))
        confirm_with_goods(number=ORDER, operation=20, good=2)
        confirm_with_goods(number=ORDER, operation=30, good=2, output=output)
        _deliver_everything()
        assert set(OutboxMessage.objects.values_list("state", flat=True)) == {"acknowledged"}

        clean = reconcile()
        assert (clean.orders_checked, clean.drifts_open) == (1, 0), list(Drift.objects.values_list("kind", "key", "detail"))

        # A clerk issues 4 more metres of tube to the order in the ERP.
        _book_by_hand(connection_row, goods_posting(order=ORDER, movements=[movement(item="TUBE-20", lot="T-0001", quantity="4.000", unit="M")]))
        run = reconcile()

        drift = Drift.objects.get(status="open", kind="material_drift")
        assert (drift.operation, drift.key) == (0, "TUBE-20")
        # SAP also holds a confirmation under a key unknown to the MES (the clerk's zero-quantity one).
        assert sorted(Drift.objects.filter(status="open").values_list("kind", flat=True)) == (
            ["extra_in_erp", "material_drift"] if flavor == "sap" else ["material_drift"]
        )
        assert (drift.mes_good_qty, drift.erp_good_qty, drift.mes_scrap_qty, drift.erp_scrap_qty) == (Decimal(8), Decimal(12), 0, 0)
        [listed] = drift_list(status="open", kind="material_drift")
        assert listed["materials"]["erp"]["issued"] == Decimal(12) and listed["repairable"] is False

        user = get_user_model().objects.create_user(username="sup", password="pw-123456")
        user.groups.add(Group.objects.get_or_create(name="supervisor")[0])
        client.force_login(user)
        content = client.get("/sync/reconciliation/").content.decode()
        assert "materials differ" in content and "TUBE-20" in content
        assert "issued 8 / received 0" in content and "issued 12 / received 0" in content
        assert "1 item whose goods movements differ." in content
        assert run.drifts_new == (2 if flavor == "sap" else 1)

        # Nothing else drifts, and the drift stays while goods of the order are on their way.
        OutboxMessage.objects.filter(kind="goods_issue").update(state="retrying")
        assert reconcile().drifts_resolved == 0
        assert Drift.objects.get(pk=drift.pk).status == "open"
