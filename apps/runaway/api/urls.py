"""API routes, mounted under /c/<slug>/api/v1/ by apps.api.urls_tenant."""

from django.urls import re_path
from rest_framework.routers import DefaultRouter

from .views import IncidentViewSet, SettingsView

router = DefaultRouter(trailing_slash="/?")
router.include_root_view = False
router.register("runaway/incidents", IncidentViewSet, basename="runaway-incident")

urlpatterns: list = [
    re_path(r"^runaway/settings/?$", SettingsView.as_view(), name="runaway-settings"),
    *router.urls,
]
