"""The home page per role: the figures each role acts on, each a link to where it is acted on."""

from __future__ import annotations

import datetime
import re
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from erp_sync.models import OutboxMessage
from erp_sync.outbox import outbox_add
from mes.models import WorkOrder
from shopfloor.andon.services import AndonRequest, andon_raise
from shopfloor.models import EquipmentState
from tests.browser.conftest import person
from tests.factories import EquipmentFactory

pytestmark = pytest.mark.django_db


def home(role: str, language: str = "en") -> str:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(person(f"{role}-home-{language}", role))
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def figure(page: str, label: str) -> int:
    match = re.search(r'<span class="value">(\d+)</span> <span class="label">' + re.escape(label) + "</span>", page)
    assert match, label
    return int(match.group(1))


def test_a_planner_sees_late_orders_and_releases_waiting_each_a_link(released_order):
    WorkOrder.objects.filter(number="WO-1001").update(due_date=timezone.localdate() - datetime.timedelta(days=3))
    page = home("planner")
    assert figure(page, "late orders") == 1
    assert 'href="/planning/orders/WO-1001/"' in page and "WO-1001, due" in page
    assert figure(page, "orders waiting for release") == 0
    assert figure(page, "machines down or not answering") == 0  # a planner may open the board
    assert figure(page, "dead letters waiting for a decision") == 0  # and the ERP sync pages
    assert "open nonconformances" not in page


def test_a_supervisor_sees_calls_machines_down_and_dead_letters(plant):
    andon_raise(request=AndonRequest(kind="help", severity="low", work_center="WC-CUT"))
    press = EquipmentFactory(code="PRESS-1", work_center=plant["centers"]["WC-CUT"])
    EquipmentState.objects.create(equipment=press, state="down", started_at=timezone.now())
    message = outbox_add(kind="confirmation", partition_key="WO-1001", source_uuid=uuid.uuid4(), idempotency_key=uuid.uuid4(), payload={})
    OutboxMessage.objects.filter(pk=message.pk).update(state=OutboxMessage.State.DEAD)

    page = home("supervisor")

    assert figure(page, "calls for help not answered") == 1 and 'href="/andon/"' in page
    assert figure(page, "machines down or not answering") == 1 and 'href="/oee/PRESS-1/"' in page
    assert figure(page, "dead letters waiting for a decision") == 1 and 'class="figure alarm"' in page
    assert figure(home("supervisor", "zh-hans"), "无人响应的求助呼叫") == 1


def test_quality_sees_nonconformances_and_holds_and_an_operator_no_figures(plant):
    page = home("quality")
    assert figure(page, "open nonconformances") == 0 and figure(page, "active holds") == 0
    assert "late orders" not in page
    operator = home("operator")
    assert "late orders" not in operator and "open nonconformances" not in operator
    assert figure(operator, "calls for help not answered") == 0  # operators open the board and the andon board
