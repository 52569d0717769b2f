"""``python manage.py erp_simulator``: run a simulated ERP on loopback until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from simulators.erp.client import READY_MARKER
from simulators.erp.sap import SERVICE_PATH
from simulators.erp.server import (
    DEFAULT_ERPNEXT_TOKEN,
    DEFAULT_KINGDEE_ACCT_ID,
    DEFAULT_KINGDEE_APP_ID,
    DEFAULT_KINGDEE_APP_SECRET,
    DEFAULT_KINGDEE_PASSWORD,
    DEFAULT_KINGDEE_USER,
    DEFAULT_ODOO_DATABASE,
    DEFAULT_ODOO_KEY,
    DEFAULT_ODOO_LOGIN,
    DEFAULT_SAP_PASSWORD,
    DEFAULT_SAP_USER,
    DEFAULT_U8_APP_KEY,
    DEFAULT_U8_APP_SECRET,
    DEFAULT_U8_FROM_ACCOUNT,
    DEFAULT_U8_TO_ACCOUNT,
    FLAVORS,
    Simulator,
    SimulatorConfig,
)

EPILOG = f"""\
Demo credentials (change them with --user/--password/--token):
  sap      Basic auth {DEFAULT_SAP_USER} / {DEFAULT_SAP_PASSWORD}; service at {SERVICE_PATH}
  erpnext  Authorization: token {DEFAULT_ERPNEXT_TOKEN}
  odoo     Authorization: bearer {DEFAULT_ODOO_KEY} (JSON-2); XML-RPC login {DEFAULT_ODOO_LOGIN}
           with that key as password, database "{DEFAULT_ODOO_DATABASE}"
  kingdee  site /k3cloud/, account set (acct_id) {DEFAULT_KINGDEE_ACCT_ID}; ValidateUser
           {DEFAULT_KINGDEE_USER} / {DEFAULT_KINGDEE_PASSWORD}, or signed headers with AppID
           {DEFAULT_KINGDEE_APP_ID} and app secret {DEFAULT_KINGDEE_APP_SECRET}
  u8       gateway root (/system/token, /api/<object>/add); from_account {DEFAULT_U8_FROM_ACCOUNT},
           to_account {DEFAULT_U8_TO_ACCOUNT}, app_key {DEFAULT_U8_APP_KEY}, app_secret {DEFAULT_U8_APP_SECRET}
  b2mml    POST B2MML documents (application/xml) to /b2mml; no credentials; validated against MESA's schemas

Control API on --control-port (always up, even when the ERP port is down):
  GET /__sim__/health | GET,POST,DELETE /__sim__/faults | POST /__sim__/reset
  GET /__sim__/ledger[?since=N][&format=text] | GET,POST /__sim__/config
  POST /__sim__/sessions/invalidate   (SAP CSRF tokens, Kingdee sessions, U8 tokens)
  e.g. curl -X POST localhost:PORT/__sim__/faults -d '{{"down": true}}'
  faults: down, error_rate, latency_ms, locked, locked_orders, rejected_orders,
          drop_after_commit_rate

