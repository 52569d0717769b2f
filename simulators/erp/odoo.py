"""Odoo MRP over JSON-2 (Odoo 19+) and XML-RPC (≤ 18), as far as an MES connector sees it.

Protocol (``shared/erp/INTERFACES.md`` §3):

- JSON-2: ``POST /json/2/<model>/<method>`` with ``Authorization: bearer <API key>`` (and
  optionally ``X-Odoo-Database``), body ``{"ids": [...], "context": {...}, <named params>}``;
  200 with the bare JSON result. Errors are ``{"name", "message", "arguments", "context",
  "debug"}``: a bad key → 401 ``werkzeug.exceptions.Unauthorized`` "Invalid apikey";
  ``UserError``/``ValidationError`` → 422; ``MissingError`` → 404; anything else → 500.
- XML-RPC: ``/xmlrpc/2/common`` (``version``, ``login``, ``authenticate``) and
  ``/xmlrpc/2/object`` (``execute_kw``, ``execute``) with positional arguments; errors are
  faults (2 = UserError, 3 = access denied, 4 = access error, 1 = anything else).

Models and what an MES does with them:

- ``mrp.production`` (``name`` = our work-order number, ``product_qty``, ``qty_producing``,
  ``qty_produced``, ``state``, ``workorder_ids``): ``create``, ``write``,
  ``button_mark_done`` (returns the backorder wizard action instead of finishing when less
  than planned is produced, unless the context has ``skip_backorder``), ``action_cancel``.
- ``mrp.workorder`` (``production_id``, ``x_mes_operation`` = our operation number, a
  Studio-style custom field; ``qty_produced``, ``duration`` in minutes, ``state``):
  ``write`` of quantities and durations, ``button_start``, ``button_pending``,
  ``button_finish``, ``action_cancel``.
- ``mrp.workcenter.productivity`` — one time line per MES confirmation, which is what Odoo
  itself creates for time booked on a work order. Custom fields carry our side:
  ``x_mes_confirmation_id`` (unique, so a resend fails with a ``ValidationError`` and a
  look-up by our key is one ``search_read``), ``x_mes_qty_produced``, ``x_mes_qty_scrap``.
  ``create`` books the quantity and duration onto the work order (as a server action would)
  and is the **posting** in the ledger; ``unlink`` takes them off again and is the
  **cancellation**.

- ``product.product`` (``default_code`` = our item code), ``stock.lot`` (``name``, ``product_id``;
  the pair is unique, ``create`` makes one) and ``stock.move`` of an order: a component move has
  ``raw_material_production_id``, a finished-product move ``production_id``; ``create`` adds one
  to an open order.
- ``stock.move.line`` (``move_id``, ``lot_id``, ``quantity`` and the custom fields
  ``x_mes_confirmation_id`` = our message key, several lines may share it, and
  ``x_mes_movement_id``, unique per line, so a resend fails with a ``ValidationError``):
  ``create`` books the stock per product and lot (component lines issued to the order,
  finished lines received from it; ``GET /__sim__/stock``) and is one **posting** per key in the
  ledger; ``unlink`` of lines of an order that is not done or cancelled takes the stock back and
  is one **cancellation** per key (``cancels_key`` = the key the lines carried). Lines of a done
  or cancelled order can be neither added nor deleted (a real Odoo returns or unbuilds then).

Orders and operations the simulator has never heard of are created when a search names
them (``[["name", "=", "WO-1"]]`` on ``mrp.production``; ``[["production_id.name", "=",
"WO-1"], ["x_mes_operation", "=", "0010"]]`` on ``mrp.workorder``), and so are products
(``[["default_code", "=", "STEEL-10"]]``; lots never are: the ERP owns them), unless ``autocreate`` is
off, so a test needs no master-data set-up. An injected lock answers like a serialization
failure that Odoo gave up retrying (``odoo.exceptions.ConcurrencyError``, HTTP 500).
"""

from __future__ import annotations

import datetime as dt
import secrets
import xmlrpc.client
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from xmlrpc.server import SimpleXMLRPCDispatcher

from simulators.erp import ledger as journal
from simulators.erp.base import (
    BadRequest,
    ErpFlavor,
    SimRequest,
    SimResponse,
    json_response,
    parse_decimal,
    plain,
)
from simulators.erp.ledger import Ledger
from simulators.erp.orders import minutes

SERVER_VERSION = "19.0"
USER_ID = 2

PRODUCTION = "mrp.production"
WORKORDER = "mrp.workorder"
PRODUCTIVITY = "mrp.workcenter.productivity"
PRODUCT = "product.product"
LOT = "stock.lot"
MOVE = "stock.move"
MOVE_LINE = "stock.move.line"
WORKCENTER = "mrp.workcenter"
#: The first id of a record made from the order book.
BOOK_IDS = 900001
MODELS = (PRODUCTION, WORKORDER, PRODUCTIVITY, PRODUCT, LOT, MOVE, MOVE_LINE, WORKCENTER)
#: The models whose records belong to a manufacturing order (the others are master data).
ORDER_MODELS = (PRODUCTION, WORKORDER, PRODUCTIVITY, MOVE, MOVE_LINE)

FIELDS: dict[str, dict[str, str]] = {
    PRODUCTION: {
        "id": "integer",
        "name": "char",
        "display_name": "char",
        "product_qty": "float",
        "qty_producing": "float",
        "qty_produced": "float",
        "state": "selection",
        "workorder_ids": "one2many",
        "date_finished": "datetime",
        "product_id": "many2one",
        "date_deadline": "datetime",
        "write_date": "datetime",
    },
    WORKORDER: {
        "id": "integer",
        "name": "char",
        "display_name": "char",
        "production_id": "many2one",
        "x_mes_operation": "char",
        "qty_producing": "float",
        "qty_produced": "float",
        "duration": "float",
        "state": "selection",
        "time_ids": "one2many",
        "date_start": "datetime",
        "date_finished": "datetime",
        "workcenter_id": "many2one",
        "duration_expected": "float",
    },
    PRODUCTIVITY: {
        "id": "integer",
        "display_name": "char",
        "workorder_id": "many2one",
        "production_id": "many2one",
        "duration": "float",
        "date_start": "datetime",
        "date_end": "datetime",
        "description": "text",
        "x_mes_confirmation_id": "char",
        "x_mes_qty_produced": "float",
        "x_mes_qty_scrap": "float",
    },
    PRODUCT: {"id": "integer", "name": "char", "display_name": "char", "default_code": "char"},
    LOT: {"id": "integer", "name": "char", "display_name": "char", "product_id": "many2one"},
    MOVE: {
        "id": "integer",
        "name": "char",
        "display_name": "char",
        "product_id": "many2one",
        "product_uom_qty": "float",
        "quantity": "float",
        "raw_material_production_id": "many2one",  # a component move of the order
        "production_id": "many2one",  # a finished-product move of the order
        "state": "selection",
        "move_line_ids": "one2many",
        "workorder_id": "many2one",  # the work order that consumes a component
    },
    MOVE_LINE: {
        "id": "integer",
        "display_name": "char",
        "move_id": "many2one",
        "product_id": "many2one",
        "lot_id": "many2one",
        "quantity": "float",
        "state": "selection",
        "x_mes_confirmation_id": "char",
        "x_mes_movement_id": "char",
    },
    WORKCENTER: {"id": "integer", "name": "char", "display_name": "char", "code": "char"},
}
RELATIONS = {
    "production_id": PRODUCTION,
    "raw_material_production_id": PRODUCTION,
    "workorder_id": WORKORDER,
    "workorder_ids": WORKORDER,
    "time_ids": PRODUCTIVITY,
    "product_id": PRODUCT,
    "lot_id": LOT,
    "move_id": MOVE,
    "move_line_ids": MOVE_LINE,
    "workcenter_id": WORKCENTER,
}
RECORD_METHODS = {
    "read",
    "write",
    "unlink",
    "button_start",
    "button_pending",
    "button_finish",
    "action_cancel",
    "button_mark_done",
}
SIGNATURES = {
    "search": ("domain", "offset", "limit", "order"),
    "search_read": ("domain", "fields", "offset", "limit", "order"),
    "search_count": ("domain", "limit"),
    "create": ("vals_list",),
    "fields_get": ("allfields", "attributes"),
    "read": ("fields",),
    "write": ("vals",),
}
WRITABLE = {
    PRODUCTION: {"name", "product_qty", "qty_producing"},
    WORKORDER: {"name", "x_mes_operation", "qty_producing", "qty_produced", "duration"},
    PRODUCTIVITY: {"description", "date_start", "date_end"},
    PRODUCT: {"name"},
    LOT: set(),
    MOVE: {"name"},
    MOVE_LINE: set(),
    WORKCENTER: set(),
}


