"""Watch a destination: ``events_tail <destination>`` subscribes to it (a temporary queue bound to
the exchange, or an MQTT subscription under the topic prefix) and prints each event as one JSON line."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time

from django.core.management.base import BaseCommand, CommandError

from common.errors import DomainError
from erp_sync.event_destinations import event_destination_get
from erp_sync.event_stream import tail


class Command(BaseCommand):
    help = "Print each event published to a destination as one JSON line (Ctrl-C to stop)."

    def add_arguments(self, parser):
        parser.add_argument("destination")
        parser.add_argument("--filter", default="#", help="AMQP binding key or MQTT topic under the prefix (default: everything)")
        parser.add_argument("--count", type=int, help="stop after this many events")
        parser.add_argument("--seconds", type=float, help="stop after this long")

    def handle(self, *args, destination, filter, count, seconds, **options):
        try:
            row = event_destination_get(name=destination)
        except DomainError as error:
            raise CommandError(error.message) from None
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
        deadline = time.monotonic() + seconds if seconds else None
        seen = 0

        def printed(event: dict) -> bool:
            nonlocal seen
            self.stdout.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")))
            self.stdout.flush()
            seen += 1
            return count is not None and seen >= count

        try:
            tail(destination=row, pattern=filter, on_event=printed, stop=stop, deadline=deadline)
        except KeyboardInterrupt:
            pass
        except OSError as error:
            raise CommandError(f"{destination}: {error}") from None
        sys.stdout.flush()
