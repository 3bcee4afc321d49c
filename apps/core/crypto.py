"""Encryption of secrets at rest (cloud credentials, webhook secrets), with key rotation.

KEEL_ENCRYPTION_KEYS holds Fernet keys, newest first. New values are encrypted with the first key;
every listed key can decrypt, and `rotate_token` re-encrypts an old value with the newest key.
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class DecryptionError(Exception):
    """The value was encrypted with a key Keel no longer has, or was altered."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("KEEL_ENCRYPTION_KEYS is empty: set at least one Fernet key.")
    return MultiFernet([Fernet(k.encode()) for k in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.KEEL_ENCRYPTION_KEYS))


def encrypt_text(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def decrypt_text(token: str) -> str:
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("Stored secret cannot be decrypted with the configured keys.") from exc


def rotate_token(token: str) -> str:
    """Re-encrypt with the newest key (run after adding a key in front of KEEL_ENCRYPTION_KEYS)."""
    try:
        return _current().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("Stored secret cannot be decrypted with the configured keys.") from exc


def generate_key() -> str:
    return Fernet.generate_key().decode()
