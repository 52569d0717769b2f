"""The one small interface every ERP connector implements, and the HTTP error classification they share.

A connector turns one outbox message into the ERP's own call and classifies what came back.
It never raises for an ERP's answer or a network failure: it returns a ``PostResult`` whose
``outcome`` tells the dispatcher what to do (acknowledge, retry later, dead-letter, or look
the posting up by our key before anything is resent). Retries, back-off, ordering and dead
letters are the dispatcher's business, never a connector's.
"""

from __future__ import annotations

import datetime as dt
import enum
import os
import re
import zoneinfo
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

import requests
import urllib3
from django.db import models
from django.utils.translation import gettext_lazy as _
from requests.adapters import HTTPAdapter
from requests.auth import HTTPBasicAuth


class Outcome(enum.StrEnum):
    ACCEPTED = "accepted"  # the ERP booked it; erp_ref says under which keys
    DUPLICATE = "duplicate"  # the ERP already had our key: booked before, not again
    RETRYABLE = "retryable"  # transient: refused connection, 5xx, 423, 429, expired session
    REJECTED = "rejected"  # permanent: validation, authorization → dead letter, blocks the order
    UNKNOWN = "unknown"  # the request may have reached the ERP and no answer came: look up first


class FailureKind(models.TextChoices):
    """What went wrong with a call, decided where the connector caught the error; the dispatcher acts
    on the kind, never on the wording of the error."""

    UNREACHABLE = "unreachable", _("unreachable")  # no connection was made (refused, unresolvable): nothing sent
    TIMEOUT = "timeout", _("connect timeout")  # no connection was made in time: nothing sent
    REFUSED = "refused", _("refused for now")  # the ERP answered: busy, locked, 5xx, 429, unreadable — later
    REJECTED = "rejected", _("rejected")  # refused for good (validation, authorization): dead letter
    AMBIGUOUS = "ambiguous", _("outcome unknown")  # sent, and no answer came: it may be booked


#: Failures of an ERP that could not be reached at all: nothing was sent, so once it answers
#: again the messages they held back need not wait out their back-off.
OUTAGE_KINDS = frozenset({FailureKind.UNREACHABLE, FailureKind.TIMEOUT})

_KIND_OF_OUTCOME = {Outcome.RETRYABLE: FailureKind.REFUSED, Outcome.REJECTED: FailureKind.REJECTED, Outcome.UNKNOWN: FailureKind.AMBIGUOUS}


@dataclass(frozen=True)
class PostResult:
    """What one call came to. ``failure_kind`` says what failed; left out, it follows from the outcome
    (retryable: refused for now, rejected: rejected, unknown: ambiguous; none for a success)."""

    outcome: Outcome
    erp_ref: dict[str, Any] | None = None
    erp_document: str = ""
    error: str = ""
    http_status: int | None = None
    retry_after: float | None = None
    failure_kind: str = ""

    def __post_init__(self) -> None:
        if not self.failure_kind and self.outcome in _KIND_OF_OUTCOME:
            object.__setattr__(self, "failure_kind", _KIND_OF_OUTCOME[self.outcome])


@dataclass(frozen=True)
class ConnectionConfig:
    """What a connector needs of a stored ``ErpConnection``, detached from the database."""

    name: str
    kind: str
    base_url: str
    username: str = ""
    password: str = ""
    token: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class Posting:
    """One outbox message as a connector sees it.

    ``payload`` is the message payload written with the confirmation (see
    ``mes.services.confirmations._payload``): work_order, operation, good/scrap/rework
    quantities as decimal strings, unit, reason_code, labor/machine minutes, final, times,
    operator, work center, and for a reversal ``reverses`` = the original's keys.
    ``reverses_ref`` is the ERP reference stored when the original was acknowledged.

    The goods kinds (``goods_issue``, ``goods_receipt`` and their ``_reversal``) carry the
    payload of ``mes.services.materials.goods_message``: the order, the operation, and
    ``movements`` with SAP's movement types (261/262 issue, 101/102 receipt), item, lot,
    quantity and unit. ``confirmation_id`` names the report they were booked with (a backflush
    or an output), null for an issue by scan; ``confirmation_ref`` is what the ERP answered
    for that report, when it was acknowledged.
    """

    idempotency_key: str
    kind: str  # "confirmation" | "reversal" | one of GOODS_KINDS or QUALITY_KINDS | "return_to_supplier"
    work_order: str
    sequence: int
    payload: dict[str, Any]
    reverses_ref: dict[str, Any] | None = None
    reverses_key: str | None = None
    confirmation_ref: dict[str, Any] | None = None


