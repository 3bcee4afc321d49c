"""Secrets at rest: Fernet encryption with key rotation, and the model field that stores only ciphertext."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from apps.alerts.models import NotificationChannel
from apps.audit.models import AuditEvent
from apps.core import crypto


@pytest.fixture
def keys(settings):
    """keys(*k) sets KEEL_ENCRYPTION_KEYS (newest first) and forgets any cached MultiFernet."""

    def use(*new_keys: str) -> None:
        settings.KEEL_ENCRYPTION_KEYS = list(new_keys)
        crypto._fernet.cache_clear()

    yield use
    crypto._fernet.cache_clear()


def _key() -> str:
    return Fernet.generate_key().decode()


def test_round_trip(keys):
    keys(_key())
    token = crypto.encrypt_text("aws-secret-ü")
    assert "aws-secret" not in token
    assert crypto.decrypt_text(token) == "aws-secret-ü"
    # A fresh IV and timestamp each time: equal secrets do not give equal ciphertexts.
    assert crypto.encrypt_text("aws-secret-ü") != token


def test_values_encrypted_with_the_configured_key_decrypt_with_fernet_directly(keys):
    key = _key()
    keys(key)
    assert Fernet(key.encode()).decrypt(crypto.encrypt_text("s3cr3t").encode()) == b"s3cr3t"


def test_rotation_keeps_old_values_readable_and_moves_them_to_the_new_key(keys):
    old, new = _key(), _key()
    keys(old)
    token = crypto.encrypt_text("webhook-secret")

    keys(new, old)  # the new key goes in front; the old one stays to decrypt
    assert crypto.decrypt_text(token) == "webhook-secret"
    fresh = crypto.encrypt_text("another")
    assert Fernet(new.encode()).decrypt(fresh.encode()) == b"another"  # new values use the newest key
    rotated = crypto.rotate_token(token)
    assert rotated != token

    keys(new)  # the old key is retired
    assert crypto.decrypt_text(rotated) == "webhook-secret"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_text(token)  # what was not rotated is lost without the old key


def test_a_wrong_key_gives_a_decryption_error(keys):
    keys(_key())
    token = crypto.encrypt_text("secret")
    keys(_key())
    with pytest.raises(crypto.DecryptionError, match="cannot be decrypted"):
        crypto.decrypt_text(token)
    with pytest.raises(crypto.DecryptionError):
        crypto.rotate_token(token)


def test_an_altered_token_gives_a_decryption_error(keys):
    keys(_key())
    token = crypto.encrypt_text("secret")
    altered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_text(altered)
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_text("not a token at all")


def test_no_keys_is_a_configuration_error(keys):
    keys()
    with pytest.raises(ImproperlyConfigured, match="KEEL_ENCRYPTION_KEYS"):
        crypto.encrypt_text("secret")


def _raw_signing_secret(channel_id: int) -> str:
    with connection.cursor() as cur:
        cur.execute("SELECT signing_secret FROM alerts_notificationchannel WHERE id = %s", [channel_id])
        return cur.fetchone()[0]


def test_encrypted_field_stores_ciphertext_and_returns_plaintext(in_alpha):
    channel = NotificationChannel.objects.create(
        name="hook", kind="webhook", target="https://example.test/h", signing_secret="whsec-123"
    )
    assert connection.schema_name == in_alpha.schema_name
    raw = _raw_signing_secret(channel.pk)
    assert raw and "whsec-123" not in raw
    assert crypto.decrypt_text(raw) == "whsec-123"
    assert NotificationChannel.objects.get(pk=channel.pk).signing_secret == "whsec-123"
    # Updates are encrypted too.
    channel.signing_secret = "whsec-456"
    channel.save(update_fields=["signing_secret"])
    raw = _raw_signing_secret(channel.pk)
    assert "whsec-456" not in raw and crypto.decrypt_text(raw) == "whsec-456"
    assert NotificationChannel.objects.values_list("signing_secret", flat=True).get(pk=channel.pk) == "whsec-456"


def test_an_empty_secret_is_stored_as_empty(in_alpha):
    channel = NotificationChannel.objects.create(name="mail", kind="email", target="ops@example.test")
    assert _raw_signing_secret(channel.pk) == ""
    assert NotificationChannel.objects.get(pk=channel.pk).signing_secret == ""


def test_stored_secrets_survive_a_key_rotation(in_alpha, keys, settings):
    current = list(settings.KEEL_ENCRYPTION_KEYS)
    channel = NotificationChannel.objects.create(
        name="hook", kind="webhook", target="https://example.test/h", signing_secret="whsec-789"
    )
    keys(_key(), *current)
    assert NotificationChannel.objects.get(pk=channel.pk).signing_secret == "whsec-789"


def test_the_secret_never_reaches_the_audit_chain(in_alpha):
    from apps.alerts.services_delivery import channel_save

    channel = channel_save(
        name="hook",
        kind="webhook",
        target="https://example.test/h",
        min_severity="high",
        kinds=[],
        is_active=True,
        signing_secret="whsec-audit",
    )
    event = AuditEvent.objects.filter(object_id=str(channel.pk), action="alert_channel.create").get()
    assert "whsec-audit" not in str(event.after) and "whsec-audit" not in str(event.before)
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM audit_auditevent WHERE after::text LIKE %s", ["%whsec-audit%"])
        assert cur.fetchone()[0] == 0