Only 127.0.0.1 is ever bound. Port 0 picks free ports; the chosen ones are printed in the
line "{READY_MARKER} {{...}}". The ledger is printed when the process ends.
"""


class Command(BaseCommand):
    help = "Run a simulated ERP (SAP OData, ERPNext, Odoo, Kingdee K/3 Cloud, Yonyou U8+ OpenAPI or a B2MML receiver) with fault injection, on 127.0.0.1 only."
    requires_system_checks: list[str] = []  # the simulator touches no model and no database

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> argparse.ArgumentParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        parser.epilog = EPILOG
        return parser

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--flavor", required=True, choices=FLAVORS, help="which ERP to speak")
        parser.add_argument("--port", type=int, required=True, help="ERP port on 127.0.0.1 (0: any free port)")
        parser.add_argument(
            "--control-port",
            type=int,
            default=None,
            help="control API port (default: --port + 1; any free port when --port is 0)",
        )
        parser.add_argument(
            "--ledger",
            type=Path,
            default=None,
            help="also append every ledger entry to this file as JSON lines, flushed at once",
        )
        parser.add_argument(
            "--user",
            default=None,
            help=f"SAP Basic-auth user (default {DEFAULT_SAP_USER}), Odoo login (default {DEFAULT_ODOO_LOGIN}) "
            f"or Kingdee user (default {DEFAULT_KINGDEE_USER})",
        )
        parser.add_argument(
            "--password", default=None,
            help=f"SAP Basic-auth or Kingdee password (default {DEFAULT_SAP_PASSWORD}, Kingdee {DEFAULT_KINGDEE_PASSWORD})",
        )
        parser.add_argument(
            "--token",
            default=None,
            help=f"ERPNext api_key:api_secret (default {DEFAULT_ERPNEXT_TOKEN}) or Odoo API key "
            f"(default {DEFAULT_ODOO_KEY})",
        )
        parser.add_argument(
            "--database", default=DEFAULT_ODOO_DATABASE, help="Odoo database name (X-Odoo-Database, XML-RPC)"
        )
        parser.add_argument(
            "--sap-dedupe",
            choices=("off", "reject", "replay"),
            default="off",
            help="SAP: what a second post with the same ExternalSystemConfirmation gets "
            "(off: booked again, as SAP documents; reject: 400; replay: the first record)",
        )
        parser.add_argument(
            "--sap-csrf-ttl",
            type=float,
            default=1800.0,
            help="SAP: CSRF token lifetime in seconds, 0 = never expires (default 1800)",
        )
        parser.add_argument(
            "--sap-csrf-max-uses",
            type=int,
            default=0,
            help="SAP: writes per CSRF token before it expires, 0 = unlimited",
        )
        parser.add_argument(
            "--erpnext-duplicate-error",
            choices=("duplicate_entry", "unique_validation"),
            default="duplicate_entry",
            help="ERPNext: a repeated mes_confirmation_id gets 409 DuplicateEntryError (default) or "
            "417 UniqueValidationError (what Frappe really raises for a unique custom field)",
        )
        parser.add_argument(
            "--no-odoo-autocreate",
            action="store_true",
            help="Odoo: do not create orders and work orders that a search names",
        )
        parser.add_argument("--kingdee-acct-id", default=DEFAULT_KINGDEE_ACCT_ID, help="Kingdee: the account set (数据中心) id")
        parser.add_argument("--kingdee-app-id", default=DEFAULT_KINGDEE_APP_ID, help="Kingdee: the AppID of signed calls")
        parser.add_argument("--kingdee-app-secret", default=DEFAULT_KINGDEE_APP_SECRET, help="Kingdee: the app secret of signed calls")
        parser.add_argument(
            "--kingdee-session-ttl", type=float, default=1200.0,
            help="Kingdee: seconds a session lives without use, 0 = never expires (default 1200)",
        )
        parser.add_argument(
            "--u8-token-ttl", type=float, default=7200.0, help="U8: seconds a token lives (expiresIn, default 7200)"
        )
        parser.add_argument(
            "--u8-async-delay-ms", type=int, default=30,
            help="U8: milliseconds before an add's result can be fetched from its url (default 30)",
        )
        parser.add_argument("--faults", default=None, help="faults to start with, as JSON, e.g. '{\"latency_ms\": 50}'")
        parser.add_argument("--seed", type=int, default=None, help="seed for the fault dice (repeatable runs)")
        parser.add_argument("--verbose", action="store_true", help="log every request to stderr")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            initial_faults = json.loads(options["faults"]) if options["faults"] else {}
        except json.JSONDecodeError as error:
            raise CommandError(f"--faults is not valid JSON: {error}") from None
        if not 0 <= options["port"] <= 65535:
            raise CommandError("--port must be between 0 and 65535")
        config = SimulatorConfig(
            flavor=options["flavor"],
            port=options["port"],
            control_port=options["control_port"],
            ledger_path=options["ledger"],
            user=options["user"],
            password=options["password"],
            token=options["token"],
            database=options["database"],
            sap_dedupe=options["sap_dedupe"],
            sap_csrf_ttl_s=options["sap_csrf_ttl"],
            sap_csrf_max_uses=options["sap_csrf_max_uses"],
            erpnext_duplicate_error=options["erpnext_duplicate_error"],
            odoo_autocreate=not options["no_odoo_autocreate"],
            kingdee_acct_id=options["kingdee_acct_id"],
            kingdee_app_id=options["kingdee_app_id"],
            kingdee_app_secret=options["kingdee_app_secret"],
            kingdee_session_ttl_s=options["kingdee_session_ttl"],
            u8_token_ttl_s=options["u8_token_ttl"],
            u8_async_delay_ms=options["u8_async_delay_ms"],
            seed=options["seed"],
            verbose=options["verbose"],
            initial_faults=initial_faults,
        )
        if options["verbose"]:
            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
        try:
            simulator = Simulator(config)
            simulator.start()
        except (ValueError, OSError) as error:
            raise CommandError(f"cannot start the {config.flavor} simulator: {error}") from None

        stop = threading.Event()
        for signal_number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signal_number, lambda *_: stop.set())
        health = simulator.health()
        self.stdout.write(
            f"ERP simulator ({config.flavor}) listening on {health['service_url']}; "
            f"control API on http://127.0.0.1:{simulator.control_port}/__sim__/"
        )
        ready = {"flavor": config.flavor, "port": simulator.port, "control_port": simulator.control_port}
        self.stdout.write(f"{READY_MARKER} {json.dumps(ready)}")
        self.stdout.flush()
        try:
            while not stop.wait(0.5):
                pass
        finally:
            simulator.close()
            self.stdout.write(simulator.ledger.as_text(), ending="")
            self.stdout.flush()
