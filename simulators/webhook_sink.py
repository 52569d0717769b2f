"""A webhook receiver for the demo and the tests: what a plant's chat robot or alerting endpoint
would be. It takes every POST (any path), answers as WeCom and DingTalk robots do
(``{"errcode": 0, "errmsg": "ok"}``) so channels of every type can point at it, and keeps what it
received, in memory and as JSON lines in ``ledger`` if given. ``GET /__sim__/received`` answers the
list. Only 127.0.0.1 is bound."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MAX_BODY = 1_000_000
KEPT_HEADERS = ("content-type", "x-mes-signature")


class WebhookSink:
    def __init__(self, *, port: int = 0, ledger: Path | None = None) -> None:
        self.received: list[dict[str, Any]] = []
        self.ledger = ledger
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 — http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                if not 0 <= length <= MAX_BODY:
                    return self._answer(413, {"errcode": 413, "errmsg": "too large"})
                body = self.rfile.read(length)
                try:
                    content: Any = json.loads(body)
                except ValueError:
                    content = body.decode("utf-8", errors="replace")
                split = urlsplit(self.path)
                entry = {
                    "path": split.path, "query": split.query, "body": content,
                    "headers": {name: self.headers[name] for name in KEPT_HEADERS if self.headers.get(name)},
                }
                sink.record(entry)
                self._answer(200, {"errcode": 0, "errmsg": "ok"})

            def do_GET(self) -> None:  # noqa: N802
                if urlsplit(self.path).path != "/__sim__/received":
                    return self._answer(404, {"errcode": 404, "errmsg": "not found"})
                with sink._lock:
                    received = list(sink.received)
                self._answer(200, {"received": received})

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.received.append(entry)
            if self.ledger is not None:
                with self.ledger.open("a", encoding="utf-8") as ledger:
                    ledger.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def serve_forever(self) -> None:
        self.server.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
