"""API routes for CSV import/export and the CycloneDX AI-BOM download (mounted under /c/<slug>/api/v1/)."""

urlpatterns = []
