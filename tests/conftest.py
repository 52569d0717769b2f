"""Fixtures: a small plant, a released order, and the named personas of the API.

The plant (fixed keys, so tests and JSON payloads can name them):
  item FRAME-100 (PCS), routing 10 Cut @ WC-CUT, 20 Weld @ WC-WELD, 30 Paint @ WC-PAINT,
  BOM v1: 2.5 M of TUBE-20 and 4 PCS of BOLT-M8 per frame;
  operator badge B-1001 (active) and B-9999 (inactive);
  reason codes SCRAP-01 (scrap), REWORK-01 (rework), PAUSE-01 (pause).
Orders: WO-1001, quantity 10, planned (``planned_order``) or released (``released_order``).
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from mes.models import ReasonCode, WorkOrder
from mes.services.accounts import api_token_create
from mes.services.work_orders import work_order_transition
from tests.factories import (
    BomFactory,
    EmployeeFactory,
    ItemFactory,
    ReasonCodeFactory,
    RoutingFactory,
    UnitOfMeasureFactory,
    WorkCenterFactory,
    WorkOrderFactory,
)

ORDER = "WO-1001"
ITEM = "FRAME-100"


def persona(username: str, role: str) -> APIClient:
    """An API client authenticated by token as a user holding ``role``; it speaks JSON by default."""
    token = api_token_create(username=username, role=role)
    client = APIClient()
    client.default_format = "json"
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    client.user = token.user
    return client


@pytest.fixture
def erp_client(db) -> APIClient:
    return persona("erp", "integration")


@pytest.fixture
def planner(db) -> APIClient:
    return persona("planner-wang", "planner")


@pytest.fixture
def operator(db) -> APIClient:
    return persona("station-07", "operator")


@pytest.fixture
def supervisor(db) -> APIClient:
    return persona("supervisor-zhang", "supervisor")


@pytest.fixture
def quality(db) -> APIClient:
    return persona("inspector-liu", "quality")


@pytest.fixture
def admin_api(db) -> APIClient:
    return persona("admin", "admin")


@pytest.fixture
def anonymous() -> APIClient:
    client = APIClient()
    client.default_format = "json"
    return client


@pytest.fixture
def plant(db) -> dict:
    pcs = UnitOfMeasureFactory(code="PCS")
    meter = UnitOfMeasureFactory(code="M")
    centers = {code: WorkCenterFactory(code=code) for code in ("WC-CUT", "WC-WELD", "WC-PAINT")}
    item = ItemFactory(code=ITEM, name="Frame", unit=pcs)
    tube = ItemFactory(code="TUBE-20", name="Tube 20 mm", unit=meter)
    bolt = ItemFactory(code="BOLT-M8", name="Bolt M8", unit=pcs)
    RoutingFactory(
        item=item,
        operations=[
            {"sequence": 10, "name": "Cut", "work_center": centers["WC-CUT"], "setup_minutes": Decimal("10")},
            {"sequence": 20, "name": "Weld", "work_center": centers["WC-WELD"], "run_minutes_per_unit": Decimal("4")},
            {"sequence": 30, "name": "Paint", "work_center": centers["WC-PAINT"]},
        ],
    )
    BomFactory(item=item, version="1", lines=[(tube, Decimal("2.5")), (bolt, Decimal("4"))])
    EmployeeFactory(badge="B-1001", name="Li Wei")
    EmployeeFactory(badge="B-9999", name="Former Employee", is_active=False)
    ReasonCodeFactory(code="SCRAP-01", kind=ReasonCode.Kind.SCRAP, name="Material defect")
    ReasonCodeFactory(code="REWORK-01", kind=ReasonCode.Kind.REWORK, name="Weld seam")
    ReasonCodeFactory(code="PAUSE-01", kind=ReasonCode.Kind.PAUSE, name="Break")
    return {"item": item, "tube": tube, "bolt": bolt, "centers": centers}


@pytest.fixture
def planned_order(plant) -> WorkOrder:
    return WorkOrderFactory(number=ORDER, item=plant["item"], quantity=Decimal("10"), due_date=datetime.date(2030, 1, 31))


@pytest.fixture
def released_order(planned_order) -> WorkOrder:
    work_order_transition(number=planned_order.number, action="release")
    planned_order.refresh_from_db()
    return planned_order


@pytest.fixture(autouse=True)
def _scenario_week_stays_plausible(settings):
    """The OEE scenario (tests/shopfloor/oee_scenario.py) reports production of a fixed week in
    November 2026 through the real services. Confirmation times older than
    MES_CONFIRMED_AT_MAX_PAST_DAYS are refused, so the window reaches back to that week however
    long ago it is by now; tests of the window itself set it as they need."""
    from django.utils import timezone

    from tests.shopfloor.oee_scenario import MONDAY

    needed = (timezone.localdate() - MONDAY).days + 7
    if needed > settings.MES_CONFIRMED_AT_MAX_PAST_DAYS:
        settings.MES_CONFIRMED_AT_MAX_PAST_DAYS = needed


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache (no PIN lock-outs left by another test)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _forget_api_tokens():
    """Each test starts with no remembered tokens, as a freshly started worker does."""
    from mes.api import authentication

    authentication._tokens.clear()
    yield
    authentication._tokens.clear()
