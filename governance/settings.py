"""Django settings, read from the environment: every setting the code reads is declared here once, through
the typed readers of common/env.py, and listed in docs/settings.md (tests/codebase/test_settings_documented.py
keeps the two in step). Secrets also come from a file: NAME_FILE, as container platforms mount them.

Nothing here knows about the test runner: tests/settings.py puts the test keys in the environment first."""
import importlib.util
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from common.env import env_bool, env_float, env_int, env_json, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("LL_DATA_DIR", str(BASE_DIR / "data")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_secret("SECRET_KEY", "dev-insecure-secret-key-change-me" if DEBUG else "")
# manage.py commands that only read code and the migration files (a developer's or CI's checks): they run
# without a key, and any use of it still fails (Django refuses an empty SECRET_KEY when it is read).
KEYLESS_COMMANDS = {"makemigrations", "showmigrations", "sqlmigrate", "check", "help", "version"}
KEYLESS_COMMAND = len(sys.argv) > 1 and Path(sys.argv[0]).name == "manage.py" and sys.argv[1] in KEYLESS_COMMANDS
if not SECRET_KEY:
    # Sessions, CSRF tokens and (without CONNECTOR_SECRET_KEY) connector secrets all hang on this key, so a
    # server must not start with a guessable one. The demo sets DEBUG; the tests set a key (tests/settings.py).
    if not KEYLESS_COMMAND:
        raise ImproperlyConfigured("SECRET_KEY is not set: set it in the environment (or DEBUG=1 for local use)")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "axes",
    "drf_spectacular_sidecar",  # Swagger UI's assets served from our static files, not a CDN
    "django_celery_beat",
    "governance.accounts",
    "governance.audit",
    "governance.approvals",
    "governance.archive",
    "lineage",
    "lineage.ingest",
    "connectors",
    "dashboard",
]
# Development tools (test doubles, demo generators, `manage.py load_demo`) are not in the product wheel: the
# app is installed only where the package can be imported, i.e. a source checkout (tests, `make demo`,
# bench/), with nothing to set in each of those entry points (or in the workers and servers they start).
if importlib.util.find_spec("devtools") is not None:
    INSTALLED_APPS.append("devtools")

