"""The simulator process: the ERP port, the control port, faults and the request pipeline.

Two threaded HTTP/1.1 servers bound to loopback only:

- the **ERP port** speaks the chosen flavour. It can be taken "down" (listening socket
  closed, open connections cut) and brought back on the same port while running;
- the **control port** (default ERP port + 1) never goes down and serves ``/__sim__/*``:

  ================================  ==========================================================
  ``GET  /__sim__/health``          flavour, ports, whether the ERP port listens, counters
  ``GET  /__sim__/faults``          the active faults
  ``POST /__sim__/faults``          change some faults (JSON object, see ``faults.Faults``)
  ``DELETE /__sim__/faults``        back to no faults
  ``POST /__sim__/reset``           clear ledger, documents, sessions, faults and counters
  ``GET  /__sim__/ledger``          ``{"flavor", "entries": [...]}``; ``?since=N`` for entries
                                    after seq N; ``?format=text`` for the printable table
  ``GET  /__sim__/stock``           ``{"flavor", "stock": [{"item", "batch", "issued", "received"}]}``:
                                    the goods movements booked, per item and batch
  ``GET/POST /__sim__/config``      flavour switches (SAP ``dedupe``, ``csrf_ttl_s``,
                                    ``csrf_max_uses``; ERPNext ``duplicate_error``; Odoo
                                    ``autocreate``)
  ``POST /__sim__/sessions/invalidate``  expire every SAP CSRF token, Kingdee session or U8 token now
  ``GET/POST/DELETE /__sim__/orders``   the production orders it serves to an MES that pulls them:
                                    list, create or change (``{"orders": [...]}``, see ``orders.py``),
                                    empty; a reset brings back the demo orders
  ================================  ==========================================================

Each ERP request goes: injected latency → still up? → injected 5xx → the flavour (under one
lock, with the lock/reject/drop dice already rolled) → dropped without an answer if it
committed and the drop die said so.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import socket
import socketserver
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from simulators.erp.b2mml import PATH as B2MML_PATH
from simulators.erp.b2mml import B2mmlFlavor
from simulators.erp.base import ErpFlavor, SimRequest, SimResponse
from simulators.erp.erpnext import ErpnextFlavor
from simulators.erp.faults import FaultError, Faults
from simulators.erp.kingdee import KingdeeFlavor
from simulators.erp.ledger import Ledger
from simulators.erp.odoo import OdooFlavor
from simulators.erp.sap import SERVICE_PATH, SapFlavor
from simulators.erp.u8 import U8Flavor

logger = logging.getLogger("simulators.erp")

FLAVORS = ("sap", "erpnext", "odoo", "kingdee", "u8", "b2mml")
LOOPBACK = "127.0.0.1"
MAX_BODY_BYTES = 32 * 1024 * 1024

#: Demo credentials, also listed in ``manage.py erp_simulator --help``.
DEFAULT_SAP_USER = "MES_INTEGRATION"
DEFAULT_SAP_PASSWORD = "mes-demo-password"
DEFAULT_ERPNEXT_TOKEN = "mes-demo-key:mes-demo-secret"
DEFAULT_ODOO_LOGIN = "mes@example.com"
DEFAULT_ODOO_KEY = "mes-demo-odoo-api-key"
DEFAULT_ODOO_DATABASE = "mes"
DEFAULT_KINGDEE_ACCT_ID = "62e8a1f0c3b24d5e9f7a6b8c"
DEFAULT_KINGDEE_USER = "MES"
DEFAULT_KINGDEE_PASSWORD = "mes-demo-password"
#: A third-party app's AppID (``<client id>_<32 characters>``) and secret, for signed calls.
DEFAULT_KINGDEE_APP_ID = "245678_bWVzLWRlbW8ta2luZ2RlZS1hcHAtc2Vj"
DEFAULT_KINGDEE_APP_SECRET = "mes-demo-kingdee-app-secret"
KINGDEE_SITE = "/k3cloud/"
#: The U8+ OpenAPI caller (from_account), the enterprise (to_account) and the app's key and secret.
DEFAULT_U8_FROM_ACCOUNT = "mes_dev"
DEFAULT_U8_TO_ACCOUNT = "plant_u8"
DEFAULT_U8_APP_KEY = "opa_mes_demo_key"
DEFAULT_U8_APP_SECRET = "mes-demo-u8-app-secret"

SERVER_HEADERS = {
    "sap": "SAP NetWeaver Application Server 7.58 / AS ABAP 758",
    "erpnext": "nginx",
    "odoo": "Werkzeug/3.0.1 Python/3.12.3",
    "kingdee": "Microsoft-IIS/10.0",
    "u8": "nginx",
    "b2mml": "Apache-Coyote/1.1",
}


@dataclass
class SimulatorConfig:
    flavor: str
    port: int = 0
    control_port: int | None = None  # None: port + 1 (or any free port when port is 0)
    ledger_path: Path | None = None
    user: str | None = None
    password: str | None = None
    token: str | None = None
    database: str = DEFAULT_ODOO_DATABASE
    sap_dedupe: str = "off"
    sap_csrf_ttl_s: float = 1800.0
    sap_csrf_max_uses: int = 0
    erpnext_duplicate_error: str = "duplicate_entry"
    odoo_autocreate: bool = True
    kingdee_acct_id: str = DEFAULT_KINGDEE_ACCT_ID
    kingdee_app_id: str = DEFAULT_KINGDEE_APP_ID
    kingdee_app_secret: str = DEFAULT_KINGDEE_APP_SECRET
    kingdee_session_ttl_s: float = 1200.0
    u8_token_ttl_s: float = 7200.0
    u8_async_delay_ms: int = 30
    seed: int | None = None
    verbose: bool = False
    initial_faults: dict[str, Any] = field(default_factory=dict)


def build_flavor(config: SimulatorConfig, ledger: Ledger) -> ErpFlavor:
    if config.flavor == "sap":
        return SapFlavor(
            ledger=ledger,
            user=config.user or DEFAULT_SAP_USER,
            password=config.password or DEFAULT_SAP_PASSWORD,
            csrf_ttl_s=config.sap_csrf_ttl_s,
            csrf_max_uses=config.sap_csrf_max_uses,
            dedupe=config.sap_dedupe,
        )
    if config.flavor == "erpnext":
        return ErpnextFlavor(
            ledger=ledger, token=config.token or DEFAULT_ERPNEXT_TOKEN, duplicate_error=config.erpnext_duplicate_error
        )
    if config.flavor == "odoo":
        return OdooFlavor(
            ledger=ledger,
            api_key=config.token or DEFAULT_ODOO_KEY,
            login=config.user or DEFAULT_ODOO_LOGIN,
            database=config.database,
            autocreate=config.odoo_autocreate,
        )
    if config.flavor == "kingdee":
        return KingdeeFlavor(
            ledger=ledger,
            acct_id=config.kingdee_acct_id,
            user=config.user or DEFAULT_KINGDEE_USER,
            password=config.password or DEFAULT_KINGDEE_PASSWORD,
            app_id=config.kingdee_app_id,
            app_secret=config.kingdee_app_secret,
            session_ttl_s=config.kingdee_session_ttl_s,
        )
    if config.flavor == "u8":
        return U8Flavor(
            ledger=ledger,
            from_account=DEFAULT_U8_FROM_ACCOUNT,
            to_account=DEFAULT_U8_TO_ACCOUNT,
            app_key=DEFAULT_U8_APP_KEY,
            app_secret=DEFAULT_U8_APP_SECRET,
            token_ttl_s=config.u8_token_ttl_s,
            async_delay_ms=config.u8_async_delay_ms,
        )
    if config.flavor == "b2mml":
        return B2mmlFlavor(ledger=ledger)
    raise ValueError(f"unknown flavor {config.flavor!r}; choose one of {', '.join(FLAVORS)}")


def service_path(flavor: str) -> str:
    """Where a connector points below the ERP port: SAP's OData service root, Kingdee's site, the B2MML
    receiver's endpoint, else nothing."""
    return {"sap": SERVICE_PATH, "kingdee": KINGDEE_SITE.rstrip("/"), "b2mml": B2MML_PATH}.get(flavor, "")


