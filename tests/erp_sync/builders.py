"""What the connector and simulator tests build alike: a simulator per module, set back before each
test; a connector for each simulated ERP; postings as the outbox hands them to a connector, with
each ERP's own order numbers and habits; waiting for an ERP's ledger."""

from __future__ import annotations

import inspect

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from erp_sync.connectors.base import ConnectionConfig, Connector, Posting
from erp_sync.connectors.erpnext import ErpNextConnector
from erp_sync.connectors.kingdee import KingdeeConnector
from erp_sync.connectors.odoo import OdooConnector
from erp_sync.connectors.sap import SapConnector
from erp_sync.connectors.u8 import U8Connector
from erp_sync.models import ErpConnection
from erp_sync.services import erp_connection_upsert
from simulators.erp import SimulatorProcess, start_simulator

SAP_ORDER = "1004157"
ERPNEXT_ORDER = "MFG-WO-2025-00042"
ODOO_ORDER = "WH/MO/00042"
KINGDEE_ORDER = "MO000042"
U8_ORDER = "0000000042"
#: ERPNext names an operation by its name (``operation_as`` "name"), so postings carry the routing's.
ERPNEXT_OPERATION_NAMES = {10: "Cut", 20: "Weld", 30: "Paint"}
#: The Odoo version that picks each protocol.
ODOO_VERSIONS = {"json2": 19, "xmlrpc": 16}


def simulator_fixtures(flavor: str, **config: Any) -> tuple[Any, Any]:
    """Two fixtures: ``<flavor>_process``, one simulator for the module, and ``<flavor>``, that simulator
    with its ledger emptied and ``config`` (if any) set again before each test. Assign both in the test module."""
    process_name = f"{flavor}_process"

    @pytest.fixture(scope="module", name=process_name)
    def process() -> Iterator[SimulatorProcess]:
        with start_simulator(flavor) as simulator:
            yield simulator

    def simulator(**fixtures: Any) -> SimulatorProcess:
        running: SimulatorProcess = fixtures[process_name]
        running.control.reset()  # keeps the configuration, so set it back too
        if config:
            running.control.set_config(**config)
        return running

    # Named in the signature, the process is a fixture pytest sees before the test runs: the test is
    # then marked `subprocess` (tests/conftest.py), so the SQLite pass and `make test-fast` leave it out.
    return process, pytest.fixture(name=flavor)(_taking(simulator, process_name))


def connector_fixture(flavor: str, build: Callable[[SimulatorProcess], Connector]) -> Any:
    """A fixture ``connector``: ``build(<flavor> simulator)`` for one test, closed after it. Assign it in the test module."""

    def connector(**fixtures: Any) -> Iterator[Connector]:
        built = build(fixtures[flavor])
        yield built
        built.close()

    return pytest.fixture(name="connector")(_taking(connector, flavor))


def _taking(function: Callable[..., Any], *names: str) -> Callable[..., Any]:
    """``function`` declaring the fixtures ``names`` as its keyword-only parameters (pytest reads the signature)."""
    function.__signature__ = inspect.Signature([inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY) for name in names])
    return function


def simulator_connection(simulator: SimulatorProcess, *, timeout: int = 5, **options: Any) -> ErpConnection:
    """The default ERP connection (``sim-<flavor>``) to ``simulator``, with its demo credentials; Odoo's
    database is named for it, ``options`` go on top."""
    credentials = simulator.credentials
    defaults = {
        "odoo": {"database": credentials.get("database")},
        "kingdee": {"acct_id": credentials.get("acct_id"), "org_number": "100", "workshop_number": "WS01"},
        "u8": {**credentials, "warehouse_code": "01"},
        "b2mml": {"lookup_url": simulator.service_url + "/{bodid}"},
    }.get(simulator.flavor, {})
    connection, _created = erp_connection_upsert(
        name=f"sim-{simulator.flavor}",
        kind=simulator.flavor,
        base_url=simulator.service_url,
        username=credentials.get("user", ""),
        password=credentials.get("password", ""),
        token=credentials.get("token", ""),
        options={**defaults, **options},
        timeout_seconds=timeout,
        is_default=True,
    )
    return connection


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