MIDDLEWARE = [
    "governance.audit.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "common.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "governance.api_errors.ApiInputMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "governance.audit.middleware.AuditActorMiddleware",
    "governance.audit.refusals.RefusalAuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "governance.urls"
WSGI_APPLICATION = "governance.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "governance" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'lineage-ledger.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the dashboard read while an ingest writes; busy timeout instead of "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
    # The edge indexes carry non-key columns (INCLUDE) for PostgreSQL's index-only graph walks; SQLite
    # builds them without those columns, which is all the embedded default needs.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sign-in and API tokens (governance/accounts/, README "Sign-in and API tokens").
LOCAL_PASSWORD_LOGIN = env_bool("LOCAL_PASSWORD_LOGIN", True)
AUTHENTICATION_BACKENDS = [
    "governance.accounts.backends.PasswordLockoutBackend",  # django-axes: lockout before any password check
    *(["django.contrib.auth.backends.ModelBackend"] if LOCAL_PASSWORD_LOGIN else []),
    "governance.accounts.backends.OidcSessionBackend",
]
API_TOKEN_DEFAULT_DAYS = env_int("API_TOKEN_DEFAULT_DAYS", 90)
API_TOKEN_MAX_DAYS = env_int("API_TOKEN_MAX_DAYS", 365)  # 0 = no maximum (then 0 days = never expires)
# How long a server process remembers a token's user and roles (governance/accounts/token_cache.py); 0 = off.
API_TOKEN_CACHE_SECONDS = env_int("API_TOKEN_CACHE_SECONDS", 10)
OIDC_ISSUER = env_str("OIDC_ISSUER", "")  # unset: single sign-on off
OIDC_CLIENT_ID = env_str("OIDC_CLIENT_ID", "")
OIDC_CLIENT_SECRET_FILE = env_str("OIDC_CLIENT_SECRET_FILE", "")  # unset: a public client (PKCE only)
OIDC_SCOPES = env_str("OIDC_SCOPES", "openid profile email groups")
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups")
OIDC_USERNAME_CLAIM = env_str("OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_ROLE_MAP = env_str("OIDC_ROLE_MAP", "")  # "idp-group=engineer,idp-auditors=auditor,..."
OIDC_API_AUDIENCE = env_str("OIDC_API_AUDIENCE", "")  # unset: no OIDC access tokens on the API
OIDC_JWKS_CACHE_SECONDS = env_int("OIDC_JWKS_CACHE_SECONDS", 600)
OIDC_PROVIDER_NAME = env_str("OIDC_PROVIDER_NAME", "single sign-on")
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("LOGIN_LOCKOUT_MINUTES", 15) / 60  # hours
# Per account, from any address: stops guessing one account's password from many addresses; locking by
# address (axes.W006's advice) would lock out a whole office behind one NAT after a few typos.
AXES_LOCKOUT_PARAMETERS = ["username"]
SILENCED_SYSTEM_CHECKS = [*globals().get("SILENCED_SYSTEM_CHECKS", []), "axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns at start-up when it is missing
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/dashboard/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "governance.accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["common.permissions.RoleReadOnlyOrDeny"],
    "DEFAULT_FILTER_BACKENDS": [
        "common.filter_backend.BoundedFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "lineage.api.pagination.IdCursorPagination",
    "PAGE_SIZE": 50,
    # JSON with the limits of common.inputs (nesting depth, NUL, invalid Unicode); forms for the browsable API.
    "DEFAULT_PARSER_CLASSES": [
        "common.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "common.errors.json_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Lineage Ledger API",
    "DESCRIPTION": "Lineage, governance and audit across Kubeflow, SAS Viya and OpenLineage producers.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The schema describes every endpoint: only signed-in users may read it.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "ENUM_NAME_OVERRIDES": {"NodeKindEnum": "lineage.kinds.NodeKind", "EdgeKindEnum": "lineage.kinds.EdgeKind"},
    # /api/docs/ loads Swagger UI from this service (drf-spectacular-sidecar): it works on an air-gapped network,
    # and the Content-Security-Policy names no third-party host. (No Redoc page: its bundle fetches a logo
    # from its vendor's CDN.)
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# Audit chain checkpoints are HMAC-signed with this key (never the SECRET_KEY, so rotating one
# does not invalidate the other).
ARCHIVE_MAX_BUNDLE_NODES = env_int("ARCHIVE_MAX_BUNDLE_NODES", 50_000)
# Bundles read from outside (verify-upload, restore_bundle, the offline verifier's env) are bounded: upload
# size, ZIP entries, and bytes inflated per file and in total (checked from the ZIP directory and while
# inflating); verify-upload calls per user ("20/minute"; empty or 0 = off). governance/archive/verify.py.
ARCHIVE_MAX_UPLOAD_BYTES = env_int("ARCHIVE_MAX_UPLOAD_BYTES", 256 * 1024 * 1024)
ARCHIVE_ZIP_MAX_ENTRIES = env_int("ARCHIVE_ZIP_MAX_ENTRIES", 100_000)
ARCHIVE_ZIP_MAX_MEMBER_BYTES = env_int("ARCHIVE_ZIP_MAX_MEMBER_BYTES", 256 * 1024 * 1024)
ARCHIVE_ZIP_MAX_TOTAL_BYTES = env_int("ARCHIVE_ZIP_MAX_TOTAL_BYTES", 1024 * 1024 * 1024)
ARCHIVE_VERIFY_RATE_LIMIT = env_str("ARCHIVE_VERIFY_RATE_LIMIT", "20/minute")
# Audit entries per segment file of an evidence bundle's audit excerpt (governance/archive/export.py).
ARCHIVE_AUDIT_SEGMENT_MAX = env_int("ARCHIVE_AUDIT_SEGMENT_MAX", 5000)
DEV_AUDIT_HMAC_KEY = "dev-audit-key-change-me"
AUDIT_HMAC_KEY = env_secret("AUDIT_HMAC_KEY", DEV_AUDIT_HMAC_KEY if DEBUG else "")
AUDIT_CHECKPOINT_EVERY = env_int("AUDIT_CHECKPOINT_EVERY", 1000)
# Optional Ed25519 signing of checkpoints (hex or PEM private key), and retired HMAC keys that still verify.
AUDIT_ED25519_PRIVATE_KEY = env_secret("AUDIT_ED25519_PRIVATE_KEY", "")
if not DEBUG and not AUDIT_ED25519_PRIVATE_KEY and (AUDIT_HMAC_KEY == DEV_AUDIT_HMAC_KEY or len(AUDIT_HMAC_KEY) < 32):
    # A checkpoint signed with a key anyone can read in this file proves nothing: as for SECRET_KEY, a server
    # does not start without a real one (the tests set one: tests/settings.py).
    if not KEYLESS_COMMAND:
        raise ImproperlyConfigured(
            "AUDIT_HMAC_KEY is not set, is the development default or is shorter than 32 characters: set it to "
            "a long random secret (or configure AUDIT_ED25519_PRIVATE_KEY), or DEBUG=1 for local use")
AUDIT_HMAC_PREVIOUS_KEYS = env_list("AUDIT_HMAC_PREVIOUS_KEYS", "")

# Connector secrets are encrypted at rest with this Fernet key (derived from SECRET_KEY when unset). With DEBUG
# off, a stored credential without this key set stops the server (connectors/checks.py, connectors.E001).
CONNECTOR_SECRET_KEY = env_secret("CONNECTOR_SECRET_KEY", "")

OPENLINEAGE_URL = env_str("OPENLINEAGE_URL", "")
OPENLINEAGE_API_KEY = env_secret("OPENLINEAGE_API_KEY", "")
# Credentials of an ad-hoc `manage.py harvest kubeflow|mlflow` run when its command line gives none (a
# configured connector keeps its own, encrypted: common/secret_box.py).
KFP_TOKEN = env_secret("KFP_TOKEN", "")
MLMD_PASSWORD = env_secret("MLMD_PASSWORD", "")
MLFLOW_TRACKING_TOKEN = env_secret("MLFLOW_TRACKING_TOKEN", "")

# Django's cache holds the ingest rate-limit counts. The default (LocMemCache) is per process: with
# several gunicorn workers set CACHE_URL=redis://127.0.0.1:6379/1 so that all workers share one count.
CACHE_URL = env_str("CACHE_URL", "")
if CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
elif CACHE_URL:
    raise ValueError(f"CACHE_URL={CACHE_URL!r}: only redis:// (or rediss://, unix://) URLs are supported")
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Per-token limit on POST /api/v1/lineage and /api/v1/lineage/batch ("600/minute"; empty or 0 = off).
# A batch request counts once. Answered with 429 and Retry-After (lineage/ingest/throttling.py).
INGEST_RATE_LIMIT = env_str("INGEST_RATE_LIMIT", "")
# Largest single OpenLineage event accepted (bytes of JSON; 413 event_too_large), and deepest JSON nesting any
# endpoint accepts (400 json_too_deep): lineage/ingest/events.py and common/inputs.py say why these sizes.
INGEST_MAX_EVENT_BYTES = env_int("INGEST_MAX_EVENT_BYTES", 8 * 1024 * 1024)
JSON_MAX_DEPTH = env_int("JSON_MAX_DEPTH", 100)

# Approval webhooks (governance/approvals/outbound.py): internal addresses (loopback, link-local, private)
# refused unless DEBUG or listed (CIDRs or host names); sent by a worker, else a background thread.
WEBHOOK_BLOCK_PRIVATE_ADDRESSES = env_bool("WEBHOOK_BLOCK_PRIVATE_ADDRESSES", not DEBUG)
WEBHOOK_ALLOWED_NETWORKS = env_list("WEBHOOK_ALLOWED_NETWORKS", "")
APPROVALS_OUTBOUND_MODE = env_str("APPROVALS_OUTBOUND_MODE", "thread")
# Delivery attempts per webhook, the first retry's delay in seconds (doubling each time), and each attempt's
# timeout in seconds (governance/approvals/webhooks.py).
APPROVALS_WEBHOOK_MAX_ATTEMPTS = env_int("APPROVALS_WEBHOOK_MAX_ATTEMPTS", 4)
APPROVALS_WEBHOOK_BACKOFF = env_float("APPROVALS_WEBHOOK_BACKOFF", 0.5)
APPROVALS_WEBHOOK_TIMEOUT = env_float("APPROVALS_WEBHOOK_TIMEOUT", 5)

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "")
# No broker configured (the embedded default): tasks run in-process.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "") or None
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# One broker can serve several deployments (or test runs): each uses its own queue.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery")
# Redis hands a task no worker acknowledged to another after `visibility_timeout` seconds (a worker killed
# outright): keep it longer than any one task. The variable's JSON is merged over this default.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, **env_json("CELERY_BROKER_TRANSPORT_OPTIONS")}
# A Kubeflow harvest is split into partitions of this many runs; a RUNNING harvest older than the TTL
# (seconds) is taken as abandoned by a dead worker.
HARVEST_PARTITION_RUNS = env_int("HARVEST_PARTITION_RUNS", 100)
HARVEST_PARTITION_EXECUTIONS = env_int("HARVEST_PARTITION_EXECUTIONS", 1000)
HARVEST_LOCK_TTL = env_int("HARVEST_LOCK_TTL", 21600)

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "lineage-ledger@localhost")

# Transport and browser hardening: on unless DEBUG; each can be switched off from the environment (e.g.
# SESSION_COOKIE_SECURE=false for a plain-HTTP trial behind no TLS). HSTS is only sent over HTTPS.
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("LL_BEHIND_TLS_PROXY", False):
    # The proxy terminates TLS and says so; only set this when every request comes through that proxy.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
# common.security.ContentSecurityPolicyMiddleware; None switches the header off (as in DEBUG, where
# Django's error pages need inline scripts).
CONTENT_SECURITY_POLICY = None if DEBUG or not env_bool("CSP_ENABLED", True) else {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
# Per-path additions to the policy (none needed now: /api/docs/ serves its own assets, see common/security.py).
CONTENT_SECURITY_POLICY_EXTRA: dict = {}
DEFAULT_EXCEPTION_REPORTER_FILTER = "common.security.ExceptionReporterFilter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Tokens, passwords and Authorization headers are masked before any handler writes a line.
    "filters": {"redact_secrets": {"()": "common.security.RedactSecretsFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact_secrets"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING").upper()},
}
