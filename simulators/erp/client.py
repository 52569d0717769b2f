"""Driving a running simulator from Python: its control API, and starting one as a process.

with start_simulator("sap") as simulator:
    simulator.control.set_faults(error_rate=0.3, latency_ms=50)
    ...  # point a connector at simulator.service_url
    entries = simulator.control.ledger()
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from simulators.child_process import ChildProcess, child_start
from simulators.erp.server import (
    DEFAULT_ERPNEXT_TOKEN,
    DEFAULT_KINGDEE_ACCT_ID,
    DEFAULT_KINGDEE_APP_ID,
    DEFAULT_KINGDEE_APP_SECRET,
    DEFAULT_KINGDEE_PASSWORD,
    DEFAULT_KINGDEE_USER,
    DEFAULT_ODOO_DATABASE,
    DEFAULT_ODOO_KEY,
    DEFAULT_ODOO_LOGIN,
    DEFAULT_SAP_PASSWORD,
    DEFAULT_SAP_USER,
    DEFAULT_U8_APP_KEY,
    DEFAULT_U8_APP_SECRET,
    DEFAULT_U8_FROM_ACCOUNT,
    DEFAULT_U8_TO_ACCOUNT,
    LOOPBACK,
    service_path,
)

READY_MARKER = "ERP_SIMULATOR_READY"


class SimulatorError(RuntimeError):
    """The simulator did not start, or its control API refused a request."""


class SimulatorControl:
    """The control API of a running simulator (``/__sim__/*`` on its control port)."""

    def __init__(self, port: int, *, host: str = LOOPBACK, timeout: float = 10.0) -> None:
        self.url = f"http://{host}:{port}/__sim__"
        self.timeout = timeout
        self._session = requests.Session()

    def _call(self, method: str, path: str, payload: Any = None, params: dict[str, Any] | None = None) -> Any:
        response = self._session.request(method, self.url + path, json=payload, params=params, timeout=self.timeout)
        if response.status_code != 200:
            raise SimulatorError(f"{method} {path} → {response.status_code}: {response.text}")
        return (
            response.json()
            if response.headers.get("Content-Type", "").startswith("application/json")
            else response.text
        )

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def faults(self) -> dict[str, Any]:
        return self._call("GET", "/faults")

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """Change some faults, keep the others: ``set_faults(down=True)``, ``set_faults(error_rate=0.3)``."""
        return self._call("POST", "/faults", changes)

    def clear_faults(self) -> dict[str, Any]:
        return self._call("DELETE", "/faults")

    def reset(self) -> dict[str, Any]:
        """Forget every document, ledger entry, session and fault."""
        return self._call("POST", "/reset")

    def ledger(self, *, since: int = 0) -> list[dict[str, Any]]:
        return self._call("GET", "/ledger", params={"since": since})["entries"]

    def stock(self) -> dict[tuple[str, str], tuple[str, str]]:
        """The goods movements booked: (item, batch) → (issued, received), plain decimal strings."""
        rows = self._call("GET", "/stock")["stock"]
        return {(row["item"], row["batch"]): (row["issued"], row["received"]) for row in rows}

    def ledger_text(self) -> str:
        return self._call("GET", "/ledger", params={"format": "text"})

    def config(self) -> dict[str, Any]:
        return self._call("GET", "/config")

    def set_config(self, **changes: Any) -> dict[str, Any]:
        return self._call("POST", "/config", changes)

    def invalidate_sessions(self) -> None:
        """Expire every SAP CSRF token, Kingdee session or U8 token now, as a restart of the ERP's front end would."""
        self._call("POST", "/sessions/invalidate")

    def orders(self) -> list[dict[str, Any]]:
        """The production orders the ERP serves to an MES that pulls them."""
        return self._call("GET", "/orders")["orders"]

    def set_orders(self, *orders: dict[str, Any]) -> list[dict[str, Any]]:
        """Create or change orders (``simulators/erp/orders.py``); each is stamped as changed now."""
        return self._call("POST", "/orders", {"orders": list(orders)})["orders"]

    def clear_orders(self) -> None:
        self._call("DELETE", "/orders")

    def close(self) -> None:
        self._session.close()


@dataclass
class SimulatorProcess(ChildProcess):
    """A simulator running as a child process; ``stop()`` it (or use ``with``). ``stop`` returns its
    output with the ledger printed at the end; after ``kill`` the ``--ledger`` file holds what was committed."""

    flavor: str
    port: int
    control_port: int
    process: subprocess.Popen
    output_path: Path
    ledger_path: Path | None
    control: SimulatorControl = field(init=False)
    _final_output: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.control = SimulatorControl(self.control_port)

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def service_url(self) -> str:
        """Where a connector points: SAP's OData service root, Kingdee's site, else the base URL."""
        return self.base_url + service_path(self.flavor)

    @property
    def credentials(self) -> dict[str, str]:
        """The demo credentials the simulator was started with (unless overridden by ``args``)."""
        return {
            "sap": {"user": DEFAULT_SAP_USER, "password": DEFAULT_SAP_PASSWORD},
            "erpnext": {"token": DEFAULT_ERPNEXT_TOKEN},
            "odoo": {"user": DEFAULT_ODOO_LOGIN, "token": DEFAULT_ODOO_KEY, "database": DEFAULT_ODOO_DATABASE},
            "kingdee": {
                "user": DEFAULT_KINGDEE_USER, "password": DEFAULT_KINGDEE_PASSWORD, "acct_id": DEFAULT_KINGDEE_ACCT_ID,
                "app_id": DEFAULT_KINGDEE_APP_ID, "app_secret": DEFAULT_KINGDEE_APP_SECRET,
            },
            "u8": {
                "from_account": DEFAULT_U8_FROM_ACCOUNT, "to_account": DEFAULT_U8_TO_ACCOUNT,
                "app_key": DEFAULT_U8_APP_KEY, "app_secret": DEFAULT_U8_APP_SECRET,
            },
            "b2mml": {},
        }[self.flavor]


def start_simulator(
    flavor: str,
    port: int = 0,
    *,
    control_port: int | None = None,
    ledger_path: Path | str | None = None,
    args: list[str] | tuple[str, ...] = (),
    ready_timeout: float = 30.0,
    python: str = sys.executable,
    env: dict[str, str] | None = None,
) -> SimulatorProcess:
    """Start ``manage.py erp_simulator`` and return once both ports answer.

    ``port=0`` (the default) lets the operating system pick free loopback ports, so
    parallel tests never collide; the chosen ports are read back from the process.
    ``args`` are extra command-line options, e.g. ``["--sap-dedupe", "reject"]``.
    """
    command = ["erp_simulator", "--flavor", flavor, "--port", str(port)]
    if control_port is not None:
        command += ["--control-port", str(control_port)]
    if ledger_path is not None:
        command += ["--ledger", str(ledger_path)]
    process, output_path, ready = child_start(
        arguments=[*command, *args], ready_marker=READY_MARKER, name=f"{flavor} simulator", error=SimulatorError,
        ready_timeout=ready_timeout, python=python, env=env,
    )
    simulator = SimulatorProcess(
        flavor=flavor,
        port=ready["port"],
        control_port=ready["control_port"],
        process=process,
        output_path=output_path,
        ledger_path=Path(ledger_path) if ledger_path is not None else None,
    )
    simulator.control.health()
    return simulator
