"""Bad environment values stop start-up with a message naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.subprocess

ROOT = Path(__file__).resolve().parent.parent


def _environment(tmp_path: Path, **env: str) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL"}}
    environment.update(MES_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="mes.settings", **env)
    return environment


def _start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT, env=_environment(tmp_path, **env), capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "mysql://root@localhost/mes"),
        ("DATABASE_URL", "not a url"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("TIME_ZONE", "Mars/Olympus_Mons"),
        ("LANGUAGE_CODE", "fr"),
        ("DEBUG", "maybe"),
        ("MES_OVER_DELIVERY_TOLERANCE_PERCENT", "-5"),
        ("MES_BULK_LIMIT", "lots"),
        ("METRICS_ALLOW_FROM", "10.1.0.0/16, the office"),
        ("MES_DEVICE_NETWORKS", "10.1.0.0/16, plc.local"),
        ("MES_TRUSTED_PROXIES", "the load balancer"),
        ("MES_HTTPS", "sometimes"),
        ("MES_HSTS_SECONDS", "a year"),
        ("MES_SIGN_IN_FAILURE_LIMIT", "0"),
        ("MES_SIGN_IN_ADDRESS_FAILURE_LIMIT", "many"),
        ("MES_SIGN_IN_LOCKOUT_MINUTES", "soon"),
        ("BROKER_CONNECT_TIMEOUT_SECONDS", "0"),
        ("ERP_SYNC_WAKE_UP_PAUSE_SECONDS", "never"),
        ("MES_RELEASE_CAPACITY", "sometimes"),
        ("MES_DAILY_REPORT_CHANNELS", "L1=webhook"),
        ("MES_DAILY_REPORT_CHANNELS", '{"L1": "https://chat.example.com/hook"}'),
        ("MES_PUBLIC_URL", "mes.example.com"),
    ],
)
def test_bad_value_stops_start_up_naming_the_variable(tmp_path, variable, value):
    result = _start(tmp_path, **{variable: value})

    assert result.returncode != 0
    assert "started" not in result.stdout
    assert f"Environment variable {variable}=" in result.stderr


def test_defaults_start_on_sqlite_and_generate_a_secret_key_once(tmp_path):
    first = _start(tmp_path)
    key = (tmp_path / "secret_key").read_text()
    second = _start(tmp_path)

    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert len(key) > 40
    assert (tmp_path / "secret_key").read_text() == key


@pytest.mark.parametrize("redis_url", [None, "redis://127.0.0.1:6379/9"], ids=["embedded", "redis"])
def test_every_process_of_the_plant_shares_one_cache(tmp_path, redis_url):
    """What one web worker puts in the cache, a second one sees."""
    environment = {"REDIS_URL": redis_url} if redis_url else {}
    key = f"shared-{tmp_path.name}"
    code = "import django, sys; django.setup(); from django.core.cache import cache; "
    writer = subprocess.run(
        [sys.executable, "-c", code + f"cache.set({key!r}, 4, 60); cache.incr({key!r})"],
        cwd=ROOT, env=_environment(tmp_path, **environment), capture_output=True, text=True, timeout=60,
    )
    reader = subprocess.run(
        [sys.executable, "-c", code + f"print(cache.get({key!r})); cache.delete({key!r})"],
        cwd=ROOT, env=_environment(tmp_path, **environment), capture_output=True, text=True, timeout=60,
    )

    assert writer.returncode == 0 and reader.returncode == 0, writer.stderr + reader.stderr
    assert reader.stdout.strip() == "5"


def test_embedded_sqlite_flushes_every_commit_to_disk(tmp_path):
    """synchronous=FULL: a commit acknowledged to a station survives a power cut (NORMAL in WAL may lose it)."""
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.db import connection; "
         "cursor = connection.cursor(); print(cursor.execute('PRAGMA synchronous').fetchone()[0], "
         "cursor.execute('PRAGMA journal_mode').fetchone()[0], connection.vendor)"],
        cwd=ROOT, env=_environment(tmp_path), capture_output=True, text=True, timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["2", "wal", "sqlite"]  # 2 is FULL
