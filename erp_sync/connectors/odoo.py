"""Odoo MRP: a work-center time line per confirmation, move lines with lots per goods movement, over JSON-2
(Odoo 19+) or XML-RPC (older).

``ConnectionConfig.base_url`` is the Odoo server, e.g. ``https://odoo.example.com``. JSON-2
sends ``Authorization: bearer <API key>`` (``token``, else ``password``) and, when the option
``database`` is set, ``X-Odoo-Database``. XML-RPC authenticates ``username`` with that key
against ``database`` through ``/xmlrpc/2/common`` and calls ``/xmlrpc/2/object`` ``execute_kw``.

The posting model (the simulator's ``odoo.py`` documents it; a small Studio/custom module
gives a real Odoo the same fields):

- the work order is ``mrp.workorder`` with ``production_id.name`` = our work-order number and
  ``x_mes_operation`` = our operation sequence, 4 digits ("0010");
- each confirmation creates one ``mrp.workcenter.productivity`` line on it with the duration
  in minutes and the custom fields ``x_mes_confirmation_id`` (unique: a resend fails, and a
  look-up by our key is one ``search_read``), ``x_mes_qty_produced`` and ``x_mes_qty_scrap``;
  Odoo books them onto the work order;
- a final confirmation then finishes the work order (``button_finish``) and, if the option
  says so and every work order of the manufacturing order is done, marks the order done
  (``button_mark_done`` without backorder). These are further calls, each its own
  transaction in Odoo: if one fails, the message is retried, the create is recognised as a
  duplicate by our key and the finishing is done again; ``find`` does not report a final
  confirmation as booked while its work order is not finished yet;
- a reversal deletes (``unlink``) the original's time line, which takes its quantities and
  time off the work order again;
- goods messages book stock moves with lots on the production (``mrp.production`` found by
  ``name`` = our work order, as for confirmations). A ``goods_issue`` adds, per movement, a
  ``stock.move.line`` (``lot_id``, ``quantity``) to the order's component move of the item
  (``stock.move`` with ``raw_material_production_id``, the product found by ``default_code`` = our
  item code; the move is added to the order when it has none); a ``goods_receipt`` adds them to
  the finished-product move (``production_id``). A component's lot must exist in Odoo (the ERP
  staged it; otherwise the message is rejected), an output lot is found by name or created
  (``stock.lot`` ``create``). All lines of a message go in one ``create`` (one transaction in
  Odoo), each carrying our key in ``x_mes_confirmation_id`` (not unique here: several lines share
  it) and its movement's id in ``x_mes_movement_id`` (unique: a resend fails, and is then found
  by a ``search_read`` on the key, as a confirmation's time line is). Goods that rode with a report
  are booked all the same: the time line carries no stock. The lines stay not done while the order
  is open (validating them is Odoo's ``button_mark_done``);
- a goods reversal deletes (``unlink``) the original's move lines — by the ids acknowledged for
  it, else found by its key — which takes their quantities off the moves and the stock. Lines of
  a done manufacturing order cannot be deleted: Odoo refuses and the reversal dead-letters (a
  return or an unbuild in Odoo is then a person's job); so with ``mark_done_on_final`` a
  reversal after the last operation's report cannot be booked. A final report whose output
  follows (``goods_movements`` with a 101) finishes its work order but leaves the order open;
  with ``mark_done_on_final`` that output's receipt then marks it done (``find`` does not report
  the receipt as booked while the order is still open with every work order done).
  ``goods_totals`` sums the move lines that stand on the order's component (issued) and
  finished-product (received) moves.

Errors: 401/403 and Odoo ``UserError``/``ValidationError``/``AccessError`` are permanent (the
ERP's own message goes to the dead letter); ``ConcurrencyError`` (a serialization failure
Odoo gave up retrying, HTTP 500), other 5xx and 408/423/425/429 are transient. Network
failures are classified like every connector's: refused → retry, no answer after sending →
unknown (look up first). The XML-RPC transport never repeats a request by itself.

Options (all optional):

``version`` (19)
    the Odoo major version; 19 and later use JSON-2, older ones XML-RPC (JSON-2 appeared in
    Odoo 19). ``protocol`` ("json2" or "xmlrpc") overrides the choice.
``database`` ("")
    the database name (needed for XML-RPC; sent as ``X-Odoo-Database`` with JSON-2).
``duration_source`` ("max")
    the time line's minutes: ``labor``, ``machine`` or the ``max`` of the two.
``finish_on_final`` (true)
    ``button_finish`` the work order on a final confirmation.
``mark_done_on_final`` (false)
    also ``button_mark_done`` the manufacturing order once all its work orders are done (after
    the final report's output receipt, when one follows it).
"""

from __future__ import annotations

import datetime as dt
import http.client
import threading
import time
import xmlrpc.client
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import requests

from erp_sync.connectors.base import (
    GOODS_KINDS,
    GOODS_REVERSALS,
    RETRYABLE_STATUSES,
    ConnectionConfig,
    Connector,
    ErpTotals,
    FailureKind,
    GoodsTotals,
    Health,
    Outcome,
    Posting,
    PostResult,
    PulledOrder,
    PulledOrders,
    as_retryable,
    classify_exception,
    classify_status,
    header_value_problem,
    http_session,
    option_problems,
)