#: The outbox kinds of material movements, and which of them take an earlier one back.
GOODS_KINDS = frozenset({"goods_issue", "goods_issue_reversal", "goods_receipt", "goods_receipt_reversal"})
GOODS_REVERSALS = frozenset({"goods_issue_reversal", "goods_receipt_reversal"})
#: Movement types by direction: issued to an order (and taken back), received from it (and taken back).
ISSUE_TYPES = {"261": 1, "262": -1}
RECEIPT_TYPES = {"101": 1, "102": -1}


#: The outbox kinds of quality records (``mes.services.quality_messages``): an inspection result
#: and a nonconformance's disposition. A connector books them (``kinds``) or passes them over
#: (``not_booked``, acknowledged without a call, saying why): never a dead letter, which would
#: hold up the order's later reports.
QUALITY_KINDS = frozenset({"inspection_result", "nonconformance_disposition"})


def is_reversal(posting: Posting) -> bool:
    """Whether the posting takes an earlier one back (a confirmation's reversal or a goods reversal)."""
    return posting.kind == "reversal" or posting.kind in GOODS_REVERSALS


@dataclass(frozen=True)
class ErpTotals:
    """What the ERP holds for one operation of an order, for reconciliation."""

    work_order: str
    operation: int
    good_qty: Decimal
    scrap_qty: Decimal
    rework_qty: Decimal
    postings: tuple[str, ...] = ()  # our idempotency keys the ERP holds and has not cancelled


@dataclass(frozen=True)
class GoodsTotals:
    """What the ERP holds of one component or product of an order, for reconciliation: the net
    quantity issued to the order and received from it (reversals taken off)."""

    work_order: str
    item: str
    issued_qty: Decimal
    received_qty: Decimal


def unsupported(connector: Connector, posting: Posting) -> PostResult:
    """The permanent refusal of a message kind ``connector`` does not book: nothing is sent, the
    message goes to the dead letters saying so, to be booked by hand and discarded."""
    return PostResult(
        Outcome.REJECTED,
        error=(
            f"The {connector.kind} connector does not book {posting.kind} messages: book it in the ERP by hand "
            f"(payload below), then discard this message."
        ),
    )


def passed_over(connector: Connector, posting: Posting) -> PostResult:
    """A message of a kind ``connector`` deliberately does not send (``not_booked``): acknowledged
    without calling the ERP, the reason kept with it, so the order's later messages go on."""
    why = connector.not_booked[posting.kind]
    return PostResult(
        Outcome.ACCEPTED, erp_ref={"not_sent": True, "why": why}, erp_document=f"not sent to {connector.kind} (kept in the MES)",
    )


@dataclass(frozen=True)
class PulledOrder:
    """One released production order as the ERP answered it, in the words of the push API
    (``PUT /api/v1/work-orders``, ``routings``, ``boms``), values as the ERP wrote them (the
    service validates them with the push API's serializers, so a bad value is refused there).

    ``work_order``: ``item``, ``quantity``, ``due_date`` (and ``priority`` where the ERP has one).
    ``operations``: the routing's operations (``sequence``, ``name``, ``work_center``,
    ``setup_minutes``, ``run_minutes_per_unit``), None where the ERP sends none (the item's routing
    in the MES stands). ``components``: ``item``, ``quantity`` (the order's total requirement),
    ``operation`` (the sequence consuming it, or None), ``backflush``; None where the ERP sends none.
    """

    key: str  # the ERP's order number, which becomes the work order's number
    changed_at: str  # the ERP's change stamp of the order, as the ERP wrote it
    work_order: dict[str, Any]
    operations: list[dict[str, Any]] | None = None
    components: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class PulledOrders:
    """What one pull read: the released orders changed at or after the mark it was asked from, and
    the mark to ask from next time (the newest change stamp seen; the one asked from when none)."""

    orders: list[PulledOrder]
    high_water_mark: str


