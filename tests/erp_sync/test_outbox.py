"""The outbox door refuses to write outside the transaction of the facts it reports."""

import uuid

import pytest

from erp_sync.models import OutboxMessage
from erp_sync.outbox import outbox_add


@pytest.mark.django_db(transaction=True)
def test_outbox_add_outside_a_transaction_is_refused():
    key = uuid.uuid4()

    with pytest.raises(RuntimeError):
        outbox_add(kind="confirmation", partition_key="WO-1", source_uuid=key, idempotency_key=key, payload={})

    assert OutboxMessage.objects.count() == 0


def test_outbox_add_inside_a_transaction_numbers_the_partition(db):
    keys = [uuid.uuid4() for _ in range(2)]

    first = outbox_add(kind="confirmation", partition_key="WO-1", source_uuid=keys[0], idempotency_key=keys[0], payload={"a": 1})
    second = outbox_add(kind="reversal", partition_key="WO-1", source_uuid=keys[1], idempotency_key=keys[1], payload={})

    assert (first.sequence, second.sequence) == (1, 2)
    assert OutboxMessage.objects.get(pk=first.pk).payload == {"a": 1, "idempotency_key": str(keys[0]), "sequence": 1}
