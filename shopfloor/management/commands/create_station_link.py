"""Print a one-time link that makes the tablet opening it an operator station of a work center."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse
from django.utils import timezone

from common.errors import DomainError
from shopfloor.station.services import station_link_create


class Command(BaseCommand):
    help = "Print a one-time, expiring link that makes a tablet an operator station of a work center."

    def add_arguments(self, parser):
        parser.add_argument("work_center", help="the work center's code, e.g. WC-CUT")
        parser.add_argument("--equipment", default="", help="the machine operations started at the station run on")
        parser.add_argument("--pin", action="store_true", help="operators enter their PIN after the badge scan")
        parser.add_argument("--hours", type=int, default=settings.MES_STATION_LINK_HOURS, help="how long the link works (default %(default)s)")
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="how tablets reach this server (default %(default)s)")

    def handle(self, *args, **options):
        try:
            link, secret = station_link_create(
                work_center_code=options["work_center"], equipment_code=options["equipment"],
                is_pin_required=options["pin"], hours=options["hours"], created_by="manage.py create_station_link",
            )
        except DomainError as error:
            raise CommandError(error.message) from None
        url = options["base_url"].rstrip("/") + reverse("station-link", args=[secret])
        self.stdout.write(url)
        expires = timezone.localtime(link.expires_at).strftime("%Y-%m-%d %H:%M")
        self.stderr.write(f"One-time link for work center {link.work_center.code}; open it on the tablet before {expires}.")
