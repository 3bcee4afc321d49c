"""API routes of apps.auditpacks, included by apps.api.urls_tenant (mounted under /c/<slug>/api/v1/)."""

from rest_framework.routers import DefaultRouter

from .views import AuditPackViewSet

router = DefaultRouter(trailing_slash="/?")
router.include_root_view = False
router.register("audit-packs", AuditPackViewSet, basename="audit-pack")

urlpatterns = [*router.urls]
