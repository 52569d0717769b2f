"""``reconcile [--order N] [--connection NAME] [--repair-missing]``: compare MES and ERP totals, list every drift."""

from __future__ import annotations

import argparse
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from common.errors import DomainError
from erp_sync.models import Drift, ErpConnection, ReconciliationRun
from erp_sync.reconciliation import drift_list, drift_repair, reconcile

EXIT_CODES = """\
exit status:
  0  no drift: the ERP holds what the MES says it should
  1  drift found (listed above the summary); with --repair-missing, the resends were queued,
     and a later run confirms them
  2  bad arguments
  3  no drift found, but the ERP could not be asked about some order (see the summary)

A drift is listed until a later run no longer finds it. Kinds: missing_in_erp (a posting the
MES acknowledged or discarded that the ERP lacks), extra_in_erp (the ERP holds a key the MES
never sent or took back, or holds one twice), quantity_drift (quantities differ beyond what the key
differences explain: correct by hand), material_drift (the goods an order issued or received of an
item differ: correct by hand). Messages still on their way never count as drift.
"""
ACTOR_LABEL = "manage.py reconcile"


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    pass


class Command(BaseCommand):
    help = "Compare MES and ERP totals per order and operation through each order's connection; list every drift."

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, epilog=EXIT_CODES, **kwargs)
        parser.formatter_class = type("ReconcileHelpFormatter", (parser.formatter_class, _HelpFormatter), {})
        return parser

    def add_arguments(self, parser):
        parser.add_argument("--order", metavar="N", help="check only this work order (default: every order with settled messages)")
        parser.add_argument("--connection", metavar="NAME", help="check only orders going through this ERP connection")
        parser.add_argument(
            "--repair-missing", action="store_true",
            help="send again every posting found missing in the ERP (looked up by our key first; audited)",
        )
        parser.add_argument("--reason", default="", help="why, for the audit trail of --repair-missing (default: names this command)")

    def handle(self, *args, order, connection, repair_missing, reason, **options):
        if connection and not ErpConnection.objects.filter(name=connection).exists():
            raise CommandError(f"No ERP connection named {connection}.", returncode=2)
        try:
            run = reconcile(work_order=order, connection=connection, trigger=ReconciliationRun.Trigger.COMMAND)
        except DomainError as error:  # an order the MES does not know
            raise CommandError(error.message, returncode=2) from None
        drifts = drift_list(status="open", work_order=order, limit=10_000)
        if connection:
            drifts = [drift for drift in drifts if drift["connection"] == connection]
        seen = [drift for drift in drifts if drift["last_seen_at"] >= run.started_at]
        self._table(seen)
        if repair_missing:
            self._repair_missing(seen, reason or f"missing in the ERP at reconciliation run {run.pk} ({ACTOR_LABEL} --repair-missing)")
        self._summary(run, seen)
        if seen:
            raise SystemExit(1)
        if run.orders_failed:
            raise SystemExit(3)

    def _table(self, drifts: list[dict]) -> None:
        if not drifts:
            return
        header = ("ID", "ORDER", "OP", "KIND", "KEY", "MES good/scrap/rework", "ERP good/scrap/rework", "MES STATE", "FOUND", "REPAIRED")
        rows = [header] + [
            (
                str(drift["id"]),
                drift["work_order"],
                f"{drift['operation']:04d}",
                drift["kind"],
                (drift["key"] or "-")[:36],
                _quantities(drift["mes"]),
                _quantities(drift["erp"]),
                (drift["message"] or {}).get("state") or "-",
                timezone.localtime(drift["found_at"]).strftime("%Y-%m-%d %H:%M"),
                timezone.localtime(drift["repaired_at"]).strftime("%Y-%m-%d %H:%M") if drift["repaired_at"] else "-",
            )
            for drift in drifts
        ]
        widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
        for row in rows:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        self.stdout.write("")

    def _repair_missing(self, drifts: list[dict], reason: str) -> None:
        for drift in drifts:
            if drift["kind"] != Drift.Kind.MISSING_IN_ERP:
                continue
            try:
                drift_repair(drift_id=drift["id"], reason=reason, actor_label=ACTOR_LABEL)
            except DomainError as error:
                self.stderr.write(f"drift {drift['id']}: not resent: {error.message}")
            else:
                self.stdout.write(f"drift {drift['id']}: {drift['work_order']}/{drift['operation']:04d} {drift['key']} queued to be sent again")

    def _summary(self, run: ReconciliationRun, drifts: list[dict]) -> None:
        kinds = {kind: sum(1 for drift in drifts if drift["kind"] == kind) for kind in Drift.Kind.values}
        scope = f"order {run.scope_work_order}" if run.scope_work_order else "all orders"
        if run.scope_connection:
            scope += f" on {run.scope_connection}"
        self.stdout.write(
            f"Reconciliation run {run.pk} ({scope}): {run.orders_checked} order(s) checked, "
            f"{len(drifts)} drift(s) ({kinds['missing_in_erp']} missing in the ERP, {kinds['extra_in_erp']} extra in the ERP, "
            f"{kinds['quantity_drift']} quantity, {kinds['material_drift']} materials), {run.drifts_new} new, "
            f"{run.drifts_resolved} resolved since the last run."
        )
        for failure in run.failures:
            self.stderr.write(f"not checked: {failure['work_order']} via {failure['connection'] or '(no connection)'}: {failure['error']}")
        if run.orders_failed:
            self.stdout.write(f"{run.orders_failed} order(s) could not be checked.")
        if not run.orders_checked and not run.orders_failed:
            self.stdout.write("Nothing to reconcile: no order in scope has a settled message.")


def _quantities(values: dict) -> str:
    return "/".join("-" if values[name] is None else _plain(values[name]) for name in ("good", "scrap", "rework"))


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")
