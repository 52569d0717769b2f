"""A declarative field mapping: how a REST connection builds its request body from a message.

A mapping is a JSON object: output field → rule. A rule is an object with exactly one source,

- ``{"from": "good_qty"}`` — a field of the message (dotted for nested ones:
  ``"reverses.idempotency_key"``, ``"reverses_ref.document"``);
- ``{"const": "MES"}`` — a constant (any JSON value);
- ``{"format": "{work_order}-{operation:04d}"}`` — a Python format string over message
  fields (quantities and minutes are decimals there, so ``{good_qty:.1f}`` works),

and optional steps applied in this order:

- ``"default"``: the value when the source is missing or null;
- ``"map"``: ``{"SCRAP-01": "S1", …}`` translates codes (a value not listed passes unchanged);
- ``"date_format"``: ISO date-time → ``strftime`` text in the plant's time zone (or the
  rule's ``"time_zone"``); also ``"iso"``, ``"epoch"`` (seconds) and ``"epoch_ms"``;
- ``"multiply"``: a number, for unit conversion (minutes → hours: ``0.0166667``);
- ``"abs"``: true drops the sign (reversals carry negative quantities);
- ``"round"``: decimal places (half up);
- ``"type"``: ``string``, ``number``, ``integer`` or ``boolean``.

An object without ``from``/``const``/``format`` is a nested output object; a list is a JSON
array of rules or objects. Message fields: see ``SOURCE_FIELDS``. ``validate_mapping``
names every bad rule by its output path before a connection is saved, and ``preview`` shows
the body a payload would produce.
"""

from __future__ import annotations

import datetime as dt
import re
import string
import zoneinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

