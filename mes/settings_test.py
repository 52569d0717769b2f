"""The settings the test suite runs with: the real ones, with the ERP sender's wake-ups kept in-process.

Unit tests never reach a worker and must not leave task files in var/; end-to-end tests
start their own worker processes with a real broker.
"""

import os

from mes.settings import *  # noqa: F403

CELERY_BROKER_URL = "memory://localhost/"
CELERY_BROKER_TRANSPORT = None

# Scrap-heavy scenarios (OEE weeks, machine counts, reports) would otherwise trip the quality stop and
# pause their operations, here and in the processes the tests start (the collector, workers). The
# quality stop's own tests set the window and threshold they check (tests/conftest.py does the same).
MES_QUALITY_STOP_THRESHOLD = env_int("MES_TEST_QUALITY_STOP_THRESHOLD", 1_000_000, minimum=0)  # noqa: F405

# The tests run without collectstatic; an empty folder keeps WhiteNoise from warning on every request.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405

# One process runs the tests: a per-process cache, emptied before each test (tests/conftest.py),
# so a PIN lock-out of one test never reaches the next run.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Processes the tests start (a worker, the collector) may have their own MES_VAR_DIR: they must read
# the secrets this process stores, so they get its key through the environment.
os.environ.setdefault("MES_SECRETS_KEY", ",".join(MES_SECRETS_KEYS))  # noqa: F405

# Passwords hashed in a blink: the real hasher takes a third of a second by design, on every sign-in
# and every user a test makes. Django's own hashers stay behind it, so a password a process with the
# real settings stored (a plant a test started) still checks.
from django.conf import global_settings  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *global_settings.PASSWORD_HASHERS]
