import sys

from django.core.management.base import BaseCommand

from mes.selectors.audit import audit_chain_verify
from mes.services.audit import events_seal


class Command(BaseCommand):
    help = "Check the audit trail's hash chain; exits 1 and names the first broken link if it does not hold."

    def add_arguments(self, parser):
        parser.add_argument("--seal", action="store_true", help="first seal the events written since the last sealing run")

    def handle(self, *args, seal: bool, **options):
        if seal:
            self.stdout.write(f"Sealed {events_seal()} new events.")
        report = audit_chain_verify()
        pending = f"; {report.unsealed} written since the last sealing run" if report.unsealed else ""
        if report.intact:
            self.stdout.write(f"Audit trail: {report.sealed} events sealed, intact{pending}.")
            return
        self.stderr.write(f"Audit trail broken: {report.problem}. {report.sealed} events before it are intact{pending}.")
        sys.exit(1)
