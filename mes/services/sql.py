"""Plain SQL writes of model instances, for the confirmation hot path.

Django's ``save()`` spends most of a confirmation's CPU compiling SQL. These helpers write
the same rows with one prepared statement each: values go through each field's own
``pre_save`` and ``get_db_prep_save``, so the stored data is exactly what ``save()`` would
store, on PostgreSQL and SQLite alike. No signals are sent; none are used in this project.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, models


def _quoted(name: str) -> str:
    return connection.ops.quote_name(name)


def insert_instance(obj: models.Model) -> models.Model:
    """INSERT one new instance and set its primary key (and mark it saved)."""
    meta = obj._meta
    fields = [field for field in meta.concrete_fields if not (field.primary_key and getattr(obj, field.attname) is None)]
    values = [field.get_db_prep_save(field.pre_save(obj, add=True), connection) for field in fields]
    sql = "INSERT INTO {table} ({columns}) VALUES ({placeholders}) RETURNING {pk}".format(
        table=_quoted(meta.db_table),
        columns=", ".join(_quoted(field.column) for field in fields),
        placeholders=", ".join(["%s"] * len(fields)),
        pk=_quoted(meta.pk.column),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        setattr(obj, meta.pk.attname, cursor.fetchone()[0])
    obj._state.adding = False
    obj._state.db = connection.alias
    return obj


def update_instance(obj: models.Model, field_names: Iterable[str]) -> None:
    """UPDATE the named fields of a saved instance by primary key."""
    meta = obj._meta
    fields = [meta.get_field(name) for name in field_names]
    values = [field.get_db_prep_save(field.pre_save(obj, add=False), connection) for field in fields]
    sql = "UPDATE {table} SET {assignments} WHERE {pk} = %s".format(
        table=_quoted(meta.db_table),
        assignments=", ".join(f"{_quoted(field.column)} = %s" for field in fields),
        pk=_quoted(meta.pk.column),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, obj.pk])
