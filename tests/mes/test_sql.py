"""The hot path's plain-SQL helpers read and write exactly what the ORM reads and writes."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from common.fastsql import partial_instance, raw_instances, relate
from mes.models import Item, WorkOrder, WorkOrderOperation


def _fields(obj) -> dict:
    return {field.attname: getattr(obj, field.attname) for field in obj._meta.concrete_fields}


def test_raw_instances_read_what_the_orm_reads(released_order):
    orm = list(WorkOrderOperation.objects.filter(work_order=released_order).order_by("sequence"))

    ours = raw_instances(
        WorkOrderOperation,
        "SELECT op.*, 7 AS extra FROM mes_workorderoperation op WHERE op.work_order_id = %s ORDER BY op.sequence",
        [released_order.pk],
    )

    assert [_fields(operation) for operation in ours] == [_fields(operation) for operation in orm]
    assert all(operation.extra == 7 and not operation._state.adding and operation._state.db == "default" for operation in ours)
    assert ours == orm  # same model, same primary keys
    # A second run reuses the column mapping; a query of another width works it out anew.
    assert [_fields(o) for o in raw_instances(WorkOrderOperation, "SELECT op.*, 7 AS extra FROM mes_workorderoperation op "
                                             "WHERE op.work_order_id = %s ORDER BY op.sequence", [released_order.pk])] == [
        _fields(o) for o in orm
    ]


def test_a_partial_instance_defers_what_it_was_not_given_and_saves_like_a_loaded_row(released_order):
    item = released_order.item
    partial = partial_instance(Item, id=item.pk, code=item.code, unit_id=item.unit_id)

    assert partial.get_deferred_fields() >= {"name", "uuid", "description"}
    assert partial.uuid == item.uuid  # read from the database when asked for, never invented
    assert partial.code == item.code and not partial._state.adding

    order = WorkOrder.objects.get(pk=released_order.pk)
    relate(order, "item", partial)
    assert order.item is partial  # attached without a query
    order.priority = 2
    order.save(update_fields=["priority"])
    assert WorkOrder.objects.get(pk=order.pk).priority == 2


def _new_row_fields(obj) -> dict:
    """A new row's fields, with what is made afresh each time (uuids, times) reduced to its type."""
    fields = _fields(obj)
    for name in ("uuid", "idempotency_key", "next_attempt_at"):
        if name in fields:
            fields[name] = type(fields[name])
    return fields


def test_new_instance_builds_what_the_model_builds(released_order, plant):
    from decimal import Decimal

    from django.contrib.auth import get_user_model

    from common.fastsql import new_instance
    from erp_sync.models import OutboxMessage
    from mes.models import Confirmation, Employee, Event, ReasonCode

    user = get_user_model().objects.create(username="someone")
    operation = released_order.operations.get(sequence=10)
    operator, reason = Employee.objects.get(badge="B-1001"), ReasonCode.objects.get(code="SCRAP-01")
    cases = [
        (Confirmation, {"client_id": released_order.uuid, "request_hash": "x", "work_order": released_order, "operation": operation,
                        "good_qty": Decimal("1.000"), "reason_code": reason, "operator": operator, "station": "ST",
                        "recorded_by": user, "reverses": None}),
        (Confirmation, {"client_id": released_order.uuid, "work_order_id": released_order.pk, "operation_id": operation.pk}),
        (Event, {"actor": None, "actor_label": "B-1001", "object_type": "confirmation", "object_key": "k", "work_order": released_order,
                 "action": "confirm", "before": {"a": 1}, "after": {"b": 2}}),
        (OutboxMessage, {"idempotency_key": released_order.uuid, "kind": "confirmation", "partition_key": "WO", "sequence": 3,
                         "source_uuid": released_order.uuid, "payload": {"p": 1}}),
    ]
    for model, values in cases:
        ours, theirs = new_instance(model, **values), model(**values)
        assert _new_row_fields(ours) == _new_row_fields(theirs)
        assert ours._state.adding and ours._state.db is None
        for name in values:
            assert getattr(ours, name) is getattr(theirs, name) or getattr(ours, name) == getattr(theirs, name)
    confirmation = new_instance(Confirmation, client_id=released_order.uuid, work_order=released_order, operation=operation)
    assert confirmation.work_order is released_order  # attached, no query


