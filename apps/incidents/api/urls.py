"""API routes of apps.incidents, mounted under /c/<slug>/api/v1/ by apps.api.urls_tenant."""

from rest_framework.routers import DefaultRouter

from .views import AIIncidentViewSet, RegimeViewSet

router = DefaultRouter(trailing_slash="/?")
router.include_root_view = False
router.register("incidents", AIIncidentViewSet, basename="ai-incident")
router.register("incident-regimes", RegimeViewSet, basename="incident-regime")

urlpatterns = [*router.urls]
