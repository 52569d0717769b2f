"""``python manage.py backup``: the database and its keys into a new folder, while the plant runs."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from plant.backup import BackupError, backup_create


class Command(BaseCommand):
    help = (
        "Back up the database (SQLite: online backup while the plant runs; PostgreSQL: pg_dump) with the keys in var/ "
        "(secret_key, secrets_key) and those set in the environment, into a new folder mes-backup-<UTC time>. "
        "Keep backups as safe as the keys."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", type=Path, default=None, help="where to put the backup folder (default var/backups)")

    def handle(self, *args, output: Path | None, **options):
        try:
            folder = backup_create(output=output or settings.VAR_DIR / "backups")
        except BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(str(folder))
