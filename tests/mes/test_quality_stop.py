"""Quality stop on a known sequence: window 10 pieces, threshold 2 (more than 2 bad in the last 10 stops).

Operation 10 of WO-1001 (20 pieces, an attribute check every 100 good, not gating) reports:
4 good, 1 scrap (bad 1), a failing result (bad 2), 5 good — nothing yet; then 1 scrap: the last 11
pieces (reports taken whole back to 10 pieces) hold 2 scrap + 1 failed = 3 > 2: the operation stops.
Reports are refused (``quality_hold``); a supervisor may not release it; quality does: the NCR
closes and the operation resumes; the bad pieces before the release no longer count."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from common.errors import DomainError
from mes.models import Event, Hold, Nonconformance, ReasonCode, WorkOrderOperation
from mes.services.dispositions import DispositionRequest, nonconformance_disposition
from mes.services.quality import InspectionRequest, inspection_plan_set, inspection_record
from mes.services.quality_stop import quality_stop_window
from mes.services.work_orders import work_order_transition
from tests.conftest import ITEM, ORDER
from tests.factories import ReasonCodeFactory
from tests.helpers import confirm, snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(planned_order, settings):
    settings.MES_QUALITY_STOP_WINDOW = 10
    settings.MES_QUALITY_STOP_THRESHOLD = 2
    settings.LANGUAGE_CODE = "en"  # the plant's language: the stop's reason is written in it
    type(planned_order).objects.filter(pk=planned_order.pk).update(quantity=Decimal(20))
    inspection_plan_set(item_code=ITEM, sequence=10, characteristics=[
        {"code": "LOOK", "name": "Visual", "kind": "attribute", "nominal": None, "lower_limit": None, "upper_limit": None, "unit": "",
         "sampling": {"rule": "every_n", "n": 100}, "mandatory": False},
    ])
    work_order_transition(number=ORDER, action="release")
    ReasonCodeFactory(code="SCR-BURR", kind=ReasonCode.Kind.SCRAP, name="Burr")
    ReasonCodeFactory(code="DEF-CRACK", kind=ReasonCode.Kind.DEFECT, name="Crack")


def operation() -> WorkOrderOperation:
    return WorkOrderOperation.objects.get(work_order__number=ORDER, sequence=10)


def scrap(quantity: int = 1, **fields):
    return confirm(scrap_qty=quantity, reason_code="SCR-BURR", **fields)


def fail() -> None:
    inspection_record(request=InspectionRequest(client_id=uuid.uuid4(), work_order=ORDER, operation=10, characteristic="LOOK", passed=False))


def window() -> tuple[Decimal, Decimal]:
    return quality_stop_window(operation=operation())


def test_the_operation_stops_when_bad_pieces_in_the_window_exceed_the_threshold(running, quality, supervisor):
    confirm(good_qty=4)
    scrap()
    fail()
    confirm(good_qty=5)
    assert window() == (2, 10)
    assert not Hold.objects.exists()
    assert operation().status == "in_progress"

    scrap()

    assert window() == (3, 11)
    hold = Hold.objects.get()
    assert (hold.cause, hold.state, hold.operation.sequence) == ("quality_stop", "active", 10)
    assert "3 failed or scrapped among the last 11 pieces" in hold.reason
    stop_ncr = Nonconformance.objects.get(source="quality_stop")
    assert (stop_ncr.state, stop_ncr.quantity, stop_ncr.quality_stop_id) == ("open", 3, hold.pk)
    assert (operation().status, operation().on_quality_hold) == ("paused", True)
    pause = Event.objects.filter(object_type="work_order_operation", action="pause").last() or Event.objects.filter(action="pause").last()
    assert pause.reason == "quality_stop"

    before = snapshot()
    with pytest.raises(DomainError) as refused:
        confirm(good_qty=1)
    assert refused.value.code in {"quality_hold", "operation_not_open"}
    assert snapshot() == before
    listed = quality.get("/api/v1/holds", {"state": "active"}).json()["results"]
    assert [(row["id"], row["cause"]) for row in listed] == [(hold.pk, "quality_stop")]
    disposition = quality.post(f"/api/v1/nonconformances/{stop_ncr.pk}/disposition", {"disposition": "scrap", "reason": "x", "defect_code": "DEF-CRACK"})
    assert (disposition.status_code, disposition.json()["error"]["code"]) == (409, "quality_stop_nonconformance")

    by_supervisor = supervisor.post(f"/api/v1/holds/{hold.pk}/release", {"reason": "looks fine to me"})
    assert (by_supervisor.status_code, by_supervisor.json()["error"]["code"]) == (403, "quality_stop_release_forbidden")
    assert Hold.objects.get().state == "active"

    released = quality.post(f"/api/v1/holds/{hold.pk}/release", {"reason": "die reground, first pieces checked"})

    assert released.status_code == 200
    assert (released.json()["state"], released.json()["cause"]) == ("released", "quality_stop")
    stop_ncr.refresh_from_db()
    assert (stop_ncr.state, stop_ncr.closed_by.username) == ("closed", "inspector-liu")
    assert (operation().status, operation().on_quality_hold) == ("in_progress", False)
    assert window() == (0, 0)  # counted afresh after the release
    scrap()
    assert not Hold.objects.filter(state="active").exists()
    closing = Event.objects.get(object_type="nonconformance", object_key=str(stop_ncr.pk), action="close")
    assert closing.reason == "die reground, first pieces checked"


def test_a_failed_piece_scrapped_by_its_disposition_counts_once(running, quality):
    confirm(good_qty=5)
    fail()
    fail()
    first, second = Nonconformance.objects.order_by("pk")
    for nonconformance in (first, second):
        nonconformance_disposition(
            nonconformance_id=nonconformance.pk, request=DispositionRequest(disposition="scrap", reason="cracked", defect_code="DEF-CRACK"),
            actor=quality.user,
        )

    assert window() == (2, 5)
    assert not Hold.objects.exists()
    fail()  # the third bad piece in the window: more than 2

    assert Hold.objects.get().cause == "quality_stop"


def test_a_batch_of_reports_stops_the_operation_once(running, supervisor):
    body = {"confirmations": [
        {"client_id": str(uuid.uuid4()), "work_order": ORDER, "operation": 10, "scrap_qty": "1", "reason_code": "SCR-BURR"}
        for _ in range(4)
    ]}

    answered = supervisor.post("/api/v1/confirmations/bulk", body)

    assert answered.status_code in (200, 207), answered.content
    assert Hold.objects.filter(cause="quality_stop").count() == 1
    assert Nonconformance.objects.get(source="quality_stop").quantity == 4


def test_the_board_and_the_quality_page_show_the_stop_and_quality_opens_the_order_from_them(running, client):
    from tests.helpers import signed_in

    confirm(good_qty=5)
    scrap(3)  # 3 bad among 8: more than 2
    hold = Hold.objects.get(cause="quality_stop")
    quality_user = signed_in(client, "quality")

    board = quality_user.get("/board/").content.decode()
    listing = quality_user.get("/quality/").content.decode()

    assert 'data-flag="quality_stop"' in board
    assert f'href="/planning/orders/{ORDER}/"' in board
    assert f'data-hold="{hold.pk}"' in listing and 'data-flag="quality_stop"' in listing
    assert quality_user.get(f"/planning/orders/{ORDER}/").status_code == 200
    stop_ncr = Nonconformance.objects.get(source="quality_stop")
    ncr_page = quality_user.get(f"/quality/ncr/{stop_ncr.pk}/").content.decode()
    assert f'<p class="quality-stop" data-hold="{hold.pk}">' in ncr_page
    assert 'class="disposition"' not in ncr_page  # released on the quality page, not dispositioned


def test_the_defaults_are_more_than_3_bad_in_the_last_20_pieces():
    from mes import settings as project

    assert (project.MES_QUALITY_STOP_WINDOW, project.MES_QUALITY_STOP_THRESHOLD) == (20, 3)


def test_the_orders_page_shows_its_holds_and_the_stop(running, client):
    from tests.helpers import signed_in

    confirm(good_qty=5)
    scrap(3)
    hold = Hold.objects.get(cause="quality_stop")

    page = signed_in(client, "planner").get(f"/planning/orders/{ORDER}/").content.decode()

    assert f'data-hold="{hold.pk}"' in page and 'data-flag="quality_stop"' in page
