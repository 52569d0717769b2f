"""Every confirmation rule refuses alike through the single and the bulk path, and both paths
store the same rows: on whichever database the suite runs on (PostgreSQL writes the single
report in one statement and a batch with COPY; other databases write both with the ORM)."""

from __future__ import annotations

import datetime
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
import time_machine
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from common.errors import DomainError
from erp_sync.models import OutboxMessage
from mes.models import BomLine, Confirmation, Event, Item, WorkOrder, WorkOrderOperation
from mes.services import confirmations, quality
from mes.services.confirmations import (
    CONFIRMATION_RULES,
    ConfirmationRequest,
    operation_confirm,
    operation_confirm_many,
)
from mes.services.holds import HoldRequest, hold_place
from mes.services.work_orders import work_order_transition
from tests.conftest import ORDER
from tests.factories import ItemFactory, RoutingFactory, WorkOrderFactory
from tests.helpers import confirm, confirmation_request, snapshot

URL = "/api/v1/confirmations"
USED_CLIENT_ID = uuid.UUID("0b5e7c1e-6a57-4c1a-9a55-3f1f5f4a0001")


# --- the order each case starts from ----------------------------------------------------------


def released() -> None:
    work_order_transition(number=ORDER, action="release")


def paused() -> None:
    released()
    confirm(good_qty=1)
    work_order_transition(number=ORDER, action="pause")


def first_operation_completed() -> None:
    released()
    confirm(good_qty=10, final=True)


def cancelled() -> None:
    released()  # a planned order has no operations yet
    work_order_transition(number=ORDER, action="cancel")


def behind_an_open_checkpoint() -> None:
    item = ItemFactory(code="VALVE")
    RoutingFactory(item=item, operations=[{"quality_checkpoint": True}, {}])
    WorkOrderFactory(number="WO-QC", item=item, quantity=Decimal(10))
    work_order_transition(number="WO-QC", action="release")
    confirm("WO-QC", 10, good_qty=10)


def backflushing_a_lot_tracked_tube() -> None:
    Item.objects.filter(code="TUBE-20").update(tracking=Item.Tracking.LOT)
    BomLine.objects.filter(component__code="TUBE-20").update(backflush=True)
    released()


def serial_tracked() -> None:
    item = ItemFactory(code="PUMP", tracking=Item.Tracking.SERIAL)
    RoutingFactory(item=item, operations=[{}])
    WorkOrderFactory(number="WO-SN", item=item, quantity=Decimal(10))
    work_order_transition(number="WO-SN", action="release")


def behind_a_due_inspection() -> None:
    """Operation 10 wants a passing visual check before each report of good."""
    characteristic = {"code": "LOOK", "name": "Visual", "kind": "attribute", "sampling": {"rule": "per_report", "n": None}, "mandatory": True}
    quality.inspection_plan_set(item_code="FRAME-100", sequence=10, characteristics=[characteristic])
    released()


def behind_a_failed_inspection() -> None:
    """Operation 10 made 10 good, one of which failed a check and is on hold."""
    characteristic = {"code": "LOOK", "name": "Visual", "kind": "attribute", "sampling": {"rule": "every_n", "n": 100}, "mandatory": False}
    quality.inspection_plan_set(item_code="FRAME-100", sequence=10, characteristics=[characteristic])
    first_operation_completed()
    quality.inspection_record(
        request=quality.InspectionRequest(client_id=uuid.uuid4(), work_order=ORDER, operation=10, characteristic="LOOK", passed=False)
    )


def order_on_hold() -> None:
    released()
    hold_place(request=HoldRequest(work_order=ORDER, reason="suspect weld wire"))


def operation_on_hold() -> None:
    released()
    hold_place(request=HoldRequest(work_order=ORDER, operation=10, reason="gauge out of calibration"))


def client_id_used() -> None:
    released()
    confirm(client_id=USED_CLIENT_ID, good_qty=1)


# --- the table ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    rule: Callable | None  # the rule of CONFIRMATION_RULES it exercises; None for a refusal outside them
    code: str
    status: int
    fields: dict = field(default_factory=dict)  # the request's fields besides a valid report's
    given: Callable[[], None] = released
    through_api: bool = True  # False: the API's input checks answer 400 before any rule runs
    through_service: bool = True  # False: a refusal of the API's caller rights, not of the report


def in_a_day() -> datetime.datetime:
    return timezone.now() + datetime.timedelta(days=1)


