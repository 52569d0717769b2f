"""The generic REST connector and its field mapping, against a small recording HTTP receiver.

The receiver is a real stdlib HTTP server on loopback, in a thread: it books each body once
per ``Idempotency-Key`` (a repeat answers 409), checks the HMAC signature over the exact
body bytes, answers look-ups and totals, and can be told to fail, stall or drop the answer.
No database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

import pytest

from erp_sync.connectors.base import ConnectionConfig, ErpTotals, Outcome, Posting
from erp_sync.connectors.mapping import SAMPLE_PAYLOAD, preview, validate_mapping
from erp_sync.connectors.registry import connector_class
from erp_sync.connectors.rest import RestConnector
from tests.erp_sync.builders import goods_posting, movement, reversal_of
from tests.helpers import loopback_http_server

SECRET = "webhook-secret"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """What the fake ERP received and how it behaves next."""

    port: int = 0
    requests: list[Received] = field(default_factory=list)
    booked: dict[str, str] = field(default_factory=dict)  # Idempotency-Key → document
    status: int | None = None  # answer every write with this status instead of booking
    error_body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop_after_booking: bool = False
    duplicate_names_document: bool = True
    require_signature: bool = False
    totals: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def writes(self) -> list[Received]:
        return [request for request in self.requests if request.method != "GET"]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def _answer(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            body = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if not isinstance(payload, str) else "text/plain")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _write(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request = Received(self.command, unquote(self.path), dict(self.headers.items()), body)
            with receiver.lock:
                receiver.requests.append(request)
            if receiver.delay:
                time.sleep(receiver.delay)
            if receiver.require_signature:
                expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(self.headers.get("X-Signature", ""), expected):
                    return self._answer(401, "bad signature")
            if receiver.status is not None:
                return self._answer(receiver.status, receiver.error_body or "", receiver.headers)
            key = self.headers.get("Idempotency-Key", "")
            with receiver.lock:
                if key in receiver.booked:
                    document = receiver.booked[key] if receiver.duplicate_names_document else None
                    return self._answer(409, {"error": "duplicate", "data": {"id": document}})
                document = f"DOC-{len(receiver.booked) + 1}"
                receiver.booked[key] = document
            if receiver.drop_after_booking:
                self.close_connection = True
                return None  # booked, and no answer at all
            return self._answer(201, {"data": {"id": document}})

        do_POST = do_PUT = do_PATCH = _write

        def do_GET(self) -> None:
            path = unquote(self.path)
            with receiver.lock:
                receiver.requests.append(Received("GET", path, dict(self.headers.items()), b""))
            if path.startswith("/confirmations/"):
                key = path.split("/")[2]
                if key in receiver.booked:
                    return self._answer(200, {"data": {"id": receiver.booked[key]}})
                return self._answer(404, {"error": "not found"})
            if path.startswith("/orders/"):
                return self._answer(200, {"operations": receiver.totals})
            if path == "/health":
                return self._answer(200, {"ok": True})
            return self._answer(405, "method not allowed")

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    with loopback_http_server(_handler(state)) as port:
        state.port = port
        yield state


def connector_for(url: str, *, timeout: float = 5.0, username: str = "", password: str = "", token: str = "", **options: Any) -> RestConnector:
    return RestConnector(
        ConnectionConfig(
            name="rest-test",
            kind="rest",
            base_url="",
            username=username,
            password=password,
            token=token,
            options={"url": url, "document_field": "data.id", **options},
            timeout_seconds=timeout,
        )
    )


def confirmation(*, good: str = "12.000", order: str = "WO-1001", operation: int = 10) -> Posting:
    key = str(uuid.uuid4())
    payload = {**SAMPLE_PAYLOAD, "confirmation_id": key, "work_order": order, "operation": operation, "good_qty": good}
    for name in ("kind", "idempotency_key", "sequence", "reverses", "reverses_ref"):
        payload.pop(name)
    payload["reverses"] = None
    return Posting(idempotency_key=key, kind="confirmation", work_order=order, sequence=3, payload=payload)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- the field mapping ---------------------------------------------------------------------


def test_registry_serves_the_rest_connector() -> None:
    assert connector_class("rest") is RestConnector
    assert RestConnector.kind == "rest"


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"from": "good_qty"}, "12.000"),  # rename keeps the value as it is
        ({"from": "reverses.idempotency_key"}, ""),
        ({"const": "MES"}, "MES"),
        ({"const": {"system": "MES", "version": 2}}, {"system": "MES", "version": 2}),
        ({"from": "good_qty", "type": "number"}, 12.0),
        ({"from": "operation", "type": "string"}, "10"),
        ({"from": "good_qty", "type": "integer"}, 12),
        ({"from": "final", "type": "string"}, "false"),
        ({"from": "final", "type": "boolean"}, False),
        ({"from": "confirmed_at", "date_format": "%Y%m%d%H%M%S"}, "20250301160000"),  # 08:00 UTC in Shanghai
        ({"from": "confirmed_at", "date_format": "%Y-%m-%d", "time_zone": "America/Chicago"}, "2025-03-01"),
        ({"from": "confirmed_at", "date_format": "iso"}, "2025-03-01T16:00:00+08:00"),
        ({"from": "confirmed_at", "date_format": "epoch_ms"}, 1740816000000),
        ({"from": "labor_minutes", "multiply": 0.0166667, "round": 3}, 0.75),
        ({"from": "labor_minutes", "multiply": 60, "type": "integer"}, 2700),
        ({"from": "scrap_qty", "round": 0, "type": "integer"}, 1),
        ({"format": "{work_order}-{operation:04d}"}, "WO-1001-0010"),
        ({"format": "{good_qty:.1f} {unit}"}, "12.0 PCS"),
        ({"format": "{operation}", "type": "integer"}, 10),
        ({"from": "reason_code", "map": {"SCRAP-01": "S1"}}, "S1"),
        ({"from": "unit", "map": {"KG": "KGM"}}, "PCS"),
        ({"from": "operator_badge", "default": "NOBODY"}, "B-1001"),
        ({"from": "reverses.confirmation_id", "default": "none"}, ""),
        ({"from": "reverses_ref.missing", "default": "none"}, "none"),
    ],
)
def test_each_mapping_rule(rule: dict[str, Any], expected: Any) -> None:
    assert validate_mapping({"value": rule}) == {}

    assert preview({"value": rule}, SAMPLE_PAYLOAD) == {"value": expected}


def test_abs_drops_the_sign_of_a_reversal_quantity() -> None:
    body = preview({"qty": {"from": "good_qty", "abs": True, "type": "number"}}, {**SAMPLE_PAYLOAD, "good_qty": "-4.500"})

    assert body == {"qty": 4.5}


def test_nested_objects_and_lists_build_nested_json() -> None:
    mapping = {
        "header": {"order": {"from": "work_order"}, "source": {"const": "MES"}},
        "lines": [{"qty": {"from": "good_qty", "type": "number"}, "kind": {"const": "good"}}, {"from": "unit"}],
    }

    assert validate_mapping(mapping) == {}
    assert preview(mapping, SAMPLE_PAYLOAD) == {
        "header": {"order": "WO-1001", "source": "MES"},
        "lines": [{"qty": 12.0, "kind": "good"}, "PCS"],
    }


def test_preview_fills_the_key_from_the_confirmation() -> None:
    payload = {key: value for key, value in SAMPLE_PAYLOAD.items() if key not in ("idempotency_key", "sequence")}

    body = preview({"key": {"from": "idempotency_key"}, "n": {"from": "sequence"}}, payload, sequence=7)

    assert body == {"key": SAMPLE_PAYLOAD["confirmation_id"], "n": 7}


def test_validate_mapping_names_each_bad_rule_by_its_path() -> None:
    problems = validate_mapping(
        {
            "a": {"from": "goods_qty"},
            "b": {"from": "good_qty", "rename": "qty"},
            "c": {"from": "confirmed_at", "date_format": "%Y%Q"},
            "d": {"format": "{work_order"},
            "e": {"format": "{nope}-{operation}"},
            "f": {"format": "{good_qty:04d}"},
            "g": {"from": "good_qty", "type": "float"},
            "h": {"from": "labor_minutes", "multiply": "60"},
            "i": {"from": "good_qty", "round": -1},
            "j": {"from": "unit", "const": "PCS"},
            "k": "MES",
            "l": {"from": "work_order", "multiply": 2},
            "m": {"inner": {"from": "reverses.nothing"}},
            "n": [{"const": 1}, {"form": "unit"}],
            "o": {"from": "good_qty", "date_format": "%d.%m.%Y"},
            "p": {"from": "good_qty.sub"},
            "q": {"const": 1, "time_zone": "Mars/Base"},
            "r": {"from": "confirmed_at", "date_format": "%Y%"},
            "ok": {"from": "good_qty"},
        }
    )

    assert set(problems) == {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m.inner", "n[1]", "o", "p", "q", "r"}
    assert problems["a"].startswith("Unknown source field 'goods_qty'")
    assert problems["b"].startswith("Unknown rule key(s) 'rename'")
    assert problems["c"] == "Bad date format '%Y%Q': unknown directive(s) %Q."
    assert problems["d"].startswith("Bad format string '{work_order'")
    assert "Unknown source field 'nope'" in problems["e"]
    assert problems["f"].startswith("Bad format string '{good_qty:04d}'")
    assert problems["g"].startswith("Unknown type 'float'")
    assert problems["h"].startswith("multiply takes a number")
    assert problems["i"].startswith("round takes a whole number")
    assert problems["j"] == "Give one source, not from and const."
    assert problems["k"].startswith("'MES' is not a rule")
    assert problems["l"] == "With a sample confirmation: 'WO-1001' is not a number"
    assert problems["m.inner"].startswith("Unknown field 'nothing' of reverses")
    assert problems["n[1]"].startswith("Unknown rule key(s) 'form'")
    assert problems["o"].startswith("With a sample confirmation: ValueError")
    assert problems["p"] == "good_qty has no fields; use 'good_qty' alone."
    assert problems["q"] == "Unknown time zone 'Mars/Base'."
    assert "lone %" in problems["r"]
    assert validate_mapping({}) == {"": validate_mapping([])[""]}


def test_validate_options_checks_the_connection_and_prefixes_mapping_paths() -> None:
    assert RestConnector.validate_options({"url": "https://erp.example.com/api/{work_order}", "mapping": {"q": {"from": "good_qty"}}}) == {}
    problems = RestConnector.validate_options(
        {
            "url": "ftp://erp.example.com",
            "method": "DELETE",
            "auth": "oauth",
            "mapping": {"qty": {"from": "goods_qty"}},
            "reversal": {"url": "https://erp/{nothing}", "mapping": {"x": {"const": 1, "from": "unit"}}, "verb": "POST"},
            "lookup": {"url": "https://erp/{idempotency_key}", "found_status": 404},
            "headers": ["X-A"],
            "totals": {"items_field": "rows"},
        }
    )
    assert set(problems) == {
        "url", "method", "auth", "mapping.qty", "reversal", "reversal.url", "reversal.mapping.x",
        "lookup.found_status", "headers", "totals",
    }


# -- sending -------------------------------------------------------------------------------


def test_post_sends_the_mapped_body_with_our_key(receiver: Receiver) -> None:
    mapping = {
        "order": {"from": "work_order"},
        "step": {"format": "{work_order}-{operation:04d}"},
        "qty": {"from": "good_qty", "type": "number"},
        "hours": {"from": "labor_minutes", "multiply": 0.0166667, "round": 3},
        "posted": {"from": "confirmed_at", "date_format": "%Y%m%d%H%M%S"},
        "source": {"const": "MES"},
        "meta": {"key": {"from": "idempotency_key"}},
    }
    connector = connector_for(receiver.url + "/orders/{work_order}/confirmations", mapping=mapping, headers={"X-Plant": "P1"})
    posting = confirmation(order="WO 7/A")

    result = connector.post(posting)

    assert result.outcome == Outcome.ACCEPTED
    assert (result.erp_document, result.erp_ref) == ("DOC-1", {"document": "DOC-1", "status": 201})
    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", "/orders/WO 7/A/confirmations")
    assert request.headers["Idempotency-Key"] == posting.idempotency_key
    assert request.headers["X-Plant"] == "P1"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "order": "WO 7/A",
        "step": "WO 7/A-0010",
        "qty": 12.0,
        "hours": 0.75,
        "posted": "20250301160000",
        "source": "MES",
        "meta": {"key": posting.idempotency_key},
    }


def test_without_a_mapping_the_whole_message_is_sent(receiver: Receiver) -> None:
    posting = confirmation()

    assert connector_for(receiver.url + "/in").post(posting).outcome == Outcome.ACCEPTED

    body = receiver.requests[0].json()
    assert body["good_qty"] == "12.000"
    assert (body["idempotency_key"], body["sequence"], body["kind"]) == (posting.idempotency_key, 3, "confirmation")


def test_hmac_signature_over_the_exact_body_is_verified_by_the_receiver(receiver: Receiver) -> None:
    receiver.require_signature = True
    connector = connector_for(receiver.url + "/in", auth="hmac", hmac_secret=SECRET, mapping={"q": {"from": "item"}})

    result = connector.post(confirmation())

    assert result.outcome == Outcome.ACCEPTED
    request = receiver.requests[0]
    assert request.headers["X-Signature"] == "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()


def test_a_wrong_hmac_secret_is_rejected_with_the_receivers_text(receiver: Receiver) -> None:
    receiver.require_signature = True
    connector = connector_for(receiver.url + "/in", auth="hmac", token="not-the-secret")

    result = connector.post(confirmation())

    assert (result.outcome, result.http_status, result.error) == (Outcome.REJECTED, 401, "HTTP 401: bad signature")
    assert receiver.booked == {}


def test_hmac_header_name_is_configurable(receiver: Receiver) -> None:
    connector = connector_for(receiver.url + "/in", auth="hmac", token=SECRET, hmac_header="X-Hub-Signature-256")

    connector.post(confirmation())

    request = receiver.requests[0]
    assert request.headers["X-Hub-Signature-256"] == "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()


def test_basic_and_bearer_auth(receiver: Receiver) -> None:
    connector_for(receiver.url + "/in", auth="basic", username="mes", password="pw").post(confirmation())
    connector_for(receiver.url + "/in", auth="bearer", token="tok-1").post(confirmation())
    connector_for(receiver.url + "/in").post(confirmation())

    authorizations = [request.headers.get("Authorization") for request in receiver.requests]
    assert authorizations == ["Basic bWVzOnB3", "Bearer tok-1", None]


def test_the_method_is_configurable(receiver: Receiver) -> None:
    connector = connector_for(receiver.url + "/confirmations/{idempotency_key}", method="PUT")
    posting = confirmation()

    assert connector.post(posting).outcome == Outcome.ACCEPTED

    assert (receiver.requests[0].method, receiver.requests[0].path) == ("PUT", f"/confirmations/{posting.idempotency_key}")


def test_a_message_the_mapping_cannot_convert_is_rejected_before_sending(receiver: Receiver) -> None:
    connector = connector_for(receiver.url + "/in", mapping={"qty": {"from": "good_qty", "type": "integer"}})

    result = connector.post(confirmation(good="12.500"))

    assert result.outcome == Outcome.REJECTED
    assert result.error == 'The message cannot be mapped: qty: 12.500 is not a whole number (add "round": 0 to round it)'
    assert receiver.requests == []


# -- answers -------------------------------------------------------------------------------


def test_a_resend_is_a_duplicate_with_the_first_document(receiver: Receiver) -> None:
    connector = connector_for(receiver.url + "/in")
    posting = confirmation()
    connector.post(posting)

    again = connector.post(posting)

    assert (again.outcome, again.erp_document, again.http_status) == (Outcome.DUPLICATE, "DOC-1", 409)
    assert len(receiver.booked) == 1


def test_a_duplicate_answer_without_the_document_is_completed_by_the_lookup(receiver: Receiver) -> None:
    receiver.duplicate_names_document = False
    connector = connector_for(receiver.url + "/in", lookup={"url": receiver.url + "/confirmations/{idempotency_key}"})
    posting = confirmation()
    connector.post(posting)

    again = connector.post(posting)

    assert (again.outcome, again.erp_document) == (Outcome.DUPLICATE, "DOC-1")
    assert [request.method for request in receiver.requests] == ["POST", "POST", "GET"]


@pytest.mark.parametrize("status", [408, 423, 425, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retryable(receiver: Receiver, status: int) -> None:
    receiver.status = status
    receiver.headers = {"Retry-After": "7"}

    result = connector_for(receiver.url + "/in").post(confirmation())

    assert (result.outcome, result.http_status, result.retry_after) == (Outcome.RETRYABLE, status, 7.0)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_other_client_errors_are_rejected_with_the_body_text(receiver: Receiver, status: int) -> None:
    receiver.status = status
    receiver.error_body = "Work order WO-1001 is closed"

    result = connector_for(receiver.url + "/in").post(confirmation())

    assert (result.outcome, result.error) == (Outcome.REJECTED, f"HTTP {status}: Work order WO-1001 is closed")


def test_a_redirect_is_not_followed_and_is_rejected(receiver: Receiver) -> None:
    receiver.status = 302
    receiver.headers = {"Location": "https://login.example.com"}

    result = connector_for(receiver.url + "/in").post(confirmation())

    assert result.outcome == Outcome.REJECTED
    assert "redirected to https://login.example.com" in result.error
    assert len(receiver.requests) == 1


def test_a_receiver_that_is_down_is_retryable() -> None:
    result = connector_for(f"http://127.0.0.1:{closed_port()}/in").post(confirmation())

    assert result.outcome == Outcome.RETRYABLE


def test_a_dropped_answer_is_unknown_and_the_lookup_then_finds_it(receiver: Receiver) -> None:
    receiver.drop_after_booking = True
    connector = connector_for(receiver.url + "/in", lookup={"url": receiver.url + "/confirmations/{idempotency_key}"})
    posting = confirmation()

    result = connector.post(posting)

    assert result.outcome == Outcome.UNKNOWN
    found = connector.find(posting)
    assert found is not None
    assert (found.outcome, found.erp_document) == (Outcome.ACCEPTED, "DOC-1")
    assert connector.find(confirmation()) is None


def test_without_a_lookup_find_says_not_found_and_the_resend_is_a_duplicate(receiver: Receiver) -> None:
    receiver.drop_after_booking = True
    connector = connector_for(receiver.url + "/in")
    posting = confirmation()
    assert connector.post(posting).outcome == Outcome.UNKNOWN
    receiver.drop_after_booking = False

    assert connector.find(posting) is None
    again = connector.post(posting)

    assert (again.outcome, again.erp_document) == (Outcome.DUPLICATE, "DOC-1")
    assert len(receiver.booked) == 1


def test_an_answer_slower_than_the_timeout_is_unknown(receiver: Receiver) -> None:
    receiver.delay = 0.6
    connector = connector_for(receiver.url + "/in", timeout=0.2)

    result = connector.post(confirmation())

    assert result.outcome == Outcome.UNKNOWN


# -- reversal, totals, health --------------------------------------------------------------


def test_a_reversal_uses_its_own_method_url_and_mapping(receiver: Receiver) -> None:
    connector = connector_for(
        receiver.url + "/in",
        reversal={
            "method": "PATCH",
            "url": receiver.url + "/documents/{reverses_ref.document}/cancel",
            "mapping": {"reason": {"const": "MES reversal"}, "original": {"from": "reverses.idempotency_key"}},
        },
    )
    original = confirmation()
    posted = connector.post(original)
    reversal = reversal_of(original, posted.erp_ref)

    result = connector.post(reversal)

    assert result.outcome == Outcome.ACCEPTED
    request = receiver.requests[-1]
    assert (request.method, request.path) == ("PATCH", "/documents/DOC-1/cancel")
    assert request.json() == {"reason": "MES reversal", "original": original.idempotency_key}
    assert request.headers["Idempotency-Key"] == reversal.idempotency_key


def test_without_a_reversal_setting_a_reversal_is_sent_like_a_confirmation(receiver: Receiver) -> None:
    mapping = {"type": {"from": "type"}, "qty": {"from": "good_qty", "type": "number"}}
    connector = connector_for(receiver.url + "/in", mapping=mapping)
    original = confirmation()
    connector.post(original)

    assert connector.post(reversal_of(original, None)).outcome == Outcome.ACCEPTED

    assert receiver.requests[-1].json() == {"type": "reversal", "qty": -12.0}


def test_goods_kinds_go_to_their_own_endpoint_with_their_fields(receiver: Receiver) -> None:
    connector = connector_for(
        receiver.url + "/in",
        mapping={"type": {"from": "type"}},
        goods_issue={
            "url": receiver.url + "/orders/{work_order}/issues",
            "mapping": {
                "document": {"from": "document_id"}, "lot": {"from": "movements.0.lot"},
                "qty": {"from": "movements.0.quantity", "type": "number"}, "lines": {"from": "movements"},
            },
        },
    )
    issue = goods_posting(order="WO-1001", movements=[movement(lot="L-7", quantity="2.500")])

    assert connector.post(issue).outcome == Outcome.ACCEPTED
    assert connector.post(goods_posting(order="WO-1001", kind="goods_receipt", movements=[movement(movement_type="101")])).outcome == Outcome.ACCEPTED

    sent_issue, sent_receipt = receiver.writes()
    assert sent_issue.path == "/orders/WO-1001/issues" and sent_issue.headers["Idempotency-Key"] == issue.idempotency_key
    assert sent_issue.json() == {"document": issue.idempotency_key, "lot": "L-7", "qty": 2.5, "lines": issue.payload["movements"]}
    assert (sent_receipt.path, sent_receipt.json()) == ("/in", {"type": "goods_receipt"})


def test_goods_fields_are_checked_in_mappings_and_options() -> None:
    assert validate_mapping({"lot": {"from": "movements.0.lot"}, "all": {"from": "goods_movements"}}) == {}
    assert "is a list" in validate_mapping({"lot": {"from": "movements.lot"}})["lot"]
    assert "Unknown field 'colour'" in validate_mapping({"lot": {"from": "movements.0.colour"}})["lot"]
    problems = RestConnector.validate_options({"url": "https://erp.example/in", "goods_receipt": {"method": "GET", "colour": 1}})
    assert set(problems) == {"goods_receipt", "goods_receipt.method"}


def test_totals_come_from_the_configured_url(receiver: Receiver) -> None:
    receiver.totals = [
        {"op": 10, "good": "5.5", "scrap": 1, "rework": 0, "keys": ["k1", "k2"]},
        {"op": 20, "good": 4, "scrap": 0, "rework": "0.5", "keys": ["k3"]},
    ]
    connector = connector_for(
        receiver.url + "/in",
        totals={
            "url": receiver.url + "/orders/{work_order}/totals",
            "items_field": "operations",
            "operation_field": "op",
            "good_field": "good",
            "scrap_field": "scrap",
            "rework_field": "rework",
            "keys_field": "keys",
        },
    )

    totals = connector.totals("WO-1001")

    assert totals == [
        ErpTotals("WO-1001", 10, Decimal("5.5"), Decimal(1), Decimal(0), ("k1", "k2")),
        ErpTotals("WO-1001", 20, Decimal(4), Decimal(0), Decimal("0.5"), ("k3",)),
    ]
    assert receiver.requests[-1].path == "/orders/WO-1001/totals"


def test_totals_without_a_url_cannot_be_told(receiver: Receiver) -> None:
    result = connector_for(receiver.url + "/in").totals("WO-1001")

    assert not isinstance(result, list) and result.outcome == Outcome.REJECTED


def test_health(receiver: Receiver) -> None:
    assert connector_for(receiver.url + "/in", health_url=receiver.url + "/health").health().reachable is True
    assert connector_for(receiver.url + "/in").health().reachable is True  # 405 still proves it is there
    assert connector_for(f"http://127.0.0.1:{closed_port()}/in").health().reachable is False


def test_quality_kinds_go_to_their_own_endpoints_with_their_fields(receiver: Receiver) -> None:
    """An inspection result and a disposition, each mapped to an endpoint of its own; a return to the supplier
    without one goes to the url like the rest, its type naming it."""
    from erp_sync.connectors.base import Posting

    connector = connector_for(
        receiver.url + "/in",
        mapping={"type": {"from": "type"}},
        inspection_result={
            "url": receiver.url + "/orders/{work_order}/inspections",
            "mapping": {"char": {"from": "characteristic"}, "value": {"from": "value", "type": "number"}, "ok": {"from": "passed"},
                        "sample": {"from": "sample_no"}, "max": {"from": "upper_limit", "type": "number"}},
        },
        nonconformance_disposition={
            "url": receiver.url + "/ncr",
            "mapping": {"ncr": {"from": "nonconformance"}, "decision": {"from": "disposition"}, "qty": {"from": "quantity", "type": "number"},
                        "defect": {"from": "defect_code"}, "by": {"from": "approved_by"}},
        },
    )
    assert RestConnector.validate_options(connector.options) == {}
    result = {"type": "inspection_result", "work_order": "WO-1001", "characteristic": "LEN", "value": "101.2", "passed": False,
              "sample_no": 1, "upper_limit": "100.5"}
    decision = {"type": "nonconformance_disposition", "work_order": "WO-1001", "nonconformance": 12, "disposition": "scrap",
                "quantity": "1", "defect_code": "DEF-LEN", "approved_by": "inspector-liu"}
    returned = {"type": "return_to_supplier", "work_order": "WO-1001", "lot": "T-7"}
    for kind, payload in (("inspection_result", result), ("nonconformance_disposition", decision), ("return_to_supplier", returned)):
        posting = Posting(idempotency_key=str(uuid.uuid4()), kind=kind, work_order="WO-1001", sequence=1, payload=payload)
        assert kind in connector.kinds
        assert connector.post(posting).outcome == Outcome.ACCEPTED

    sent_result, sent_decision, sent_return = receiver.writes()
    assert (sent_result.path, sent_result.json()) == ("/orders/WO-1001/inspections", {"char": "LEN", "value": 101.2, "ok": False, "sample": 1, "max": 100.5})
    assert (sent_decision.path, sent_decision.json()) == ("/ncr", {"ncr": 12, "decision": "scrap", "qty": 1.0, "defect": "DEF-LEN", "by": "inspector-liu"})
    assert (sent_return.path, sent_return.json()) == ("/in", {"type": "return_to_supplier"})
