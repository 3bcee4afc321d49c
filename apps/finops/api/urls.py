"""FinOps API routes, mounted under /c/<slug>/api/v1/ by apps.api.urls_tenant."""

from django.urls import re_path
from rest_framework.routers import DefaultRouter

from .sources import BillingSourceViewSet, CostExplorerView, CostRecordViewSet, FocusUploadView, IngestionRunViewSet
from .urls_allocation import urlpatterns as allocation_urlpatterns
from .urls_dashboard import urlpatterns as dashboard_urlpatterns
from .usage import urlpatterns as usage_urlpatterns
from .views import urlpatterns as ledger_urlpatterns

router = DefaultRouter(trailing_slash="/?")
router.include_root_view = False
router.register("billing-sources", BillingSourceViewSet, basename="billing-source")
router.register("ingestion-runs", IngestionRunViewSet, basename="ingestion-run")
router.register("cost-records", CostRecordViewSet, basename="cost-record")

urlpatterns = [
    *usage_urlpatterns,
    re_path(r"^focus-uploads/?$", FocusUploadView.as_view(), name="focus-upload"),
    re_path(r"^cost-explorer/?$", CostExplorerView.as_view(), name="cost-explorer"),
    *ledger_urlpatterns,
    *allocation_urlpatterns,
    *dashboard_urlpatterns,
    *router.urls,
]
