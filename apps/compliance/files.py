"""Evidence files: what may be uploaded, how it is stored and hashed, and how it is read back and verified.

A file is accepted only when its extension is on the allow-list AND its content is that kind of file (sniffed
from the bytes, never from the browser's Content-Type): a renamed executable, an HTML page called report.pdf or
an SVG are refused with a message saying why. Names with path tricks are refused outright; accepted names are
reduced to a safe display name. Files are stored through Django's default storage (local disk, or S3 through
django-storages when the operator sets KEEL_MEDIA_STORAGE) under evidence/<schema>/<evidence id>/, and their
SHA-256 is computed over the very bytes handed to the storage, chunk by chunk, while they are stored.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection

DEFAULT_MAX_BYTES = 25 * 1024 * 1024
CHUNK = 64 * 1024

# extension -> (file type, content type served on download)
ALLOWED = {
    "pdf": ("pdf", "application/pdf"),
    "png": ("png", "image/png"),
    "jpg": ("jpeg", "image/jpeg"),
    "jpeg": ("jpeg", "image/jpeg"),
    "txt": ("txt", "text/plain; charset=utf-8"),
    "csv": ("csv", "text/csv; charset=utf-8"),
    "json": ("json", "application/json"),
    "md": ("md", "text/markdown; charset=utf-8"),
    "docx": ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "xlsx": ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "pptx": ("pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
}
TEXT_TYPES = {"txt", "csv", "json", "md"}
OFFICE_FOLDERS = {"docx": "word/", "xlsx": "xl/", "pptx": "ppt/"}
EXECUTABLE_MAGIC = (
    (b"MZ", "a Windows executable"),
    (b"\x7fELF", "a Linux executable"),
    (b"\xfe\xed\xfa\xce", "a macOS executable"),
    (b"\xfe\xed\xfa\xcf", "a macOS executable"),
    (b"\xce\xfa\xed\xfe", "a macOS executable"),
    (b"\xcf\xfa\xed\xfe", "a macOS executable"),
    (b"\xca\xfe\xba\xbe", "a macOS universal binary or Java class"),
    (b"#!", "a script (it starts with #!)"),
)
# Markup a browser would render or run; refused in any text file's first bytes.
ACTIVE_MARKUP = re.compile(rb"<\s*(!doctype\s+html|html|script|svg|iframe|object|embed)\b|<\?xml", re.IGNORECASE)
SAFE_CHARS = re.compile(r"[^A-Za-z0-9._ -]+")
ALLOWED_LIST = ", ".join(sorted({ext for ext in ALLOWED if ext != "jpeg"} | {"jpeg"}))


def max_bytes() -> int:
    return int(getattr(settings, "KEEL_EVIDENCE_MAX_BYTES", DEFAULT_MAX_BYTES))


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MiB" if size >= 1024 * 1024 else f"{size:,} bytes"


@dataclass(frozen=True)
class CheckedFile:
    display_name: str
    file_type: str
    content_type: str
    size: int


def safe_display_name(raw: str) -> str:
    """Refuse names that try to leave their folder; keep a plain, short version of the rest."""
    name = unicodedata.normalize("NFKC", raw or "").strip()
    if not name:
        raise ValidationError("The file has no name.")
    if "/" in name or "\\" in name or "\x00" in name or name.startswith(".") or ".." in name:
        raise ValidationError(
            f"The file name “{name[:80]}” contains a path (/, \\, .. or a leading dot); rename the file and upload it."
        )
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise ValidationError("The file name contains control characters; rename the file and upload it.")
    stem, _, ext = name.rpartition(".")
    stem = SAFE_CHARS.sub("_", stem).strip(" ._") or "evidence"
    ext = SAFE_CHARS.sub("", ext).lower()
    return f"{stem[:100]}.{ext}" if ext else stem[:100]


def _extension(name: str) -> str:
    return PurePosixPath(name).suffix.lower().lstrip(".")


def check_upload(uploaded) -> CheckedFile:
    """Everything a user can get wrong, each with its own message. `uploaded` is a Django UploadedFile/File."""
    display = safe_display_name(getattr(uploaded, "name", ""))
    ext = _extension(display)
    if ext not in ALLOWED:
        raise ValidationError(
            f"“{display}”: .{ext or '(none)'} files are not accepted as evidence. Allowed: {ALLOWED_LIST}."
        )
    size = uploaded.size if uploaded.size is not None else len(uploaded.read())
    if size == 0:
        raise ValidationError(f"“{display}” is empty (0 bytes).")
    limit = max_bytes()
    if size > limit:
        raise ValidationError(f"“{display}” is {_megabytes(size)}; evidence files may be at most {_megabytes(limit)}.")
    file_type, content_type = ALLOWED[ext]
    uploaded.seek(0)
    head = uploaded.read(4096)
    uploaded.seek(0)
    for magic, what in EXECUTABLE_MAGIC:
        if head.startswith(magic):
            raise ValidationError(f"“{display}” is {what}, not a .{ext} file; executables are never accepted.")
    _check_content(uploaded, head, display, file_type)
    uploaded.seek(0)
    return CheckedFile(display_name=display, file_type=file_type, content_type=content_type, size=size)


def _check_content(uploaded, head: bytes, display: str, file_type: str) -> None:
    mismatch = f"“{display}” does not contain what its name says (.{_extension(display)})"
    if file_type == "pdf":
        if not head.lstrip(b"\r\n\t ")[:5] == b"%PDF-":
            raise ValidationError(f"{mismatch}: a PDF starts with %PDF-.")
    elif file_type == "png":
        if not head.startswith(b"\x89PNG\r\n\x1a\n"):
            raise ValidationError(f"{mismatch}: it is not a PNG image.")
    elif file_type == "jpeg":
        if not head.startswith(b"\xff\xd8\xff"):
            raise ValidationError(f"{mismatch}: it is not a JPEG image.")
    elif file_type in OFFICE_FOLDERS:
        _check_office(uploaded, head, display, file_type, mismatch)
    elif file_type in TEXT_TYPES:
        _check_text(uploaded, head, display, file_type, mismatch)


def _check_office(uploaded, head: bytes, display: str, file_type: str, mismatch: str) -> None:
    if not head.startswith(b"PK\x03\x04"):
        raise ValidationError(f"{mismatch}: an Office document is a ZIP package.")
    uploaded.seek(0)
    try:
        with zipfile.ZipFile(uploaded) as package:
            names = package.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ValidationError(f"{mismatch}: the ZIP package is damaged.") from None
    if "[Content_Types].xml" not in names or not any(n.startswith(OFFICE_FOLDERS[file_type]) for n in names):
        raise ValidationError(f"{mismatch}: it is not a {file_type.upper()} document.")
    if any(n.lower().endswith("vbaproject.bin") for n in names):
        raise ValidationError(f"“{display}” contains macros; save it without macros and upload it again.")


def _check_text(uploaded, head: bytes, display: str, file_type: str, mismatch: str) -> None:
    if ACTIVE_MARKUP.search(head):
        raise ValidationError(f"“{display}” contains HTML, SVG or script markup, which is not accepted as evidence.")
    uploaded.seek(0)
    utf8 = codecs.getincrementaldecoder("utf-8-sig")()
    parts = []
    try:
        for chunk in iter(lambda: uploaded.read(CHUNK), b""):
            if b"\x00" in chunk:
                raise ValidationError(f"{mismatch}: it contains binary data.")
            part = utf8.decode(chunk)
            if file_type == "json":
                parts.append(part)
        parts.append(utf8.decode(b"", final=True))
    except UnicodeDecodeError:
        raise ValidationError(f"{mismatch}: text files must be UTF-8.") from None
    if file_type == "json":
        try:
            json.loads("".join(parts))
        except ValueError as exc:
            raise ValidationError(f"“{display}” is not valid JSON ({exc}).") from None


# --- storage -------------------------------------------------------------------------------------------------


class HashingFile(File):
    """Hands the storage the file's bytes and hashes exactly those bytes as they go by. A rewind starts over,
    so a storage that reads twice (size probe, retry) still ends with the hash of one full pass."""

    def __init__(self, file, name=None):
        super().__init__(file, name)
        self._hash = hashlib.sha256()
        self._count = 0

    def read(self, *args, **kwargs):
        data = self.file.read(*args, **kwargs)
        if data:
            self._hash.update(data)
            self._count += len(data)
        return data

    def seek(self, offset, whence=0):
        result = self.file.seek(offset, whence)
        if offset == 0 and whence == 0:
            self._hash = hashlib.sha256()
            self._count = 0
        return result

    def chunks(self, chunk_size=None):
        self.seek(0)
        while True:
            data = self.read(chunk_size or CHUNK)
            if not data:
                break
            yield data

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    @property
    def bytes_seen(self) -> int:
        return self._count


def storage_name(evidence_id: int, number: int, display_name: str) -> str:
    return f"evidence/{connection.schema_name}/{evidence_id}/{number}-{display_name}"


def store(fileobj, *, evidence_id: int, number: int, display_name: str) -> tuple[str, int, str]:
    """Save under this client's prefix; returns (storage name, size, SHA-256 of the stored bytes)."""
    fileobj.seek(0)
    hashing = HashingFile(fileobj, name=display_name)
    name = default_storage.save(storage_name(evidence_id, number, display_name), hashing)
    return name, hashing.bytes_seen, hashing.sha256


def stored_sha256(name: str) -> tuple[str | None, int]:
    """(SHA-256, size) of the stored file read back in chunks; (None, 0) when the file is gone."""
    if not name or not default_storage.exists(name):
        return None, 0
    digest, size = hashlib.sha256(), 0
    with default_storage.open(name, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
