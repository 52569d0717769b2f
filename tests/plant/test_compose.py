"""compose.yaml (Docker cannot run here): its structure, and that everything it runs exists."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import get_commands
from django.urls import resolve

ROOT = Path(settings.BASE_DIR)
APP_SERVICES = {"migrate", "web", "worker", "beat", "collector"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def _words(command) -> list[str]:
    return command if isinstance(command, list) else shlex.split(command)


def _shell_commands(service: dict) -> list[list[str]]:
    """The command lines a service runs (a `sh -c` line split at &&)."""
    words = _words(service["command"])
    if words[:2] == ["sh", "-c"]:
        return [shlex.split(part) for part in words[2].split("&&")]
    return [words]


def test_the_plant_has_its_database_queue_and_four_processes_each_with_a_health_check(compose):
    services = compose["services"]

    assert set(services) == {"db", "redis", *APP_SERVICES}
    for name, service in services.items():
        if name == "migrate":
            assert service["restart"] == "no" and "healthcheck" not in service  # runs once, then exits
        else:
            assert service["healthcheck"]["test"][0] in {"CMD", "CMD-SHELL"}, name
            assert service["restart"] == "unless-stopped", name
    assert services["db"]["image"].startswith("postgres:") and services["redis"]["image"].startswith("redis:")


def test_every_process_of_the_plant_reads_the_env_file_and_is_no_demo(compose):
    example = (ROOT / ".env.example").read_text()
    variables = re.findall(r"^([A-Z_]+)=", example, re.MULTILINE)
    settings_source = (ROOT / "mes" / "settings.py").read_text()
    compose_source = (ROOT / "compose.yaml").read_text()

    for name in APP_SERVICES:
        service = compose["services"][name]
        assert service["env_file"] == [".env"], name
        environment = service["environment"]
        assert environment["DATABASE_URL"].startswith("postgresql://mes:") and environment["DATABASE_URL"].endswith("@db:5432/mes")
        assert environment["REDIS_URL"] == "redis://redis:6379/0"
        assert environment["MES_DEMO"] == "0"
        assert {"SECRET_KEY", "MES_SECRETS_KEY"} <= set(environment), name
    # Every variable of the example is a setting of the plant or one compose.yaml needs.
    assert set(variables) >= {"POSTGRES_PASSWORD", "SECRET_KEY", "MES_SECRETS_KEY", "ALLOWED_HOSTS", "MES_ADMIN_USERNAME", "MES_ADMIN_PASSWORD"}
    for variable in variables:
        assert f'"{variable}"' in settings_source or "${" + variable + ":?" in compose_source, variable
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    assert ".env" in (ROOT / ".dockerignore").read_text().split()


def test_the_data_is_kept_in_volumes_and_everything_starts_after_the_migration(compose):
    services = compose["services"]

    assert set(compose["volumes"]) == {"db", "redis", "beat"}
    assert services["db"]["volumes"] == ["db:/var/lib/postgresql/data"]
    assert services["redis"]["volumes"] == ["redis:/data"]
    assert services["beat"]["volumes"] == ["beat:/app/var"]
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}, "redis": {"condition": "service_healthy"}}
    for name in APP_SERVICES - {"migrate"}:
        assert services[name]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}, name


def test_every_command_compose_runs_exists(compose):
    commands = get_commands()
    seen = set()
    for name in APP_SERVICES:
        for words in _shell_commands(compose["services"][name]):
            if words[:2] == ["python", "manage.py"]:
                assert words[2] in commands, words
                seen.add(words[2])
            elif words[0] == "celery":
                assert words[1:3] == ["-A", "mes"] and words[3] in {"worker", "beat"}, words
                seen.add(words[3])
            else:
                assert words[:2] == ["gunicorn", "mes.wsgi:application"], words
                seen.add("gunicorn")
    # The web health check asks a URL the plant serves; the worker's a worker the image can ping.
    health = compose["services"]["web"]["healthcheck"]["test"][-1]
    assert resolve(re.search(r"127\.0\.0\.1:8000(/\w+)", health).group(1)).url_name == "health"

    assert seen == {"migrate", "bootstrap_admin", "gunicorn", "worker", "beat", "run_collector"}
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "WORKDIR /app" in dockerfile and "MES_VAR_DIR=/app/var" in dockerfile


@pytest.mark.subprocess
def test_make_serve_starts_a_real_plant_never_the_demo():
    dry_run = subprocess.run(["make", "-n", "serve"], cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert dry_run.returncode == 0, dry_run.stderr
    assert "manage.py migrate --noinput" in dry_run.stdout
    assert "manage.py run_plant --no-demo --host 127.0.0.1 --port 8000" in dry_run.stdout