CASES = {
    "implausible-time": Case(confirmations.confirmed_at_plausible, "implausible_confirmed_at", 422, {"good_qty": 1, "confirmed_at": in_a_day}),
    "negative-good": Case(confirmations.quantities_not_negative, "negative_quantity", 422, {"good_qty": -1}, through_api=False),
    "negative-scrap": Case(
        confirmations.quantities_not_negative, "negative_quantity", 422, {"good_qty": 1, "scrap_qty": -1, "reason_code": "SCRAP-01"},
        through_api=False,
    ),
    "all-zero": Case(confirmations.something_reported, "empty_confirmation", 422, {}),
    "labor-too-long": Case(confirmations.minutes_plausible, "implausible_labor_minutes", 422, {"good_qty": 1, "labor_minutes": "720.01"}),
    "machine-too-long": Case(confirmations.minutes_plausible, "implausible_machine_minutes", 422, {"good_qty": 1, "machine_minutes": "1440.01"}),
    "labor-negative": Case(confirmations.minutes_plausible, "implausible_labor_minutes", 422, {"good_qty": 1, "labor_minutes": -1}, through_api=False),
    "unknown-reason": Case(confirmations.reason_code_known, "unknown_reason_code", 422, {"scrap_qty": 1, "reason_code": "NOPE"}),
    "scrap-without-reason": Case(confirmations.reason_code_given_for_scrap_and_rework, "reason_code_required", 422, {"scrap_qty": 1}),
    "rework-with-scrap-reason": Case(
        confirmations.reason_code_of_the_reported_kind, "reason_code_wrong_kind", 422, {"rework_qty": 1, "reason_code": "SCRAP-01"}
    ),
    "good-with-pause-reason": Case(
        confirmations.reason_code_of_the_reported_kind, "reason_code_wrong_kind", 422, {"good_qty": 1, "reason_code": "PAUSE-01"}
    ),
    "unknown-badge": Case(confirmations.operator_known_and_active, "unknown_operator", 422, {"good_qty": 1, "operator_badge": "B-0000"}),
    "inactive-badge": Case(confirmations.operator_known_and_active, "unknown_operator", 422, {"good_qty": 1, "operator_badge": "B-9999"}),
    "planned-order": Case(confirmations.work_order_released, "work_order_not_released", 409, {"good_qty": 1}, given=lambda: None),
    "unknown-operation": Case(confirmations.operation_known, "unknown_operation", 422, {"operation": 99, "good_qty": 1}),
    "held-order": Case(confirmations.not_on_quality_hold, "quality_hold", 409, {"good_qty": 1}, given=order_on_hold),
    "held-operation": Case(confirmations.not_on_quality_hold, "quality_hold", 409, {"good_qty": 1}, given=operation_on_hold),
    "paused-order": Case(confirmations.operation_not_on_hold, "operation_on_hold", 409, {"good_qty": 1}, given=paused),
    "completed-operation": Case(confirmations.operation_open, "operation_not_open", 409, {"good_qty": 1}, given=first_operation_completed),
    "cancelled-order": Case(confirmations.operation_open, "operation_not_open", 409, {"good_qty": 1}, given=cancelled),
    "open-checkpoint": Case(
        confirmations.quality_checkpoints_passed, "quality_checkpoint_open", 409,
        {"work_order": "WO-QC", "operation": 20, "good_qty": 1}, given=behind_an_open_checkpoint,
    ),
    "lot-required": Case(confirmations.backflush_covered, "lot_required", 422, {"good_qty": 1}, given=backflushing_a_lot_tracked_tube),
    "serials-required": Case(
        confirmations.output_receivable, "serials_required", 422, {"work_order": "WO-SN", "good_qty": 1}, given=serial_tracked
    ),
    "over-the-order": Case(confirmations.quantity_within_available, "quantity_exceeds_available", 422, {"good_qty": 11}),
    "nothing-passed-on": Case(confirmations.quantity_within_available, "quantity_exceeds_available", 422, {"operation": 20, "good_qty": 1}),
    "held-after-failed-inspection": Case(
        quality.quality_hold_respected, "quality_hold", 409, {"operation": 20, "good_qty": 10}, given=behind_a_failed_inspection
    ),
    "inspection-due": Case(quality.inspections_passed, "inspection_due", 422, {"good_qty": 1}, given=behind_a_due_inspection),
    "unknown-order": Case(None, "unknown_work_order", 404, {"work_order": "WO-NOPE", "good_qty": 1}),
    "client-id-reused": Case(None, "client_id_conflict", 409, {"client_id": USED_CLIENT_ID, "good_qty": 2}, given=client_id_used),
    "badge-of-another": Case(None, "badge_not_bound", 403, {"good_qty": 1, "operator_badge": "B-9999"}, through_service=False),
    "station-of-another": Case(None, "station_not_bound", 403, {"good_qty": 1, "station": "ST-99"}, through_service=False),
}

