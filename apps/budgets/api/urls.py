"""API routes, mounted under /c/<slug>/api/v1/ by apps.api.urls_tenant."""

from rest_framework.routers import DefaultRouter

from .views import BudgetViewSet

router = DefaultRouter(trailing_slash="/?")
router.include_root_view = False
router.register("budgets", BudgetViewSet, basename="budget")

urlpatterns = [*router.urls]