@dataclass(frozen=True)
class Health:
    reachable: bool
    detail: str = ""
    latency_ms: int | None = None


class Connector(ABC):
    """Base of every connector. Instances are kept per worker process and may keep a session."""

    kind: ClassVar[str]
    #: Whether ``totals`` reports rework; reconciliation compares rework only where it does.
    tracks_rework: bool = True
    #: How many postings ``post_many`` sends in one request; 1 where the ERP has no batch call.
    batch_size: int = 1
    #: The name of the ERP's batch call (SAP: "OData $batch"); empty where the connector has none.
    batch_call: ClassVar[str] = ""
    #: False once the ERP answered the batch call as not there (a gateway without it): the
    #: connector then posts one by one, and the dispatcher keeps that on the connection
    #: (option ``batch_offered``: false) so no worker tries again.
    batch_offered: bool = True
    #: Whether the connection's URL may be ``file:///folder`` (documents written into a folder) instead of HTTP.
    accepts_folder: ClassVar[bool] = False
    #: The outbox kinds it books; the dispatcher dead-letters any other without calling it (``unsupported``).
    kinds: ClassVar[frozenset[str]] = frozenset({"confirmation", "reversal"}) | GOODS_KINDS
    #: Kinds it deliberately does not send, each with the reason: acknowledged without a call (``passed_over``).
    not_booked: ClassVar[Mapping[str, str]] = {}

    def __init__(self, config: ConnectionConfig) -> None:
        self.config = config

    @abstractmethod
    def post(self, posting: Posting) -> PostResult:
        """Book a confirmation, or cancel the original for a reversal. Safe to call again with the same posting."""

    def post_many(self, postings: list[Posting]) -> list[PostResult]:
        """Post several postings of different work orders, one result each, in order.

        Each posting must succeed or fail on its own (never all-or-nothing), since each is a
        different order's head. Connectors whose ERP has a batch call override this.
        """
        return [self.post(posting) for posting in postings]

    @abstractmethod
    def find(self, posting: Posting) -> PostResult | None:
        """Look the posting up in the ERP by our key.

        Returns ACCEPTED (with erp_ref/erp_document) when the ERP has it, None when it
        certainly does not, RETRYABLE when the ERP could not be asked.
        """

    @abstractmethod
    def totals(self, work_order: str) -> list[ErpTotals] | PostResult:
        """What the ERP holds per operation of an order, or a RETRYABLE/REJECTED result if it cannot say."""

    def goods_totals(self, work_order: str) -> list[GoodsTotals] | PostResult | None:
        """Net quantities issued to and received from an order per item, as the ERP holds them, or a
        RETRYABLE/REJECTED result if it cannot say; None where the connector cannot read them at all
        (reconciliation then leaves materials out)."""
        return None

    @abstractmethod
    def health(self) -> Health:
        """A cheap call that proves the ERP is reachable with these credentials."""

    def close(self) -> None:
        """Release sessions; the default connector holds none."""

    #: Whether ``pull_orders`` reads the ERP's released production orders (option ``pull_orders``).
    pulls_orders: ClassVar[bool] = False

    def pull_orders(self, since: str) -> PulledOrders | PostResult:
        """The released production orders changed at or after ``since`` (the mark a previous pull
        answered; every released order when empty), or how the ERP could not be read (RETRYABLE or
        REJECTED, as for a look-up: nothing is written by a pull)."""
        return PostResult(Outcome.REJECTED, error=f"The {self.kind} connector does not pull orders.")

    @staticmethod
    def validate_options(options: dict[str, Any]) -> dict[str, str]:
        """Problems with a connection's options, by field; empty when they are fine."""
        return {}

    @staticmethod
    def validate_credentials(*, username: str, password: str, token: str, options: dict[str, Any]) -> dict[str, str]:
        """Credentials this ERP cannot be sent, by field (``user``, ``password``, ``token``); empty when fine."""
        return {}


