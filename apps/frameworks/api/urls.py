"""API routes of the framework library, included by apps.api.urls_public and apps.api.urls_tenant."""

from django.urls import re_path
from rest_framework.routers import DefaultRouter

from .views import CrosswalkView, FrameworkViewSet, RequirementViewSet, VersionViewSet

router = DefaultRouter(trailing_slash="/?")
router.include_root_view = False
router.register("frameworks", FrameworkViewSet, basename="framework")
router.register(
    r"frameworks/(?P<framework_id>[-a-z0-9]+)/requirements", RequirementViewSet, basename="framework-requirement"
)
router.register(r"frameworks/(?P<framework_id>[-a-z0-9]+)/versions", VersionViewSet, basename="framework-version")

urlpatterns = [
    re_path(
        r"^requirements/(?P<requirement_id>[^/]+)/crosswalk/?$",
        CrosswalkView.as_view(),
        name="framework-requirement-crosswalk",
    ),
    *router.urls,
]
