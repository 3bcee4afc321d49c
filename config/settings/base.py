"""Keel settings shared by every environment; environments differ only by environment variables."""

import warnings
from pathlib import Path
from urllib.parse import unquote

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
STATE_DIR = BASE_DIR / ".keel"

env = environ.Env()


def _local_state(name: str) -> str:
    """Values the one-command launcher wrote for this checkout (embedded database, broker)."""
    path = STATE_DIR / name
    return path.read_text().strip() if path.exists() else ""


DEBUG = env.bool("KEEL_DEBUG", default=False)
SECRET_KEY = env("KEEL_SECRET_KEY", default="") or _local_state("secret_key") or "insecure-dev-key-change-me"
ALLOWED_HOSTS = env.list("KEEL_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("KEEL_CSRF_TRUSTED_ORIGINS", default=[])
KEEL_BASE_URL = env("KEEL_BASE_URL", default="http://127.0.0.1:8000")

# --- applications -----------------------------------------------------------
# Shared apps live in the public schema; tenant apps exist once per client schema.
# core and audit are in both: task records and the audit chain exist per client and for the MSP itself.
SHARED_APPS = [
    "django_tenants",
    "apps.tenancy",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "django_filters",
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "apps.core",
    "apps.audit",
    "apps.accounts",
    "apps.catalog",
    "apps.frameworks",
    "apps.assessment_templates",
    "apps.api",
    "apps.portfolio",
    "apps.demo",
]
TENANT_APPS = [
    "apps.core",
    "apps.audit",
    "apps.alerts",
    "apps.inventory",
    "apps.finops",
    "apps.unit_economics",
    "apps.budgets",
    "apps.anomalies",
    "apps.runaway",
    "apps.shadow_ai",
    "apps.recommendations",
    "apps.compliance",
    "apps.incidents",
    "apps.auditpacks",
    "apps.assessments",
    "apps.service_levels",
    "apps.reports",
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenancy.Client"
TENANT_DOMAIN_MODEL = "tenancy.Domain"
TENANT_SUBFOLDER_PREFIX = "c"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ROOT_URLCONF = "config.urls_tenant"
TENANT_MULTIPROCESSING_MAX_PROCESSES = env.int("KEEL_MIGRATION_PROCESSES", default=2)
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]

MIDDLEWARE = [
    "apps.tenancy.middleware.ClientRoutingMiddleware",
    "apps.core.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "apps.accounts.middleware.AccessMiddleware",
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
                "apps.core.context_processors.keel",
            ],
        },
    }
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

