"""Plain SQL reads and writes of model instances, for the confirmation hot path.

Django's ``save()`` spends most of a confirmation's CPU compiling SQL. These helpers write
the same rows with one prepared statement each: values go through each field's own
``pre_save`` and ``get_db_prep_save``, so the stored data is exactly what ``save()`` would
store, on PostgreSQL and SQLite alike. No signals are sent; none are used in this project.
``Model.save()`` is not called either, so a model that overrides it (behaviour the plain SQL
would skip) is refused on first use: write such a model with the ORM.

``insert_statement`` and ``update_statement`` give the SQL without running it, so several
writes can go to PostgreSQL as one statement (a data-modifying ``WITH``), in one round trip.
``raw_instances`` reads like ``Model.objects.raw`` without working out, for every query, how
its columns map to fields; ``partial_instance`` builds a row read in part, as ``only()`` does.

Every helper works on this thread's database wrapper, looked up once per call: each use of
the shared ``connection`` proxy costs a thread-local look-up, dozens per confirmation.
"""

from __future__ import annotations

import datetime
import functools
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import ForeignObjectRel, signals
from django.db.models.base import DEFERRED, ModelState
from django.db.models.sql import Query


def _database() -> BaseDatabaseWrapper:
    return connections[DEFAULT_DB_ALIAS]


class SaveBehaviourError(TypeError):
    """A model whose ``save()`` does more than Django's, offered to helpers that never call it."""


@functools.cache
def require_plain_save(model: type[models.Model]) -> type[models.Model]:
    """Refuse ``model`` if any class of it overrides ``save()``: the helpers here write rows
    without calling it, so whatever it adds would silently not happen. Returns the model."""
    for klass in model.__mro__:
        if klass is models.Model:
            break
        if "save" in vars(klass):
            raise SaveBehaviourError(
                f"{model.__name__}.save() is overridden (in {klass.__name__}); plain SQL would skip it: write it with the ORM."
            )
    return model


@functools.cache
def _insert_sql(model: type[models.Model], vendor: str, columns: tuple[str, ...], expressions: tuple[str, ...] = ()) -> str:
    """The INSERT of ``columns`` (a parameter each), then of as many more columns as ``expressions`` (SQL of their own)."""
    quote = _database().ops.quote_name
    return "INSERT INTO {table} ({columns}) VALUES ({placeholders})".format(
        table=quote(model._meta.db_table),
        columns=", ".join(quote(column) for column in columns),
        placeholders=", ".join(["%s"] * (len(columns) - len(expressions)) + list(expressions)),
    )


@functools.cache
def _nullable_without_default(field: models.Field) -> bool:
    return field.null and field.db_default is models.NOT_PROVIDED


# Field classes whose get_db_prep_save hands a value of the given type on unchanged on
# PostgreSQL (native uuid, numeric and timestamptz; to_python of a str, int or bool is the
# value itself). Exact classes only: a subclass may prepare its values differently.
_UNCHANGED_ON_POSTGRESQL: dict[type[models.Field], type] = {
    models.CharField: str,
    models.TextField: str,
    models.IntegerField: int,
    models.BigIntegerField: int,
    models.SmallIntegerField: int,
    models.PositiveIntegerField: int,
    models.PositiveBigIntegerField: int,
    models.PositiveSmallIntegerField: int,
    models.AutoField: int,
    models.BigAutoField: int,
    models.BooleanField: bool,
    models.DecimalField: Decimal,
    models.UUIDField: uuid.UUID,
    models.DateTimeField: datetime.datetime,
}


@functools.cache
def _preparation(field: models.Field, vendor: str) -> tuple[bool, type | None]:
    """Whether the field's ``pre_save`` does more than read the attribute, and the type of the
    values its ``get_db_prep_save`` leaves as they are (None: always ask the field)."""
    custom_pre_save = type(field).pre_save is not models.Field.pre_save
    target = field
    while type(target) in (models.ForeignKey, models.OneToOneField):  # prepared as the key they point at
        target = target.target_field
    unchanged = _UNCHANGED_ON_POSTGRESQL.get(type(target)) if vendor == "postgresql" else None
    return custom_pre_save, unchanged


def _prepared(obj: models.Model, field: models.Field, database: BaseDatabaseWrapper, add: bool) -> Any:
    """``field.get_db_prep_save(field.pre_save(obj, add), database)``, without the calls where
    they change nothing: plain values of plain fields on PostgreSQL (a third of a batch's CPU)."""
    custom_pre_save, unchanged = _preparation(field, database.vendor)
    return _prepared_as(obj, field, custom_pre_save, unchanged, database, add)


