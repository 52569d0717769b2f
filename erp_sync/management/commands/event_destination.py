"""Manage the event stream's destinations: ``event_destination add|list|test|enable|disable|remove``.
Passwords are never printed."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from common.errors import DomainError
from erp_sync.event_destinations import (
    event_destination_enable,
    event_destination_remove,
    event_destination_test,
    event_destination_upsert,
    event_destinations_list,
)


class Command(BaseCommand):
    help = "Add, list, test, enable, disable or remove the brokers (RabbitMQ, MQTT) every event is published to."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="create or update a destination")
        add.add_argument("name")
        add.add_argument("--url", required=True, help="amqp://user:password@host:5672/%%2F or mqtt://user:password@host:1883")
        add.add_argument("--exchange", help="AMQP: the topic exchange (default mes.events)")
        add.add_argument("--topic-prefix", help="MQTT: put before <kind>/<work order> (default mes/)")
        add.add_argument("--disabled", action="store_true", help="store it but publish nothing to it")
        actions.add_parser("list", help="show every destination (passwords hidden) with what it has yet to get")
        for action, text in (
            ("test", "publish a test event and wait for the broker's confirm"),
            ("enable", "publish to it again (it catches up from where it stopped)"),
            ("disable", "stop publishing to it; it keeps its place"),
            ("remove", "delete it"),
        ):
            actions.add_parser(action, help=text).add_argument("name")

    def handle(self, *args, action: str, **options):
        try:
            getattr(self, f"_{action}")(**options)
        except DomainError as error:
            raise CommandError(error.message) from None

    def _add(self, *, name, url, exchange, topic_prefix, disabled, **_):
        destination, created = event_destination_upsert(
            name=name, url=url, exchange=exchange, topic_prefix=topic_prefix, is_enabled=False if disabled else None,
        )
        where = destination.exchange if destination.exchange else f"topics {destination.topic_prefix}<kind>/<work order>"
        self.stdout.write(f"{'Created' if created else 'Updated'} {destination.kind} destination {destination.name} → {where}")

    def _list(self, **_):
        rows = event_destinations_list()
        if not rows:
            self.stdout.write("No event destinations. Add one: manage.py event_destination add NAME --url amqp://127.0.0.1:5672/%2F")
            return
        self.stdout.write(f"{'name':20} {'kind':5} {'enabled':7} {'pending':>8} {'published':>10}  url / exchange or topic prefix")
        for row in rows:
            self.stdout.write(
                f"{row['name']:20} {row['kind']:5} {'yes' if row['is_enabled'] else 'no':7} {row['pending']:>8} "
                f"{row['published_count']:>10}  {row['url']} {row['exchange'] or row['topic_prefix'] or ''}".rstrip()
            )
            if row["secret_state"] != "ok":
                self.stdout.write(f"  {row['name']}: password must be re-entered (MES_SECRETS_KEY cannot decrypt it); nothing is published to it")
            if row["last_error"]:
                self.stdout.write(f"  {row['name']}: failing since {row['failing_since']:%Y-%m-%d %H:%M:%S}: {row['last_error']}")

    def _test(self, *, name, **_):
        result = event_destination_test(name=name)
        if not result.ok:
            raise CommandError(f"{name}: {result.detail}")
        self.stdout.write(f"{name}: {result.detail} ({result.latency_ms} ms)")

    def _enable(self, *, name, **_):
        event_destination_enable(name=name, enabled=True)
        self.stdout.write(f"{name}: enabled")

    def _disable(self, *, name, **_):
        event_destination_enable(name=name, enabled=False)
        self.stdout.write(f"{name}: disabled")

    def _remove(self, *, name, **_):
        event_destination_remove(name=name)
        self.stdout.write(f"{name}: removed")
