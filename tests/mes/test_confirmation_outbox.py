"""Each confirmation hands the ERP one outbox message in its own transaction; a refusal or failure hands it none."""

import contextlib
import datetime
import uuid
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection
from django.utils import timezone

from common.errors import DomainError
from erp_sync.event_destinations import event_destination_upsert
from erp_sync.models import OutboxMessage
from mes.models import Confirmation, Event, WorkOrderOperation
from mes.services.confirmations import confirmation_reverse, operation_confirm_many
from mes.services.work_orders import work_order_transition
from tests.conftest import ORDER
from tests.factories import WorkOrderFactory
from tests.helpers import confirm, confirmation_request, operation_of, snapshot

D = Decimal
QUANTITY_KEYS = ("good_qty", "scrap_qty", "rework_qty", "labor_minutes", "machine_minutes")


def as_numbers(payload: dict) -> dict:
    """The payload with its decimal strings read as numbers ("4" and "4.000" are the same quantity)."""
    return {key: D(value) if key in QUANTITY_KEYS else value for key, value in payload.items()}


@contextlib.contextmanager
def outbox_insert_fails():
    """Make the database itself refuse outbox rows (a trigger), for the rest of the test's transaction."""
    table = OutboxMessage._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION test_refuse_outbox() RETURNS trigger AS $$ "
                "BEGIN RAISE EXCEPTION 'outbox unavailable'; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                f"CREATE TRIGGER test_refuse_outbox BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION test_refuse_outbox()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER test_refuse_outbox BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'outbox unavailable'); END"
            )
    yield


def test_confirmation_writes_exactly_one_outbox_message_keyed_by_its_uuid(released_order):
    result = confirm(good_qty=4)

    message = OutboxMessage.objects.get()
    assert (
        message.idempotency_key, message.source_uuid, message.kind, message.partition_key, message.sequence,
        message.state, message.attempts,
    ) == (result.confirmation.uuid, result.confirmation.uuid, "confirmation", ORDER, 1, "queued", 0)


def test_outbox_sequence_counts_one_two_three_per_work_order(released_order, plant):
    WorkOrderFactory(number="WO-1002", item=plant["item"], quantity=D("5"))
    work_order_transition(number="WO-1002", action="release")

    confirm(ORDER, good_qty=1)
    confirm("WO-1002", good_qty=1)
    confirm(ORDER, good_qty=1)
    confirm(ORDER, good_qty=1)
    confirm("WO-1002", good_qty=1)

    assert list(OutboxMessage.objects.order_by("id").values_list("partition_key", "sequence")) == [
        (ORDER, 1), ("WO-1002", 1), (ORDER, 2), (ORDER, 3), ("WO-1002", 2)
    ]


def test_outbox_payload_has_everything_the_erp_needs(released_order):
    client_id = uuid.uuid4()
    reported_at = (timezone.now() - datetime.timedelta(hours=3)).replace(microsecond=0).astimezone(datetime.UTC)
    confirm(operation=10, good_qty=10)

    result = confirm(
        operation=20, client_id=client_id, good_qty=7, scrap_qty=1, rework_qty=2, reason_code="REWORK-01",
        operator_badge="B-1001", station="ST-07", labor_minutes=45, machine_minutes="40.5", final=True,
        confirmed_at=reported_at,
    )

    message = OutboxMessage.objects.get(source_uuid=result.confirmation.uuid)
    assert as_numbers(message.payload) == {
        "type": "confirmation",
        "confirmation_id": str(result.confirmation.uuid),
        "idempotency_key": str(result.confirmation.uuid),
        "client_id": str(client_id),
        "sequence": 2,
        "work_order": ORDER,
        "work_order_uuid": str(released_order.uuid),
        "item": "FRAME-100",
        "operation": 20,
        "operation_name": "Weld",
        "work_center": "WC-WELD",
        "good_qty": D("7"),
        "scrap_qty": D("1"),
        "rework_qty": D("2"),
        "unit": "PCS",
        "reason_code": "REWORK-01",
        "reason_kind": "rework",
        "labor_minutes": D("45"),
        "machine_minutes": D("40.5"),
        "operator_badge": "B-1001",
        "operator_name": "Li Wei",
        "station": "ST-07",
        "final": True,
        "confirmed_at": reported_at.isoformat(),
        "reverses": None,
    }


def test_refused_confirmation_leaves_no_outbox_message(released_order):
    confirm(good_qty=10)
    before = OutboxMessage.objects.count()

    with pytest.raises(DomainError):
        confirm(good_qty=1)

    assert OutboxMessage.objects.count() == before == 1


def test_replayed_confirmation_queues_no_second_message(released_order):
    request = confirmation_request(good_qty=3)
    confirm(client_id=request.client_id, good_qty=3)

    confirm(client_id=request.client_id, good_qty=3)

    assert OutboxMessage.objects.count() == 1


