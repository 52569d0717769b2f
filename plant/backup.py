"""Backups of a plant: the database and the keys without which its data cannot be used.

A backup is a folder ``mes-backup-<UTC time>`` (readable by its owner only) holding:

- ``mes.sqlite3``: the embedded database, copied with SQLite's online backup API, so the plant may
  go on writing meanwhile (the copy is one consistent moment); or ``mes.dump``: PostgreSQL's
  ``pg_dump --format=custom``;
- ``secret_key`` and ``secrets_key``: the keys the settings generated into var/ (sessions and
  signed links; the key that encrypts ERP and device secrets), when there are such files;
- ``environment.env``: SECRET_KEY and MES_SECRETS_KEY when they come from the environment, so a
  restored plant can read what it encrypted;
- ``manifest.json``: when, which database, and every file's SHA-256, checked before a restore.

Whoever holds a backup holds the keys: keep backups as safe as the keys themselves.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connections

MANIFEST = "manifest.json"
SQLITE_FILE = "mes.sqlite3"
POSTGRESQL_FILE = "mes.dump"
KEY_FILES = ("secret_key", "secrets_key")
ENVIRONMENT_FILE = "environment.env"
ENVIRONMENT_KEYS = ("SECRET_KEY", "MES_SECRETS_KEY")


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class RestoreResult:
    database: str
    keys: list[str]
    environment_keys: list[str]


def _database() -> tuple[str, dict]:
    config = settings.DATABASES["default"]
    vendor = "sqlite" if config["ENGINE"].endswith("sqlite3") else "postgresql"
    return vendor, config


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _private(path: Path) -> Path:
    path.chmod(0o600)
    return path


def _postgresql(command: str, config: dict, *arguments: str) -> None:
    program = shutil.which(command)
    if program is None:
        raise BackupError(f"{command} was not found: install the PostgreSQL client tools (Debian: postgresql-client) of the server's version.")
    environment = {**os.environ, "PGPASSWORD": str(config.get("PASSWORD") or "")}
    connection = ["--host", str(config.get("HOST") or "127.0.0.1"), "--port", str(config.get("PORT") or 5432),
                  "--username", str(config.get("USER") or "postgres"), "--dbname", str(config["NAME"])]
    result = subprocess.run([program, *connection, *arguments], env=environment, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{command} failed ({result.returncode}): {result.stderr.strip()}")


def backup_create(*, output: Path) -> Path:
    """Write a new backup folder under ``output`` and return it."""
    vendor, config = _database()
    created_at = datetime.datetime.now(datetime.timezone.utc)
    folder = output / f"mes-backup-{created_at:%Y%m%d-%H%M%S-%f}"
    folder.mkdir(parents=True, mode=0o700)
    if vendor == "sqlite":
        target = sqlite3.connect(folder / SQLITE_FILE)
        source = sqlite3.connect(config["NAME"], timeout=20)
        try:
            source.backup(target)  # all pages in one step: one consistent moment, writers carry on (WAL)
            (check,) = target.execute("PRAGMA integrity_check").fetchone()
        finally:
            source.close()
            target.close()
        if check != "ok":
            raise BackupError(f"The copy of {config['NAME']} failed its integrity check: {check}")
        _private(folder / SQLITE_FILE)
    else:
        _postgresql("pg_dump", config, "--format=custom", "--file", str(folder / POSTGRESQL_FILE))
        _private(folder / POSTGRESQL_FILE)
    for name in KEY_FILES:
        if (settings.VAR_DIR / name).is_file():
            _private(Path(shutil.copyfile(settings.VAR_DIR / name, folder / name)))
    environment = [f"{name}={os.environ[name].strip()}" for name in ENVIRONMENT_KEYS if os.environ.get(name, "").strip()]
    if environment:
        (folder / ENVIRONMENT_FILE).write_text("\n".join(environment) + "\n")
        _private(folder / ENVIRONMENT_FILE)
    files = {path.name: _sha256(path) for path in sorted(folder.iterdir())}
    manifest = {"created_at": created_at.isoformat(), "database": vendor, "files": files}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    _private(folder / MANIFEST)
    return folder


def backup_restore(*, folder: Path) -> RestoreResult:
    """Put a backup's database and key files back in place of the current ones. Stop the plant first."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        files = manifest["files"]
        vendor = manifest["database"]
    except (OSError, ValueError, KeyError) as error:
        raise BackupError(f"{folder} is no backup of this system ({MANIFEST} unreadable: {error}).") from None
    for name, digest in files.items():
        if Path(name).name != name or not (folder / name).is_file() or _sha256(folder / name) != digest:
            raise BackupError(f"{folder / name} is missing or damaged (its SHA-256 differs from the manifest); nothing was restored.")
    current, config = _database()
    if vendor != current:
        raise BackupError(f"The backup holds a {vendor} database, but this plant runs on {current}; nothing was restored.")
    connections.close_all()
    if vendor == "sqlite":
        source = sqlite3.connect(folder / SQLITE_FILE)
        target = sqlite3.connect(config["NAME"], timeout=20)
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()
    else:
        _postgresql("pg_restore", config, "--clean", "--if-exists", "--no-owner", "--single-transaction", str(folder / POSTGRESQL_FILE))
    keys = [name for name in KEY_FILES if name in files]
    for name in keys:
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        _private(Path(shutil.copyfile(folder / name, settings.VAR_DIR / name)))
    environment_keys = []
    if ENVIRONMENT_FILE in files:
        environment_keys = [line.split("=", 1)[0] for line in (folder / ENVIRONMENT_FILE).read_text().splitlines() if "=" in line]
    return RestoreResult(database=vendor, keys=keys, environment_keys=environment_keys)
