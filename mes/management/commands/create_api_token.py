from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from common.errors import DomainError
from common.roles import Role
from mes.services.accounts import MAX_TOKEN_DAYS, api_token_create, api_user_bind


class Command(BaseCommand):
    help = (
        "Create (if needed) a user in a role and print only its new API token. Only a hash is stored, so the token "
        "is shown this once; a user who has one keeps it unless --rotate replaces it."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument(
            "--allow-from",
            action="append",
            metavar="CIDR",
            help="accept the token only from this IP address or network (repeatable); default: anywhere",
        )
        parser.add_argument("--rotate", action="store_true", help="replace the user's token: the old one stops working")
        parser.add_argument(
            "--expires-in-days", type=int, metavar="DAYS", help=f"refuse the token after this many days (1-{MAX_TOKEN_DAYS}); default: never"
        )
        parser.add_argument("--badge", help="an operator's token: the one badge its confirmations may name (links the employee to the user)")
        parser.add_argument(
            "--station", action="append", metavar="NAME", help="an operator's token: a station its confirmations may name (repeatable)"
        )

    def handle(self, *args, username: str, role: str, allow_from: list[str] | None = None, rotate: bool = False,
               expires_in_days: int | None = None, badge: str | None = None, station: list[str] | None = None, **options):
        try:
            with transaction.atomic():
                token = api_token_create(
                    username=username, role=role, allowed_networks=allow_from, rotate=rotate, expires_in_days=expires_in_days,
                    actor_label="manage.py create_api_token",
                )
                if badge is not None or station is not None:
                    api_user_bind(username=username, badge=badge, stations=station, actor_label="manage.py create_api_token")
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stdout.write(token.key)
