"""ISA-95 B2MML: each outbox message as a B2MML V0701 document, by HTTP POST or into a folder.

What each message becomes is in ``erp_sync.b2mml.documents`` (``ProcessOperationsPerformance`` for
reports and scanned goods movements, ``CancelOperationsPerformance`` for reversals; BODID = our
idempotency key). Every document is validated against MESA's schemas (shipped in
``erp_sync/b2mml/schema``) before it leaves; one that does not validate is a permanent refusal naming
the rule, never sent.

Where to (the connection's URL):

``http://…`` / ``https://…``
    ``POST`` with ``Content-Type: application/xml`` and ``Idempotency-Key: <our key>`` (the BODID
    too). Answers: 2xx accepted; 409 duplicate (the receiver already has that BODID);
    408/423/425/429/5xx transient; any other status permanent, with the receiver's text. After an
    answer that never came, the dispatcher looks the BODID up before sending again when the receiver
    offers a look-up (option ``lookup_url``, e.g. ``https://hub/b2mml/{bodid}``: 2xx found, 404/410
    not found). Without one the same document (same BODID, same bytes) is sent again, so **the
    receiver must drop a BODID it has already processed** (answer 409, or its first answer again) —
    the simulator does both.
``file:///path/to/folder``
    the document is written to ``<folder>/<BOD name>-<key>.xml`` under a hidden temporary name first
    (``.<name>.<random>.tmp``), flushed to disk, then renamed in one step, so a program watching the
    folder never sees half a file. The name is the key's: a message sent again finds its file and
    writes nothing (duplicate); ``find`` looks for it. A folder that is missing or not writable is
    unreachable (nothing written), retried.

Options: ``sender`` (``open-mes``), the ApplicationArea's Sender/LogicalID; ``receiver`` (none),
its Receiver/LogicalID; ``lookup_url`` (none, HTTP only), where a BODID is looked up; ``headers`` ({})
sent on every HTTP request. HTTP credentials: the user and
password as Basic, or the token as a Bearer token.

The goods messages a report caused (``confirmation_id`` set) went inside the report's document
(its MaterialActual rows), and their reversals inside its cancellation: they are acknowledged
without sending anything, naming the report. A B2MML receiver is not read back: ``totals`` says so,
and reconciliation leaves such a connection out.
"""

from __future__ import annotations

import errno
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, unquote, urlparse

import requests

from erp_sync.b2mml.documents import document_name, performance_document
from erp_sync.b2mml.validation import document_problems, xml_parse
from erp_sync.connectors.base import (
    GOODS_KINDS,
    ConnectionConfig,
    Connector,
    ErpTotals,
    FailureKind,
    Health,
    Outcome,
    Posting,
    PostResult,
    as_retryable,
    basic_auth,
    classify_exception,
    classify_status,
    header_value_problem,
    http_session,
    option_problems,
)

DEFAULT_SENDER = "open-mes"
TEXT_OPTIONS = ("sender", "receiver")
#: OS errors after which nothing was written and the same write may work later (the folder is back).
UNREACHABLE_ERRNOS = frozenset({errno.ENOENT, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EROFS})


def folder_of(url: str) -> Path | None:
    """The folder a ``file://`` URL names, or None for any other URL."""
    parsed = urlparse(url)
    if parsed.scheme != "file":
        return None
    return Path(unquote(parsed.path))