PRODUCTION = "mrp.production"
WORKORDER = "mrp.workorder"
PRODUCTIVITY = "mrp.workcenter.productivity"
PRODUCT = "product.product"
LOT = "stock.lot"
MOVE = "stock.move"
MOVE_LINE = "stock.move.line"
WORKCENTER = "mrp.workcenter"
#: The states of a manufacturing order the shop floor still has to make.
PULLED_STATES = ("confirmed", "progress", "to_close")
KEY_FIELD = "x_mes_confirmation_id"
MOVEMENT_FIELD = "x_mes_movement_id"
#: The field linking the moves a goods kind books on to their order: component moves (issued), finished ones (received).
MOVE_LINK = {"goods_issue": "raw_material_production_id", "goods_receipt": "production_id"}
OPERATION_FIELD = "x_mes_operation"
PRODUCED_FIELD = "x_mes_qty_produced"
SCRAP_FIELD = "x_mes_qty_scrap"
DURATION_SOURCES = ("labor", "machine", "max")
TRANSIENT_ERRORS = ("ConcurrencyError", "OperationalError", "SerializationFailure", "could not serialize", "deadlock")
ODOO_DATETIME = "%Y-%m-%d %H:%M:%S"


class _CallFailed(Exception):
    """An Odoo call that did not return: ``result`` says what to do, ``name`` is Odoo's exception name."""

    def __init__(self, result: PostResult, name: str = "") -> None:
        super().__init__(result.error)
        self.result = result
        self.name = name

    @property
    def missing(self) -> bool:
        return self.name.endswith("MissingError") or "does not exist or has been deleted" in self.result.error