# --- HTTP helpers shared by the HTTP connectors ----------------------------------------


def http_session(*, accept: str | None = None, headers: Mapping[str, Any] | None = None) -> requests.Session:
    """A keep-alive session for one connection, shared by a worker's sending threads; ``accept``
    and the connection's own ``headers`` option (names and values as text) go with every request.

    The pool is sized for the dispatcher's threads; requests itself never retries: a resend
    after an ambiguous failure must be the dispatcher's decision, after a look-up.
    """
    session = requests.Session()
    if accept:
        session.headers["Accept"] = accept
    session.headers.update({str(name): str(value) for name, value in (headers or {}).items()})
    # Reading proxy and CA settings from the environment on every request cost about a
    # third of the client's CPU per call; where none are set there is nothing to read.
    session.trust_env = any(os.environ.get(name) for name in _ENVIRONMENT_SETTINGS)
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def basic_auth(username: str, password: str) -> HTTPBasicAuth:
    """Basic credentials in UTF-8, the charset RFC 7617 names, so a user name such as 张三 works
    (given text, requests encodes Latin-1 and fails on it)."""
    return HTTPBasicAuth(username.encode(), password.encode())


#: An HTTP header name (RFC 9110 ``token``).
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def header_value_problem(value: Any) -> str:
    """Why ``value`` cannot travel as an HTTP header value; "" when it can.

    Header values are Latin-1 on the wire (what requests and http.client send), and a line
    break would end the header.
    """
    text = str(value)
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return "It goes into an HTTP header, which carries Latin-1 text only (no Chinese characters)."
    if any(character in text for character in "\r\n\x00"):
        return "It goes into an HTTP header, which cannot hold a line break."
    return ""


def headers_problem(headers: Any) -> str:
    """Why ``headers`` (the ``headers`` option: name → text) cannot be sent; "" when they can."""
    if not isinstance(headers, dict) or not all(isinstance(value, (str, int)) for value in headers.values()):
        return "An object of header name → text."
    for name, value in headers.items():
        if not HEADER_NAME.fullmatch(str(name)):
            return f"{name!r} is not a header name (letters, digits and - only)."
        problem = header_value_problem(value)
        if problem:
            return f"{name}: {problem}"
    return ""


# --- option checks shared by the connectors -----------------------------------------------


def option_problems(
    options: dict[str, Any],
    *,
    choices: Mapping[str, tuple[Sequence[str], str]] | None = None,
    flags: Mapping[str, bool] | None = None,
    time_zone: bool = False,
    headers: bool = False,
    pulls: bool = False,
) -> dict[str, str]:
    """The checks several connectors make of their options, by field; empty when fine.

    ``choices``: option → (the names allowed, the default); ``flags``: option → its default, a
    true or false; ``time_zone``: the ``time_zone`` option, if set, names a zone; ``headers``:
    the ``headers`` option can travel as HTTP headers; ``pulls``: whether the connector can pull
    orders (option ``pull_orders``, a flag, refused as true where it cannot).
    """
    problems: dict[str, str] = {}
    pull = options.get("pull_orders", False)
    if not isinstance(pull, bool):
        problems["pull_orders"] = "true or false."
    elif pull and not pulls:
        problems["pull_orders"] = "This kind of connection cannot pull orders (SAP, Kingdee, ERPNext and Odoo can)."
    for name, (allowed, default) in (choices or {}).items():
        if options.get(name, default) not in allowed:
            problems[name] = f"Use one of {', '.join(allowed)}."
    for name, default in (flags or {}).items():
        if not isinstance(options.get(name, default), bool):
            problems[name] = "true or false."
    zone = options.get("time_zone") if time_zone else None
    if zone:
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            problems["time_zone"] = f"Unknown time zone {zone!r}."
    problem = headers_problem(options.get("headers", {})) if headers else ""
    if problem:
        problems["headers"] = problem
    return problems