# --- database ---------------------------------------------------------------
DATABASE_URL = (
    env("DATABASE_URL", default="") or _local_state("database_url") or "postgres://postgres@127.0.0.1:5432/keel"
)
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
# A Unix-socket directory arrives URL-encoded as the host (the embedded server listens on a socket only).
DATABASES["default"]["HOST"] = unquote(DATABASES["default"]["HOST"])
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("KEEL_DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache, broker ----------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_FUNCTION": "django_tenants.cache.make_key",
            "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "KEY_FUNCTION": "django_tenants.cache.make_key",
        }
    }

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="") or _local_state("broker_url") or "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * 3600}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = _local_state("broker_dir") or str(STATE_DIR / "broker")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": _broker_dir,
        "data_folder_out": _broker_dir,
        "processed_folder": _broker_dir + "-processed",
        "control_folder": _broker_dir + "-control",
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("KEEL_CELERY_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_TASK_TENANT_CACHE_SECONDS = 30
CELERY_BEAT_SCHEDULER = "apps.core.scheduler.KeelScheduler"
CELERY_BEAT_SCHEDULE_FILENAME = str(STATE_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"

# --- auth -------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"  # a path: workspace URL confs do not contain the sign-in routes
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_ADAPTER = "apps.accounts.adapters.KeelAccountAdapter"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_RATE_LIMITS = {
    "login_failed": "5/m/ip,5/5m/key",
    "reset_password": "5/m/ip,3/m/key",
}
ACCOUNT_PREVENT_ENUMERATION = True
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_TOTP_ISSUER = "Keel"
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 12 * 3600
CSRF_COOKIE_HTTPONLY = True

# --- i18n / time ------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- static / media ---------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / ".keel" / "static"
WHITENOISE_USE_FINDERS = True  # production collects static files; elsewhere serve them straight from finders
# Outside production nothing is collected, so WhiteNoise's "no STATIC_ROOT yet" warning is noise.
warnings.filterwarnings("ignore", message="No directory at")
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "apps.core.staticfiles.VendorPackageFinder",
]
MEDIA_ROOT = env.path("KEEL_MEDIA_ROOT", default=str(BASE_DIR / ".keel" / "media"))
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("KEEL_MAX_REQUEST_BYTES", default=10 * 1024 * 1024)
# FOCUS uploads stream to disk; anything larger is refused before its body is read.
KEEL_FOCUS_UPLOAD_MAX_BYTES = env.int("KEEL_FOCUS_UPLOAD_MAX_BYTES", default=500 * 1024 * 1024)
# Compliance evidence files: anything larger is refused with a clear error.
KEEL_EVIDENCE_MAX_BYTES = env.int("KEEL_EVIDENCE_MAX_BYTES", default=25 * 1024 * 1024)
# Ed25519 seed (base64, 32 bytes) that signs audit packs; empty: derived from SECRET_KEY (so rotating it changes
# the key auditors compare).
KEEL_AUDIT_SIGNING_KEY = env("KEEL_AUDIT_SIGNING_KEY", default="")
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- email ------------------------------------------------------------------
EMAIL_BACKEND = env("KEEL_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("KEEL_EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("KEEL_EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("KEEL_EMAIL_USER", default="")
EMAIL_HOST_PASSWORD = env("KEEL_EMAIL_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("KEEL_EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env("KEEL_FROM_EMAIL", default="Keel <keel@localhost>")

# --- REST API ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apps.api.permissions.KeelAccessPermission"],
    "DEFAULT_PAGINATION_CLASS": "apps.api.pagination.KeelCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["apps.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env("KEEL_API_KEY_RATE", default="1200/min")},
    "EXCEPTION_HANDLER": "apps.api.errors.problem_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Keel API",
    "DESCRIPTION": (
        "Per-client API under /c/{client}/api/v1/ and MSP-level API under /api/v1/. "
        "Authenticate with `Authorization: Api-Key <key>` or a portal session. "
        "Errors are application/problem+json (RFC 9457)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/(c/[^/]+/)?api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["apps.api.schema.include_tenant_api"],
    "ENUM_NAME_OVERRIDES": {
        "SeverityEnum": "apps.alerts.models.Severity",
        "AssetKindEnum": "apps.inventory.models.AssetKind",
        "AssetLifecycleEnum": "apps.inventory.models.Lifecycle",
        "PowerEnum": "apps.inventory.models.Power",
        "RelationKindEnum": "apps.inventory.models.RelationKind",
        "FindingSeverityEnum": "apps.inventory.models.Severity",
        "AlertStateEnum": "apps.alerts.models.Alert.State",
        "BudgetStateEnum": "apps.budgets.api.views.BUDGET_STATES",
        "AnomalyScopeKindEnum": "apps.anomalies.models.ScopeKind",
        "AnomalyDirectionEnum": "apps.anomalies.models.Direction",
        "AnomalyStatusEnum": "apps.anomalies.models.Anomaly.Status",
        "RecommendationKindEnum": "apps.recommendations.models.Kind",
        "RecommendationStatusEnum": "apps.recommendations.models.Status",
        "RecommendationOriginEnum": "apps.recommendations.models.Origin",
        "AuditPackStatusEnum": "apps.auditpacks.models.AuditPack.Status",
        "ClientLifecycleEnum": "apps.tenancy.models.Client.Lifecycle",
        "AssessmentStatusEnum": "apps.assessments.models.Assessment.Status",
        "AnswerSourceEnum": "apps.assessments.models.Answer.Source",
        "RoadmapItemStatusEnum": "apps.assessments.models.RoadmapItem.Status",
        "RoadmapItemPriorityEnum": "apps.assessments.models.RoadmapItem.Priority",
        "RoadmapItemEffortEnum": "apps.assessments.models.RoadmapItem.Effort",
        "TemplateOriginEnum": "apps.assessment_templates.models.Template.Origin",
        "QuestionEvidenceEnum": "apps.assessment_templates.models.Question.Evidence",
        "SliKindEnum": "apps.service_levels.models.SliKind",
        "DriftKindEnum": "apps.service_levels.models.DriftMonitor.Kind",
        "DriftStatusEnum": "apps.service_levels.models.DriftCheck.Status",
        "SloWindowKindEnum": "apps.service_levels.models.SLO.WindowKind",
        "SloBudgetingEnum": "apps.service_levels.models.SLO.Budgeting",
        "SloSourceEnum": "apps.service_levels.models.SLO.Source",
        "SloKeelSourceEnum": "apps.service_levels.models.SLO.KeelSource",
        "ServiceCreditStatusEnum": "apps.service_levels.models.ServiceCredit.Status",
    },
}

# --- security headers -------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", "'unsafe-eval'"],  # plotly.js compiles some functions at run time
        "style-src": ["'self'", "'unsafe-inline'"],  # plotly.js sets inline styles
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# --- Keel -------------------------------------------------------------------
# Fernet keys, newest first; older keys still decrypt so keys can be rotated.
KEEL_ENCRYPTION_KEYS = env.list("KEEL_ENCRYPTION_KEYS", default=[]) or [
    k for k in _local_state("encryption_keys").split(",") if k
]
KEEL_MSP_NAME = env("KEEL_MSP_NAME", default="Northwind AI Operations")
# Report branding: a logo file (PNG, JPEG or SVG; empty = the name only) and two colours (#rrggbb).
KEEL_MSP_LOGO = env("KEEL_MSP_LOGO", default="")
KEEL_MSP_PRIMARY_COLOUR = env("KEEL_MSP_PRIMARY_COLOUR", default="#1d4ed8")
KEEL_MSP_ACCENT_COLOUR = env("KEEL_MSP_ACCENT_COLOUR", default="#0f766e")
KEEL_REPORT_PAPER = env("KEEL_REPORT_PAPER", default="a4")  # the stored PDF's paper: a4 or letter
KEEL_WEBHOOK_TIMEOUT_SECONDS = env.float("KEEL_WEBHOOK_TIMEOUT_SECONDS", default=5.0)
# Live usage asks for a runaway scan at most this often per client (beat also scans every minute).
KEEL_RUNAWAY_HOOK_SECONDS = env.int("KEEL_RUNAWAY_HOOK_SECONDS", default=20)
KEEL_REQUIRE_STAFF_MFA = env.bool("KEEL_REQUIRE_STAFF_MFA", default=True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "apps.core.logging.RequestContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(client)s %(user)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_context"]},
    },
    "root": {"handlers": ["console"], "level": env("KEEL_LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "celery": {"level": "INFO"},
    },
}
