from django.core.management.base import BaseCommand, CommandError

from mes.roles import Role
from mes.services.accounts import api_token_create
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

    def handle(self, *args, username: str, role: str, allow_from: list[str] | None = None, **options):
        try:
            token = api_token_create(username=username, role=role, allowed_networks=allow_from)
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stdout.write(token.key)
