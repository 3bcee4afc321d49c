"""Portal routes for moving the inventory in and out: CSV import (preview, then commit), CSV and AI-BOM export."""

urlpatterns = []
