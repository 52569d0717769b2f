from django.core.management.base import BaseCommand, CommandError

from common.errors import DomainError
from mes.services.accounts import api_token_revoke


class Command(BaseCommand):
    help = "Take a user's API token away (audited); it stops working within API_TOKEN_CACHE_SECONDS."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username: str, **options):
        try:
            api_token_revoke(username=username, actor_label="manage.py revoke_api_token")
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stdout.write(f"The API token of {username} is revoked.")
