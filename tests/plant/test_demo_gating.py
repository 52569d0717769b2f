"""A real plant is not the demo: the demo only on the embedded defaults (or MES_DEMO=1), and the first
administrator from createsuperuser or MES_ADMIN_USERNAME/MES_ADMIN_PASSWORD, created once."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from mes.models import Event

ROOT = django_settings.BASE_DIR
FIRST_ADMIN = {"MES_ADMIN_USERNAME": "chief", "MES_ADMIN_PASSWORD": "first-start-8421"}


def _setting(tmp_path, name: str, **env: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "MES_DEMO", *FIRST_ADMIN}}
    environment.update(MES_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="mes.settings", **env)
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); from django.conf import settings; print(settings.{name})"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "demo"),
    [
        ({}, "True"),
        ({"MES_DEMO": "0"}, "False"),
        ({"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/plant"}, "False"),
        ({"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/plant", "MES_DEMO": "1"}, "True"),
    ],
    ids=["embedded", "embedded-no-demo", "database-url", "database-url-demo"],
)
@pytest.mark.subprocess
def test_the_demo_is_on_for_the_embedded_defaults_only_unless_asked(tmp_path, env, demo):
    result = _setting(tmp_path, "MES_DEMO", **env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == demo


@pytest.mark.parametrize("given", ["MES_ADMIN_USERNAME", "MES_ADMIN_PASSWORD"])
@pytest.mark.subprocess
def test_half_a_first_admin_stops_start_up_naming_the_missing_variable(tmp_path, given):
    missing = ({*FIRST_ADMIN} - {given}).pop()

    result = _setting(tmp_path, "MES_DEMO", **{given: FIRST_ADMIN[given]})

    assert result.returncode != 0
    assert f"Environment variable {missing} is missing" in result.stderr


@pytest.mark.django_db
def test_the_first_admin_is_created_on_the_first_start_and_never_again(settings):
    settings.MES_ADMIN_USERNAME, settings.MES_ADMIN_PASSWORD = FIRST_ADMIN.values()
    User = get_user_model()

    call_command("bootstrap_admin")
    chief = User.objects.get()
    password_works = chief.check_password("first-start-8421")
    groups = list(chief.groups.values_list("name", flat=True))
    chief.set_password("changed-by-chief-77")
    chief.save(update_fields=["password"])
    call_command("bootstrap_admin")  # a later start, the variables still set
    password_kept = User.objects.get().check_password("changed-by-chief-77")
    User.objects.all().delete()
    call_command("bootstrap_admin")  # the first admin was deleted: still never again

    assert (chief.username, chief.is_superuser, chief.is_staff, password_works, password_kept) == ("chief", True, True, True, True)
    assert groups == ["admin"]
    assert User.objects.count() == 0
    assert list(Event.objects.values_list("object_type", "object_key", "action", "actor_label")) == [
        ("user", "chief", "first_admin_created", "MES_ADMIN_USERNAME")
    ]


@pytest.mark.django_db
def test_after_createsuperuser_the_variables_create_nobody(settings):
    get_user_model().objects.create_superuser(username="owner", email="", password="owner-chose-this-1")
    settings.MES_ADMIN_USERNAME, settings.MES_ADMIN_PASSWORD = FIRST_ADMIN.values()

    call_command("bootstrap_admin")

    assert list(get_user_model().objects.values_list("username", flat=True)) == ["owner"]
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_a_weak_first_admin_password_is_refused_and_nothing_is_created(settings):
    settings.MES_ADMIN_USERNAME, settings.MES_ADMIN_PASSWORD = "chief", "short"

    with pytest.raises(CommandError, match="MES_ADMIN_USERNAME/MES_ADMIN_PASSWORD: .*too short"):
        call_command("bootstrap_admin")

    assert not get_user_model().objects.exists()
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_without_the_variables_nothing_is_created(settings):
    settings.MES_ADMIN_USERNAME = settings.MES_ADMIN_PASSWORD = None

    call_command("bootstrap_admin")

    assert not get_user_model().objects.exists()
