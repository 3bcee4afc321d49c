"""The MSP's branding for documents it hands out (reports, PDFs, emails), read from settings once per call.
The logo is embedded as a data URI so a PDF renders without fetching anything."""

from __future__ import annotations

import base64
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_LOGO_TYPES = {"image/png", "image/jpeg", "image/svg+xml"}
_LOGO_MAX_BYTES = 512 * 1024
DEFAULT_PRIMARY = "#1d4ed8"
DEFAULT_ACCENT = "#0f766e"


@dataclass(frozen=True)
class Branding:
    name: str
    primary: str
    accent: str
    logo_data_uri: str  # empty when no usable logo is configured


def _colour(value: str, default: str) -> str:
    return value if _COLOUR.match(value or "") else default


def _logo_data_uri(path: str) -> str:
    """The configured logo as a data URI; a missing, oversized or non-image file is ignored (name only)."""
    if not path:
        return ""
    file = Path(path)
    kind = mimetypes.guess_type(file.name)[0]
    if kind not in _LOGO_TYPES or not file.is_file() or file.stat().st_size > _LOGO_MAX_BYTES:
        return ""
    return f"data:{kind};base64,{base64.b64encode(file.read_bytes()).decode('ascii')}"


def branding() -> Branding:
    return Branding(
        name=settings.KEEL_MSP_NAME,
        primary=_colour(getattr(settings, "KEEL_MSP_PRIMARY_COLOUR", ""), DEFAULT_PRIMARY),
        accent=_colour(getattr(settings, "KEEL_MSP_ACCENT_COLOUR", ""), DEFAULT_ACCENT),
        logo_data_uri=_logo_data_uri(getattr(settings, "KEEL_MSP_LOGO", "")),
    )