def sap_confirmation(
    *, operation: int = 10, good: str = "5.000", scrap: str = "1.000", final: bool = False, order: str = SAP_ORDER, **extra: Any
) -> Posting:
    return confirmation_posting(
        order=order, operation=operation, good=good, scrap=scrap, final=final,
        reason_code="SC01", reason_kind="scrap", labor_minutes="90.00", confirmed_at="2025-03-01T20:30:00+00:00", **extra,
    )


def erpnext_confirmation(
    *, operation: int = 10, good: str = "5.000", scrap: str = "1.000", order: str = ERPNEXT_ORDER, final: bool = False
) -> Posting:
    name = ERPNEXT_OPERATION_NAMES[operation]
    return confirmation_posting(
        order=order, operation=operation, good=good, scrap=scrap, final=final, operation_name=name,
        work_center=f"WC-{name.upper()}", rework_qty="2.000", reason_code="SCRAP-01", reason_kind="scrap",
    )


def odoo_confirmation(
    *, operation: int = 10, good: str = "5.000", scrap: str = "1.000", order: str = ODOO_ORDER, final: bool = False
) -> Posting:
    return confirmation_posting(
        order=order, operation=operation, good=good, scrap=scrap, final=final, confirmed_at="2025-03-01T16:00:00+08:00"
    )


def kingdee_confirmation(
    *, operation: int = 10, good: str = "5.000", scrap: str = "1.000", order: str = KINGDEE_ORDER, final: bool = False, **extra: Any
) -> Posting:
    return confirmation_posting(
        order=order, operation=operation, good=good, scrap=scrap, final=final, confirmed_at="2025-03-01T17:30:00+00:00", **extra
    )


def kingdee_connector(
    simulator: SimulatorProcess, *, signed: bool = False, timeout: float = 5.0, password: str | None = None, **options: Any
) -> KingdeeConnector:
    """A connector to the simulated Kingdee: ValidateUser with the demo password, or ``signed`` with the demo app."""
    credentials = simulator.credentials
    signing = {"app_id": credentials["app_id"], "app_secret": credentials["app_secret"]} if signed else {}
    return KingdeeConnector(
        ConnectionConfig(
            name="kingdee-test", kind="kingdee", base_url=simulator.service_url, username=credentials["user"],
            password="" if signed else (password if password is not None else credentials["password"]),
            options={"acct_id": credentials["acct_id"], "org_number": "100", "workshop_number": "WS01", **signing, **options},
            timeout_seconds=timeout,
        )
    )


def u8_confirmation(
    *, operation: int = 10, good: str = "5.000", scrap: str = "1.000", order: str = U8_ORDER, final: bool = False, **extra: Any
) -> Posting:
    return confirmation_posting(
        order=order, operation=operation, good=good, scrap=scrap, final=final, confirmed_at="2025-03-01T17:30:00+00:00", **extra
    )


def u8_connector(simulator: SimulatorProcess, *, timeout: float = 5.0, **options: Any) -> U8Connector:
    """A connector to the simulated U8+ OpenAPI gateway with the demo app's accounts, key and secret."""
    return U8Connector(
        ConnectionConfig(
            name="u8-test", kind="u8", base_url=simulator.service_url,
            options={**simulator.credentials, "warehouse_code": "01", **options}, timeout_seconds=timeout,
        )
    )


def sap_connector(simulator: SimulatorProcess, *, timeout: float = 5.0, **options: Any) -> SapConnector:
    return SapConnector(
        ConnectionConfig(
            name="sap-test", kind="sap", base_url=simulator.service_url, username=simulator.credentials["user"],
            password=simulator.credentials["password"], options=options, timeout_seconds=timeout,
        )
    )


