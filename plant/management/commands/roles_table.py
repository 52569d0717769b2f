"""Print the README's role table from the capability table in ``common.roles``, or write it into a file."""

from __future__ import annotations

import re
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from common.roles import roles_table

START, END = "<!-- roles-table:start -->\n", "<!-- roles-table:end -->"


class Command(BaseCommand):
    help = "Print the role table (Markdown) generated from common.roles.CAPABILITIES, or --update it in a file."

    def add_arguments(self, parser):
        parser.add_argument("--update", metavar="FILE", help="replace the table between the roles-table markers in FILE")

    def handle(self, *args, update: str | None = None, **options):
        table = roles_table()
        if update is None:
            self.stdout.write(table, ending="")
            return
        path = Path(update)
        text = path.read_text(encoding="utf-8")
        pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
        if not pattern.search(text):
            raise CommandError(f"{update} has no {START.strip()} … {END} markers.")
        path.write_text(pattern.sub(lambda _match: START + table + END, text), encoding="utf-8")
