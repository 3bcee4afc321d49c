from django.db import models

from .crypto import decrypt_text, encrypt_text


class EncryptedTextField(models.TextField):
    """Stores Fernet ciphertext; Python code sees plaintext. Never rendered in forms or serializers."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt_text(value)

    def get_prep_value(self, value):
        if value is None or value == "":
            return value
        return encrypt_text(str(value))


class MoneyField(models.DecimalField):
    """Money is NUMERIC(20, 6) everywhere: exact, with sub-cent precision for per-token prices."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", 20)
        kwargs.setdefault("decimal_places", 6)
        super().__init__(*args, **kwargs)
