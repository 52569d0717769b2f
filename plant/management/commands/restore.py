"""``python manage.py restore FOLDER``: a backup back in place of the database and the key files."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from plant.backup import BackupError, backup_restore


class Command(BaseCommand):
    help = (
        "Replace the database and the key files in var/ with those of a backup folder (made by `manage.py backup`). "
        "Stop the plant first; run `manage.py migrate` afterwards when the code is newer than the backup."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path, help="a mes-backup-… folder")
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive", help="do not ask to confirm")

    def handle(self, *args, folder: Path, interactive: bool, **options):
        if interactive:
            answer = input(f"This replaces the whole database and the keys in var/ with the backup {folder}. Type 'yes' to go on: ")
            if answer.strip() != "yes":
                raise CommandError("Nothing was restored.")
        try:
            result = backup_restore(folder=folder)
        except BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Restored the {result.database} database from {folder}.")
        for name in result.keys:
            self.stdout.write(f"Restored var/{name}.")
        if result.environment_keys:
            self.stdout.write(
                f"The backup's {' and '.join(result.environment_keys)} are in {folder / 'environment.env'}: "
                "set them in the environment of every process of the plant."
            )
