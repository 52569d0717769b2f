"""The simulator's journal of everything the simulated ERP committed.

One entry per accepted posting, cancellation or state change, in commit order. Tests compare
it with the MES after the fact ("nothing missing, nothing doubled, order kept"), so it is
append-only, and with ``--ledger FILE`` every entry is also written (and flushed) as one
JSON line the moment it is committed: a simulator killed with SIGKILL still leaves a
complete file behind.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

#: Actions, so consumers can filter: a posting, its reversal, and the state changes some ERPs
#: need (Odoo's finish / mark done, a direct quantity write).
POST = "post"
CANCEL = "cancel"
FINISH = "finish"
MARK_DONE = "mark_done"
UPDATE = "update"


class Ledger:
    def __init__(self, *, flavor: str, path: Path | None = None) -> None:
        self.flavor = flavor
        self.path = path
        self._entries: list[dict[str, Any]] = []
        # Stock the ERP booked for production: (item, batch) → [issued to orders, received from orders].
        self._stock: dict[tuple[str, str], list[Decimal]] = {}
        self._lock = threading.Lock()
        self._file: TextIO | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")

    def record(
        self,
        *,
        action: str,
        document: str,
        document_type: str,
        key: str | None = None,
        order: str | None = None,
        operation: str | None = None,
        yield_qty: str = "0",
        scrap_qty: str = "0",
        rework_qty: str = "0",
        final: bool = False,
        cancels: str | None = None,
        cancels_key: str | None = None,
        response_dropped: bool = False,
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            entry = {
                "seq": len(self._entries) + 1,
                "at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                "flavor": self.flavor,
                "action": action,
                "key": key,
                "order": order,
                "operation": operation,
                "yield_qty": yield_qty,
                "scrap_qty": scrap_qty,
                "rework_qty": rework_qty,
                "final": final,
                "document_type": document_type,
                "document": document,
                "cancels": cancels,
                "cancels_key": cancels_key,
                "response_dropped": response_dropped,
                "details": details or {},
            }
            self._entries.append(entry)
            if self._file is not None:
                self._file.write(json.dumps(entry) + "\n")
                self._file.flush()
            return entry

    def book(self, *, item: str, batch: str | None, issued: Decimal = Decimal(0), received: Decimal = Decimal(0)) -> None:
        """Add a goods movement to the stock totals of ``item`` and ``batch`` (negative to take one back).
        Call with the simulator lock held, in the same step as the ledger entry that reports it."""
        with self._lock:
            row = self._stock.setdefault((item, batch or ""), [Decimal(0), Decimal(0)])
            row[0] += issued
            row[1] += received

    def stock(self) -> list[dict[str, str]]:
        """What was issued to and received from production, per item and batch (quantities as plain decimals)."""
        with self._lock:
            return [
                {"item": item, "batch": batch, "issued": _plain(issued), "received": _plain(received)}
                for (item, batch), (issued, received) in sorted(self._stock.items())
            ]

    def entries(self, *, since: int = 0) -> list[dict[str, Any]]:
        """Entries with ``seq`` greater than ``since``, oldest first."""
        with self._lock:
            return [dict(entry) for entry in self._entries[since:]]

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._stock.clear()
            if self._file is not None:
                self._file.seek(0)
                self._file.truncate()
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def as_text(self) -> str:
        return format_ledger(self.entries(), flavor=self.flavor)


def _plain(number: Decimal) -> str:
    return "0" if number == 0 else format(number.normalize(), "f")


def format_ledger(entries: list[dict[str, Any]], *, flavor: str) -> str:
    """A fixed-width table for humans; the JSON form is the one to compare by program."""
    lines = [f"ERP simulator ledger ({flavor}): {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}"]
    if not entries:
        return lines[0] + "\n"
    header = ("seq", "at", "action", "order", "op", "yield", "scrap", "rework", "final", "document", "key")
    rows = [
        (
            str(entry["seq"]),
            entry["at"][11:23],
            entry["action"] + (" (dropped)" if entry["response_dropped"] else ""),
            entry["order"] or "",
            entry["operation"] or "",
            entry["yield_qty"],
            entry["scrap_qty"],
            entry["rework_qty"],
            "X" if entry["final"] else "",
            entry["document"] + (f" ← {entry['cancels']}" if entry["cancels"] else ""),
            entry["key"] or "",
        )
        for entry in entries
    ]
    widths = [max(len(row[index]) for row in [header, *rows]) for index in range(len(header))]
    for entry, row in zip([None, *entries], [header, *rows], strict=True):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        lines.extend(_movement_lines(entry))
    return "\n".join(lines) + "\n"


def _movement_lines(entry: dict[str, Any] | None) -> list[str]:
    """The goods movements an entry booked, one indented line each: SAP's movement type (ERPNext:
    issued or received), material, batch and quantity."""
    lines = []
    for movement in ((entry or {}).get("details") or {}).get("movements") or []:
        kind = movement.get("type") or ("received" if movement.get("finished") else "issued")
        material = movement.get("material") or movement.get("item") or ""
        batch = f" batch {movement['batch']}" if movement.get("batch") else ""
        lines.append(f"      {kind} {material}{batch} {movement.get('quantity', '')}".rstrip())
    return lines
