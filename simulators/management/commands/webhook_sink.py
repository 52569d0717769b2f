"""``python manage.py webhook_sink``: receive webhooks (andon notices) on loopback until SIGTERM/SIGINT."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

from django.core.management.base import BaseCommand

from simulators.webhook_sink import WebhookSink

READY_MARKER = "WEBHOOK SINK READY"


class Command(BaseCommand):
    help = "Receive webhooks (as a chat robot or an alerting endpoint would) on 127.0.0.1 and keep them in a ledger."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one, printed)")
        parser.add_argument("--ledger", type=Path, default=None, help="append each request received as a JSON line here")

    def handle(self, *args, **options) -> None:
        sink = WebhookSink(port=options["port"], ledger=options["ledger"])
        stopped = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopped.set())
        thread = threading.Thread(target=sink.serve_forever, daemon=True)
        thread.start()
        self.stdout.write(f"{READY_MARKER} {json.dumps({'port': sink.port})}", ending="\n")
        self.stdout.flush()
        stopped.wait()
        sink.stop()
        self.stdout.write(f"received {len(sink.received)} webhook(s)")