def _prepared_as(
    obj: models.Model, field: models.Field, custom_pre_save: bool, unchanged: type | None, database: BaseDatabaseWrapper, add: bool
) -> Any:
    value = field.pre_save(obj, add) if custom_pre_save else getattr(obj, field.attname)
    if unchanged is not None and type(value) is unchanged:
        if unchanged is Decimal and not value.is_finite():
            pass  # the field refuses NaN and infinity
        elif unchanged is datetime.datetime and value.tzinfo is None:
            pass  # the field makes a naive time aware (with a warning)
        else:
            return value
    return field.get_db_prep_save(value, database)


@functools.cache
def _insert_plan(model: type[models.Model], vendor: str) -> list[tuple[models.Field, bool, bool, type | None, bool]]:
    """Per column of ``model``: the field, whether it is the primary key, ``_preparation``'s two
    answers and whether None leaves it out. Worked out once per model: looked up field by field,
    hashing each field (Python code in Django) cost more than preparing most values."""
    return [
        (field, field.primary_key, *_preparation(field, vendor), _nullable_without_default(field))
        for field in require_plain_save(model)._meta.concrete_fields
    ]


def insert_values(obj: models.Model) -> list[tuple[models.Field, Any]]:
    """Each column ``save()`` would write for a new instance, with its value (``pre_save`` runs:
    auto_now_add is set). Nullable columns whose value is None are left out (the column is NULL
    all the same): fewer parameters keep a combined statement within psycopg's cache of
    converted queries (``psycopg_query_cache_widen``)."""
    database = _database()
    kept = []
    for field, is_pk, custom_pre_save, unchanged, omit_none in _insert_plan(type(obj), database.vendor):
        if is_pk and getattr(obj, field.attname) is None:
            continue
        value = _prepared_as(obj, field, custom_pre_save, unchanged, database, True)
        if value is not None or not omit_none:
            kept.append((field, value))
    return kept


def insert_statement(obj: models.Model, expressions: dict[str, str] | None = None) -> tuple[str, list[Any]]:
    """``INSERT INTO … VALUES (…)`` for a new instance, and its parameters; the primary key is the database's.

    ``expressions``: SQL (without parameters) for some columns instead of the instance's values,
    by column name: in a data-modifying ``WITH``, the key of a row another part inserts, e.g.
    ``{"confirmation_id": "(SELECT id FROM c)"}``."""
    if not expressions:
        kept = insert_values(obj)
        sql = _insert_sql(type(obj), _database().vendor, tuple(field.column for field, _value in kept))
        return sql, [value for _field, value in kept]
    kept = [(field, value) for field, value in insert_values(obj) if field.column not in expressions]
    columns = (*(field.column for field, _value in kept), *expressions)
    sql = _insert_sql(type(obj), _database().vendor, columns, tuple(expressions.values()))
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
def _update_plan(
    model: type[models.Model], vendor: str, field_names: tuple[str, ...]
) -> tuple[list[tuple[models.Field, bool, type | None]], str]:
    """The fields named, each with ``_preparation``'s answers, and the UPDATE of them by primary key."""
    meta = require_plain_save(model)._meta
    quote = _database().ops.quote_name
    fields = [meta.get_field(name) for name in field_names]
    sql = "UPDATE {table} SET {assignments} WHERE {pk} = %s".format(
        table=quote(meta.db_table),
        assignments=", ".join(f"{quote(field.column)} = %s" for field in fields),
        pk=quote(meta.pk.column),
    )
    return [(field, *_preparation(field, vendor)) for field in fields], sql


def update_statement(obj: models.Model, field_names: Iterable[str]) -> tuple[str, list[Any]]:
    """``UPDATE … SET … WHERE pk = …`` of the named fields of a saved instance, and its parameters."""
    database = _database()
    plan, sql = _update_plan(type(obj), database.vendor, tuple(field_names))
    return sql, [*(_prepared_as(obj, field, custom, unchanged, database, False) for field, custom, unchanged in plan), obj.pk]


def update_instance(obj: models.Model, field_names: Iterable[str]) -> None:
    """UPDATE the named fields of a saved instance by primary key."""
    sql, values = update_statement(obj, field_names)
    with _database().cursor() as cursor:
        cursor.execute(sql, values)


def update_instances(objs: list[models.Model], field_names: Iterable[str]) -> None:
    """UPDATE the named fields of saved instances by primary key: one prepared statement run for
    each (psycopg sends them all at once), instead of ``bulk_update``'s CASE per field and row."""
    if not objs:
        return
    field_names = tuple(field_names)
    statements = [update_statement(obj, field_names) for obj in objs]
    with _database().cursor() as cursor:
        cursor.executemany(statements[0][0], [values for _sql, values in statements])