# A station's report names its work center, the API's and a batch's never do: that rule is
# exercised through the station (tests/station), the one caller that can break it.
ONLY_AT_A_STATION = {confirmations.operation_at_this_work_center}


def test_the_table_exercises_every_rule():
    assert {case.rule for case in CASES.values()} - {None} == set(CONFIRMATION_RULES) - ONLY_AT_A_STATION


# --- the paths -----------------------------------------------------------------------------------


def _request(fields: dict) -> ConfirmationRequest:
    fields = {name: value() if callable(value) else value for name, value in fields.items()}
    return confirmation_request(fields.pop("work_order", ORDER), fields.pop("operation", 10), **fields)


def _body(request: ConfirmationRequest) -> dict:
    body = {name: getattr(request, name) for name in ConfirmationRequest.__dataclass_fields__}
    return json.loads(json.dumps({**body, "final": request.final}, cls=DjangoJSONEncoder))


def _refusal(error: DomainError) -> dict:
    return {"status": int(error.kind), **error.as_dict()}


def single_service(request: ConfirmationRequest, client) -> dict:
    try:
        result = operation_confirm(request=request)
    except DomainError as error:
        return _refusal(error)
    return {"status": 201 if result.created else 200}


def bulk_service(request: ConfirmationRequest, client) -> dict:
    (answer,) = operation_confirm_many(requests=[request])
    return _refusal(answer) if isinstance(answer, DomainError) else {"status": 201 if answer.created else 200}


def single_api(request: ConfirmationRequest, client) -> dict:
    response = client.post(URL, _body(request))
    return {"status": response.status_code, **{key: value for key, value in response.json().get("error", {}).items()}}


def bulk_api(request: ConfirmationRequest, client) -> dict:
    response = client.post(f"{URL}/bulk", {"confirmations": [_body(request)]})
    assert response.status_code == 200
    (result,) = response.json()["results"]
    return {"status": result["status"], **result.get("error", {})}


PATHS = {"single-service": single_service, "bulk-service": bulk_service, "single-api": single_api, "bulk-api": bulk_api}


@pytest.fixture
def bound_operator(operator, plant):
    """An operator's token bound to the badge and station its reports name (it may name no other)."""
    from mes.services.accounts import api_user_bind

    api_user_bind(username="station-07", badge="B-1001", stations=["ST-07"])
    return operator


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_each_rule_refuses_alike_through_the_single_and_the_bulk_path(planned_order, supervisor, bound_operator, case):
    case.given()
    request = _request(case.fields)
    # Rights are the caller's: an operator's token names only its own badge and station.
    client = bound_operator if not case.through_service else supervisor
    paths = [name for name in PATHS if (case.through_api or "api" not in name) and (case.through_service or "service" not in name)]
    before = snapshot()

    with time_machine.travel(timezone.now(), tick=False):  # a refusal may name the time window around now
        answers = {name: PATHS[name](request, client) for name in paths}

    assert len(paths) >= 2
    first = answers[paths[0]]
    assert (first["status"], first["code"]) == (case.status, case.code)
    assert first["message"]
    assert all(answer == first for answer in answers.values()), answers
    assert snapshot() == before


def _as_read(operations: list[WorkOrderOperation], work_order: WorkOrder) -> list[dict]:
    """What the rules get to see of each operation: the fields read, the ones left unread, the relations."""
    return [
        {
            "read": {field.attname: getattr(operation, field.attname) for field in WorkOrderOperation._meta.concrete_fields
                     if field.attname not in operation.get_deferred_fields()},
            "unread": sorted(operation.get_deferred_fields()),
            "order_is_the_locked_one": operation.work_order is work_order,
            "work_center": (operation.work_center.code, operation.work_center.name),
        }
        for operation in operations
    ]


def test_the_single_and_the_bulk_path_read_an_orders_operations_alike(released_order, django_assert_num_queries):
    confirm(good_qty=3)  # totals and statuses that differ from operation to operation

    with transaction.atomic():
        (work_order,) = WorkOrder.objects.select_for_update().filter(number=ORDER)
        single, _lookups, _existing = confirmations._read_after_lock(work_order, confirmation_request())
        with django_assert_num_queries(1):
            bulk = confirmations._operations_of([work_order])[work_order.pk]

    assert [operation.sequence for operation in single] == [10, 20, 30]
    assert _as_read(bulk, work_order) == _as_read(single, work_order)
    assert _as_read(single, work_order)[0]["unread"]  # columns no rule reads stay unread in both


