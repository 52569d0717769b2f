"""Project settings, all read from the environment.

Every value a plant may change comes from an environment variable through one of the
small ``env_*`` helpers below. A bad value stops start-up with a message naming the
variable, instead of surfacing later as a confusing runtime error.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import re
import secrets
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import csp.constants as csp
import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MES_VAR_DIR", BASE_DIR / "var"))


def _bad(name: str, value: str, expected: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"Environment variable {name}={value!r} is invalid: expected {expected}.")


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def env_bool(name: str, default: bool) -> bool:
    value = env_str(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise _bad(name, value, "one of 1/0, true/false, yes/no, on/off")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    value = env_str(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise _bad(name, value, "an integer") from None
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise _bad(name, value, f"an integer between {minimum} and {maximum}")
    return number


def env_decimal(name: str, default: str, *, minimum: Decimal | None = None) -> Decimal:
    value = env_str(name, default)
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise _bad(name, value, "a decimal number") from None
    if not number.is_finite() or (minimum is not None and number < minimum):
        raise _bad(name, value, f"a finite decimal number of at least {minimum}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = env_str(name)
    if value is None:
        return default
    return [part.strip() for part in value.split(",") if part.strip()]


def env_json_object(name: str) -> dict:
    """A JSON object of objects each with a ``type`` (channels by key); empty when unset."""
    value = env_str(name)
    if value is None:
        return {}
    try:
        parsed = json.loads(value)
    except ValueError:
        raise _bad(name, value, "a JSON object") from None
    if not isinstance(parsed, dict) or not all(isinstance(entry, dict) and "type" in entry for entry in parsed.values()):
        raise _bad(name, value, 'a JSON object of channels such as {"L1": {"type": "webhook", "url": "https://…"}}')
    return parsed


def env_networks(name: str, default: list[str]) -> list[str]:
    """Comma-separated IP addresses or networks (CIDR), each checked now."""
    networks = env_list(name, default)
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise _bad(name, network, "IP addresses or networks such as 10.1.0.0/16, separated by commas") from None
    return networks


def env_database(name: str, default: str) -> dict:
    value = env_str(name, default)
    try:
        config = dj_database_url.parse(value, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0))
    except (ValueError, KeyError) as error:
        raise _bad(name, value, f"a database URL such as postgresql://user@host:5432/name ({error})") from None
    engine = config.get("ENGINE", "")
    if engine not in {"django.db.backends.postgresql", "django.db.backends.sqlite3"}:
        raise _bad(name, value, "a postgresql:// or sqlite:// URL")
    if engine.endswith("sqlite3"):
        # WAL lets readers work while one writer commits; IMMEDIATE takes the write lock
        # at BEGIN, so two writers queue behind the busy timeout instead of deadlocking
        # on a read-to-write lock upgrade. FULL flushes every commit to disk before it is
        # acknowledged: with NORMAL a power cut could undo confirmations already answered 201.
        config["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
        }
        config["CONN_MAX_AGE"] = 0
    else:
        # Server-side binding, and statements a connection has run DB_PREPARE_THRESHOLD times
        # prepared, so PostgreSQL stops parsing and planning the few statements every
        # confirmation repeats (planning cost more than running them). Django leaves
        # preparing off by default for poolers in transaction mode (PgBouncer before 1.21):
        # set DB_PREPARE_THRESHOLD=0 behind one of those.
        options = config.setdefault("OPTIONS", {})
        options.setdefault("server_side_binding", True)
        prepare_threshold = env_int("DB_PREPARE_THRESHOLD", 5, minimum=0)
        options.setdefault("prepare_threshold", prepare_threshold or None)
        config["CONN_HEALTH_CHECKS"] = True
    config["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME")} if env_str("TEST_DATABASE_NAME") else {}
    return config


def env_url(name: str, schemes: set[str]) -> str | None:
    value = env_str(name)
    if value is None:
        return None
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme not in schemes:
        raise _bad(name, value, f"a URL starting with one of {', '.join(sorted(s + '://' for s in schemes))}")
    return value


def env_time_zone(name: str, default: str) -> str:
    value = env_str(name, default)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise _bad(name, value, "an IANA time zone such as Asia/Shanghai or Europe/Berlin") from None
    return value


def _local_secret_key() -> str:
    """A key generated once into var/ so local sessions survive restarts."""
    path = VAR_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _generated_once(path: Path, make) -> str:
    """The text in ``path``, made by ``make()`` and written there (readable by us only) on first use.
    Several processes starting at once agree on one: the first to link its file wins."""
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        draft.write_text(make())
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def env_fernet_keys(name: str, generated: Path) -> list[str]:
    """Comma-separated Fernet keys (the first encrypts, all decrypt); unset, one generated once into ``generated``."""
    value = env_str(name)
    if value is None:
        keys = [_generated_once(generated, lambda: Fernet.generate_key().decode())]
    else:
        keys = [part.strip() for part in value.split(",") if part.strip()]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            # The value itself is a secret: name its position, never echo it.
            raise _bad(name, f"<key {position} hidden>", "Fernet keys (32 url-safe base64-encoded bytes each, e.g. from "
                       "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'), "
                       "separated by commas") from None
    if not keys:
        raise _bad(name, value or "", "at least one Fernet key")
    return keys


# --- core -------------------------------------------------------------------------
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY") or _local_secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# ERP and device secrets are stored encrypted with these keys (common.crypto): the first encrypts, all
# decrypt. Unset, a key is generated once into var/secrets_key (back it up with the database).
MES_SECRETS_KEYS = env_fernet_keys("MES_SECRETS_KEY", VAR_DIR / "secrets_key")

# --- behind a reverse proxy, over TLS ---------------------------------------------
# Proxies whose X-Forwarded-For is believed (addresses or networks). Every decision by address
# (token allow-lists, /metrics, sign-in lock-outs) then sees the client, not the proxy:
# common.client_ip takes the right-most address in X-Forwarded-For that is not one of these.
MES_TRUSTED_PROXIES = env_networks("MES_TRUSTED_PROXIES", [])
# MES_HTTPS=1: the site is served over TLS only (usually by the proxy in front). Browsers are told
# to use nothing else (HSTS), plain HTTP is redirected, cookies travel only over TLS, and the
# proxy's X-Forwarded-Proto says whether a request came over TLS: the proxy must set it itself,
# overwriting what the client sent.
MES_HTTPS = env_bool("MES_HTTPS", False)
_HSTS_SECONDS = env_int("MES_HSTS_SECONDS", 31_536_000, minimum=0)
_HSTS_INCLUDE_SUBDOMAINS = env_bool("MES_HSTS_INCLUDE_SUBDOMAINS", True)
_HSTS_PRELOAD = env_bool("MES_HSTS_PRELOAD", True)
if MES_HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    # Health checks and Prometheus inside the plant network call the web processes directly over HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^health$", r"^metrics$"]
    SECURE_HSTS_SECONDS = _HSTS_SECONDS
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _HSTS_INCLUDE_SUBDOMAINS
    SECURE_HSTS_PRELOAD = _HSTS_PRELOAD
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# Content-Security-Policy (django-csp): the pages run only scripts and styles from this site, plus
# inline ones that carry the request's nonce ({{ request.csp_nonce }}); no inline event handlers.
# A page that needs more says so on its view (the ReDoc page, plant/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF, csp.NONCE],
        "style-src": [csp.SELF, csp.NONCE],
        "img-src": [csp.SELF, "data:"],
        "font-src": [csp.SELF, "data:"],
        "connect-src": [csp.SELF],
        "worker-src": [csp.SELF],
        "manifest-src": [csp.SELF],
        "object-src": [csp.NONE],
        "base-uri": [csp.SELF],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],
    },
}

INSTALLED_APPS = [
    "plant.admin_site.PlantAdminConfig",  # django.contrib.admin, entered by the roles common.roles names
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp",
    "axes",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "common",
    "mes",
    "erp_sync",
    "shopfloor",
    "plant",
    "simulators",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After sign-in and language, so its refusal page is in the reader's language and menu.
    "common.middleware.RefuseNulMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a refused sign-in of a locked-out user or address into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

#: Keeps the receipt of each push an ERP makes (``common.api.base.InboundWriteView``).
MES_INBOUND_RECEIPT_RECORDER = "erp_sync.services.inbound_receipt_record"

ROOT_URLCONF = "plant.urls"
# A form the CSRF check refuses gets the site's 403 page in the reader's language, not Django's plain English one.
CSRF_FAILURE_VIEW = "plant.views.errors.csrf_failure"
WSGI_APPLICATION = "mes.wsgi.application"
ASGI_APPLICATION = "mes.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "erp_sync.context_processors.sync_alert",
                "plant.context_processors.pages",
            ],
        },
    },
]

# --- database ---------------------------------------------------------------------
DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'mes.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    VAR_DIR.mkdir(parents=True, exist_ok=True)

# --- queue: Redis when REDIS_URL is set, otherwise embedded ------------------------
REDIS_URL = env_url("REDIS_URL", {"redis", "rediss", "unix"})
EMBEDDED_MODE = REDIS_URL is None
# The shared cache: Redis in scale-out mode, else files under var/ that the web workers on this
# machine share. (Lock-outs are counted in the database, so they hold while Redis is down.)
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "mes"}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(VAR_DIR / "cache")}}
# An explicit CELERY_BROKER_URL wins (the tests use memory://); else Redis, else a SQLite file.
CELERY_BROKER_URL = env_url("CELERY_BROKER_URL", {"memory", "redis", "rediss", "amqp"})
CELERY_BROKER_TRANSPORT = None  # from the URL's scheme
if CELERY_BROKER_URL is None and EMBEDDED_MODE:
    # A real broker shared by the processes on this machine, nothing to install: kombu's SQLAlchemy
    # transport on a SQLite file, adjusted in mes/embedded_broker.py (a message is a row, never
    # seen half-written; polling every 50 ms).
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = f"sqlite:///{VAR_DIR / 'broker.sqlite3'}"
    CELERY_BROKER_TRANSPORT = "mes.embedded_broker:Transport"
elif CELERY_BROKER_URL is None:
    CELERY_BROKER_URL = REDIS_URL
# A web process wakes a worker after each commit that queued ERP messages. A broker that is down
# must not hold the request: the message is safe in the outbox and the beat sweep sends it. So a
# connection is tried once, for at most this long (kombu's default retries for 4-6 s), and after a
# failed wake-up the process skips wake-ups for ERP_SYNC_WAKE_UP_PAUSE_SECONDS (erp_sync.wakeups.kick).
BROKER_CONNECT_TIMEOUT_SECONDS = float(env_decimal("BROKER_CONNECT_TIMEOUT_SECONDS", "0.5", minimum=Decimal("0.05")))
ERP_SYNC_WAKE_UP_PAUSE_SECONDS = float(env_decimal("ERP_SYNC_WAKE_UP_PAUSE_SECONDS", "10", minimum=Decimal("0.1")))
CELERY_BROKER_CONNECTION_TIMEOUT = BROKER_CONNECT_TIMEOUT_SECONDS
if CELERY_BROKER_URL.startswith(("redis://", "rediss://", "unix://", "amqp://")):
    # Workers keep retrying their own connection (broker_connection_retry); this bounds a publish.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"max_retries": 0, "socket_connect_timeout": BROKER_CONNECT_TIMEOUT_SECONDS}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
CELERY_TASK_DEFAULT_QUEUE = "erp"
CELERY_TASK_ROUTES = {"erp_sync.*": {"queue": "erp"}, "shopfloor.*": {"queue": "devices"}}
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "erp-sync-sweep": {"task": "erp_sync.sweep", "schedule": float(env_decimal("ERP_SYNC_SWEEP_SECONDS", "2", minimum=Decimal("0.5")))},
    "erp-sync-health": {"task": "erp_sync.check_health", "schedule": 30.0},
    # The event stream's safety net: publish what a lost wake-up or a destination's outage left.
    "events-sweep": {"task": "erp_sync.events_sweep", "schedule": float(env_decimal("MES_EVENT_SWEEP_SECONDS", "5", minimum=Decimal("0.5")))},
    "erp-sync-reconcile": {
        "task": "erp_sync.reconcile",
        "schedule": float(env_decimal("ERP_SYNC_RECONCILE_SECONDS", "3600", minimum=Decimal("60"))),
    },
    # Pulls released orders from each connection with the option pull_orders once MES_ERP_PULL_INTERVAL has passed.
    "erp-sync-pull-orders": {"task": "erp_sync.pull_orders_due", "schedule": 30.0},
    # Chains the audit events written since the last run (mes.models.audit.EventSeal).
    "audit-seal": {"task": "mes.audit_seal", "schedule": float(env_decimal("MES_AUDIT_SEAL_SECONDS", "60", minimum=Decimal("1")))},
    # The schedule runs from now: recomputed on every release, confirmation and calendar change, and
    # at least this often (shopfloor.planning).
    "planning-reschedule": {"task": "planning.reschedule", "schedule": 300.0},
    # Andon: escalation steps that fell due, and notices whose channel did not take them yet.
    "andon-watch": {
        "task": "andon.watch", "schedule": float(env_decimal("MES_ANDON_WATCH_SECONDS", "30", minimum=Decimal("5"))),
    },
    "andon-escalate": {
        "task": "andon.escalate", "schedule": float(env_decimal("MES_ANDON_ESCALATE_SECONDS", "10", minimum=Decimal("1"))),
    },
    # Reports: each day's plan recorded as it begins, the daily report sent after each shift's end.
    "reports-daily": {
        "task": "reports.daily_due", "schedule": float(env_decimal("MES_DAILY_REPORT_CHECK_SECONDS", "60", minimum=Decimal("5"))),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = None  # set below from TIME_ZONE

# --- auth -------------------------------------------------------------------------
# The demo (demo plant, demo logins, simulated ERP and machines): on for the embedded defaults,
# off once DATABASE_URL points at a real database, unless MES_DEMO=1 asks for it.
MES_DEMO = env_bool("MES_DEMO", env_str("DATABASE_URL") is None)
# The first administrator, created on the first start (bootstrap_admin, run by run_plant) and never again.
MES_ADMIN_USERNAME = env_str("MES_ADMIN_USERNAME")
MES_ADMIN_PASSWORD = os.environ.get("MES_ADMIN_PASSWORD") or None  # as given: spaces may belong to a password
if (MES_ADMIN_USERNAME is None) != (MES_ADMIN_PASSWORD is None):
    _missing = "MES_ADMIN_PASSWORD" if MES_ADMIN_PASSWORD is None else "MES_ADMIN_USERNAME"
    raise ImproperlyConfigured(f"Environment variable {_missing} is missing: set MES_ADMIN_USERNAME and MES_ADMIN_PASSWORD together.")
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
# Password guessing (django-axes): after MES_SIGN_IN_FAILURE_LIMIT wrong passwords for one user name,
# or from one client address (common.client_ip, so behind a proxy too), sign-in there is refused for
# MES_SIGN_IN_LOCKOUT_MINUTES, on /accounts/login/ and the admin's alike; a wrong password during
# the lock-out starts it again. An admin lifts a lock-out early: the admin's "Access attempts", or
# `manage.py axes_reset_username NAME` / `axes_reset_ip ADDRESS` / `axes_reset`.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
MES_SIGN_IN_FAILURE_LIMIT = env_int("MES_SIGN_IN_FAILURE_LIMIT", 5, minimum=1, maximum=1000)
MES_SIGN_IN_ADDRESS_FAILURE_LIMIT = env_int("MES_SIGN_IN_ADDRESS_FAILURE_LIMIT", 30, minimum=1, maximum=100000)
AXES_FAILURE_LIMIT = "plant.sign_in.failure_limit"  # one limit per user name, a higher one per address
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env_int("MES_SIGN_IN_LOCKOUT_MINUTES", 15, minimum=1, maximum=7 * 24 * 60))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one reaching its limit locks
AXES_RESET_ON_SUCCESS = True  # the user name's count only (plant.sign_in.SignInHandler)
AXES_HANDLER = "plant.sign_in.SignInHandler"
AXES_CLIENT_IP_CALLABLE = "common.client_ip.client_ip"
AXES_LOCKOUT_CALLABLE = "plant.views.accounts.sign_in_locked_out"

# --- languages and time -----------------------------------------------------------
LANGUAGE_CODE = env_str("LANGUAGE_CODE", "zh-hans")
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
if LANGUAGE_CODE not in {code for code, _name in LANGUAGES}:
    raise _bad("LANGUAGE_CODE", LANGUAGE_CODE, "zh-hans or en")
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_time_zone("TIME_ZONE", "Asia/Shanghai")
CELERY_TIMEZONE = TIME_ZONE
USE_I18N = True
USE_TZ = True

# --- static files -----------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
# Uploaded files (work instructions) through Django's default storage; served only through views that check
# who asks (the API, the station), never as public /media/ URLs.
MEDIA_ROOT = Path(os.environ.get("MES_MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # WhiteNoise serves STATIC_ROOT from the app itself (no separate web server to set up);
    # collectstatic adds gzip copies. No manifest, so {% static %} works before collectstatic.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedStaticFilesStorage"
    },
}

# --- REST API ---------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "mes.api.authentication.PlantTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["common.api.parsers.SafeJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "common.api.negotiation.QuickContentNegotiation",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "common.api.errors.exception_handler",
    "COERCE_DECIMAL_TO_STRING": False,
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MES API",
    "DESCRIPTION": (
        "Inbound API for ERPs, stations and gateways: idempotent master-data upserts, "
        "work-order transitions and confirmations (报工)."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc served from our own static files: plant networks are often offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One tag per resource, in the order a new integration meets them: master data first, then orders, then
    # what the shop floor reports, then the ERP link. Each endpoint names its tag (mes/api/docs.py and the views).
    # Fields named "kind" hold different choices (andon calls, reason codes, inspection characteristics…): each its own enum name.
    "ENUM_NAME_OVERRIDES": {
        "AndonKindEnum": "shopfloor.models.AndonCall.Kind",
        "AndonSeverityEnum": "shopfloor.models.AndonCall.Severity",
        "ReasonCodeKindEnum": "mes.models.ReasonCode.Kind",
    },
    "TAGS": [
        {"name": "work-centers", "description": "Where operations are done; stations and machines belong to one."},
        {"name": "equipment", "description": "Machines of a work center: master data, signal mappings and OEE."},
        {"name": "items", "description": "Materials, parts and products with their unit and lot or serial tracking."},
        {"name": "employees", "description": "People who report at stations, by the badge they scan."},
        {"name": "reason-codes", "description": "Why something was scrapped, reworked, paused or stood still."},
        {"name": "boms", "description": "Bills of materials: what one unit of an item is made of, by version."},
        {"name": "routings", "description": "The operations that make an item, each at a work center."},
        {"name": "work-orders", "description": "Production orders from the ERP, their life cycle and the machines running their operations."},
        {"name": "confirmations", "description": "Reports of work done (报工) and their reversals, each with its ERP sync state."},
        {"name": "lots", "description": "Lots and serials the ERP staged or production made, their labels and their trace."},
        {"name": "work-instructions", "description": "Documents (PDF, PNG, JPEG, WebP) attached to a routing operation, shown and kept offline at the stations."},
        {"name": "inspections", "description": "Inspection plans per routing operation, results judged by the server, an order's inspections and SPC charts."},
        {"name": "holds", "description": "Quality holds on an order, an operation, a lot or a serial, and their release."},
        {"name": "nonconformances", "description": "Nonconformance reports (NCR): opened by a failed inspection or by hand, dispositioned, closed."},
        {"name": "material-issues", "description": "Material issued to operations by scan, with over-issue approval and reversal."},
        {"name": "erp-sync", "description": "Delivery to the ERP: the outbox, dead letters, connections and reconciliation."},
        {"name": "event-stream", "description": "Stream destinations (RabbitMQ, MQTT) that get every event as CloudEvents."},
        {"name": "b2mml", "description": "ISA-95 B2MML (MESA V0701): operations schedules in, acknowledged; performance goes out through a b2mml connection."},
        {"name": "planning", "description": "Capacity per work center and day, and the finite schedule of operations with each order's predicted finish."},
        {"name": "andon", "description": "Calls for help from the shop floor, their states, and the escalation ladders that tell people."},
        {"name": "reports", "description": "Reports a plant runs on, as JSON and as downloads: the daily execution report per line and work center (JSON, PDF, XLSX) and labor per operator for payroll (JSON, CSV, XLSX)."},
    ],
}

# --- production rules -------------------------------------------------------------
# Percentage a confirmation may exceed what the previous operation passed as good.
MES_OVER_DELIVERY_TOLERANCE_PERCENT = env_decimal("MES_OVER_DELIVERY_TOLERANCE_PERCENT", "0", minimum=Decimal(0))
# Percentage a component may be issued beyond what the order requires before a supervisor must approve.
MES_OVER_ISSUE_TOLERANCE_PERCENT = env_decimal("MES_OVER_ISSUE_TOLERANCE_PERCENT", "5", minimum=Decimal(0))
# How often an andon notice is tried before it is given up (10 s, 20 s, 40 s … apart, at most 10 min).
MES_ANDON_SEND_ATTEMPTS = env_int("MES_ANDON_SEND_ATTEMPTS", 8, minimum=1, maximum=50)
# The daily report after each shift's end: a JSON object naming the channel per line ("*": every line
# without its own), each channel as the andon ladders' ({"type": "webhook"|"wecom"|"dingtalk"|"email", "url"?,
# "secret"?, "to"?}). Empty: no report is sent.
MES_DAILY_REPORT_CHANNELS = env_json_object("MES_DAILY_REPORT_CHANNELS")
# How often a daily report is tried before it is given up (10 s, 20 s, 40 s … apart, at most 10 min).
MES_DAILY_REPORT_SEND_ATTEMPTS = env_int("MES_DAILY_REPORT_SEND_ATTEMPTS", 8, minimum=1, maximum=50)
# Where people reach this MES (https://mes.example.com): the daily report's link is made absolute with it.
MES_PUBLIC_URL = env_url("MES_PUBLIC_URL", {"http", "https"}) or ""
# A machine down longer than this raises an andon call by itself (resolved when it runs again).
MES_ANDON_MACHINE_DOWN_SECONDS = env_int("MES_ANDON_MACHINE_DOWN_SECONDS", 300, minimum=0)
# Quality stop: an operation whose failed results plus scrapped pieces among its last
# MES_QUALITY_STOP_WINDOW pieces reported are more than MES_QUALITY_STOP_THRESHOLD is stopped
# (paused, held, an NCR opened) until quality releases it. A threshold of 0 stops at the first bad piece.
MES_QUALITY_STOP_WINDOW = env_int("MES_QUALITY_STOP_WINDOW", 20, minimum=1, maximum=100000)
MES_QUALITY_STOP_THRESHOLD = env_int("MES_QUALITY_STOP_THRESHOLD", 3, minimum=0, maximum=100000)
# Labor minutes per confirmation above this are refused as implausible (default: one 12-hour shift).
MES_MAX_LABOR_MINUTES = env_decimal("MES_MAX_LABOR_MINUTES", "720", minimum=Decimal(0))
MES_MAX_MACHINE_MINUTES = env_decimal("MES_MAX_MACHINE_MINUTES", "1440", minimum=Decimal(0))
# The currency of standard costs, rates and lot costs (an ISO 4217 code), named in the cost answers.
MES_CURRENCY = env_str("MES_CURRENCY", "CNY").upper()
if not re.fullmatch(r"[A-Z]{3}", MES_CURRENCY):
    raise _bad("MES_CURRENCY", MES_CURRENCY, "a three-letter ISO 4217 code such as CNY")
# The longest period the labor report covers in one request (days).
MES_LABOR_REPORT_MAX_DAYS = env_int("MES_LABOR_REPORT_MAX_DAYS", 93, minimum=1, maximum=3660)
# On PostgreSQL, confirmations and their ERP messages are written with plain SQL (one statement
# per report, COPY for a batch); off, the ORM writes them as on every other database (slower).
MES_PLAIN_SQL_WRITES = env_bool("MES_PLAIN_SQL_WRITES", True)
# Releasing an order that overloads a work center's day or cannot make its due date: "warn" releases
# and answers the warnings; "strict" refuses (409 capacity_exceeded) unless an override_reason is given.
MES_RELEASE_CAPACITY = env_str("MES_RELEASE_CAPACITY", "warn").lower()
if MES_RELEASE_CAPACITY not in {"warn", "strict"}:
    raise _bad("MES_RELEASE_CAPACITY", MES_RELEASE_CAPACITY, "warn or strict")
# The release check, named because the shift calendar it reads lives in shopfloor, above the domain
# (as the kernel names MES_INBOUND_RECEIPT_RECORDER): called with the locked, just released order.
MES_RELEASE_CHECK = "shopfloor.planning.services.release_warnings"
# The finish of active orders at their own pace, named for the same reason: the planner's
# pages (mes.views.planning) ask it with order numbers and get number → Prediction.
MES_PREDICTED_FINISH = "shopfloor.planning.predictions.predicted_finishes"
# The board's predicted finishes are worked out for every active order at most this long ago and
# shared by every screen polling it (0: worked out on every request).
MES_PREDICTION_MAX_AGE_SECONDS = env_int("MES_PREDICTION_MAX_AGE_SECONDS", 60, minimum=0, maximum=3600)
# Retries of transient ERP errors wait base·2^(attempt-1) seconds (with jitter), at most the cap.
ERP_SYNC_BACKOFF_BASE_SECONDS = float(env_decimal("ERP_SYNC_BACKOFF_BASE_SECONDS", "1", minimum=Decimal("0.01")))
ERP_SYNC_BACKOFF_CAP_SECONDS = float(env_decimal("ERP_SYNC_BACKOFF_CAP_SECONDS", "300", minimum=Decimal("0.1")))
# A worker's claim on a message lapses after this long (or twice the connection's timeout, if
# longer); a message whose worker died mid-send is then looked up in the ERP and resent only if absent.
ERP_SYNC_LEASE_SECONDS = float(env_decimal("ERP_SYNC_LEASE_SECONDS", "60", minimum=Decimal("1")))
# ERP sync raises an alert when the oldest unsent message is older than this, or dead letters exist.
# Seconds between two pulls of released orders from a connection with the option pull_orders (erp_sync.pulls).
MES_ERP_PULL_INTERVAL = env_int("MES_ERP_PULL_INTERVAL", 300, minimum=30, maximum=7 * 24 * 3600)
ERP_SYNC_ALERT_AFTER_SECONDS = env_int("ERP_SYNC_ALERT_AFTER_SECONDS", 60, minimum=1)
# Optional: POST the alert as JSON to this URL (e.g. a chat or paging webhook).
ERP_SYNC_ALERT_WEBHOOK = env_url("ERP_SYNC_ALERT_WEBHOOK", {"http", "https"})
# The event stream (erp_sync.event_stream): CloudEvents "source" of every event; how long a broker may
# take to connect and confirm a batch; events per batch; how long events every destination has had are kept.
MES_EVENT_SOURCE = env_str("MES_EVENT_SOURCE", "/open-mes")
MES_EVENT_TIMEOUT_SECONDS = float(env_decimal("MES_EVENT_TIMEOUT_SECONDS", "5", minimum=Decimal("0.1")))
MES_EVENT_BATCH_SIZE = env_int("MES_EVENT_BATCH_SIZE", 1000, minimum=1, maximum=20000)
MES_EVENT_RETENTION_DAYS = env_int("MES_EVENT_RETENTION_DAYS", 7, minimum=0)
# How long a worker process trusts what it read about an API token (user, roles, allow-list).
API_TOKEN_CACHE_SECONDS = env_int("API_TOKEN_CACHE_SECONDS", 5, minimum=0, maximum=300)
# Who may read /metrics without a token: queue depths and alert state are not for everyone on the network.
# With a token (supervisor, integration or admin role) it is readable from anywhere the token is allowed.
METRICS_ALLOW_FROM = env_networks("METRICS_ALLOW_FROM", ["127.0.0.1/32", "::1/128"])
MES_BULK_LIMIT = env_int("MES_BULK_LIMIT", 1000, minimum=1, maximum=10000)

# --- device collector (shopfloor.collector) ----------------------------------------
# Machine counts are confirmed once per window; a restart replays the same window under the same client_id.
COLLECTOR_CONFIRM_WINDOW_SECONDS = float(env_decimal("COLLECTOR_CONFIRM_WINDOW_SECONDS", "60", minimum=Decimal("0.5")))
COLLECTOR_SCRAP_REASON_CODE = env_str("COLLECTOR_SCRAP_REASON_CODE", "")  # empty: the first scrap reason by code
# A machine down or idle longer than this asks the operator at its station for a reason code.
MES_DOWNTIME_REASON_AFTER_SECONDS = env_int("MES_DOWNTIME_REASON_AFTER_SECONDS", 120, minimum=0)
# Operator stations: how long a one-time station link works, and how long a PIN-checked sign-in
# vouches for the reports made after it (reports kept offline are sent later, up to this age).
MES_STATION_LINK_HOURS = env_int("MES_STATION_LINK_HOURS", 24, minimum=1, maximum=24 * 30)
MES_STATION_OPERATOR_PROOF_HOURS = env_int("MES_STATION_OPERATOR_PROOF_HOURS", 168, minimum=1, maximum=24 * 90)
# An operator may reverse their own last report at the station within this many minutes (with a reason);
# later, a supervisor's badge scanned at the station approves the correction. 0: always a supervisor.
MES_OPERATOR_CORRECTION_MINUTES = env_int("MES_OPERATOR_CORRECTION_MINUTES", 5, minimum=0, maximum=24 * 60)
# Work instructions (PDF, PNG, JPEG, WebP) attached to routing operations: the largest file accepted.
MES_WORK_INSTRUCTION_MAX_BYTES = env_int("MES_WORK_INSTRUCTION_MAX_BYTES", 20 * 1024 * 1024, minimum=1024, maximum=512 * 1024 * 1024)
# Where device mappings may point (Modbus, OPC UA, MQTT hosts): every address a host resolves to must lie in one
# of these. Link-local addresses (169.254.0.0/16, fe80::/10: cloud metadata services) never, even if listed.
MES_DEVICE_NETWORKS = env_networks(
    "MES_DEVICE_NETWORKS", ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]
)
# A confirmation's time (confirmed_at) must lie in this window around now: a year 0001 or 9999
# would become a posting date the ERP refuses, and the dead letter would block the order. The
# past reaches back past what a station may send late from offline; the future allows for a
# device clock running a few minutes fast.
MES_CONFIRMED_AT_MAX_PAST_DAYS = env_int("MES_CONFIRMED_AT_MAX_PAST_DAYS", 30, minimum=1, maximum=3660)
MES_CONFIRMED_AT_MAX_FUTURE_MINUTES = env_int("MES_CONFIRMED_AT_MAX_FUTURE_MINUTES", 15, minimum=0, maximum=24 * 60)
if MES_CONFIRMED_AT_MAX_PAST_DAYS * 24 < MES_STATION_OPERATOR_PROOF_HOURS:
    raise _bad(
        "MES_CONFIRMED_AT_MAX_PAST_DAYS",
        str(MES_CONFIRMED_AT_MAX_PAST_DAYS),
        f"at least MES_STATION_OPERATOR_PROOF_HOURS / 24 = {MES_STATION_OPERATOR_PROOF_HOURS / 24:g} days, "
        "or reports a station sends late from offline would be refused",
    )
COLLECTOR_IDLE_AFTER_SECONDS = float(env_decimal("COLLECTOR_IDLE_AFTER_SECONDS", "60", minimum=Decimal(1)))
COLLECTOR_UNANSWERED_AFTER_SECONDS = float(env_decimal("COLLECTOR_UNANSWERED_AFTER_SECONDS", "5", minimum=Decimal("0.1")))
COLLECTOR_BACKOFF_CAP_SECONDS = float(env_decimal("COLLECTOR_BACKOFF_CAP_SECONDS", "30", minimum=Decimal(1)))
COLLECTOR_RELOAD_SECONDS = float(env_decimal("COLLECTOR_RELOAD_SECONDS", "30", minimum=Decimal(1)))
COLLECTOR_DB_THREADS = env_int("COLLECTOR_DB_THREADS", 2, minimum=1, maximum=64)
COLLECTOR_STATS_SECONDS = float(env_decimal("COLLECTOR_STATS_SECONDS", "60", minimum=Decimal(1)))  # log reads/s and read lag

# --- logging ----------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Refusals (4xx) are answered and in the access log; a traceback per 403 would bury the server errors.
        "django.request": {"level": "ERROR"},
        # An unanswered PLC request is reported once by our collector; pymodbus would add a frame dump each time.
        "pymodbus": {"level": "CRITICAL"},
        "asyncua": {"level": "WARNING"},
        # Celery's line per task received/succeeded and per beat tick: the sweep every 2 s would bury
        # everything else on the console. Failures are still logged (as errors), and so is our own work.
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.app.trace": {"level": "WARNING"},
        "celery.beat": {"level": "WARNING"},
        # django-axes logs every sign-in at INFO; lock-outs (WARNING) are what an operator needs.
        "axes": {"level": "WARNING"},
    },
}
