"""The one way a confirmation's rows are written, for a single report, a batch and a reversal alike:
the confirmation, its operation's new totals, its audit event and its ERP message, and the
material it moved (``mes.services.confirmation_materials``): new output lots and serials, the
movements, the lots' and components' new totals and the goods messages, after its own message.

The ORM writes them: the reference, on any database. On PostgreSQL the same rows go as plain
SQL instead (``common.fastsql``: the values each field would store through the ORM), because
the ORM's compiling was most of a confirmation's CPU: one data-modifying ``WITH`` statement for
one confirmation (one round trip instead of four), COPY for a batch. Reports that move material
take the batch way (the material rows through the ORM): the one statement is kept for the
reports that move none, the plant's most frequent. The plain SQL never calls
``save()``, so every model written here is checked when this module is imported: one that
overrides ``save()`` stops the import instead of silently losing what its ``save()`` adds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection

from common.fastsql import (
    copy_instances,
    insert_instance,
    insert_statement,
    mark_inserted,
    require_plain_save,
    update_instances,
    update_statement,
)
from erp_sync.outbox import NewMessage, OutboxMessage, outbox_add_many, outbox_add_sql
from mes.models import Confirmation, Event, Lot, MaterialMovement, WorkOrderComponent, WorkOrderOperation
from mes.services.confirmation_materials import MaterialRows

QUANTITY_FIELDS = ("good_qty", "scrap_qty", "rework_qty")
#: What a confirmation changes on its operation.
TOTAL_FIELDS = [*QUANTITY_FIELDS, "labor_minutes", "machine_minutes", "last_activity_at"]

#: What a movement changes on its lot.
LOT_TOTAL_FIELDS = ["issued_qty", "produced_qty", "updated_at"]

for _model in (Confirmation, WorkOrderOperation, Event, OutboxMessage, Lot, MaterialMovement, WorkOrderComponent):
    require_plain_save(_model)


@dataclass
class ConfirmationRows:
    """The rows of one or more confirmations (or reversals), gathered for one write."""

    confirmations: list[Confirmation] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    messages: list[NewMessage] = field(default_factory=list)
    operations: dict[int, WorkOrderOperation] = field(default_factory=dict)  # new totals, by primary key
    materials: MaterialRows = field(default_factory=MaterialRows)

    def add(self, confirmation: Confirmation, event: Event, message: NewMessage, goods: list[NewMessage] = ()) -> None:
        """One confirmation's rows; ``goods``: the goods messages of its movements, queued after its own."""
        self.confirmations.append(confirmation)
        self.events.append(event)
        self.messages.append(message)
        self.messages.extend(goods)
        self.operations[confirmation.operation.pk] = confirmation.operation


def fast_writes() -> bool:
    """Whether the rows go as PostgreSQL's plain SQL (a data-modifying WITH, COPY) instead of the ORM."""
    return connection.vendor == "postgresql" and settings.MES_PLAIN_SQL_WRITES


def confirmation_rows_write(*, rows: ConfirmationRows) -> list[OutboxMessage]:
    """Insert the confirmations, events and ERP messages and update the operations' totals;
    return the messages as stored, in order.

    Precondition: inside ``transaction.atomic``, holding the lock on every work order the rows
    name (the outbox numbers each order's messages under that lock) and on every lot they change.
    """
    if not rows.confirmations:
        return []
    operations = list(rows.operations.values())
    if not fast_writes():
        Confirmation.objects.bulk_create(rows.confirmations)
        WorkOrderOperation.objects.bulk_update(operations, TOTAL_FIELDS)
        Event.objects.bulk_create(rows.events)
        _write_materials(rows.materials)
        return outbox_add_many(messages=rows.messages)
    if len(rows.confirmations) == 1 and not rows.materials:
        return [_write_in_one_statement(rows.confirmations[0], operations[0], rows.events[0], rows.messages[0])]
    if len(rows.confirmations) == 1:  # one report that moved material: one INSERT each, not COPY's two round trips
        insert_instance(rows.confirmations[0])
        update_instances(operations, TOTAL_FIELDS)
        insert_instance(rows.events[0])
    else:
        copy_instances(rows.confirmations)
        update_instances(operations, TOTAL_FIELDS)
        copy_instances(rows.events)
    _write_materials(rows.materials)
    return outbox_add_many(messages=rows.messages)


def _write_materials(materials: MaterialRows) -> None:
    """New lots first (movements point at them), then the movements, then the changed totals.
    Written after the confirmations, whose keys the movements carry."""
    if not materials:
        return
    fast = fast_writes()
    if materials.new_lots:
        copy_instances(materials.new_lots) if fast else Lot.objects.bulk_create(materials.new_lots)
    for movement in materials.movements:
        # Related rows written since the movement was built: take their keys, as save() would.
        movement.confirmation_id = movement.confirmation.pk
        movement.lot_id = movement.lot.pk if movement.lot is not None else None
    copy_instances(materials.movements) if fast else MaterialMovement.objects.bulk_create(materials.movements)
    for rows, model, names in (
        (list(materials.lots.values()), Lot, LOT_TOTAL_FIELDS), (list(materials.components.values()), WorkOrderComponent, ["issued_qty"]),
    ):
        if rows:
            update_instances(rows, names) if fast else model.objects.bulk_update(rows, names)


def _write_in_one_statement(
    confirmation: Confirmation, operation: WorkOrderOperation, event: Event, message: NewMessage
) -> OutboxMessage:
    """The four writes of one confirmation as one PostgreSQL statement (a data-modifying WITH)."""
    confirmation_sql, confirmation_params = insert_statement(confirmation)
    totals_sql, totals_params = update_statement(operation, TOTAL_FIELDS)
    event_sql, event_params = insert_statement(event)
    pending = outbox_add_sql(message=message)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH c AS ({confirmation_sql} RETURNING id), t AS ({totals_sql}), e AS ({event_sql} RETURNING id), "
            f"{pending.ctes} SELECT c.id, e.id, m.id, m.sequence FROM c, e, outbox_message m",
            [*confirmation_params, *totals_params, *event_params, *pending.params],
        )
        confirmation_id, event_id, message_id, sequence = cursor.fetchone()
    mark_inserted(confirmation, confirmation_id)
    mark_inserted(event, event_id)
    return pending.written(message_id, sequence)
