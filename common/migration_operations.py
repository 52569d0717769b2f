"""Migration operations for tables a running plant writes all the time (confirmations, the ERP outbox).

A plain ``CREATE INDEX`` blocks every write to its table until the index is built: minutes without
confirmations on a large table. Any schema change also queues every reader and writer behind its
lock while it waits for a long transaction to end. So migrations after the initial ones build
indexes on these tables with ``AddIndexConcurrently`` and start their other changes to them with
``LockTimeout`` (the pattern, with an example, is in docs/migrations.md; tests/mes/test_migrations.py
refuses anything else for the tables in ``BUSY_TABLES``).
"""

from __future__ import annotations

import re

from django.contrib.postgres import operations as postgres_operations
from django.db import migrations
from django.db.migrations.operations import AddIndex

#: (app label, model name) of the tables whose later migrations must follow this pattern.
BUSY_TABLES = {("mes", "confirmation"), ("erp_sync", "outboxmessage")}
DEFAULT_LOCK_TIMEOUT = "5s"
_LOCK_TIMEOUT = re.compile(r"^\d+(ms|s|min)$")


def _checked(lock_timeout: str) -> str:
    if not _LOCK_TIMEOUT.match(lock_timeout):
        raise ValueError(f"lock_timeout {lock_timeout!r}: expected a duration such as 500ms, 5s or 1min")
    return lock_timeout


class AddIndexConcurrently(postgres_operations.AddIndexConcurrently):
    """Build an index without blocking writes: ``CREATE INDEX CONCURRENTLY`` on PostgreSQL, a plain
    ``CREATE INDEX`` on SQLite (embedded mode: one machine, small tables, nothing to wait for).

    The migration needs ``atomic = False``. The lock waits are bounded by ``lock_timeout``: a migration
    that cannot get its lock fails at once (run it again later) instead of waiting behind a long
    transaction. A concurrent build that failed leaves an invalid index behind; it is dropped first.
    """

    def __init__(self, model_name: str, index, lock_timeout: str = DEFAULT_LOCK_TIMEOUT) -> None:
        super().__init__(model_name, index)
        self.lock_timeout = _checked(lock_timeout)

    def deconstruct(self):
        name, args, kwargs = super().deconstruct()
        if self.lock_timeout != DEFAULT_LOCK_TIMEOUT:
            kwargs["lock_timeout"] = self.lock_timeout
        return name, args, kwargs

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)
            return
        self._ensure_not_in_transaction(schema_editor)
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        schema_editor.execute(f"SET lock_timeout = '{self.lock_timeout}'")
        try:
            # Not applied yet, so an index of this name is what an interrupted earlier run left.
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {schema_editor.quote_name(self.index.name)}")
            schema_editor.add_index(model, self.index, concurrently=True)
        finally:
            schema_editor.execute("RESET lock_timeout")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)
            return
        schema_editor.execute(f"SET lock_timeout = '{self.lock_timeout}'")
        try:
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        finally:
            schema_editor.execute("RESET lock_timeout")


class LockTimeout(migrations.RunSQL):
    """First operation of an atomic migration that alters a busy table: on PostgreSQL its locks are
    waited for at most ``lock_timeout`` (``SET LOCAL``: for this migration's transaction only)."""

    def __init__(self, lock_timeout: str = DEFAULT_LOCK_TIMEOUT) -> None:
        self.lock_timeout = _checked(lock_timeout)
        statement = f"SET LOCAL lock_timeout = '{self.lock_timeout}'"
        super().__init__(statement, statement)

    def deconstruct(self):
        kwargs = {} if self.lock_timeout == DEFAULT_LOCK_TIMEOUT else {"lock_timeout": self.lock_timeout}
        return self.__class__.__name__, [], kwargs

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self):
        return f"Wait at most {self.lock_timeout} for locks"
