"""SAP S/4HANA: production order confirmations over OData V2 ``API_PROD_ORDER_CONFIRMATION_2_SRV``.

``ConnectionConfig.base_url`` is the service root, e.g.
``https://s4.example.com/sap/opu/odata/sap/API_PROD_ORDER_CONFIRMATION_2_SRV``; ``username``
and ``password`` are the communication user's Basic credentials.

- One ``requests.Session`` per connector instance, so per connection per worker process, as
  SAP advises: it holds the cookies and the CSRF token. The token is fetched with a GET that
  carries ``X-CSRF-Token: Fetch`` and kept until a write answers 403 with
  ``X-CSRF-Token: Required``; then it is fetched again (once for all threads, under a lock)
  and the write is repeated once. SAP checks the token before it processes anything, so
  repeating that write cannot book twice.
- A confirmation is ``POST ProdnOrdConf2`` with our idempotency key in
  ``ExternalSystemConfirmation``; SAP's ``ConfirmationGroup``/``ConfirmationCount`` become
  ``erp_ref`` and ``"<group>/<count>"`` the ERP document. SAP documents no uniqueness for
  that key, so a resend after an ambiguous failure would book twice: the dispatcher calls
  ``find`` (``$filter=ExternalSystemConfirmation eq guid'…'``) before any resend. A system
  that does reject a repeated key (a 400 on create) is recognised by looking the key up.
- A reversal cancels the original with ``CancelProdnOrdConf`` (its group and count from
  ``Posting.reverses_ref``, or looked up by the original's key) and passes the reversal's own
  key as ``ExternalSystemConfirmation``, so the cancellation record can be found by it.
- Goods movements (see ``Posting``): a confirmation whose payload lists ``goods_movements``
  deep-inserts them as ``to_ProdnOrdConfMatlDocItm`` (261 with ``Batch`` = the lot; 101 with
  ``Batch`` = the output lot, ``OrderItem`` "0001", ``GoodsMovementRefDocType`` "F"), leaving
  ``APIConfHasNoGoodsMovements`` unset. The separate goods messages of such a report
  (``confirmation_id`` set) are then booked already: acknowledged without a call, naming the
  report's confirmation. A scanned issue (no ``confirmation_id``) goes as a confirmation of its own
  of that operation with zero quantities carrying its 261 items, under the issue's key (found by
  it like any confirmation). Reversals cancel the confirmation as for reports (SAP reverses its
  goods movements with it); the goods reversals of a report need no call, its cancellation does it.
  ``goods_totals`` reads the material document items of the order's confirmations that stand.
- Statuses: 2xx accepted; 408/423/425/429/5xx retryable; 401, 403 (not CSRF), 400 and other
  4xx rejected with SAP's own message text.

Options (all optional):

``activity_slots`` ({"machine": 2, "labor": 3})
    which of ``OpConfirmedWorkQuantity1..6`` carries machine and labour time (SAP's standard
    value key SAP1: 1 setup, 2 machine, 3 labour). A kind left out is not sent.
``activity_unit`` ("H")
    unit of those quantities (``OpWorkQuantityUnitN``); time is sent in hours, 3 decimals.
``plant`` (""), ``storage_location`` ("")
    sent as ``Plant`` (on the confirmation and its material items) and ``StorageLocation`` (on
    the material items) when set.
``unit_map`` ({}), ``reason_code_map`` ({})
    MES code → SAP code for ``ConfirmationUnit`` and ``VarianceReasonCode``.
``send_work_center`` (false), ``send_personnel`` (false)
    send the work-center code as ``WorkCenter`` and the operator badge as ``Personnel``.
``time_zone`` (settings.TIME_ZONE)
    the plant's zone, which decides the ``PostingDate`` of a confirmation.
``batch_size`` (20)
    how many confirmations of different orders go to SAP in one OData ``$batch`` request,
    each in a changeset of its own (so each is committed or refused on its own, and one
    order's refusal holds back no other); 1 sends each confirmation on its own. A reversal
    is always sent on its own.
``batch_offered`` (true)
    false when the system answers ``POST $batch`` with 404, 405 or 501 (a gateway without OData
    batch): confirmations then go one by one. The worker sets it the first time it meets such an
    answer (and a single post then gets a real answer); set it back to true to try ``$batch`` again.
``csrf`` (true), ``headers`` ({})
    ``csrf: false`` skips the token fetch for a gateway that needs none (SAP API Management
    with an ``APIKey`` header in ``headers``); a 403 asking for a token still fetches one.
"""

from __future__ import annotations

import datetime as dt
import json as json_module
import re
import threading
import time
import uuid
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import quote

import requests
from requests.structures import CaseInsensitiveDict

from erp_sync.connectors.base import (
    GOODS_KINDS,
    ISSUE_TYPES,
    RECEIPT_TYPES,
    ConnectionConfig,
    Connector,
    ErpTotals,
    GoodsTotals,
    Health,
    Outcome,
    Posting,
    PostResult,
    PulledOrder,
    PulledOrders,
    basic_auth,
    classify_exception,
    classify_status,
    http_session,
    option_problems,
    plant_zone,
)

