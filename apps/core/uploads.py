"""Files waiting between a preview and its commit (inventory CSV imports, FOCUS uploads).

The page carries the stored file's name signed and bound to the client's schema, so a commit can only use a
file that was previewed in this workspace, within `max_age`, under the caller's own folder.
"""

from __future__ import annotations

from django.core import signing
from django.core.files.storage import default_storage
from django.db import connection


def pending_upload_token(*, name: str, filename: str, salt: str) -> str:
    return signing.dumps({"name": name, "schema": connection.schema_name, "filename": filename}, salt=salt)


def pending_upload(token: str, *, salt: str, folder: str, max_age: int) -> dict | None:
    """The token's payload ({"name", "filename", …}) when it is genuine, fresh, this client's and the file is
    still there; None otherwise."""
    try:
        payload = signing.loads(token or "", salt=salt, max_age=max_age)
    except signing.BadSignature:
        return None
    name = str(payload.get("name", ""))
    if payload.get("schema") != connection.schema_name or not name.startswith(f"{folder}/") or ".." in name:
        return None
    if not default_storage.exists(name):
        return None
    return payload
