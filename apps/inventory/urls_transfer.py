"""Portal routes for moving the inventory in and out: CSV import (preview, then commit), CSV and AI-BOM export.

Included by apps.inventory.urls without a namespace of its own: the names are inventory:import, ….
"""

from django.urls import path

from . import views_transfer

urlpatterns = [
    path("import/", views_transfer.import_start, name="import"),
    path("import/preview/", views_transfer.import_preview_page, name="import_preview"),
    path("import/commit/", views_transfer.import_commit_view, name="import_commit"),
    path("import/template.csv", views_transfer.import_template, name="import_template"),
    path("export.csv", views_transfer.export_csv, name="export_csv"),
    path("ai-bom.json", views_transfer.ai_bom, name="ai_bom"),
]
