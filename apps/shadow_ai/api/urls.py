"""API routes, mounted under /c/<slug>/api/v1/ by apps.api.urls_tenant."""

from django.urls import re_path
from rest_framework.routers import DefaultRouter

from .views import ScanView, ShadowItemViewSet

router = DefaultRouter(trailing_slash="/?")
router.include_root_view = False
router.register("shadow-ai", ShadowItemViewSet, basename="shadow-ai-item")

urlpatterns = [
    re_path(r"^shadow-ai/scan/?$", ScanView.as_view(), name="shadow-ai-scan"),
    *router.urls,
]