class B2mmlConnector(Connector):
    kind: ClassVar[str] = "b2mml"
    accepts_folder: ClassVar[bool] = True
    #: Quality records stay in the MES: a ProcessOperationsPerformance carries production, and a
    #: disposition's scrap or rework reaches the receiver with the report it booked.
    not_booked: ClassVar[Mapping[str, str]] = {
        "inspection_result": "B2MML performance documents carry production, not test results; the MES keeps the result.",
        "nonconformance_disposition": "Scrap and rework reached the receiver with the report the disposition booked; the decision is kept in the MES.",
    }
    tracks_rework: bool = False

    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__(config)
        self.options = config.options or {}
        self.url = config.base_url
        self.folder = folder_of(config.base_url)
        self.sender = str(self.options.get("sender") or DEFAULT_SENDER)
        self.receiver = str(self.options.get("receiver") or "")
        self.timeout = (config.timeout_seconds, config.timeout_seconds)
        self.session = http_session(accept="application/xml, text/xml;q=0.9, */*;q=0.1", headers=self.options.get("headers"))
        if config.token:
            self.session.headers["Authorization"] = f"Bearer {config.token}"
        elif config.username:
            self.session.auth = basic_auth(config.username, config.password)

    # -- the interface -------------------------------------------------------------------

    def post(self, posting: Posting) -> PostResult:
        if _rides_with_report(posting):
            return _booked_with_report(posting)
        document = self.document(posting)
        if isinstance(document, PostResult):
            return document
        name, data = document
        if self.folder is not None:
            return self._write(self.folder / _file_name(name, posting), data, name, posting)
        return self._send(data, name, posting)

    def document(self, posting: Posting) -> tuple[str, bytes] | PostResult:
        """The document's name and bytes, once they validate against the B2MML schemas; else a refusal."""
        try:
            name, data = performance_document(posting, sender=self.sender, receiver=self.receiver)
        except (KeyError, ValueError, TypeError, ArithmeticError) as error:
            return PostResult(Outcome.REJECTED, error=f"The message cannot be written as B2MML: {type(error).__name__}: {error}")
        problems = document_problems(xml_parse(data))
        if problems:
            listed = "; ".join(str(problem) for problem in problems)
            return PostResult(Outcome.REJECTED, error=f"The {name} document is not valid B2MML, so it was not sent: {listed}")
        return name, data

    def find(self, posting: Posting) -> PostResult | None:
        if _rides_with_report(posting):
            return _booked_with_report(posting)
        if self.folder is None:
            return self._look_up(posting)
        path = self.folder / _file_name(document_name(posting), posting)
        try:
            exists = path.exists()
        except OSError as error:
            return PostResult(Outcome.RETRYABLE, error=f"The folder cannot be read: {error}", failure_kind=FailureKind.UNREACHABLE)
        return _written(path, Outcome.ACCEPTED) if exists else None

    def totals(self, work_order: str) -> list[ErpTotals] | PostResult:
        return PostResult(
            Outcome.REJECTED, error="A B2MML receiver is not read back, so this connection cannot be reconciled."
        )

    def health(self) -> Health:
        started = time.monotonic()
        if self.folder is not None:
            if not self.folder.is_dir():
                return Health(False, detail=f"No folder {self.folder}.")
            if not os.access(self.folder, os.W_OK | os.X_OK):
                return Health(False, detail=f"The folder {self.folder} is not writable by this process.")
            return Health(True, detail=f"folder {self.folder} is writable", latency_ms=int((time.monotonic() - started) * 1000))
        try:
            response = self.session.get(self.url, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as error:
            return Health(False, detail=f"{type(error).__name__}: {error}")
        latency = int((time.monotonic() - started) * 1000)
        return Health(response.status_code < 500, detail=f"HTTP {response.status_code}", latency_ms=latency)

    def close(self) -> None:
        self.session.close()

    @staticmethod
    def validate_options(options: dict[str, Any]) -> dict[str, str]:
        problems = option_problems(options, headers=True)
        lookup = options.get("lookup_url", "")
        if not isinstance(lookup, str) or (lookup and (not lookup.startswith(("http://", "https://")) or "{bodid}" not in lookup)):
            problems["lookup_url"] = "An http(s) URL with {bodid} where the document's BODID goes."
        for name in TEXT_OPTIONS:
            value = options.get(name, "")
            if not isinstance(value, str) or len(value) > 200 or any(ord(character) < 32 for character in value):
                problems[name] = "A name of up to 200 characters, on one line."
        return problems

    @staticmethod
    def validate_credentials(*, username: str, password: str, token: str, options: dict[str, Any]) -> dict[str, str]:
        problem = header_value_problem(token) if token else ""
        return {"token": problem} if problem else {}

    # -- delivery ------------------------------------------------------------------------

    def _send(self, data: bytes, name: str, posting: Posting) -> PostResult:
        headers = {"Content-Type": "application/xml; charset=utf-8", "Idempotency-Key": posting.idempotency_key}
        try:
            response = self.session.post(self.url, data=data, headers=headers, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as error:
            return classify_exception(error)
        reference = {"document": name, "bodid": posting.idempotency_key}
        if 200 <= response.status_code < 300:
            return PostResult(Outcome.ACCEPTED, erp_ref=reference, erp_document=f"{name} {posting.idempotency_key}")
        if response.status_code == 409:
            return PostResult(Outcome.DUPLICATE, erp_ref=reference, erp_document=f"{name} {posting.idempotency_key}")
        text = " ".join(response.text.split())[:1000]
        return classify_status(response, f"B2MML receiver HTTP {response.status_code}: {text}")

    def _look_up(self, posting: Posting) -> PostResult | None:
        template = self.options.get("lookup_url")
        if not template:
            return None  # safe: a resend carries the same BODID, which the receiver drops (module docstring)
        url = template.replace("{bodid}", quote(posting.idempotency_key, safe=""))
        try:
            response = self.session.get(url, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as error:
            return as_retryable(classify_exception(error))
        if response.status_code in (404, 410):
            return None
        if 200 <= response.status_code < 300:
            name = document_name(posting)
            return PostResult(
                Outcome.ACCEPTED, erp_ref={"document": name, "bodid": posting.idempotency_key},
                erp_document=f"{name} {posting.idempotency_key}",
            )
        return as_retryable(classify_status(response, f"B2MML look-up HTTP {response.status_code}: {response.text[:500]}"))

    def _write(self, path: Path, data: bytes, name: str, posting: Posting) -> PostResult:
        """Write ``data`` to ``path`` all at once: a hidden temporary file, flushed, then renamed."""
        if path.exists():
            return _written(path, Outcome.DUPLICATE)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            with open(temporary, "xb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
            _sync_folder(path.parent)
        except OSError as error:
            try:
                temporary.unlink(missing_ok=True)
            except OSError:
                pass
            kind = FailureKind.UNREACHABLE if error.errno in UNREACHABLE_ERRNOS else FailureKind.REFUSED
            return PostResult(Outcome.RETRYABLE, error=f"The {name} document could not be written to {path.parent}: {error}", failure_kind=kind)
        return _written(path, Outcome.ACCEPTED)


def _file_name(name: str, posting: Posting) -> str:
    return f"{name}-{posting.idempotency_key}.xml"


def _written(path: Path, outcome: Outcome) -> PostResult:
    return PostResult(outcome, erp_ref={"file": str(path)}, erp_document=path.name)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX: fsync the directory); skipped where a folder cannot be opened so."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _rides_with_report(posting: Posting) -> bool:
    """A goods message a report caused: its movements went inside the report's own document."""
    return posting.kind in GOODS_KINDS and bool(posting.payload.get("confirmation_id"))


def _booked_with_report(posting: Posting) -> PostResult:
    confirmation = str(posting.payload.get("confirmation_id"))
    return PostResult(
        Outcome.ACCEPTED,
        erp_ref={"booked_with_confirmation": confirmation},
        erp_document=f"with confirmation {confirmation}",
    )
