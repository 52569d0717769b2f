"""Migrations after the initial ones never block writes to the confirmation and outbox tables:
indexes are built concurrently, other changes wait for their locks only briefly (docs/migrations.md)."""

from __future__ import annotations

import re

import pytest
from django.apps import apps
from django.db import NotSupportedError, connection, migrations, models, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState
from django.test.utils import CaptureQueriesContext

from common.migration_operations import BUSY_TABLES, AddIndexConcurrently, LockTimeout

#: Written before the rule, and applied on databases in use: never rewritten.
INITIAL = {
    ("mes", "0001_initial"), ("mes", "0002_role_groups"), ("mes", "0003_api_access"), ("mes", "0004_employee_station_pin"),
    ("erp_sync", "0001_initial"), ("erp_sync", "0002_delivery"), ("erp_sync", "0003_reconciliation"),
}
PROJECT_APPS = {"mes", "erp_sync", "shopfloor"}
CREATE_INDEX = re.compile(r"\bCREATE\s+(UNIQUE\s+)?INDEX\b(?!\s+CONCURRENTLY)", re.IGNORECASE)


def _busy_db_tables() -> dict[str, tuple[str, str]]:
    return {apps.get_model(app_label, model)._meta.db_table: (app_label, model) for app_label, model in BUSY_TABLES}


def _builds_index(operation) -> bool:
    if isinstance(operation, migrations.AddIndex):
        return type(operation) is not AddIndexConcurrently
    if isinstance(operation, migrations.AddConstraint):
        return not isinstance(operation.constraint, models.CheckConstraint)
    if isinstance(operation, (migrations.AddField, migrations.AlterField)):
        field = operation.field
        return bool(field.unique or field.db_index)  # a ForeignKey is indexed unless db_index=False
    if isinstance(operation, (migrations.AlterUniqueTogether, migrations.AlterIndexTogether)):
        return bool(operation.option_value)
    return False


def _touched_tables(app_label: str, operation) -> set[tuple[str, str]]:
    if isinstance(operation, migrations.RunSQL):
        sql = " ".join(str(part) for part in (operation.sql if isinstance(operation.sql, (list, tuple)) else [operation.sql]))
        return {key for table, key in _busy_db_tables().items() if re.search(rf"\b{table}\b", sql)}
    model_name = getattr(operation, "model_name", None) or getattr(operation, "name", None)
    return {(app_label, str(model_name).lower())} & BUSY_TABLES if model_name else set()


def busy_table_problems(migration) -> list[str]:
    """What in ``migration`` would block writes to a busy table (empty: nothing)."""
    problems = []
    lock_timeout_set = False
    for operation in migration.operations:
        if isinstance(operation, LockTimeout):
            lock_timeout_set = True
            continue
        if not _touched_tables(migration.app_label, operation):
            continue
        where = f"{migration.app_label}.{migration.name}: {operation.describe()}"
        sql = str(operation.sql) if isinstance(operation, migrations.RunSQL) else ""
        if type(operation) is AddIndexConcurrently or "CONCURRENTLY" in sql.upper():
            if migration.atomic:
                problems.append(f"{where}: the migration needs atomic = False")
        elif _builds_index(operation) or CREATE_INDEX.search(sql):
            problems.append(f"{where}: builds an index while blocking writes; use common.migration_operations.AddIndexConcurrently")
        elif not (lock_timeout_set and migration.atomic):
            problems.append(f"{where}: put it in an atomic migration that starts with common.migration_operations.LockTimeout()")
    return problems


def test_no_later_migration_blocks_writes_to_the_confirmation_or_outbox_table():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    later = [migration for key, migration in loader.disk_migrations.items() if key[0] in PROJECT_APPS and key not in INITIAL]

    assert [problem for migration in later for problem in busy_table_problems(migration)] == []


def _migration(app_label: str, operations: list, *, atomic: bool = True):
    return type("Migration", (migrations.Migration,), {"operations": operations, "atomic": atomic})("0099_later", app_label)


@pytest.mark.parametrize(
    ("app_label", "operations", "atomic", "problem"),
    [
        ("mes", [migrations.AddIndex("confirmation", models.Index(fields=["station"], name="confirmation_station"))], True, "builds an index"),
        ("erp_sync", [migrations.AddField("outboxmessage", "batch", models.ForeignKey("erp_sync.erpconnection", models.SET_NULL, null=True))], True, "builds an index"),
        ("mes", [LockTimeout(), migrations.AddConstraint("confirmation", models.UniqueConstraint(fields=["station", "client_id"], name="confirmation_once"))], True, "builds an index"),
        ("erp_sync", [migrations.RunSQL("CREATE INDEX outbox_due ON erp_sync_outboxmessage (next_attempt_at)")], True, "builds an index"),
        ("erp_sync", [AddIndexConcurrently("outboxmessage", models.Index(fields=["kind"], name="outbox_kind"))], True, "atomic = False"),
        ("mes", [migrations.AddField("confirmation", "shift", models.CharField(max_length=16, default=""))], True, "LockTimeout()"),
    ],
)
def test_the_check_names_what_would_block_writes(app_label, operations, atomic, problem):
    problems = busy_table_problems(_migration(app_label, operations, atomic=atomic))

    assert len(problems) == 1 and problem in problems[0]