def test_confirmation_whose_outbox_write_fails_leaves_nothing_behind(released_order):
    before = snapshot()

    with outbox_insert_fails(), pytest.raises(DatabaseError):
        confirm(good_qty=4, operator_badge="B-1001")

    assert snapshot() == before
    assert operation_of(ORDER, 10).status == "released"


def test_batch_whose_outbox_write_fails_leaves_nothing_behind(released_order):
    before = snapshot()

    with outbox_insert_fails(), pytest.raises(DatabaseError):
        operation_confirm_many(requests=[confirmation_request(good_qty=1), confirmation_request(good_qty=2)])

    assert snapshot() == before


def test_reversal_whose_outbox_write_fails_leaves_nothing_behind(released_order):
    original = confirm(good_qty=4, final=True)
    before = snapshot()

    with outbox_insert_fails(), pytest.raises(DatabaseError):
        confirmation_reverse(confirmation_id=original.confirmation.uuid)

    assert snapshot() == before
    assert operation_of(ORDER, 10).status == "completed"


def test_confirmations_in_one_batch_are_numbered_in_request_order(released_order):
    requests = [confirmation_request(good_qty=1) for _ in range(3)]

    answers = operation_confirm_many(requests=requests)

    assert list(OutboxMessage.objects.order_by("sequence").values_list("sequence", "idempotency_key")) == [
        (number, answer.confirmation.uuid) for number, answer in enumerate(answers, start=1)
    ]


def _stored(result, with_message: bool = True) -> dict:
    """What one confirmation left in the database, without what differs between any two (keys, times)."""
    confirmation = Confirmation.objects.filter(pk=result.confirmation.pk).values().get()
    message = OutboxMessage.objects.filter(source_uuid=result.confirmation.uuid).values().get()
    event = Event.objects.filter(object_key=str(result.confirmation.uuid)).values().get()
    operation = WorkOrderOperation.objects.filter(pk=confirmation["operation_id"]).values().get()
    assert message["payload"]["sequence"] == message["sequence"]
    assert message["payload"]["idempotency_key"] == str(message["idempotency_key"])
    different = {"id", "uuid", "client_id", "request_hash", "recorded_at", "confirmed_at", "occurred_at", "created_at",
                 "next_attempt_at", "idempotency_key", "source_uuid", "object_key", "last_activity_at", "updated_at"}
    for row in (confirmation, message, event, operation):  # a time or key of the right type, not its value
        for key in different & set(row):
            row[key] = type(row[key]).__name__ if row[key] is not None else None
    for key in ("confirmation_id", "client_id", "idempotency_key", "confirmed_at"):
        message["payload"].pop(key)
    message["payload"]["reverses"] = None
    event["after"]["confirmation"].pop("client_id")
    returned = (result.message.sequence, result.message.payload["sequence"], result.message.state) if with_message else None
    return {"confirmation": confirmation, "message": message, "event": event, "operation": operation, "returned": returned}


@pytest.mark.postgresql_only(reason="the fast path writes a confirmation in one WITH statement")
@pytest.mark.parametrize("fields", [
    {"good_qty": 3, "operator_badge": "B-1001", "labor_minutes": "1.5", "station": "ST-7"},
    {"good_qty": 1, "scrap_qty": 2, "reason_code": "SCRAP-01"},
])
def test_one_statement_write_stores_what_the_orm_stores(released_order, settings, fields):
    confirm(good_qty=1)  # the order is running: neither report below moves a status
    one_statement = confirm(**fields)
    settings.MES_PLAIN_SQL_WRITES = False
    orm = confirm(**fields)

    first, second = _stored(one_statement), _stored(orm)
    assert first["returned"][0] + 1 == second["returned"][0]  # consecutive in the order's sequence
    first["returned"] = second["returned"] = None
    first["message"]["sequence"] = first["message"]["payload"]["sequence"] = None
    second["message"]["sequence"] = second["message"]["payload"]["sequence"] = None
    # The second report starts from the totals the first one left: compare the increments.
    assert first["event"]["after"]["confirmation"] == second["event"]["after"]["confirmation"]
    first["event"]["before"] = first["event"]["after"] = second["event"]["before"] = second["event"]["after"] = None
    first["operation"] = second["operation"] = None
    assert first == second