def erpnext_connector(simulator: SimulatorProcess, *, timeout: float = 5.0, token: str | None = None, **options: Any) -> ErpNextConnector:
    return ErpNextConnector(
        ConnectionConfig(
            name="erpnext-test", kind="erpnext", base_url=simulator.base_url, token=token or simulator.credentials["token"],
            options=options, timeout_seconds=timeout,
        )
    )


def odoo_connector(
    simulator: SimulatorProcess, via: str = "json2", *, timeout: float = 5.0, key: str | None = None, **options: Any
) -> OdooConnector:
    return OdooConnector(
        ConnectionConfig(
            name="odoo-test", kind="odoo", base_url=simulator.base_url, username=simulator.credentials["user"],
            token=key or simulator.credentials["token"],
            options={"version": ODOO_VERSIONS[via], "database": simulator.credentials["database"], **options},
            timeout_seconds=timeout,
        )
    )


def odoo_lots_stage(simulator: SimulatorProcess, lots: dict[str, list[str]]) -> None:
    """Create lots in the simulated Odoo (``{item: [lot, …]}``) through its JSON-2 API, as the ERP staged
    them for production: Odoo holds the lots components are issued from (the products it makes up itself)."""
    headers = {"Authorization": f"bearer {simulator.credentials['token']}"}
    for item, names in lots.items():
        found = requests.post(
            f"{simulator.base_url}/json/2/product.product/search_read",
            json={"domain": [["default_code", "=", item]], "fields": ["id"], "limit": 1}, headers=headers, timeout=5,
        )
        found.raise_for_status()
        product_id = found.json()[0]["id"]
        created = requests.post(
            f"{simulator.base_url}/json/2/stock.lot/create",
            json={"vals_list": [{"name": name, "product_id": product_id} for name in names]}, headers=headers, timeout=5,
        )
        created.raise_for_status()


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


def movement(*, movement_type: str = "261", item: str = "STEEL-10", lot: str | None = "L-0001", quantity: str = "2.000", unit: str = "KG") -> dict[str, Any]:
    """One movement as ``mes.services.materials.movement_json`` writes it."""
    return {"movement_id": str(uuid.uuid4()), "movement_type": movement_type, "item": item, "lot": lot, "quantity": quantity, "unit": unit}


def goods_posting(
    *,
    order: str,
    kind: str = "goods_issue",
    movements: list[dict[str, Any]] | None = None,
    operation: int = 10,
    confirmation_id: str | None = None,
    reverses: Posting | None = None,
    reverses_ref: dict[str, Any] | None = None,
    confirmation_ref: dict[str, Any] | None = None,
) -> Posting:
    """A goods message as ``mes.services.materials.goods_message`` writes it, handed to a connector;
    ``reverses`` the goods posting it takes back (its movements negated: 262 for 261, 102 for 101)."""
    key = str(uuid.uuid4())
    if reverses is not None:
        turned = {"261": "262", "101": "102"}
        movements = [{**moved, "movement_type": turned[moved["movement_type"]]} for moved in reverses.payload["movements"]]
    payload = {
        "type": kind,
        "document_id": key,
        "work_order": order,
        "work_order_uuid": str(uuid.uuid4()),
        "order_item": "FRAME-100",
        "operation": operation,
        "operation_name": ERPNEXT_OPERATION_NAMES.get(operation, "Cut"),
        "work_center": "WC-CUT",
        "confirmation_id": confirmation_id,
        "movements": movements if movements is not None else [movement()],
        "reverses": {"document_id": reverses.idempotency_key, "idempotency_key": reverses.idempotency_key} if reverses else None,
        "operator_badge": "B-1001",
        "station": "ST-07",
        "posted_at": "2025-03-01T08:00:00+00:00",
    }
    return Posting(
        idempotency_key=key, kind=kind, work_order=order, sequence=1, payload=payload,
        reverses_ref=reverses_ref, reverses_key=reverses.idempotency_key if reverses else None, confirmation_ref=confirmation_ref,
    )
