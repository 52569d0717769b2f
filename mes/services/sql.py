"""Plain SQL reads and writes of model instances, for the confirmation hot path.

Django's ``save()`` spends most of a confirmation's CPU compiling SQL. These helpers write
the same rows with one prepared statement each: values go through each field's own
``pre_save`` and ``get_db_prep_save``, so the stored data is exactly what ``save()`` would
store, on PostgreSQL and SQLite alike. No signals are sent; none are used in this project.

``insert_statement`` and ``update_statement`` give the SQL without running it, so several
writes can go to PostgreSQL as one statement (a data-modifying ``WITH``), in one round trip.
``raw_instances`` reads like ``Model.objects.raw`` without working out, for every query, how
its columns map to fields; ``partial_instance`` builds a row read in part, as ``only()`` does.

Every helper works on this thread's database wrapper, looked up once per call: each use of
the shared ``connection`` proxy costs a thread-local look-up, dozens per confirmation.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import signals
from django.db.models.base import DEFERRED, ModelState
from django.db.models.sql import Query


def _database() -> BaseDatabaseWrapper:
    return connections[DEFAULT_DB_ALIAS]


@functools.cache
def _insert_sql(model: type[models.Model], vendor: str, columns: tuple[str, ...]) -> str:
    quote = _database().ops.quote_name
    return "INSERT INTO {table} ({columns}) VALUES ({placeholders})".format(
        table=quote(model._meta.db_table),
        columns=", ".join(quote(column) for column in columns),
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
    database = _database()
    kept = []
    for field in obj._meta.concrete_fields:
        if field.primary_key and getattr(obj, field.attname) is None:
            continue
        value = field.get_db_prep_save(field.pre_save(obj, add=True), database)
        if value is not None or not _nullable_without_default(field):
            kept.append((field, value))
    return kept


def insert_statement(obj: models.Model) -> tuple[str, list[Any]]:
    """``INSERT INTO … VALUES (…)`` for a new instance, and its parameters; the primary key is the database's."""
    kept = insert_values(obj)
    sql = _insert_sql(type(obj), _database().vendor, tuple(field.column for field, _value in kept))
    return sql, [value for _field, value in kept]


def mark_inserted(obj: models.Model, pk: Any) -> models.Model:
    """Record that ``obj`` was written with primary key ``pk``, as ``save()`` would."""
    setattr(obj, obj._meta.pk.attname, pk)
    obj._state.adding = False
    obj._state.db = DEFAULT_DB_ALIAS
    return obj


def insert_instance(obj: models.Model) -> models.Model:
    """INSERT one new instance and set its primary key (and mark it saved)."""
    sql, values = insert_statement(obj)
    database = _database()
    with database.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {database.ops.quote_name(obj._meta.pk.column)}", values)
        return mark_inserted(obj, cursor.fetchone()[0])


@functools.cache
def _update_plan(model: type[models.Model], vendor: str, field_names: tuple[str, ...]) -> tuple[list[models.Field], str]:
    meta = model._meta
    quote = _database().ops.quote_name
    fields = [meta.get_field(name) for name in field_names]
    sql = "UPDATE {table} SET {assignments} WHERE {pk} = %s".format(
        table=quote(meta.db_table),
        assignments=", ".join(f"{quote(field.column)} = %s" for field in fields),
        pk=quote(meta.pk.column),
    )
    return fields, sql


def update_statement(obj: models.Model, field_names: Iterable[str]) -> tuple[str, list[Any]]:
    """``UPDATE … SET … WHERE pk = …`` of the named fields of a saved instance, and its parameters."""
    database = _database()
    fields, sql = _update_plan(type(obj), database.vendor, tuple(field_names))
    return sql, [*(field.get_db_prep_save(field.pre_save(obj, add=False), database) for field in fields), obj.pk]


def update_instance(obj: models.Model, field_names: Iterable[str]) -> None:
    """UPDATE the named fields of a saved instance by primary key."""
    sql, values = update_statement(obj, field_names)
    with _database().cursor() as cursor:
        cursor.execute(sql, values)


def _raw_plan(database: BaseDatabaseWrapper, model: type[models.Model], columns: tuple[str, ...]) -> tuple:
    """How a row of ``columns`` becomes an instance of ``model``, as ``RawQuerySet`` works it out."""
    by_column = {field.column: field for field in model._meta.concrete_fields}
    init_fields = [field for field in model._meta.fields if field.column in columns]
    names = [field.attname for field in init_fields]
    positions = [columns.index(field.column) for field in init_fields]
    extras = [(column, position) for position, column in enumerate(columns) if column not in by_column]
    cols = [by_column[column].get_col(model._meta.db_table) if column in by_column else None for column in columns]
    converters = database.ops.compiler("SQLCompiler")(Query(model), database, database.alias).get_converters(cols)
    return len(columns), names, positions, extras, converters


def raw_instances(model: type[models.Model], sql: str, params: list[Any]) -> list[Any]:
    """``list(model.objects.raw(sql, params))``: instances of ``model``, any other columns as attributes.

    How the columns map is worked out on a query's first run on a connection and kept with it
    (its converters are the connection's); a result of another width is worked out anew.
    """
    database = _database()
    plans = database.__dict__.setdefault("_mes_raw_plans", {})
    with database.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        plan = plans.get((model, sql))
        if plan is None or (rows and len(rows[0]) != plan[0]):
            plan = plans[(model, sql)] = _raw_plan(database, model, tuple(column[0] for column in cursor.description))
    _width, names, positions, extras, converters = plan
    instances = []
    for row in rows:
        if converters:
            row = list(row)
            for position, (functions, expression) in converters.items():
                for function in functions:
                    row[position] = function(row[position], expression, database)
        instance = _loaded(model, zip(names, [row[position] for position in positions]))
        for column, position in extras:
            setattr(instance, column, row[position])
        instances.append(instance)
    return instances


@functools.cache
def _plain_init(model: type[models.Model]) -> bool:
    """Whether ``from_db`` of ``model`` is Django's own and nobody listens to its init signals."""
    return (
        model.from_db.__func__ is models.Model.from_db.__func__
        and not signals.pre_init.has_listeners(model)
        and not signals.post_init.has_listeners(model)
    )


def _loaded(model: type[models.Model], values: Iterable[tuple[str, Any]]) -> models.Model:
    """A stored row as ``Model.from_db`` makes it, fields not given deferred, without running
    ``__init__`` field by field (a fifth of a confirmation's reads went there). Falls back to
    ``from_db`` for a model that customises it or has init signal listeners."""
    if not _plain_init(model):
        values = dict(values)
        return model.from_db(DEFAULT_DB_ALIAS, list(values), [values.get(f.attname, DEFERRED) for f in model._meta.concrete_fields])
    instance = model.__new__(model)
    instance._state = ModelState()
    instance._state.adding = False
    instance._state.db = DEFAULT_DB_ALIAS
    instance.__dict__.update(values)
    return instance


def partial_instance(model: type[models.Model], **values: Any) -> models.Model:
    """A stored row of which only ``values`` were read: the other fields are deferred, as with
    ``only()`` (read from the database if ever asked for), never filled with defaults."""
    return _loaded(model, values.items())


def relate(obj: models.Model, name: str, target: models.Model | None) -> None:
    """Attach an already loaded related object, as assigning it does, for a foreign key whose id is set."""
    obj._meta.get_field(name).set_cached_value(obj, target)
