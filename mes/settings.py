"""Project settings, all read from the environment.

Every value a plant may change comes from an environment variable through one of the
small ``env_*`` helpers below. A bad value stops start-up with a message naming the
variable, instead of surfacing later as a confusing runtime error.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dj_database_url
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
        # on a read-to-write lock upgrade.
        config["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
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


# --- core -------------------------------------------------------------------------
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY") or _local_secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "mes",
    "erp_sync",
    "shopfloor",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After sign-in and language, so its refusal page is in the reader's language and menu.
    "mes.middleware.RefuseNulMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "erp_sync.middleware.InboundReceiptMiddleware",
]

ROOT_URLCONF = "mes.urls"
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
                "mes.context_processors.pages",
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
# The cache holds what every process of the plant must agree on (station PIN lock-outs): Redis in
# scale-out mode, else files under var/ that the web workers on this machine share.
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "mes"}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(VAR_DIR / "cache")}}
# An explicit CELERY_BROKER_URL wins (the tests use memory://); else Redis, else a folder.
CELERY_BROKER_URL = env_url("CELERY_BROKER_URL", {"memory", "redis", "rediss", "filesystem", "amqp"})
if CELERY_BROKER_URL is None and EMBEDDED_MODE:
    # kombu's filesystem transport: a real broker shared by processes on this machine, nothing to install.
    _BROKER_DIR = VAR_DIR / "broker"
    for _sub in ("in", "processed", "control"):
        (_BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "in"),
        "data_folder_out": str(_BROKER_DIR / "in"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "control_folder": str(_BROKER_DIR / "control"),  # kombu's default is relative to the working directory
        "store_processed": False,
        "polling_interval": 0.05,  # a confirmation should reach the ERP within a second
    }
elif CELERY_BROKER_URL is None:
    CELERY_BROKER_URL = REDIS_URL
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
    "erp-sync-reconcile": {
        "task": "erp_sync.reconcile",
        "schedule": float(env_decimal("ERP_SYNC_RECONCILE_SECONDS", "3600", minimum=Decimal("60"))),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = None  # set below from TIME_ZONE

# --- auth -------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

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
    "DEFAULT_PARSER_CLASSES": ["mes.api.parsers.SafeJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "mes.api.errors.exception_handler",
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
}

# --- production rules -------------------------------------------------------------
# Percentage a confirmation may exceed what the previous operation passed as good.
MES_OVER_DELIVERY_TOLERANCE_PERCENT = env_decimal("MES_OVER_DELIVERY_TOLERANCE_PERCENT", "0", minimum=Decimal(0))
# Labor minutes per confirmation above this are refused as implausible (default: one 12-hour shift).
MES_MAX_LABOR_MINUTES = env_decimal("MES_MAX_LABOR_MINUTES", "720", minimum=Decimal(0))
MES_MAX_MACHINE_MINUTES = env_decimal("MES_MAX_MACHINE_MINUTES", "1440", minimum=Decimal(0))
# Retries of transient ERP errors wait base·2^(attempt-1) seconds (with jitter), at most the cap.
ERP_SYNC_BACKOFF_BASE_SECONDS = float(env_decimal("ERP_SYNC_BACKOFF_BASE_SECONDS", "1", minimum=Decimal("0.01")))
ERP_SYNC_BACKOFF_CAP_SECONDS = float(env_decimal("ERP_SYNC_BACKOFF_CAP_SECONDS", "300", minimum=Decimal("0.1")))
# A worker's claim on a message lapses after this long (or twice the connection's timeout, if
# longer); a message whose worker died mid-send is then looked up in the ERP and resent only if absent.
ERP_SYNC_LEASE_SECONDS = float(env_decimal("ERP_SYNC_LEASE_SECONDS", "60", minimum=Decimal("1")))
# ERP sync raises an alert when the oldest unsent message is older than this, or dead letters exist.
ERP_SYNC_ALERT_AFTER_SECONDS = env_int("ERP_SYNC_ALERT_AFTER_SECONDS", 60, minimum=1)
# Optional: POST the alert as JSON to this URL (e.g. a chat or paging webhook).
ERP_SYNC_ALERT_WEBHOOK = env_url("ERP_SYNC_ALERT_WEBHOOK", {"http", "https"})
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
        # An unanswered PLC request is reported once by our collector; pymodbus would add a frame dump each time.
        "pymodbus": {"level": "CRITICAL"},
        "asyncua": {"level": "WARNING"},
        # Celery's line per task received/succeeded and per beat tick: the sweep every 2 s would bury
        # everything else on the console. Failures are still logged (as errors), and so is our own work.
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.app.trace": {"level": "WARNING"},
        "celery.beat": {"level": "WARNING"},
    },
}