_KINDS = (
    "confirmation, reversal, goods_issue, goods_issue_reversal, goods_receipt, goods_receipt_reversal, "
    "inspection_result, nonconformance_disposition or return_to_supplier"
)
SOURCE_FIELDS: dict[str, str] = {
    "type": _KINDS,
    "kind": f"{_KINDS} (the outbox message's kind)",
    "confirmation_id": (
        "the MES confirmation's UUID (goods: the report they were booked with, null for an issue by scan; inspection_result: "
        "the operation's latest report, if any; nonconformance_disposition: the scrap or rework confirmation it booked, if any)"
    ),
    "client_id": "the client's UUID for the request",
    "work_order": "work-order number",
    "work_order_uuid": "work-order UUID",
    "item": "item code",
    "operation": "operation sequence (a whole number, e.g. 10)",
    "operation_name": "operation name",
    "work_center": "work-center code",
    "good_qty": "good quantity (decimal; negative on a reversal)",
    "scrap_qty": "scrap quantity (decimal; negative on a reversal)",
    "rework_qty": "rework quantity (decimal; negative on a reversal)",
    "unit": "unit of measure code",
    "reason_code": "reason code or null",
    "reason_kind": "reason kind or null",
    "labor_minutes": "labour minutes (decimal)",
    "machine_minutes": "machine minutes (decimal)",
    "operator_badge": "operator badge or null",
    "operator_name": "operator name or null",
    "station": "station name",
    "final": "true for a final confirmation",
    "confirmed_at": "when it was confirmed (ISO 8601)",
    "reverses": "for a reversal: {confirmation_id, idempotency_key} of the original (goods: {document_id, idempotency_key})",
    "reverses_ref": "for a reversal: what the ERP answered for the original ({document, status})",
    "idempotency_key": "our key for this message (also sent as the Idempotency-Key header)",
    "sequence": "the message's number within its work order",
    "goods_movements": "confirmation: the goods movements it caused (backflush, output), each as in movements",
    "document_id": "goods: our id of this group of movements (its key)",
    "order_item": "goods: the item the order makes",
    "movements": (
        "goods: the movements, a list of {movement_id, movement_type (261 issue, 262 its reversal, 101 receipt, "
        "102 its reversal), item, lot, quantity (positive), unit}; one of them by number: movements.0.lot"
    ),
    "posted_at": "goods: when they were posted (ISO 8601)",
    "result_id": "inspection_result: the result's UUID (its key); nonconformance_disposition: the failed result's, if any",
    "characteristic": "inspection_result: the characteristic's code",
    "characteristic_name": "inspection_result: the characteristic's name",
    "characteristic_kind": "inspection_result: measured or attribute",
    "nominal": "inspection_result: the nominal value (decimal) or null",
    "lower_limit": "inspection_result: the lower specification limit (decimal) or null",
    "upper_limit": "inspection_result: the upper specification limit (decimal) or null",
    "sample_no": "inspection_result: the sample number",
    "value": "inspection_result: the measured value (decimal), null for pass/fail",
    "passed": "inspection_result: true when it passed (a measured value judged by the MES against the limits)",
    "quantity": "inspection_result: the quantity judged; nonconformance_disposition and return_to_supplier: the quantity decided",
    "serial": "inspection_result, nonconformance_disposition: the serial or null",
    "lot": "inspection_result, nonconformance_disposition, return_to_supplier: the lot or null",
    "inspector_badge": "inspection_result: the inspector's badge or null",
    "equipment": "inspection_result: the gauge or machine code or null",
    "recorded_at": "inspection_result: when it was recorded (ISO 8601)",
    "disposition_id": "nonconformance_disposition, return_to_supplier: the disposition's UUID (its key)",
    "nonconformance": "nonconformance_disposition, return_to_supplier: the NCR's number",
    "nonconformance_id": "nonconformance_disposition: the NCR's UUID",
    "nonconformance_state": "nonconformance_disposition: the NCR's state after the decision (open or dispositioned)",
    "source": "nonconformance_disposition: how the NCR was opened (inspection or manual)",
    "disposition": "nonconformance_disposition: scrap, rework, use_as_is or return_to_supplier",
    "nonconformance_qty": "nonconformance_disposition: the NCR's whole quantity",
    "defect_code": "nonconformance_disposition, return_to_supplier: the defect code or null",
    "defect_name": "nonconformance_disposition: the defect code's name or null",
    "description": "nonconformance_disposition: the NCR's description or null",
    "reason": "nonconformance_disposition, return_to_supplier: why it was decided so",
    "approved_by": "nonconformance_disposition: the user who decided (approved) it",
    "decided_at": "nonconformance_disposition: when it was decided (ISO 8601)",
    "supplier_lot": "return_to_supplier: the supplier's lot number",
}
MOVEMENT_FIELDS = frozenset({"movement_id", "movement_type", "item", "lot", "quantity", "unit"})
NESTED_FIELDS: dict[str, frozenset[str] | None] = {
    "reverses": frozenset({"confirmation_id", "idempotency_key", "document_id"}),
    "reverses_ref": None,  # whatever the ERP answered
    "movements": MOVEMENT_FIELDS,  # by number: movements.0.quantity
    "goods_movements": MOVEMENT_FIELDS,
}
#: Source fields that are lists: a path names an element by number, then its field.
LIST_FIELDS = frozenset({"movements", "goods_movements"})
DECIMAL_FIELDS = frozenset({"good_qty", "scrap_qty", "rework_qty", "labor_minutes", "machine_minutes"})
SOURCE_KEYS = ("from", "const", "format")
STEP_KEYS = ("default", "map", "date_format", "time_zone", "multiply", "abs", "round", "type")
RULE_KEYS = frozenset(SOURCE_KEYS + STEP_KEYS)
TYPES = ("string", "number", "integer", "boolean")
SPECIAL_DATE_FORMATS = ("iso", "epoch", "epoch_ms")
_STRFTIME_DIRECTIVE = re.compile(r"%(-?)(.)", re.DOTALL)
_STRFTIME_LETTERS = frozenset("aAwdbBmyYHIpMSfzZjUWcxXGuV%")

