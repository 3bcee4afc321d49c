"""The Ed25519 key that signs audit packs.

KEEL_AUDIT_SIGNING_KEY (base64 of a 32-byte seed) when set; otherwise a key derived with HKDF-SHA256 from
SECRET_KEY, so a single-secret installation still signs. Rotating SECRET_KEY therefore changes the signing key:
packs signed before keep verifying against the public key inside them, but their fingerprint no longer matches
the one the audit-pack page shows (set KEEL_AUDIT_SIGNING_KEY to keep one key across secret rotations).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .verify import grouped, key_fingerprint

HKDF_INFO = b"keel audit pack signing key v1"
SOURCE_SETTING = "KEEL_AUDIT_SIGNING_KEY"
SOURCE_DERIVED = "derived from SECRET_KEY"


@dataclass(frozen=True)
class SigningKey:
    private_key: Ed25519PrivateKey
    public_key: bytes  # raw 32 bytes
    source: str

    @property
    def public_key_b64(self) -> str:
        return base64.b64encode(self.public_key).decode()

    @property
    def fingerprint(self) -> str:
        return key_fingerprint(self.public_key)

    @property
    def fingerprint_grouped(self) -> str:
        return grouped(self.fingerprint)

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self.private_key.sign(data)).decode()


def _seed() -> tuple[bytes, str]:
    configured = getattr(settings, "KEEL_AUDIT_SIGNING_KEY", "") or ""
    if configured:
        try:
            seed = base64.b64decode(configured.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ImproperlyConfigured("KEEL_AUDIT_SIGNING_KEY is not base64.") from None
        if len(seed) != 32:
            raise ImproperlyConfigured(f"KEEL_AUDIT_SIGNING_KEY must decode to 32 bytes, not {len(seed)}.")
        return seed, SOURCE_SETTING
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO)
    return hkdf.derive(settings.SECRET_KEY.encode()), SOURCE_DERIVED


@lru_cache(maxsize=4)
def _key_for(seed: bytes, source: str) -> SigningKey:
    private = Ed25519PrivateKey.from_private_bytes(seed)
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return SigningKey(private, public, source)


def signing_key() -> SigningKey:
    """The current key (re-read from settings each call, so tests and rotations take effect at once)."""
    seed, source = _seed()
    return _key_for(seed, source)
