"""``confirmation_input`` answers exactly what ``ConfirmationSerializer`` answers, for any input.

Its quick path accepts only plain, valid shapes; these tests hold it to the serializer over
hand-picked edge cases and many generated records: same values (same Decimal places, same
types), same refusals word for word, in English and in Chinese.
"""

from __future__ import annotations

import random
import uuid
from decimal import Decimal

import pytest
from django.utils import translation
from rest_framework.exceptions import ValidationError

from mes.api.serializers import ConfirmationSerializer, _fast_confirmation, confirmation_input

CLIENT_ID = "6f1d8a52-3c1e-4f5e-9a7b-2d4c6e8f0a13"


def _typed(values: dict) -> dict:
    """Values with their exact type and spelling, so 1 == 1.000 == True cannot hide a difference."""
    return {name: (type(value).__name__, str(value)) for name, value in values.items()}


def _serializer_answer(data):
    serializer = ConfirmationSerializer(data=data)
    if serializer.is_valid():
        return "valid", _typed(dict(serializer.validated_data))
    return "invalid", ValidationError(serializer.errors).detail


def _bulk_serializer_answer(data, serializer):
    try:
        return "valid", _typed(dict(serializer.run_validation(data)))
    except ValidationError as error:
        return "invalid", error.detail


def _our_answer(data, validator=None):
    try:
        return "valid", _typed(confirmation_input(data, validator))
    except ValidationError as error:
        return "invalid", error.detail


def _base(**changes):
    record = {"client_id": CLIENT_ID, "work_order": "WO-1001", "operation": 10, "good_qty": 1}
    for name, value in changes.items():
        if value is _ABSENT:
            record.pop(name, None)
        else:
            record[name] = value
    return record


_ABSENT = object()

QUANTITY_VALUES = [
    0, 1, 7, 10**10, 10**11 - 1, 10**11, -1, True, False, None, "", " ", "1", " 1 ", "1.5", "1.500", "1.5000", "0.001",
    "0.0001", "00001", "000000000001", "1e3", "1E-3", "-0", "+1", "١", "NaN", "Infinity", "1,5", "12345678901.123",
    "123456789012", 1.5, 0.1 + 0.2, 1e16, 2.0, float("inf"), [], {}, "99999999999.999", _ABSENT,
]
MINUTES_VALUES = [0, 1, "0.5", "0.55", "0.555", 10**8 - 1, 10**8, "99999999.99", -1, 1.25, None, "x", _ABSENT]
TEXT_VALUES = [
    "", "  ", "A", " B-1001 ", "工位-7", "x" * 64, "x" * 65, " " + "x" * 64 + " ", "a\x00b", "\ud800", 5, 5.5, True,
    None, ["a"], {"a": 1}, "\t\n", _ABSENT,
]
OTHER_CASES = [
    {"operation": value}
    for value in (1, 9999, 0, 10000, -5, "10", "10.0", 10.0, True, None, "", [], _ABSENT)
] + [
    {"client_id": value}
    for value in (CLIENT_ID.upper(), CLIENT_ID.replace("-", ""), "{" + CLIENT_ID + "}", "urn:uuid:" + CLIENT_ID, "nope", "", 5,
                  None, " " + CLIENT_ID, _ABSENT)
] + [
    {"final": value} for value in (True, False, "true", "yes", 1, 0, None, "x", _ABSENT)
] + [
    {"confirmed_at": value}
    for value in ("2026-11-22T08:00:00Z", "2026-11-22T08:00:00+08:00", "2026-11-22T08:00:00", "2026-11-22", "yesterday", "",
                  None, 5, "2026-03-29T02:30:00", _ABSENT)
] + [
    {"colour": "red"}, {"work_order": "x" * 64}, {"work_order": " WO-1001 "},
]


