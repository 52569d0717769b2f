"""``manage.py erp_pull <name>``: pull a connection's released orders now and say what it did."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from common.errors import DomainError
from erp_sync.models import PullRun
from erp_sync.pulls import order_pull


class Command(BaseCommand):
    help = "Pull the released production orders of an ERP connection (option pull_orders) now and apply them."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the ERP connection")
        parser.add_argument(
            "--full", action="store_true",
            help="read every released order again, not only those changed since the last pull (the upserts make it harmless)",
        )

    def handle(self, *args, name: str, full: bool, **options):
        try:
            run = order_pull(connection=name, trigger=PullRun.Trigger.COMMAND, full=full)
        except DomainError as error:
            raise CommandError(error.message) from None
        assert run is not None  # only a scheduled pull is skipped
        if run.state == PullRun.State.FAILED:
            raise CommandError(
                f"{name}: the pull failed, nothing was applied and the high-water mark stays at {run.since or '(none)'}: {run.error}"
            )
        self.stdout.write(
            f"{name}: read {run.orders_read} order(s) changed since {run.since or '(the beginning)'}: "
            f"{run.orders_created} created, {run.orders_updated} changed, {run.orders_unchanged} unchanged, "
            f"{run.orders_refused} refused. High-water mark: {run.high_water_mark or '(none)'}."
        )
        for refusal in run.refusals.all():
            self.stdout.write(f"  refused {refusal.erp_key}: {refusal.code}: {refusal.message}")
        if run.orders_refused:
            self.stdout.write(f"  See /sync/pulls/?connection={name} or GET /api/v1/sync/pulls?connection={name}.")