def test_plain_values_skip_only_preparation_that_changes_nothing(released_order):
    import datetime
    import warnings
    from decimal import Decimal

    from django.db import connection

    from common.fastsql import _prepared
    from erp_sync.models import OutboxMessage
    from mes.models import Event
    from tests.helpers import confirm

    result = confirm(good_qty=2, scrap_qty=1, reason_code="SCRAP-01", operator_badge="B-1001", station="ST-7")
    rows = [
        result.confirmation,
        Event.objects.get(object_key=str(result.confirmation.uuid)),
        OutboxMessage.objects.get(source_uuid=result.confirmation.uuid),
        WorkOrderOperation.objects.get(pk=result.confirmation.operation_id),
    ]

    def unwrapped(value):
        return getattr(value, "obj", value)  # psycopg's Jsonb wrapper, compared by what it wraps

    for row in rows:
        for field in type(row)._meta.concrete_fields:
            if getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False):
                continue  # a new time on each call either way
            expected = field.get_db_prep_save(field.pre_save(row, add=False), connection)
            assert unwrapped(_prepared(row, field, connection, add=False)) == unwrapped(expected), (type(row), field.name)

    operation = rows[-1]
    field = WorkOrderOperation._meta.get_field("good_qty")
    operation.good_qty = Decimal("NaN")
    with pytest.raises(ValidationError):
        _prepared(operation, field, connection, add=False)  # refused as the field refuses it
    naive = datetime.datetime(2026, 1, 1, 8, 0)
    operation.last_activity_at = naive
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        made_aware = _prepared(operation, WorkOrderOperation._meta.get_field("last_activity_at"), connection, add=False)
    assert made_aware.tzinfo is not None if connection.vendor == "postgresql" else True


def test_confirmations_never_read_the_columns_the_hot_path_leaves_out(released_order, monkeypatch):
    """The order and operation columns a confirmation does not select are never read later
    (that would cost a query each): first report, steady state, resend, final reports."""
    from django.db.models import Model

    from mes.models import WorkOrder
    from tests.helpers import confirm

    def refused(self, *args, **kwargs):
        raise AssertionError(f"{type(self).__name__} read a deferred column: {kwargs or args}")

    monkeypatch.setattr(Model, "refresh_from_db", refused)
    first = confirm(good_qty=4, operator_badge="B-1001")  # starts the order and the operation
    confirm(good_qty=1, scrap_qty=1, reason_code="SCRAP-01")
    confirm(client_id=first.confirmation.client_id, good_qty=4, operator_badge="B-1001")  # a resend
    confirm(good_qty=4, final=True)
    confirm(operation=20, good_qty=9, final=True)
    confirm(operation=30, good_qty=9, final=True)  # completes the order

    monkeypatch.undo()
    assert WorkOrder.objects.get(pk=released_order.pk).status == "completed"


def test_the_plain_sql_helpers_refuse_a_model_whose_save_adds_behaviour(released_order):
    from django.db import models
    from django.test.utils import isolate_apps

    from common.fastsql import (
        SaveBehaviourError,
        copy_instances,
        insert_statement,
        require_plain_save,
        update_statement,
    )
    from mes.models import Confirmation, Event, WorkOrderOperation

    with isolate_apps("mes"):
        class Stamped(models.Model):
            note = models.CharField(max_length=10)

            class Meta:
                app_label = "mes"

            def save(self, *args, **kwargs):
                self.note = "stamped"  # what plain SQL would silently leave out
                super().save(*args, **kwargs)

        class Inheriting(Stamped):
            class Meta:
                app_label = "mes"
                proxy = True

    for model in (Stamped, Inheriting):
        row = model(note="x")
        with pytest.raises(SaveBehaviourError, match=r"save\(\) is overridden \(in Stamped\)"):
            insert_statement(row)
        with pytest.raises(SaveBehaviourError):
            update_statement(model(pk=1, note="x"), ["note"])
        with pytest.raises(SaveBehaviourError):
            copy_instances([row])
    # The rows of a confirmation have no such save(): the fast path may write them.
    assert [require_plain_save(model) for model in (Confirmation, Event, WorkOrderOperation)] == [Confirmation, Event, WorkOrderOperation]


def test_a_stored_audit_event_still_cannot_be_saved_again(released_order):
    from django.db import transaction

    from mes.models import Event
    from mes.models.audit import AppendOnlyError

    event = Event.objects.order_by("pk").first()
    reason = event.reason

    event.reason = "forged"
    # Refused as the UPDATE is about to be sent: like any failed ORM write, inside the caller's transaction.
    with pytest.raises(AppendOnlyError), transaction.atomic():
        event.save()
    with pytest.raises(AppendOnlyError), transaction.atomic():
        event.save(update_fields=["reason"])

    assert Event.objects.get(pk=event.pk).reason == reason
    Event(object_type="test", object_key="k", action="note").save()  # a new row is written as ever
    assert Event.objects.filter(object_type="test").count() == 1
