"""Django settings for the dagviz web app, read from environment variables.

Every value that differs between a laptop, CI and a cluster comes from the
environment (see ``docs`` and the variable names below), so the same code runs
everywhere and the defaults give a working single-machine setup on SQLite.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url

from dagviz.env import env_bool, env_float, env_int, env_list, env_str
from dagviz.home import ensure_dagviz_home
from dagviz.server.secret_key import secret_key
from dagviz.workspace_file import workspace_entries

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def ui_folder(name: str) -> Path:
    """The UI's ``templates`` or ``static`` folder: inside the installed package, else the source checkout's."""
    shipped = Path(__file__).resolve().parent / name
    return shipped if shipped.is_dir() else BASE_DIR / name

SQLITE_OPTIONS: dict[str, Any] = {
    # Take the write lock when a transaction starts, so a separate writer
    # (the run worker) makes readers wait instead of failing mid-transaction.
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    # WAL lets the web server read while a run worker writes; the WAL file is cut back to 64 MB after
    # each checkpoint instead of keeping the size a million-key run's writes once gave it.
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA journal_size_limit=67108864;",
}


def database_settings(url: str | None, home: Path) -> dict[str, Any]:
    """Return the ``default`` database settings for ``url``, or SQLite under ``home``.

    SQLite databases get the options that hold up under a separate writer
    process, and a file-backed test database under ``home`` so that a live
    server running in another process can share it with the tests.
    """
    if url:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_health_checks=True))
    else:
        config = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(home / "dagviz.sqlite3")}
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = {**SQLITE_OPTIONS, **config.get("OPTIONS", {})}
        config["TEST"] = {"NAME": str(home / "test_dagviz.sqlite3"), **config.get("TEST", {})}
    return config


def channel_layer_settings(kind: str, redis_url: str) -> dict[str, Any]:
    """Return ``CHANNEL_LAYERS`` for ``kind`` ("memory" or "redis").

    In-memory suits one ASGI process; Redis is needed when several processes
    must wake each other up. The Redis backend is named, not imported, so
    ``channels_redis`` is only required when it is actually selected.
    """
    if kind == "memory":
        return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    if kind == "redis":
        return {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [redis_url]},
            }
        }
    raise ValueError(
        f"Environment variable DAGVIZ_CHANNEL_LAYER={kind!r} is not supported; "
        "use 'memory' or 'redis'."
    )


DAGVIZ_HOME = ensure_dagviz_home()

# DAGVIZ_SECRET_KEY, else a random key generated on first start and kept in DAGVIZ_HOME/secret_key.
SECRET_KEY = secret_key(DAGVIZ_HOME)
DEBUG = env_bool("DAGVIZ_DEBUG", False)
# Sign-in and roles (viewer, operator, admin) for the UI and the API; off is allowed on loopback only.
DAGVIZ_AUTH = env_bool("DAGVIZ_AUTH", False)
ALLOWED_HOSTS = env_list("DAGVIZ_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("DAGVIZ_CSRF_TRUSTED_ORIGINS", [])

# Always: cookies out of reach of scripts (session) and of other sites' requests, no framing, no MIME
# sniffing, no full URLs (which hold run ids) sent to other sites.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# DAGVIZ_HTTPS=on behind a proxy that terminates TLS and sets X-Forwarded-Proto (docs/deploy.md): cookies
# over HTTPS only, plain HTTP redirected (except the load balancer's /healthz), HSTS. Off by default, so
# plain HTTP on a laptop's loopback keeps working.
DAGVIZ_HTTPS = env_bool("DAGVIZ_HTTPS", False)
if DAGVIZ_HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    # 0 turns HSTS off; the subdomains are the site's own (*.dagviz.example.com), preload only takes
    # effect if someone submits the domain to the browsers' list.
    SECURE_HSTS_SECONDS = env_int("DAGVIZ_HSTS_SECONDS", 365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_PRELOAD = True

INSTALLED_APPS = [
    # daphne first, so `runserver` serves the ASGI application (websockets included).
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "graphene_django",
    "axes",
    "runs",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files before anything else touches the request: compressed, with far-future cache headers.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # With DAGVIZ_AUTH on: `Authorization: Bearer` signs a request in, pages need a signed-in user.
    "runs.auth.middleware.BearerTokenMiddleware",
    "runs.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its answer.
    "axes.middleware.AxesMiddleware",
]

# django-axes first: it refuses a locked-out username or address before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "/login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login"
# Login throttling: this many failed sign-ins lock the username, and separately the client address,
# for the cool-off time. Behind a proxy, `dagviz webserver --proxy-headers` gives the client's address.
AXES_FAILURE_LIMIT = env_int("DAGVIZ_LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("DAGVIZ_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "runs.auth.views.lockout_response"

ROOT_URLCONF = "dagviz.server.urls"
WSGI_APPLICATION = "dagviz.server.wsgi.application"
ASGI_APPLICATION = "dagviz.server.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [ui_folder("templates")],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "runs.auth.context.auth_context",
            ],
        },
    },
]

DATABASES = {"default": database_settings(env_str("DATABASE_URL", "") or None, DAGVIZ_HOME)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CHANNEL_LAYERS = channel_layer_settings(
    env_str("DAGVIZ_CHANNEL_LAYER", "memory"),
    env_str("REDIS_URL", "redis://127.0.0.1:6379/0"),
)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [ui_folder("static")]
STATIC_ROOT = DAGVIZ_HOME / "static"
# `dagviz dev` and `dagviz webserver` collect the static files (hashed names, compressed) into
# STATIC_ROOT before serving. Until they have (tests, `manage.py runserver`), WhiteNoise serves
# the source files as they are, under their plain names.
STATIC_COLLECTED = (STATIC_ROOT / "staticfiles.json").is_file()  # the manifest Django's storage writes
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "dagviz.server.static_storage.UIStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = not STATIC_COLLECTED

# Python modules (or files) that define the jobs the web app offers.
DAGVIZ_WORKSPACE = workspace_entries()
# Runs beyond this many stay queued until a running one finishes.
DAGVIZ_MAX_CONCURRENT_RUNS = env_int("DAGVIZ_MAX_CONCURRENT_RUNS", 4)
# Stored log messages, error messages and failure reasons; error stacks: longer text is cut with a marker.
DAGVIZ_MAX_STORED_MESSAGE_CHARS = env_int("DAGVIZ_MAX_STORED_MESSAGE_CHARS", 64 * 1024)
DAGVIZ_MAX_STORED_STACK_CHARS = env_int("DAGVIZ_MAX_STORED_STACK_CHARS", 256 * 1024)
# Dask schedulers (exact, tcp:// assumed) and output store URLs (and what lies under them) a launched
# run may name, beyond the deployment's own defaults; empty: the defaults only (docs/security.md).
DAGVIZ_DASK_ADDRESSES = env_list("DAGVIZ_DASK_ADDRESSES", [])
DAGVIZ_OUTPUT_STORES = env_list("DAGVIZ_OUTPUT_STORES", [])
# Outputs whose pickle is at most this many bytes share a run's segment files (0: one file each). Stores read the
# same variable themselves (worker processes have no Django), so this line only checks it at start.
DAGVIZ_SMALL_OUTPUT_BYTES = env_int("DAGVIZ_SMALL_OUTPUT_BYTES", 64 * 1024)
# The daemon deletes finished runs that ended more than this many days ago; 0 keeps every run.
DAGVIZ_RETENTION_DAYS = env_int("DAGVIZ_RETENTION_DAYS", 0)
# The run page loads every step of a run up to this many (grid, timeline); above it the page reads tiles and pages.
DAGVIZ_UI_FULL_INDEX_MAX_STEPS = env_int("DAGVIZ_UI_FULL_INDEX_MAX_STEPS", 100_000)

# How live subscribers learn of new events: auto (notify on PostgreSQL, channel_layer with
# Redis, else poll), poll, notify or channel_layer. The event table is always what they read.
DAGVIZ_EVENT_WAKEUP = env_str("DAGVIZ_EVENT_WAKEUP", "auto")

GRAPHENE = {
    "SCHEMA": "runs.graphql.api.schema",
    "SUBSCRIPTION_PATH": "/graphql",
    # The role check (runs/auth/graphql.py) applies to HTTP and websockets alike.
    "MIDDLEWARE": ["runs.graphql.nul_guard.NulByteMiddleware", "runs.auth.graphql.RoleMiddleware",
                   "runs.graphql.limits.TimeBudgetMiddleware"],
}

# What one GraphQL request may ask for (runs/graphql/limits.py; docs/security.md, "Query limits").
# The UI's largest query (the run page's index, 1,000 steps a page) has depth 6, 12 fields and cost 12,001.
DAGVIZ_GRAPHQL_MAX_QUERY_CHARS = env_int("DAGVIZ_GRAPHQL_MAX_QUERY_CHARS", 100_000)
DAGVIZ_GRAPHQL_MAX_TOKENS = env_int("DAGVIZ_GRAPHQL_MAX_TOKENS", 1_000)
DAGVIZ_GRAPHQL_MAX_DEPTH = env_int("DAGVIZ_GRAPHQL_MAX_DEPTH", 15)
DAGVIZ_GRAPHQL_MAX_FIELDS = env_int("DAGVIZ_GRAPHQL_MAX_FIELDS", 500)
DAGVIZ_GRAPHQL_MAX_ALIASES = env_int("DAGVIZ_GRAPHQL_MAX_ALIASES", 50)
DAGVIZ_GRAPHQL_MAX_COST = env_int("DAGVIZ_GRAPHQL_MAX_COST", 50_000)
DAGVIZ_GRAPHQL_TIME_BUDGET_SECONDS = env_float("DAGVIZ_GRAPHQL_TIME_BUDGET_SECONDS", 10.0)
DAGVIZ_GRAPHQL_MAX_PREVIEWS = env_int("DAGVIZ_GRAPHQL_MAX_PREVIEWS", 100)

LOG_LEVEL = env_str("DAGVIZ_LOG_LEVEL", "INFO").upper()
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Keep Django's own chatter (request lines, autoreload) at INFO and above.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # The servers print their own start-up line; these libraries' INFO lines are noise there.
        "daphne": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "watchfiles": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        # Failed sign-ins and lockouts are warnings; its INFO start-up line would be printed by every command.
        "axes": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
