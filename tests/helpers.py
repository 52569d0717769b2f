"""Small helpers shared by the tests: building confirmation requests, moving orders through
their life cycle with the real services, and snapshotting everything a refusal must not touch."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from decimal import Decimal
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from erp_sync.models import OutboxMessage
from mes.models import (
    Bom,
    BomLine,
    Confirmation,
    Employee,
    Equipment,
    Event,
    Item,
    ReasonCode,
    Routing,
    RoutingOperation,
    Skill,
    UnitOfMeasure,
    WorkCenter,
    WorkOrder,
    WorkOrderComponent,
    WorkOrderOperation,
)
from mes.services.confirmations import ConfirmationRequest, ConfirmationResult, operation_confirm
from mes.services.work_orders import work_order_transition

D = Decimal


def confirmation_request(work_order: str = "WO-1001", operation: int = 10, **fields: Any) -> ConfirmationRequest:
    """A valid request by default; numbers may be given as int or str."""
    for name in ("good_qty", "scrap_qty", "rework_qty", "labor_minutes", "machine_minutes"):
        if name in fields:
            fields[name] = D(str(fields[name]))
    fields.setdefault("client_id", uuid.uuid4())
    return ConfirmationRequest(work_order=work_order, operation=operation, **fields)


def confirm(work_order: str = "WO-1001", operation: int = 10, actor: Any = None, **fields: Any) -> ConfirmationResult:
    return operation_confirm(request=confirmation_request(work_order, operation, **fields), actor=actor)


def operation_of(work_order: WorkOrder | str, sequence: int) -> WorkOrderOperation:
    number = work_order if isinstance(work_order, str) else work_order.number
    return WorkOrderOperation.objects.get(work_order__number=number, sequence=sequence)


def statuses(number: str) -> tuple[str, dict[int, str]]:
    """The order's status and its operations' statuses, read fresh."""
    order = WorkOrder.objects.get(number=number)
    return order.status, dict(order.operations.order_by("sequence").values_list("sequence", "status"))


def bring_to(number: str, status: str) -> None:
    """Move a planned order of quantity 10 with operations 10, 20, 30 to ``status`` through the services."""
    if status == "planned":
        return
    if status == "cancelled":
        work_order_transition(number=number, action="cancel")
        return
    work_order_transition(number=number, action="release")
    if status == "released":
        return
    confirm(number, 10, good_qty=1)
    if status == "in_progress":
        return
    if status == "paused":
        work_order_transition(number=number, action="pause")
        return
    confirm(number, 10, good_qty=9, final=True)
    confirm(number, 20, good_qty=10, final=True)
    confirm(number, 30, good_qty=10, final=True)
    if status == "completed":
        return
    assert status == "closed", status
    work_order_transition(number=number, action="close")


COUNTED = (
    Confirmation, OutboxMessage, Event, WorkOrder, WorkOrderOperation, WorkOrderComponent, Item, UnitOfMeasure,
    Bom, BomLine, Routing, RoutingOperation, WorkCenter, Equipment, Employee, Skill, ReasonCode,
)


def snapshot() -> dict[str, Any]:
    """Everything a refused request must leave as it was: row counts, order and operation state, totals."""
    return {
        "counts": {model.__name__: model.objects.count() for model in COUNTED},
        "orders": list(
            WorkOrder.objects.order_by("number").values_list("number", "status", "quantity", "due_date", "priority", "item__code")
        ),
        "operations": list(
            WorkOrderOperation.objects.order_by("work_order__number", "sequence").values_list(
                "work_order__number", "sequence", "status", "planned_qty", "good_qty", "scrap_qty", "rework_qty",
                "labor_minutes", "machine_minutes",
            )
        ),
        "items": list(Item.objects.order_by("code").values_list("code", "name", "unit__code", "description")),
    }


def dead_message(work_order: str, *, error: str) -> OutboxMessage:
    """The outbox message of a fresh confirmation, as if the ERP had refused it for good."""
    confirmation = confirm(work_order, 10, good_qty=Decimal(1)).confirmation
    OutboxMessage.objects.filter(source_uuid=confirmation.uuid).update(state="dead", last_error=error)
    return OutboxMessage.objects.get(source_uuid=confirmation.uuid)


def signed_in(client, role: str, username: str | None = None):
    """A Django test client signed in (by session) as a person holding ``role``, reading English."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user = get_user_model().objects.create_user(username=username or f"{role}-person", password="pw-123456")
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    client.force_login(user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


class Dispatcher:
    """What a worker does, in a background thread of the test: sweep and send until told to stop."""

    def __init__(self, threads: int = 8) -> None:
        self.threads = threads
        self.stopping = threading.Event()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self.run, name="test-dispatcher")

    def run(self) -> None:
        from django.db import connection

        from erp_sync.dispatcher import dispatch_until_idle, release_expired_leases

        try:
            while not self.stopping.is_set():
                release_expired_leases()
                if dispatch_until_idle(budget_seconds=2.0, threads=self.threads) == 0:
                    time.sleep(0.05)
        except BaseException as error:  # surfaced by __exit__; a test thread must not die silently
            self.errors.append(error)
        finally:
            connection.close()

    def __enter__(self) -> Dispatcher:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join(timeout=60)
        assert not self.errors, self.errors


def current_database_url() -> str:
    """DATABASE_URL of the database this test runs on, for a process of the plant the test starts."""
    from django.db import connection

    database = connection.settings_dict
    return f"postgresql://{database['USER'] or 'postgres'}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/{database['NAME']}"


@contextlib.contextmanager
def loopback_http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """A real HTTP server on 127.0.0.1 (an ephemeral port, yielded) in a thread, for as long as the block runs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
