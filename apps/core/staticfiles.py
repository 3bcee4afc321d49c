"""Serve front-end libraries straight from the installed Python packages (no CDN, no copied files)."""

from pathlib import Path

import django_htmx
import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

VENDOR_PREFIX = "vendor"
# Files published under STATIC_URL/vendor/<file name>, read from the installed package.
VENDOR_FILES = [
    Path(plotly.__file__).parent / "package_data" / "plotly.min.js",
    Path(django_htmx.__file__).parent / "static" / "django_htmx" / "htmx-2.min.js",
]


class VendorPackageFinder(BaseFinder):
    def check(self, **kwargs):
        return []

    def find(self, path, find_all=False, **kwargs):
        matches = [str(f) for f in VENDOR_FILES if path == f"{VENDOR_PREFIX}/{f.name}" and f.exists()]
        if find_all:
            return matches
        return matches[0] if matches else None

    def list(self, ignore_patterns):
        for source in VENDOR_FILES:
            storage = FileSystemStorage(location=str(source.parent))
            storage.prefix = VENDOR_PREFIX
            yield source.name, storage
