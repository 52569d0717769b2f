"""Plain SQL writes of model instances, for the confirmation hot path.

Django's ``save()`` spends most of a confirmation's CPU compiling SQL. These helpers write
the same rows with one prepared statement each: values go through each field's own
``pre_save`` and ``get_db_prep_save``, so the stored data is exactly what ``save()`` would
store, on PostgreSQL and SQLite alike. No signals are sent; none are used in this project.

``insert_statement`` and ``update_statement`` give the SQL without running it, so several
writes can go to PostgreSQL as one statement (a data-modifying ``WITH``), in one round trip.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from django.db import connection, models


def _quoted(name: str) -> str:
    return connection.ops.quote_name(name)


@functools.cache
def _insert_sql(model: type[models.Model], vendor: str, columns: tuple[str, ...]) -> str:
    return "INSERT INTO {table} ({columns}) VALUES ({placeholders})".format(
        table=_quoted(model._meta.db_table),
        columns=", ".join(_quoted(column) for column in columns),
        placeholders=", ".join(["%s"] * len(columns)),
    )


@functools.cache
def _nullable_without_default(field: models.Field) -> bool:
    return field.null and field.db_default is models.NOT_PROVIDED


def insert_values(obj: models.Model) -> list[tuple[models.Field, Any]]:
    """Each column ``save()`` would write for a new instance, with its value (``pre_save`` runs:
    auto_now_add is set). Nullable columns whose value is None are left out (the column is NULL
    all the same): fewer parameters keep a combined statement within psycopg's cache of
    converted queries (≤ 50 parameters)."""
    meta = obj._meta
    kept = []
    for field in meta.concrete_fields:
        if field.primary_key and getattr(obj, field.attname) is None:
            continue
        value = field.get_db_prep_save(field.pre_save(obj, add=True), connection)
        if value is not None or not _nullable_without_default(field):
            kept.append((field, value))
    return kept


def insert_statement(obj: models.Model) -> tuple[str, list[Any]]:
    """``INSERT INTO … VALUES (…)`` for a new instance, and its parameters; the primary key is the database's."""
    kept = insert_values(obj)
    sql = _insert_sql(type(obj), connection.vendor, tuple(field.column for field, _value in kept))
    return sql, [value for _field, value in kept]


def mark_inserted(obj: models.Model, pk: Any) -> models.Model:
    """Record that ``obj`` was written with primary key ``pk``, as ``save()`` would."""
    setattr(obj, obj._meta.pk.attname, pk)
    obj._state.adding = False
    obj._state.db = connection.alias
    return obj


def insert_instance(obj: models.Model) -> models.Model:
    """INSERT one new instance and set its primary key (and mark it saved)."""
    sql, values = insert_statement(obj)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {_quoted(obj._meta.pk.column)}", values)
        return mark_inserted(obj, cursor.fetchone()[0])


@functools.cache
def _update_plan(model: type[models.Model], vendor: str, field_names: tuple[str, ...]) -> tuple[list[models.Field], str]:
    meta = model._meta
    fields = [meta.get_field(name) for name in field_names]
    sql = "UPDATE {table} SET {assignments} WHERE {pk} = %s".format(
        table=_quoted(meta.db_table),
        assignments=", ".join(f"{_quoted(field.column)} = %s" for field in fields),
        pk=_quoted(meta.pk.column),
    )
    return fields, sql


def update_statement(obj: models.Model, field_names: Iterable[str]) -> tuple[str, list[Any]]:
    """``UPDATE … SET … WHERE pk = …`` of the named fields of a saved instance, and its parameters."""
    fields, sql = _update_plan(type(obj), connection.vendor, tuple(field_names))
    return sql, [*(field.get_db_prep_save(field.pre_save(obj, add=False), connection) for field in fields), obj.pk]


def update_instance(obj: models.Model, field_names: Iterable[str]) -> None:
    """UPDATE the named fields of a saved instance by primary key."""
    sql, values = update_statement(obj, field_names)
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
