"""API routes of apps.compliance, included by apps.api.urls_tenant."""

from rest_framework.routers import DefaultRouter

from .views import ClientFrameworkViewSet, ControlMappingViewSet, ControlViewSet, EvidenceViewSet

router = DefaultRouter(trailing_slash="/?")
router.include_root_view = False
router.register("client-frameworks", ClientFrameworkViewSet, basename="client-framework")
router.register("controls", ControlViewSet, basename="compliance-control")
router.register("control-mappings", ControlMappingViewSet, basename="control-mapping")
router.register("evidence", EvidenceViewSet, basename="evidence")

urlpatterns = [*router.urls]
