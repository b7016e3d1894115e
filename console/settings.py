"""Django settings for Functory, read from environment variables.

Two profiles share this file: *embedded* (the default: SQLite in the data dir, in-memory
channel layer, a broker that needs no server) and *scaled* (``DATABASE_URL`` PostgreSQL,
``REDIS_URL`` for channels and concurrency counters, ``CELERY_BROKER_URL``).
"""

from __future__ import annotations

import os
from datetime import timedelta

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from console import startup

BASE_DIR = startup.BASE_DIR


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def env_bool(name: str, default: bool) -> bool:
    """A yes/no environment variable; unset or empty gives ``default``.

    Anything but the usual spellings is refused: a typo (``FUNCTORY_SECURE_COOKIES=ture``)
    must not quietly turn a setting off.
    """
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(
        f"{name}={os.environ[name]!r} is not a yes/no value: use one of "
        + ", ".join(sorted(TRUE_WORDS | FALSE_WORDS))
    )


# Paths and the secret key come from console.startup, which creates them (prepare(), run by
# every entry point before Django starts): importing these settings writes nothing.
DATA_DIR = startup.data_dir()

DEBUG = env_bool("FUNCTORY_DEBUG", False)


# DJANGO_SECRET_KEY in production; else a random key kept in the data dir (generated once by
# startup.prepare()) so sessions survive restarts without a built-in default secret.
SECRET_KEY = startup.secret_key()
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "*").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "console",
    "iam",
    "functions",
    "invocations",
    "monitoring",
    "triggers",
    "audit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Console actions that change something, as audit events (audit.middleware).
    "audit.middleware.ConsoleAuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "console.security_headers.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# Browser hardening (SecurityMiddleware): no MIME sniffing, no referrer to other sites (a
# code-download link is a credential). Behind TLS, FUNCTORY_SECURE_COOKIES=1 marks the
# session and CSRF cookies Secure; FUNCTORY_HSTS_SECONDS > 0 adds Strict-Transport-Security
# to requests Django sees as HTTPS.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("FUNCTORY_SECURE_COOKIES", False)
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = int(os.environ.get("FUNCTORY_HSTS_SECONDS", "0"))

# The Lambda API accepts paths with and without a trailing slash on its own; a redirect
# would break signed POST requests.
APPEND_SLASH = False

ROOT_URLCONF = "console.urls"
ASGI_APPLICATION = "console.asgi.application"
AUTH_USER_MODEL = "iam.User"
# User names are unique per account (console.auth signs in with "<account id>/<name>").
SILENCED_SYSTEM_CHECKS = ["auth.W004"]  # USERNAME_FIELD is unique per account, not globally
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

# Console sign-in throttling (django-axes): after FUNCTORY_LOGIN_FAILURE_LIMIT failed
# sign-ins for one user name from one address, that pair is locked out for
# FUNCTORY_LOGIN_LOCKOUT_MINUTES (the right password included; each further failure restarts
# the period). Counted in the database, so every process and replica sees the same count.
AUTHENTICATION_BACKENDS = [
    "console.auth_backends.LoginLockoutBackend",
    # User names are unique per account: "<account id>/<name>", or a name alone when it
    # is unambiguous (console/auth.py).
    "console.auth.AccountUserBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("FUNCTORY_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("FUNCTORY_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "console.views.login_locked_out"
AXES_HTTP_RESPONSE_CODE = 429
# Successful sign-ins need no audit table of their own here; failures are what is counted.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False

# Every password set through Functory (createuser, the console's account page, the first
# admin) must pass these; FUNCTORY_PASSWORD_MIN_LENGTH sets the minimum length.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": int(os.environ.get("FUNCTORY_PASSWORD_MIN_LENGTH", "10"))},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

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
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL", "")
# How long a thread keeps its database connection (each of a process's threads holds one:
# the API threads of console.api_handler, the worker's; the thread Django's ASGI handler
# makes for one request closes its own at the request's end): seconds, 0 to close after
# each request.
DB_CONN_MAX_AGE = int(os.environ.get("FUNCTORY_DB_CONN_MAX_AGE", "60"))
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=DB_CONN_MAX_AGE,
            conn_health_checks=True,
        )
    }
    # Test runs create their own database; a per-process name lets runs overlap safely.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "functory.sqlite3"),
            # Kept per thread as on PostgreSQL: opening one (with its PRAGMAs and Django's
            # SQL functions) cost more than a control-plane call's queries or the Invoke
            # API's whole Event accept.
            "CONN_MAX_AGE": DB_CONN_MAX_AGE,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {
                # IMMEDIATE makes writers queue on the lock instead of failing mid-transaction.
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
# Capacity: messages waiting per channel before the layer drops new ones without a word. A
# live-tail socket gets its lines early and again once stored, and with Redis all of a
# process's sockets share one channel: 100 (the default) is too few for a busy moment.
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "capacity": 1000},
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1000}}
    }

