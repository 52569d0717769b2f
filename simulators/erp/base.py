"""What every simulated ERP shares: the request and response values and the flavour interface.

A flavour (``sap.py``, ``erpnext.py``, ``odoo.py``) is a plain class that turns one
``SimRequest`` into one ``SimResponse``. It knows nothing about sockets, threads or faults
injected by time; ``server.py`` owns those and calls ``handle`` while holding the
simulator's lock, so a flavour may mutate its state without locking of its own.
"""

from __future__ import annotations

import abc
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from http.cookies import CookieError, SimpleCookie
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote

from simulators.erp.ledger import Ledger


class BadRequest(Exception):
    """The request body or query cannot be understood; each flavour renders it its own way."""


@dataclass
class SimRequest:
    method: str
    target: str  # the request target as sent, e.g. "/api/resource/Job%20Card?filters=..."
    headers: Mapping[str, str]  # case-insensitive (an email.message.Message from http.server)
    body: bytes = b""
    # Set by the server from the active faults before ``handle`` runs.
    lock_rolled: bool = False
    locked_orders: frozenset[str] = frozenset()
    rejected_orders: frozenset[str] = frozenset()
    response_will_drop: bool = False
    batch_not_offered: int = 0  # the status a gateway without batch answers, 0 when batch is offered
    prepared: Any = None  # what the flavour's ``prepare`` made of the request, outside the lock

    @property
    def path(self) -> str:
        """The percent-decoded path without the query string."""
        return unquote(self.target.split("?", 1)[0])

    @property
    def raw_path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def raw_query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    @property
    def query(self) -> dict[str, str]:
        """Query parameters, last value wins (OData and Frappe never repeat them)."""
        return {key: values[-1] for key, values in parse_qs(self.raw_query, keep_blank_values=True).items()}

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def cookies(self) -> dict[str, str]:
        jar: SimpleCookie = SimpleCookie()
        for raw in all_headers(self.headers, "Cookie"):
            try:
                jar.load(raw)
            except CookieError:
                continue
        return {name: morsel.value for name, morsel in jar.items()}

    def json(self) -> Any:
        if not self.body:
            raise BadRequest("the request has no body")
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise BadRequest(f"the body is not valid JSON: {error}") from None

    def form_or_json(self) -> dict[str, Any]:
        """Frappe's ``/api/method`` takes JSON or form-encoded arguments alike."""
        content_type = (self.header("Content-Type") or "").split(";")[0].strip().lower()
        if content_type == "application/x-www-form-urlencoded":
            parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
            return {key: values[-1] for key, values in parsed.items()}
        if not self.body:
            return dict(self.query)
        payload = self.json()
        if not isinstance(payload, dict):
            raise BadRequest("the body must be a JSON object")
        return payload


def all_headers(headers: Mapping[str, str], name: str) -> list[str]:
    get_all = getattr(headers, "get_all", None)
    if get_all is not None:
        return list(get_all(name) or [])
    value = headers.get(name)
    return [value] if value else []


@dataclass
class SimResponse:
    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    # True when this request recorded something in the ledger: only then may a
    # "drop after commit" fault swallow the answer.
    committed: bool = False


def json_response(
    status: int, payload: Any, *, headers: list[tuple[str, str]] | None = None, committed: bool = False
) -> SimResponse:
    return SimResponse(
        status=status,
        body=json.dumps(payload, default=str).encode(),
        headers=list(headers or []),
        committed=committed,
    )


def text_response(
    status: int,
    text: str,
    *,
    content_type: str = "text/plain; charset=utf-8",
    headers: list[tuple[str, str]] | None = None,
) -> SimResponse:
    return SimResponse(status=status, body=text.encode(), content_type=content_type, headers=list(headers or []))


_PLAIN_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


def parse_decimal(value: Any) -> Decimal:
    """A plain decimal from a string or number; raises ``ValueError`` for anything else."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value!r} is not a number")
        return value
    if isinstance(value, (int, float)):
        if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            raise ValueError(f"{value!r} is not a number")
        return Decimal(str(value))
    if isinstance(value, str) and _PLAIN_DECIMAL.match(value.strip()):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            pass
    raise ValueError(f"{value!r} is not a number")


def plain(number: Decimal) -> str:
    """``Decimal("300.000")`` → ``"300"``; the ledger's one spelling of a quantity."""
    if number == 0:
        return "0"
    text = format(number.normalize(), "f")
    return text


class ErpFlavor(abc.ABC):
    """One ERP's protocol. Subclasses keep their documents in memory and record in ``ledger``."""

    name: ClassVar[str]

    def __init__(self, *, ledger: Ledger) -> None:
        self.ledger = ledger
        from simulators.erp.orders import OrderBook  # orders.py reads quantities with this module's helpers

        #: The production orders it serves to an MES that pulls them (``orders.py``).
        self.orders = OrderBook()

    @abc.abstractmethod
    def handle(self, request: SimRequest) -> SimResponse:
        """Answer one request. Called with the simulator lock held."""

    def prepare(self, request: SimRequest) -> Any:
        """Work on a request that needs none of the flavour's state (parsing, schema validation), done
        before the simulator's lock is taken so slow work holds back no other request; kept in
        ``request.prepared``."""
        return None

    @abc.abstractmethod
    def reset(self) -> None:
        """Forget every document (the ledger is cleared by the caller)."""

    @abc.abstractmethod
    def unavailable(self, status: int) -> SimResponse:
        """The answer this ERP's front end gives when its back end fails (injected 5xx)."""

    def config(self) -> dict[str, Any]:
        """Behaviour switches that the control API may change while running."""
        return {}

    def configure(self, changes: dict[str, Any]) -> dict[str, Any]:
        unknown = set(changes) - set(self.config())
        if unknown:
            raise ValueError(f"unknown setting(s) for {self.name}: {', '.join(sorted(unknown))}")
        for key, value in changes.items():
            self._set_config(key, value)
        return self.config()

    def _set_config(self, key: str, value: Any) -> None:
        raise ValueError(f"{key} cannot be changed")

    def flavor_counters(self) -> dict[str, int]:
        """Counters of the flavour's own (Kingdee's logins), shown with the simulator's in its health."""
        return {}

    def orders_changed(self) -> None:  # noqa: B027 - most flavours answer from the order book directly
        """The order book changed (seeded, reset): a flavour that keeps the orders as documents of its own refreshes them."""

    def invalidate_sessions(self) -> None:  # noqa: B027 - most ERPs keep no session state
        """Expire whatever session state this ERP keeps (SAP's CSRF tokens)."""
