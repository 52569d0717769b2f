"""``python manage.py bootstrap_admin``: the first administrator from MES_ADMIN_USERNAME/MES_ADMIN_PASSWORD, once."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from common.errors import DomainError
from mes.services.accounts import first_admin_create


class Command(BaseCommand):
    help = (
        "Create the first administrator from MES_ADMIN_USERNAME and MES_ADMIN_PASSWORD, on the first start only: "
        "never again once one was created (or any superuser exists), even with the variables still set. "
        "Without them it does nothing (use createsuperuser)."
    )
    requires_system_checks = []

    def handle(self, *args, **options):
        if settings.MES_ADMIN_USERNAME is None:
            return
        try:
            user = first_admin_create(
                username=settings.MES_ADMIN_USERNAME, password=settings.MES_ADMIN_PASSWORD, source="MES_ADMIN_USERNAME"
            )
        except DomainError as error:
            raise CommandError(f"MES_ADMIN_USERNAME/MES_ADMIN_PASSWORD: {error.message}") from None
        except IntegrityError:
            return  # another process of the plant created it at the same moment
        if user is not None:
            self.stdout.write(f"Created the first administrator {user.get_username()} (from MES_ADMIN_USERNAME).")