class _LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 1024  # many clients connect at once after an outage

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], simulator: Simulator) -> None:
        self.simulator = simulator
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name, which can stall without DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = host
        self.server_port = port


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 300  # idle keep-alive connections are closed after this many seconds
    server: _LoopbackServer

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.simulator.config.verbose:
            logger.info("%s %s", self.address_string(), format % args)

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            total = 0
            while True:
                size_line = self.rfile.readline(1024)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            return None
        return self.rfile.read(length) if length else b""

    def _send(self, response: SimResponse, *, server_header: str | None = None) -> None:
        self.send_response_only(response.status)
        self.send_header("Server", server_header or "erp-simulator")
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if response.body and self.command != "HEAD":
            self.wfile.write(response.body)


class _ErpHandler(_Handler):
    def setup(self) -> None:
        super().setup()
        self.server.simulator._track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.simulator._untrack(self.connection)

    def _serve(self) -> None:
        simulator = self.server.simulator
        body = self._read_body()
        if body is None:
            self.close_connection = True
            self._send(SimResponse(status=413, body=b"request body too large", content_type="text/plain"))
            return
        response = simulator.answer(self.command, self.path, self.headers, body)
        if response is None:
            # No answer at all: the client cannot tell whether the request was committed.
            self.close_connection = True
            return
        self._send(response, server_header=SERVER_HEADERS.get(simulator.flavor.name))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_MERGE = _serve


