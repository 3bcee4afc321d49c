"""API routes, mounted under /c/<slug>/api/v1/ by apps.api.urls_tenant."""

from django.urls import re_path
from rest_framework.routers import DefaultRouter

from .views import BusinessUnitViewSet, UnitCostDriversApi, UnitCostsApi, UnitMetricsApi, UnitMetricsCsvApi

router = DefaultRouter(trailing_slash="/?")
router.include_root_view = False
router.register("business-units", BusinessUnitViewSet, basename="business-unit")

urlpatterns: list = [
    re_path(r"^unit-metrics/?$", UnitMetricsApi.as_view(), name="unit-metrics"),
    re_path(r"^unit-metrics/csv/?$", UnitMetricsCsvApi.as_view(), name="unit-metrics-csv"),
    re_path(r"^unit-costs/?$", UnitCostsApi.as_view(), name="unit-costs"),
    re_path(r"^unit-costs/drivers/?$", UnitCostDriversApi.as_view(), name="unit-cost-drivers"),
    *router.urls,
]
