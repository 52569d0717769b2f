"""The settings the test suite runs with: the real ones, with the ERP sender's wake-ups kept in-process.

Unit tests never reach a worker and must not leave task files in var/; end-to-end tests
start their own worker processes with a real broker.
"""

from mes.settings import *  # noqa: F403

CELERY_BROKER_URL = "memory://localhost/"

# The tests run without collectstatic; an empty folder keeps WhiteNoise from warning on every request.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405

# One process runs the tests: a per-process cache, emptied before each test (tests/conftest.py),
# so a PIN lock-out of one test never reaches the next run.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