class _ControlHandler(_Handler):
    def _serve(self) -> None:
        body = self._read_body() or b""
        try:
            status, payload = self.server.simulator.control(self.command, self.path, body)
        except (FaultError, ValueError) as error:
            status, payload = 400, {"error": str(error)}
        if isinstance(payload, str):
            response = SimResponse(status=status, body=payload.encode(), content_type="text/plain; charset=utf-8")
        else:
            response = SimResponse(status=status, body=json.dumps(payload).encode())
        self._send(response)

    do_GET = do_POST = do_PUT = do_DELETE = _serve


class Simulator:
    """One simulated ERP with its control API. ``start()``, then ``close()`` (idempotent)."""

    def __init__(self, config: SimulatorConfig) -> None:
        if config.flavor not in FLAVORS:
            raise ValueError(f"unknown flavor {config.flavor!r}; choose one of {', '.join(FLAVORS)}")
        self.config = config
        self.ledger = Ledger(flavor=config.flavor, path=config.ledger_path)
        self.flavor = build_flavor(config, self.ledger)
        self.faults = Faults().updated(config.initial_faults)
        self.port = config.port
        self.control_port = config.control_port
        self._random = random.Random(config.seed)
        self._state_lock = threading.Lock()  # the flavour's documents and the ledger order
        self._port_lock = threading.Lock()  # opening and closing the ERP port
        self._admin_lock = threading.Lock()  # connections, counters
        self._connections: set[socket.socket] = set()
        self._erp_server: _LoopbackServer | None = None
        self._control_server: _LoopbackServer | None = None
        self._in_flight = 0
        self._counters: dict[str, int] = {}
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._open_erp_port()
        control_port = self.control_port
        if control_port is None:
            control_port = self.port + 1 if self.config.port else 0
        self._control_server = _LoopbackServer((LOOPBACK, control_port), _ControlHandler, self)
        self.control_port = self._control_server.server_address[1]
        threading.Thread(
            target=self._control_server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="erp-simulator-control",
            daemon=True,
        ).start()
        if self.faults.down:
            self._close_erp_port()

    def close(self, *, drain_seconds: float = 2.0) -> None:
        if self._closed:
            return
        self._closed = True
        self._close_erp_port()
        deadline = time.monotonic() + drain_seconds
        while self._in_flight and time.monotonic() < deadline:
            time.sleep(0.01)
        if self._control_server is not None:
            self._control_server.shutdown()
            self._control_server.server_close()
        self.ledger.close()

    @property
    def erp_listening(self) -> bool:
        return self._erp_server is not None

    def _open_erp_port(self) -> None:
        with self._port_lock:
            if self._erp_server is not None:
                return
            last_error: OSError | None = None
            for _ in range(50):  # the old socket may take a moment to let go of the port
                try:
                    server = _LoopbackServer((LOOPBACK, self.port), _ErpHandler, self)
                    break
                except OSError as error:
                    last_error = error
                    if not self.port:
                        raise
                    time.sleep(0.05)
            else:
                raise OSError(f"cannot listen on {LOOPBACK}:{self.port} again: {last_error}")
            self.port = server.server_address[1]
            self._erp_server = server
            threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="erp-simulator-erp", daemon=True
            ).start()

    def _close_erp_port(self) -> None:
        with self._port_lock:
            server, self._erp_server = self._erp_server, None
            if server is None:
                return
            server.shutdown()
            server.server_close()
            with self._admin_lock:
                connections = list(self._connections)
            # An ERP that goes down takes its open keep-alive connections with it.
            for connection in connections:
                with contextlib.suppress(OSError):  # already closed by the client
                    connection.shutdown(socket.SHUT_RDWR)

    def _track(self, connection: socket.socket) -> None:
        with self._admin_lock:
            self._connections.add(connection)

    def _untrack(self, connection: socket.socket) -> None:
        with self._admin_lock:
            self._connections.discard(connection)

    def _count(self, name: str) -> None:
        with self._admin_lock:
            self._counters[name] = self._counters.get(name, 0) + 1

    # -- the ERP pipeline --------------------------------------------------------------

    def answer(self, method: str, target: str, headers: Any, body: bytes) -> SimResponse | None:
        """The answer to one ERP request, or ``None`` to close the connection without one."""
        with self._admin_lock:
            self._in_flight += 1
        try:
            return self._answer(method, target, headers, body)
        finally:
            with self._admin_lock:
                self._in_flight -= 1

    def _answer(self, method: str, target: str, headers: Any, body: bytes) -> SimResponse | None:
        faults = self.faults
        self._count("requests")
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        if self._erp_server is None:
            self._count("cut_while_down")
            return None
        if faults.error_rate and self._random.random() < faults.error_rate:
            self._count("injected_errors")
            return self.flavor.unavailable(self._random.choice((500, 502, 503, 503)))
        request = SimRequest(
            method=method,
            target=target,
            headers=headers,
            body=body,
            lock_rolled=bool(faults.locked) and self._random.random() < faults.locked,
            locked_orders=frozenset(faults.locked_orders),
            rejected_orders=frozenset(faults.rejected_orders),
            response_will_drop=bool(faults.drop_after_commit_rate)
            and self._random.random() < faults.drop_after_commit_rate,
            batch_not_offered=faults.batch_not_offered,
        )
        try:
            request.prepared = self.flavor.prepare(request)
        except Exception:  # a simulator bug must not pass for an injected drop
            logger.exception("the %s simulator failed to read %s %s", self.flavor.name, method, target)
            return SimResponse(status=500, body=b"ERP simulator internal error (see its log)", content_type="text/plain")
        with self._state_lock:
            try:
                response = self.flavor.handle(request)
            except Exception:  # a simulator bug must not pass for an injected drop
                logger.exception("the %s simulator failed on %s %s", self.flavor.name, method, target)
                self._count("simulator_errors")
                return SimResponse(
                    status=500, body=b"ERP simulator internal error (see its log)", content_type="text/plain"
                )
        self._count(f"status_{response.status}")
        if response.committed:
            self._count("committed")
            if request.response_will_drop:
                self._count("dropped_after_commit")
                return None
        return response

    # -- the control API ---------------------------------------------------------------

    def set_faults(self, changes: dict[str, Any]) -> Faults:
        with self._state_lock:
            faults = self.faults.updated(changes)
            self.faults = faults
        if faults.down:
            self._close_erp_port()
        elif not self._closed:
            self._open_erp_port()
        return faults

    def reset(self) -> None:
        self.set_faults({name: value for name, value in Faults().as_dict().items()})
        with self._state_lock:
            self.flavor.reset()
            self.flavor.orders.reset()
            self.flavor.orders_changed()
            self.ledger.clear()
        with self._admin_lock:
            self._counters.clear()

    def health(self) -> dict[str, Any]:
        with self._admin_lock:
            counters = dict(self._counters)
        counters.update(self.flavor.flavor_counters())  # plain ints: read without waiting for the ERP's lock
        base_url = f"http://{LOOPBACK}:{self.port}"
        return {
            "status": "ok",
            "flavor": self.flavor.name,
            "erp_port": self.port,
            "control_port": self.control_port,
            "erp_listening": self.erp_listening,
            "base_url": base_url,
            "service_url": base_url + service_path(self.flavor.name),
            "faults": self.faults.as_dict(),
            "config": self.flavor.config(),
            "ledger_entries": len(self.ledger),
            "counters": counters,
        }

    def control(self, method: str, target: str, body: bytes) -> tuple[int, Any]:
        parts = urlsplit(target)
        path = parts.path.rstrip("/")
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        payload: Any = json.loads(body) if body.strip() else {}
        if path == "/__sim__/health" and method == "GET":
            return 200, self.health()
        if path == "/__sim__/faults":
            if method == "GET":
                return 200, self.faults.as_dict()
            if method in {"POST", "PUT"}:
                return 200, self.set_faults(payload).as_dict()
            if method == "DELETE":
                return 200, self.set_faults(Faults().as_dict()).as_dict()
        if path == "/__sim__/reset" and method == "POST":
            self.reset()
            return 200, self.health()
        if path == "/__sim__/ledger" and method == "GET":
            since = int(query.get("since", "0") or 0)
            entries = self.ledger.entries(since=since)
            if query.get("format") == "text":
                from simulators.erp.ledger import format_ledger

                return 200, format_ledger(entries, flavor=self.flavor.name)
            return 200, {"flavor": self.flavor.name, "entries": entries}
        if path == "/__sim__/stock" and method == "GET":
            return 200, {"flavor": self.flavor.name, "stock": self.ledger.stock()}
        if path == "/__sim__/config":
            if method == "GET":
                return 200, self.flavor.config()
            if method == "POST":
                if not isinstance(payload, dict):
                    raise ValueError("config must be a JSON object")
                with self._state_lock:
                    return 200, self.flavor.configure(payload)
        if path == "/__sim__/orders":
            with self._state_lock:
                if method == "POST":
                    orders = payload.get("orders") if isinstance(payload, dict) else payload
                    self.flavor.orders.upsert(orders)
                elif method == "DELETE":
                    self.flavor.orders.clear()
                if method in {"POST", "DELETE"}:
                    self.flavor.orders_changed()
                if method in {"GET", "POST", "DELETE"}:
                    return 200, {"flavor": self.flavor.name, "orders": self.flavor.orders.public()}
        if path == "/__sim__/sessions/invalidate" and method == "POST":
            with self._state_lock:
                self.flavor.invalidate_sessions()
            return 200, {"invalidated": True}
        return HTTPStatus.NOT_FOUND, {"error": f"no control endpoint {method} {path}"}