@pytest.mark.postgresql_only(reason="the fast path writes a confirmation in one WITH statement")
def test_a_confirmation_is_three_statements_and_its_write_fits_psycopgs_query_cache(released_order):
    confirm(good_qty=1)  # the order's first report also moves its status; the steady state is what counts
    statements = []

    def spy(execute, sql, params, many, context):
        if not sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT")):
            statements.append((sql, len(params or ())))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        confirm(good_qty=2, operator_badge="B-1001", station="ST-7", labor_minutes=3)

    assert len(statements) == 3, statements  # lock, read, write
    # psycopg converts a query's placeholders once and caches it only up to 50 parameters.
    assert statements[-1][1] <= 50

    # Scrap may tip the operation into a quality stop: only then is its window read, after the write.
    statements.clear()
    with connection.execute_wrapper(spy):
        confirm(good_qty=2, scrap_qty=1, reason_code="SCRAP-01", operator_badge="B-1001", station="ST-7", labor_minutes=3)
    assert len(statements) <= 8, statements
    assert statements[2][1] <= 50 and statements[2][0].lstrip().startswith("WITH")
    assert all(sql.lstrip().startswith("SELECT") for sql, _count in statements[3:]), statements[3:]

    # Labor minutes left out with an operator named: one more, the operator's clocked sessions.
    statements.clear()
    with connection.execute_wrapper(spy):
        confirm(good_qty=1, operator_badge="B-1001")
    assert len(statements) == 4, statements
    assert "mes_laborsession" in statements[2][0] and statements[2][0].lstrip().startswith("SELECT")


@pytest.mark.postgresql_only(reason="prepared statements and their plans are PostgreSQL's")
def test_a_single_reports_order_lock_is_planned_once_per_connection_not_on_every_report(released_order):
    for _ in range(12):  # psycopg prepares a statement on its fifth run; PostgreSQL weighs a generic plan after five more
        confirm(good_qty=Decimal("0.5"))

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%o.number = $1%FOR UPDATE OF o%"],
        )
        ((generic_plans, custom_plans),) = cursor.fetchall()
    assert generic_plans > 0 and custom_plans <= 5, (generic_plans, custom_plans)


@pytest.mark.postgresql_only(reason="the one-statement write is PostgreSQL's")
def test_with_plain_sql_writes_off_the_orm_writes_each_row_on_postgresql_too(released_order, settings):
    settings.MES_PLAIN_SQL_WRITES = False
    confirm(good_qty=1)
    statements = []

    def spy(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        confirm(good_qty=2, operator_badge="B-1001")

    writes = [sql.split(" ", 3)[:3] for sql in statements if sql.startswith(("INSERT", "UPDATE", "WITH"))]
    assert writes == [
        ["INSERT", "INTO", '"mes_confirmation"'], ["UPDATE", '"mes_workorderoperation"', "SET"],
        ["INSERT", "INTO", '"mes_event"'], ["INSERT", "INTO", '"erp_sync_outboxmessage"'],
    ]  # no event destination: no copy for the event stream

    event_destination_upsert(name="stream", url="mqtt://127.0.0.1:1883", topic_prefix="test/outbox/")
    statements.clear()
    with connection.execute_wrapper(spy):
        confirm(good_qty=3, operator_badge="B-1001")
    writes = [sql.split(" ", 3)[:3] for sql in statements if sql.startswith(("INSERT", "UPDATE", "WITH"))]
    assert writes[-1] == ["INSERT", "INTO", '"erp_sync_streamevent"']  # the event stream's copy, in the same transaction


@pytest.mark.postgresql_only(reason="COPY is PostgreSQL's")
def test_a_batch_written_with_copy_stores_what_the_orms_bulk_writes_store(released_order, plant, settings):
    WorkOrderFactory(number="WO-1002", item=plant["item"], quantity=D("10"))
    work_order_transition(number="WO-1002", action="release")
    for number in (ORDER, "WO-1002"):
        confirm(number, good_qty=1)  # both orders running: no report below moves a status

    def batch():
        requests = [
            confirmation_request(ORDER, good_qty=2, operator_badge="B-1001", station="ST-7"),
            confirmation_request("WO-1002", good_qty=1, scrap_qty=1, reason_code="SCRAP-01", labor_minutes="2.5"),
            confirmation_request(ORDER, good_qty=1),
        ]
        return [answer for answer in operation_confirm_many(requests=requests)]

    copied = batch()
    settings.MES_PLAIN_SQL_WRITES = False
    orm = batch()

    assert all(answer.created and answer.confirmation.pk and not answer.confirmation._state.adding for answer in copied)
    for ours, theirs in zip(copied, orm):
        first, second = _stored(ours, with_message=False), _stored(theirs, with_message=False)
        first["message"]["sequence"] = first["message"]["payload"]["sequence"] = None
        second["message"]["sequence"] = second["message"]["payload"]["sequence"] = None
        for row in (first, second):
            row["event"]["before"] = row["event"]["after"]["operation_totals"] = None
            row["operation"] = None
        assert first == second
    # The totals of both orders' operations are the sums of what was recorded.
    for operation in WorkOrderOperation.objects.filter(sequence=10):
        recorded = Confirmation.objects.filter(operation=operation)
        assert operation.good_qty == sum(c.good_qty for c in recorded)
        assert operation.scrap_qty == sum(c.scrap_qty for c in recorded)
        assert operation.labor_minutes == sum(c.labor_minutes for c in recorded)
    sequences = list(OutboxMessage.objects.filter(partition_key=ORDER).order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(1, len(sequences) + 1))
