"""Limits on FOCUS uploads, shared by the portal page and the API: refuse before reading, stop mid-stream."""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

MULTIPART_SLACK = 1024 * 1024  # a request may be this much bigger than the file (form fields, boundaries)


def upload_max_bytes() -> int:
    return int(settings.KEEL_FOCUS_UPLOAD_MAX_BYTES)


def announced_too_big(request, limit: int) -> bool:
    """The request says (Content-Length) it is bigger than the limit allows: refuse without reading it."""
    try:
        announced = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        announced = 0
    return announced > limit + MULTIPART_SLACK


class SizeLimitHandler(FileUploadHandler):
    """Stops reading an upload the moment it passes the limit (also when the request has no Content-Length)."""

    def __init__(self, request, limit: int):
        super().__init__(request)
        self.limit = limit
        self.exceeded = False

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.limit:
            self.exceeded = True
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size):
        return None
