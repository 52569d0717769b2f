"""Two orders issuing from one lot at the same moment: the lot's row lock serializes them, so the
lot is never over-drawn and the second is refused ``lot_insufficient``, with nothing recorded for it."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from erp_sync.models import OutboxMessage
from mes.models import Item, Lot, MaterialMovement
from mes.services.master_data import lot_upsert
from mes.services.material_issues import MaterialIssueRequest, material_issue
from mes.services.work_orders import work_order_transition
from tests.factories import WorkOrderFactory
from tests.mes.test_concurrency import run_at_once

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgresql_only(reason="row locks (SELECT ... FOR UPDATE) between connections; SQLite locks the whole file"),
]


def test_two_orders_cannot_overdraw_one_lot(released_order, plant, settings):
    settings.MES_OVER_ISSUE_TOLERANCE_PERCENT = Decimal("1000")  # this test is about the lot, not the tolerance
    WorkOrderFactory(number="WO-1002", item=plant["item"], quantity=Decimal("10"))
    work_order_transition(number="WO-1002", action="release")
    Item.objects.filter(code="TUBE-20").update(tracking=Item.Tracking.LOT)
    lot_upsert(item_code="TUBE-20", lot_code="T-1", quantity=Decimal("100"))

    def issue(number: str):
        request = MaterialIssueRequest(client_id=uuid.uuid4(), work_order=number, operation=10, item="TUBE-20", lot="T-1", quantity=Decimal("60"))
        return material_issue(request=request).movement.state

    outcomes = run_at_once([lambda: issue("WO-1001"), lambda: issue("WO-1002")])

    assert sorted(outcomes) == [("ok", "posted"), ("refused", "lot_insufficient")]
    assert Lot.objects.get(code="T-1").issued_qty == Decimal("60")
    assert MaterialMovement.objects.count() == 1
    assert OutboxMessage.objects.filter(kind="goods_issue").count() == 1
