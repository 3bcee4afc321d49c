import logging

from django.db import connection

from .context import current_actor


class RequestContextFilter(logging.Filter):
    """Adds request id, client schema and acting user to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        actor = current_actor()
        record.request_id = actor.request_id
        record.user = actor.user_email or actor.api_key_prefix
        record.client = getattr(connection, "schema_name", "")
        return True
