from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from mes.roles import Role
from mes.services.accounts import api_token_bind, api_token_create
from mes.services.errors import DomainError


class Command(BaseCommand):
    help = "Create (if needed) a user in a role and print only its API token."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument(
            "--allow-from",
            action="append",
            metavar="CIDR",
            help="accept the token only from this IP address or network (repeatable); default: anywhere",
        )
        parser.add_argument("--badge", help="an operator's token: the one badge its confirmations may name (links the employee to the user)")
        parser.add_argument(
            "--station", action="append", metavar="NAME", help="an operator's token: a station its confirmations may name (repeatable)"
        )

    def handle(self, *args, username: str, role: str, allow_from: list[str] | None = None, badge: str | None = None,
               station: list[str] | None = None, **options):
        try:
            with transaction.atomic():
                token = api_token_create(username=username, role=role, allowed_networks=allow_from)
                if badge is not None or station is not None:
                    api_token_bind(username=username, badge=badge, stations=station)
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stdout.write(token.key)
