"""Faults injected into the simulated ERP while it runs, set through the control API."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

BATCH_NOT_OFFERED_STATUSES = (0, 404, 405, 501)


class FaultError(ValueError):
    """A fault setting with an unknown name or a value out of range."""


@dataclass(frozen=True)
class Faults:
    #: The ERP port refuses connections (the listening socket is closed) and open
    #: keep-alive connections are cut.
    down: bool = False
    #: Share of requests answered with a 5xx (500/502/503) in the ERP's own style, before
    #: anything is committed.
    error_rate: float = 0.0
    #: Delay before each request is processed, so a request that outlives the client's
    #: timeout is still committed afterwards, as a slow ERP would.
    latency_ms: int = 0
    #: Share of writes refused as "locked" (SAP 423; a lock error for the others).
    #: ``true`` means every write.
    locked: float = 0.0
    #: Writes for these orders are refused as locked until the order is removed here.
    locked_orders: tuple[str, ...] = ()
    #: Writes for these orders fail with a permanent business error (SAP 400, ERPNext 417,
    #: Odoo UserError) until the order is removed here, as if master data were wrong.
    rejected_orders: tuple[str, ...] = ()
    #: Share of writes that are committed (and written to the ledger) and then answered with
    #: nothing: the connection is closed. The client cannot tell whether it worked.
    drop_after_commit_rate: float = 0.0
    #: SAP: ``POST $batch`` is answered with this status (404, 405 or 501) and nothing in it is
    #: processed, as by a gateway that offers no OData batch; 0 = offered.
    batch_not_offered: int = 0

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["locked_orders"] = list(self.locked_orders)
        data["rejected_orders"] = list(self.rejected_orders)
        return data

    def updated(self, changes: dict[str, Any]) -> Faults:
        """A copy with ``changes`` applied; raises ``FaultError`` naming the bad setting."""
        if not isinstance(changes, dict):
            raise FaultError("faults must be a JSON object")
        known = {item.name for item in dataclasses.fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise FaultError(f"unknown fault(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
        values: dict[str, Any] = {}
        for name, value in changes.items():
            if name == "down":
                values[name] = _boolean(name, value)
            elif name in {"error_rate", "drop_after_commit_rate"}:
                values[name] = _rate(name, value)
            elif name == "locked":
                values[name] = (1.0 if value else 0.0) if isinstance(value, bool) else _rate(name, value)
            elif name == "batch_not_offered":
                if isinstance(value, bool) or value not in BATCH_NOT_OFFERED_STATUSES:
                    raise FaultError("batch_not_offered must be 0 (offered) or the status to answer: 404, 405 or 501")
                values[name] = value
            elif name == "latency_ms":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 600_000:
                    raise FaultError("latency_ms must be a number of milliseconds between 0 and 600000")
                values[name] = int(value)
            else:
                if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                    raise FaultError(f"{name} must be a list of order numbers (strings)")
                values[name] = tuple(value)
        return dataclasses.replace(self, **values)


def _boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise FaultError(f"{name} must be true or false")
    return value


def _rate(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise FaultError(f"{name} must be a number between 0 and 1")
    return float(value)
