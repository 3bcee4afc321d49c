"""Template routes, mounted in both API faces (apps.api.urls_public and urls_tenant)."""

from rest_framework.routers import DefaultRouter

from .views import AssessmentTemplateViewSet

router = DefaultRouter(trailing_slash="/?")
router.include_root_view = False
router.register("assessment-templates", AssessmentTemplateViewSet, basename="assessment-template")

urlpatterns = [*router.urls]