DEFAULT_ACTIVITY_SLOTS = {"machine": 2, "labor": 3}
ACTIVITY_SOURCES = {"labor": "labor_minutes", "machine": "machine_minutes"}
DEFAULT_ACTIVITY_UNIT = "H"
DEFAULT_BATCH_SIZE = 20
MAX_BATCH_SIZE = 100
#: How a system without OData batch answers ``POST $batch``: about the call, not about the confirmations in it.
BATCH_NOT_OFFERED = frozenset({404, 405, 501})
ORDER_SERVICE = "API_PRODUCTION_ORDER_2_SRV"
#: Minutes in one unit of SAP's planned durations (``OpPlannedSetupDurnUnit``…); other units are passed on unread.
DURATION_MINUTES = {"MIN": Decimal(1), "H": Decimal(60), "HR": Decimal(60), "HUR": Decimal(60), "S": Decimal(1) / 60, "SEC": Decimal(1) / 60}
SELECTED = (
    "ConfirmationGroup,ConfirmationCount,OrderID,OrderOperation,ExternalSystemConfirmation,"
    "ConfirmationYieldQuantity,ConfirmationScrapQuantity,ConfirmationReworkQuantity,IsReversal,IsReversed"
)


class SapConnector(Connector):
    kind: ClassVar[str] = "sap"
    #: Quality records stay in the MES: SAP QM keeps inspection results against inspection lots of its
    #: own (created by SAP for the order), which an MES cannot post to without QM's inspection-lot
    #: interface; what SAP must know of quality, the scrap and rework, reaches it through the
    #: confirmation the disposition booked (``ConfirmationScrapQuantity`` with the defect code as
    #: ``VarianceReasonCode``).
    not_booked: ClassVar[Mapping[str, str]] = {
        "inspection_result": "SAP QM records results against its own inspection lots; the MES keeps the result as the quality record.",
        "nonconformance_disposition": (
            "A scrap or rework disposition reached SAP as the confirmation it booked (scrap quantity with the defect code as "
            "variance reason); the decision itself is kept in the MES (no QM notification is posted)."
        ),
    }
    batch_call: ClassVar[str] = "OData $batch"
    pulls_orders: ClassVar[bool] = True

    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__(config)
        self.service_url = config.base_url.rstrip("/")
        self.options = config.options or {}
        self.timeout = (config.timeout_seconds, config.timeout_seconds)
        self.session = http_session(accept="application/json", headers=self.options.get("headers"))
        self.session.auth = basic_auth(config.username, config.password)
        self._token: str | None = None
        self._token_lock = threading.Lock()
        self.time_zone = plant_zone(self.options.get("time_zone"))
        self.order_service_url = (self.options.get("order_service_url") or _sibling(self.service_url, ORDER_SERVICE)).rstrip("/")
        batch_size = self.options.get("batch_size", DEFAULT_BATCH_SIZE)
        self.batch_size = batch_size if isinstance(batch_size, int) and 1 <= batch_size <= MAX_BATCH_SIZE else DEFAULT_BATCH_SIZE
        if self.options.get("batch_offered") is False:
            self.batch_offered, self.batch_size = False, 1

    # -- the interface -------------------------------------------------------------------

    def post(self, posting: Posting) -> PostResult:
        route = _route(posting)
        if route == "booked":
            return _booked_with_confirmation(posting)
        if route == "cancel":
            return self._cancel(posting)
        try:
            body = self._body(posting)
        except (KeyError, ValueError, InvalidOperation) as error:
            return PostResult(Outcome.REJECTED, error=f"The message cannot be sent to SAP: {error}")
        response = self._write("ProdnOrdConf2", json=body)
        if isinstance(response, PostResult):
            return response
        if response.status_code in (200, 201):
            return _accepted(_entity(response))
        if response.status_code == 400:
            # A system that enforces our key (a BAdI, or the simulator's dedupe) refuses a
            # repeat with 400: if the key is booked already, this is a duplicate, not an error.
            found = self.find(posting)
            if found is not None and found.outcome == Outcome.ACCEPTED:
                return PostResult(Outcome.DUPLICATE, erp_ref=found.erp_ref, erp_document=found.erp_document)
        return _failure(response)

    def post_many(self, postings: list[Posting]) -> list[PostResult]:
        """Confirmations in one ``$batch``, each in its own changeset; reversals one by one.

        Where the system offers no ``$batch`` (404, 405, 501), the confirmations are posted one
        by one instead, and once a single post is answered ``batch_offered`` turns False.
        """
        results: list[PostResult | None] = [None] * len(postings)
        batched: list[tuple[int, Posting, dict[str, Any]]] = []
        silent: PostResult | None = None  # SAP did not answer a call before: try no more of this batch
        for index, posting in enumerate(postings):
            if silent is None and _route(posting) == "create" and self.batch_size > 1:
                try:
                    batched.append((index, posting, self._body(posting)))
                except (KeyError, ValueError, InvalidOperation) as error:
                    results[index] = PostResult(Outcome.REJECTED, error=f"The message cannot be sent to SAP: {error}")
                continue
            results[index], silent = self._post_alone(posting, silent)
        tried = silent is None and len(batched) > 1
        answers = self._batch([body for _i, _p, body in batched]) if tried else None
        if answers is None:  # one alone, SAP silent before, or no $batch here: one by one
            for index, posting, _body in batched:
                results[index], silent = self._post_alone(posting, silent)
            if tried:
                self._learn_whether_batch_is_offered([results[index] for index, _p, _b in batched])
        else:
            for (index, posting, _body), answer in zip(batched, answers, strict=True):
                if isinstance(answer, PostResult):
                    results[index] = answer
                elif answer.status_code in (200, 201):
                    results[index] = _accepted(_entity(answer))
                elif answer.status_code == 400:
                    found = self.find(posting)  # a repeated key refused, as in ``post``
                    if found is not None and found.outcome == Outcome.ACCEPTED:
                        results[index] = PostResult(Outcome.DUPLICATE, erp_ref=found.erp_ref, erp_document=found.erp_document)
                    else:
                        results[index] = _failure(answer)
                else:
                    results[index] = _failure(answer)
        return [result for result in results if result is not None]

    def _post_alone(self, posting: Posting, silent: PostResult | None) -> tuple[PostResult, PostResult | None]:
        """Post one posting, unless SAP left a call unanswered before; its result, and whether SAP is silent now."""
        if silent is not None:
            return _not_tried(silent), silent
        result = self.post(posting)
        unanswered = result.http_status is None and result.outcome in (Outcome.RETRYABLE, Outcome.UNKNOWN)
        return result, result if unanswered else None

    def _batch(self, bodies: list[dict[str, Any]]) -> list[_PartResponse | PostResult] | None:
        """POST ``$batch`` with one changeset per confirmation; one answer per changeset, in order.

        A failure of the whole request is every confirmation's answer; an answer that cannot
        be read, or one that does not answer each changeset, counts as no answer (the ERP may
        have booked them: the dispatcher looks each up by our key before resending). None
        when SAP answers that it has no ``$batch`` at all (nothing was booked).
        """
        boundary = f"batch_{uuid.uuid4().hex}"
        payload = _batch_body(boundary, bodies)
        response = self._write("$batch", data=payload, content_type=f"multipart/mixed; boundary={boundary}")
        if isinstance(response, PostResult):
            return [response] * len(bodies)
        if response.status_code in BATCH_NOT_OFFERED:
            return None
        if response.status_code != 202:
            return [_failure(response)] * len(bodies)
        try:
            answers = _batch_answers(response.headers.get("Content-Type", ""), response.content)
        except ValueError as error:
            answers = []
            reason = str(error)
        else:
            reason = f"{len(answers)} answers to {len(bodies)} changesets"
        if len(answers) != len(bodies):
            unknown = PostResult(Outcome.UNKNOWN, error=f"SAP's $batch answer could not be matched to the postings: {reason}")
            return [unknown] * len(bodies)
        return answers

    def _learn_whether_batch_is_offered(self, results: list[PostResult]) -> None:
        """After ``$batch`` was answered as not there: a single post that SAP answered shows that the
        service is there and only its ``$batch`` is not (a wrong URL would refuse both alike)."""
        answered = [
            result for result in results
            if result.outcome in (Outcome.ACCEPTED, Outcome.DUPLICATE)
            or (result.http_status is not None and result.http_status not in BATCH_NOT_OFFERED)
        ]
        if answered:
            self.batch_offered, self.batch_size = False, 1

    def find(self, posting: Posting) -> PostResult | None:
        route = _route(posting)
        if route == "booked":
            return _booked_with_confirmation(posting)
        if route == "cancel":
            records = self._query(
                f"ExternalSystemConfirmation eq guid'{posting.idempotency_key}' and IsReversal eq true"
            )
        else:
            records = self._query(f"ExternalSystemConfirmation eq guid'{posting.idempotency_key}'")
        if isinstance(records, PostResult):
            return records
        booked = [record for record in records if bool(record.get("IsReversal")) == (route == "cancel")]
        if not booked:
            return None
        return _accepted(booked[0])

    def totals(self, work_order: str) -> list[ErpTotals] | PostResult:
        records = self._query(f"OrderID eq '{_quoted(work_order)}'")
        if isinstance(records, PostResult):
            return records
        sums: dict[int, list[Any]] = {}
        for record in records:
            if record.get("IsReversal") or record.get("IsReversed"):
                continue
            try:
                operation = int(record.get("OrderOperation") or 0)
            except ValueError:
                continue
            row = sums.setdefault(operation, [Decimal(0), Decimal(0), Decimal(0), []])
            row[0] += Decimal(str(record.get("ConfirmationYieldQuantity") or 0))
            row[1] += Decimal(str(record.get("ConfirmationScrapQuantity") or 0))
            row[2] += Decimal(str(record.get("ConfirmationReworkQuantity") or 0))
            if record.get("ExternalSystemConfirmation"):
                row[3].append(str(record["ExternalSystemConfirmation"]).lower())
        return [
            ErpTotals(
                work_order=work_order,
                operation=operation,
                good_qty=good,
                scrap_qty=scrap,
                rework_qty=rework,
                postings=tuple(keys),
            )
            for operation, (good, scrap, rework, keys) in sorted(sums.items())
        ]

    def goods_totals(self, work_order: str) -> list[GoodsTotals] | PostResult:
        """The goods movements of the order's confirmations that stand (neither cancelled nor a
        cancellation), read from each one's material document items."""
        records = self._query(f"OrderID eq '{_quoted(work_order)}'")
        if isinstance(records, PostResult):
            return records
        sums: dict[str, list[Decimal]] = {}
        for record in records:
            if record.get("IsReversal") or record.get("IsReversed"):
                continue
            items = self._material_items(str(record.get("ConfirmationGroup")), str(record.get("ConfirmationCount")))
            if isinstance(items, PostResult):
                return items
            for item in items:
                kind = str(item.get("GoodsMovementType") or "")
                quantity = Decimal(str(item.get("QuantityInEntryUnit") or 0))
                row = sums.setdefault(str(item.get("Material") or ""), [Decimal(0), Decimal(0)])
                if kind in ISSUE_TYPES:
                    row[0] += ISSUE_TYPES[kind] * quantity
                elif kind in RECEIPT_TYPES:
                    row[1] += RECEIPT_TYPES[kind] * quantity
        return [GoodsTotals(work_order, item, issued, received) for item, (issued, received) in sorted(sums.items())]

    def pull_orders(self, since: str) -> PulledOrders | PostResult:
        """``A_ProductionOrder_2`` of ``API_PRODUCTION_ORDER_2_SRV`` (option ``order_service_url``, by default
        the confirmation service's sibling): released orders with ``LastChangeDateTime ge`` the mark (a
        14-digit stamp; to the second, so the newest of the last pull is read again and found unchanged),
        of the option ``plant`` when set, with their operations and components expanded. Orders
        technically completed, closed or deleted are left out."""
        terms = [f"LastChangeDateTime ge '{_quoted(since)}'"] if since else []
        terms.append("OrderIsReleased eq true")
        if self.options.get("plant"):
            terms.append(f"ProductionPlant eq '{_quoted(self.options['plant'])}'")
        url: str | None = (
            f"{self.order_service_url}/A_ProductionOrder_2?$filter={quote(' and '.join(terms), safe=chr(39) + '()')}"
            f"&$expand=to_ProductionOrderOperation,to_ProductionOrderComponent&$format=json"
        )
        records = self._read_all(url, self.order_service_url)
        if isinstance(records, PostResult):
            return records
        mark, orders = since, []
        for record in records:
            mark = max(mark, str(record.get("LastChangeDateTime") or ""))
            if record.get("OrderIsTechnicallyCompleted") or record.get("OrderIsClosed") or record.get("OrderIsDeleted"):
                continue
            orders.append(_pulled_order(record))
        return PulledOrders(orders, mark)

    def health(self) -> Health:
        started = time.monotonic()
        try:
            response = self.session.get(
                f"{self.service_url}/ProdnOrdConf2",
                params={"$top": "1", "$select": "ConfirmationGroup"},
                headers={"X-CSRF-Token": "Fetch"},
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            return Health(False, detail=f"{type(error).__name__}: {error}")
        latency = int((time.monotonic() - started) * 1000)
        if response.status_code != 200:
            return Health(False, detail=f"HTTP {response.status_code}: {_message(response)}", latency_ms=latency)
        token = response.headers.get("X-CSRF-Token")
        if token and token.lower() != "required":
            with self._token_lock:
                self._token = token
        return Health(True, detail="OData service answered", latency_ms=latency)

    def close(self) -> None:
        self.session.close()

    @staticmethod
    def validate_options(options: dict[str, Any]) -> dict[str, str]:
        problems = option_problems(options, flags={"csrf": True, "batch_offered": True}, time_zone=True, headers=True, pulls=True)
        order_service = options.get("order_service_url", "")
        if order_service and (not isinstance(order_service, str) or not order_service.startswith(("http://", "https://"))):
            problems["order_service_url"] = "The URL of API_PRODUCTION_ORDER_2_SRV, starting with http:// or https://."
        slots = options.get("activity_slots", DEFAULT_ACTIVITY_SLOTS)
        if not isinstance(slots, dict):
            problems["activity_slots"] = 'Give an object such as {"machine": 2, "labor": 3}.'
        else:
            unknown = sorted(set(slots) - set(ACTIVITY_SOURCES))
            numbers = list(slots.values())
            if unknown:
                problems["activity_slots"] = f"Unknown activity {', '.join(unknown)}; use labor and machine."
            elif not all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 6 for n in numbers):
                problems["activity_slots"] = "Each slot is a whole number from 1 to 6."
            elif len(set(numbers)) != len(numbers):
                problems["activity_slots"] = "Labor and machine need different slots."
        unit = options.get("activity_unit", DEFAULT_ACTIVITY_UNIT)
        if not isinstance(unit, str) or not 1 <= len(unit) <= 3:
            problems["activity_unit"] = "A unit of one to three characters, e.g. H or HR."
        for name, what in (("plant", "plant"), ("storage_location", "storage location")):
            value = options.get(name, "")
            if not isinstance(value, str) or len(value) > 4:
                problems[name] = f"A {what} code of at most four characters."
        for name in ("unit_map", "reason_code_map"):
            value = options.get(name, {})
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                problems[name] = "An object mapping MES codes to SAP codes."
        batch_size = options.get("batch_size", DEFAULT_BATCH_SIZE)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= MAX_BATCH_SIZE:
            problems["batch_size"] = f"A whole number from 1 (no $batch) to {MAX_BATCH_SIZE}."
        return problems

    # -- building the confirmation -------------------------------------------------------

    def _body(self, posting: Posting) -> dict[str, Any]:
        """What ``POST ProdnOrdConf2`` sends for a posting that makes a confirmation of its own."""
        if posting.kind in GOODS_KINDS:
            return self._goods_body(posting)
        body = self._confirmation_body(posting)
        movements = [m for m in posting.payload.get("goods_movements") or [] if str(m.get("movement_type")) in ("261", "101")]
        if movements:
            body["to_ProdnOrdConfMatlDocItm"] = [self._material_item(movement) for movement in movements]
        return body

    def _goods_body(self, posting: Posting) -> dict[str, Any]:
        """A scanned issue (no report to ride with): a confirmation of its operation with zero quantities
        that carries the goods movements, under the issue's own key."""
        payload = posting.payload
        body: dict[str, Any] = {
            "OrderID": str(payload.get("work_order") or posting.work_order),
            "OrderOperation": f"{int(payload['operation']):04d}",
            "Sequence": "0",
            "ConfirmationYieldQuantity": _quantity(0),
            "ConfirmationScrapQuantity": _quantity(0),
            "ConfirmationReworkQuantity": _quantity(0),
            "FinalConfirmationType": "",
            "IsFinalConfirmation": False,
            "ExternalSystemConfirmation": posting.idempotency_key,
            "EnteredByExternalUser": "MES",
            "ConfirmationText": f"MES goods {posting.idempotency_key[:8]} {payload.get('station') or ''}".strip()[:40],
            "to_ProdnOrdConfMatlDocItm": [self._material_item(movement) for movement in payload["movements"]],
        }
        posted_at = payload.get("posted_at")
        if posted_at:
            body["PostingDate"] = _odata_date(dt.datetime.fromisoformat(posted_at).astimezone(self.time_zone).date())
        if self.options.get("plant"):
            body["Plant"] = self.options["plant"]
        if self.options.get("send_personnel") and payload.get("operator_badge"):
            body["Personnel"] = str(payload["operator_badge"])
        return body

    def _material_item(self, movement: dict[str, Any]) -> dict[str, Any]:
        """One goods movement as a ``to_ProdnOrdConfMatlDocItm`` item: 261 (issue, batch = the lot) or
        101 (receipt of the order's product, batch = the output lot)."""
        kind = str(movement["movement_type"])
        unit = str(movement.get("unit") or "")
        item: dict[str, Any] = {
            "Material": str(movement["item"]),
            "GoodsMovementType": kind,
            "QuantityInEntryUnit": _quantity(movement["quantity"]),
            "EntryUnit": self.options.get("unit_map", {}).get(unit, unit),
        }
        if self.options.get("plant"):
            item["Plant"] = self.options["plant"]
        if self.options.get("storage_location"):
            item["StorageLocation"] = self.options["storage_location"]
        if movement.get("lot"):
            item["Batch"] = str(movement["lot"])
        if kind in RECEIPT_TYPES:
            item["OrderItem"] = "0001"
            item["GoodsMovementRefDocType"] = "F"
        return item

    def _material_items(self, group: str, count: str) -> list[dict[str, Any]] | PostResult:
        body = self._read_one(group, count, "/to_ProdnOrdConfMatlDocItm")
        return body if isinstance(body, PostResult) else list(body.get("results") or [])

    def _confirmation_body(self, posting: Posting) -> dict[str, Any]:
        payload = posting.payload
        final = bool(payload.get("final"))
        unit = str(payload.get("unit") or "")
        reason = payload.get("reason_code") or ""
        body: dict[str, Any] = {
            "OrderID": str(payload.get("work_order") or posting.work_order),
            "OrderOperation": f"{int(payload['operation']):04d}",
            "Sequence": "0",
            "ConfirmationYieldQuantity": _quantity(payload.get("good_qty")),
            "ConfirmationScrapQuantity": _quantity(payload.get("scrap_qty")),
            "ConfirmationReworkQuantity": _quantity(payload.get("rework_qty")),
            "ConfirmationUnit": self.options.get("unit_map", {}).get(unit, unit),
            "VarianceReasonCode": self.options.get("reason_code_map", {}).get(reason, reason),
            "FinalConfirmationType": "X" if final else "",
            "IsFinalConfirmation": final,
            "ExternalSystemConfirmation": posting.idempotency_key,
            "EnteredByExternalUser": "MES",
            "ConfirmationText": f"MES {posting.idempotency_key[:8]} {payload.get('station') or ''}".strip()[:40],
        }
        confirmed_at = payload.get("confirmed_at")
        if confirmed_at:
            body["PostingDate"] = _odata_date(dt.datetime.fromisoformat(confirmed_at).astimezone(self.time_zone).date())
        if self.options.get("plant"):
            body["Plant"] = self.options["plant"]
        if self.options.get("send_work_center") and payload.get("work_center"):
            body["WorkCenter"] = str(payload["work_center"])
        if self.options.get("send_personnel") and payload.get("operator_badge"):
            body["Personnel"] = str(payload["operator_badge"])
        unit_of_time = self.options.get("activity_unit", DEFAULT_ACTIVITY_UNIT)
        for activity, slot in self.options.get("activity_slots", DEFAULT_ACTIVITY_SLOTS).items():
            minutes = payload.get(ACTIVITY_SOURCES[activity])
            if minutes in (None, ""):
                continue
            hours = (Decimal(str(minutes)) / 60).quantize(Decimal("0.001"))
            body[f"OpConfirmedWorkQuantity{slot}"] = format(hours, "f")
            body[f"OpWorkQuantityUnit{slot}"] = unit_of_time
        return body

    # -- reversal ------------------------------------------------------------------------

    def _cancel(self, posting: Posting) -> PostResult:
        original = _group_and_count(posting.reverses_ref)
        if original is None:
            original_key = posting.reverses_key or (posting.payload.get("reverses") or {}).get("idempotency_key")
            if not original_key:
                return PostResult(Outcome.REJECTED, error="The reversal does not say which confirmation it reverses.")
            records = self._query(f"ExternalSystemConfirmation eq guid'{original_key}' and IsReversal eq false")
            if isinstance(records, PostResult):
                return records
            if not records:
                # The original never reached SAP (discarded in the MES): there is nothing
                # to cancel, and SAP already holds what the MES holds after the reversal.
                return PostResult(Outcome.ACCEPTED, erp_ref={"nothing_to_cancel": True})
            original = (str(records[0]["ConfirmationGroup"]), str(records[0]["ConfirmationCount"]))
        group, count = original
        path = (
            f"CancelProdnOrdConf?ConfirmationGroup='{quote(_quoted(group))}'"
            f"&ConfirmationCount='{quote(_quoted(count))}'"
            f"&ExternalSystemConfirmation=guid'{posting.idempotency_key}'"
        )
        response = self._write(path)
        if isinstance(response, PostResult):
            return response
        if response.status_code in (200, 201):
            return _accepted(_entity(response))
        if response.status_code == 400:
            # Cancelled already (by an earlier attempt whose answer was lost, or in SAP by
            # hand): the reversal's effect is there, so it must not fail.
            found = self.find(posting)
            if found is not None and found.outcome == Outcome.ACCEPTED:
                return PostResult(Outcome.DUPLICATE, erp_ref=found.erp_ref, erp_document=found.erp_document)
            state = self._read_one(group, count)
            if isinstance(state, dict) and state.get("IsReversed"):
                return PostResult(
                    Outcome.DUPLICATE,
                    erp_ref={"ConfirmationGroup": group, "ConfirmationCount": count, "IsReversed": True},
                    erp_document=f"{group}/{count}",
                )
        return _failure(response)

    # -- HTTP ----------------------------------------------------------------------------

    def _fetch_token(self, stale: str | None) -> str | PostResult:
        """The CSRF token to write with; fetches a new one unless another thread already replaced ``stale``."""
        with self._token_lock:
            if self._token is not None and self._token != stale:
                return self._token
            try:
                response = self.session.get(
                    f"{self.service_url}/ProdnOrdConf2",
                    params={"$top": "1", "$select": "ConfirmationGroup"},
                    headers={"X-CSRF-Token": "Fetch"},
                    timeout=self.timeout,
                )
            except requests.RequestException as error:
                result = classify_exception(error)
                # Nothing was written yet: a lost answer to a GET is simply retryable.
                return PostResult(Outcome.RETRYABLE, error=f"CSRF token fetch failed: {result.error}", failure_kind=result.failure_kind)
            token = response.headers.get("X-CSRF-Token")
            if response.status_code != 200 or not token or token.lower() == "required":
                failure = _failure(response)
                return PostResult(
                    failure.outcome,
                    error=f"CSRF token fetch failed: {failure.error}",
                    http_status=failure.http_status,
                    retry_after=failure.retry_after,
                    failure_kind=failure.failure_kind,
                )
            self._token = token
            return token

    def _write(
        self, path: str, *, json: Any = None, data: bytes | None = None, content_type: str = "application/json"
    ) -> requests.Response | PostResult:
        """A modifying request with a valid CSRF token, fetched again once if SAP asks for it."""
        token = self._fetch_token(None) if self.options.get("csrf", True) else ""
        for attempt in range(2):
            if isinstance(token, PostResult):
                return token
            try:
                response = self.session.post(
                    f"{self.service_url}/{path}",
                    json=json,
                    data=data,
                    headers={"Content-Type": content_type, **({"X-CSRF-Token": token} if token else {})},
                    timeout=self.timeout,
                )
            except requests.RequestException as error:
                return classify_exception(error)
            if not _csrf_required(response):
                return response
            if attempt == 0:
                token = self._fetch_token(token or None)
        return PostResult(
            Outcome.RETRYABLE,
            error="SAP refused the CSRF token twice (403 X-CSRF-Token: Required)",
            http_status=403,
        )

    def _query(self, filter_expression: str) -> list[dict[str, Any]] | PostResult:
        """Every ``ProdnOrdConf2`` record matching the filter, following server-driven paging."""
        return self._read_all(
            f"{self.service_url}/ProdnOrdConf2?$filter={quote(filter_expression, safe=chr(39) + '()')}"
            f"&$select={SELECTED}&$format=json",
            self.service_url,
        )

    def _read_all(self, url: str | None, service_url: str) -> list[dict[str, Any]] | PostResult:
        """Every record of a collection ``url`` answers, following server-driven paging (``__next``)."""
        records: list[dict[str, Any]] = []
        while url:
            try:
                response = self.session.get(url, timeout=self.timeout)
            except requests.RequestException as error:
                failed = classify_exception(error)
                return PostResult(Outcome.RETRYABLE, error=f"look-up failed: {failed.error}", failure_kind=failed.failure_kind)
            if response.status_code != 200:
                return _failure(response)
            try:
                body = response.json()["d"]
            except (ValueError, KeyError, TypeError):
                return PostResult(Outcome.RETRYABLE, error=f"SAP answered something unreadable: {response.text[:200]}")
            if isinstance(body, list):
                records.extend(body)
                break
            records.extend(body.get("results") or [])
            following = body.get("__next")
            url = following if not following or following.startswith("http") else _absolute(service_url, following)
        return records

    def _read_one(self, group: str, count: str, navigation: str = "") -> dict[str, Any] | PostResult:
        """One confirmation by its key, or (``navigation``) what it leads to, e.g. its material document items."""
        try:
            response = self.session.get(
                f"{self.service_url}/ProdnOrdConf2(ConfirmationGroup='{quote(_quoted(group))}',"
                f"ConfirmationCount='{quote(_quoted(count))}'){navigation}",
                params={"$format": "json"},
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            failed = classify_exception(error)
            return PostResult(Outcome.RETRYABLE, error=failed.error, failure_kind=failed.failure_kind)
        if response.status_code != 200:
            return _failure(response)
        return _entity(response)


# -- OData $batch ------------------------------------------------------------------------------


def _not_tried(silent: PostResult) -> PostResult:
    """Certainly not sent, since SAP left an earlier call of the same batch unanswered: retry later."""
    return PostResult(
        Outcome.RETRYABLE, error=f"Not sent: SAP did not answer a call just before ({silent.error})"[:2000], failure_kind=silent.failure_kind
    )


class _PartResponse:
    """One answer inside a ``$batch`` response, with what ``_failure`` and ``_entity`` read of a response."""

    def __init__(self, status_code: int, reason: str, headers: dict[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.reason = reason
        self.headers = CaseInsensitiveDict(headers)
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json_module.loads(self.content)


def _batch_body(boundary: str, bodies: list[dict[str, Any]]) -> bytes:
    """A ``$batch`` request body: one changeset per confirmation, each holding one ``POST ProdnOrdConf2``."""
    lines: list[bytes] = []
    for index, body in enumerate(bodies):
        changeset = f"changeset_{index}_{boundary[-12:]}"
        content = json_module.dumps(body, separators=(",", ":")).encode()
        lines += [
            f"--{boundary}".encode(),
            f"Content-Type: multipart/mixed; boundary={changeset}".encode(),
            b"",
            f"--{changeset}".encode(),
            b"Content-Type: application/http",
            b"Content-Transfer-Encoding: binary",
            f"Content-ID: {index + 1}".encode(),
            b"",
            b"POST ProdnOrdConf2 HTTP/1.1",
            b"Content-Type: application/json",
            b"Accept: application/json",
            f"Content-Length: {len(content)}".encode(),
            b"",
            content,
            f"--{changeset}--".encode(),
            b"",
        ]
    lines += [f"--{boundary}--".encode(), b""]
    return b"\r\n".join(lines)


def _batch_answers(content_type: str, body: bytes) -> list[_PartResponse]:
    """The answer to each changeset of a ``$batch`` response, in order.

    A changeset that succeeded answers as a ``multipart/mixed`` part holding one HTTP
    response per request; one that failed answers as a single ``application/http`` part with
    the error (SAP Gateway's behaviour). Raises ``ValueError`` on anything else.
    """
    answers = []
    for headers, content in _multipart(content_type, body):
        part_type = headers.get("content-type", "")
        if part_type.lower().startswith("multipart/mixed"):
            inner = _multipart(part_type, content)
            if not inner:
                raise ValueError("an empty changeset answer")
            answers.append(_http_answer(inner[0][1]))
        elif part_type.lower().startswith("application/http"):
            answers.append(_http_answer(content))
        else:
            raise ValueError(f"a part of type {part_type or '(none)'}")
    return answers


def _multipart(content_type: str, body: bytes) -> list[tuple[dict[str, str], bytes]]:
    """The parts of a multipart body: (headers in lower case, content)."""
    match = re.search(r'boundary="?([^";]+)"?', content_type, re.IGNORECASE)
    if not match:
        raise ValueError(f"no boundary in {content_type!r}")
    delimiter = b"--" + match.group(1).encode()
    sections = body.split(delimiter)
    if len(sections) < 2 or not sections[-1].startswith(b"--"):
        raise ValueError("the multipart body is not closed")
    parts = []
    for section in sections[1:-1]:
        section = section[2:] if section.startswith(b"\r\n") else section.lstrip(b"\n")
        head, _, content = section.partition(b"\r\n\r\n")
        headers = _headers(head)
        parts.append((headers, content[:-2] if content.endswith(b"\r\n") else content))
    return parts


def _headers(block: bytes) -> dict[str, str]:
    headers = {}
    for line in block.decode("latin-1").split("\r\n"):
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return headers


def _http_answer(content: bytes) -> _PartResponse:
    """``HTTP/1.1 201 Created`` + headers + body, as a response."""
    head, _, body = content.partition(b"\r\n\r\n")
    status_line, _, header_block = head.partition(b"\r\n")
    fields = status_line.decode("latin-1").split(" ", 2)
    if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
        raise ValueError(f"not an HTTP answer: {status_line[:80]!r}")
    return _PartResponse(int(fields[1]), fields[2] if len(fields) > 2 else "", _headers(header_block), body)


# -- helpers ----------------------------------------------------------------------------------


def _route(posting: Posting) -> str:
    """What a posting becomes in SAP: ``create`` a confirmation (a report, or a scanned issue as a
    confirmation of its own), ``cancel`` one (a reversal, or the reversal of a scanned issue), or
    nothing at all, ``booked``: goods that rode with a report (``confirmation_id``) went into SAP in
    that report's material document, and its cancellation reverses them."""
    if posting.kind in GOODS_KINDS and posting.payload.get("confirmation_id"):
        return "booked"
    if posting.kind == "reversal" or posting.kind.endswith("_reversal"):
        return "cancel"
    return "create"


def _booked_with_confirmation(posting: Posting) -> PostResult:
    """Goods SAP booked with their confirmation: acknowledged without a call, naming that confirmation."""
    confirmation = str(posting.payload.get("confirmation_id"))
    reference = _group_and_count(posting.confirmation_ref)
    document = f"{reference[0]}/{reference[1]}" if reference else f"confirmation {confirmation}"
    erp_ref: dict[str, Any] = {"booked_with_confirmation": confirmation}
    if reference:
        erp_ref.update({"ConfirmationGroup": reference[0], "ConfirmationCount": reference[1]})
    return PostResult(Outcome.ACCEPTED, erp_ref=erp_ref, erp_document=document)


def _csrf_required(response: requests.Response) -> bool:
    return response.status_code == 403 and response.headers.get("X-CSRF-Token", "").lower() == "required"


def _entity(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body.get("d", body) if isinstance(body, dict) else {}


def _accepted(record: dict[str, Any]) -> PostResult:
    group, count = str(record.get("ConfirmationGroup", "")), str(record.get("ConfirmationCount", ""))
    return PostResult(
        Outcome.ACCEPTED,
        erp_ref={"ConfirmationGroup": group, "ConfirmationCount": count},
        erp_document=f"{group}/{count}",
    )


def _message(response: requests.Response) -> str:
    """SAP's own text from ``{"error": {"code", "message": {"lang", "value"}}}``, else the body."""
    try:
        error = response.json()["error"]
        message = error["message"]
        text = message.get("value") if isinstance(message, dict) else str(message)
        code = error.get("code")
        return f"{text} ({code})" if code else str(text)
    except (ValueError, KeyError, TypeError, AttributeError):
        return response.text.strip()[:500] or response.reason or ""


def _failure(response: requests.Response) -> PostResult:
    return classify_status(response, f"SAP HTTP {response.status_code}: {_message(response)}")


def _group_and_count(reference: dict[str, Any] | None) -> tuple[str, str] | None:
    if not reference:
        return None
    group, count = reference.get("ConfirmationGroup"), reference.get("ConfirmationCount")
    if not group or not count:
        return None
    return str(group), str(count)


def _quantity(value: Any) -> str:
    number = Decimal(str(value if value not in (None, "") else 0))
    return format(number.quantize(Decimal("0.001")), "f")


def _odata_date(day: dt.date) -> str:
    """OData V2 ``Edm.DateTime`` of a calendar date: midnight UTC in milliseconds."""
    midnight = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return f"/Date({int(midnight.timestamp() * 1000)})/"


def _quoted(value: str) -> str:
    """An OData string literal's content: single quotes doubled."""
    return str(value).replace("'", "''")


def _absolute(service_url: str, following: str) -> str:
    if following.startswith("/"):
        scheme, _, rest = service_url.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}{following}"
    return f"{service_url}/{following}"


# -- pulled production orders ------------------------------------------------------------------


def _sibling(service_url: str, service: str) -> str:
    """Another OData service beside ``service_url`` (…/sap/opu/odata/sap/<service>)."""
    return f"{service_url.rstrip('/').rsplit('/', 1)[0]}/{service}"


def _results(record: dict[str, Any], navigation: str) -> list[dict[str, Any]]:
    value = record.get(navigation) or {}
    rows = value.get("results") if isinstance(value, dict) else value
    return [row for row in rows or [] if isinstance(row, dict)]


def _pulled_order(record: dict[str, Any]) -> PulledOrder:
    """An ``A_ProductionOrder_2`` record with its expanded operations and components, in the push API's words.
    Values are passed on as SAP wrote them where they cannot be read, for the service to refuse by name."""
    quantity = record.get("TotalQuantity")
    operations = [
        {
            "sequence": _whole(row.get("ManufacturingOrderOperation")),
            "name": str(row.get("MfgOrderOperationText") or f"Operation {row.get('ManufacturingOrderOperation')}"),
            "work_center": str(row.get("WorkCenter") or ""),
            "setup_minutes": _minutes(row.get("OpPlannedSetupDurn"), row.get("OpPlannedSetupDurnUnit")),
            "run_minutes_per_unit": _per_unit(
                _minutes(row.get("OpPlannedProcessingDurn"), row.get("OpPlannedProcessingDurnUnit")),
                row.get("OpPlannedTotalQuantity") or quantity,
            ),
        }
        for row in _results(record, "to_ProductionOrderOperation")
    ]
    components = [
        {
            "item": str(row.get("Material") or ""),
            "quantity": row.get("RequiredQuantity"),
            "operation": _whole(row.get("ManufacturingOrderOperation")) if row.get("ManufacturingOrderOperation") else None,
            "backflush": bool(row.get("MatlCompIsMarkedForBackflush")),
        }
        for row in _results(record, "to_ProductionOrderComponent")
    ]
    return PulledOrder(
        key=str(record.get("ManufacturingOrder") or ""),
        changed_at=str(record.get("LastChangeDateTime") or ""),
        work_order={
            "item": str(record.get("Material") or ""),
            "quantity": quantity,
            "due_date": _odata_day(record.get("MfgOrderPlannedEndDate") or record.get("MfgOrderScheduledEndDate")),
        },
        operations=operations or None,
        components=components if "to_ProductionOrderComponent" in record else None,
    )


def _whole(value: Any) -> Any:
    """``"0010"`` → 10; anything else as it came."""
    text = str(value or "").strip()
    return int(text) if text.isdigit() else value


def _minutes(value: Any, unit: Any) -> Any:
    factor = DURATION_MINUTES.get(str(unit or "MIN").upper())
    try:
        number = Decimal(str(value if value not in (None, "") else 0))
    except InvalidOperation:
        return value
    if factor is None:
        return f"{value} {unit}"
    return (number * factor).quantize(Decimal("0.01"))


def _per_unit(total: Any, quantity: Any) -> Any:
    """Minutes for the whole quantity → minutes per unit (two places, as routings hold them)."""
    try:
        count = Decimal(str(quantity))
    except InvalidOperation:
        return total
    if not isinstance(total, Decimal) or count <= 0:
        return total
    return (total / count).quantize(Decimal("0.01"))


def _odata_day(value: Any) -> Any:
    """``/Date(1765843200000)/`` → ``2025-12-16`` (the UTC day SAP means); anything else as it came."""
    match = re.fullmatch(r"/Date\((-?\d+)(?:[+-]\d+)?\)/", str(value or ""))
    if match is None:
        return value
    return dt.datetime.fromtimestamp(int(match.group(1)) / 1000, tz=dt.UTC).date().isoformat()