def copy_instances(objs: list[models.Model]) -> None:
    """INSERT new instances of one model with PostgreSQL's COPY, ten times cheaper per row than
    ``bulk_create`` (whose UNNEST arrays psycopg quotes in Python). Primary keys are drawn from
    the table's own sequence first, so the instances end up saved, as ``bulk_create`` leaves them.
    Values are what ``save()`` would write (``pre_save``, ``get_db_prep_save``)."""
    if not objs:
        return
    database = _database()
    model = require_plain_save(type(objs[0]))
    meta = model._meta
    quote = database.ops.quote_name
    fields = meta.concrete_fields
    with database.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(objs)],
        )
        for obj, (pk,) in zip(objs, cursor.fetchall()):
            setattr(obj, meta.pk.attname, pk)
        copy_sql = f"COPY {quote(meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) FROM STDIN"
        plan = [(field, *_preparation(field, database.vendor)) for field in fields]
        with database.wrap_database_errors, cursor.cursor.copy(copy_sql) as copy:
            for obj in objs:
                copy.write_row([_prepared_as(obj, field, custom, unchanged, database, True) for field, custom, unchanged in plan])
    for obj in objs:
        obj._state.adding = False
        obj._state.db = DEFAULT_DB_ALIAS


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


@functools.cache
def _new_plan(model: type[models.Model]) -> list[tuple[models.Field, str, str, bool]]:
    return [
        (field, field.attname, field.name, isinstance(field.remote_field, ForeignObjectRel))
        for field in model._meta.fields
        if field.column is not None and not field.generated
    ]


def new_instance(model: type[models.Model], **values: Any) -> models.Model:
    """``model(**values)`` for a row about to be written, as Django builds it (related objects
    attached, every other field its default) without its field-by-field ``__init__``: three
    new rows per confirmation cost a noticeable share of a gateway batch. Anything it does not
    cover (a model with init signals or its own ``from_db``, a property or unknown keyword)
    goes through ``model(**values)``."""
    if not _plain_init(model):
        return model(**values)
    obj = model.__new__(model)
    obj._state = ModelState()
    attributes = obj.__dict__
    used = 0
    for field, attname, name, related in _new_plan(model):
        if related and name in values:
            target = values[name]
            used += 1
            attributes[attname] = None if target is None else getattr(target, field.target_field.attname)
            field.set_cached_value(obj, target)
            if target is not None and not field.remote_field.multiple:
                field.remote_field.set_cached_value(target, obj)
        elif attname in values:
            attributes[attname] = values[attname]
            used += 1
        else:
            attributes[attname] = field.get_default()
    return obj if used == len(values) else model(**values)


def relate(obj: models.Model, name: str, target: models.Model | None) -> None:
    """Attach an already loaded related object, as assigning it does, for a foreign key whose id is set."""
    obj._meta.get_field(name).set_cached_value(obj, target)


#: How far ``psycopg_query_cache_widen`` lets psycopg keep converted queries: a backflushing report's
#: one-statement write passes about 120 parameters in about 3,700 characters (and more with more components).
CACHED_QUERY_MAX_PARAMS = 400
CACHED_QUERY_MAX_LENGTH = 16384


def psycopg_query_cache_widen() -> None:
    """Let psycopg keep the conversion (placeholders to ``$n``) of queries of up to
    ``CACHED_QUERY_MAX_PARAMS`` parameters and ``CACHED_QUERY_MAX_LENGTH`` characters.

    psycopg keeps it (in a cache of 128 queries) only for queries of ≤ 50 parameters and ≤ 4,096
    bytes, so a bulk INSERT whose text changes with every row count cannot crowd out the queries
    that repeat; it converts the rest anew on every run, a scan of the whole text. A report's
    one-statement write is the same text for every report of its shape, and for a backflushing report
    that scan was the largest single CPU cost on the server (8 % of a report's, sampled in process,
    2026-12-07). The limits are psycopg's module constants, read on every query: if a psycopg
    version no longer has them, nothing changes but the speed.
    """
    try:
        from psycopg import _queries
    except ImportError:  # a SQLite-only install
        return
    if hasattr(_queries, "MAX_CACHED_STATEMENT_PARAMS") and hasattr(_queries, "MAX_CACHED_STATEMENT_LENGTH"):
        _queries.MAX_CACHED_STATEMENT_PARAMS = max(_queries.MAX_CACHED_STATEMENT_PARAMS, CACHED_QUERY_MAX_PARAMS)
        _queries.MAX_CACHED_STATEMENT_LENGTH = max(_queries.MAX_CACHED_STATEMENT_LENGTH, CACHED_QUERY_MAX_LENGTH)
