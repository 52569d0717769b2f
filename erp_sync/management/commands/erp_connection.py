"""Manage ERP connections: ``erp_connection add|list|test``. Secrets are never printed."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Q

from common.errors import DomainError
from erp_sync.connectors.registry import CONNECTOR_CLASSES
from erp_sync.models import ErpConnection, OutboxMessage
from erp_sync.selectors import PENDING_STATES
from erp_sync.services import erp_connection_batching, erp_connection_test, erp_connection_upsert


def _option(text: str) -> tuple[str, object]:
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise CommandError(f"--option takes key=value, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


class Command(BaseCommand):
    help = "Add, list or test the connections through which confirmations reach the ERP."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="create or update a connection")
        add.add_argument("name")
        add.add_argument("--kind", required=True, choices=sorted(CONNECTOR_CLASSES))
        add.add_argument("--url", required=True, help="the ERP's base URL (for SAP: the OData service root; Kingdee: the site, …/k3cloud/; U8: the OpenAPI gateway, https://api.yonyouup.com; B2MML: the receiver's URL, or file:///path/to/folder to write files)")
        add.add_argument("--user")
        add.add_argument("--password")
        add.add_argument("--token", help="API token (ERPNext key:secret, Odoo API key, REST bearer token; Kingdee and U8 take none: U8 fetches its own with --option app_key=… --option app_secret=…)")
        add.add_argument("--default", action="store_true", help="receive every work order that names no other connection")
        add.add_argument("--timeout", type=int, help="seconds to wait for the ERP (1-300, default 10)")
        add.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="kind-specific option; VALUE may be JSON")
        add.add_argument("--disabled", action="store_true", help="store it but send nothing through it")
        actions.add_parser("list", help="show every connection (secrets hidden) with its queue")
        test = actions.add_parser("test", help="call the ERP once and say whether it answers")
        test.add_argument("name")

    def handle(self, *args, action: str, **options):
        try:
            getattr(self, f"_{action}")(**options)
        except DomainError as error:
            raise CommandError(error.message) from None

    def _add(self, *, name, kind, url, user, password, token, default, timeout, option, disabled, **_):
        if password and token:
            raise CommandError("Give --user/--password or --token, not both.")
        extra = dict(_option(text) for text in option)
        existing = ErpConnection.objects.filter(name=name).first()
        connection, created = erp_connection_upsert(
            name=name, kind=kind, base_url=url, username=user, password=password, token=token,
            options={**(existing.options if existing else {}), **extra}, timeout_seconds=timeout,
            is_default=True if default else None, is_enabled=False if disabled else (None if existing else True),
        )
        self.stdout.write(f"{'Created' if created else 'Updated'} {connection.kind} connection {connection.name}"
                          f"{' (default)' if connection.is_default else ''} → {connection.base_url}")

    def _list(self, **_):
        queues = {
            row["destination"]: row
            for row in OutboxMessage.objects.values("destination").annotate(
                pending=Count("id", filter=Q(state__in=PENDING_STATES)),
                dead=Count("id", filter=Q(state=OutboxMessage.State.DEAD)),
            )
        }
        rows = list(ErpConnection.objects.all())
        if not rows:
            self.stdout.write("No ERP connections. Add one: manage.py erp_connection add NAME --kind sap --url URL --user U --password P --default")
            return
        self.stdout.write(f"{'name':20} {'kind':8} {'default':7} {'enabled':7} {'pending':>7} {'dead':>5}  url")
        reenter = []
        for row in rows:
            queue = queues.get(row.name, {}) if not row.is_default else {
                "pending": sum(q["pending"] for key, q in queues.items() if key in {"", row.name}),
                "dead": sum(q["dead"] for key, q in queues.items() if key in {"", row.name}),
            }
            self.stdout.write(
                f"{row.name:20} {row.kind:8} {'yes' if row.is_default else '':7} {'yes' if row.is_enabled else 'no':7} "
                f"{queue.get('pending', 0):>7} {queue.get('dead', 0):>5}  {row.base_url}"
            )
            if row.unreadable_secrets():
                reenter.append(f"  {row.name}: secret must be re-entered ({', '.join(row.unreadable_secrets())}): "
                               "MES_SECRETS_KEY cannot decrypt it; nothing is sent until it is written again")
        for line in reenter:
            self.stdout.write(line)

    def _test(self, *, name, **_):
        health = erp_connection_test(name=name)
        batching = erp_connection_batching(name=name)
        latency = f" in {health.latency_ms} ms" if health.latency_ms is not None else ""
        if not health.reachable:
            raise CommandError(f"{name}: the ERP did not answer as expected{latency}: {health.detail}")
        self.stdout.write(f"{name}: reachable{latency}. {health.detail}".strip())
        if batching:
            self.stdout.write(batching)