def plant_zone(name: str | None) -> zoneinfo.ZoneInfo:
    """The plant's zone (option ``time_zone``); a bad name (``option_problems`` reports it) falls back to the site's."""
    from django.conf import settings

    try:
        return zoneinfo.ZoneInfo(name or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def plant_date(iso: str | None, zone: zoneinfo.ZoneInfo) -> str:
    """The plant's calendar day (``YYYY-MM-DD``) of an ISO moment (naive: UTC), today's when there is none."""
    moment = dt.datetime.fromisoformat(iso) if iso else dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(zone).strftime("%Y-%m-%d")


def decimal_or_zero(value: Any) -> Decimal:
    """A quantity an ERP answered (a number or its text); nothing, an empty text or false is zero."""
    if value in (None, "", False):
        return Decimal(0)
    return Decimal(str(value))


def int_or_zero(value: Any) -> int:
    """A whole number an ERP answered (``"10"``, ``10.0``); zero for anything that is none."""
    try:
        return int(Decimal(str(value)))
    except (ArithmeticError, ValueError, TypeError):
        return 0


_ENVIRONMENT_SETTINGS = (
    "http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
    "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
)
RETRYABLE_STATUSES = frozenset({408, 423, 425, 429, 500, 502, 503, 504})


def classify_exception(error: requests.RequestException) -> PostResult:
    """A network failure: was the request certainly not sent (retry) or maybe sent (look up first)?"""
    if isinstance(error, requests.ConnectTimeout):
        return PostResult(Outcome.RETRYABLE, error=f"connect timeout: {error}", failure_kind=FailureKind.TIMEOUT)
    if isinstance(error, requests.ConnectionError) and _refused_before_sending(error):
        return PostResult(Outcome.RETRYABLE, error=f"connection refused: {error}", failure_kind=FailureKind.UNREACHABLE)
    # A read timeout, a reset or a dropped connection after the request went out: the ERP
    # may have booked it. Only a look-up by our key can tell.
    return PostResult(Outcome.UNKNOWN, error=f"no answer: {type(error).__name__}: {error}", failure_kind=FailureKind.AMBIGUOUS)


def as_retryable(result: PostResult) -> PostResult:
    """A failed read (a look-up, a query) changed nothing in the ERP, so it is never ambiguous: retry it.
    The kind of failure stays what it was."""
    if result.outcome == Outcome.UNKNOWN:
        return PostResult(Outcome.RETRYABLE, error=result.error, http_status=result.http_status, failure_kind=result.failure_kind)
    return result


def _refused_before_sending(error: requests.ConnectionError) -> bool:
    """True when no connection was ever made (refused, unresolvable), so nothing can have been sent."""
    reason = error.args[0] if error.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
    return isinstance(reason, (urllib3.exceptions.NewConnectionError, ConnectionRefusedError))


def retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def classify_status(response: requests.Response, error: str) -> PostResult:
    """An HTTP error answer: transient statuses retry, everything else is permanent."""
    outcome = Outcome.RETRYABLE if response.status_code in RETRYABLE_STATUSES else Outcome.REJECTED
    return PostResult(
        outcome, error=error[:2000], http_status=response.status_code, retry_after=retry_after_seconds(response)
    )


def json_answer(call: Callable[[], requests.Response], *, erp: str, read: bool, answered: Sequence[int] = (200,)) -> Any:
    """The parsed JSON of an ERP that answers HTTP 200 even to a failed call (Kingdee, U8), or how the call failed:
    a network failure (a read is never ambiguous), an HTTP error (its page's text kept), an unreadable body (a write's
    may have been booked: unknown)."""
    try:
        response = call()
    except requests.RequestException as error:
        result = classify_exception(error)
        return as_retryable(result) if read else result
    if response.status_code not in answered:
        text = " ".join(re.sub(r"<[^>]+>", " ", response.text).split())[:500]
        return classify_status(response, f"{erp} HTTP {response.status_code}: {text}")
    try:
        return response.json()
    except ValueError:
        error = f"{erp} answered something unreadable: {response.text[:200]}"
        return PostResult(Outcome.RETRYABLE if read else Outcome.UNKNOWN, error=error, http_status=200)