SAMPLE_PAYLOAD: dict[str, Any] = {
    "type": "confirmation",
    "kind": "confirmation",
    "confirmation_id": "2b1f0d8e-6a53-4c55-9d0e-1c2f7a9b3e41",
    "client_id": "6f1c3f4a-0b5e-4a57-8f7e-0c1d2e3f4a5b",
    "work_order": "WO-1001",
    "work_order_uuid": "0f0e0d0c-0b0a-4908-8706-050403020100",
    "item": "FRAME-100",
    "operation": 10,
    "operation_name": "Cut",
    "work_center": "WC-CUT",
    "good_qty": "12.000",
    "scrap_qty": "1.000",
    "rework_qty": "0.000",
    "unit": "PCS",
    "reason_code": "SCRAP-01",
    "reason_kind": "scrap",
    "labor_minutes": "45.00",
    "machine_minutes": "30.00",
    "operator_badge": "B-1001",
    "operator_name": "Li Wei",
    "station": "ST-07",
    "final": False,
    "confirmed_at": "2025-03-01T08:00:00+00:00",
    "reverses": {"confirmation_id": "", "idempotency_key": "", "document_id": ""},
    "reverses_ref": {"document": "", "status": 0},
    "idempotency_key": "2b1f0d8e-6a53-4c55-9d0e-1c2f7a9b3e41",
    "sequence": 1,
    "goods_movements": [],
    "document_id": "2b1f0d8e-6a53-4c55-9d0e-1c2f7a9b3e41",
    "order_item": "FRAME-100",
    "movements": [
        {"movement_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "movement_type": "261", "item": "TUBE-20", "lot": "L-0001", "quantity": "2.500", "unit": "M"}
    ],
    "posted_at": "2025-03-01T08:00:00+00:00",
    "result_id": "5d3c2b1a-0f9e-4d8c-b7a6-958473625140",
    "characteristic": "LEN",
    "characteristic_name": "Length",
    "characteristic_kind": "measured",
    "nominal": "100",
    "lower_limit": "99.5",
    "upper_limit": "100.5",
    "sample_no": 1,
    "value": "100.1",
    "passed": True,
    "quantity": "1",
    "serial": None,
    "lot": None,
    "inspector_badge": "B-2001",
    "equipment": "CAL-01",
    "recorded_at": "2025-03-01T08:00:00+00:00",
    "disposition_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    "nonconformance": 12,
    "nonconformance_id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
    "nonconformance_state": "dispositioned",
    "source": "inspection",
    "disposition": "scrap",
    "nonconformance_qty": "1",
    "defect_code": "DEF-01",
    "defect_name": "Out of tolerance",
    "description": None,
    "reason": "beyond repair",
    "approved_by": "quality",
    "decided_at": "2025-03-01T08:00:00+00:00",
    "supplier_lot": "",
}


class MappingError(ValueError):
    """A mapping cannot be applied to a message; ``path`` names the output field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


# -- applying ---------------------------------------------------------------------------------


def build(mapping: dict[str, Any], source: dict[str, Any], *, time_zone: str | None = None) -> dict[str, Any]:
    """The request body ``mapping`` makes of ``source`` (a payload plus key and sequence); raises ``MappingError``."""
    zone = _zone(time_zone)
    return _build_object(mapping, source, zone, "")


def preview(
    mapping: dict[str, Any],
    payload: dict[str, Any],
    *,
    idempotency_key: str | None = None,
    sequence: int | None = None,
    time_zone: str | None = None,
) -> dict[str, Any]:
    """What a connection with ``mapping`` would send for ``payload`` (e.g. a recent confirmation's)."""
    return build(mapping, source_of(payload, idempotency_key=idempotency_key, sequence=sequence), time_zone=time_zone)


def source_of(
    payload: dict[str, Any],
    *,
    idempotency_key: str | None = None,
    sequence: int | None = None,
    kind: str | None = None,
    reverses_ref: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The fields a mapping may name: the payload plus what the outbox message adds."""
    return {
        **payload,
        "kind": kind or payload.get("kind") or payload.get("type"),
        "idempotency_key": idempotency_key or payload.get("idempotency_key") or payload.get("confirmation_id"),
        "sequence": sequence if sequence is not None else payload.get("sequence"),
        "reverses": payload.get("reverses") or {},
        "reverses_ref": reverses_ref or payload.get("reverses_ref") or {},
    }


def render(template: str, source: dict[str, Any], *, quote_values: Any = None) -> str:
    """A format string over message fields (dotted names reach nested fields)."""
    return _Formatter(quote_values).vformat(template, (), _with_decimals(source))


def _build_object(mapping: dict[str, Any], source: dict[str, Any], zone: zoneinfo.ZoneInfo, path: str) -> dict[str, Any]:
    return {name: _build_value(rule, source, zone, _join(path, name)) for name, rule in mapping.items()}


def _build_value(rule: Any, source: dict[str, Any], zone: zoneinfo.ZoneInfo, path: str) -> Any:
    if isinstance(rule, list):
        return [_build_value(item, source, zone, f"{path}[{index}]") for index, item in enumerate(rule)]
    if not isinstance(rule, dict):
        raise MappingError(path, 'a rule is an object such as {"from": "good_qty"} or {"const": "MES"}')
    if not any(key in rule for key in SOURCE_KEYS):
        return _build_object(rule, source, zone, path)
    try:
        return _apply(rule, source, zone)
    except MappingError as error:
        raise MappingError(path, error.message) from None
    except (ValueError, TypeError, KeyError, IndexError, InvalidOperation, ArithmeticError) as error:
        raise MappingError(path, f"{type(error).__name__}: {error}") from None


def _apply(rule: dict[str, Any], source: dict[str, Any], zone: zoneinfo.ZoneInfo) -> Any:
    if "from" in rule:
        value = value_at(source, rule["from"])
    elif "format" in rule:
        value = _Formatter().vformat(rule["format"], (), _with_decimals(source))
    else:
        value = rule["const"]
    if value is None and "default" in rule:
        value = rule["default"]
    if value is None:
        return None
    if "map" in rule:
        key = _text(value)
        value = rule["map"].get(key, value)
    if "date_format" in rule:
        value = _date(value, rule["date_format"], _zone(rule.get("time_zone")) if rule.get("time_zone") else zone)
    if "multiply" in rule:
        value = _number(value) * Decimal(str(rule["multiply"]))
    if rule.get("abs"):
        value = abs(_number(value))
    if "round" in rule:
        value = _number(value).quantize(Decimal(1).scaleb(-int(rule["round"])), rounding=ROUND_HALF_UP)
    if "type" in rule:
        value = _convert(value, rule["type"])
    if isinstance(value, Decimal):
        return _json_number(value)
    return value


def value_at(source: Any, dotted: str) -> Any:
    """The value at a dotted path (numeric parts index lists), or None."""
    value: Any = source
    for part in dotted.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _number(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise MappingError("", f"{value!r} is not a number")
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise MappingError("", f"{value!r} is not a number") from None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _convert(value: Any, kind: str) -> Any:
    if kind == "string":
        return _text(value)
    if kind == "number":
        return float(_number(value))
    if kind == "integer":
        number = _number(value)
        if number != number.to_integral_value():
            raise MappingError("", f"{_text(value)} is not a whole number (add \"round\": 0 to round it)")
        return int(number)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        text = _text(value).strip().lower()
        if text in {"true", "1", "yes", "x", "y"}:
            return True
        if text in {"false", "0", "no", "", "n"}:
            return False
        try:
            return _number(value) != 0
        except MappingError:
            raise MappingError("", f"{value!r} is not true or false") from None
    raise MappingError("", f"unknown type {kind!r}")


def _date(value: Any, date_format: str, zone: zoneinfo.ZoneInfo) -> Any:
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    moment = moment.astimezone(zone)
    if date_format == "iso":
        return moment.isoformat(timespec="seconds")
    if date_format == "epoch":
        return int(moment.timestamp())
    if date_format == "epoch_ms":
        return int(moment.timestamp() * 1000)
    return moment.strftime(date_format)


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 else float(value)


def _with_decimals(source: dict[str, Any]) -> dict[str, Any]:
    """Quantities and minutes as decimals, so format specs like ``{good_qty:.1f}`` work."""
    converted = dict(source)
    for name in DECIMAL_FIELDS:
        value = converted.get(name)
        if isinstance(value, str):
            try:
                converted[name] = Decimal(value)
            except InvalidOperation:
                pass
    return converted


class _Formatter(string.Formatter):
    """``str.format`` with dotted names looked up in nested dictionaries, never as attributes."""

    def __init__(self, quote_values: Any = None) -> None:
        super().__init__()
        self.quote_values = quote_values

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> tuple[Any, str]:
        if "[" in field_name:
            raise ValueError(f"use dots, not brackets, for nested fields: {field_name!r}")
        root = field_name.split(".")[0]
        if root not in kwargs:
            raise KeyError(root)
        return value_at(kwargs, field_name), root

    def format_field(self, value: Any, format_spec: str) -> str:
        text = format(value, format_spec) if format_spec else _text(value) if value is not None else ""
        return self.quote_values(text) if self.quote_values else text


def _zone(name: str | None) -> zoneinfo.ZoneInfo:
    if name:
        return zoneinfo.ZoneInfo(name)
    from django.conf import settings

    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else str(name)


# -- validating -------------------------------------------------------------------------------

#: Deeper mappings are refused: no ERP body needs them, and checking them would exhaust the stack.
MAX_DEPTH = 32


def validate_mapping(mapping: Any) -> dict[str, str]:
    """Every problem in ``mapping`` by output path (``"qty"``, ``"header.date"``, ``"items[0].qty"``); empty when fine."""
    if not isinstance(mapping, dict) or not mapping:
        return {"": 'A mapping is a non-empty object of output field → rule, e.g. {"qty": {"from": "good_qty"}}.'}
    if _depth(mapping) > MAX_DEPTH:
        return {"": f"A mapping may nest objects and lists {MAX_DEPTH} levels deep at most."}
    problems: dict[str, str] = {}
    _check_object(mapping, "", problems)
    return problems


def _depth(value: Any) -> int:
    """How deeply objects and lists nest in ``value``, counted without recursion (any depth parses)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def _check_object(mapping: dict[str, Any], path: str, problems: dict[str, str]) -> None:
    for name, rule in mapping.items():
        target = _join(path, name)
        if not isinstance(name, str) or not name:
            problems[target or "(empty)"] = "An output field needs a name."
            continue
        _check_value(rule, target, problems)


def _check_value(rule: Any, path: str, problems: dict[str, str]) -> None:
    if isinstance(rule, list):
        for index, item in enumerate(rule):
            _check_value(item, f"{path}[{index}]", problems)
        return
    if not isinstance(rule, dict):
        problems[path] = f'{rule!r} is not a rule; write {{"const": {rule!r}}} for a constant or {{"from": "<field>"}}.'
        return
    sources = [key for key in SOURCE_KEYS if key in rule]
    if not sources:
        if not rule:
            problems[path] = "An empty object; give a rule or nested fields."
            return
        unknown_steps = [key for key in rule if key in STEP_KEYS]
        if unknown_steps:
            problems[path] = f"{', '.join(unknown_steps)} needs a source: from, const or format."
            return
        # A nested object holds rules; plain values mean a rule whose source key is misspelt.
        misspelt = [str(key) for key, value in rule.items() if not isinstance(value, (dict, list))]
        if misspelt:
            problems[path] = (
                f"Unknown rule key(s) {', '.join(map(repr, misspelt))}: a rule needs one of from, const, format "
                "(a nested object holds rules, not plain values)."
            )
            return
        _check_object(rule, path, problems)
        return
    message = _rule_problem(rule, sources)
    if message:
        problems[path] = message
        return
    try:  # a dry run catches what only the data shows, like multiplying text
        _apply(rule, source_of(SAMPLE_PAYLOAD), _zone(rule.get("time_zone") or "UTC"))
    except MappingError as error:
        problems[path] = f"With a sample confirmation: {error.message}"
    except (ValueError, TypeError, KeyError, IndexError, InvalidOperation, ArithmeticError) as error:
        problems[path] = f"With a sample confirmation: {type(error).__name__}: {error}"


def _rule_problem(rule: dict[str, Any], sources: list[str]) -> str:
    unknown = sorted(str(key) for key in rule if key not in RULE_KEYS)
    if unknown:
        return f"Unknown rule key(s) {', '.join(map(repr, unknown))}; known: {', '.join(SOURCE_KEYS + STEP_KEYS)}."
    if len(sources) > 1:
        return f"Give one source, not {' and '.join(sources)}."
    if "from" in rule:
        problem = _source_problem(rule["from"])
        if problem:
            return problem
    if "format" in rule:
        problem = _format_problem(rule["format"])
        if problem:
            return problem
    if "type" in rule and rule["type"] not in TYPES:
        return f"Unknown type {rule['type']!r}; use {', '.join(TYPES)}."
    if "multiply" in rule and (isinstance(rule["multiply"], bool) or not isinstance(rule["multiply"], (int, float))):
        return "multiply takes a number, e.g. 0.0166667 for minutes → hours."
    if "round" in rule and (
        isinstance(rule["round"], bool) or not isinstance(rule["round"], int) or not 0 <= rule["round"] <= 10
    ):
        return "round takes a whole number of decimal places from 0 to 10."
    if "abs" in rule and not isinstance(rule["abs"], bool):
        return "abs takes true or false."
    if "map" in rule and (not isinstance(rule["map"], dict) or not all(isinstance(k, str) for k in rule["map"])):
        return 'map takes an object of input → output, e.g. {"SCRAP-01": "S1"}.'
    if "time_zone" in rule:
        try:
            zoneinfo.ZoneInfo(str(rule["time_zone"]))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return f"Unknown time zone {rule['time_zone']!r}."
    if "date_format" in rule:
        return _date_format_problem(rule["date_format"])
    return ""


def _source_problem(dotted: Any) -> str:
    if not isinstance(dotted, str) or not dotted:
        return "from takes a field name, e.g. good_qty."
    root, _, rest = dotted.partition(".")
    if root not in SOURCE_FIELDS:
        return f"Unknown source field {root!r}; known: {', '.join(SOURCE_FIELDS)}."
    if rest:
        if root not in NESTED_FIELDS:
            return f"{root} has no fields; use {root!r} alone."
        allowed = NESTED_FIELDS[root]
        if root in LIST_FIELDS:
            index, _, rest = rest.partition(".")
            if not index.isdigit():
                return f"{root} is a list: name one by number, e.g. {root}.0.item."
            if not rest:
                return ""
        if allowed is not None and rest not in allowed:
            return f"Unknown field {rest!r} of {root}; known: {', '.join(sorted(allowed))}."
    return ""


def _format_problem(template: Any) -> str:
    if not isinstance(template, str):
        return "format takes a text such as \"{work_order}-{operation:04d}\"."
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as error:
        return f"Bad format string {template!r}: {error}."
    for name in names:
        if name == "" or name.isdigit():
            return f"Bad format string {template!r}: name the field, e.g. {{work_order}}."
        problem = _source_problem(name.split("!")[0].split("[")[0])
        if problem:
            return f"Bad format string {template!r}: {problem}"
    try:
        _Formatter().vformat(template, (), _with_decimals(source_of(SAMPLE_PAYLOAD)))
    except (ValueError, TypeError, KeyError, IndexError) as error:
        return f"Bad format string {template!r}: {error}."
    return ""


def _date_format_problem(date_format: Any) -> str:
    if not isinstance(date_format, str) or not date_format:
        return 'date_format takes a strftime pattern such as "%Y%m%d%H%M%S", or iso, epoch, epoch_ms.'
    if date_format in SPECIAL_DATE_FORMATS:
        return ""
    directives = _STRFTIME_DIRECTIVE.findall(date_format)
    bad = [f"%{flag}{letter}" for flag, letter in directives if letter not in _STRFTIME_LETTERS]
    if bad:
        return f"Bad date format {date_format!r}: unknown directive(s) {', '.join(bad)}."
    if "%" in _STRFTIME_DIRECTIVE.sub("", date_format):
        return f"Bad date format {date_format!r}: it ends with a lone %."
    if not directives:
        return f"Bad date format {date_format!r}: it has no % directive, so every date would be the same text."
    return ""