class OdooConnector(Connector):
    kind: ClassVar[str] = "odoo"
    #: Quality records stay in the MES: Odoo's ``quality.check`` belongs to the Enterprise quality
    #: apps, not to the Community MRP this connector books against; scrap reaches Odoo with the report.
    not_booked: ClassVar[Mapping[str, str]] = {
        "inspection_result": "Odoo's quality checks are an Enterprise app this connector does not book; the MES keeps the result.",
        "nonconformance_disposition": "Scrap and rework reached Odoo with the confirmation the disposition booked; the decision is kept in the MES.",
    }
    pulls_orders: ClassVar[bool] = True
    tracks_rework = False  # the time lines carry good and scrap only

    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__(config)
        self.base_url = config.base_url.rstrip("/")
        self.options = config.options or {}
        self.api_key = config.token or config.password
        self.database = self.options.get("database", "")
        protocol = self.options.get("protocol")
        if protocol not in ("json2", "xmlrpc"):
            protocol = "json2" if _version(self.options.get("version")) >= 19 else "xmlrpc"
        self.protocol = protocol
        self.timeout = config.timeout_seconds
        self.session = http_session()
        self.session.headers.update({"Authorization": f"bearer {self.api_key}", "Accept": "application/json"})
        if self.database:
            self.session.headers["X-Odoo-Database"] = self.database
        self._uid: int | None = None
        self._uid_lock = threading.Lock()

    # -- the interface -------------------------------------------------------------------

    def post(self, posting: Posting) -> PostResult:
        try:
            if posting.kind in GOODS_REVERSALS:
                return self._goods_unlink(posting)
            if posting.kind in GOODS_KINDS:
                return self._goods_book(posting)
            if posting.kind == "reversal":
                return self._unlink(posting)
            return self._confirm(posting)
        except _CallFailed as failure:
            return failure.result
        except (KeyError, ValueError, InvalidOperation) as error:
            return PostResult(Outcome.REJECTED, error=f"The message cannot be sent to Odoo: {error}")

    def find(self, posting: Posting) -> PostResult | None:
        try:
            if posting.kind in GOODS_REVERSALS:
                original_key = _original_key(posting)
                if not original_key or self._goods_lines(original_key):
                    return None  # not taken back yet (or post() will say what is wrong)
                return _goods_unlinked((posting.reverses_ref or {}).get("ids") or [])
            if posting.kind in GOODS_KINDS:
                lines = self._goods_lines(posting.idempotency_key)
                if not lines or self._unfinished(posting):
                    return None  # not booked, or booked but its order not closed yet: post() closes it
                return _goods_booked(lines)
            if posting.kind == "reversal":
                original_key = _original_key(posting)
                if not original_key or self._line(original_key) is not None:
                    return None  # not taken back yet (or post() will say what is wrong)
                return _unlinked((posting.reverses_ref or {}).get("id"))
            line = self._line(posting.idempotency_key)
            if line is None:
                return None
            if self._needs_finishing(posting, _id(line["workorder_id"])):
                return None  # booked, but not finished: post() finishes it
            return _booked(line["id"], _id(line["workorder_id"]))
        except _CallFailed as failure:
            return as_retryable(failure.result)

    def totals(self, work_order: str) -> list[ErpTotals] | PostResult:
        try:
            workorders = self._call(
                WORKORDER,
                "search_read",
                params={"domain": [["production_id.name", "=", work_order]], "fields": ["id", OPERATION_FIELD]},
                read=True,
            )
            lines = self._call(
                PRODUCTIVITY,
                "search_read",
                params={
                    "domain": [["production_id.name", "=", work_order]],
                    "fields": ["workorder_id", PRODUCED_FIELD, SCRAP_FIELD, KEY_FIELD],
                },
                read=True,
            )
        except _CallFailed as failure:
            return as_retryable(failure.result)
        operations = {row["id"]: _operation_number(row.get(OPERATION_FIELD)) for row in workorders}
        sums: dict[int, list[Any]] = {}
        for line in lines:
            operation = operations.get(_id(line.get("workorder_id")), 0)
            entry = sums.setdefault(operation, [Decimal(0), Decimal(0), []])
            entry[0] += Decimal(str(line.get(PRODUCED_FIELD) or 0))
            entry[1] += Decimal(str(line.get(SCRAP_FIELD) or 0))
            if line.get(KEY_FIELD):
                entry[2].append(str(line[KEY_FIELD]))
        return [
            ErpTotals(work_order, operation, good, scrap, Decimal(0), tuple(keys))
            for operation, (good, scrap, keys) in sorted(sums.items())
        ]

    def goods_totals(self, work_order: str) -> list[GoodsTotals] | PostResult:
        """The order's move lines that stand (taken-back ones are deleted): on component moves issued,
        on finished-product moves received, per product's internal reference (= our item code)."""
        try:
            lines = {
                link: self._call(
                    MOVE_LINE,
                    "search_read",
                    params={"domain": [[f"move_id.{field}.name", "=", work_order]], "fields": ["product_id", "quantity"]},
                    read=True,
                )
                for link, field in MOVE_LINK.items()
            }
            product_ids = sorted({_id(line["product_id"]) for rows in lines.values() for line in rows} - {None})
            products = (
                self._call(PRODUCT, "read", ids=product_ids, params={"fields": ["default_code"]}, read=True) if product_ids else []
            )
        except _CallFailed as failure:
            return as_retryable(failure.result)
        codes = {row["id"]: str(row.get("default_code") or "") for row in products}
        sums: dict[str, list[Decimal]] = {}
        for link, rows in lines.items():
            for line in rows:
                totals = sums.setdefault(codes.get(_id(line["product_id"]), ""), [Decimal(0), Decimal(0)])
                totals[0 if link == "goods_issue" else 1] += Decimal(str(line.get("quantity") or 0))
        return [GoodsTotals(work_order, item, issued, received) for item, (issued, received) in sorted(sums.items())]

    def health(self) -> Health:
        started = time.monotonic()
        try:
            if self.protocol == "xmlrpc":
                with self._uid_lock:
                    self._uid = None
            self._call(PRODUCTION, "search_count", params={"domain": [["id", "=", 0]]}, read=True)
        except _CallFailed as failure:
            return Health(False, detail=failure.result.error, latency_ms=int((time.monotonic() - started) * 1000))
        return Health(True, detail=f"Odoo {self.protocol} answered", latency_ms=int((time.monotonic() - started) * 1000))

    def close(self) -> None:
        self.session.close()

    @staticmethod
    def validate_credentials(*, username: str, password: str, token: str, options: dict[str, Any]) -> dict[str, str]:
        """The API key (token, else password) travels as ``Authorization: bearer``, which carries Latin-1 text only."""
        problem = header_value_problem(token or password)
        return {"token" if token else "password": problem} if problem else {}

    @staticmethod
    def validate_options(options: dict[str, Any]) -> dict[str, str]:
        problems = option_problems(
            options, choices={"duration_source": (DURATION_SOURCES, "max")}, flags={"finish_on_final": False, "mark_done_on_final": False},
            pulls=True,
        )
        version = options.get("version", 19)
        try:
            if isinstance(version, bool) or int(version) < 8:
                raise ValueError
        except (TypeError, ValueError):
            problems["version"] = "The Odoo major version, e.g. 19 or 16."
        if options.get("protocol") not in (None, "", "json2", "xmlrpc"):
            problems["protocol"] = "Use json2 or xmlrpc (or leave it out to follow the version)."
        if not isinstance(options.get("database", ""), str):
            problems["database"] = "The database name."
        return problems

    # -- pulled production orders --------------------------------------------------------

    def pull_orders(self, since: str) -> PulledOrders | PostResult:
        """``mrp.production`` ``search_read`` of the orders confirmed or in progress with ``write_date >=`` the mark,
        oldest change first; then, in one call each, their work orders (``mrp.workorder``: ``x_mes_operation`` as the
        sequence, else 10, 20, … in Odoo's order; ``workcenter_id``'s ``code``; ``duration_expected`` for the whole
        quantity), their component moves (``stock.move`` with ``raw_material_production_id``: ``product_uom_qty``, the
        ``workorder_id`` consuming it) and the products' internal references (``default_code`` = our item code).
        Odoo keeps no setup time on a work order, nor a backflush flag on a move: both are sent as zero / false."""
        domain: list[Any] = [["write_date", ">=", since]] if since else []
        domain.append(["state", "in", list(PULLED_STATES)])
        try:
            productions = self._call(
                PRODUCTION, "search_read",
                params={"domain": domain, "fields": ["name", "product_id", "product_qty", "date_deadline", "write_date"], "order": "write_date asc, id asc"},
                read=True,
            )
            ids = [row["id"] for row in productions]
            workorders = self._call(
                WORKORDER, "search_read",
                params={"domain": [["production_id", "in", ids]], "fields": ["production_id", "name", OPERATION_FIELD, "workcenter_id", "duration_expected"]},
                read=True,
            ) if ids else []
            moves = self._call(
                MOVE, "search_read",
                params={"domain": [["raw_material_production_id", "in", ids]], "fields": ["raw_material_production_id", "product_id", "product_uom_qty", "workorder_id"]},
                read=True,
            ) if ids else []
            codes = self._codes(PRODUCT, "default_code", [row["product_id"] for row in [*productions, *moves]])
            centers = self._codes(WORKCENTER, "code", [row["workcenter_id"] for row in workorders])
        except _CallFailed as failure:
            return as_retryable(failure.result)
        mark = since
        orders = []
        for production in productions:
            mark = max(mark, str(production.get("write_date") or ""))
            own = [row for row in workorders if _id(row.get("production_id")) == production["id"]]
            sequences = {row["id"]: _operation_number(row.get(OPERATION_FIELD)) or 10 * index for index, row in enumerate(own, start=1)}
            operations = [
                {
                    "sequence": sequences[row["id"]], "name": str(row.get("name") or ""), "work_center": centers.get(_id(row.get("workcenter_id")), ""),
                    "setup_minutes": 0, "run_minutes_per_unit": _per_unit(row.get("duration_expected"), production.get("product_qty")),
                }
                for row in own
            ]
            components = [
                {
                    "item": codes.get(_id(row.get("product_id")), ""), "quantity": row.get("product_uom_qty"),
                    "operation": sequences.get(_id(row.get("workorder_id"))), "backflush": False,
                }
                for row in moves if _id(row.get("raw_material_production_id")) == production["id"]
            ]
            orders.append(PulledOrder(
                key=str(production.get("name") or ""),
                changed_at=str(production.get("write_date") or ""),
                work_order={
                    "item": codes.get(_id(production.get("product_id")), ""),
                    "quantity": production.get("product_qty"),
                    "due_date": str(production.get("date_deadline") or "")[:10],
                },
                operations=operations or None,
                components=components or None,
            ))
        return PulledOrders(orders, mark)

    def _codes(self, model: str, field: str, references: list[Any]) -> dict[int, str]:
        """``field`` of the records many2one ``references`` point to, by id."""
        ids = sorted({_id(reference) for reference in references} - {None})
        rows = self._call(model, "read", ids=ids, params={"fields": [field]}, read=True) if ids else []
        return {row["id"]: str(row.get(field) or "") for row in rows}

    # -- confirmation --------------------------------------------------------------------

    def _confirm(self, posting: Posting) -> PostResult:
        payload = posting.payload
        order = str(payload.get("work_order") or posting.work_order)
        operation = f"{int(payload['operation']):04d}"
        workorders = self._call(
            WORKORDER,
            "search_read",
            params={
                "domain": [["production_id.name", "=", order], [OPERATION_FIELD, "=", operation]],
                "fields": ["id", "state"],
                "limit": 1,
            },
            read=True,
        )
        if not workorders:
            return PostResult(
                Outcome.REJECTED, error=f"Odoo has no work order for operation {operation} of manufacturing order {order}."
            )
        workorder_id = workorders[0]["id"]
        minutes = self._minutes(payload)
        finished = _utc(payload.get("confirmed_at"))
        values = {
            "workorder_id": workorder_id,
            "duration": float(minutes),
            KEY_FIELD: posting.idempotency_key,
            PRODUCED_FIELD: float(Decimal(str(payload.get("good_qty") or 0))),
            SCRAP_FIELD: float(Decimal(str(payload.get("scrap_qty") or 0))),
            "date_start": (finished - dt.timedelta(minutes=float(minutes))).strftime(ODOO_DATETIME),
            "date_end": finished.strftime(ODOO_DATETIME),
            "description": _description(posting),
        }
        outcome = Outcome.ACCEPTED
        try:
            created = self._call(PRODUCTIVITY, "create", params={"vals_list": [values]})
            line_id = created[0] if isinstance(created, list) else created
        except _CallFailed as failure:
            if failure.result.outcome != Outcome.REJECTED:
                raise
            # The unique key refused a resend: the line is there, so finish the job below.
            line = self._line(posting.idempotency_key)
            if line is None:
                raise
            line_id, outcome = line["id"], Outcome.DUPLICATE
        if payload.get("final") and self.options.get("finish_on_final", True):
            self._finish(workorder_id, close_order=not _output_follows(payload))
        return _booked(line_id, workorder_id, outcome)

    def _finish(self, workorder_id: int, *, close_order: bool = True) -> None:
        self._call(WORKORDER, "button_finish", ids=[workorder_id])
        if not close_order or not self.options.get("mark_done_on_final", False):
            return
        rows = self._call(WORKORDER, "read", ids=[workorder_id], params={"fields": ["production_id"]})
        self._mark_done(_id(rows[0]["production_id"]))

    def _mark_done(self, production_id: int | None) -> None:
        """``button_mark_done`` the order once every work order of it is done, producing what the last one
        produced; an order already done (by an earlier attempt) is left as it is."""
        production = self._call(PRODUCTION, "read", ids=[production_id], params={"fields": ["state"]}, read=True)
        if not production or production[0]["state"] in ("done", "cancel"):
            return
        siblings = self._call(
            WORKORDER,
            "search_read",
            params={"domain": [["production_id", "=", production_id]], "fields": ["state", "qty_produced", OPERATION_FIELD]},
            read=True,
        )
        if not siblings or any(row["state"] not in ("done", "cancel") for row in siblings):
            return
        last = max(siblings, key=lambda row: _operation_number(row.get(OPERATION_FIELD)))
        self._call(PRODUCTION, "write", ids=[production_id], params={"vals": {"qty_producing": last["qty_produced"]}})
        result = self._call(
            PRODUCTION,
            "button_mark_done",
            ids=[production_id],
            context={"skip_backorder": True, "mo_ids_to_backorder": []},
        )
        if isinstance(result, dict):
            raise _CallFailed(
                PostResult(
                    Outcome.REJECTED,
                    error=f"Odoo did not mark the manufacturing order done; it opened {result.get('name') or result.get('res_model')}.",
                )
            )

    def _needs_finishing(self, posting: Posting, workorder_id: int | None) -> bool:
        if not posting.payload.get("final") or not self.options.get("finish_on_final", True) or workorder_id is None:
            return False
        rows = self._call(WORKORDER, "read", ids=[workorder_id], params={"fields": ["state"]}, read=True)
        return bool(rows) and rows[0]["state"] not in ("done", "cancel")

    def _minutes(self, payload: dict[str, Any]) -> Decimal:
        labor = Decimal(str(payload.get("labor_minutes") or 0))
        machine = Decimal(str(payload.get("machine_minutes") or 0))
        source = self.options.get("duration_source", "max")
        return {"labor": labor, "machine": machine}.get(source, max(labor, machine))

    # -- reversal ------------------------------------------------------------------------

    def _unlink(self, posting: Posting) -> PostResult:
        reference = posting.reverses_ref or {}
        line_id = reference.get("id") if reference.get("model", PRODUCTIVITY) == PRODUCTIVITY else None
        if not line_id:
            original_key = _original_key(posting)
            if not original_key:
                return PostResult(Outcome.REJECTED, error="The reversal does not say which confirmation it reverses.")
            line = self._line(original_key)
            if line is None:
                # Never booked in Odoo (discarded in the MES): nothing to take back.
                return PostResult(Outcome.ACCEPTED, erp_ref={"nothing_to_cancel": True})
            line_id = line["id"]
        try:
            self._call(PRODUCTIVITY, "unlink", ids=[int(line_id)])
        except _CallFailed as failure:
            if failure.missing:
                return _unlinked(line_id, Outcome.DUPLICATE)  # an earlier attempt deleted it
            raise
        return _unlinked(line_id)

    def _line(self, key: str) -> dict[str, Any] | None:
        rows = self._call(
            PRODUCTIVITY,
            "search_read",
            params={"domain": [[KEY_FIELD, "=", key]], "fields": ["id", "workorder_id"], "limit": 1},
            read=True,
        )
        return rows[0] if rows else None


    # -- goods movements -----------------------------------------------------------------

    def _goods_book(self, posting: Posting) -> PostResult:
        """The movements as move lines with their lots on the order's component moves (issue) or
        finished-product moves (receipt), all in one ``create`` (one transaction in Odoo)."""
        payload = posting.payload
        order = str(payload.get("work_order") or posting.work_order)
        link = MOVE_LINK[posting.kind]
        production_id = self._production(order)
        products: dict[str, int] = {}
        moves: dict[int, int] = {}
        lines = []
        for index, movement in enumerate(payload["movements"]):
            item = str(movement["item"])
            if item not in products:
                products[item] = self._product(item)
            product_id = products[item]
            if product_id not in moves:
                moves[product_id] = self._move(production_id, product_id, link=link, name=f"{order} - {item}")
            values: dict[str, Any] = {
                "move_id": moves[product_id],
                "product_id": product_id,
                "quantity": float(Decimal(str(movement["quantity"]))),
                KEY_FIELD: posting.idempotency_key,
                MOVEMENT_FIELD: str(movement.get("movement_id") or f"{posting.idempotency_key}/{index}"),
            }
            if movement.get("lot"):
                values["lot_id"] = self._lot(str(movement["lot"]), product_id, item=item, create=posting.kind == "goods_receipt")
            lines.append(values)
        if not lines:
            return PostResult(Outcome.REJECTED, error="The goods message lists no movements.")
        try:
            created = self._call(MOVE_LINE, "create", params={"vals_list": lines})
        except _CallFailed as failure:
            if failure.result.outcome != Outcome.REJECTED:
                raise
            # The unique movement field refused a resend: the lines are there.
            existing = self._goods_lines(posting.idempotency_key)
            if not existing:
                raise
            self._close_after_output(posting, production_id)
            return _goods_booked(existing, Outcome.DUPLICATE)
        ids = created if isinstance(created, list) else [created]
        self._close_after_output(posting, production_id)
        return _goods_booked([{"id": line_id, "move_id": [moves[line["product_id"]]]} for line_id, line in zip(ids, lines, strict=True)])

    def _closes_order(self, posting: Posting) -> bool:
        """Whether this is the output of a report, which with ``mark_done_on_final`` closes the order
        its final report finished (the report left it open so that its output could be booked)."""
        return (
            posting.kind == "goods_receipt"
            and bool(posting.payload.get("confirmation_id"))
            and bool(self.options.get("mark_done_on_final", False))
            and bool(self.options.get("finish_on_final", True))
        )

    def _close_after_output(self, posting: Posting, production_id: int) -> None:
        if self._closes_order(posting):
            self._mark_done(production_id)

    def _unfinished(self, posting: Posting) -> bool:
        """Booked output whose order is still open though every work order is done: ``post`` closes it."""
        if not self._closes_order(posting):
            return False
        order = str(posting.payload.get("work_order") or posting.work_order)
        rows = self._call(PRODUCTION, "search_read", params={"domain": [["name", "=", order]], "fields": ["state"], "limit": 1}, read=True)
        if not rows or rows[0]["state"] in ("done", "cancel"):
            return False
        workorders = self._call(
            WORKORDER, "search_read", params={"domain": [["production_id.name", "=", order]], "fields": ["state"]}, read=True
        )
        return bool(workorders) and all(row["state"] in ("done", "cancel") for row in workorders)

    def _goods_unlink(self, posting: Posting) -> PostResult:
        """Take the original's move lines back (``unlink``: they are not done while the order is open)."""
        original_key = _original_key(posting)
        if not original_key:
            return PostResult(Outcome.REJECTED, error="The reversal does not say which goods movement it reverses.")
        reference = posting.reverses_ref or {}
        ids = [int(line_id) for line_id in reference.get("ids") or []] if reference.get("model") == MOVE_LINE else []
        if not ids:
            lines = self._goods_lines(original_key)
            if not lines:
                # Never booked in Odoo (discarded in the MES): nothing to take back.
                return PostResult(Outcome.ACCEPTED, erp_ref={"nothing_to_cancel": True})
            ids = [line["id"] for line in lines]
        try:
            self._call(MOVE_LINE, "unlink", ids=ids)
        except _CallFailed as failure:
            if not failure.missing:
                raise
            # An earlier attempt deleted them (a line deleted by hand in Odoo aside): take back what is left.
            left = [line["id"] for line in self._goods_lines(original_key)]
            if not left:
                return _goods_unlinked(ids, Outcome.DUPLICATE)
            self._call(MOVE_LINE, "unlink", ids=left)
            ids = left
        return _goods_unlinked(ids)

    def _goods_lines(self, key: str) -> list[dict[str, Any]]:
        return self._call(
            MOVE_LINE, "search_read", params={"domain": [[KEY_FIELD, "=", key]], "fields": ["id", "move_id"]}, read=True
        )

    def _production(self, order: str) -> int:
        return self._required(PRODUCTION, [["name", "=", order]], f"Odoo has no manufacturing order {order}.")

    def _product(self, item: str) -> int:
        return self._required(PRODUCT, [["default_code", "=", item]], f"Odoo has no product with the internal reference {item}.")

    def _required(self, model: str, domain: list[Any], missing: str) -> int:
        """The id of the one record ``domain`` names; ``missing`` rejects the message when there is none."""
        found = self._first(model, domain)
        if found is None:
            raise _CallFailed(PostResult(Outcome.REJECTED, error=missing))
        return found

    def _first(self, model: str, domain: list[Any]) -> int | None:
        rows = self._call(model, "search_read", params={"domain": domain, "fields": ["id"], "limit": 1}, read=True)
        return int(rows[0]["id"]) if rows else None

    def _move(self, production_id: int, product_id: int, *, link: str, name: str) -> int:
        """The order's open move of the product (component or finished), added to the order when it has none.
        A move without lines books nothing, so a lost answer here only means one more search next time."""
        found = self._first(MOVE, [[link, "=", production_id], ["product_id", "=", product_id], ["state", "not in", ["done", "cancel"]]])
        if found is not None:
            return found
        created = self._call(MOVE, "create", params={"vals_list": [{"name": name, link: production_id, "product_id": product_id}]})
        return int(created[0] if isinstance(created, list) else created)

    def _lot(self, name: str, product_id: int, *, item: str, create: bool) -> int:
        """The lot by name: a component's must exist (the ERP staged it); a produced one is created."""
        found = self._lot_find(name, product_id)
        if found is not None:
            return found
        if not create:
            raise _CallFailed(PostResult(Outcome.REJECTED, error=f"Odoo has no lot {name} of product {item}."))
        try:
            created = self._call(LOT, "create", params={"vals_list": [{"name": name, "product_id": product_id}]})
        except _CallFailed as failure:
            # Unique per product: an earlier attempt (or a person) created it meanwhile.
            found = self._lot_find(name, product_id) if failure.result.outcome == Outcome.REJECTED else None
            if found is None:
                raise
            return found
        return int(created[0] if isinstance(created, list) else created)

    def _lot_find(self, name: str, product_id: int) -> int | None:
        return self._first(LOT, [["name", "=", name], ["product_id", "=", product_id]])

    # -- transport -----------------------------------------------------------------------

    def _call(
        self,
        model: str,
        method: str,
        *,
        ids: list[int] | None = None,
        params: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
        read: bool = False,
    ) -> Any:
        """One Odoo call (one transaction there); raises ``_CallFailed`` with the classified outcome."""
        try:
            if self.protocol == "xmlrpc":
                return self._xmlrpc(model, method, ids, params or {}, context)
            return self._json2(model, method, ids, params or {}, context)
        except _CallFailed as failure:
            if read:
                raise _CallFailed(as_retryable(failure.result), failure.name) from None
            raise

    def _json2(
        self, model: str, method: str, ids: list[int] | None, params: dict[str, Any], context: dict[str, Any] | None
    ) -> Any:
        body: dict[str, Any] = dict(params)
        if ids is not None:
            body["ids"] = ids
        if context:
            body["context"] = context
        try:
            response = self.session.post(
                f"{self.base_url}/json/2/{model}/{method}", json=body, timeout=(self.timeout, self.timeout)
            )
        except requests.RequestException as error:
            raise _CallFailed(classify_exception(error)) from None
        if response.status_code == 200:
            try:
                return response.json()
            except ValueError:
                raise _CallFailed(
                    PostResult(
                        Outcome.UNKNOWN, error=f"Odoo answered something unreadable: {response.text[:200]}",
                        failure_kind=FailureKind.REFUSED,
                    )
                ) from None
        name, message = _json2_error(response)
        error = f"Odoo HTTP {response.status_code}: {name + ': ' if name else ''}{message}"
        result = classify_status(response, error)
        if any(marker in f"{name} {message}" for marker in TRANSIENT_ERRORS):
            result = PostResult(Outcome.RETRYABLE, error=error[:2000], http_status=response.status_code)
        raise _CallFailed(result, name)

    def _xmlrpc(
        self, model: str, method: str, ids: list[int] | None, params: dict[str, Any], context: dict[str, Any] | None
    ) -> Any:
        uid = self._authenticate()
        arguments = [ids] if ids is not None else []
        keywords = dict(params)
        if context:
            keywords["context"] = context
        return self._xmlrpc_call(
            "object", "execute_kw", self.database, uid, self.api_key, model, method, arguments, keywords
        )

    def _authenticate(self) -> int:
        with self._uid_lock:
            if self._uid is not None:
                return self._uid
            uid = self._xmlrpc_call("common", "authenticate", self.database, self.config.username, self.api_key, {})
            if not uid:
                raise _CallFailed(
                    PostResult(
                        Outcome.REJECTED,
                        error=f"Odoo refused the login {self.config.username!r} on database {self.database!r}.",
                        http_status=401,
                    )
                )
            self._uid = int(uid)
            return self._uid

    def _xmlrpc_call(self, service: str, method: str, *arguments: Any) -> Any:
        transport_class = _SafeTimeoutTransport if self.base_url.startswith("https") else _TimeoutTransport
        proxy = xmlrpc.client.ServerProxy(
            f"{self.base_url}/xmlrpc/2/{service}", transport=transport_class(self.timeout), allow_none=True
        )
        try:
            return getattr(proxy, method)(*arguments)
        except xmlrpc.client.Fault as fault:
            message = str(fault.faultString)
            error = f"Odoo fault {fault.faultCode}: {message.strip().splitlines()[-1] if message.strip() else message}"
            if fault.faultCode == 1 and any(marker in message for marker in TRANSIENT_ERRORS):
                raise _CallFailed(PostResult(Outcome.RETRYABLE, error=error[:2000])) from None
            if fault.faultCode == 3:
                with self._uid_lock:
                    self._uid = None
            name = "odoo.exceptions.MissingError" if "does not exist or has been deleted" in message else ""
            raise _CallFailed(PostResult(Outcome.REJECTED, error=error[:2000]), name) from None
        except xmlrpc.client.ProtocolError as error:
            outcome = Outcome.RETRYABLE if error.errcode in RETRYABLE_STATUSES or error.errcode >= 500 else Outcome.REJECTED
            raise _CallFailed(
                PostResult(outcome, error=f"Odoo HTTP {error.errcode}: {error.errmsg}", http_status=error.errcode)
            ) from None
        except _NotSent as error:
            raise _CallFailed(PostResult(Outcome.RETRYABLE, error=f"connection failed: {error}", failure_kind=error.kind)) from None
        except (TimeoutError, http.client.HTTPException, ConnectionError, OSError) as error:
            # Sent, and no (complete) answer: the call may have been committed.
            raise _CallFailed(PostResult(Outcome.UNKNOWN, error=f"no answer: {type(error).__name__}: {error}")) from None
        except xmlrpc.client.ResponseError as error:
            raise _CallFailed(PostResult(Outcome.UNKNOWN, error=f"unreadable XML-RPC answer: {error}", failure_kind=FailureKind.REFUSED)) from None
        finally:
            proxy("close")()


