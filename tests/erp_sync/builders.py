"""What the connector and simulator tests build alike: a simulator per module, set back before each
test; postings as the outbox hands them to a connector; waiting for an ERP's ledger."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from erp_sync.connectors.base import Posting
from simulators.erp import SimulatorProcess, start_simulator


def simulator_fixtures(flavor: str, **config: Any) -> tuple[Any, Any]:
    """Two fixtures: ``<flavor>_process``, one simulator for the module, and ``<flavor>``, that simulator
    with its ledger emptied and ``config`` (if any) set again before each test. Assign both in the test module."""
    process_name = f"{flavor}_process"

    @pytest.fixture(scope="module", name=process_name)
    def process() -> Iterator[SimulatorProcess]:
        with start_simulator(flavor) as simulator:
            yield simulator

    @pytest.fixture(name=flavor)
    def simulator(request: pytest.FixtureRequest) -> SimulatorProcess:
        running: SimulatorProcess = request.getfixturevalue(process_name)
        running.control.reset()  # keeps the configuration, so set it back too
        if config:
            running.control.set_config(**config)
        return running

    return process, simulator


def confirmation_posting(
    *, order: str, operation: int = 10, good: str = "5.000", scrap: str = "1.000", final: bool = False, **fields: Any
) -> Posting:
    """A confirmation as the dispatcher hands it to a connector; ``fields`` replace or add payload fields."""
    key = str(uuid.uuid4())
    payload = {
        "type": "confirmation",
        "confirmation_id": key,
        "work_order": order,
        "item": "FRAME-100",
        "operation": operation,
        "operation_name": "Cut",
        "work_center": "WC-CUT",
        "good_qty": good,
        "scrap_qty": scrap,
        "rework_qty": "0.000",
        "unit": "PCS",
        "reason_code": None,
        "labor_minutes": "45.00",
        "machine_minutes": "30.00",
        "operator_badge": "B-1001",
        "station": "ST-07",
        "final": final,
        "confirmed_at": "2025-03-01T08:00:00+00:00",
        "reverses": None,
        **fields,
    }
    return Posting(idempotency_key=key, kind="confirmation", work_order=order, sequence=1, payload=payload)


def reversal_of(original: Posting, reverses_ref: dict[str, Any] | None) -> Posting:
    """The reversal of ``original`` with its own key; ``reverses_ref`` as the ERP acknowledged the original."""
    key = str(uuid.uuid4())
    payload = {
        **original.payload,
        "type": "reversal",
        "confirmation_id": key,
        "good_qty": "-" + original.payload["good_qty"],
        "scrap_qty": "-" + original.payload["scrap_qty"],
        "reverses": {"confirmation_id": original.idempotency_key, "idempotency_key": original.idempotency_key},
    }
    return Posting(
        idempotency_key=key,
        kind="reversal",
        work_order=original.work_order,
        sequence=original.sequence + 1,
        payload=payload,
        reverses_ref=reverses_ref,
        reverses_key=original.idempotency_key,
    )


def wait_for_ledger(simulator: SimulatorProcess, length: int, seconds: float = 5.0) -> list[dict[str, Any]]:
    """The simulator's ledger once it holds ``length`` entries, or as it is after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        entries = simulator.control.ledger()
        if len(entries) >= length or time.monotonic() > deadline:
            return entries
        time.sleep(0.05)
