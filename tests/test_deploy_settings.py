"""A real deployment: `check --deploy` is clean with the documented production variables, and
MES_HTTPS=1 behind a TLS proxy means HSTS, the redirect to https, and cookies that travel only over TLS."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import current_database_url

pytestmark = pytest.mark.subprocess

ROOT = Path(__file__).resolve().parent.parent


def production_environment(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The variables README.md lists for a production start behind a TLS proxy."""
    # Not what the test process has: the browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for Playwright.
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("MES_", "DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"))
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="mes.settings",
        MES_VAR_DIR=str(tmp_path),
        DATABASE_URL="postgresql://mes@db.example.com:5432/mes",
        REDIS_URL="redis://redis.example.com:6379/0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="mes.example.com",
        CSRF_TRUSTED_ORIGINS="https://mes.example.com",
        MES_HTTPS="1",
        MES_TRUSTED_PROXIES="10.0.0.2",
    )
    environment.update(overrides)
    return environment


def _check_deploy(environment: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=180,
    )


def test_check_deploy_is_clean_with_the_documented_production_variables(tmp_path):
    result = _check_deploy(production_environment(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "System check identified no issues (0 silenced).\n"


def test_check_deploy_names_what_is_missing_without_https(tmp_path):
    result = _check_deploy(production_environment(tmp_path, MES_HTTPS="0"))

    assert result.returncode == 1
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr + result.stdout


REQUESTS = """
import json, django
django.setup()
from django.test import Client
client = Client()
plain = client.get("/accounts/login/", HTTP_HOST="mes.example.com")
over_tls = client.get("/accounts/login/", HTTP_HOST="mes.example.com", HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR="10.0.0.2")
health = client.get("/health", HTTP_HOST="mes.example.com")
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location")],
    "over_tls": [over_tls.status_code, over_tls.get("Strict-Transport-Security")],
    "csrf_cookie_secure": bool(over_tls.cookies["csrftoken"]["secure"]),
    "health": health.status_code,
}))
"""


@pytest.mark.django_db
def test_behind_a_tls_proxy_plain_http_is_redirected_and_cookies_are_secure(tmp_path):
    environment = production_environment(
        tmp_path,
        DATABASE_URL=current_database_url(),
        REDIS_URL="redis://127.0.0.1:6379/9",
    )

    result = subprocess.run([sys.executable, "-c", REQUESTS], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr[-3000:]
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    assert answers["plain"] == [301, "https://mes.example.com/accounts/login/"]
    assert answers["over_tls"] == [200, "max-age=31536000; includeSubDomains; preload"]
    assert answers["csrf_cookie_secure"] is True
    assert answers["health"] == 200  # health checks inside the plant network call over plain HTTP
