"""API routes, mounted under /c/<slug>/api/v1/ by apps.api.urls_tenant."""

from django.urls import re_path
from rest_framework.routers import DefaultRouter

from .views import AnomalySettingsView, AnomalyViewSet

router = DefaultRouter(trailing_slash="/?")
router.include_root_view = False
router.register("anomalies", AnomalyViewSet, basename="anomaly")

urlpatterns = [
    re_path(r"^anomaly-settings/?$", AnomalySettingsView.as_view(), name="anomaly-settings"),
    *router.urls,
]
