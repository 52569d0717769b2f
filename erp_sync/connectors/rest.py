"""Any ERP with an HTTP endpoint: a webhook or REST call whose body a declarative mapping builds.

A plant reaches an ERP we have no connector for (Oracle, an in-house system) by configuring
a connection, not by writing code. The body comes from the message through the field
mapping in ``erp_sync.connectors.mapping`` (rename, constant, format, unit conversion, date
format), checked by ``validate_options`` when the connection is saved.

Every request carries ``Idempotency-Key: <our key>`` — the same key on every retry of a
message — and, with HMAC auth, ``X-Signature: sha256=<hex HMAC-SHA256 of the exact body
bytes>``. Answers: 2xx accepted; 409 duplicate (the receiver already has our key);
408/423/425/429/5xx transient; any other status permanent, with the receiver's body text in
the dead letter. Redirects are not followed (a POST must not silently become a GET).

Look-up by our key (``find``): with a ``lookup`` URL configured, the connector asks it and
reports the posting found, not found, or the look-up failed. **Without one, ``find`` answers
"not found"**, so after an ambiguous failure the dispatcher sends the message again. That
is safe only because the resend carries the same ``Idempotency-Key``: a receiver that
honours the header answers 409 (duplicate) or replays its first answer instead of booking
twice. A receiver that ignores the header needs a ``lookup`` URL, or it may book twice.

Options (``url`` is required unless ``base_url`` is set):

``url`` (base_url)
    where to send; may name message fields: ``https://erp/api/orders/{work_order}/confirmations``.
``method`` ("POST")
    POST, PUT or PATCH.
``auth`` ("none")
    ``none``; ``basic`` (username/password); ``bearer`` (token); ``hmac`` (signs the body
    with ``hmac_secret``, else the connection's token, else its password).
``hmac_header`` ("X-Signature"), ``headers`` ({})
    the signature header's name; extra headers sent on every request.
``mapping`` (the whole message)
    output field → rule, see ``mapping.py``.
``reversal`` ({})
    ``{"method", "url", "mapping"}`` for reversals, each falling back to the above. Without
    it a reversal is sent like a confirmation (``type`` "reversal", negative quantities).
``goods_issue``, ``goods_issue_reversal``, ``goods_receipt``, ``goods_receipt_reversal`` ({})
    the same for each kind of goods message (its fields: ``movements``, ``document_id``,
    ``confirmation_id``, … see ``mapping.SOURCE_FIELDS``); without one, that kind goes to
    ``url`` with ``mapping`` (or the whole message), its ``type`` naming the kind. A
    confirmation's own message carries the movements it caused as ``goods_movements``.
``inspection_result``, ``nonconformance_disposition``, ``return_to_supplier`` ({})
    the same for the quality messages: a result (``characteristic``, ``value``, ``passed``,
    ``sample_no``, the limits …), a disposition (``disposition``, ``quantity``, ``defect_code``,
    ``reason``, ``approved_by`` …) and a lot returned to its supplier; without one they go to
    ``url`` like the rest, ``type`` naming the kind (a receiver that wants none answers 2xx).
``lookup`` ({})
    ``{"url": ".../{idempotency_key}", "method": "GET", "found_status": 200,
    "found_field": ""}``: that status (and, when given, a non-empty value at that JSON path)
    means found; 404 or 410 mean not found.
``document_field`` ("")
    JSON path (dots, numeric parts index lists) of the ERP's document number in an answer.
``totals`` ({})
    ``{"url": ".../{work_order}", "items_field": "", "operation_field": "operation",
    "good_field": "good_qty", "scrap_field": "scrap_qty", "rework_field": "rework_qty",
    "keys_field": ""}`` for reconciliation; without it ``totals`` says it cannot tell.
``health_url`` ("")
    a GET that must answer 2xx; without it any answer below 500 from ``url`` counts.
``time_zone`` (settings.TIME_ZONE)
    the plant's zone for ``date_format`` rules.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import quote

import requests
from django.conf import settings

from erp_sync.connectors import mapping as field_mapping
from erp_sync.connectors.base import (
    HEADER_NAME,
    QUALITY_KINDS,
    RETRYABLE_STATUSES,
    ConnectionConfig,
    Connector,
    ErpTotals,
    Health,
    Outcome,
    Posting,
    PostResult,
    as_retryable,
    basic_auth,
    classify_exception,
    header_value_problem,
    http_session,
    option_problems,
    retry_after_seconds,
)

METHODS = ("POST", "PUT", "PATCH")
#: Message kinds that may have an endpoint of their own (option named for the kind).
ENDPOINT_KINDS = (
    "reversal", "goods_issue", "goods_issue_reversal", "goods_receipt", "goods_receipt_reversal",
    "inspection_result", "nonconformance_disposition", "return_to_supplier",
)
AUTH_MODES = ("none", "basic", "bearer", "hmac")
DEFAULT_HMAC_HEADER = "X-Signature"
NOT_FOUND_STATUSES = (404, 410)


class RestConnector(Connector):
    kind: ClassVar[str] = "rest"
    #: Every kind: a receiver maps what it wants (an endpoint per kind) and answers 2xx to the rest.
    kinds: ClassVar[frozenset[str]] = Connector.kinds | QUALITY_KINDS | {"return_to_supplier"}

    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__(config)
        self.options = config.options or {}
        self.url = self.options.get("url") or config.base_url
        self.time_zone = self.options.get("time_zone") or settings.TIME_ZONE
        self.timeout = (config.timeout_seconds, config.timeout_seconds)
        self.auth = self.options.get("auth", "none")
        self.session = http_session(accept="application/json", headers=self.options.get("headers"))
        if self.auth == "basic":
            self.session.auth = basic_auth(config.username, config.password)
        elif self.auth == "bearer":
            self.session.headers["Authorization"] = f"Bearer {config.token}"
        secret = self.options.get("hmac_secret") or config.token or config.password
        self.hmac_secret = secret.encode() if isinstance(secret, str) else b""
        self.hmac_header = self.options.get("hmac_header") or DEFAULT_HMAC_HEADER

    # -- the interface -------------------------------------------------------------------

    def post(self, posting: Posting) -> PostResult:
        reversal = (self.options.get(posting.kind) or {}) if posting.kind in ENDPOINT_KINDS else {}
        source = self._source(posting)
        mapping = reversal.get("mapping") or self.options.get("mapping")
        try:
            body = field_mapping.build(mapping, source, time_zone=self.time_zone) if mapping else source
            url = field_mapping.render(reversal.get("url") or self.url, source, quote_values=_quote)
        except (field_mapping.MappingError, ValueError, KeyError, TypeError) as error:
            return PostResult(Outcome.REJECTED, error=f"The message cannot be mapped: {error}")
        method = (reversal.get("method") or self.options.get("method") or "POST").upper()
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=_json_default).encode()
        response = self._send(method, url, posting, data)
        if isinstance(response, PostResult):
            return response
        status = response.status_code
        if 200 <= status < 300:
            return self._answered(Outcome.ACCEPTED, response)
        if status == 409:
            document = self._document(response)
            if not document and self.options.get("lookup"):
                found = self.find(posting)
                if found is not None and found.outcome == Outcome.ACCEPTED:
                    return PostResult(Outcome.DUPLICATE, erp_ref=found.erp_ref, erp_document=found.erp_document)
            return self._answered(Outcome.DUPLICATE, response)
        return _failure(response)

    def find(self, posting: Posting) -> PostResult | None:
        lookup = self.options.get("lookup") or {}
        if not lookup.get("url"):
            return None  # safe: a resend carries the same Idempotency-Key (see the module docstring)
        try:
            url = field_mapping.render(lookup["url"], self._source(posting), quote_values=_quote)
        except (ValueError, KeyError, TypeError) as error:
            return PostResult(Outcome.REJECTED, error=f"The look-up URL cannot be built: {error}")
        response = self._send((lookup.get("method") or "GET").upper(), url, posting, b"")
        if isinstance(response, PostResult):
            return as_retryable(response)
        if response.status_code in NOT_FOUND_STATUSES:
            return None
        if response.status_code == int(lookup.get("found_status", 200)):
            if lookup.get("found_field") and not field_mapping.value_at(_json(response), lookup["found_field"]):
                return None
            return self._answered(Outcome.ACCEPTED, response)
        return as_retryable(_failure(response))

    def totals(self, work_order: str) -> list[ErpTotals] | PostResult:
        spec = self.options.get("totals") or {}
        if not spec.get("url"):
            return PostResult(Outcome.REJECTED, error="This REST connection has no totals URL, so it cannot be reconciled.")
        url = field_mapping.render(spec["url"], {"work_order": work_order}, quote_values=_quote)
        try:
            response = self.session.get(url, headers=self._signed(b""), timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as error:
            return as_retryable(classify_exception(error))
        if not 200 <= response.status_code < 300:
            return _failure(response)
        items = field_mapping.value_at(_json(response), spec["items_field"]) if spec.get("items_field") else _json(response)
        if not isinstance(items, list):
            return PostResult(Outcome.RETRYABLE, error=f"The totals answer has no list at {spec.get('items_field')!r}.")
        sums: dict[int, list[Any]] = {}
        try:
            for item in items:
                operation = int(field_mapping.value_at(item, spec.get("operation_field", "operation")) or 0)
                entry = sums.setdefault(operation, [Decimal(0), Decimal(0), Decimal(0), []])
                for index, name in enumerate(("good", "scrap", "rework")):
                    value = field_mapping.value_at(item, spec.get(f"{name}_field", f"{name}_qty"))
                    entry[index] += Decimal(str(value or 0))
                if spec.get("keys_field"):
                    keys = field_mapping.value_at(item, spec["keys_field"]) or []
                    entry[3].extend(str(key) for key in (keys if isinstance(keys, list) else [keys]))
        except (TypeError, ValueError, InvalidOperation) as error:
            return PostResult(Outcome.RETRYABLE, error=f"The totals answer cannot be read: {error}")
        return [
            ErpTotals(work_order, operation, good, scrap, rework, tuple(keys))
            for operation, (good, scrap, rework, keys) in sorted(sums.items())
        ]

    def health(self) -> Health:
        health_url = self.options.get("health_url")
        url = health_url or self.url.split("{", 1)[0]
        started = time.monotonic()
        try:
            response = self.session.get(url, headers=self._signed(b""), timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as error:
            return Health(False, detail=f"{type(error).__name__}: {error}")
        latency = int((time.monotonic() - started) * 1000)
        reachable = 200 <= response.status_code < 300 if health_url else response.status_code < 500
        return Health(reachable, detail=f"HTTP {response.status_code}", latency_ms=latency)

    def close(self) -> None:
        self.session.close()

    @staticmethod
    def validate_credentials(*, username: str, password: str, token: str, options: dict[str, Any]) -> dict[str, str]:
        """A bearer token travels in a header; Basic credentials go as UTF-8 and may hold any text."""
        problem = header_value_problem(token) if options.get("auth") == "bearer" else ""
        return {"token": problem} if problem else {}

    @staticmethod
    def validate_options(options: dict[str, Any]) -> dict[str, str]:
        problems = option_problems(options, choices={"auth": (AUTH_MODES, "none")}, time_zone=True, headers=True)
        if not isinstance(options.get("url") or options.get("base_url") or "", str):
            problems["url"] = "The URL to send to."
        for name in ("url",):
            problem = _template_problem(options.get(name))
            if problem:
                problems[name] = problem
        if str(options.get("method", "POST")).upper() not in METHODS:
            problems["method"] = f"Use one of {', '.join(METHODS)}."
        hmac_header = options.get("hmac_header", DEFAULT_HMAC_HEADER)
        if not isinstance(hmac_header, str) or not HEADER_NAME.fullmatch(hmac_header):
            problems["hmac_header"] = "A header name, e.g. X-Signature."
        if "mapping" in options:
            for path, message in field_mapping.validate_mapping(options["mapping"]).items():
                problems[f"mapping.{path}" if path else "mapping"] = message
        for kind in ENDPOINT_KINDS:
            problems.update(_endpoint_problems(kind, options.get(kind, {})))
        lookup = options.get("lookup", {})
        if not isinstance(lookup, dict):
            problems["lookup"] = 'An object such as {"url": "https://erp/confirmations/{idempotency_key}"}.'
        elif lookup:
            problem = _template_problem(lookup.get("url")) if lookup.get("url") else "The look-up needs a url."
            if problem:
                problems["lookup.url"] = problem
            status = lookup.get("found_status", 200)
            if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status < 300:
                problems["lookup.found_status"] = "A 2xx status, e.g. 200."
        if not isinstance(options.get("document_field", ""), str):
            problems["document_field"] = "A JSON path such as data.id."
        totals = options.get("totals", {})
        if not isinstance(totals, dict) or (totals and not totals.get("url")):
            problems["totals"] = 'An object with a url, e.g. {"url": "https://erp/orders/{work_order}/totals"}.'
        return problems

    # -- HTTP ----------------------------------------------------------------------------

    def _source(self, posting: Posting) -> dict[str, Any]:
        return field_mapping.source_of(
            posting.payload,
            idempotency_key=posting.idempotency_key,
            sequence=posting.sequence,
            kind=posting.kind,
            reverses_ref=posting.reverses_ref,
        )

    def _signed(self, data: bytes) -> dict[str, str]:
        if self.auth != "hmac":
            return {}
        digest = hmac.new(self.hmac_secret, data, hashlib.sha256).hexdigest()
        return {self.hmac_header: f"sha256={digest}"}

    def _send(self, method: str, url: str, posting: Posting, data: bytes) -> requests.Response | PostResult:
        headers = {"Idempotency-Key": posting.idempotency_key, **self._signed(data)}
        if data:
            headers["Content-Type"] = "application/json"
        try:
            return self.session.request(
                method, url, data=data or None, headers=headers, timeout=self.timeout, allow_redirects=False
            )
        except requests.RequestException as error:
            return classify_exception(error)

    def _document(self, response: requests.Response) -> str:
        path = self.options.get("document_field")
        if not path:
            return ""
        value = field_mapping.value_at(_json(response), path)
        return "" if value is None else str(value)

    def _answered(self, outcome: Outcome, response: requests.Response) -> PostResult:
        document = self._document(response)
        return PostResult(
            outcome,
            erp_ref={"document": document, "status": response.status_code},
            erp_document=document,
            http_status=response.status_code,
        )


# -- helpers ----------------------------------------------------------------------------------


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _failure(response: requests.Response) -> PostResult:
    status = response.status_code
    text = " ".join(response.text.split())[:1500] or response.reason or ""
    if 300 <= status < 400:
        text = f"redirected to {response.headers.get('Location', '?')} (redirects are not followed)"
    retryable = status in RETRYABLE_STATUSES or status >= 500
    return PostResult(
        Outcome.RETRYABLE if retryable else Outcome.REJECTED,
        error=f"HTTP {status}: {text}"[:2000],
        http_status=status,
        retry_after=retry_after_seconds(response),
    )


def _quote(text: str) -> str:
    return quote(text, safe="")


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _template_problem(template: Any) -> str:
    if template in (None, ""):
        return ""
    if not isinstance(template, str) or not template.lower().startswith(("http://", "https://")):
        return "An http:// or https:// URL."
    try:
        field_mapping.render(template, field_mapping.source_of(field_mapping.SAMPLE_PAYLOAD), quote_values=_quote)
    except (ValueError, KeyError, TypeError, IndexError) as error:
        return f"The URL names an unknown field or is malformed: {error}"
    return ""


def _endpoint_problems(name: str, endpoint: Any) -> dict[str, str]:
    """Problems with the option of one kind's own endpoint (``reversal``, ``goods_issue``, …), by field."""
    if not isinstance(endpoint, dict):
        return {name: 'An object such as {"method": "POST", "url": "…", "mapping": {…}}.'}
    problems: dict[str, str] = {}
    unknown = sorted(set(endpoint) - {"method", "url", "mapping"})
    if unknown:
        problems[name] = f"Unknown key(s) {', '.join(unknown)}; use method, url, mapping."
    if str(endpoint.get("method", "POST")).upper() not in METHODS:
        problems[f"{name}.method"] = f"Use one of {', '.join(METHODS)}."
    problem = _template_problem(endpoint.get("url"))
    if problem:
        problems[f"{name}.url"] = problem
    if "mapping" in endpoint:
        for path, message in field_mapping.validate_mapping(endpoint["mapping"]).items():
            problems[f"{name}.mapping.{path}" if path else f"{name}.mapping"] = message
    return problems