def _cases():
    cases = [_base(good_qty=value) for value in QUANTITY_VALUES]
    cases += [_base(scrap_qty=value, reason_code="S") for value in QUANTITY_VALUES]
    cases += [_base(labor_minutes=value) for value in MINUTES_VALUES]
    cases += [_base(**{name: value}) for name in ("work_order", "reason_code", "operator_badge", "station") for value in TEXT_VALUES]
    cases += [_base(**changes) for changes in OTHER_CASES]
    cases += [[], None, "text", 42, [{"client_id": CLIENT_ID}]]
    generator = random.Random(20261122)
    for _ in range(400):
        record = {}
        for name, choices in (
            ("client_id", [str(uuid.UUID(int=generator.getrandbits(128))), "bad", _ABSENT]),
            ("work_order", TEXT_VALUES), ("operation", [10, 20, 0, "10", _ABSENT]),
            ("good_qty", QUANTITY_VALUES), ("scrap_qty", QUANTITY_VALUES), ("rework_qty", QUANTITY_VALUES),
            ("reason_code", TEXT_VALUES), ("operator_badge", TEXT_VALUES), ("station", TEXT_VALUES),
            ("labor_minutes", MINUTES_VALUES), ("machine_minutes", MINUTES_VALUES),
            ("final", [True, False, "true", None, _ABSENT]), ("confirmed_at", [None, "2026-11-22T08:00:00Z", "bad", _ABSENT]),
        ):
            # Mostly good values, so the generated records reach the quick path and not only refusals.
            value = choices[0] if generator.random() < 0.5 else generator.choice(choices)
            if value is not _ABSENT:
                record[name] = value
        cases.append(record)
    return cases


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_confirmation_input_answers_like_the_serializer(language):
    with translation.override(language):
        for data in _cases():
            assert _our_answer(data) == _serializer_answer(data), data


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_bulk_requests_records_are_answered_like_its_one_serializer_answers_them(language):
    with translation.override(language):
        ours, theirs = ConfirmationSerializer(), ConfirmationSerializer()
        for data in _cases():
            assert _our_answer(data, ours) == _bulk_serializer_answer(data, theirs), data


def test_the_quick_path_takes_what_stations_usually_send():
    record = {
        "client_id": CLIENT_ID, "work_order": "WO-1001", "operation": 10, "good_qty": 5, "scrap_qty": "0.5",
        "rework_qty": 0, "reason_code": "SCRAP-01", "operator_badge": "B-1001", "station": "工位-7",
        "labor_minutes": 1.5, "machine_minutes": "2", "final": False, "confirmed_at": "2026-11-22T08:00:00Z",
    }

    values = _fast_confirmation(record)

    assert values is not None
    assert values["good_qty"] == Decimal("5.000") and str(values["scrap_qty"]) == "0.500"
    assert _typed(values) == _serializer_answer(record)[1]


@pytest.mark.parametrize(
    "materials",
    [
        {"lots": [{"item": "TUBE-20", "lot": " T-1 "}, {"item": "BOLT", "lot": "B-1", "quantity": "2.5"}]},
        {"lots": [{"item": "TUBE-20", "lot": "T-1", "quantity": 0}]},
        {"lots": [{"item": "", "lot": "T-1"}]},
        {"lots": "T-1"},
        {"output_lot": " FR-1 "},
        {"output_lot": ""},
        {"serials": ["SN-1", "SN-2"]},
        {"serials": ["SN-1", "SN-1"]},
        {"serials": [1]},
    ],
)
def test_the_material_fields_are_answered_like_the_serializer(materials):
    record = {"client_id": CLIENT_ID, "work_order": "WO-1001", "operation": 10, "good_qty": 1, **materials}
    assert _our_answer(record) == _serializer_answer(record), record


def test_the_quick_path_takes_plain_lots_output_lots_and_serials():
    record = {"client_id": CLIENT_ID, "work_order": "WO-1001", "operation": 30, "good_qty": 2, "output_lot": "FR-1",
              "lots": [{"item": "TUBE-20", "lot": "T-1", "quantity": "1.5"}], "serials": ["SN-1", "SN-2"]}
    values = _fast_confirmation(record)
    assert values is not None
    assert (values["lots"], values["output_lot"], values["serials"]) == (
        [{"item": "TUBE-20", "lot": "T-1", "quantity": Decimal("1.500")}], "FR-1", ["SN-1", "SN-2"]
    )
