"""The hot path's plain-SQL helpers read and write exactly what the ORM reads and writes."""

from __future__ import annotations

from mes.models import Item, WorkOrder, WorkOrderOperation
from mes.services.sql import partial_instance, raw_instances, relate


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
