"""The one way a confirmation's rows are written, for a single report, a batch and a reversal alike:
the confirmation, its operation's new totals, its audit event and its ERP message, and the
material it moved (``mes.services.confirmation_materials``): new output lots and serials, the
movements, the lots' and components' new totals and the goods messages, after its own message.

The ORM writes them: the reference, on any database. On PostgreSQL the same rows go as plain
SQL instead (``common.fastsql``: the values each field would store through the ORM), because
the ORM's compiling was most of a confirmation's CPU: one data-modifying ``WITH`` statement for
one confirmation or reversal, whatever it moved (one round trip instead of four, or a dozen
for a report that backflushes), COPY for a batch. The plain SQL never calls
``save()``, so every model written here is checked when this module is imported: one that
overrides ``save()`` stops the import instead of silently losing what its ``save()`` adds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
from mes.services.reschedule import reschedule_after_commit

QUANTITY_FIELDS = ("good_qty", "scrap_qty", "rework_qty")
#: What a confirmation changes on its operation.
TOTAL_FIELDS = [*QUANTITY_FIELDS, "labor_minutes", "machine_minutes", "last_activity_at"]

#: The most movements one report writes in its one statement: a report receiving many serials
#: (up to 10,000) writes a lot and a movement for each, by COPY: one statement would pass more
#: parameters than PostgreSQL's protocol carries (65,535).
ONE_STATEMENT_MOVEMENTS = 50

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
    reschedule_after_commit()  # the work ahead changed; a clock reading most of the time
    operations = list(rows.operations.values())
    if not fast_writes():
        Confirmation.objects.bulk_create(rows.confirmations)
        WorkOrderOperation.objects.bulk_update(operations, TOTAL_FIELDS)
        Event.objects.bulk_create(rows.events)
        _write_materials(rows.materials)
        return outbox_add_many(messages=rows.messages)
    if len(rows.confirmations) == 1 and len(rows.materials.movements) <= ONE_STATEMENT_MOVEMENTS:
        return _write_in_one_statement(rows)
    if len(rows.confirmations) == 1:  # many serials: their lots and movements by COPY, the report's rows one INSERT each
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


def _write_in_one_statement(rows: ConfirmationRows) -> list[OutboxMessage]:
    """Every write of one confirmation (or reversal) as one PostgreSQL statement, a data-modifying
    ``WITH``: the confirmation, its operation's totals, its event, the new lots, the movements, the
    lots' and components' totals and its messages. A row written here that another row points at
    (the confirmation, a new lot) is named by its part of the statement, ``(SELECT id FROM …)``."""
    (confirmation,), (event,), (operation,) = rows.confirmations, rows.events, rows.operations.values()
    materials = rows.materials
    parts: list[str] = []
    params: list[Any] = []
    inserted: list[tuple[str, Any]] = []  # (part, instance) of each row whose key the database draws

    def insert(name: str, obj: Any, expressions: dict[str, str] | None = None) -> None:
        sql, values = insert_statement(obj, expressions)
        parts.append(f"{name} AS ({sql} RETURNING id)")
        params.extend(values)
        inserted.append((name, obj))

    def update(name: str, obj: Any, names: list[str]) -> None:
        sql, values = update_statement(obj, names)
        parts.append(f"{name} AS ({sql})")
        params.extend(values)

    insert("c", confirmation)
    update("t", operation, TOTAL_FIELDS)
    insert("e", event)
    new_lots = {id(lot): f"l{index}" for index, lot in enumerate(materials.new_lots)}
    for lot in materials.new_lots:
        insert(new_lots[id(lot)], lot)
    for index, movement in enumerate(materials.movements):
        expressions = {}
        if movement.confirmation is confirmation:
            expressions["confirmation_id"] = "(SELECT id FROM c)"
        if movement.lot is not None and id(movement.lot) in new_lots:
            expressions["lot_id"] = f"(SELECT id FROM {new_lots[id(movement.lot)]})"
        insert(f"mv{index}", movement, expressions)
    for index, lot in enumerate(materials.lots.values()):
        update(f"lt{index}", lot, LOT_TOTAL_FIELDS)
    for index, component in enumerate(materials.components.values()):
        update(f"ct{index}", component, ["issued_qty"])
    pending = outbox_add_sql(messages=rows.messages)
    keys = ", ".join(f"(SELECT id FROM {name})" for name, _obj in inserted)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH {', '.join(parts)}, {pending.ctes} SELECT m.id, m.sequence, ARRAY[{keys}] FROM outbox_message m",
            [*params, *pending.params],
        )
        stored = cursor.fetchall()
    for (_name, obj), pk in zip(inserted, stored[0][2], strict=True):
        mark_inserted(obj, pk)
    for movement in materials.movements:  # the keys of the rows written with them, as save() would take them
        movement.confirmation_id = movement.confirmation.pk
        movement.lot_id = movement.lot.pk if movement.lot is not None else None
    return pending.written([(pk, sequence) for pk, sequence, _keys in stored])