# -- XML-RPC transport ----------------------------------------------------------------------


class _NotSent(Exception):
    """The connection could not be opened, so nothing was sent: ``kind`` says whether in time or at all."""

    def __init__(self, message: str, kind: FailureKind) -> None:
        super().__init__(message)
        self.kind = kind


class _OneShot:
    """Mixin for the XML-RPC transports: a timeout, connecting before anything is sent, no repeats.

    The standard transport repeats a request when the connection drops; after a drop the
    call may have been committed, so repeating it is the dispatcher's decision, not ours.
    """

    timeout: float

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        connection = super().make_connection(host)  # type: ignore[misc]
        connection.timeout = self.timeout
        if connection.sock is None:
            try:
                connection.connect()
            except OSError as error:
                kind = FailureKind.TIMEOUT if isinstance(error, TimeoutError) else FailureKind.UNREACHABLE
                raise _NotSent(f"{type(error).__name__}: {error}", kind) from error
        return connection

    def request(self, host: Any, handler: str, request_body: bytes, verbose: bool = False) -> Any:
        return self.single_request(host, handler, request_body, verbose)  # type: ignore[attr-defined]


class _TimeoutTransport(_OneShot, xmlrpc.client.Transport):
    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout


class _SafeTimeoutTransport(_OneShot, xmlrpc.client.SafeTransport):
    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout


