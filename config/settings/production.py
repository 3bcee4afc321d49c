"""Production: everything from the environment, secure transport enforced."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = env("KEEL_SECRET_KEY")
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("KEEL_SECRET_KEY must be at least 50 random characters.")
KEEL_ENCRYPTION_KEYS = env.list("KEEL_ENCRYPTION_KEYS")

SECURE_SSL_REDIRECT = env.bool("KEEL_SSL_REDIRECT", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("KEEL_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
STORAGES = {
    "default": {"BACKEND": env("KEEL_MEDIA_STORAGE", default="django.core.files.storage.FileSystemStorage")},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
STATIC_ROOT = env.path("KEEL_STATIC_ROOT", default="/app/staticfiles")
EMAIL_BACKEND = env("KEEL_EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
