"""Backup and restore: a live embedded database while writes go on, and PostgreSQL through pg_dump."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from mes.models import Item
from mes.services.master_data import item_upsert

ROOT = django_settings.BASE_DIR
pytestmark = pytest.mark.slow

# Creates items BK-00000, BK-00001 … one transaction each, printing each number once committed, until the file STOP exists.
WRITER = """
import itertools, pathlib, sys, django
django.setup()
from mes.services.master_data import item_upsert
stop = pathlib.Path(sys.argv[1])
for number in itertools.count():
    if stop.exists():
        break
    item_upsert(code=f"BK-{number:05d}", name="backup test", unit="pcs")
    print(number, flush=True)
"""


def _embedded(tmp_path: Path, **env: str) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "MES_SECRETS_KEY"}}
    environment.update(MES_VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="mes.settings", **env)
    return environment


def _manage(tmp_path: Path, *arguments: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *arguments], cwd=ROOT, env=_embedded(tmp_path, **env), capture_output=True, text=True, timeout=300
    )


def _item_codes(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        codes = [code for (code,) in connection.execute("SELECT code FROM mes_item ORDER BY code")]
    connection.close()
    return codes


def _committed(log: Path) -> int:
    return len(log.read_text().split())


def test_a_live_embedded_database_is_backed_up_while_written_and_restored(tmp_path):
    var = tmp_path / "var"
    migrated = _manage(tmp_path, "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    secret_key = (var / "secret_key").read_text()
    (var / "secrets_key").write_text("the-key-that-encrypts-erp-secrets\n")
    log, stop = tmp_path / "writer.log", tmp_path / "STOP"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(stop)], cwd=ROOT, env=_embedded(tmp_path), stdout=log.open("w"), stderr=subprocess.PIPE, text=True
    )
    try:
        while _committed(log) < 30:
            assert writer.poll() is None, writer.stderr.read()
            time.sleep(0.05)
        backup = _manage(tmp_path, "backup", "--output", str(tmp_path / "backups"), MES_SECRETS_KEY="key-from-the-environment")
        at_backup_end = _committed(log)
        while _committed(log) < at_backup_end + 30:  # the plant goes on writing after the backup
            assert writer.poll() is None, writer.stderr.read()
            time.sleep(0.05)
    finally:
        stop.touch()
        writer.wait(timeout=60)
    assert backup.returncode == 0, backup.stderr
    (folder,) = (tmp_path / "backups").iterdir()
    assert backup.stdout.strip() == str(folder)
    in_backup = _item_codes(folder / "mes.sqlite3")
    written = _committed(log)

    # One consistent moment: every item committed up to it, none missing in between.
    assert 30 <= len(in_backup) <= at_backup_end < written
    assert in_backup == [f"BK-{number:05d}" for number in range(len(in_backup))]
    assert sorted(path.name for path in folder.iterdir()) == ["environment.env", "manifest.json", "mes.sqlite3", "secret_key", "secrets_key"]
    assert (folder / "environment.env").read_text() == "MES_SECRETS_KEY=key-from-the-environment\n"
    assert {oct(path.stat().st_mode & 0o777) for path in [folder, *folder.iterdir()]} == {"0o700", "0o600"}
    assert json.loads((folder / "manifest.json").read_text())["database"] == "sqlite"

    (var / "secret_key").unlink()
    (var / "secrets_key").write_text("a new key that cannot read the backup\n")
    restored = _manage(tmp_path, "restore", str(folder), "--noinput")

    assert restored.returncode == 0, restored.stderr
    assert _item_codes(var / "mes.sqlite3") == in_backup
    assert (var / "secret_key").read_text() == secret_key
    assert (var / "secrets_key").read_text() == "the-key-that-encrypts-erp-secrets\n"
    assert "MES_SECRETS_KEY are in" in restored.stdout


def test_a_damaged_backup_is_refused_and_nothing_is_restored(tmp_path):
    assert _manage(tmp_path, "migrate", "--noinput").returncode == 0
    backup = _manage(tmp_path, "backup", "--output", str(tmp_path / "backups"))
    folder = Path(backup.stdout.strip())
    with sqlite3.connect(tmp_path / "var" / "mes.sqlite3") as connection:
        connection.execute("INSERT INTO mes_unitofmeasure (code, name) VALUES ('KEEP', 'kept')")
    connection.close()
    with (folder / "mes.sqlite3").open("r+b") as damaged:
        damaged.seek(200)
        damaged.write(b"\xff" * 16)

    restored = _manage(tmp_path, "restore", str(folder), "--noinput")

    assert restored.returncode != 0
    assert "mes.sqlite3 is missing or damaged" in restored.stderr
    with sqlite3.connect(tmp_path / "var" / "mes.sqlite3") as connection:
        kept = connection.execute("SELECT name FROM mes_unitofmeasure WHERE code = 'KEEP'").fetchall()
    connection.close()
    assert kept == [("kept",)]


@pytest.mark.django_db(transaction=True)
def test_postgresql_is_backed_up_with_pg_dump_and_restored_with_pg_restore(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    item_upsert(code="PG-BEFORE", name="in the backup", unit="pcs")
    out = io.StringIO()
    call_command("backup", "--output", str(tmp_path / "backups"), stdout=out)
    folder = Path(out.getvalue().strip())
    item_upsert(code="PG-AFTER", name="after the backup", unit="pcs")

    call_command("restore", str(folder), "--noinput", stdout=io.StringIO())

    assert sorted(path.name for path in folder.iterdir()) == ["manifest.json", "mes.dump"]
    assert list(Item.objects.values_list("code", flat=True)) == ["PG-BEFORE"]


@pytest.mark.django_db
def test_a_backup_of_the_other_database_kind_is_refused(tmp_path):
    folder = tmp_path / "mes-backup-x"
    folder.mkdir()
    (folder / "mes.sqlite3").write_bytes(b"")
    (folder / "manifest.json").write_text(json.dumps({"database": "sqlite", "files": {"mes.sqlite3": hashlib.sha256(b"").hexdigest()}}))

    with pytest.raises(CommandError, match="holds a sqlite database, but this plant runs on postgresql; nothing was restored"):
        call_command("restore", str(folder), "--noinput")
