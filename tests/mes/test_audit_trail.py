"""The audit trail cannot be rewritten: not through the ORM, not through SQL, and a change
made around both (by the table's owner) is found by ``audit_verify``."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from mes.models import Event
from mes.models.audit import AppendOnlyError, EventSeal
from mes.selectors.audit import audit_chain_verify
from mes.services.audit import event_record, events_seal

pytestmark = pytest.mark.django_db


def _events(count: int = 3, **fields) -> list[Event]:
    return [
        event_record(object_type="item", object_key=f"ITEM-{index}", action="update", before={"name": "a"},
                     after={"name": f"b{index}"}, **fields)
        for index in range(count)
    ]


def _verify() -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("audit_verify", stdout=out, stderr=out)
    except SystemExit as exit_:
        return int(exit_.code), out.getvalue()
    return 0, out.getvalue()


def _as_owner(sql: str, params: list) -> None:
    """What only a superuser (or the tables' owner) can do: write past the append-only triggers."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(sql, params)
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")


# --- append-only -------------------------------------------------------------------------


def test_queryset_update_and_delete_of_events_are_refused():
    event = _events(1)[0]

    with pytest.raises(AppendOnlyError):
        Event.objects.filter(pk=event.pk).update(reason="forged")
    with pytest.raises(AppendOnlyError):
        Event.objects.filter(pk=event.pk).delete()
    with pytest.raises(AppendOnlyError):
        Event.objects.bulk_update([event], ["reason"])

    assert list(Event.objects.values_list("pk", "reason")) == [(event.pk, "")]


@pytest.mark.parametrize(
    "sql",
    ["UPDATE mes_event SET reason = 'forged' WHERE id = %s", "DELETE FROM mes_event WHERE id = %s"],
    ids=["update", "delete"],
)
@pytest.mark.postgresql_only(reason="the append-only triggers of migration 0005 are created on PostgreSQL only")
def test_sql_that_changes_an_event_is_refused_by_the_database(sql):
    event = _events(1)[0]

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [event.pk])

    assert list(Event.objects.values_list("pk", "reason")) == [(event.pk, "")]


@pytest.mark.postgresql_only(reason="the append-only triggers of migration 0005 are created on PostgreSQL only")
def test_sql_that_changes_a_seal_is_refused_by_the_database():
    _events(1)
    events_seal()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE mes_eventseal SET chain_hash = 'x'")

    assert EventSeal.objects.exclude(chain_hash="x").count() == 1


def test_deleting_a_user_keeps_their_events_unchanged_with_their_name():
    user = get_user_model().objects.create(username="wang")
    user_id = user.pk
    event = _events(1, actor=user)[0]
    events_seal()

    user.delete()

    stored = Event.objects.select_related("actor").get(pk=event.pk)
    assert (stored.actor, stored.actor_id, stored.actor_label) == (None, user_id, "wang")
    assert not get_user_model().objects.filter(username="wang").exists()
    assert audit_chain_verify().intact


# --- the chain ---------------------------------------------------------------------------


def test_sealing_chains_every_event_once_in_id_order():
    events = _events(3)

    first = events_seal()
    again = events_seal()

    assert (first, again) == (3, 0)
    assert list(EventSeal.objects.order_by("id").values_list("event_id", flat=True)) == [event.pk for event in events]
    code, output = _verify()
    assert code == 0
    assert "3 events sealed, intact" in output


def test_an_event_committed_after_later_ones_were_sealed_is_sealed_next_time():
    """Events are numbered at insert and committed in any order: a straggler is sealed by the next run."""
    events = _events(2)
    early = Event(object_type="item", object_key="LATE", action="update")
    early.pk = events[0].pk - 1  # its transaction took an id before the others and commits only now
    events_seal()

    early.save(force_insert=True)
    sealed = events_seal()

    assert sealed == 1
    assert EventSeal.objects.order_by("-id").values_list("event_id", flat=True)[0] == early.pk
    assert audit_chain_verify().intact


@pytest.mark.postgresql_only(reason="the forgery writes past the triggers with session_replication_role")
def test_audit_verify_reports_the_first_event_changed_after_it_was_sealed():
    events = _events(4)
    events_seal()
    _as_owner("UPDATE mes_event SET after = %s WHERE id = %s", ['{"name": "forged"}', events[1].pk])
    _as_owner("UPDATE mes_event SET reason = 'also forged' WHERE id = %s", [events[3].pk])

    code, output = _verify()

    assert code == 1
    assert f"event #{events[1].pk} (item ITEM-1 update) was changed after it was sealed" in output
    assert f"#{events[3].pk}" not in output


@pytest.mark.postgresql_only(reason="the forgery writes past the triggers with session_replication_role")
def test_audit_verify_reports_a_deleted_event():
    events = _events(3)
    events_seal()
    _as_owner("DELETE FROM mes_event WHERE id = %s", [events[0].pk])

    code, output = _verify()

    assert code == 1
    assert f"event #{events[0].pk} was deleted" in output


@pytest.mark.postgresql_only(reason="the forgery writes past the triggers with session_replication_role")
def test_audit_verify_reports_a_seal_removed_from_the_chain():
    events = _events(3)
    events_seal()
    _as_owner("DELETE FROM mes_eventseal WHERE event_id = %s", [events[1].pk])

    code, output = _verify()

    assert code == 1
    assert f"the chain breaks before event #{events[2].pk}" in output


def test_audit_verify_of_an_empty_trail_is_intact():
    code, output = _verify()

    assert code == 0
    assert "0 events sealed, intact" in output


def test_the_confirmation_fast_path_writes_events_that_seal_and_verify(released_order):
    from tests.helpers import confirm

    confirm(good_qty=2)
    confirm(good_qty=3)

    sealed = events_seal()

    assert sealed == Event.objects.count() > 0
    assert audit_chain_verify().intact