# The cache holds short-lived counters (the platform API's request rates): shared by every
# replica in Redis on the scaled profile, per process on the embedded one.
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# The platform's own JSON API (the console's endpoints, /_functory/api/*,
# /_functory/async-invocations): Django REST framework, see platformapi/. The AWS wire APIs
# do not use it; they stay driven by the botocore models (awsapi/).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["platformapi.authentication.ConsoleSessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["platformapi.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_THROTTLE_CLASSES": ["platformapi.throttling.PlatformUserThrottle"],
    # Requests per user (or per address before sign-in) to the platform API.
    "DEFAULT_THROTTLE_RATES": {"platform": os.environ.get("FUNCTORY_API_RATE", "1200/min")},
    # Behind a proxy, DRF would trust X-Forwarded-For from anyone; count by the peer.
    "NUM_PROXIES": 0,
    "EXCEPTION_HANDLER": "platformapi.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Functory platform API",
    "DESCRIPTION": (
        "The JSON API behind Functory's web console, plus the platform's own extensions "
        "(asynchronous invocations, metrics, live-tail grants). The AWS-compatible APIs "
        "(Lambda, CloudWatch Logs, CloudWatch) are described by the botocore models instead."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "platformapi.schema.add_error_responses",
    ],
}

CELERY_BROKER_URL = startup.broker_url()
if CELERY_BROKER_URL == startup.FILESYSTEM_BROKER:
    _broker_dir = startup.broker_dir()
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "data_folder_processed": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        # kombu's default (1 s) also paces a busy worker: with prefetch 1 and late acks it
        # sleeps a whole interval after every task before it looks for the next one.
        "polling_interval": float(os.environ.get("FUNCTORY_BROKER_POLLING_SECONDS", "0.05")),
    }
    # kombu's filesystem transport, with messages and bindings written atomically.
    CELERY_BROKER_TRANSPORT = "console.broker:Transport"
# `manage.py serve` starts a Celery worker (with beat) itself unless told otherwise; by
# default only where the broker needs no server, i.e. the embedded profile.
FUNCTORY_EMBEDDED_WORKER = env_bool(
    "FUNCTORY_EMBEDDED_WORKER", CELERY_BROKER_URL.startswith("filesystem://")
)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One message at a time keeps a long-running event from holding others back on a busy
# worker while idle ones could take them. The filesystem broker (embedded: one worker) takes
# a few at once instead, so it doesn't sleep a polling interval between events; a killed
# worker's prefetched messages are not lost for good: the sweeper re-sends their events.
CELERY_WORKER_PREFETCH_MULTIPLIER = 4 if CELERY_BROKER_URL == "filesystem://" else 1
# Workers keep their database connections between tasks (console/celery.py checks them
# around each task as Django does around requests); Celery would otherwise reconnect twice
# per task.
CELERY_DB_REUSE_MAX = 10**9
# Task modules outside an app's tasks.py, and the periodic tasks (run by celery beat).
CELERY_IMPORTS = [
    "monitoring.metrics.tasks",
    "monitoring.metrics.alarms.tasks",
    "triggers.rules.tasks",
]
CELERY_BEAT_SCHEDULE = {
    "metrics-rollup": {"task": "monitoring.metrics.rollup", "schedule": 300.0},
    "metrics-retention": {"task": "monitoring.metrics.retention", "schedule": 3600.0},
    # CloudWatch alarms: each claimed in the database once a minute, so any number of beats
    # and workers may run this.
    "alarms-evaluate": {
        "task": "monitoring.alarms.evaluate",
        "schedule": float(os.environ.get("FUNCTORY_ALARMS_TICK_SECONDS", "60")),
    },
    # Log groups' retention (PutRetentionPolicy); idempotent, hourly is plenty.
    "logs-retention": {"task": "monitoring.tasks.log_events_expire", "schedule": 3600.0},
    # X-Ray traces: 30 days, and a bounded count per account.
    "traces-retention": {"task": "monitoring.tasks.traces_expire", "schedule": 3600.0},
    # Asynchronous invocations left behind by a dead worker or a lost broker message.
    "async-invocations-sweep": {
        "task": "invocations.async_invocations_sweep",
        "schedule": float(os.environ.get("FUNCTORY_ASYNC_SWEEP_SECONDS", "30")),
    },
    # EventBridge scheduled rules: each due occurrence is claimed in the database, so any
    # number of beats may run this; rules fire within the minute AWS promises.
    "events-schedules": {
        "task": "triggers.schedules_fire",
        "schedule": float(os.environ.get("FUNCTORY_SCHEDULE_TICK_SECONDS", "10")),
    },
    "events-firings-expire": {"task": "triggers.firings_expire", "schedule": 3600.0},
    # Audit events past FUNCTORY_AUDIT_RETENTION_DAYS.
    "audit-retention": {"task": "audit.events_expire", "schedule": 3600.0},
    # Expired STS credentials (sessions and functions' execution-role credentials).
    "iam-credentials-expire": {"task": "iam.temporary_credentials_expire", "schedule": 3600.0},
    # Ended asynchronous invocations past FUNCTORY_ASYNC_RETENTION_SECONDS.
    "async-invocations-expire": {
        "task": "invocations.async_invocations_expire",
        "schedule": 3600.0,
    },
}

STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(DATA_DIR / "files")},
    },
    # Code packages and layer archives, content-addressed by SHA-256. Any Django storage
    # backend (e.g. an S3-compatible one) can be configured here instead.
    "code": {
        "BACKEND": os.environ.get(
            "FUNCTORY_CODE_STORAGE", "django.core.files.storage.FileSystemStorage"
        ),
        "OPTIONS": {"location": str(DATA_DIR / "code")},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = startup.static_root()
# Static files are served from the source folders by WhiteNoise: no collectstatic step.
WHITENOISE_USE_FINDERS = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# The Lambda API's own limits decide request sizes (a base64 zip of 50 MB is ~67 MB).
DATA_UPLOAD_MAX_MEMORY_SIZE = 80 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 80 * 1024 * 1024

FUNCTORY_REGION = os.environ.get("FUNCTORY_REGION", "us-east-1")
# CloudWatch alarms: how many one account may have, and how many one evaluation tick (a
# minute) evaluates; the rest wait for the next tick, least recently evaluated first.
FUNCTORY_MAX_ALARMS_PER_ACCOUNT = int(os.environ.get("FUNCTORY_MAX_ALARMS_PER_ACCOUNT", "5000"))
FUNCTORY_ALARMS_PER_TICK = int(os.environ.get("FUNCTORY_ALARMS_PER_TICK", "2000"))

# The audit trail (audit/): how long events are kept (CloudTrail's event history keeps 90
# days); whether data events (Invoke, log events' reads and writes) are recorded too, off as
# on AWS; how often each process stores what it buffered; and how many rows a minute each
# process may make of calls nobody vouched for (bad signatures, failed sign-ins), the rest
# being counted only (audit/recorder.py).
FUNCTORY_AUDIT_RETENTION_DAYS = float(os.environ.get("FUNCTORY_AUDIT_RETENTION_DAYS", "90"))
FUNCTORY_AUDIT_DATA_EVENTS = env_bool("FUNCTORY_AUDIT_DATA_EVENTS", False)
FUNCTORY_AUDIT_FLUSH_SECONDS = float(os.environ.get("FUNCTORY_AUDIT_FLUSH_SECONDS", "2"))
FUNCTORY_AUDIT_UNAUTHENTICATED_PER_MINUTE = int(
    os.environ.get("FUNCTORY_AUDIT_UNAUTHENTICATED_PER_MINUTE", "60")
)
# ...and how many of an account's own events a minute each process records one by one; the
# rest are counted in one row for the account.
FUNCTORY_AUDIT_EVENTS_PER_ACCOUNT_PER_MINUTE = int(
    os.environ.get("FUNCTORY_AUDIT_EVENTS_PER_ACCOUNT_PER_MINUTE", "6000")
)
# Function URLs: with a wildcard domain (``*.lambda-url.<region>.<domain>`` resolving to this
# server) FunctionUrl is AWS's host form; unset, the path form /lambda-url/<id>/ on this host.
FUNCTORY_URL_DOMAIN = os.environ.get("FUNCTORY_URL_DOMAIN", "")
FUNCTORY_URL_SCHEME = os.environ.get("FUNCTORY_URL_SCHEME", "https")
FUNCTORY_ACCOUNT_CONCURRENCY = int(os.environ.get("FUNCTORY_ACCOUNT_CONCURRENCY", "1000"))
# Provisioned environments an account may ask for: each is a process every web replica
# keeps running (invocations/provisioning.py).
FUNCTORY_ACCOUNT_PROVISIONED_CONCURRENCY = int(
    os.environ.get("FUNCTORY_ACCOUNT_PROVISIONED_CONCURRENCY", "20")
)
FUNCTORY_CODE_STORAGE_LIMIT = int(os.environ.get("FUNCTORY_CODE_STORAGE_LIMIT", str(75 * 1024**3)))
FUNCTORY_EXECUTOR_BACKEND = os.environ.get("FUNCTORY_EXECUTOR_BACKEND", "sandbox")
FUNCTORY_KEEP_ALIVE_SECONDS = float(os.environ.get("FUNCTORY_KEEP_ALIVE_SECONDS", "300"))
# Below this much available memory (MB) idle environments are stopped before their
# keep-alive ends (unset: 10 % of the host's memory, at least 512 MB).
_FLOOR = os.environ.get("FUNCTORY_REAP_MEMORY_FLOOR_MB", "")
FUNCTORY_REAP_MEMORY_FLOOR_MB: float | None = float(_FLOOR) if _FLOOR else None
# How long a process may reuse a resolved function configuration it did not change itself.
FUNCTORY_CONFIG_CACHE_SECONDS = float(os.environ.get("FUNCTORY_CONFIG_CACHE_SECONDS", "1"))
# Threads per process that run the AWS APIs' sync views (console.api_handler); each holds a
# database connection. When all are busy a call gets a thread of its own (Django's handler).
FUNCTORY_API_THREADS = int(os.environ.get("FUNCTORY_API_THREADS", "4"))
# How long a process may reuse an access key on the Invoke path (a deactivation elsewhere
# takes effect within this time).
FUNCTORY_ACCESS_KEY_CACHE_SECONDS = float(os.environ.get("FUNCTORY_ACCESS_KEY_CACHE_SECONDS", "5"))
# Functions' execution roles: how long the credentials of an environment's role session last
# (AWS's sessions last at most 12 hours; an environment is not given an invocation that could
# outlive them, see invocations/credentials.py), and whether CreateFunction and
# UpdateFunctionConfiguration refuse a role that does not exist or does not trust Lambda (off:
# such a function runs without credentials, as scripts written for LocalStack or moto expect).
FUNCTORY_EXECUTION_CREDENTIALS_SECONDS = int(
    os.environ.get("FUNCTORY_EXECUTION_CREDENTIALS_SECONDS", str(12 * 3600))
)
FUNCTORY_STRICT_EXECUTION_ROLES = env_bool("FUNCTORY_STRICT_EXECUTION_ROLES", False)
# Where a process without live-tail subscribers (the embedded worker) sends stored events
# so the server's in-memory channel layer can push them; set by `manage.py serve`.
FUNCTORY_LIVE_FORWARD_URL = os.environ.get("FUNCTORY_LIVE_FORWARD_URL", "")
# Where the embedded worker has the server run its asynchronous attempts (one executor, in
# the server process: DESIGN.md); set by `manage.py serve`. Unset, a worker runs them itself.
FUNCTORY_EXECUTOR_URL = os.environ.get("FUNCTORY_EXECUTOR_URL", "")
# Live tail: batches queued for one socket, and how long one send may take, before the
# subscriber is closed as too slow (code 4008; it can resume with after_id).
FUNCTORY_LIVE_TAIL_QUEUE_LIMIT = int(os.environ.get("FUNCTORY_LIVE_TAIL_QUEUE_LIMIT", "1000"))
FUNCTORY_LIVE_TAIL_SEND_TIMEOUT = float(os.environ.get("FUNCTORY_LIVE_TAIL_SEND_TIMEOUT", "10"))
# How often an open live-tail socket re-checks its user, key and session (revocations are
# pushed at once; this catches changes made where no push reaches the server).
FUNCTORY_LIVE_TAIL_RECHECK_SECONDS = float(
    os.environ.get("FUNCTORY_LIVE_TAIL_RECHECK_SECONDS", "30")
)
# Allowed clock difference for SigV4-signed requests, as AWS enforces.
FUNCTORY_SIGV4_MAX_SKEW_SECONDS = 15 * 60
# SigV4 requests that fail authentication: after this many failures within the window for one
# access key id (or, for keys that do not exist, one client address), further failing
# requests get the service's throttling error; correctly signed requests always pass.
# Counted in Redis when REDIS_URL is set (all replicas), else per process.
FUNCTORY_SIGV4_FAILURE_LIMIT = int(os.environ.get("FUNCTORY_SIGV4_FAILURE_LIMIT", "20"))
FUNCTORY_SIGV4_FAILURE_WINDOW_SECONDS = int(
    os.environ.get("FUNCTORY_SIGV4_FAILURE_WINDOW_SECONDS", "60")
)
# The HTTP server's bounds on a request's head (console/http_protocol.py): its size (431
# past it) and how long it may take to arrive (the connection is closed after that).
FUNCTORY_HTTP_MAX_HEAD_BYTES = int(os.environ.get("FUNCTORY_HTTP_MAX_HEAD_BYTES", str(128 * 1024)))
FUNCTORY_HTTP_HEAD_TIMEOUT_SECONDS = float(
    os.environ.get("FUNCTORY_HTTP_HEAD_TIMEOUT_SECONDS", "30")
)
# How often each process writes its in-memory metric points (one transaction per flush).
FUNCTORY_METRICS_FLUSH_SECONDS = float(os.environ.get("FUNCTORY_METRICS_FLUSH_SECONDS", "5"))
# Logs Insights (StartQuery): queries running at once per account (AWS: 30), how long one
# may run and how many events it may read before it ends as Timeout, and how long finished
# queries and their results are kept (AWS keeps them 7 days; results here are at most
# FUNCTORY_LOGS_QUERY_RESULT_BYTES of rendered values and 10,000 rows).
FUNCTORY_LOGS_QUERY_CONCURRENCY = int(os.environ.get("FUNCTORY_LOGS_QUERY_CONCURRENCY", "30"))
FUNCTORY_LOGS_QUERY_SECONDS = float(os.environ.get("FUNCTORY_LOGS_QUERY_SECONDS", "60"))
# Threads per process that run queries (more queries wait, Scheduled, for one).
FUNCTORY_LOGS_QUERY_THREADS = int(os.environ.get("FUNCTORY_LOGS_QUERY_THREADS", "4"))
FUNCTORY_LOGS_QUERY_MAX_EVENTS = int(os.environ.get("FUNCTORY_LOGS_QUERY_MAX_EVENTS", "2000000"))
FUNCTORY_LOGS_QUERY_RETENTION_SECONDS = float(
    os.environ.get("FUNCTORY_LOGS_QUERY_RETENTION_SECONDS", str(24 * 3600))
)
FUNCTORY_LOGS_QUERY_RESULT_BYTES = int(
    os.environ.get("FUNCTORY_LOGS_QUERY_RESULT_BYTES", str(8 * 1024 * 1024))
)
# How many custom metrics (namespace, name, dimension set) one account may publish with
# PutMetricData; past it new ones are refused with LimitExceeded (existing ones still take
# data). Series unused for 455 days are forgotten.
FUNCTORY_CUSTOM_METRICS_PER_ACCOUNT = int(
    os.environ.get("FUNCTORY_CUSTOM_METRICS_PER_ACCOUNT", "10000")
)
# Asynchronous invocations: the first retry after a function error waits this long (then
# twice as long, as AWS does); throttles and system errors start at the system base and
# grow to the max; a claim outlives the function's timeout by the lease; an event due this
# long without being taken is sent to the broker again.
FUNCTORY_ASYNC_RETRY_BASE_SECONDS = float(os.environ.get("FUNCTORY_ASYNC_RETRY_BASE_SECONDS", "60"))
FUNCTORY_ASYNC_SYSTEM_RETRY_BASE_SECONDS = float(
    os.environ.get("FUNCTORY_ASYNC_SYSTEM_RETRY_BASE_SECONDS", "1")
)
FUNCTORY_ASYNC_SYSTEM_RETRY_MAX_SECONDS = float(
    os.environ.get("FUNCTORY_ASYNC_SYSTEM_RETRY_MAX_SECONDS", "300")
)
FUNCTORY_ASYNC_LEASE_SECONDS = float(os.environ.get("FUNCTORY_ASYNC_LEASE_SECONDS", "60"))
FUNCTORY_ASYNC_REQUEUE_AFTER_SECONDS = float(
    os.environ.get("FUNCTORY_ASYNC_REQUEUE_AFTER_SECONDS", "120")
)
# A worker that takes an event also claims up to this many due events of the same function
# and qualifier in all (fewer under a lower reserved concurrency) and runs them, at most
# FUNCTORY_ASYNC_BATCH_CONCURRENCY at a time (so a batch doesn't boot an environment per
# event on a small host), in no more rounds than fit in FUNCTORY_ASYNC_LEASE_SECONDS: one
# claim, one log flush and one outcome transaction per batch.
FUNCTORY_ASYNC_BATCH = max(1, int(os.environ.get("FUNCTORY_ASYNC_BATCH", "32")))
FUNCTORY_ASYNC_BATCH_CONCURRENCY = max(
    1, int(os.environ.get("FUNCTORY_ASYNC_BATCH_CONCURRENCY", str(2 * (os.cpu_count() or 1))))
)
# Ended events are kept this long (the console's and API's list), then deleted.
FUNCTORY_ASYNC_RETENTION_SECONDS = float(
    os.environ.get("FUNCTORY_ASYNC_RETENTION_SECONDS", str(7 * 24 * 3600))
)
# Where dead-letter messages and destination records for SQS, SNS and EventBridge go (and
# where the SQS, Kinesis and DynamoDB Streams pollers read):
# one endpoint for all of them (e.g. a LocalStack or moto server), or one per service; unset,
# the services' public AWS endpoints in the target ARN's region. Credentials come from
# these two settings, else from botocore's usual chain (environment, ~/.aws, instance role).
FUNCTORY_AWS_ENDPOINT_URL = os.environ.get("FUNCTORY_AWS_ENDPOINT_URL", "")
FUNCTORY_AWS_ENDPOINT_URLS = {
    service: os.environ.get(f"FUNCTORY_{service.upper()}_ENDPOINT_URL", "")
    for service in ("sqs", "sns", "events", "s3", "kinesis", "dynamodbstreams")
}
FUNCTORY_AWS_ACCESS_KEY_ID = os.environ.get("FUNCTORY_AWS_ACCESS_KEY_ID", "")
# Those credentials are the platform's, not a function's role: when set, records only go to
# these AWS account ids (comma-separated), so one tenant can't write to another's queues.
FUNCTORY_AWS_TARGET_ACCOUNTS = [
    account
    for account in os.environ.get("FUNCTORY_AWS_TARGET_ACCOUNTS", "").replace(" ", "").split(",")
    if account
]
FUNCTORY_AWS_SECRET_ACCESS_KEY = os.environ.get("FUNCTORY_AWS_SECRET_ACCESS_KEY", "")

# Event source mapping pollers (triggers/pollers): they run in every server process `serve`
# starts (FUNCTORY_POLLERS=0 turns them off there); each mapping's poller runs in one process
# at a time, across hosts, under a lease in the database that its holder renews and another
# process claims once it expires (a dead host's mappings move within this many seconds).
FUNCTORY_POLLERS = env_bool("FUNCTORY_POLLERS", True)
FUNCTORY_POLLER_LEASE_SECONDS = float(os.environ.get("FUNCTORY_POLLER_LEASE_SECONDS", "15"))
# How often a server process reads the mappings: a disabled, deleted or changed mapping is
# acted on within this long (plus one query).
FUNCTORY_POLLER_CHECK_SECONDS = float(os.environ.get("FUNCTORY_POLLER_CHECK_SECONDS", "0.25"))
# Concurrent batches of an SQS mapping without ScalingConfig.MaximumConcurrency.
FUNCTORY_SQS_MAX_CONCURRENCY = int(os.environ.get("FUNCTORY_SQS_MAX_CONCURRENCY", "10"))
# Threads for the pollers' blocking broker calls (long polls), per server process.
FUNCTORY_POLLER_THREADS = int(os.environ.get("FUNCTORY_POLLER_THREADS", "64"))
# Self-hosted brokers that Amazon MQ event source mappings may read (triggers/brokers.py):
# JSON, broker name or full ARN -> {"engine": "rabbitmq"|"nats"|"mqtt", "url": ...,
# "accounts": [...] (default: every account), "jetstream": true (NATS)}. A mapping only ever
# connects to a URL listed here; its EventSourceArn merely picks one.
FUNCTORY_MQ_BROKERS = os.environ.get("FUNCTORY_MQ_BROKERS", "{}")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    # API errors are answers, not server faults; only 5xx are worth a log line.
    "loggers": {"django.request": {"level": "ERROR"}},
}