class OdooError(Exception):
    status = 500
    fault_code = 1
    exception_name = "builtins.Exception"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UserError(OdooError):
    status = 422
    fault_code = 2
    exception_name = "odoo.exceptions.UserError"


class ValidationError(UserError):
    exception_name = "odoo.exceptions.ValidationError"


class MissingError(UserError):
    status = 404
    exception_name = "odoo.exceptions.MissingError"


class AccessDenied(OdooError):
    status = 401
    fault_code = 3
    exception_name = "odoo.exceptions.AccessDenied"


class ConcurrencyError(OdooError):
    exception_name = "odoo.exceptions.ConcurrencyError"


class NotFound(OdooError):
    status = 404
    exception_name = "werkzeug.exceptions.NotFound"


class UnprocessableEntity(OdooError):
    status = 422
    exception_name = "werkzeug.exceptions.UnprocessableEntity"


class OdooFlavor(ErpFlavor):
    name = "odoo"

    def __init__(
        self, *, ledger: Ledger, api_key: str, login: str, database: str = "mes", autocreate: bool = True
    ) -> None:
        super().__init__(ledger=ledger)
        self.api_key = api_key
        self.login = login
        self.database = database
        self.autocreate = autocreate
        self.common = SimpleXMLRPCDispatcher(allow_none=True, encoding="utf-8")
        self.common.register_function(self._xmlrpc_version, "version")
        self.common.register_function(self._xmlrpc_authenticate, "authenticate")
        self.common.register_function(self._xmlrpc_login, "login")
        self.object = SimpleXMLRPCDispatcher(allow_none=True, encoding="utf-8")
        self.object.register_function(self._xmlrpc_execute_kw, "execute_kw")
        self.object.register_function(self._xmlrpc_execute, "execute")
        self._current: SimRequest | None = None
        self._committed = False
        self.reset()
        self.orders_changed()

    def reset(self) -> None:
        self.records: dict[str, dict[int, dict[str, Any]]] = {model: {} for model in MODELS}
        self.next_id: dict[str, int] = {model: 1 for model in MODELS}
        self.by_key: dict[str, int] = {}  # x_mes_confirmation_id → productivity id
        self.by_movement: dict[str, int] = {}  # x_mes_movement_id → stock.move.line id
        self.production_by_name: dict[str, int] = {}
        self.pulled: set[str] = set()  # manufacturing orders made from the order book (simulators/erp/orders.py)
        # Records made from the order book take ids of their own, far above the others, so the ids a
        # connector's postings get do not depend on how many orders the book holds.
        self.book_next_id: dict[str, int] = {model: BOOK_IDS for model in MODELS}

    # the order book, as manufacturing orders an MES pulls

    def orders_changed(self) -> None:
        """Each order of the book as an ``mrp.production`` (``name`` = its number, ``product_id``, ``product_qty``,
        ``date_deadline``, ``write_date`` = its change stamp, ``state`` draft/confirmed/done) with a work order per
        operation (``x_mes_operation``, ``workcenter_id``, ``duration_expected`` for the whole quantity) and a component
        move per component (``product_uom_qty``, ``workorder_id`` of its operation). Orders made from the book and no
        longer in it are dropped; what the MES booked onto them stays."""
        book = self.orders.orders
        for name in [name for name in self.pulled if name not in book]:
            production_id = self.production_by_name.pop(name, None)
            production = self.records[PRODUCTION].pop(production_id, None) if production_id else None
            for workorder_id in (production or {}).get("workorder_ids", []):
                self.records[WORKORDER].pop(workorder_id, None)
            for move_id in [key for key, move in self.records[MOVE].items() if move["raw_material_production_id"] == production_id]:
                self.records[MOVE].pop(move_id)
        self.pulled = set(book)
        for order in book.values():
            self._production_from_book(order)

    def _book_id(self, model: str) -> int:
        record_id = self.book_next_id[model]
        self.book_next_id[model] += 1
        return record_id

    def _production_from_book(self, order: dict[str, Any]) -> None:
        production_id = self.production_by_name.get(order["number"])
        if production_id is None:
            production_id = self._book_id(PRODUCTION)
            self.records[PRODUCTION][production_id] = {
                "id": production_id, "name": order["number"], "qty_producing": Decimal(0), "qty_produced": Decimal(0),
                "workorder_ids": [], "date_finished": None,
            }
            self.production_by_name[order["number"]] = production_id
        production = self.records[PRODUCTION][production_id]
        production.update({
            "product_id": self._book_record(PRODUCT, "default_code", order["item"]),
            "product_qty": _book_number(order["quantity"]),
            "state": {"planned": "draft", "released": "confirmed", "completed": "done", "closed": "done"}[order["status"]],
            "date_deadline": f"{order['due_date']} 00:00:00",
            "write_date": order["changed_at"].strftime("%Y-%m-%d %H:%M:%S"),
        })
        by_operation = {self.records[WORKORDER][key]["x_mes_operation"]: key for key in production["workorder_ids"]}
        for operation in order.get("operations") or []:
            number = f"{int(operation['sequence']):04d}"
            workorder_id = by_operation.get(number)
            if workorder_id is None:
                workorder_id = self._book_id(WORKORDER)
                self.records[WORKORDER][workorder_id] = {
                    "id": workorder_id, "production_id": production_id, "x_mes_operation": number, "qty_producing": Decimal(0),
                    "qty_produced": Decimal(0), "duration": Decimal(0), "state": "ready", "time_ids": [], "date_start": None,
                    "date_finished": None,
                }
                production["workorder_ids"].append(workorder_id)
            by_operation[number] = workorder_id
            self.records[WORKORDER][workorder_id].update({
                "name": operation.get("name") or f"Operation {number}",
                "workcenter_id": self._book_record(WORKCENTER, "code", operation.get("work_center") or ""),
                "duration_expected": minutes(operation.get("run_minutes_per_unit")) * minutes(order["quantity"]),
            })
        moves = {move["product_id"]: move for move in self.records[MOVE].values() if move["raw_material_production_id"] == production_id}
        for component in order.get("components") or []:
            product_id = self._book_record(PRODUCT, "default_code", component.get("item") or "")
            move = moves.get(product_id)
            if move is None:
                record_id = self._book_id(MOVE)
                move = self.records[MOVE][record_id] = {
                    "id": record_id, "name": f"{order['number']} - {component.get('item')}", "product_id": product_id,
                    "quantity": Decimal(0), "raw_material_production_id": production_id, "production_id": None,
                    "state": "confirmed", "move_line_ids": [],
                }
            operation = f"{int(component['operation']):04d}" if component.get("operation") else ""
            move.update({"product_uom_qty": _book_number(component.get("quantity")), "workorder_id": by_operation.get(operation)})

    def _book_record(self, model: str, field: str, code: str) -> int:
        """The product or work center whose ``field`` is ``code``, made when Odoo has none."""
        for record_id, record in self.records[model].items():
            if record.get(field) == code:
                return record_id
        record_id = self._book_id(model)
        self.records[model][record_id] = {"id": record_id, "name": code, field: code}
        return record_id

    def config(self) -> dict[str, Any]:
        return {"autocreate": self.autocreate}

    def _set_config(self, key: str, value: Any) -> None:
        if not isinstance(value, bool):
            raise ValueError("autocreate must be true or false")
        self.autocreate = value

    # -- answers -----------------------------------------------------------------------

    @staticmethod
    def _error_body(name: str, message: str, status: int | None = None) -> dict[str, Any]:
        arguments: list[Any] = [message] if status is None else [message, status]
        return {
            "name": name,
            "message": message,
            "arguments": arguments,
            "context": {},
            "debug": f'Traceback (most recent call last):\n  File "odoo/http.py", line 2138, in _serve_db\n{name}: {message}\n',
        }

    def unavailable(self, status: int) -> SimResponse:
        if status == 500:
            return json_response(
                500,
                self._error_body("psycopg2.OperationalError", "terminating connection due to administrator command"),
            )
        reason = {502: "Bad Gateway", 503: "Service Unavailable"}.get(status, "Service Unavailable")
        html = f"<html><head><title>{status} {reason}</title></head><body><h1>{status} {reason}</h1></body></html>"
        return SimResponse(status=status, body=html.encode(), content_type="text/html")

    # -- entry point -------------------------------------------------------------------

    def handle(self, request: SimRequest) -> SimResponse:
        self._current = request
        self._committed = False
        try:
            path = request.path
            if path in {"/json/version", "/web/version"}:
                return json_response(200, {"version_info": [19, 0, 0, "final", 0, ""], "version": SERVER_VERSION})
            if path.startswith("/json/2/"):
                return self._json2(request, path[len("/json/2/") :])
            if path in {"/xmlrpc/2/common", "/xmlrpc/2/object"}:
                return self._xmlrpc(request, self.common if path.endswith("common") else self.object)
            body = self._error_body(
                "werkzeug.exceptions.NotFound", "The requested URL was not found on the server.", 404
            )
            return json_response(404, body)
        finally:
            self._current = None

    def _json2(self, request: SimRequest, route: str) -> SimResponse:
        header = request.header("Authorization") or ""
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(key.strip(), self.api_key):
            body = self._error_body("werkzeug.exceptions.Unauthorized", "Invalid apikey", 401)
            return json_response(401, body, headers=[("WWW-Authenticate", 'Bearer realm="Odoo"')])
        database = request.header("X-Odoo-Database")
        if database and database != self.database:
            return json_response(
                404, self._error_body("werkzeug.exceptions.NotFound", f"database {database!r} not found", 404)
            )
        if request.method != "POST":
            return json_response(
                405,
                self._error_body(
                    "werkzeug.exceptions.MethodNotAllowed", "The method is not allowed for the requested URL.", 405
                ),
            )
        model, _, method = route.partition("/")
        try:
            payload = request.json() if request.body else {}
            if not isinstance(payload, dict):
                raise BadRequest("the body must be a JSON object")
            ids = payload.pop("ids", [])
            context = payload.pop("context", {}) or {}
            result = self.call(model, method, ids, payload, context)
        except BadRequest as error:
            return json_response(400, self._error_body("werkzeug.exceptions.BadRequest", str(error), 400))
        except OdooError as error:
            status = error.status if not isinstance(error, AccessDenied) else 403
            return json_response(status, self._error_body(error.exception_name, error.message))
        return json_response(200, _jsonable(result), committed=self._committed)

    def _xmlrpc(self, request: SimRequest, dispatcher: SimpleXMLRPCDispatcher) -> SimResponse:
        if request.method != "POST":
            return SimResponse(status=405, body=b"", content_type="text/plain")
        body = dispatcher._marshaled_dispatch(request.body)
        return SimResponse(status=200, body=body, content_type="text/xml", committed=self._committed)

    # -- XML-RPC services --------------------------------------------------------------

    def _xmlrpc_version(self) -> dict[str, Any]:
        return {
            "server_version": SERVER_VERSION,
            "server_version_info": [19, 0, 0, "final", 0, ""],
            "server_serie": SERVER_VERSION,
            "protocol_version": 1,
        }

    def _credentials_valid(self, database: str, login_or_uid: Any, password: str) -> bool:
        if database != self.database or not isinstance(password, str):
            return False
        login_matches = login_or_uid == self.login if isinstance(login_or_uid, str) else login_or_uid == USER_ID
        return bool(login_matches) and secrets.compare_digest(password, self.api_key)

    def _xmlrpc_authenticate(self, database: str, login: str, password: str, user_agent_env: Any = None) -> Any:
        return USER_ID if self._credentials_valid(database, login, password) else False

    def _xmlrpc_login(self, database: str, login: str, password: str) -> Any:
        return self._xmlrpc_authenticate(database, login, password)

    def _xmlrpc_execute_kw(
        self,
        database: str,
        uid: int,
        password: str,
        model: str,
        method: str,
        args: list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        if not self._credentials_valid(database, uid, password):
            raise xmlrpc.client.Fault(3, "Access Denied")
        args = list(args or [])
        kwargs = dict(kwargs or {})
        context = kwargs.pop("context", {}) or {}
        ids: list[int] = []
        if method in RECORD_METHODS:
            if not args:
                raise xmlrpc.client.Fault(1, f"TypeError: {method}() missing the record ids")
            ids = args.pop(0)
            ids = [ids] if isinstance(ids, int) else ids
        names = SIGNATURES.get(method, ())
        if len(args) > len(names):
            raise xmlrpc.client.Fault(1, f"TypeError: {method}() takes at most {len(names)} positional arguments")
        params = {**dict(zip(names, args, strict=False)), **kwargs}
        try:
            result = self.call(model, method, ids, params, context)
        except OdooError as error:
            code = 1 if isinstance(error, (ConcurrencyError, NotFound, UnprocessableEntity)) else error.fault_code
            raise xmlrpc.client.Fault(
                code, error.message if code != 1 else f"{error.exception_name}: {error.message}"
            ) from None
        return _xmlrpcable(result)

    def _xmlrpc_execute(self, database: str, uid: int, password: str, model: str, method: str, *args: Any) -> Any:
        return self._xmlrpc_execute_kw(database, uid, password, model, method, list(args), {})

    # -- the ORM -----------------------------------------------------------------------

    def call(self, model: str, method: str, ids: Any, params: dict[str, Any], context: dict[str, Any]) -> Any:
        if model not in MODELS:
            raise NotFound(f"the model {model!r} does not exist")
        if not isinstance(ids, list) or not all(isinstance(item, int) and not isinstance(item, bool) for item in ids):
            raise UnprocessableEntity("ids must be a list of integers")
        handler: Callable[..., Any] | None = getattr(self, f"_{method}", None) if not method.startswith("_") else None
        allowed = {"search", "search_read", "search_count", "read", "create", "write", "unlink", "fields_get"}
        model_methods = {
            PRODUCTION: {"button_mark_done", "action_cancel"},
            WORKORDER: {"button_start", "button_pending", "button_finish", "action_cancel"},
            PRODUCTIVITY: set(),
            PRODUCT: set(),
            LOT: set(),
            MOVE: set(),
            MOVE_LINE: set(),
            WORKCENTER: set(),
        }
        if handler is None or (method not in allowed and method not in model_methods[model]):
            raise NotFound(f"the method {method!r} does not exist on the model {model!r}")
        expected = set(SIGNATURES.get(method, ()))
        unknown = set(params) - expected
        if unknown:
            raise UnprocessableEntity(f"{model}.{method}() got unexpected argument(s): {', '.join(sorted(unknown))}")
        if method in RECORD_METHODS:
            missing = [record_id for record_id in ids if record_id not in self.records[model]]
            if missing:
                raise MissingError(
                    f"Record does not exist or has been deleted.\n(Record: {model}({', '.join(map(str, missing))},), User: {USER_ID})"
                )
            return handler(model, ids, context=context, **params)
        return handler(model, context=context, **params)

    # generic reads

    def _search(
        self,
        model: str,
        domain: Any = None,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> list[int]:
        domain = domain or []
        self._check_domain(model, domain)
        self._autocreate(model, domain)
        matches = [record for record in self.records[model].values() if self._evaluate(model, record, domain)]
        if order:
            for clause in reversed([part.strip() for part in order.split(",") if part.strip()]):
                field, _, direction = clause.partition(" ")
                matches.sort(
                    key=lambda record: _sortable(record.get(field)), reverse=direction.strip().lower() == "desc"
                )
        offset = offset or 0
        matches = matches[offset:] if not limit else matches[offset : offset + limit]
        return [record["id"] for record in matches]

    def _search_read(
        self,
        model: str,
        domain: Any = None,
        fields: list[str] | None = None,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        ids = self._search(model, domain, offset, limit, order)
        return self._read(model, ids, fields)

    def _search_count(
        self, model: str, domain: Any = None, limit: int | None = None, context: dict[str, Any] | None = None
    ) -> int:
        count = len(self._search(model, domain))
        return min(count, limit) if limit else count

    def _read(
        self, model: str, ids: list[int], fields: list[str] | None = None, context: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        wanted = list(fields) if fields else list(FIELDS[model])
        unknown = [field for field in wanted if field not in FIELDS[model]]
        if unknown:
            raise ValueError_(f"Invalid field {unknown[0]!r} on model {model!r}")
        rows = []
        for record_id in ids:
            record = self.records[model][record_id]
            row = {"id": record_id}
            for field in wanted:
                row[field] = self._value(model, record, field)
            rows.append(row)
        return rows

    def _fields_get(
        self,
        model: str,
        allfields: list[str] | None = None,
        attributes: list[str] | None = None,
        context: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return {
            name: {
                "type": kind,
                "string": name.replace("_", " ").title(),
                **({"relation": RELATIONS[name]} if name in RELATIONS else {}),
            }
            for name, kind in FIELDS[model].items()
            if not allfields or name in allfields
        }

    # writes

    def _create(self, model: str, vals_list: Any = None, context: dict[str, Any] | None = None) -> list[int]:
        single = isinstance(vals_list, dict)
        rows = [vals_list] if single else vals_list
        if not isinstance(rows, list) or not rows or not all(isinstance(row, dict) for row in rows):
            raise UnprocessableEntity("create() expects vals_list: a list of field dictionaries")
        creator = {
            PRODUCTION: self._create_production,
            WORKORDER: self._create_workorder,
            PRODUCTIVITY: self._create_productivity,
            PRODUCT: self._create_product,
            LOT: self._create_lot,
            MOVE: self._create_move,
            MOVE_LINE: self._create_move_line,
        }[model]
        # Check every row before creating any: one call is one transaction in Odoo, so a
        # batch with one bad row must leave nothing behind (and nothing in the ledger).
        names: set[str] = set()
        keys: set[str] = set()
        for row in rows:
            unknown = set(row) - set(FIELDS[model]) - {"workorder_ids"}
            if unknown:
                raise ValueError_(f"Invalid field {sorted(unknown)[0]!r} on model {model!r}")
            if model == PRODUCTION:
                self._check_production(row, names)
            elif model == WORKORDER:
                self._check_workorder(row)
            elif model == PRODUCTIVITY:
                self._check_productivity(row, keys)
            elif model == PRODUCT:
                self._check_product(row)
            elif model == LOT:
                self._check_lot(row, names)
            elif model == MOVE:
                self._check_move(row)
            else:
                self._check_move_line(row, keys)
        created = [creator(row) for row in rows]
        if model == MOVE_LINE:
            self._journal_move_lines(journal.POST, [self.records[MOVE_LINE][record_id] for record_id in created])
        return created

    def _write(self, model: str, ids: list[int], vals: Any = None, context: dict[str, Any] | None = None) -> bool:
        if not isinstance(vals, dict):
            raise UnprocessableEntity("write() expects vals: a dictionary of field values")
        not_writable = set(vals) - WRITABLE[model]
        if not_writable:
            raise ValueError_(
                f"Field(s) {', '.join(sorted(not_writable))} of {model} cannot be written by the simulator"
            )
        changes: dict[str, Any] = {}
        for field, value in vals.items():
            if FIELDS[model][field] == "float":
                changes[field] = _quantity(value, field)
            elif not isinstance(value, str):
                raise ValidationError(f"Wrong value for {model}.{field}: {value!r}")
            else:
                changes[field] = value
        for record_id in ids:
            record = self.records[model][record_id]
            order = self._order_of(model, record)
            self._check_writable_order(order)
            if (
                model == WORKORDER
                and record["state"] in {"done", "cancel"}
                and {"qty_produced", "duration"} & set(changes)
            ):
                raise UserError(
                    "You cannot change the quantity produced or the duration of a work order that is done or cancelled."
                )
            if model == PRODUCTION and record["state"] in {"done", "cancel"}:
                raise UserError("This production order has been closed.")
        for record_id in ids:
            record = self.records[model][record_id]
            if "name" in changes and model == PRODUCTION:
                self.production_by_name.pop(record["name"], None)
                self.production_by_name[changes["name"]] = record_id
            record.update(changes)
            if model == WORKORDER and "qty_producing" in changes:
                self.records[PRODUCTION][record["production_id"]]["qty_producing"] = changes["qty_producing"]
            if {"qty_producing", "qty_produced", "duration"} & set(changes):
                self._journal(
                    journal.UPDATE,
                    model,
                    record,
                    yield_qty=changes.get("qty_produced", changes.get("qty_producing")),
                    details={
                        field: plain(value) if isinstance(value, Decimal) else value for field, value in changes.items()
                    },
                )
        return True

    def _unlink(self, model: str, ids: list[int], context: dict[str, Any] | None = None) -> bool:
        if model == MOVE_LINE:
            return self._unlink_move_lines(ids)
        if model != PRODUCTIVITY:
            raise UserError(f"Deleting {model} records is not supported by the simulator; cancel them instead.")
        for record_id in ids:
            line = self.records[model][record_id]
            workorder = self.records[WORKORDER][line["workorder_id"]]
            production = self.records[PRODUCTION][workorder["production_id"]]
            self._check_writable_order(production["name"])
            if production["state"] in {"done", "cancel"}:
                raise UserError(
                    f"You cannot delete time lines of the {production['state']} manufacturing order {production['name']}."
                )
        for record_id in ids:
            line = self.records[model].pop(record_id)
            workorder = self.records[WORKORDER][line["workorder_id"]]
            workorder["qty_produced"] -= line["x_mes_qty_produced"]
            workorder["duration"] -= line["duration"]
            workorder["time_ids"].remove(record_id)
            if line.get("x_mes_confirmation_id"):
                self.by_key.pop(line["x_mes_confirmation_id"], None)
            self._journal(
                journal.CANCEL,
                PRODUCTIVITY,
                line,
                yield_qty=line["x_mes_qty_produced"],
                scrap_qty=line["x_mes_qty_scrap"],
                document=f"{PRODUCTIVITY}/{record_id}#unlinked",
                cancels=f"{PRODUCTIVITY}/{record_id}",
                cancels_key=line.get("x_mes_confirmation_id"),
                key=None,
                details={"duration": plain(line["duration"]), "workorder_id": line["workorder_id"]},
            )
        return True

    # buttons

    def _button_start(self, model: str, ids: list[int], context: dict[str, Any] | None = None) -> bool:
        for record_id in ids:
            workorder = self.records[model][record_id]
            self._check_writable_order(self._order_of(model, workorder))
            if workorder["state"] in {"done", "cancel"}:
                raise UserError("You cannot start a work order that is already done or cancelled")
            workorder["state"] = "progress"
            workorder["date_start"] = workorder["date_start"] or _now()
        return True

    def _button_pending(self, model: str, ids: list[int], context: dict[str, Any] | None = None) -> bool:
        return True

    def _button_finish(self, model: str, ids: list[int], context: dict[str, Any] | None = None) -> bool:
        for record_id in ids:
            self._check_writable_order(self._order_of(model, self.records[model][record_id]))
        for record_id in ids:
            workorder = self.records[model][record_id]
            if workorder["state"] in {"done", "cancel"}:
                continue
            workorder["state"] = "done"
            workorder["date_finished"] = _now()
            self._journal(journal.FINISH, model, workorder, yield_qty=workorder["qty_produced"])
        return True

    def _button_mark_done(self, model: str, ids: list[int], context: dict[str, Any] | None = None) -> Any:
        context = context or {}
        for record_id in ids:
            production = self.records[model][record_id]
            self._check_writable_order(production["name"])
            if production["state"] == "cancel":
                raise UserError(f"You cannot mark the cancelled manufacturing order {production['name']} as done.")
            if production["state"] != "done" and production["qty_producing"] <= 0:
                raise UserError("The quantity to produce must be positive!")
        short = [
            record_id
            for record_id in ids
            if self.records[model][record_id]["state"] != "done"
            and self.records[model][record_id]["product_qty"]
            and self.records[model][record_id]["qty_producing"] < self.records[model][record_id]["product_qty"]
        ]
        if short and not context.get("skip_backorder"):
            return {
                "name": "Create Backorder?",
                "type": "ir.actions.act_window",
                "res_model": "mrp.production.backorder",
                "view_mode": "form",
                "target": "new",
                "context": {
                    "default_mrp_production_ids": short,
                    "default_mrp_production_backorder_line_ids": [
                        [0, 0, {"mrp_production_id": record_id, "to_backorder": True}] for record_id in short
                    ],
                },
            }
        for record_id in ids:
            production = self.records[model][record_id]
            if production["state"] == "done":
                continue
            production["state"] = "done"
            production["qty_produced"] = production["qty_producing"]
            production["date_finished"] = _now()
            for workorder_id in production["workorder_ids"]:
                workorder = self.records[WORKORDER][workorder_id]
                if workorder["state"] not in {"done", "cancel"}:
                    workorder["state"] = "done"
                    workorder["date_finished"] = production["date_finished"]
            self._journal(journal.MARK_DONE, model, production, yield_qty=production["qty_produced"])
        return True

    def _action_cancel(self, model: str, ids: list[int], context: dict[str, Any] | None = None) -> bool:
        for record_id in ids:
            record = self.records[model][record_id]
            self._check_writable_order(self._order_of(model, record))
            if record["state"] == "done":
                raise UserError("You cannot cancel a done manufacturing order or work order; unbuild it instead.")
        for record_id in ids:
            record = self.records[model][record_id]
            if record["state"] == "cancel":
                continue
            record["state"] = "cancel"
            if model == PRODUCTION:
                for workorder_id in record["workorder_ids"]:
                    self.records[WORKORDER][workorder_id]["state"] = "cancel"
            self._journal(
                journal.CANCEL,
                model,
                record,
                document=f"{model}/{record_id}#cancelled",
                cancels=f"{model}/{record_id}",
                key=None,
            )
        return True

    # record creation

    def _check_production(self, vals: dict[str, Any], names: set[str]) -> None:
        name = vals.get("name")
        if name is not None and not isinstance(name, str):
            raise ValidationError("The reference must be a string")
        if name and (name in self.production_by_name or name in names):
            raise ValidationError(f"Reference must be unique per company! ({name})")
        if name:
            names.add(name)
        _quantity(vals.get("product_qty", 0), "product_qty")
        _quantity(vals.get("qty_producing", 0), "qty_producing")
        for command in vals.get("workorder_ids") or []:
            row = command[2] if isinstance(command, list) and len(command) == 3 and command[0] == 0 else command
            if not isinstance(row, dict) or set(row) - set(FIELDS[WORKORDER]):
                raise UnprocessableEntity("workorder_ids must be create commands [0, 0, {work order fields}]")

    def _check_workorder(self, vals: dict[str, Any]) -> None:
        production_id = vals.get("production_id")
        if production_id not in self.records[PRODUCTION]:
            raise MissingError(
                f"Record does not exist or has been deleted.\n(Record: {PRODUCTION}({production_id},), User: {USER_ID})"
            )
        _quantity(vals.get("qty_produced", 0), "qty_produced")
        _quantity(vals.get("duration", 0), "duration")

    def _check_productivity(self, vals: dict[str, Any], keys: set[str]) -> None:
        workorder_id = vals.get("workorder_id")
        if workorder_id not in self.records[WORKORDER]:
            raise MissingError(
                f"Record does not exist or has been deleted.\n(Record: {WORKORDER}({workorder_id},), User: {USER_ID})"
            )
        workorder = self.records[WORKORDER][workorder_id]
        production = self.records[PRODUCTION][workorder["production_id"]]
        self._check_writable_order(production["name"])
        if workorder["state"] in {"done", "cancel"} or production["state"] in {"done", "cancel"}:
            raise UserError(
                f"You cannot record time or quantities on the {workorder['state']} work order "
                f"{production['name']} - {workorder['name']}."
            )
        _check_unique(vals, "x_mes_confirmation_id", self.by_key, keys, "time line")
        for field in ("x_mes_qty_produced", "x_mes_qty_scrap", "duration"):
            _quantity(vals.get(field, 0), field)

    def _create_production(self, vals: dict[str, Any]) -> int:
        name = vals.get("name") or f"WH/MO/{self.next_id[PRODUCTION]:05d}"
        record_id = self._new_id(PRODUCTION)
        production = {
            "id": record_id,
            "name": name,
            "product_qty": _quantity(vals.get("product_qty", 0), "product_qty"),
            "qty_producing": _quantity(vals.get("qty_producing", 0), "qty_producing"),
            "qty_produced": Decimal(0),
            "state": "confirmed",
            "workorder_ids": [],
            "date_finished": None,
        }
        self.records[PRODUCTION][record_id] = production
        self.production_by_name[name] = record_id
        for command in vals.get("workorder_ids") or []:
            row = command[2] if isinstance(command, list) and len(command) == 3 and command[0] == 0 else command
            self._create_workorder({**row, "production_id": record_id})
        return record_id

    def _create_workorder(self, vals: dict[str, Any]) -> int:
        production_id = vals["production_id"]
        operation = vals.get("x_mes_operation") or ""
        record_id = self._new_id(WORKORDER)
        self.records[WORKORDER][record_id] = {
            "id": record_id,
            "name": vals.get("name") or (f"Operation {operation}" if operation else f"Work order {record_id}"),
            "production_id": production_id,
            "x_mes_operation": operation,
            "qty_producing": Decimal(0),
            "qty_produced": _quantity(vals.get("qty_produced", 0), "qty_produced"),
            "duration": _quantity(vals.get("duration", 0), "duration"),
            "state": "ready",
            "time_ids": [],
            "date_start": None,
            "date_finished": None,
        }
        self.records[PRODUCTION][production_id]["workorder_ids"].append(record_id)
        return record_id

    def _create_productivity(self, vals: dict[str, Any]) -> int:
        """Precondition: ``_check_productivity`` passed for ``vals``."""
        workorder_id = vals["workorder_id"]
        workorder = self.records[WORKORDER][workorder_id]
        production = self.records[PRODUCTION][workorder["production_id"]]
        key = vals.get("x_mes_confirmation_id") or None
        produced = _quantity(vals.get("x_mes_qty_produced", 0), "x_mes_qty_produced")
        scrap = _quantity(vals.get("x_mes_qty_scrap", 0), "x_mes_qty_scrap")
        duration = _quantity(vals.get("duration", 0), "duration")
        record_id = self._new_id(PRODUCTIVITY)
        now = _now()
        line = {
            "id": record_id,
            "workorder_id": workorder_id,
            "production_id": production["id"],
            "duration": duration,
            "date_start": vals.get("date_start") or now,
            "date_end": vals.get("date_end") or now,
            "description": vals.get("description") or "",
            "x_mes_confirmation_id": key,
            "x_mes_qty_produced": produced,
            "x_mes_qty_scrap": scrap,
        }
        self.records[PRODUCTIVITY][record_id] = line
        if key:
            self.by_key[key] = record_id
        workorder["qty_produced"] += produced
        workorder["duration"] += duration
        workorder["time_ids"].append(record_id)
        if workorder["state"] == "ready":
            workorder["state"] = "progress"
            workorder["date_start"] = workorder["date_start"] or now
        if production["state"] == "confirmed":
            production["state"] = "progress"
        self._journal(
            journal.POST,
            PRODUCTIVITY,
            line,
            key=key,
            yield_qty=produced,
            scrap_qty=scrap,
            details={"duration": plain(duration), "workorder_id": workorder_id},
        )
        return record_id


    # stock: products, lots, moves and move lines

    def _check_product(self, vals: dict[str, Any]) -> None:
        if not isinstance(vals.get("name"), str) or not vals["name"]:
            raise ValidationError("The product needs a name.")
        code = vals.get("default_code")
        if code is not None and code is not False and not isinstance(code, str):
            raise ValidationError("The internal reference must be text.")

    def _create_product(self, vals: dict[str, Any]) -> int:
        record_id = self._new_id(PRODUCT)
        self.records[PRODUCT][record_id] = {
            "id": record_id, "name": vals["name"], "default_code": vals.get("default_code") or None,
        }
        return record_id

    def _check_lot(self, vals: dict[str, Any], names: set[str]) -> None:
        name, product_id = vals.get("name"), vals.get("product_id")
        if not isinstance(name, str) or not name:
            raise ValidationError("The lot/serial number needs a name.")
        if product_id not in self.records[PRODUCT]:
            raise MissingError(f"Record does not exist or has been deleted.\n(Record: {PRODUCT}({product_id},), User: {USER_ID})")
        pair = f"{product_id}/{name}"
        taken = any(lot["name"] == name and lot["product_id"] == product_id for lot in self.records[LOT].values())
        if taken or pair in names:
            raise ValidationError(
                f"The combination of lot/serial number and product must be unique across a company ({name})."
            )
        names.add(pair)

    def _create_lot(self, vals: dict[str, Any]) -> int:
        record_id = self._new_id(LOT)
        self.records[LOT][record_id] = {"id": record_id, "name": vals["name"], "product_id": vals["product_id"]}
        return record_id

    def _open_production(self, production_id: Any) -> dict[str, Any]:
        """The manufacturing order a stock record belongs to, which must still take moves."""
        production = self.records[PRODUCTION].get(production_id)
        if production is None:
            raise MissingError(
                f"Record does not exist or has been deleted.\n(Record: {PRODUCTION}({production_id},), User: {USER_ID})"
            )
        self._check_writable_order(production["name"])
        if production["state"] in {"done", "cancel"}:
            raise UserError(
                f"You cannot change the moves of the {production['state']} manufacturing order {production['name']}."
            )
        return production

    def _check_move(self, vals: dict[str, Any]) -> None:
        if vals.get("product_id") not in self.records[PRODUCT]:
            raise MissingError(
                f"Record does not exist or has been deleted.\n(Record: {PRODUCT}({vals.get('product_id')},), User: {USER_ID})"
            )
        raw, finished = vals.get("raw_material_production_id"), vals.get("production_id")
        if bool(raw) == bool(finished):
            raise ValidationError("A production move is either a component (raw_material_production_id) or a product (production_id).")
        self._open_production(raw or finished)
        _quantity(vals.get("product_uom_qty", 0), "product_uom_qty")

    def _create_move(self, vals: dict[str, Any]) -> int:
        record_id = self._new_id(MOVE)
        production = self.records[PRODUCTION][vals.get("raw_material_production_id") or vals["production_id"]]
        product = self.records[PRODUCT][vals["product_id"]]
        self.records[MOVE][record_id] = {
            "id": record_id,
            "name": vals.get("name") or f"{production['name']} - {product['default_code'] or product['name']}",
            "product_id": vals["product_id"],
            "product_uom_qty": _quantity(vals.get("product_uom_qty", 0), "product_uom_qty"),
            "quantity": Decimal(0),
            "raw_material_production_id": vals.get("raw_material_production_id") or None,
            "production_id": vals.get("production_id") or None,
            "state": "confirmed",
            "move_line_ids": [],
        }
        return record_id

    def _check_move_line(self, vals: dict[str, Any], keys: set[str]) -> None:
        move = self.records[MOVE].get(vals.get("move_id"))
        if move is None:
            raise MissingError(
                f"Record does not exist or has been deleted.\n(Record: {MOVE}({vals.get('move_id')},), User: {USER_ID})"
            )
        self._open_production(move["raw_material_production_id"] or move["production_id"])
        if vals.get("product_id", move["product_id"]) != move["product_id"]:
            raise ValidationError("The move line's product must be its move's product.")
        lot_id = vals.get("lot_id") or None
        if lot_id is not None:
            lot = self.records[LOT].get(lot_id)
            if lot is None:
                raise MissingError(f"Record does not exist or has been deleted.\n(Record: {LOT}({lot_id},), User: {USER_ID})")
            if lot["product_id"] != move["product_id"]:
                raise ValidationError(f"The lot {lot['name']} is not of the move's product.")
        if _quantity(vals.get("quantity", 0), "quantity") <= 0:
            raise ValidationError("The quantity of a move line must be positive.")
        _check_unique(vals, "x_mes_movement_id", self.by_movement, keys, "move line")

    def _create_move_line(self, vals: dict[str, Any]) -> int:
        """Precondition: ``_check_move_line`` passed. Books the quantity: issued to the order from a
        component move, received from it on a finished move (per product and lot)."""
        move = self.records[MOVE][vals["move_id"]]
        record_id = self._new_id(MOVE_LINE)
        line = {
            "id": record_id,
            "move_id": move["id"],
            "product_id": move["product_id"],
            "lot_id": vals.get("lot_id") or None,
            "quantity": _quantity(vals["quantity"], "quantity"),
            "state": "assigned",
            "x_mes_confirmation_id": vals.get("x_mes_confirmation_id") or None,
            "x_mes_movement_id": vals.get("x_mes_movement_id") or None,
        }
        self.records[MOVE_LINE][record_id] = line
        if line["x_mes_movement_id"]:
            self.by_movement[line["x_mes_movement_id"]] = record_id
        move["move_line_ids"].append(record_id)
        move["quantity"] += line["quantity"]
        move["state"] = "assigned"
        self._book_line(line, 1)
        production = self.records[PRODUCTION][move["raw_material_production_id"] or move["production_id"]]
        if production["state"] == "confirmed":
            production["state"] = "progress"
        return record_id

    def _unlink_move_lines(self, ids: list[int]) -> bool:
        """Take move lines back (they are not done while their order is open): the stock they booked is reversed."""
        for record_id in ids:
            move = self.records[MOVE][self.records[MOVE_LINE][record_id]["move_id"]]
            self._open_production(move["raw_material_production_id"] or move["production_id"])
        lines = []
        for record_id in ids:
            line = self.records[MOVE_LINE].pop(record_id)
            move = self.records[MOVE][line["move_id"]]
            move["move_line_ids"].remove(record_id)
            move["quantity"] -= line["quantity"]
            if line["x_mes_movement_id"]:
                self.by_movement.pop(line["x_mes_movement_id"], None)
            self._book_line(line, -1)
            lines.append(line)
        self._journal_move_lines(journal.CANCEL, lines)
        return True

    def _book_line(self, line: dict[str, Any], sign: int) -> None:
        move = self.records[MOVE][line["move_id"]]
        product = self.records[PRODUCT][line["product_id"]]
        item = product["default_code"] or product["name"]
        batch = self.records[LOT][line["lot_id"]]["name"] if line["lot_id"] else None
        if move["raw_material_production_id"]:
            self.ledger.book(item=item, batch=batch, issued=sign * line["quantity"])
        else:
            self.ledger.book(item=item, batch=batch, received=sign * line["quantity"])

    def _journal_move_lines(self, action: str, lines: list[dict[str, Any]]) -> None:
        """One ledger entry per MES key among ``lines`` (one call books or takes back one message's lines)."""
        groups: dict[str | None, list[dict[str, Any]]] = {}
        for line in lines:
            groups.setdefault(line["x_mes_confirmation_id"], []).append(line)
        for key, group in groups.items():
            document = f"{MOVE_LINE}/{','.join(str(line['id']) for line in group)}"
            movements = []
            for line in group:
                move = self.records[MOVE][line["move_id"]]
                product = self.records[PRODUCT][line["product_id"]]
                movements.append({
                    "item": product["default_code"] or product["name"],
                    "batch": self.records[LOT][line["lot_id"]]["name"] if line["lot_id"] else "",
                    "quantity": plain(line["quantity"]),
                    "finished": not move["raw_material_production_id"],
                })
            cancelling = action == journal.CANCEL
            self._journal(
                action,
                MOVE_LINE,
                group[0],
                key=None if cancelling else key,
                document=f"{document}#unlinked" if cancelling else document,
                cancels=document if cancelling else None,
                cancels_key=key if cancelling else None,
                details={"movements": movements},
            )

    # -- helpers -----------------------------------------------------------------------

    def _new_id(self, model: str) -> int:
        record_id = self.next_id[model]
        self.next_id[model] += 1
        return record_id

    def _order_of(self, model: str, record: dict[str, Any]) -> str:
        if model == PRODUCTION:
            return record["name"]
        if model == MOVE_LINE:
            return self._order_of(MOVE, self.records[MOVE][record["move_id"]])
        if model == MOVE:
            return self.records[PRODUCTION][record["raw_material_production_id"] or record["production_id"]]["name"]
        if model in (PRODUCT, LOT):
            return ""  # master data, of no order
        return self.records[PRODUCTION][record["production_id"]]["name"]

    def _check_writable_order(self, order: str) -> None:
        request = self._current
        if request is None:
            return
        if request.lock_rolled or order in request.locked_orders:
            raise ConcurrencyError(
                f"could not serialize access due to concurrent update (manufacturing order {order}); "
                "gave up after 5 retries"
            )
        if order in request.rejected_orders:
            raise UserError(f"The manufacturing order {order} is blocked: its components are not available.")

    def _journal(
        self,
        action: str,
        model: str,
        record: dict[str, Any],
        *,
        key: str | None = None,
        yield_qty: Decimal | None = None,
        scrap_qty: Decimal | None = None,
        document: str | None = None,
        cancels: str | None = None,
        cancels_key: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        order = self._order_of(model, record)
        operation = None
        if model == WORKORDER:
            operation = record["x_mes_operation"] or record["name"]
        elif model == PRODUCTIVITY:
            workorder = self.records[WORKORDER][record["workorder_id"]]
            operation = workorder["x_mes_operation"] or workorder["name"]
        request = self._current
        self.ledger.record(
            action=action,
            key=key,
            order=order,
            operation=operation,
            yield_qty=plain(yield_qty) if yield_qty is not None else "0",
            scrap_qty=plain(scrap_qty) if scrap_qty is not None else "0",
            document_type=model,
            document=document or f"{model}/{record['id']}",
            cancels=cancels,
            cancels_key=cancels_key,
            response_dropped=bool(request and request.response_will_drop),
            details=details,
        )
        self._committed = True

    def _value(self, model: str, record: dict[str, Any], field: str) -> Any:
        if field == "display_name":
            if model == PRODUCTION:
                return record["name"]
            if model == WORKORDER:
                return f"{self.records[PRODUCTION][record['production_id']]['name']} - {record['name']}"
            if model == PRODUCT:
                return f"[{record['default_code']}] {record['name']}" if record["default_code"] else record["name"]
            if model in (LOT, MOVE, WORKCENTER):
                return record["name"]
            if model == MOVE_LINE:
                return self.records[MOVE][record["move_id"]]["name"]
            return record.get("description") or f"Time line {record['id']}"
        value = record.get(field)
        if FIELDS[model][field] == "many2one":
            related = self.records[RELATIONS[field]].get(value) if value is not None else None
            if related is None:
                return False
            return [value, self._value(RELATIONS[field], related, "display_name")]
        if FIELDS[model][field] == "one2many":
            return list(value or [])
        if value is None:
            return False
        return value

    def _resolve(self, model: str, record: dict[str, Any], path: str) -> Any:
        field, _, rest = path.partition(".")
        if field not in FIELDS[model]:
            raise ValueError_(f"Invalid field {field!r} on model {model!r}")
        if not rest:
            value = record.get(field)
            if FIELDS[model][field] == "many2one":
                return value if value is not None else False
            return self._value(model, record, field) if field == "display_name" else value
        related_model = RELATIONS.get(field)
        if related_model is None or FIELDS[model][field] != "many2one":
            raise ValueError_(f"Invalid path {path!r} on model {model!r}")
        related = self.records[related_model].get(record.get(field))
        return self._resolve(related_model, related, rest) if related is not None else False

    def _check_domain(self, model: str, domain: Any) -> None:
        """Refuse unknown fields and operators even when no record would be looked at."""
        if not isinstance(domain, list):
            raise ValueError_("the domain must be a list")
        operators = {"=", "!=", "in", "not in", "like", "ilike", "=like", "=ilike", "<", ">", "<=", ">="}
        for term in domain:
            if term in ("&", "|", "!"):
                continue
            if not isinstance(term, (list, tuple)) or len(term) != 3 or not isinstance(term[0], str):
                raise ValueError_(f"Invalid domain term {term!r}")
            if term[1] not in operators:
                raise ValueError_(f"Invalid operator {term[1]!r}")
            current = model
            for field in term[0].split("."):
                if field not in FIELDS[current]:
                    raise ValueError_(f"Invalid field {field!r} on model {current!r}")
                current = RELATIONS.get(field, current)

    def _evaluate(self, model: str, record: dict[str, Any], domain: list[Any]) -> bool:
        if not isinstance(domain, list):
            raise ValueError_("the domain must be a list")
        stack: list[bool] = []
        for term in reversed(domain):
            if term == "&" or term == "|":
                if len(stack) < 2:
                    raise ValueError_(f"Invalid domain {domain!r}")
                left, right = stack.pop(), stack.pop()
                stack.append((left and right) if term == "&" else (left or right))
            elif term == "!":
                if not stack:
                    raise ValueError_(f"Invalid domain {domain!r}")
                stack.append(not stack.pop())
            elif isinstance(term, (list, tuple)) and len(term) == 3:
                stack.append(self._leaf(model, record, term))
            else:
                raise ValueError_(f"Invalid domain term {term!r}")
        return all(stack)

    def _leaf(self, model: str, record: dict[str, Any], term: Any) -> bool:
        path, operator, expected = term
        if not isinstance(path, str):
            raise ValueError_(f"Invalid domain term {term!r}")
        field = path.split(".")[0]
        actual = self._resolve(model, record, path)
        if (
            field in RELATIONS
            and "." not in path
            and FIELDS[model].get(field) == "many2one"
            and isinstance(expected, str)
        ):
            related = self.records[RELATIONS[field]].get(actual) if actual else None
            actual = self._value(RELATIONS[field], related, "display_name") if related else False
        if isinstance(actual, Decimal):
            actual = float(actual)
        if actual is None:
            actual = False
        if operator == "=":
            return actual == expected
        if operator == "!=":
            return actual != expected
        if operator in {"in", "not in"}:
            found = actual in (expected or [])
            return found if operator == "in" else not found
        if operator in {"like", "ilike", "=like", "=ilike"}:
            text, pattern = str(actual or ""), str(expected or "")
            if operator.endswith("ilike"):
                text, pattern = text.lower(), pattern.lower()
            return pattern.replace("%", "") in text
        if operator in {"<", ">", "<=", ">="}:
            if actual is False:
                return False
            return {"<": actual < expected, ">": actual > expected, "<=": actual <= expected, ">=": actual >= expected}[
                operator
            ]
        raise ValueError_(f"Invalid operator {operator!r}")

    def _autocreate(self, model: str, domain: list[Any]) -> None:
        if not self.autocreate or model not in {PRODUCTION, WORKORDER, PRODUCT} or not isinstance(domain, list):
            return
        if any(not isinstance(term, (list, tuple)) for term in domain):
            return  # only plain conjunctions pin a record
        pinned = {term[0]: term[2] for term in domain if len(term) == 3 and term[1] == "=" and isinstance(term[2], str)}
        if model == PRODUCT:
            code = pinned.get("default_code")
            if code and not any(product["default_code"] == code for product in self.records[PRODUCT].values()):
                self._create_product({"name": code, "default_code": code})
            return
        order = (
            pinned.get("name")
            if model == PRODUCTION
            else pinned.get("production_id.name") or pinned.get("production_id")
        )
        if not order:
            return
        production_id = self.production_by_name.get(order)
        if production_id is None:
            production_id = self._create_production({"name": order})
        operation = pinned.get("x_mes_operation")
        if model == WORKORDER and operation:
            production = self.records[PRODUCTION][production_id]
            if not any(
                self.records[WORKORDER][wid]["x_mes_operation"] == operation for wid in production["workorder_ids"]
            ):
                self._create_workorder({"production_id": production_id, "x_mes_operation": operation})


class ValueError_(UserError):
    """Odoo answers bad fields and domains with a ``ValueError`` (HTTP 422 in JSON-2)."""

    exception_name = "builtins.ValueError"


def _check_unique(vals: dict[str, Any], field: str, taken: dict[str, int], batch: set[str], record: str) -> None:
    """A custom field with a SQL ``unique`` constraint: ``taken`` maps stored values to their records,
    ``batch`` collects the values of the call being checked."""
    value = vals.get(field) or None
    if value is not None and not isinstance(value, str):
        raise ValidationError(f"{field} must be a string")
    if value and (value in taken or value in batch):
        raise ValidationError(
            f"The operation cannot be completed: {field} must be unique ({value} is already "
            f"recorded on {record} {taken.get(value, 'in this batch')})."
        )
    if value:
        batch.add(value)


def _book_number(value: Any) -> Decimal | str:
    """A quantity of the order book as Odoo holds it; one that cannot be read is kept as it came (a bad record)."""
    try:
        return parse_decimal(value)
    except ValueError:
        return str(value)


def _quantity(value: Any, field: str) -> Decimal:
    try:
        number = parse_decimal(value if value not in (None, False, "") else 0)
    except ValueError:
        raise ValidationError(f"Wrong value for {field}: {value!r}") from None
    if number < 0:
        raise UserError(f"{field} cannot be negative.")
    return number


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _sortable(value: Any) -> tuple[int, Any]:
    if value is None or value is False:
        return (0, "")
    if isinstance(value, (int, float, Decimal)):
        return (1, float(value))
    return (2, str(value))


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    return value


def _xmlrpcable(value: Any) -> Any:
    if value is None:
        return False
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [_xmlrpcable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _xmlrpcable(item) for key, item in value.items()}
    return value