def test_the_check_accepts_the_documented_pattern():
    index_migration = _migration(
        "erp_sync", [AddIndexConcurrently("outboxmessage", models.Index(fields=["kind"], name="outbox_kind"))], atomic=False
    )
    column_migration = _migration("mes", [LockTimeout(), migrations.AddField("confirmation", "shift", models.CharField(max_length=16, default=""))])
    other_table = _migration("mes", [migrations.AddIndex("workorder", models.Index(fields=["due_date"], name="work_order_due"))])
    concurrent_sql = _migration("erp_sync", [migrations.RunSQL("CREATE INDEX CONCURRENTLY outbox_due ON erp_sync_outboxmessage (next_attempt_at)")], atomic=False)

    assert [busy_table_problems(migration) for migration in (index_migration, column_migration, other_table, concurrent_sql)] == [[], [], [], []]


# --- the operations on a real PostgreSQL ------------------------------------------------------------

INDEX = models.Index(fields=["kind", "created_at"], name="outbox_kind_created_test")


def _index_state() -> tuple[bool, bool] | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid, i.indisready FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s",
            [INDEX.name],
        )
        row = cursor.fetchone()
    return tuple(row) if row else None


def _apply(operation, *, backwards: bool = False) -> list[str]:
    before = ProjectState.from_apps(apps)
    after = before.clone()
    operation.state_forwards("erp_sync", after)
    with CaptureQueriesContext(connection) as queries, connection.schema_editor(atomic=False) as editor:
        if backwards:
            operation.database_backwards("erp_sync", editor, after, before)
        else:
            operation.database_forwards("erp_sync", editor, before, after)
    return [query["sql"] for query in queries.captured_queries]


def _show_lock_timeout() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgresql_only(reason="CREATE INDEX CONCURRENTLY and lock_timeout")
def test_an_index_is_built_concurrently_under_a_lock_timeout_and_a_leftover_is_replaced():
    operation = AddIndexConcurrently("outboxmessage", INDEX, lock_timeout="2s")
    with connection.cursor() as cursor:  # what an interrupted earlier run left behind
        cursor.execute(f"CREATE INDEX {INDEX.name} ON erp_sync_outboxmessage (sequence)")

    try:
        statements = _apply(operation)
        built = _index_state()
        lock_timeout_after = _show_lock_timeout()
    finally:
        removed = _apply(operation, backwards=True)

    assert statements[0] == "SET lock_timeout = '2s'"
    assert statements[1] == f'DROP INDEX CONCURRENTLY IF EXISTS "{INDEX.name}"'
    assert statements[2].startswith(f'CREATE INDEX CONCURRENTLY "{INDEX.name}" ON "erp_sync_outboxmessage" ("kind", "created_at")')
    assert statements[-1] == "RESET lock_timeout"
    assert built == (True, True) and lock_timeout_after == "0"
    assert any(sql.startswith(f'DROP INDEX CONCURRENTLY IF EXISTS "{INDEX.name}"') for sql in removed[1:])
    assert _index_state() is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgresql_only(reason="CREATE INDEX CONCURRENTLY and lock_timeout")
def test_a_concurrent_index_refuses_to_run_inside_a_transaction():
    before = ProjectState.from_apps(apps)
    after = before.clone()
    operation = AddIndexConcurrently("outboxmessage", INDEX)
    operation.state_forwards("erp_sync", after)

    with pytest.raises(NotSupportedError, match="atomic = False"), transaction.atomic(), connection.schema_editor() as editor:
        operation.database_forwards("erp_sync", editor, before, after)
    assert _index_state() is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgresql_only(reason="CREATE INDEX CONCURRENTLY and lock_timeout")
def test_lock_timeout_holds_for_the_migrations_transaction_only():
    state = ProjectState.from_apps(apps)
    with transaction.atomic(), connection.schema_editor(atomic=False) as editor:
        LockTimeout("3s").database_forwards("mes", editor, state, state.clone())
        inside = _show_lock_timeout()

    assert (inside, _show_lock_timeout()) == ("3s", "0")


def test_the_operations_survive_makemigrations_serialization():
    from django.db.migrations.writer import OperationWriter

    index_source, index_imports = OperationWriter(AddIndexConcurrently("outboxmessage", INDEX, lock_timeout="1min")).serialize()
    timeout_source, _imports = OperationWriter(LockTimeout()).serialize()

    assert "common.migration_operations.AddIndexConcurrently(" in index_source and "lock_timeout='1min'" in index_source
    assert "import common.migration_operations" in index_imports
    assert re.fullmatch(r"common\.migration_operations\.LockTimeout\(\s*\),", timeout_source.strip())
    with pytest.raises(ValueError, match="lock_timeout '5 s'"):
        LockTimeout("5 s")
