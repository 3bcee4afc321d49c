"""API routes of apps.assessments, mounted under /c/<slug>/api/v1/ by apps.api.urls_tenant."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from .views import AssessmentViewSet, RoadmapItemViewSet, TargetProfileView

router = DefaultRouter(trailing_slash="/?")
router.include_root_view = False
router.register("assessments", AssessmentViewSet, basename="assessment")
router.register("roadmap-items", RoadmapItemViewSet, basename="roadmap-item")

urlpatterns = [
    path("target-profiles/<slug:template_id>/", TargetProfileView.as_view(), name="target-profile"),
    *router.urls,
]