# --- the rows both paths store ---------------------------------------------------------------------


def _reports(now: datetime.datetime) -> list[dict]:
    """A shift's reports on WO-1001 (10 pieces; operations 10, 20, 30): every field used, status
    moves (start, complete, the order's completion), and one refusal in the middle."""
    client_ids = [uuid.UUID(int=index + 1) for index in range(7)]
    reports = [
        {"operation": 10, "good_qty": "4", "scrap_qty": "1", "reason_code": "SCRAP-01", "operator_badge": "B-1001",
         "station": "ST-07", "labor_minutes": "30", "machine_minutes": "25.5", "confirmed_at": now - datetime.timedelta(hours=1)},
        {"operation": 10, "good_qty": "5", "final": True, "labor_minutes": "12.5"},
        {"operation": 20, "good_qty": "3", "rework_qty": "1", "reason_code": "REWORK-01", "station": "ST-08"},
        {"operation": 20, "good_qty": "100"},  # refused: more than operation 10 passed on
        {"operation": 30, "good_qty": "2", "operator_badge": "B-1001"},
        {"operation": 20, "good_qty": "5", "final": True},
        {"operation": 30, "good_qty": "6", "final": True, "machine_minutes": "1440"},  # completes the order
    ]
    return [
        _body(confirmation_request(ORDER, report.pop("operation"), client_id=client_id, **report))
        for client_id, report in zip(client_ids, reports)
    ]


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _stored(known_ids: dict) -> dict:
    """Every row a report writes or changes, as stored, new primary keys left out and each uuid made
    afresh (a confirmation's own, its message's keys) named by the order it first appears in. Events
    are sorted: a batch writes the events of its status moves before those of its reports."""
    def rows(queryset, *, new_only: bool) -> list[dict]:
        if new_only:
            queryset = queryset.filter(pk__gt=known_ids[queryset.model])
        return [{key: value for key, value in row.items() if key != "id"} for row in queryset.order_by("pk").values()]

    names: dict[str, str] = {}

    def named(value) -> str:
        text = json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True)
        return _UUID.sub(lambda match: names.setdefault(match.group(), f"uuid-{len(names)}"), text)

    stored = {
        "confirmations": json.loads(named(rows(Confirmation.objects, new_only=True))),
        "messages": json.loads(named(rows(OutboxMessage.objects, new_only=True))),
        "operations": json.loads(named(rows(WorkOrderOperation.objects, new_only=False))),
        "orders": json.loads(named(rows(WorkOrder.objects, new_only=False))),
    }
    stored["events"] = [json.loads(text) for text in sorted(named(event) for event in rows(Event.objects, new_only=True))]
    return stored


@pytest.mark.parametrize("plain_sql", [True, False], ids=["plain-sql-on-postgresql", "orm"])
def test_the_single_and_the_bulk_path_store_the_same_rows(released_order, supervisor, settings, plain_sql):
    settings.MES_PLAIN_SQL_WRITES = plain_sql  # has a say on PostgreSQL only: elsewhere the ORM writes
    now = timezone.now().replace(microsecond=0)
    known_ids = {model: (model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0)
                 for model in (Confirmation, Event, OutboxMessage)}

    def stored_after(send: Callable[[list[dict]], list[int]]) -> tuple[list[int], dict]:
        with time_machine.travel(now, tick=False), transaction.atomic():
            statuses = send(_reports(now))
            stored = _stored(known_ids)
            transaction.set_rollback(True)  # the other path starts from the same database
        return statuses, stored

    single_statuses, single = stored_after(lambda reports: [supervisor.post(URL, report).status_code for report in reports])
    bulk_statuses, bulk = stored_after(
        lambda reports: [result["status"] for result in supervisor.post(f"{URL}/bulk", {"confirmations": reports}).json()["results"]]
    )

    assert single_statuses == bulk_statuses == [201, 201, 201, 422, 201, 201, 201]
    assert single == bulk
    stored = single
    assert [row["good_qty"] for row in stored["confirmations"]] == ["4.000", "5.000", "3.000", "2.000", "5.000", "6.000"]
    assert [row["status"] for row in stored["operations"]] == ["completed"] * 3
    assert stored["orders"][0]["status"] == "completed"
    assert len(stored["messages"]) == 6
    assert {row["action"] for row in stored["events"]} == {"confirm", "start", "complete"}
