"""API routes, mounted under /c/<slug>/api/v1/ by apps.api.urls_tenant."""

from django.urls import re_path
from rest_framework.routers import DefaultRouter

from .views import ProposeRoutingView, RealisedSavingsView, RecommendationViewSet, RefreshView

router = DefaultRouter(trailing_slash="/?")
router.include_root_view = False
router.register("recommendations", RecommendationViewSet, basename="recommendation")

urlpatterns = [
    re_path(r"^recommendations/realised-savings/?$", RealisedSavingsView.as_view(), name="recommendation-realised"),
    re_path(r"^recommendations/refresh/?$", RefreshView.as_view(), name="recommendation-refresh"),
    re_path(r"^recommendations/propose-routing/?$", ProposeRoutingView.as_view(), name="recommendation-propose"),
    *router.urls,
]