# -- helpers ----------------------------------------------------------------------------------


def _goods_booked(lines: list[dict[str, Any]], outcome: Outcome = Outcome.ACCEPTED) -> PostResult:
    ids = sorted(int(line["id"]) for line in lines)
    moves = sorted({move for move in (_id(line.get("move_id")) for line in lines) if move is not None})
    return PostResult(
        outcome,
        erp_ref={"model": MOVE_LINE, "ids": ids, "move_ids": moves},
        erp_document=f"{MOVE_LINE}/{','.join(map(str, ids))}",
    )


def _goods_unlinked(ids: list[Any], outcome: Outcome = Outcome.ACCEPTED) -> PostResult:
    ids = [int(line_id) for line_id in ids]
    if not ids:
        return PostResult(outcome, erp_ref={"model": MOVE_LINE, "unlinked": []})
    return PostResult(
        outcome,
        erp_ref={"model": MOVE_LINE, "unlinked": ids},
        erp_document=f"{MOVE_LINE}/{','.join(map(str, ids))} (deleted)",
    )


def _json2_error(response: requests.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", " ".join(response.text.split())[:500] or response.reason or ""
    if not isinstance(body, dict):
        return "", str(body)[:500]
    return str(body.get("name") or ""), str(body.get("message") or body)[:1500]


def _id(value: Any) -> int | None:
    """A many2one as Odoo answers it (``[id, "name"]`` or ``false``) → the id."""
    if isinstance(value, (list, tuple)) and value:
        return int(value[0])
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _booked(line_id: int, workorder_id: int | None, outcome: Outcome = Outcome.ACCEPTED) -> PostResult:
    return PostResult(
        outcome,
        erp_ref={"model": PRODUCTIVITY, "id": int(line_id), "workorder_id": workorder_id},
        erp_document=f"{PRODUCTIVITY}/{line_id}",
    )


def _unlinked(line_id: Any, outcome: Outcome = Outcome.ACCEPTED) -> PostResult:
    if not line_id:
        return PostResult(outcome, erp_ref={"model": PRODUCTIVITY, "unlinked": None})
    return PostResult(
        outcome,
        erp_ref={"model": PRODUCTIVITY, "unlinked": int(line_id)},
        erp_document=f"{PRODUCTIVITY}/{line_id} (deleted)",
    )


def _output_follows(payload: dict[str, Any]) -> bool:
    """Whether the report's output goes to Odoo after it, as a goods receipt of its own."""
    return any(str(movement.get("movement_type")) == "101" for movement in payload.get("goods_movements") or [])


def _original_key(posting: Posting) -> str | None:
    return posting.reverses_key or (posting.payload.get("reverses") or {}).get("idempotency_key")


def _utc(iso: str | None) -> dt.datetime:
    """Odoo keeps date-times as naive UTC."""
    moment = dt.datetime.fromisoformat(iso) if iso else dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def _description(posting: Posting) -> str:
    payload = posting.payload
    parts = [f"MES confirmation {payload.get('confirmation_id') or posting.idempotency_key}"]
    if Decimal(str(payload.get("rework_qty") or 0)):
        parts.append(f"rework {payload['rework_qty']}")
    for label, name in (("reason", "reason_code"), ("operator", "operator_badge"), ("station", "station")):
        if payload.get(name):
            parts.append(f"{label} {payload[name]}")
    return ", ".join(parts)


def _version(value: Any) -> int:
    """The configured major version; an unreadable one (``validate_options`` reports it) counts as 19."""
    try:
        return int(value if value not in (None, "") else 19)
    except (TypeError, ValueError):
        return 19


def _operation_number(value: Any) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return 0



def _per_unit(total: Any, quantity: Any) -> Any:
    """Minutes for the whole quantity → minutes per unit (two places); what cannot be read as it came."""
    try:
        return (Decimal(str(total or 0)) / Decimal(str(quantity))).quantize(Decimal("0.01"))
    except (InvalidOperation, ZeroDivisionError):
        return total
