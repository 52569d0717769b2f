"""Schemathesis fuzzes every operation of ``/api/schema/`` as an admin: nothing may answer 5xx.

Runs in this process through the WSGI application (no server), on the real test database,
derandomized so a failure repeats, with a bounded number of examples per operation: valid and
invalid requests with generated path parameters, and valid ones aimed at records that exist
(an order, an item, a machine, an ERP connection whose user is called 张三), so the
generated bodies reach the services instead of stopping at "not found".

Whatever the generated data names, the test reaches loopback only: a connection or device
mapping the fuzzer writes may point anywhere, and a connection test would call it.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import uuid
from decimal import Decimal
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup

from erp_sync.models import OutboxMessage
from erp_sync.services import erp_connection_upsert
from mes.services.accounts import api_token_create
from mes.services.holds import HoldRequest, hold_place
from mes.services.master_data import equipment_upsert, lot_upsert, reason_code_upsert
from mes.services.material_issues import MaterialIssueRequest, material_issue
from mes.services.nonconformances import NonconformanceRequest, nonconformance_open
from shopfloor.andon.services import AndonRequest, andon_raise
from tests.helpers import confirm

# Examples per operation and generation mode (derandomized, so the same each run): 6 on PostgreSQL (make test's first
# pass); the SQLite pass, which runs the same views through the same code, tries 3, so make test stays within budget.
EXAMPLES_PER_OPERATION = 6 if os.environ.get("DATABASE_URL", "").startswith("postgres") else 3


def _loopback(host: Any) -> bool:
    name = host.decode() if isinstance(host, bytes) else str(host)
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.strip("[]").split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def loopback_only(monkeypatch):
    """Name look-ups and connections to anything but loopback fail, as an unreachable host does."""
    lookup, connect, connect_ex = socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex

    def guarded_lookup(host, *args, **kwargs):
        if host is not None and not _loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, "this test reaches loopback only")
        return lookup(host, *args, **kwargs)

    def refuse_remote(sock, address) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            raise ConnectionRefusedError("this test reaches loopback only")

    def guarded_connect(sock, address):
        refuse_remote(sock, address)
        return connect(sock, address)

    def guarded_connect_ex(sock, address):
        refuse_remote(sock, address)
        return connect_ex(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", guarded_lookup)
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)


@pytest.fixture
def known(transactional_db, plant, released_order) -> dict[str, Any]:
    """Records the fuzzer's requests can name; path parameter values by operation path."""
    equipment_upsert(code="PRESS-1", name="Press 1", work_center="WC-CUT")
    confirmation = confirm("WO-1001", 10, good_qty=2).confirmation
    erp_connection_upsert(name="sap-cn", kind="sap", base_url="http://127.0.0.1:9/sap", username="张三", password="密码")
    lot_upsert(item_code="TUBE-20", lot_code="T-1", quantity=Decimal("100"))
    movement = material_issue(
        request=MaterialIssueRequest(client_id=uuid.uuid4(), work_order="WO-1001", operation=10, item="TUBE-20", lot="T-1", quantity=Decimal("2"))
    ).movement
    call = andon_raise(request=AndonRequest(kind="help", severity="low", work_center="WC-CUT")).call
    reason_code_upsert(code="DEF-CRACK", kind="defect", name="Crack")
    nonconformance = nonconformance_open(request=NonconformanceRequest("WO-1001", 10, Decimal(1), "DEF-CRACK"))
    hold = hold_place(request=HoldRequest(lot="T-1", reason="fuzz"))
    keys = {
        "items": "FRAME-100", "boms": "FRAME-100", "routings": "FRAME-100", "work-orders": "WO-1001",
        "work-centers": "WC-CUT", "equipment": "PRESS-1", "employees": "B-1001", "reason-codes": "SCRAP-01",
    }
    return {
        "keys": keys,
        "ids": {
            "name": "sap-cn", "code": "PRESS-1", "number": "WO-1001", "sequence": 10,
            "confirmation_id": str(confirmation.uuid), "message_id": OutboxMessage.objects.order_by("pk").first().pk, "drift_id": 1,
            "item_code": "TUBE-20", "lot_code": "T-1", "movement_id": str(movement.uuid), "call_id": str(call.uuid), "characteristic": "LEN",
            "hold_id": hold.pk, "nonconformance_id": nonconformance.pk,
        },
    }


def path_parameters(operation, known: dict[str, Any]) -> dict[str, Any]:
    """Existing records for the operation's path parameters (``key`` depends on the collection).

    Generated connections are written under a name of their own, so the seeded one (user 张三)
    is still there when its test call comes.
    """
    collection = operation.path.removeprefix("/api/v1/").split("/")[0]
    values = {**known["ids"], "key": known["keys"].get(collection)}
    if collection == "erp-connections" and operation.method.upper() == "PUT":
        values["name"] = "sap-fuzz"
    return {parameter.name: values[parameter.name] for parameter in operation.path_parameters}


def _negatable(operation) -> bool:
    """Whether a request can break the schema: a body, a query or a typed path parameter can; text cannot."""
    if len(operation.body) or len(operation.query):
        return True
    return any((parameter.definition.get("schema") or {}).get("type") != "string" for parameter in operation.path_parameters)


@pytest.fixture
def api_schema(known, loopback_only):
    from mes.wsgi import application

    token = api_token_create(username="fuzz-admin", role="admin")
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    schema.config.update(headers={"Authorization": f"Token {token.key}"})
    return schema


@pytest.mark.slow
def test_no_generated_request_is_answered_with_a_server_error(api_schema, known):
    failures = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        fixed = path_parameters(operation, known)
        passes = [(GenerationMode.POSITIVE, fixed)] if fixed else []
        passes.append((GenerationMode.POSITIVE, {}))
        if _negatable(operation):
            passes.append((GenerationMode.NEGATIVE, {}))
        for mode, parameters in passes:

            @given(case=operation.as_strategy(generation_mode=mode, path_parameters=parameters or None))
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def call(case):
                case.call_and_validate(checks=[not_a_server_error])

            try:
                call()
            except (Exception, FailureGroup) as failure:  # noqa: BLE001 - every operation is tried; all failures are reported
                failures.append(f"{operation.label} ({mode}{', known records' if parameters else ''}): {failure}")
    assert not failures, "\n\n".join(failures)
