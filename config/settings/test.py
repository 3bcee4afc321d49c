"""Tests: a real PostgreSQL (127.0.0.1:5432 when it answers, else the embedded server), in-memory broker."""

import os
import tempfile

from config.embedded import ensure_database_url

os.environ.setdefault("DATABASE_URL", ensure_database_url(purpose="test"))
os.environ.setdefault("CELERY_BROKER_URL", "memory://")

from .base import *  # noqa: E402,F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
KEEL_ENCRYPTION_KEYS = ["dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktdGVzdC0="]  # a fixed Fernet key, tests only
MEDIA_ROOT = os.path.join(tempfile.gettempdir(), "keel-test-media")
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
